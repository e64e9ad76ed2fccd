// Bookkeeping that lets a harness run clean up after a run that was killed before its own
// cleanup ran (SIGKILL, a crashed worker): every run dir holds an owner.json; a run whose
// owner process is gone is stale and is swept by the next start. Processes, mounts and
// network namespaces need no sweeping: they die with the node's PID namespace (see
// containerd.ts). What remains is files: the run dir, the per-run cgroups, and the host
// mount-point dirs the harness had to create.
import { mkdir, readFile, readdir, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { isCode, removeCgroupTree } from "./cgroups.js";

export const RUN_DIR_PREFIX = "pxe2e-";

const owner = z.object({ pid: z.number(), startTime: z.string(), cgroupParent: z.string() });
type Owner = z.infer<typeof owner>;

const markerFile = () => join(tmpdir(), "plexus-e2e-host-mountpoints.json");

export async function writeOwner(runDir: string, cgroupParent: string): Promise<void> {
  const record: Owner = { pid: process.pid, startTime: await processStartTime(process.pid), cgroupParent };
  await writeFile(join(runDir, "owner.json"), JSON.stringify(record));
}

/** Removes the run dirs (and their cgroups) of harness runs whose owner process is gone. */
export async function sweepStaleRuns(): Promise<string[]> {
  const swept: string[] = [];
  for (const { dir, record } of await listRuns()) {
    if (record !== undefined && (await isAlive(record))) continue;
    if (record !== undefined) await removeCgroupTree(record.cgroupParent);
    await rm(dir, { recursive: true, force: true });
    swept.push(dir);
  }
  return swept;
}

/** Creates `dir` if missing and remembers that a harness created it. */
export async function ensureHostMountPoint(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    if (isCode(err, "EEXIST")) return;
    throw err;
  }
  const created = await readMarker();
  if (created.includes(dir)) return;
  // Atomic replace: a reader never sees half a list.
  const partial = `${markerFile()}.${process.pid}`;
  await writeFile(partial, JSON.stringify([...created, dir]));
  await rename(partial, markerFile());
}

/**
 * Removes the host mount-point dirs harness runs created, once no live run other than
 * `except` (the run being stopped) remains: another run's mount namespace may sit on them.
 */
export async function releaseHostMountPoints(except: string): Promise<void> {
  for (const { dir, record } of await listRuns()) {
    if (dir !== except && record !== undefined && (await isAlive(record))) return;
  }
  for (const dir of await readMarker()) {
    try {
      await rmdir(dir);
    } catch (err) {
      // Not empty: someone else uses it now. Leave it.
      if (!isCode(err, "ENOENT") && !isCode(err, "ENOTEMPTY") && !isCode(err, "EBUSY")) throw err;
    }
  }
  await rm(markerFile(), { force: true });
}

async function listRuns(): Promise<{ dir: string; record: Owner | undefined }[]> {
  const runs = [];
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let record: Owner | undefined;
    try {
      record = owner.parse(JSON.parse(await readFile(join(dir, "owner.json"), "utf8")));
    } catch {
      record = undefined; // being created right now, or broken: only a dead owner's dir is swept
      if (!(await olderThan(dir, 10 * 60_000))) continue;
    }
    runs.push({ dir, record });
  }
  return runs;
}

/** Host dirs a harness run created as mount points and has not removed yet. */
export async function harnessCreatedMountPoints(): Promise<string[]> {
  return readMarker();
}

async function readMarker(): Promise<string[]> {
  try {
    return z.array(z.string()).parse(JSON.parse(await readFile(markerFile(), "utf8")));
  } catch {
    return [];
  }
}

async function isAlive(record: Owner): Promise<boolean> {
  try {
    return (await processStartTime(record.pid)) === record.startTime;
  } catch {
    return false;
  }
}

/** Field 22 of /proc/PID/stat: tells a live owner from a recycled pid. */
async function processStartTime(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = fields[19];
  if (start === undefined) throw new Error(`cannot parse /proc/${pid}/stat`);
  return start;
}

async function olderThan(dir: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(dir)).mtimeMs > ms;
  } catch {
    return false;
  }
}
