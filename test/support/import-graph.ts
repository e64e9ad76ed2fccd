// The import graph of a source tree, read with the TypeScript parser (never by running the code),
// and the two checks test/unit/layering.test.ts makes over it: which layer may import what, and
// whether any module is part of a load-time import cycle. The rules themselves live in that test.

import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import ts from "typescript";

export interface ImportEdge {
  /** The importing file, relative to the tree's parent (e.g. "src/engine/add.ts"). */
  readonly from: string;
  /** The specifier as written ("./deps.js", "zod", "node:fs"). */
  readonly specifier: string;
  /** A file of the tree ("src/engine/deps.ts"), or the package / builtin name ("zod", "node:fs"). */
  readonly target: string;
  readonly internal: boolean;
  /**
   * Erased when compiled: `import type`, `export type ... from`, `import { type A }` with every
   * name a type, and `typeof import("...")`. Counted for layering, not for cycles.
   */
  readonly typeOnly: boolean;
  /** `await import(...)`: loaded when called, not when the importer loads. */
  readonly dynamic: boolean;
}

const SOURCE = /\.(ts|mts|mjs|js)$/;

/** Every import of every source file under `dir` (relative to `root`). */
export function readImportGraph(root: string, dir: string): ImportEdge[] {
  return listSources(join(root, dir)).flatMap((path) =>
    importsOf(relative(root, path), readFileSync(path, "utf8"), (p) => resolveInternal(root, p)),
  );
}

function listSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listSources(path);
    return SOURCE.test(entry.name) && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** "./deps.js" written in TypeScript means deps.ts; keep .mjs/.js files as they are. */
function resolveInternal(root: string, path: string): string {
  for (const candidate of [path.replace(/\.js$/, ".ts"), path]) {
    try {
      readFileSync(join(root, candidate));
      return candidate;
    } catch {
      // try the next spelling
    }
  }
  return path;
}

/**
 * The imports of one file. `resolve` maps an imported path to the file it names; by default
 * "./x.js" is x.ts, as TypeScript writes it. Exported for the checker's own tests.
 */
export function importsOf(
  file: string,
  text: string,
  resolve: (path: string) => string = (p) => p.replace(/\.js$/, ".ts"),
): ImportEdge[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const edges: ImportEdge[] = [];
  const add = (specifier: string, typeOnly: boolean, dynamic: boolean): void => {
    const internal = specifier.startsWith(".");
    const target = internal ? resolve(join(dirname(file), specifier)) : packageName(specifier);
    edges.push({ from: file, specifier, target, internal, typeOnly, dynamic });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, isTypeOnlyImport(node.importClause), false);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly, false);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) add(arg.literal.text, true, false);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      add(node.arguments[0].text, false, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

function isTypeOnlyImport(clause: ts.ImportClause | undefined): boolean {
  if (clause === undefined) return false; // `import "x"`: for its side effects
  if (clause.isTypeOnly) return true;
  if (clause.name !== undefined) return false;
  const bindings = clause.namedBindings;
  if (bindings === undefined || !ts.isNamedImports(bindings)) return false;
  return bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

/** "node:fs/promises" and "fs/promises" -> "node:fs/promises"; "@a/b/dist/x.js" -> "@a/b"; "zod/v4" -> "zod". */
export function packageName(specifier: string): string {
  const bare = specifier.replace(/^node:/, "");
  if (specifier.startsWith("node:") || builtinModules.includes(bare)) return `node:${bare}`;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

/**
 * The load-time import cycles: strongly connected components (Tarjan) of the graph of static,
 * non-type edges between files of the tree. Each cycle is listed as its files, sorted.
 */
export function loadTimeCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (!e.internal || e.typeOnly || e.dynamic) continue;
    next.set(e.from, [...(next.get(e.from) ?? []), e.target]);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) ?? 0);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) {
      onStack.delete(w);
      component.push(w);
    }
    const selfLoop = (next.get(v) ?? []).includes(v);
    if (component.length > 1 || selfLoop) cycles.push(component.sort());
  };
  for (const v of next.keys()) if (!index.has(v)) connect(v);
  return cycles;
}
