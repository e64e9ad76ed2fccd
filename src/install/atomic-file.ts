// Every file the agent puts on the host appears whole or not at all: written to a temp file in
// the same directory, flushed, then renamed over the target. A runtime that reads the conf dir
// mid-write sees the old file or the new one, never half of one; a runtime executing the old
// binary keeps its inode (rename never writes into a busy executable: Multus #1221, ETXTBSY).
// Temp names end in ".tmp", an extension no runtime loads as a network config.

import { createHash, randomBytes } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { chmod, copyFile, mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { CniError, ErrorCode } from "../cni/error.js";

function tempPath(path: string): string {
  return `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
}

function ioError(what: string, path: string, err: unknown): CniError {
  return new CniError(ErrorCode.IoFailure, `${what} ${path}: ${(err as Error).message}`, { cause: err });
}

/** Writes `data` to `path` atomically with `mode`; creates the parent directory (0755) if needed. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = tempPath(path);
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    const handle = await open(tmp, "wx", mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // open() honours the umask; the mode must be exact (0600 for a kubeconfig).
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw ioError("cannot write", path, err);
  }
}

/** Copies `src` to `dest` atomically (temp copy + rename), leaving `dest` with `mode`. */
export async function copyFileAtomic(src: string, dest: string, mode: number): Promise<void> {
  const tmp = tempPath(dest);
  try {
    await mkdir(dirname(dest), { recursive: true, mode: 0o755 });
    await copyFile(src, tmp, constants.COPYFILE_EXCL);
    const handle = await open(tmp, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(tmp, mode);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw ioError(`cannot copy ${src} to`, dest, err);
  }
}

/** sha256 of a file's content, or undefined when it does not exist. */
export async function hashFile(path: string): Promise<string | undefined> {
  try {
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return hash.digest("hex");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError("cannot read", path, err);
  }
}
