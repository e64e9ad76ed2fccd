// File operations under Plexus's state directory. Everything in it is Plexus's own: a symbolic
// link, a FIFO, a device or an entry owned by another user in place of one of its files or
// directories was put there by someone else, and following it would let them make Plexus write,
// rename or delete elsewhere, or read another file into an error message. So directories are
// checked with lstat before use, files are opened with O_NOFOLLOW (and O_NONBLOCK, so a FIFO
// cannot block the open) and checked with fstat on the open descriptor, and anything else is
// refused with an error naming it (docs/state.md "What Plexus refuses").
//
// The state directory itself (cniDir) may be a symbolic link: the operator chose it. It must be
// a directory owned by the user Plexus runs as (root on a node).

import { constants } from "node:fs";
import { lstat, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import type { Stats } from "node:fs";
import { randomBytes } from "node:crypto";
import { CniError, ErrorCode } from "../cni/error.js";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_NOFOLLOW, O_NONBLOCK } = constants;

/** The owner every entry must have: the user Plexus runs as (root on a node; tests run as root). */
export const OWNER_UID = typeof process.geteuid === "function" ? process.geteuid() : 0;

/** What an entry is, in words for an error message, when it is not what Plexus expects. */
function describeEntry(st: Stats, want: "file" | "directory"): string | undefined {
  if (st.isSymbolicLink()) return "a symbolic link";
  if (want === "directory" && !st.isDirectory()) return "not a directory";
  if (want === "file" && !st.isFile()) return "not a regular file";
  if (st.uid !== OWNER_UID) return `owned by uid ${st.uid}, not ${OWNER_UID}`;
  return undefined;
}

/** File system errors an operator can act on, in words (errno names as Node reports them). */
const FS_ERRORS: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on the device (or no free inodes)",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EIO: "input/output error",
  ENAMETOOLONG: "file name too long",
  ENOTDIR: "a component of the path is not a directory",
  ELOOP: "too many symbolic links",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
};

/**
 * A failure of a file operation under the state directory `dir` as a CNI error (code 5) naming
 * the path and saying what is wrong with the file system; anything else is returned as is.
 */
export function stateFailure(err: unknown, dir: string): unknown {
  if (err instanceof CniError || !(err instanceof Error)) return err;
  const { code, path, syscall } = err as NodeJS.ErrnoException;
  if (typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code)) return err;
  const what = FS_ERRORS[code] ?? `${syscall ?? "file operation"} failed`;
  const where = path ?? dir;
  return new CniError(
    ErrorCode.IoFailure,
    `Plexus's state directory ${dir} cannot be used: ${where}: ${what} (${code})` +
      (code === "ENOSPC" || code === "EDQUOT" || code === "EROFS"
        ? `; Plexus needs to write there (free space and inodes, or a writable mount)`
        : ""),
    { cause: err },
  );
}

function refused(path: string, what: string): CniError {
  return new CniError(
    ErrorCode.IoFailure,
    `state directory entry ${path} is ${what}: Plexus uses only plain files and directories of its own ` +
      `there and will not follow or touch this one (an operator should look at it and remove it)`,
  );
}

/** The state directory itself: created when missing; must be a directory of ours (links followed). */
export async function ensureStateDir(path: string): Promise<Stats> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  const st = await stat(path);
  const problem = !st.isDirectory() ? "not a directory" : st.uid !== OWNER_UID ? `owned by uid ${st.uid}` : undefined;
  if (problem) throw refused(path, problem);
  return st;
}

/** Whether a directory under the state directory exists; refuses anything but a directory of ours. */
export async function checkDir(path: string): Promise<boolean> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  const problem = describeEntry(st, "directory");
  if (problem) throw refused(path, problem);
  return true;
}

/** A directory under the state directory, created (0700) when missing; refused when not ours. */
export async function ensureDir(path: string): Promise<void> {
  if (await checkDir(path)) return;
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    await checkDir(path); // created meanwhile by another command: it must still be a directory of ours
  }
}

export type FileRead = { ok: true; text: string } | { ok: false; reason: string };

/**
 * A state file's text, or why it cannot be used (a link, not a regular file, not ours, too big).
 * Missing is an error for the caller: it listed the file. The reason never quotes the content.
 */
export async function readStateFile(path: string, maxBytes: number): Promise<FileRead> {
  let handle;
  try {
    handle = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ELOOP") return { ok: false, reason: "a symbolic link (not followed)" };
    return { ok: false, reason: `cannot be opened (${code ?? (err as Error).message})` };
  }
  try {
    const st = await handle.stat();
    const problem = describeEntry(st, "file");
    if (problem) return { ok: false, reason: problem };
    if (st.size > maxBytes) return { ok: false, reason: `larger than ${maxBytes} bytes (${st.size})` };
    return { ok: true, text: await handle.readFile("utf8") };
  } catch (err) {
    return { ok: false, reason: `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})` };
  } finally {
    await handle.close();
  }
}

/** Writes `text` to `path` atomically: a new 0600 file beside it (never through a link), then rename. */
export async function writeStateFile(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  const handle = await open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  // rename replaces the entry at `path` itself, never what a link there points to.
  await rename(tmp, path);
}

/** Creates an empty 0600 file (or keeps it) and sets its modification time; refuses a link or a foreign file. */
export async function touchFile(path: string, at: Date): Promise<void> {
  let handle;
  try {
    handle = await open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP") throw refused(path, "a symbolic link");
    throw err;
  }
  try {
    const problem = describeEntry(await handle.stat(), "file");
    if (problem) throw refused(path, problem);
    await handle.utimes(at, at);
  } finally {
    await handle.close();
  }
}

/** Creates `path` with `text` only if nothing is there; false if something is. */
export async function createExclusive(path: string, text: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  return true;
}

/** Replaces the content of an existing file of ours (never through a link). */
export async function overwriteFile(path: string, text: string): Promise<void> {
  const handle = await open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_NONBLOCK);
  try {
    const problem = describeEntry(await handle.stat(), "file");
    if (problem) throw refused(path, problem);
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/** Removes a file (a link is removed itself, never followed); a missing one is fine. */
export async function removeFile(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}
