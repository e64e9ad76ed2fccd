// Plexus never runs itself as a delegate. A network whose `type` is Plexus (a NAD is namespaced
// user input) would make each level read the same pod and run itself again, without end:
// hundreds of processes before the runtime's deadline, and the rollback starting its own chain.
// Three guards, each catching what the one before cannot:
//   1. by name: a type that is one of the names Plexus is installed under is refused before any
//      lookup (the daemon mode's shim is `plexus`, the thin executable beside it `plexus-thin`);
//   2. by identity: a plugin file that IS one of Plexus's files (same device and inode: a
//      symlink or a hard link under any name) is refused before it is executed;
//   3. by nesting: every delegate Plexus runs gets PLEXUS_DEPTH=1 in its environment, and a
//      Plexus that finds it set refuses at once (a copy under another name, or Plexus reached
//      through another meta-plugin, which passes its environment on as libcni does).

import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { CniError, ErrorCode } from "../cni/error.js";
import { SELF_PLUGIN_TYPES } from "../cni/ids.js";

/** Set in every delegate's environment by Plexus; a Plexus that finds it set is nested. */
const NESTING_ENV = "PLEXUS_DEPTH";

/** What Plexus is, as a runtime that must not run it sees it. */
export interface SelfIdentity {
  /** Plugin types that name Plexus (SELF_PLUGIN_TYPES, plus the running executable's own name). */
  readonly names: readonly string[];
  /**
   * Files that are Plexus: the running executable (/proc/self/exe) and the installed names in
   * the bin dirs. Missing ones are ignored; compared by device and inode.
   */
  readonly files: readonly string[];
}

/**
 * The identity of Plexus in these bin dirs. `executable` is the running process's executable
 * when that is Plexus (the single executable; not node running a bundle): its name and file
 * count too, and so does /proc/self/exe, the running file even after an upgrade replaced it.
 */
export function selfIdentity(binDirs: readonly string[], executable?: string): SelfIdentity {
  const names = [...new Set([...SELF_PLUGIN_TYPES, ...(executable ? [basename(executable)] : [])])];
  const installed = binDirs.flatMap((dir) => names.map((n) => join(dir, n)));
  return { names, files: [...(executable ? [executable, "/proc/self/exe"] : []), ...installed] };
}

/** The environment of a delegate of Plexus: the base, marked as nested. */
export function markNested(env: Readonly<Record<string, string>>): Record<string, string> {
  return { ...env, [NESTING_ENV]: "1" };
}

/**
 * Throws when this process was started by Plexus as a delegate. VERSION still answers: a probe
 * runs no delegate and cannot recurse, and a runtime's probe must never fail on its environment.
 */
export function checkNotNested(env: Readonly<Record<string, string | undefined>>, command: string): void {
  const depth = env[NESTING_ENV];
  if (depth === undefined || depth === "" || command === "VERSION") return;
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    `Plexus was executed as a delegate plugin of Plexus (${NESTING_ENV}=${depth}): a network's type is Plexus itself ` +
      "(or a copy of it); Plexus never runs nested, as each level would run the same networks again",
  );
}

function refusal(type: string, why: string): CniError {
  return new CniError(
    ErrorCode.InvalidNetworkConfig,
    `plugin type ${JSON.stringify(type)} is Plexus itself${why}: a network cannot delegate to Plexus, which ` +
      `would run ` +
      "the same networks again, without end",
  );
}

/** Throws when `type` is one of Plexus's names (before any lookup). */
export function checkNotSelfName(type: string, self: SelfIdentity): void {
  if (self.names.includes(type)) throw refusal(type, "");
}

export type SelfFileCheck = (type: string, path: string) => Promise<void>;

/**
 * A check that `path` (the plugin `type` resolved to) is none of Plexus's files. The identities
 * of Plexus's files are read once, on first use.
 */
export function createSelfFileCheck(self: SelfIdentity): SelfFileCheck {
  let known: Promise<readonly { file: string; id: string }[]> | undefined;
  const load = async () => {
    const ids = await Promise.all(self.files.map(async (file) => ({ file, id: await fileId(file) })));
    return ids.filter((x): x is { file: string; id: string } => x.id !== undefined);
  };
  return async (type, path) => {
    const id = await fileId(path);
    if (id === undefined) return;
    const same = (await (known ??= load())).find((k) => k.id === id);
    if (same) throw refusal(type, ` (${path} is the same file as ${same.file})`);
  };
}

/** Device and inode, symlinks followed; undefined when the file cannot be read. */
async function fileId(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}
