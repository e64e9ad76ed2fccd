// Tombstones: what a container leaves after its last DEL or a rolled-back ADD, so that the
// runtime's DELs that follow (containerd repeats DEL, with an empty CNI_NETNS, on every
// StopPodSandbox and RemovePodSandbox) are answered at once, without re-resolving the pod from
// the API: a repeated DEL must succeed even when the API is down, the pod is gone, or a
// delegate's own DEL fails once its resources are gone (docs/state.md "Tombstones").
//
// They are kept in a bounded space, whatever the churn: <root>/<bucket>/<containerId>.<reason>,
// empty files (no data blocks) whose modification time is the time of the DEL, spread over
// `buckets` directories by a hash of the container ID. Writing one prunes its own bucket to
// `perBucket` entries, oldest first; finding one is four lstat calls. So no command's cost
// depends on how many containers the node has seen, and the total is at most buckets×perBucket
// files (16,384 by default: at least the last few thousand deletions on the node, in practice
// about the last 16,000).

import { createHash } from "node:crypto";
import { lstat, readdir } from "node:fs/promises";
import type { Stats } from "node:fs";
import { join } from "node:path";
import type { Tombstone } from "./record.js";
import { checkDir, ensureDir, OWNER_UID, removeFile, touchFile } from "./state-files.js";

export interface TombstoneLimits {
  /** Directories the tombstones are spread over (at most 65,536). */
  readonly buckets: number;
  /** Tombstones kept per directory: writing one more drops the oldest. */
  readonly perBucket: number;
}

export const DEFAULT_TOMBSTONE_LIMITS: TombstoneLimits = { buckets: 256, perBucket: 64 };

const REASONS = ["deleted", "rolled-back"] as const satisfies readonly Tombstone["reason"][];

export interface Tombstones {
  find(containerId: string): Promise<Tombstone | undefined>;
  write(containerId: string, reason: Tombstone["reason"], at: Date): Promise<void>;
  clear(containerId: string): Promise<void>;
  /** Every tombstone (at most buckets x perBucket): for `plexus inspect`, never a CNI command. */
  list(): Promise<Tombstone[]>;
}

export function createTombstones(root: string, limits: TombstoneLimits = DEFAULT_TOMBSTONE_LIMITS): Tombstones {
  const width = Math.max(2, (limits.buckets - 1).toString(16).length);
  const bucketOf = (id: string) => {
    const n = createHash("sha256").update(id).digest().readUInt32BE(0) % limits.buckets;
    return join(root, n.toString(16).padStart(width, "0"));
  };
  /** The bucket directory when it and the root are directories of ours; undefined when absent. */
  const existingBucket = async (id: string): Promise<string | undefined> => {
    if (!(await checkDir(root))) return undefined;
    const bucket = bucketOf(id);
    return (await checkDir(bucket)) ? bucket : undefined;
  };
  return {
    async find(containerId) {
      const bucket = await existingBucket(containerId);
      if (!bucket) return undefined;
      let found: Tombstone | undefined;
      for (const reason of REASONS) {
        const st = await lstatOrUndefined(join(bucket, `${containerId}.${reason}`));
        // Only a plain file of ours is a tombstone; anything else is ignored and pruned in time.
        if (!st?.isFile() || st.uid !== OWNER_UID) continue;
        const at = st.mtime.toISOString();
        if (!found || at > found.at) found = { containerId, reason, at };
      }
      return found;
    },
    async write(containerId, reason, at) {
      await ensureDir(root);
      const bucket = bucketOf(containerId);
      await ensureDir(bucket);
      for (const other of REASONS) if (other !== reason) await removeFile(join(bucket, `${containerId}.${other}`));
      await touchFile(join(bucket, `${containerId}.${reason}`), at);
      await prune(bucket, limits.perBucket);
    },
    async clear(containerId) {
      const bucket = await existingBucket(containerId);
      if (!bucket) return;
      for (const reason of REASONS) await removeFile(join(bucket, `${containerId}.${reason}`));
    },
    async list() {
      if (!(await checkDir(root))) return [];
      const out: Tombstone[] = [];
      for (const b of await readdir(root)) {
        const bucket = join(root, b);
        if (!(await checkDir(bucket).catch(() => false))) continue;
        for (const name of await readdir(bucket)) {
          const m = /^(.+)\.(deleted|rolled-back)$/.exec(name);
          const st = m ? await lstatOrUndefined(join(bucket, name)) : undefined;
          if (m && st?.isFile() && st.uid === OWNER_UID)
            out.push({ containerId: m[1] as string, reason: m[2] as Tombstone["reason"], at: st.mtime.toISOString() });
        }
      }
      return out.sort((a, b) => a.at.localeCompare(b.at));
    },
  };
}

/** Drops the oldest entries of one bucket beyond `keep`: bounded work (the bucket is small). */
async function prune(bucket: string, keep: number): Promise<void> {
  const names = await readdir(bucket);
  if (names.length <= keep) return;
  const entries: { name: string; mtimeMs: number }[] = [];
  for (const name of names) {
    const st = await lstatOrUndefined(join(bucket, name));
    if (st) entries.push({ name, mtimeMs: st.mtimeMs });
  }
  entries.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  // Two commands pruning the same bucket at once may both remove the same entries: harmless. An
  // entry that cannot be removed (not a file) is left for an operator; it never fails the DEL.
  for (const e of entries.slice(0, Math.max(0, entries.length - keep)))
    await removeFile(join(bucket, e.name)).catch(() => undefined);
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
