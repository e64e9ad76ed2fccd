// SIGKILL of plexus (what a runtime's deadline does) at each step of ADD and DEL: before, during
// and after each delegate. Each kill is followed by the runtime's DEL and a second DEL (empty
// CNI_NETNS, as containerd repeats it); then the paused delegates are let go, and nothing may
// be left: a delegate that outlived the killed command must have been stopped by the DEL before
// it could add anything. In daemon mode the same with the daemon killed -9 (the DELs then go
// through the shim's thin fallback, or to a restarted daemon), and with the shim killed (the
// daemon sees its caller go and cancels the call).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../support/root.js";
import type { TestPod } from "../support/plexus-node.js";
import { errorOf, type RunningPlexus } from "../support/plexus.js";
import { startFaultNode, type FaultNode } from "./fault-node.js";

// <command>-<ifname>-<plugin>-<before|after>: "during" is the IPAM plugin, which runs while its
// main plugin waits for it. DEL runs the cluster list in reverse (portmap, then bridge).
const ADD_STEPS = [
  ["before the cluster network", "ADD-eth0-bridge-before"],
  ["during the cluster network (its IPAM)", "ADD-eth0-host-local-before"],
  ["after the cluster network's plugins, before plexus read the result", "ADD-eth0-portmap-after"],
  ["before the secondary", "ADD-net1-macvlan-before"],
  ["during the secondary (its IPAM)", "ADD-net1-host-local-before"],
  ["after the secondary, before plexus read the result", "ADD-net1-macvlan-after"],
] as const;
const DEL_STEPS = [
  ["before the secondary", "DEL-net1-macvlan-before"],
  ["during the secondary (its IPAM)", "DEL-net1-host-local-before"],
  ["after the secondary", "DEL-net1-macvlan-after"],
  ["before the cluster network", "DEL-eth0-portmap-before"],
  ["during the cluster network (its IPAM)", "DEL-eth0-host-local-before"],
  ["after the cluster network", "DEL-eth0-bridge-after"],
] as const;

describe.skipIf(!isRoot)("thin mode: SIGKILL of plexus at each step", () => {
  let f: FaultNode;

  beforeAll(async () => {
    f = await startFaultNode("kill");
  });
  afterAll(async () => {
    await f?.p.releaseAll();
    await f?.cleanup();
  });

  /** Starts `command`, waits until it stops at `gate`, kills it with SIGKILL. */
  async function killAt(command: string, pod: TestPod, gate: string): Promise<void> {
    await f.p.arm(gate);
    const run = f.start(command, pod);
    let ended = false;
    void run.done.then(() => (ended = true));
    await f.p.held(gate, () => !ended);
    run.kill("SIGKILL");
    expect((await run.done).code).not.toBe(0);
  }

  /** The runtime's DEL and its repeat, then the paused delegates are let go. */
  async function delTwiceThenRelease(pod: TestPod): Promise<void> {
    const del = await f.call("DEL", pod);
    expect(del.code, del.stdout).toBe(0);
    const again = await f.call("DEL", pod, { netns: "" });
    expect(again.code, again.stdout).toBe(0);
    await f.p.releaseAll();
    expect(await f.p.settled()).toEqual([]);
  }

  it.each(ADD_STEPS)("ADD killed %s: the DELs that follow leave nothing", async (_, gate) => {
    const pod = await f.pod("add");
    await killAt("ADD", pod, gate);
    await delTwiceThenRelease(pod);
    await f.expectNothingLeft(pod);
  });

  it.each(DEL_STEPS)("DEL killed %s: the DELs that follow leave nothing", async (_, gate) => {
    const pod = await f.pod("del");
    const add = await f.call("ADD", pod);
    expect(add.code, add.stdout).toBe(0);
    await killAt("DEL", pod, gate);
    await delTwiceThenRelease(pod);
    await f.expectNothingLeft(pod);
  });
});

describe.skipIf(!isRoot)("daemon mode: kill -9 of the daemon, or SIGKILL of the shim, at each step", () => {
  let f: FaultNode;

  beforeAll(async () => {
    f = await startFaultNode("killd", "daemon");
  });
  afterAll(async () => {
    await f?.p.releaseAll();
    await f?.cleanup();
  });

  /** Starts `command` through the shim and waits until it stops at `gate`. */
  async function stopAt(command: string, pod: TestPod, gate: string): Promise<RunningPlexus> {
    await f.p.arm(gate);
    const run = f.start(command, pod);
    let ended = false;
    void run.done.then(() => (ended = true));
    await f.p.held(gate, () => !ended);
    return run;
  }

  async function delTwiceThenRelease(pod: TestPod, thin: boolean): Promise<void> {
    const del = await f.call("DEL", pod, { thin });
    expect(del.code, del.stdout).toBe(0);
    const again = await f.call("DEL", pod, { thin, netns: "" });
    expect(again.code, again.stdout).toBe(0);
    await f.p.releaseAll();
    expect(await f.p.settled()).toEqual([]);
  }

  it.each(ADD_STEPS)(
    "daemon killed -9 during ADD %s: the DELs through the thin fallback leave nothing",
    async (_, gate) => {
      const pod = await f.pod("dadd");
      const run = await stopAt("ADD", pod, gate);
      await f.killDaemon();
      expect(errorOf(await run.done).code).toBe(11);
      await delTwiceThenRelease(pod, true);
      await f.expectNothingLeft(pod);
      await f.restartDaemon();
    },
  );

  it.each(DEL_STEPS)("daemon killed -9 during DEL %s: the restarted daemon's DELs leave nothing", async (_, gate) => {
    const pod = await f.pod("ddel");
    const add = await f.call("ADD", pod);
    expect(add.code, add.stdout).toBe(0);
    const run = await stopAt("DEL", pod, gate);
    await f.killDaemon();
    expect((await run.done).code).not.toBe(0);
    await f.restartDaemon();
    await delTwiceThenRelease(pod, false);
    await f.expectNothingLeft(pod);
  });

  it.each(ADD_STEPS)("shim killed during ADD %s: the DELs that follow leave nothing", async (_, gate) => {
    const pod = await f.pod("sadd");
    const run = await stopAt("ADD", pod, gate);
    run.kill("SIGKILL");
    await run.done;
    await delTwiceThenRelease(pod, false);
    await f.expectNothingLeft(pod);
  });

  it.each(DEL_STEPS)("shim killed during DEL %s: the DELs that follow leave nothing", async (_, gate) => {
    const pod = await f.pod("sdel");
    const add = await f.call("ADD", pod);
    expect(add.code, add.stdout).toBe(0);
    const run = await stopAt("DEL", pod, gate);
    run.kill("SIGKILL");
    await run.done;
    await delTwiceThenRelease(pod, false);
    await f.expectNothingLeft(pod);
  });
});
