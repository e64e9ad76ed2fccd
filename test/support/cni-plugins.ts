// Where the reference CNI plugins (containernetworking-plugins) are installed on this machine:
// Debian puts them in /usr/lib/cni, the upstream tarball in /opt/cni/bin.
//
//   referencePluginDir()            the first of those holding bridge and host-local (throws if none)
//   findReferencePluginDir(types)   the first holding every plugin in `types`, or undefined
//   hasReferencePlugin(type)        whether the reference directory holds `type`
//   fakePluginDir                   test/fixtures/plugins, the fake delegates of the runtime tests
//   fakePluginEnv()                 a small clean environment for them (PATH only: Node starts
//                                   ~50 ms slower with this VM's NODE_EXTRA_CA_CERTS)
//   readRecords(file)               the calls the `recorder` fixture appended to `file`
//   recorderList(dir, v, plugins)   a list of `recorder` plugins p1..pn (ids 1..n) recording to one
//                                   new file in `dir`, and a function reading their calls
//   cniFailure(promise)             the CniError a promise rejects with (fails the test otherwise)

import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { parseNetworkConfig, type NetworkConfigList } from "../../src/cni/conf.js";
import { CniError } from "../../src/cni/error.js";

export const REFERENCE_PLUGIN_DIRS = ["/usr/lib/cni", "/opt/cni/bin"] as const;

export const fakePluginDir = fileURLToPath(new URL("../fixtures/plugins", import.meta.url));

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function findReferencePluginDir(types: readonly string[] = ["bridge", "host-local"]): string | undefined {
  return REFERENCE_PLUGIN_DIRS.find((dir) => types.every((t) => isExecutable(join(dir, t))));
}

export function referencePluginDir(): string {
  const dir = findReferencePluginDir();
  if (dir === undefined) {
    throw new Error(
      `no reference CNI plugins in ${REFERENCE_PLUGIN_DIRS.join(" or ")}: install containernetworking-plugins`,
    );
  }
  return dir;
}

export function hasReferencePlugin(type: string): boolean {
  return findReferencePluginDir([type]) !== undefined;
}

export function fakePluginEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { PATH: process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", ...extra };
}

/** One call recorded by test/fixtures/plugins/recorder. */
export interface RecordedCall {
  readonly command: string;
  readonly env: Readonly<Record<string, string>>;
  /** The config it read on stdin (the raw text when it was not JSON). */
  readonly stdin: Record<string, unknown>;
}

export function readRecords(file: string): RecordedCall[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as RecordedCall);
}

let recorderSeq = 0;

export function recorderList(
  dir: string,
  version: string,
  plugins: readonly Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): { list: NetworkConfigList; calls: () => RecordedCall[] } {
  const file = join(dir, `calls-${process.pid}-${++recorderSeq}.jsonl`);
  const list = parseNetworkConfig({
    cniVersion: version,
    name: "dbnet",
    ...extra,
    plugins: plugins.map((p, i) => ({ type: "recorder", name: `p${i + 1}`, id: i + 1, record: file, ...p })),
  });
  return { list, calls: () => readRecords(file) };
}

export async function cniFailure(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CniError);
    return err as CniError;
  }
  throw new Error("expected a CniError, but the call succeeded");
}
