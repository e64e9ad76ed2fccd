// No `any` in src/ or test/ (STYLE: parse at the boundary, then trust the types; `unknown` at
// the edges). Read with the TypeScript parser, so a word "any" in a comment or a string is fine.

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" || e.name === "fixtures" ? [] : sources(path);
    return /\.(ts|mts)$/.test(e.name) && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** "file:line" of every `any` type annotation in `text`. */
function anyTypes(file: string, text: string): string[] {
  if (!/\bany\b/.test(text)) return [];
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const hits: string[] = [];
  const visit = (node: ts.Node): void => {
    if (node.kind === ts.SyntaxKind.AnyKeyword) {
      hits.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return hits;
}

describe("no any", () => {
  it("finds an any where there is one, not in comments or strings", () => {
    expect(anyTypes("x.ts", 'const a: any = 1; // any\nconst b = "any" as unknown;\nlet c = [] as any[];')).toEqual([
      "x.ts:1",
      "x.ts:3",
    ]);
  });

  it.each(["src", "test"])("in %s/", (dir) => {
    const files = sources(join(root, dir));
    expect(files.length).toBeGreaterThan(10);
    expect(files.flatMap((f) => anyTypes(relative(root, f), readFileSync(f, "utf8")))).toEqual([]);
  });
});
