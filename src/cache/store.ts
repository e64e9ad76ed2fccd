// The only writer under Plexus's state directory. Layout:
//   <cniDir>/<containerId>/<ifName>.json   one AttachmentRecord per attachment (0600)
//   <cniDir>/<containerId>/tombstone.json  after DEL or rollback (repeated DELs are no-ops)
// Directories are 0700. Every write is atomic: temp file in the same directory, then rename.
// A file that cannot be read is reported, never silently skipped (Multus #1087).

import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { AttachmentRecordSchema, TombstoneSchema, type AttachmentRecord, type Tombstone } from "./record.js";

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
  saveAttachment(record: AttachmentRecord): Promise<void>;
  /** Records sorted by index; unreadable files listed in `corrupt`. */
  loadContainer(containerId: string): Promise<ContainerState>;
  /** Removes the container's attachment files and leaves a tombstone. */
  forgetContainer(containerId: string, reason: Tombstone["reason"]): Promise<void>;
  removeAttachment(containerId: string, ifName: string): Promise<void>;
  /** Moves an unreadable file aside (`.corrupt`), keeping it for an operator to read. */
  quarantine(path: string): Promise<void>;
  /** Drops everything about a container, tombstone included (GC). */
  purgeContainer(containerId: string): Promise<void>;
  listContainers(): Promise<readonly string[]>;
  /**
   * Drops tombstones older than `maxAgeMs` (at most `limit` of them): runtimes repeat a DEL within
   * minutes, and a DEL that finds nothing at all re-resolves, which is harmless for a gone pod.
   * Without this, a node that never receives GC (containerd 1.x) keeps one directory per pod.
   */
  pruneTombstones(maxAgeMs: number, limit: number): Promise<number>;
}

const TOMBSTONE = "tombstone.json";
const SAFE_SEGMENT = /^[a-zA-Z0-9][a-zA-Z0-9_.\-@]*$/;

function segment(v: string, what: string): string {
  // Container IDs and interface names are validated upstream; this guards the filesystem anyway.
  if (!SAFE_SEGMENT.test(v) || v.includes(".."))
    throw new Error(`unsafe ${what} for a state file name: ${JSON.stringify(v)}`);
  return v;
}

export function createCacheStore(dir: string, now: () => Date = () => new Date()): CacheStore {
  const containerDir = (id: string) => join(dir, segment(id, "container ID"));

  async function writeAtomic(path: string, data: unknown): Promise<void> {
    const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
    const handle = await open(tmp, "wx", 0o600);
    try {
      await handle.writeFile(JSON.stringify(data, null, 1) + "\n");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  }

  async function ensureDir(path: string): Promise<void> {
    await mkdir(path, { recursive: true, mode: 0o700 });
  }

  return {
    dir,
    async saveAttachment(record) {
      const cdir = containerDir(record.containerId);
      await ensureDir(cdir);
      await rm(join(cdir, TOMBSTONE), { force: true });
      await writeAtomic(
        join(cdir, `${segment(record.ifName, "interface name")}.json`),
        AttachmentRecordSchema.parse(record),
      );
    },
    async loadContainer(containerId) {
      const cdir = containerDir(containerId);
      const names = await readdir(cdir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return [] as string[];
        throw err;
      });
      const attachments: AttachmentRecord[] = [];
      const corrupt: CorruptFile[] = [];
      let tombstone: Tombstone | undefined;
      for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
        const path = join(cdir, name);
        const read = await readJson(path, name === TOMBSTONE ? TombstoneSchema : AttachmentRecordSchema);
        if (!read.ok) corrupt.push({ path, reason: read.reason });
        else if (name === TOMBSTONE) tombstone = read.value as Tombstone;
        else attachments.push(read.value as AttachmentRecord);
      }
      attachments.sort((a, b) => a.index - b.index);
      return { attachments, corrupt, tombstone };
    },
    async forgetContainer(containerId, reason) {
      const cdir = containerDir(containerId);
      await ensureDir(cdir);
      const stone: Tombstone = { kind: "plexus.tombstone", version: 1, containerId, reason, at: now().toISOString() };
      await writeAtomic(join(cdir, TOMBSTONE), stone);
      for (const name of await readdir(cdir)) {
        if (name !== TOMBSTONE && (name.endsWith(".json") || name.endsWith(".tmp")))
          await rm(join(cdir, name), { force: true });
      }
    },
    async removeAttachment(containerId, ifName) {
      await rm(join(containerDir(containerId), `${segment(ifName, "interface name")}.json`), { force: true });
    },
    async quarantine(path) {
      await rename(path, `${path}.corrupt`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
    },
    async purgeContainer(containerId) {
      await rm(containerDir(containerId), { recursive: true, force: true });
    },
    async pruneTombstones(maxAgeMs, limit) {
      let pruned = 0;
      const cutoff = now().getTime() - maxAgeMs;
      for (const id of await this.listContainers()) {
        if (pruned >= limit) break;
        const cdir = containerDir(id);
        const names = await readdir(cdir).catch(() => [] as string[]);
        if (names.length !== 1 || names[0] !== TOMBSTONE) continue;
        const read = await readJson(join(cdir, TOMBSTONE), TombstoneSchema);
        if (read.ok && Date.parse((read.value as Tombstone).at) < cutoff) {
          await rm(cdir, { recursive: true, force: true });
          pruned++;
        }
      }
      return pruned;
    },
    async listContainers() {
      const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return [] as string[];
        throw err;
      });
      const dirs: string[] = [];
      for (const n of names) {
        if (SAFE_SEGMENT.test(n) && (await stat(join(dir, n))).isDirectory()) dirs.push(n);
      }
      return dirs.sort();
    },
  };
}

type ReadResult = { ok: true; value: unknown } | { ok: false; reason: string };

async function readJson(path: string, schema: z.ZodType): Promise<ReadResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, reason: z.prettifyError(parsed.error) };
}
