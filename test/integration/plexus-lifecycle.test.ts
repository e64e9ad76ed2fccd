// ADD and DEL through dist/plexus when the world is not as expected: the pod is not in the API,
// it was recreated (another UID), the cluster network is not ready yet, the cache is corrupt or
// gone, and both cache and pod are gone (docs/architecture.md#del;
// docs/compatibility.md#state-and-del).

import { existsSync } from "node:fs";
import { mkdir, readdir, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakePluginDir } from "../support/cni-plugins.js";
import { errorOf, podArgs, resultOf } from "../support/plexus.js";
import { containerEntries } from "../support/state-dir.js";
import {
  callsOf,
  NETWORK_STATUS,
  NETWORKS,
  netResult,
  startPlexusHarness,
  wireError,
  type HarnessPod,
  type PlexusHarness,
} from "./plexus-harness.js";

describe("plexus ADD/DEL lifecycle edge cases", () => {
  let h: PlexusHarness;

  beforeAll(async () => {
    h = await startPlexusHarness();
    h.createNad("life", "net-a", { cniVersion: "1.0.0", type: "recorder", result: netResult("net1", "198.18.1.2/24") });
    h.createNad("life", "net-b", {
      cniVersion: "0.4.0",
      plugins: [{ type: "recorder", result: netResult("net2", "198.18.2.2/24") }],
    });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  const annotated = (name: string) => h.createPod("life", name, { [NETWORKS]: "net-a,net-b" });
  const ifNames = (command: string) => callsOf(h.calls(), command).map((c) => c.env["CNI_IFNAME"]);

  async function addOk(pod: HarnessPod): Promise<void> {
    const out = await h.call("ADD", pod);
    expect(out.code, out.stdout + out.stderr).toBe(0);
  }

  it("a pod the API does not know gets its cluster network only, and ADD succeeds", async () => {
    const ghost: HarnessPod = {
      namespace: "life",
      name: "ghost",
      uid: "0a4626da-0000-0000-0000-000000000001",
      containerId: "ghost01",
      netns: "/var/run/netns/ghost",
    };
    await h.resetCalls();
    const out = await h.call("ADD", ghost);
    expect(out.code, out.stdout).toBe(0);
    expect(resultOf(out).interfaces?.map((i) => i.name)).toEqual(["eth0"]);
    expect(ifNames("ADD")).toEqual(["eth0"]);
  });

  it("a UID in CNI_ARGS other than the API's (the pod was recreated) fails ADD naming the pod, and runs nothing", async () => {
    const pod = annotated("recreated");
    await h.resetCalls();
    const stale = "0a4626da-0000-0000-0000-0000000000aa";
    const err = wireError(
      await h.call("ADD", pod, { cniArgs: podArgs(pod.namespace, pod.name, stale, pod.containerId) }),
    );
    expect(err.code).toBe(100);
    expect(err.msg).toContain(`pod life/recreated`);
    expect(err.msg).toContain(stale);
    expect(err.msg).toContain(pod.uid);
    expect(ifNames("ADD")).toEqual([]);
    expect(h.getPod(pod).metadata.annotations?.[NETWORK_STATUS]).toBeUndefined();
    // The runtime's DEL for that sandbox: nothing was added, nothing to do, success.
    expect((await h.call("DEL", pod, { cniArgs: podArgs(pod.namespace, pod.name, stale, pod.containerId) })).code).toBe(
      0,
    );
  });

  it("DEL with a stale UID and no cache tears down the configured networks only, not the new pod's", async () => {
    const pod = annotated("recreated-del");
    await h.resetCalls();
    const out = await h.call("DEL", pod, {
      cniArgs: podArgs(pod.namespace, pod.name, "0a4626da-0000-0000-0000-0000000000bb", pod.containerId),
    });
    expect([out.code, out.stdout]).toEqual([0, ""]);
    expect(ifNames("DEL")).toEqual(["eth0"]);
  });

  describe("readinessindicatorfile", () => {
    it("ADD waits for the file, then attaches", async () => {
      const file = join(h.dir, "ready-later");
      const pod = annotated("ready-later");
      const pending = h.call("ADD", pod, {
        conf: h.conf({ readinessindicatorfile: file, readinessTimeoutSeconds: 20 }),
      });
      await new Promise((r) => setTimeout(r, 700));
      await writeFile(file, "");
      const out = await pending;
      expect(out.code, out.stdout).toBe(0);
      expect(resultOf(out).interfaces?.map((i) => i.name)).toEqual(["eth0", "net1", "net2"]);
    });

    it("ADD times out with code 11 when the file never appears, runs nothing, and the next DEL is a no-op", async () => {
      const pod = annotated("never-ready");
      await h.resetCalls();
      const cfg = h.conf({ readinessindicatorfile: join(h.dir, "never"), readinessTimeoutSeconds: 1 });
      const err = wireError(await h.call("ADD", pod, { conf: cfg }));
      expect(err.code).toBe(11);
      expect(err.msg).toContain(`readiness indicator file ${join(h.dir, "never")} does not exist after 1s`);
      expect(h.calls()).toEqual([]);
      expect((await h.call("DEL", pod, { conf: cfg })).code).toBe(0);
      expect(h.calls()).toEqual([]);
    });
  });

  describe("DEL without a usable cache", () => {
    it("a truncated attachment file: DEL re-resolves it from the API, tears everything down, sets the file aside", async () => {
      const pod = annotated("corrupt");
      await addOk(pod);
      const dir = join(h.stateDir, pod.containerId);
      await truncate(join(dir, "net1.json"), 10);
      await h.resetCalls();
      const out = await h.call("DEL", pod, { conf: h.conf({ logLevel: "warn" }) });
      expect([out.code, out.stdout]).toEqual([0, ""]);
      expect(out.stderr).toMatch(/state files were unreadable; the files were set aside/);
      const dels = callsOf(h.calls(), "DEL");
      expect(dels.map((c) => [c.env["CNI_IFNAME"], c.stdin["name"], "prevResult" in c.stdin])).toEqual([
        ["net2", "net-b", true],
        ["net1", "net-a", false],
        ["eth0", "cluster", true],
      ]);
      expect(await containerEntries(h.stateDir, pod.containerId)).toEqual(["net1.json.corrupt", "tombstone"]);
      await h.resetCalls();
      const again = await h.call("DEL", pod);
      expect([again.code, again.stdout]).toEqual([0, ""]);
      expect(h.calls()).toEqual([]);
    });

    it("a truncated file and the pod gone: DEL tears down what is known, fails once naming what it could not, the next DEL succeeds", async () => {
      const pod = annotated("corrupt-gone");
      await addOk(pod);
      await truncate(join(h.stateDir, pod.containerId, "net2.json"), 0);
      h.deletePod(pod);
      await h.resetCalls();
      const out = await h.call("DEL", pod, { conf: h.conf({ logLevel: "warn" }) });
      // The cached attachments are torn down; the one nobody can describe any more is reported.
      expect(ifNames("DEL")).toEqual(["net1", "eth0"]);
      expect(out.code).toBe(1);
      expect(errorOf(out).code).toBe(6);
      expect(errorOf(out).msg).toMatch(
        /DEL could not tear down net2: the state file is unreadable.*net2\.json\.corrupt/,
      );
      expect(existsSync(join(h.stateDir, pod.containerId, "net2.json.corrupt"))).toBe(true);
      await h.resetCalls();
      const again = await h.call("DEL", pod, { netns: "" });
      expect([again.code, again.stdout]).toEqual([0, ""]);
      expect(h.calls()).toEqual([]);
    });

    it("no cache at all, pod still in the API: DEL re-resolves and reaches every delegate", async () => {
      const pod = annotated("no-cache");
      await addOk(pod);
      await rm(join(h.stateDir, pod.containerId), { recursive: true });
      await h.resetCalls();
      const out = await h.call("DEL", pod, { netns: "" });
      expect([out.code, out.stdout]).toEqual([0, ""]);
      expect(ifNames("DEL")).toEqual(["net2", "net1", "eth0"]);
      expect(callsOf(h.calls(), "DEL").map((c) => c.env["CNI_NETNS"])).toEqual(["", "", ""]);
    });

    it("no cache and no pod: DEL tears down the cluster network only, and succeeds", async () => {
      const pod = annotated("nothing-left");
      await addOk(pod);
      await rm(join(h.stateDir, pod.containerId), { recursive: true });
      h.deletePod(pod);
      await h.resetCalls();
      const out = await h.call("DEL", pod);
      expect([out.code, out.stdout]).toEqual([0, ""]);
      expect(ifNames("DEL")).toEqual(["eth0"]);
      expect((await h.call("DEL", pod)).code).toBe(0);
    });
  });

  it("a delegate DEL that fails: the others are still torn down, DEL fails naming it, and the next DEL retries only it", async () => {
    const binDir = join(h.dir, "flaky-bin");
    await mkdir(binDir, { recursive: true });
    await symlink(join(fakePluginDir, "recorder"), join(binDir, "flaky"));
    h.createNad("life", "flaky", { cniVersion: "1.0.0", type: "flaky" });
    const pod = h.createPod("life", "flaky-del", { [NETWORKS]: "net-a,flaky" });
    const conf = h.conf({ binDir });
    expect((await h.call("ADD", pod, { conf })).code).toBe(0);
    await rm(join(binDir, "flaky"));
    await h.resetCalls();
    const err = wireError(await h.call("DEL", pod, { conf }));
    expect(err.msg).toMatch(/pod life\/flaky-del: DEL failed for 1 attachment\(s\): network "life\/flaky" \(net2\)/);
    expect(ifNames("DEL")).toEqual(["net1", "eth0"]);
    expect(await readdir(join(h.stateDir, pod.containerId))).toEqual(["net2.json"]);
    await symlink(join(fakePluginDir, "recorder"), join(binDir, "flaky"));
    await h.resetCalls();
    const retry = await h.call("DEL", pod, { conf, netns: "" });
    expect([retry.code, retry.stdout]).toEqual([0, ""]);
    expect(ifNames("DEL")).toEqual(["net2"]);
    expect(await containerEntries(h.stateDir, pod.containerId)).toEqual(["tombstone"]);
  });
});
