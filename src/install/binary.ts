// Putting the plexus executable into the host's CNI bin dir. Never written in place: a runtime
// may be executing the current copy (a pod being set up while the DaemonSet restarts), and
// writing into a busy executable fails with ETXTBSY, or worse, corrupts a running plugin
// (Multus #1221). A temp copy renamed over the old one leaves the running process its inode.

import { stat } from "node:fs/promises";
import { CniError, ErrorCode } from "../cni/error.js";
import { copyFileAtomic, hashFile } from "./atomic-file.js";

export type BinaryInstall = "copied" | "unchanged";

/** Copies `source` to `dest` (0755) unless `dest` already has the same content. */
export async function installBinary(source: string, dest: string): Promise<BinaryInstall> {
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
