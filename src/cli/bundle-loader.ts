// Loading a module the plexus executable carries as a bundle of its own, compiled only by the
// invocations that need it: the Kubernetes client (src/cli/k8s-loader.ts) and the kubelet's
// gRPC client (src/cli/kubelet-loader.ts). In the single executable the bundle is an asset and
// its V8 code cache is appended to the executable (src/cli/sea-build.mjs says why it is not an
// asset); the dev bundle loads dist/<asset> beside dist/plexus.cjs; sources (the tests) import
// the module directly.
//
// The end of the executable holds one block per bundle, each followed by a 16-byte footer: 8
// bytes of magic naming the bundle, then the block's length (u64 little-endian). The last block
// is read first; a reader looking for another magic walks back over the ones it knows.

import { closeSync, fstatSync, openSync, readSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { getAsset } from "node:sea";
import vm from "node:vm";

export interface BundleSpec {
  /** The asset's name in the executable, and the dev bundle's file name in dist/. */
  readonly asset: string;
  /** 8 ASCII bytes marking its code cache at the end of the executable. */
  readonly magic: string;
}

/** Magics of every bundle: the blocks a reader may walk over. */
export const BUNDLE_MAGICS: ReadonlySet<string> = new Set(["PLEXUSCC", "PLEXUSKB"]);

/** What the last load of a bundle did with its code cache (for the debug log and the build's test). */
export type CodeCacheOutcome = "accepted" | "rejected" | "absent" | "not-applicable";

const FOOTER = 16;

/** The bundle's exports: from the executable's asset and appended code cache. */
export function loadFromAsset<T>(spec: BundleSpec): { module: T; outcome: CodeCacheOutcome } {
  const cache = readAppendedBlock(spec.magic);
  const script = compile(spec, cache);
  const outcome = cache === undefined ? "absent" : script.cachedDataRejected === true ? "rejected" : "accepted";
  return { module: evaluate<T>(spec, script), outcome };
}

/** The dev bundle (node dist/plexus.cjs): the bundle sits beside it. */
export function loadFromDist<T>(spec: BundleSpec): T {
  return createRequire(join(process.argv[1] ?? "", "..", "x"))(`./${spec.asset}`) as T;
}

/**
 * The build's step (src/cli/sea-build.mjs): compile and run the bundle in this executable's own
 * isolate and write the code cache, which then holds every function its initialisation compiled.
 */
export function writeCodeCache(spec: BundleSpec, path: string): void {
  const script = compile(spec, undefined);
  evaluate(spec, script);
  writeFileSync(path, script.createCachedData());
}

function compile(spec: BundleSpec, cachedData: Buffer | undefined): vm.Script {
  const code = getAsset(spec.asset, "utf8");
  // The wrapper of a CommonJS module, so that the bundle's `require`, `module`, ... are ours.
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
  return new vm.Script(wrapper, { filename: spec.asset, ...(cachedData ? { cachedData } : {}) });
}

function evaluate<T>(spec: BundleSpec, script: vm.Script): T {
  const fn = script.runInThisContext() as (
    e: object,
    r: NodeJS.Require,
    m: { exports: object },
    f: string,
    d: string,
  ) => void;
  const module = { exports: {} };
  // The bundle needs Node's built-in modules only; a single executable's require provides them.
  fn(module.exports, createRequire(process.execPath), module, spec.asset, "/");
  return module.exports as T;
}

/** The block marked `magic` after the ELF image of the running executable (/proc/self/exe: even if replaced since). */
function readAppendedBlock(magic: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync("/proc/self/exe", "r");
    let end = fstatSync(fd).size;
    const footer = Buffer.alloc(FOOTER);
    while (end >= FOOTER) {
      readSync(fd, footer, 0, FOOTER, end - FOOTER);
      const mark = footer.toString("latin1", 0, 8);
      const length = Number(footer.readBigUInt64LE(8));
      if (!BUNDLE_MAGICS.has(mark) || length <= 0 || length > end - FOOTER) return undefined;
      if (mark === magic) {
        const block = Buffer.alloc(length);
        readSync(fd, block, 0, length, end - FOOTER - length);
        return block;
      }
      end -= FOOTER + length;
    }
    return undefined;
  } catch {
    return undefined; // no cache only costs compile time
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
