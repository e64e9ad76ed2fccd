// Commands for one container racing each other. Plexus serializes them per container (a lock
// the kernel releases when its holder dies; in daemon mode the daemon's queue first), so a DEL
// that arrives while ADD is still running waits for it and then tears down everything ADD did.

import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue } from "../support/plexus-daemon.js";
import { MODES } from "../support/plexus-node.js";
import type { RunningPlexus } from "../support/plexus.js";
import { isRoot } from "../support/root.js";
import { startFaultNode, type FaultNode } from "./fault-node.js";

describe.skipIf(!isRoot).each(MODES)("%s mode: ADD, DEL and CHECK of one container racing", (mode) => {
  let f: FaultNode;

  beforeAll(async () => {
    f = await startFaultNode(`race-${mode}`, mode);
  });

  /**
   * True once `del` waits for the container (thin: it logs that it waits for the lock; daemon:
   * the daemon counts it as queued), false if it ended first (it did not wait: the defect).
   */
  async function waitsForContainer(del: RunningPlexus): Promise<boolean> {
    if (mode === "thin") return del.stderrMatches(/waiting for the lock of container/);
    let ended = false;
    void del.done.then(() => (ended = true));
    for (;;) {
      const metrics = (await f.daemon().http("/metrics")).body;
      if ((metricValue(metrics, "plexus_cni_requests_queued") ?? 0) >= 1) return true;
      if (ended) return false;
      await sleep(20);
    }
  }
  afterAll(async () => {
    await f?.p.releaseAll();
    await f?.cleanup();
  });

  it.each(["ADD-eth0-host-local-before", "ADD-net1-macvlan-before", "ADD-net1-macvlan-after"])(
    "a DEL sent while ADD is stopped at %s waits for it, then leaves nothing",
    async (gate) => {
      const pod = await f.pod("wait");
      await f.p.arm(gate);
      const add = f.start("ADD", pod);
      let addEnded = false;
      void add.done.then(() => (addEnded = true));
      await f.p.held(gate, () => !addEnded);
      const del = f.start("DEL", pod);
      // Either DEL says it waits for the container's lock, or it ends without waiting (the defect).
      const waited = await waitsForContainer(del);
      await f.p.releaseAll();
      const [a, d] = await Promise.all([add.done, del.done]);
      expect(a.code, a.stdout).toBe(0);
      expect(d.code, d.stdout).toBe(0);
      expect(waited, "DEL waited for the running ADD").toBe(true);
      expect(await f.p.settled()).toEqual([]);
      await f.expectNothingLeft(pod);
    },
  );

  // Offsets from the start of ADD: DEL and CHECK land before, during and after it. Whatever the
  // order the lock gives them, the runtime's last DEL leaves nothing.
  it.each([0, 15, 40, 80, 150, 300])(
    "ADD, then CHECK and DEL within %i ms, then the last DEL: nothing left",
    async (ms) => {
      const pod = await f.pod(`off${ms}`);
      const add = f.start("ADD", pod);
      await sleep(ms / 2);
      const check = f.start("CHECK", pod);
      await sleep(ms / 2);
      const del = f.start("DEL", pod);
      const outcomes = await Promise.all([add.done, check.done, del.done]);
      for (const o of outcomes) expect(o.stdout).not.toMatch(/\n./); // at most one JSON document
      const [a, , d] = outcomes;
      expect(a?.code, a?.stdout).toBe(0);
      expect(d?.code, d?.stdout).toBe(0);
      // The runtime's last DEL: with the netns path, since a DEL the lock ordered before ADD left
      // the pod networked (a DEL without it cannot reach links in the pod; they go with the netns).
      const last = await f.call("DEL", pod);
      expect(last.code, last.stdout).toBe(0);
      expect(await f.p.settled()).toEqual([]);
      await f.expectNothingLeft(pod);
    },
  );
});
