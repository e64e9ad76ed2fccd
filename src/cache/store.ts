// The only writer under Plexus's state directory (docs/state.md). Layout:
//   <cniDir>/<containerId>/<ifName>.json        one AttachmentRecord per attachment (0600)
//   <cniDir>/.tombstones/<bucket>/<id>.<reason> empty files, a bounded number (tombstones.ts)
//   <cniDir>/.locks/<containerId>               while a command for the container runs (container-lock.ts)
// Directories are 0700. Every record write is atomic: temp file in the same directory, then
// rename. A container's directory exists only while it has attachments (or files set aside as
// .corrupt), so the directory holds live containers, not the node's history. A file that cannot
// be read is reported, never silently skipped (Multus #1087); nothing that is not a plain file
// or directory of Plexus's own is followed or used (state-files.ts).

import { readdir, rename, rm, rmdir } from "node:fs/promises";
import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import {
  lockContainer,
  tryLockContainer,
  type ContainerLock,
  type LockOptions,
  type LockRequest,
} from "./container-lock.js";
import { AttachmentRecordSchema, type AttachmentRecord, type Tombstone } from "./record.js";
import {
  checkDir,
  ensureDir,
  ensureStateDir,
  OWNER_UID,
  readStateFile,
  removeFile,
  stateFailure,
  writeStateFile,
} from "./state-files.js";
import { createTombstones, DEFAULT_TOMBSTONE_LIMITS, type TombstoneLimits } from "./tombstones.js";

export type { ContainerLock, LockHolder, LockOptions } from "./container-lock.js";

export interface CorruptFile {
  readonly path: string;
  readonly reason: string;
}

export interface ContainerState {
  readonly attachments: readonly AttachmentRecord[];
  readonly corrupt: readonly CorruptFile[];
  readonly tombstone: Tombstone | undefined;
}

export interface CacheStore {
  readonly dir: string;
  /**
   * Serializes the commands of one container across processes; waits up to `timeoutMs` (then
   * code 11). The lock says whether the previous holder died holding it.
   */
  lockContainer(containerId: string, options: LockOptions): Promise<ContainerLock>;
  /** The lock if it is free now, else undefined (GC skips a container a command is working on). */
  tryLockContainer(containerId: string): Promise<ContainerLock | undefined>;
  /** Saves (replaces) one attachment's record; the container's tombstone, if any, goes. */
  saveAttachment(record: AttachmentRecord): Promise<void>;
  /** Records sorted by index; unreadable files listed in `corrupt`. */
  loadContainer(containerId: string): Promise<ContainerState>;
  /** Leaves a tombstone and removes the container's records (and its directory, when empty). */
  forgetContainer(containerId: string, reason: Tombstone["reason"]): Promise<void>;
  removeAttachment(containerId: string, ifName: string): Promise<void>;
  /** Moves an unreadable file aside (`.corrupt`), keeping it for an operator to read. */
  quarantine(path: string): Promise<void>;
  /** Drops everything about a container, tombstone included (GC). */
  purgeContainer(containerId: string): Promise<void>;
  /** The containers that have a directory (attachments, or files set aside). */
  listContainers(): Promise<readonly string[]>;
  /** Containers whose last command died holding the lock (GC stops what it left running). */
  listInterrupted(): Promise<readonly string[]>;
  /** Every tombstone, oldest first (bounded; for `plexus inspect`, not for CNI commands). */
  listTombstones(): Promise<readonly Tombstone[]>;
}

export interface CacheStoreOptions {
  readonly now?: () => Date;
  readonly tombstones?: TombstoneLimits;
}

const SAFE_SEGMENT = /^[a-zA-Z0-9][a-zA-Z0-9_.\-@]*$/;
/** Written by Plexus builds before the bounded tombstones; still honoured, removed on the next DEL or GC. */
const LEGACY_TOMBSTONE = "tombstone.json";
/** A record holds a delegate configuration and its result: a few KiB. Anything this big is not one. */
const MAX_RECORD_BYTES = 4 * 1024 * 1024;

function segment(v: string, what: string): string {
  // Container IDs and interface names are validated upstream; this guards the filesystem anyway.
  if (!SAFE_SEGMENT.test(v) || v.includes(".."))
    throw new Error(`unsafe ${what} for a state file name: ${JSON.stringify(v)}`);
  return v;
}

export function createCacheStore(dir: string, options: CacheStoreOptions = {}): CacheStore {
  const now = options.now ?? (() => new Date());
  const tombstones = createTombstones(join(dir, ".tombstones"), options.tombstones ?? DEFAULT_TOMBSTONE_LIMITS);
  const locksDir = join(dir, ".locks");
  const containerDir = (id: string) => join(dir, segment(id, "container ID"));

  async function lockRequest(containerId: string): Promise<LockRequest> {
    const st = await ensureStateDir(dir);
    return { locksDir, stateIdentity: `${st.dev}:${st.ino}`, containerId: segment(containerId, "container ID"), now };
  }

  async function ensureContainerDir(id: string): Promise<string> {
    const cdir = containerDir(id);
    await ensureStateDir(dir);
    await ensureDir(cdir);
    return cdir;
  }

  const store: CacheStore = {
    dir,
    lockContainer: async (containerId, lockOptions) => lockContainer(await lockRequest(containerId), lockOptions),
    tryLockContainer: async (containerId) => tryLockContainer(await lockRequest(containerId)),
    async saveAttachment(record) {
      const cdir = await ensureContainerDir(record.containerId);
      await tombstones.clear(record.containerId);
      await writeStateFile(
        join(cdir, `${segment(record.ifName, "interface name")}.json`),
        JSON.stringify(AttachmentRecordSchema.parse(record), null, 1) + "\n",
      );
    },
    async loadContainer(containerId) {
      const cdir = containerDir(containerId);
      const names = (await checkDir(cdir)) ? await readdir(cdir) : [];
      const attachments: AttachmentRecord[] = [];
      const corrupt: CorruptFile[] = [];
      let legacy: Tombstone | undefined;
      for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
        const path = join(cdir, name);
        if (name === LEGACY_TOMBSTONE) {
          legacy = { containerId, reason: "deleted", at: (await lstat(path)).mtime.toISOString() };
          continue;
        }
        const read = await readRecord(path);
        if (read.ok) attachments.push(read.value);
        else corrupt.push({ path, reason: read.reason });
      }
      attachments.sort((a, b) => a.index - b.index);
      return { attachments, corrupt, tombstone: legacy ?? (await tombstones.find(containerId)) };
    },
    async forgetContainer(containerId, reason) {
      const cdir = containerDir(containerId);
      await ensureStateDir(dir);
      await tombstones.write(containerId, reason, now());
      if (!(await checkDir(cdir))) return;
      for (const name of await readdir(cdir)) {
        if (name.endsWith(".json") || name.endsWith(".tmp")) await removeFile(join(cdir, name));
      }
      // Files set aside as .corrupt stay for an operator (and keep the directory).
      await rmdir(cdir).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST" && err.code !== "ENOENT") throw err;
      });
    },
    async removeAttachment(containerId, ifName) {
      const cdir = containerDir(containerId);
      if (await checkDir(cdir)) await removeFile(join(cdir, `${segment(ifName, "interface name")}.json`));
    },
    async quarantine(path) {
      // rename moves the entry itself: a link is moved, never followed.
      await rename(path, `${path}.corrupt`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
    },
    async purgeContainer(containerId) {
      const cdir = containerDir(containerId);
      if (await checkDir(cdir)) await rm(cdir, { recursive: true, force: true });
      await tombstones.clear(containerId);
    },
    async listContainers() {
      return listOwnEntries(dir, (st) => st.isDirectory());
    },
    listTombstones: () => tombstones.list(),
    async listInterrupted() {
      if (!(await checkDir(locksDir))) return [];
      return listOwnEntries(locksDir, (st) => st.isFile());
    },
  };
  // A file system error (full, read-only, out of inodes) is the operator's to fix: said in
  // words, naming the path, as an I/O failure (code 5), never a bare errno with code 999.
  const io =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (err) {
        throw stateFailure(err, dir);
      }
    };
  return {
    dir,
    lockContainer: io(store.lockContainer),
    tryLockContainer: io(store.tryLockContainer),
    saveAttachment: io(store.saveAttachment),
    loadContainer: io(store.loadContainer),
    forgetContainer: io(store.forgetContainer),
    removeAttachment: io(store.removeAttachment),
    quarantine: io(store.quarantine),
    purgeContainer: io(store.purgeContainer),
    listContainers: io(store.listContainers),
    listInterrupted: io(store.listInterrupted),
    listTombstones: io(store.listTombstones),
  };
}

/** Names in `dir` that could be container IDs, of entries of ours that `keep` accepts. */
async function listOwnEntries(
  dir: string,
  keep: (st: Awaited<ReturnType<typeof lstat>>) => boolean,
): Promise<readonly string[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  const out: string[] = [];
  for (const n of names) {
    // Dot-names (.tombstones, .locks) can never be container IDs.
    if (!SAFE_SEGMENT.test(n)) continue;
    const st = await lstat(join(dir, n)).catch(() => undefined);
    if (st && keep(st) && st.uid === OWNER_UID) out.push(n);
  }
  return out.sort();
}

type RecordRead = { ok: true; value: AttachmentRecord } | { ok: false; reason: string };

async function readRecord(path: string): Promise<RecordRead> {
  const read = await readStateFile(path, MAX_RECORD_BYTES);
  if (!read.ok) return read;
  let value: unknown;
  try {
    value = JSON.parse(read.text);
  } catch (err) {
    // The parser's message quotes the text: only the position may be repeated (the file could be
    // anything, and the reason reaches the CNI error on stdout).
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    return { ok: false, reason: `not JSON${at ? ` (at byte ${at})` : ""}` };
  }
  const parsed = AttachmentRecordSchema.safeParse(value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, reason: z.prettifyError(parsed.error) };
}
