// Loads the Kubernetes client module (src/k8s/client.ts) on first use. The plexus executable
// carries it as an asset, compiled only by the invocations that talk to the API, from a V8 code
// cache the build appended to the executable (src/cli/sea-build.mjs says why it is not an
// asset); the dev bundle loads dist/k8s-client.cjs; sources (the tests) import it directly.

import { closeSync, fstatSync, openSync, readSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { isSea, getAsset } from "node:sea";
import vm from "node:vm";

type KubeClientModule = typeof import("../k8s/client.js");

declare const PLEXUS_BUNDLED: boolean | undefined;

/** What the last load did with the code cache, for the debug log (and the test that checks the build). */
export type CodeCacheOutcome = "accepted" | "rejected" | "absent" | "not-applicable";
let lastOutcome: CodeCacheOutcome = "not-applicable";

export function kubeClientCodeCacheOutcome(): CodeCacheOutcome {
  return lastOutcome;
}

export async function importKubeClient(): Promise<KubeClientModule> {
  if (typeof PLEXUS_BUNDLED === "undefined") return import("../k8s/client.js");
  if (isSea()) return fromAsset();
  // The dev bundle (node dist/plexus.cjs): the client bundle sits beside it.
  return createRequire(join(process.argv[1] ?? "", "..", "x"))("./k8s-client.cjs") as KubeClientModule;
}

// The footer after the cache: 8 bytes of magic, then the cache's length (u64 little-endian).
const MAGIC = "PLEXUSCC";
const FOOTER = 16;

function compile(cachedData: Buffer | undefined): vm.Script {
  const code = getAsset("k8s-client.cjs", "utf8");
  // The wrapper of a CommonJS module, so that the bundle's `require`, `module`, ... are ours.
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
  return new vm.Script(wrapper, { filename: "k8s-client.cjs", ...(cachedData ? { cachedData } : {}) });
}

function evaluate(script: vm.Script): KubeClientModule {
  const fn = script.runInThisContext() as (
    e: object,
    r: NodeJS.Require,
    m: { exports: object },
    f: string,
    d: string,
  ) => void;
  const module = { exports: {} };
  // The bundle needs Node's built-in modules only; a single executable's require provides them.
  fn(module.exports, createRequire(process.execPath), module, "k8s-client.cjs", "/");
  return module.exports as KubeClientModule;
}

function fromAsset(): KubeClientModule {
  const cache = readAppendedCodeCache();
  const script = compile(cache);
  lastOutcome = cache === undefined ? "absent" : script.cachedDataRejected === true ? "rejected" : "accepted";
  return evaluate(script);
}

/** The cache after the ELF image of the running executable (/proc/self/exe: even if the file was replaced since). */
function readAppendedCodeCache(): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync("/proc/self/exe", "r");
    const size = fstatSync(fd).size;
    const footer = Buffer.alloc(FOOTER);
    readSync(fd, footer, 0, FOOTER, size - FOOTER);
    if (footer.toString("latin1", 0, 8) !== MAGIC) return undefined;
    const length = Number(footer.readBigUInt64LE(8));
    if (length <= 0 || length > size - FOOTER) return undefined;
    const cache = Buffer.alloc(length);
    readSync(fd, cache, 0, length, size - FOOTER - length);
    return cache;
  } catch {
    return undefined; // no cache only costs compile time
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The build's step (src/cli/sea-build.mjs): compile and run the client bundle in this
 * executable's own isolate and write the code cache, which then holds every function its
 * initialisation compiled.
 */
export function writeKubeClientCodeCache(path: string): void {
  if (!isSea()) throw new Error("PLEXUS_BUILD_CODE_CACHE: only the single executable can make its code cache");
  const script = compile(undefined);
  evaluate(script);
  writeFileSync(path, script.createCachedData());
}
