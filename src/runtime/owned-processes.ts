// Finding and stopping the processes a killed Plexus left running. Delegates run in process
// groups of their own (spawn-plugin.ts), so when the runtime SIGKILLs plexus in the middle of a
// command they go on, and may add a link or an address after the runtime's DEL already ran,
// where no later DEL would find it (docs/state.md "Interrupted commands").
//
// Every delegate started under a container's lock carries the lock's owner token in its
// environment (PLEXUS_OWNER), and so does everything it starts (an IPAM plugin, a script's
// children), whatever process group or session they move to. The next command for the
// container, told by the lock that its previous holder died holding it, finds them by that
// token in /proc/<pid>/environ, SIGKILLs them and waits until they are gone, before it does
// anything itself. A pid is killed only if its start time (/proc/<pid>/stat field 22) is still
// the one seen in the scan, so a pid reused meanwhile is left alone.

import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { CniError, ErrorCode } from "../cni/error.js";

/** The environment variable that marks a delegate with the owner token of its command. */
export const OWNER_ENV = "PLEXUS_OWNER";

/** How long stopping may take before the command gives up (code 11: the runtime will retry). */
const STOP_DEADLINE_MS = 10_000;
const POLL_MS = 20;

interface OwnedProcess {
  readonly pid: number;
  readonly startTime: string;
}

/** SIGKILLs every process marked with `owner` and waits until none is left; returns how many were killed. */
export async function stopOwnedProcesses(owner: string, signal: AbortSignal, procDir = "/proc"): Promise<number> {
  const entry = `${OWNER_ENV}=${owner}`;
  const deadline = Date.now() + STOP_DEADLINE_MS;
  const killed = new Set<number>();
  for (;;) {
    const found = await findOwned(procDir, entry);
    if (found.length === 0) return killed.size;
    if (signal.aborted) {
      throw new CniError(
        ErrorCode.Timeout,
        `cancelled while stopping processes ${pidList(found)} of an interrupted command`,
      );
    }
    if (Date.now() > deadline) {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `processes ${pidList(found)} of an interrupted command for this container did not end after SIGKILL`,
      );
    }
    for (const p of found) {
      if ((await processState(procDir, p.pid))?.startTime !== p.startTime) continue;
      try {
        process.kill(p.pid, "SIGKILL");
        killed.add(p.pid);
      } catch {
        // Ended meanwhile.
      }
    }
    await sleep(POLL_MS);
  }
}

/** Live processes whose environment holds `entry` exactly (zombies have ended: they do nothing more). */
async function findOwned(procDir: string, entry: string): Promise<OwnedProcess[]> {
  const found: OwnedProcess[] = [];
  for (const name of await readdir(procDir)) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let environ: Buffer;
    try {
      environ = await readFile(`${procDir}/${name}/environ`);
    } catch {
      continue; // ended, or a kernel thread
    }
    if (!environ.toString("latin1").split("\0").includes(entry)) continue;
    const state = await processState(procDir, Number(name));
    if (state && !state.ended) found.push({ pid: Number(name), startTime: state.startTime });
  }
  return found;
}

/** State and start time from /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
async function processState(procDir: string, pid: number): Promise<{ startTime: string; ended: boolean } | undefined> {
  try {
    const stat = await readFile(`${procDir}/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const state = fields[0] ?? "";
    return { startTime: fields[19] ?? "", ended: state === "Z" || state === "X" };
  } catch {
    return undefined;
  }
}

function pidList(found: readonly OwnedProcess[]): string {
  return found.map((p) => p.pid).join(", ");
}
