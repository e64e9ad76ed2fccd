// runc (cgroupfs driver) creates a cgroup for each sandbox under the cgroup_parent the harness
// gives every pod, in every mounted hierarchy (cgroup v1 controllers, named hierarchies, the
// v2 tree). When the node's PID namespace is torn down runc never gets to delete them, so the
// harness removes the whole per-run subtree itself: children first, as rmdir requires.
import { readFile, readdir, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Mount points of cgroup and cgroup2 filesystems, from /proc/self/mountinfo. */
export async function cgroupMountPoints(): Promise<string[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
  const points: string[] = [];
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ");
    if (left === undefined || right === undefined) continue;
    const fsType = right.split(" ")[0];
    const mountPoint = left.split(" ")[4];
    if ((fsType === "cgroup" || fsType === "cgroup2") && mountPoint !== undefined)
      points.push(unescapeMountPath(mountPoint));
  }
  return points;
}

/**
 * Removes `relative` (e.g. "/pxe2e-ab12cd") and every cgroup below it in every hierarchy.
 * Returns the paths that could not be removed (still populated, or busy past the retries).
 */
export async function removeCgroupTree(relative: string): Promise<string[]> {
  if (!relative.startsWith("/") || relative === "/" || relative.includes("..")) {
    throw new Error(`refusing to remove cgroup ${JSON.stringify(relative)}`);
  }
  const leftovers: string[] = [];
  for (const mountPoint of await cgroupMountPoints()) {
    leftovers.push(...(await removeDeep(join(mountPoint, relative))));
  }
  return leftovers;
}

async function removeDeep(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isCode(err, "ENOENT")) return [];
    throw err;
  }
  const leftovers: string[] = [];
  for (const e of entries) if (e.isDirectory()) leftovers.push(...(await removeDeep(join(dir, e.name))));
  // A cgroup whose last task just died can stay busy for a moment.
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(dir);
      return leftovers;
    } catch (err) {
      if (isCode(err, "ENOENT")) return leftovers;
      if (!isCode(err, "EBUSY") || attempt >= 40) return [...leftovers, dir];
      await sleep(50);
    }
  }
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function isCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && "code" in err && err.code === code;
}
