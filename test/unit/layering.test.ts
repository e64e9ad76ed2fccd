// The layering of src/, checked on every `npm test` (docs/architecture.md#layers-and-owners).
//
// The rules, as data below:
// - LAYERS: each directory under src/ and the directories of ours it may import (type imports
//   included: a type from a higher layer is still a dependency on it). "*" means any: the entry
//   points, which build the adapters and hand them down. Dependencies point down.
// - PURE layers (the CNI protocol, the multi-network rules, the configuration) import no I/O:
//   only the packages and node builtins listed in PURE_IMPORTS.
// - OWNERS: each third-party runtime dependency is imported from one layer only, the one that
//   owns it; SHARED lists the exceptions. A package in neither table must still have a single
//   importing layer, and the failure says to add it to OWNERS.
// - No load-time import cycle between files anywhere in src/ (static, non-type imports), and no
//   type-only cycle either: a cycle of types is two modules that are really one.
//
// To add a layer (a new directory under src/): add its line to LAYERS, naming what it may import,
// and add it to the `may` of the layers that use it. To add a dependency: add it to OWNERS.
// A violation names the file and the import; move the code, or change the table here with the
// reason in a comment (and in docs/architecture.md, which describes the same layers).

import { describe, expect, it } from "vitest";
import { importsOf, loadTimeCycles, packageName, readImportGraph, type ImportEdge } from "../support/import-graph.js";

type Layer = string;

interface LayerRule {
  /** The layers of ours this one may import; "*" for an entry point. */
  readonly may: readonly Layer[] | "*";
  /** No I/O: third-party packages and node builtins only from PURE_IMPORTS. */
  readonly pure?: boolean;
}

const LAYERS: Readonly<Record<Layer, LayerRule>> = {
  // The CNI protocol: schemas, versions, results, errors, env, CNI_ARGS, identifiers.
  cni: { may: [], pure: true },
  // Plexus's own configuration and the installer's options.
  config: { may: ["cni"], pure: true },
  // The multi-network rules: annotations, NADs, names, capabilities, network-status.
  networks: { may: ["cni"], pure: true },
  // Adapters, built at the entry points and handed down.
  log: { may: [] },
  runtime: { may: ["cni"] },
  k8s: { may: ["cni", "log"] },
  cache: { may: ["cni"] },
  // The kubelet's device API (PodResources over gRPC).
  kubelet: { may: ["cni", "log"] },
  // The use cases; they see the adapters through their ports (types) and EngineDeps.
  engine: { may: ["cni", "config", "networks", "runtime", "k8s", "cache", "log"] },
  // The node agent and the embedded local cluster.
  install: { may: ["cni", "config", "networks", "runtime", "k8s", "log"] },
  local: { may: ["cni", "config", "networks", "runtime", "install", "log"] },
  // Entry points: the plexus executable's commands, and the node daemon.
  cli: { may: "*" },
  daemon: { may: ["cni", "config", "networks", "engine", "runtime", "k8s", "cache", "log", "kubelet"] },
  // The C shim the runtime executes in daemon mode, and the script that builds it.
  shim: { may: [] },
};

/** What a pure layer may import from outside src/. */
const PURE_IMPORTS: ReadonlySet<string> = new Set([
  "zod",
  "ip-cidr",
  "node:net", // isIP / isIPv4 / isIPv6 only
  "node:util", // parseArgs
]);

/** Third-party runtime dependencies and the one layer that imports each. */
const OWNERS: Readonly<Record<string, Layer>> = {
  "@kubernetes/client-node": "k8s",
  execa: "runtime",
  pino: "log",
  "ip-cidr": "cni",
  yaml: "local",
  "@grpc/grpc-js": "kubelet",
  "@grpc/proto-loader": "kubelet",
  esbuild: "cli", // the build script, src/cli/sea-build.mjs
};

/** Used everywhere on purpose: zod is the vocabulary of parsing at every boundary. */
const SHARED: ReadonlySet<string> = new Set(["zod"]);

const layerOf = (file: string): Layer => file.split("/")[1] ?? "";

/** Every broken rule, one line each ("src/a/b.ts imports ...: why"). */
function layeringViolations(edges: readonly ImportEdge[]): string[] {
  const problems: string[] = [];
  const importers = new Map<string, Set<Layer>>();
  for (const e of edges) {
    const from = layerOf(e.from);
    const rule = LAYERS[from];
    const where = `${e.from} imports "${e.specifier}"`;
    if (rule === undefined) {
      const problem = `${e.from}: src/${from} is not a known layer (add it to LAYERS in test/unit/layering.test.ts)`;
      if (!problems.includes(problem)) problems.push(problem);
      continue;
    }
    if (e.internal) {
      const to = layerOf(e.target);
      if (!e.target.startsWith("src/")) problems.push(`${where}: src must not import outside src/`);
      else if (to !== from && rule.may !== "*" && !rule.may.includes(to)) {
        problems.push(`${where}: src/${from} may import ${describeMay(rule.may)}, not src/${to}`);
      }
      continue;
    }
    if (rule.pure && !PURE_IMPORTS.has(e.target)) {
      problems.push(`${where}: src/${from} is pure (no I/O); ${e.target} is not in PURE_IMPORTS`);
    }
    if (!e.target.startsWith("node:")) {
      importers.set(e.target, (importers.get(e.target) ?? new Set()).add(from));
      const owner = OWNERS[e.target];
      if (owner !== undefined && owner !== from) problems.push(`${where}: ${e.target} is owned by src/${owner}`);
    }
  }
  for (const [pkg, layers] of importers) {
    if (OWNERS[pkg] === undefined && !SHARED.has(pkg) && layers.size > 1) {
      problems.push(
        `${pkg} is imported by ${[...layers].map((l) => `src/${l}`).join(", ")}: give it one owner (OWNERS)`,
      );
    }
  }
  return problems;
}

function describeMay(may: readonly Layer[]): string {
  return may.length === 0 ? "nothing of ours" : may.map((l) => `src/${l}`).join(", ");
}

/** Cycles through type-only imports too (load-time cycles are a subset). */
function typeCycles(edges: readonly ImportEdge[]): string[][] {
  return loadTimeCycles(edges.map((e) => ({ ...e, typeOnly: false, dynamic: false })));
}

const root = new URL("../..", import.meta.url).pathname;

describe("the layering of src/", () => {
  const edges = readImportGraph(root, "src");

  it("reads the whole tree", () => {
    // A parser that found nothing would pass every rule below.
    expect(new Set(edges.map((e) => e.from)).size).toBeGreaterThan(100);
    expect(edges.some((e) => e.from === "src/engine/add.ts" && e.target === "src/engine/deps.ts")).toBe(true);
  });

  it("every import points down the layers, and each dependency has one owner", () => {
    expect(layeringViolations(edges)).toEqual([]);
  });

  it("no import cycle, at load time or through types", () => {
    expect(loadTimeCycles(edges)).toEqual([]);
    expect(typeCycles(edges)).toEqual([]);
  });
});

describe("the checker itself", () => {
  const edge = (from: string, specifier: string, text?: string): ImportEdge[] =>
    importsOf(from, text ?? `import { x } from "${specifier}";`);

  it("refuses an import up the layers, type imports included", () => {
    const up = importsOf("src/networks/x.ts", 'import type { P } from "../k8s/port.js";');
    expect(up[0]).toMatchObject({ target: "src/k8s/port.ts", typeOnly: true });
    expect(layeringViolations(up)).toEqual([
      'src/networks/x.ts imports "../k8s/port.js": src/networks may import src/cni, not src/k8s',
    ]);
    expect(layeringViolations(edge("src/cni/x.ts", "../networks/y.js"))).toHaveLength(1);
    expect(layeringViolations(edge("src/engine/x.ts", "../cni/y.js"))).toEqual([]);
    expect(layeringViolations(edge("src/cli/x.ts", "../local/y.js"))).toEqual([]);
  });

  it("refuses I/O in a pure layer and a package outside its owner", () => {
    expect(layeringViolations(edge("src/networks/x.ts", "node:fs/promises"))).toEqual([
      'src/networks/x.ts imports "node:fs/promises": src/networks is pure (no I/O); node:fs/promises is not in PURE_IMPORTS',
    ]);
    expect(layeringViolations(edge("src/cni/x.ts", "fs"))).toHaveLength(1);
    expect(layeringViolations(edge("src/engine/x.ts", "execa"))).toEqual([
      'src/engine/x.ts imports "execa": execa is owned by src/runtime',
    ]);
    expect(layeringViolations(edge("src/install/x.ts", "@kubernetes/client-node/dist/config.js"))).toHaveLength(1);
    expect(layeringViolations(edge("src/runtime/x.ts", "execa"))).toEqual([]);
    const twoImporters = [...edge("src/engine/a.ts", "left-pad"), ...edge("src/install/b.ts", "left-pad")];
    expect(layeringViolations(twoImporters)).toEqual([
      "left-pad is imported by src/engine, src/install: give it one owner (OWNERS)",
    ]);
  });

  it("refuses an unknown layer", () => {
    expect(layeringViolations(edge("src/utils/x.ts", "../cni/y.js"))[0]).toContain("not a known layer");
  });

  it("names packages and builtins the same way however they are written", () => {
    expect(packageName("fs")).toBe("node:fs");
    expect(packageName("node:fs/promises")).toBe("node:fs/promises");
    expect(packageName("@grpc/grpc-js/build/src/index.js")).toBe("@grpc/grpc-js");
    expect(packageName("zod/v4")).toBe("zod");
  });

  it("finds load-time cycles, and tells type-only and lazy imports apart", () => {
    const graph = [
      ...importsOf("src/a/a.ts", 'import { b } from "./b.js";'),
      ...importsOf("src/a/b.ts", 'import { c } from "./c.js";\nexport { d } from "./d.js";'),
      ...importsOf("src/a/c.ts", 'import { a } from "./a.js";'),
      ...importsOf("src/a/d.ts", 'import type { B } from "./b.js";\nimport { type C } from "./c.js";'),
      ...importsOf("src/a/e.ts", 'const f = () => import("./f.js");\ntype F = typeof import("./f.js");'),
      ...importsOf("src/a/f.ts", 'import "./e.js";'),
    ];
    expect(graph.filter((e) => e.typeOnly).map((e) => `${e.from}>${e.target}`)).toEqual([
      "src/a/d.ts>src/a/b.ts",
      "src/a/d.ts>src/a/c.ts",
      "src/a/e.ts>src/a/f.ts",
    ]);
    expect(graph.filter((e) => e.dynamic).map((e) => e.from)).toEqual(["src/a/e.ts"]);
    expect(loadTimeCycles(graph)).toEqual([["src/a/a.ts", "src/a/b.ts", "src/a/c.ts"]]);
    expect(typeCycles(graph).map((c) => c.join(" "))).toEqual([
      "src/a/a.ts src/a/b.ts src/a/c.ts src/a/d.ts",
      "src/a/e.ts src/a/f.ts",
    ]);
  });
});
