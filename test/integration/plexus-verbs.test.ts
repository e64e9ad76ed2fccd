// CHECK, STATUS and GC through dist/plexus (CNI SPEC §2; docs/architecture.md#check, #status,
// #gc; docs/compatibility.md#check for what Multus does instead): what each delegate receives, and what happens to the cache.

import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callsOf,
  CLUSTER_RESULT,
  NETWORKS,
  netResult,
  startPlexusHarness,
  wireError,
  type HarnessPod,
  type PlexusHarness,
} from "./plexus-harness.js";

const V = "1.1.0";

describe("plexus CHECK, STATUS and GC", () => {
  let h: PlexusHarness;
  const cluster = (plugin: Record<string, unknown> = {}) => ({
    cniVersion: V,
    name: "cluster",
    plugins: [{ type: "recorder", result: CLUSTER_RESULT, ...plugin }],
  });
  const conf = (extra: Record<string, unknown> = {}) =>
    h.conf({ cniVersion: V, clusterNetwork: "", delegates: [cluster()], ...extra });

  beforeAll(async () => {
    h = await startPlexusHarness();
    h.createNad("verbs", "new-net", { cniVersion: V, type: "recorder", result: netResult("net1", "198.18.1.2/24") });
    h.createNad("verbs", "old-net", {
      cniVersion: "0.4.0",
      plugins: [{ type: "recorder", result: netResult("net2", "198.18.2.2/24") }],
    });
    h.createNad("verbs", "ancient", {
      cniVersion: "0.3.1",
      type: "recorder",
      result: { ips: [{ version: "4", address: "198.18.3.2/24" }] },
    });
    // Two NADs with one CNI network name in two namespaces: different networks all the same.
    h.createNad("verbs", "dup", { cniVersion: V, type: "recorder", marker: "verbs/dup" });
    h.createNad("verbs-b", "dup", { cniVersion: V, type: "recorder", marker: "verbs-b/dup" });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  async function added(name: string, networks: string, extra: Record<string, unknown> = {}): Promise<HarnessPod> {
    const pod = h.createPod("verbs", name, { [NETWORKS]: networks });
    const out = await h.call("ADD", pod, { conf: conf(extra) });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    return pod;
  }

  describe("CHECK", () => {
    it("every cached attachment's delegate gets CHECK with its own cached result, in its own version", async () => {
      const pod = await added("checked", "new-net,old-net,ancient");
      await h.resetCalls();
      const out = await h.call("CHECK", pod, { conf: conf() });
      expect([out.code, out.stdout]).toEqual([0, ""]);
      const checks = callsOf(h.calls(), "CHECK");
      // 0.3.1 has no CHECK: ancient (net3) is skipped.
      expect(checks.map((c) => c.env["CNI_IFNAME"])).toEqual(["eth0", "net1", "net2"]);
      const prev = (i: number): unknown => checks[i]?.stdin["prevResult"];
      expect(prev(0)).toEqual({ cniVersion: V, ...CLUSTER_RESULT });
      expect(prev(1)).toEqual({ cniVersion: V, ...netResult("net1", "198.18.1.2/24") });
      expect(prev(2)).toHaveProperty("cniVersion", "0.4.0");
      expect(prev(2)).toHaveProperty("ips", [
        { version: "4", address: "198.18.2.2/24", gateway: "198.18.2.1", interface: 0 },
      ]);
      for (const c of checks) expect(c.env["CNI_NETNS"]).toBe(pod.netns);
    });

    it("a delegate's CHECK failure fails CHECK naming the network and keeping the delegate's code", async () => {
      h.createNad("verbs", "sick", {
        cniVersion: V,
        type: "recorder",
        fail: { code: 42, msg: "link is down" },
        failOn: ["CHECK"],
      });
      const pod = await added("sick", "sick");
      const err = wireError(await h.call("CHECK", pod, { conf: conf() }));
      expect(err.code).toBe(42);
      expect(err.msg).toMatch(/network "verbs\/sick" \(net1\).*link is down/);
    });

    it("an unknown container is code 3", async () => {
      const pod = h.createPod("verbs", "never-added");
      const err = wireError(await h.call("CHECK", pod, { conf: conf() }));
      expect(err.code).toBe(3);
      expect(err.msg).toContain(pod.containerId);
    });
  });

  describe("STATUS", () => {
    it("is code 50 while the readiness indicator file is missing, and 0 once it exists", async () => {
      const file = join(h.dir, "status-ready");
      const missing = wireError(await h.call("STATUS", undefined, { conf: conf({ readinessindicatorfile: file }) }));
      expect(missing.code).toBe(50);
      expect(missing.msg).toContain(file);
      await writeFile(file, "");
      await h.resetCalls();
      const ok = await h.call("STATUS", undefined, { conf: conf({ readinessindicatorfile: file }) });
      expect([ok.code, ok.stdout]).toEqual([0, ""]);
      expect(callsOf(h.calls(), "STATUS").map((c) => [c.stdin["name"], c.stdin["cniVersion"]])).toEqual([
        ["cluster", V],
      ]);
    });

    it("passes the cluster delegate's STATUS error on with its code", async () => {
      const sick = cluster({
        fail: { code: 51, msg: "uplink down", details: "eth9 has no carrier" },
        failOn: ["STATUS"],
      });
      const err = wireError(await h.call("STATUS", undefined, { conf: conf({ delegates: [sick] }) }));
      expect(err.code).toBe(51);
      expect(err.msg).toContain("uplink down");
      expect(err.details).toBe("eth9 has no carrier");
    });

    it("does not ask a cluster delegate older than 1.1.0", async () => {
      await h.resetCalls();
      const out = await h.call("STATUS", undefined, {
        conf: conf({ delegates: [{ ...cluster(), cniVersion: "1.0.0" }] }),
      });
      expect([out.code, out.stdout]).toEqual([0, ""]);
      expect(h.calls()).toEqual([]);
    });
  });

  describe("GC", () => {
    it("tears down and forgets stale containers, keeps valid ones, and GCs each network with its own valid attachments", async () => {
      await rm(h.stateDir, { recursive: true, force: true });
      const valid = await added("gc-valid", "new-net,old-net,verbs/dup,verbs-b/dup");
      const stale = await added("gc-stale", "new-net,old-net");
      await h.resetCalls();
      const out = await h.call("GC", undefined, {
        conf: conf({ "cni.dev/valid-attachments": [{ containerID: valid.containerId, ifname: "eth0" }] }),
      });
      expect([out.code, out.stdout]).toEqual([0, ""]);
      const calls = h.calls();
      expect(callsOf(calls, "DEL").map((c) => [c.env["CNI_CONTAINERID"], c.env["CNI_IFNAME"]])).toEqual([
        [stale.containerId, "net2"],
        [stale.containerId, "net1"],
        [stale.containerId, "eth0"],
      ]);
      expect(existsSync(join(h.stateDir, stale.containerId))).toBe(false);
      expect(existsSync(join(h.stateDir, valid.containerId, "net1.json"))).toBe(true);
      const gcs = callsOf(calls, "GC").map((c) => [
        c.stdin["marker"] ?? c.stdin["name"],
        c.stdin["cni.dev/valid-attachments"],
      ]);
      const mine = (ifname: string) => [{ containerID: valid.containerId, ifname }];
      // old-net is 0.4.0: no GC for it.
      expect(gcs).toEqual([
        ["cluster", mine("eth0")],
        ["new-net", mine("net1")],
        ["verbs/dup", mine("net3")],
        ["verbs-b/dup", mine("net4")],
      ]);
    });

    it("the cluster network keeps every attachment the runtime calls valid, cached or not; secondaries are left alone then", async () => {
      await rm(h.stateDir, { recursive: true, force: true });
      const cached = await added("gc-cached", "new-net");
      const lost = await added("gc-lost", "new-net");
      await rm(join(h.stateDir, lost.containerId), { recursive: true });
      await h.resetCalls();
      const list = [
        { containerID: cached.containerId, ifname: "eth0" },
        { containerID: lost.containerId, ifname: "eth0" },
      ];
      const out = await h.call("GC", undefined, {
        conf: conf({ "cni.dev/valid-attachments": list, logLevel: "warn" }),
      });
      expect([out.code, out.stdout]).toEqual([0, ""]);
      expect(callsOf(h.calls(), "DEL")).toEqual([]);
      const gcs = callsOf(h.calls(), "GC").map((c) => [c.stdin["name"], c.stdin["cni.dev/valid-attachments"]]);
      // new-net's valid list cannot be known for gc-lost: GC of it would free gc-lost's address.
      expect(gcs).toEqual([["cluster", list]]);
      expect(out.stderr).toContain(lost.containerId);
    });
  });
});
