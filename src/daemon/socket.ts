// The daemon's unix socket on disk. Only root may talk to the daemon: it runs delegates as root
// with whatever environment and config a caller sends, so the directory is 0700 and the socket
// 0600, both owned by the daemon's user (a non-root caller's connect() fails with EACCES).

import { connect } from "node:net";
import { chmod, lstat, mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";

export const DEFAULT_SOCKET = "/run/plexus/plexus.sock";

/**
 * Makes the socket's directory private and clears a stale socket left by a daemon that died.
 * Refuses to start beside a live daemon, and to delete anything that is not a socket.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Error(`socket directory ${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw new Error(`socket directory ${dir} belongs to uid ${st.uid}, not to this daemon's uid ${uid}`);
  await chmod(dir, 0o700);
  const existing = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (existing === undefined) return;
  if (!existing.isSocket()) throw new Error(`${path} exists and is not a socket: not removing it`);
  if (await answers(path)) throw new Error(`another daemon is serving on ${path}`);
  await rm(path, { force: true });
}

/** Restricts the socket once it exists (the 0700 directory already keeps others out meanwhile). */
export async function restrictSocket(path: string): Promise<void> {
  await chmod(path, 0o600);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}
