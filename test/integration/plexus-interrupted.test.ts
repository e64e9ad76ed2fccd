// An ADD whose delegate was killed, by its deadline or because the call itself was cancelled
// (the runtime's SIGTERM), must not forget that delegate's attachment: the plugin cleaned up
// nothing, so its record stays until a DEL of it succeeds (docs/state.md#attachment-records).
// And a command whose predecessor died holding the container's lock stops what that one left
// running before anything else; GC does it for every such container
// (docs/state.md#interrupted-commands). The fault tier kills real plexus processes; here the
// dead holder's record and its leftover process are made by hand, to check DEL and GC alike.

import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockOwner } from "../../src/cache/container-lock.js";
import { fakePluginDir } from "../support/cni-plugins.js";
import { processesWithEnv } from "../support/pausing-plugins.js";
import { errorOf } from "../support/plexus.js";
import { containerEntries } from "../support/state-dir.js";
import { callsOf, NETWORKS, startPlexusHarness, type HarnessPod, type PlexusHarness } from "./plexus-harness.js";

describe("an ADD whose delegate was killed", () => {
  let h: PlexusHarness;
  let binDir: string;
  let seq = 0;

  beforeAll(async () => {
    h = await startPlexusHarness();
    // "slow" hangs (the sleeper fixture) until a test makes it a well-behaved recorder.
    binDir = join(h.dir, "slow-bin");
    await mkdir(binDir);
    await symlink(join(fakePluginDir, "recorder"), join(binDir, "recorder"));
    h.createNad("int", "slow", { cniVersion: "1.0.0", type: "slow" });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  async function slowIs(fixture: "sleeper" | "recorder"): Promise<void> {
    await rm(join(binDir, "slow"), { force: true });
    await symlink(join(fakePluginDir, fixture), join(binDir, "slow"));
  }

  it("by its deadline: the rollback's DEL of it fails too, so its record stays for the runtime's DEL", async () => {
    await slowIs("sleeper");
    const pod = h.createPod("int", `deadline-${++seq}`, { [NETWORKS]: "slow" });
    const conf = h.conf({ binDir, delegateTimeoutSeconds: 1 });
    const add = await h.call("ADD", pod, { conf, env: { SLEEPER_SECONDS: "30" } });
    expect(errorOf(add).code).toBe(103);
    expect(errorOf(add).msg).toMatch(/network "int\/slow" \(net1\).*timed out after 1000 ms; the plugin was killed/);
    // eth0 was undone; net1's plugin never finished anything, nor its DEL.
    expect(await containerEntries(h.stateDir, pod.containerId)).toEqual(["net1.json"]);
    await slowIs("recorder");
    await h.resetCalls();
    const del = await h.call("DEL", pod, { conf });
    expect([del.code, del.stdout]).toEqual([0, ""]);
    expect(callsOf(h.calls(), "DEL").map((c) => c.env["CNI_IFNAME"])).toEqual(["net1"]);
    expect(await containerEntries(h.stateDir, pod.containerId)).toEqual(["tombstone"]);
  });

  it("by the runtime's SIGTERM: nothing is undone in a hurry, every record stays, the runtime's DEL tears all down", async () => {
    await slowIs("sleeper");
    const pod = h.createPod("int", `sigterm-${++seq}`, { [NETWORKS]: "slow" });
    const conf = h.conf({ binDir });
    const pids = join(h.dir, `sleeper-${seq}.pids`);
    const run = h.start("ADD", pod, { conf, env: { SLEEPER_SECONDS: "30", SLEEPER_PIDS: pids } });
    while (!(await readFile(pids, "utf8").catch(() => ""))) await sleep(20);
    run.kill("SIGTERM");
    const add = await run.done;
    expect(errorOf(add).code).toBe(103);
    expect(errorOf(add).msg).toMatch(/plexus received SIGTERM/);
    expect(await containerEntries(h.stateDir, pod.containerId)).toEqual(["eth0.json", "net1.json"]);
    await slowIs("recorder");
    await h.resetCalls();
    const del = await h.call("DEL", pod, { conf });
    expect([del.code, del.stdout]).toEqual([0, ""]);
    expect(callsOf(h.calls(), "DEL").map((c) => c.env["CNI_IFNAME"])).toEqual(["net1", "eth0"]);
    expect(await containerEntries(h.stateDir, pod.containerId)).toEqual(["tombstone"]);
  });
});

describe("a container whose last command died holding its lock", () => {
  let h: PlexusHarness;
  const leftovers: ChildProcess[] = [];

  beforeAll(async () => {
    h = await startPlexusHarness();
    h.createNad("dead", "net-a", { cniVersion: "1.1.0", type: "recorder" });
  });
  afterAll(async () => {
    for (const c of leftovers) c.kill("SIGKILL");
    await h?.cleanup();
  });

  /**
   * What a plexus killed in the middle of a command leaves: the lock's record naming a process
   * that is gone, and a delegate still running with the lock's owner token.
   */
  async function dieHolding(pod: HarnessPod): Promise<string> {
    const owner = lockOwner(`${(await stat(h.stateDir)).dev}:${(await stat(h.stateDir)).ino}`, pod.containerId);
    const gone = spawn("true");
    await new Promise((r) => gone.on("exit", r));
    await mkdir(join(h.stateDir, ".locks"), { recursive: true, mode: 0o700 });
    await writeFile(
      join(h.stateDir, ".locks", pod.containerId),
      JSON.stringify({ pid: gone.pid, startTime: "1", since: new Date().toISOString() }),
      { mode: 0o600 },
    );
    const delegate = spawn("sleep", ["60"], { env: { PLEXUS_OWNER: owner }, detached: true, stdio: "ignore" });
    leftovers.push(delegate);
    // 'spawn' comes once the child has exec'd, so its environment is sleep's own.
    await once(delegate, "spawn");
    expect(await processesWithEnv(`PLEXUS_OWNER=${owner}`)).toEqual([delegate.pid]);
    return owner;
  }

  it("the runtime's DEL stops the delegate it left running, then tears down", async () => {
    const pod = h.createPod("dead", "del-0", { [NETWORKS]: "net-a" });
    expect((await h.call("ADD", pod)).code).toBe(0);
    const owner = await dieHolding(pod);
    const del = await h.call("DEL", pod, { conf: h.conf({ logLevel: "warn" }) });
    expect([del.code, del.stdout]).toEqual([0, ""]);
    expect(del.stderr).toMatch(/killed while it ran; stopped what it left running/);
    expect(await processesWithEnv(`PLEXUS_OWNER=${owner}`)).toEqual([]);
    expect(await containerEntries(h.stateDir, pod.containerId)).toEqual(["tombstone"]);
  });

  it("GC stops what was left running for a valid container, and forgets a stale one", async () => {
    const valid = h.createPod("dead", "gc-valid", { [NETWORKS]: "net-a" });
    const stale = h.createPod("dead", "gc-stale", { [NETWORKS]: "net-a" });
    for (const p of [valid, stale]) expect((await h.call("ADD", p)).code).toBe(0);
    const owners = [await dieHolding(valid), await dieHolding(stale)];
    const gc = await h.call("GC", undefined, {
      conf: h.conf({
        cniVersion: "1.1.0",
        "cni.dev/valid-attachments": [{ containerID: valid.containerId, ifname: "eth0" }],
      }),
    });
    expect([gc.code, gc.stdout]).toEqual([0, ""]);
    for (const owner of owners) expect(await processesWithEnv(`PLEXUS_OWNER=${owner}`)).toEqual([]);
    expect(await containerEntries(h.stateDir, valid.containerId)).toEqual(["eth0.json", "net1.json"]);
    expect(await containerEntries(h.stateDir, stale.containerId)).toEqual([]);
  });
});
