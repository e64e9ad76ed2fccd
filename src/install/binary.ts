// Putting the plexus executable into the host's CNI bin dir. Never written in place: a runtime
// may be executing the current copy (a pod being set up while the DaemonSet restarts), and
// writing into a busy executable fails with ETXTBSY, or worse, corrupts a running plugin
// (Multus #1221). A temp copy renamed over the old one leaves the running process its inode.

import { rm, stat } from "node:fs/promises";
import { CniError, ErrorCode } from "../cni/error.js";
import { copyFileAtomic, hashFile } from "./atomic-file.js";
import type { HostPath, InstallLayout } from "./layout.js";

export type BinaryInstall = "copied" | "unchanged";

/** Copies `source` to `dest` (0755) unless `dest` already has the same content. */
async function installBinary(source: string, dest: string): Promise<BinaryInstall> {
  const [want, have] = await Promise.all([hashFile(source), hashFile(dest)]);
  if (want === undefined)
    throw new CniError(ErrorCode.IoFailure, `the plexus executable to install does not exist: ${source}`);
  if (want === have) return "unchanged";
  await copyFileAtomic(source, dest, 0o755);
  return "copied";
}

/** Whether an executable regular file is at `path` (a cheap check for the watch loop). */
export async function binaryPresent(path: string): Promise<boolean> {
  try {
    const st = await stat(path);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The executables to put into the CNI bin dir; `shim` set in daemon mode only. */
export interface ExecutableSources {
  readonly plexus: string;
  readonly shim?: string | undefined;
}

export interface InstalledExecutables {
  /** Host paths written (content changed), in the order written. */
  readonly copied: readonly string[];
  /** Host paths removed (plexus-thin when switching to thin mode). */
  readonly removed: readonly string[];
}

/**
 * Makes the CNI bin dir match the mode, each file replaced atomically and only when its content
 * differs. Daemon mode writes plexus-thin before the shim over `plexus`, so a shim is never
 * there without its fallback; thin mode writes `plexus` first, then drops plexus-thin (a running
 * copy keeps its inode). Switching modes is just running this with the other mode.
 */
export async function installExecutables(
  sources: ExecutableSources,
  layout: Pick<InstallLayout, "binary" | "thinBinary">,
): Promise<InstalledExecutables> {
  const copied: string[] = [];
  const removed: string[] = [];
  const put = async (source: string, dest: HostPath) => {
    if ((await installBinary(source, dest.agent)) === "copied") copied.push(dest.host);
  };
  if (sources.shim !== undefined) {
    await put(sources.plexus, layout.thinBinary);
    await put(sources.shim, layout.binary);
  } else {
    await put(sources.plexus, layout.binary);
    if (await binaryPresent(layout.thinBinary.agent)) {
      await rm(layout.thinBinary.agent, { force: true });
      removed.push(layout.thinBinary.host);
    }
  }
  return { copied, removed };
}

/** Whether every executable of the mode is in place (the watch loop's cheap check). */
export async function executablesPresent(
  sources: ExecutableSources,
  layout: Pick<InstallLayout, "binary" | "thinBinary">,
): Promise<boolean> {
  const paths = sources.shim !== undefined ? [layout.binary, layout.thinBinary] : [layout.binary];
  for (const p of paths) if (!(await binaryPresent(p.agent))) return false;
  return true;
}
