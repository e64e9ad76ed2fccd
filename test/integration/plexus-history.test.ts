// No command's cost grows with the node's history: an ADD and a DEL through dist/plexus make
// the same file-system calls under the state directory whether 1 or 3,000 containers were
// deleted before them, and what deleted containers leave behind is bounded. Counted with
// strace (calls, not time: a timed assertion would flake on a loaded machine; `npm run bench`
// measures the time).

import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCacheStore } from "../../src/cache/store.js";
import { isRoot } from "../support/root.js";
import {
  NETWORKS,
  recorderNad,
  netResult,
  startPlexusHarness,
  type HarnessPod,
  type PlexusHarness,
} from "./plexus-harness.js";

const HISTORY = 3_000;

function hasStrace(): boolean {
  try {
    execFileSync("strace", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!isRoot)("the cost of a command does not depend on the node's history", () => {
  let h: PlexusHarness;
  let seq = 0;

  beforeAll(async () => {
    if (!hasStrace()) throw new Error("strace is missing: .ci/e2e-prereqs.sh installs it");
    h = await startPlexusHarness();
    h.createNad("hist", "net-a", recorderNad({ result: netResult("net1", "198.18.1.2/24") }));
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  /** The file-system calls one command makes on paths under the state directory. */
  async function stateDirCalls(command: string, pod: HarnessPod): Promise<string[]> {
    const trace = join(h.dir, `trace-${++seq}.txt`);
    const out = await h.call(command, pod, {
      wrap: ["strace", "-f", "-qq", "-y", "-e", "trace=%file,getdents64", "-o", trace],
    });
    expect(out.code, out.stdout).toBe(0);
    const lines = (await readFile(trace, "utf8")).split("\n");
    return lines.filter((l) => l.includes(h.stateDir));
  }

  async function cycle(name: string): Promise<{ add: string[]; del: string[] }> {
    const pod = h.createPod("hist", name, { [NETWORKS]: "net-a" });
    const add = await stateDirCalls("ADD", pod);
    const del = await stateDirCalls("DEL", pod);
    return { add, del };
  }

  it(`ADD and DEL make as many state-directory calls after ${HISTORY} deleted containers as after 1`, async () => {
    await cycle("first");
    const before = await cycle("before");
    // The history, written by the same cache code a DEL uses.
    const store = createCacheStore(h.stateDir);
    for (let i = 0; i < HISTORY; i++)
      await store.forgetContainer(`history${i.toString(16).padStart(8, "0")}`, "deleted");
    const after = await cycle("after");
    // A handful of calls may differ (a tombstone bucket that did or did not exist yet); one per
    // deleted container would be thousands.
    expect(Math.abs(after.add.length - before.add.length), after.add.join("\n")).toBeLessThanOrEqual(8);
    expect(Math.abs(after.del.length - before.del.length), after.del.join("\n")).toBeLessThanOrEqual(8);
  });
});
