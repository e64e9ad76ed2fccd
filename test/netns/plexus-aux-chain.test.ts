// auxiliaryCNIChainName as Multus defines it: the plugin confs in <dir of clusterNetwork>/<name>/
// run as one more attachment, last, on every pod, starting from an empty result; torn down on
// DEL; a failing chain plugin rolls the whole ADD back. The real tuning plugin in the chain sets
// a sysctl in the pod's namespace; a recording plugin after it (test/fixtures/plugins/recorder)
// shows what the chain's plugins are given on ADD and that DEL reaches them.

import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakePluginDir, readRecords } from "../support/cni-plugins.js";
import { execIn, links, readSysctl } from "../support/netns.js";
import { MODES, startTestNode, type TestNode, type TestPod } from "../support/plexus-node.js";
import { isRoot } from "../support/root.js";
import { resultOf, errorOf } from "../support/plexus.js";
import { containerEntries } from "../support/state-dir.js";

const SYSCTL = "net/ipv4/conf/all/arp_notify";

describe.skipIf(!isRoot).each(MODES)("auxiliaryCNIChainName (%s mode)", (mode) => {
  let n: TestNode;
  let nodeLinksBefore: string[];
  let record: string;
  let cniPath: string[];

  beforeAll(async () => {
    n = await startTestNode(`aux-${mode}`, { mode });
    const master = `${n.net.prefix}m`.slice(-15);
    await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
    await execIn(n.node, ["ip", "link", "set", master, "up"]);
    n.createNad("team-a", "macvlan-a", {
      cniVersion: "1.0.0",
      type: "macvlan",
      master,
      ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.1.0/24" }]] },
    });
    // The chain's directory sits beside clusterNetwork (n.dir/cluster.conflist), as in Multus.
    record = join(n.dir, "calls.jsonl");
    cniPath = [...n.cniPath, fakePluginDir];
    // The same network with the recorder chained: its calls and the chain's, in one record, in order.
    n.createNad("team-a", "macvlan-rec", {
      cniVersion: "1.0.0",
      name: "macvlan-rec",
      plugins: [
        {
          type: "macvlan",
          master,
          ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.2.0/24" }]] },
        },
        { type: "recorder", record },
      ],
    });
    await chain("vendor-chain", {
      "10-tuning.conf": { type: "tuning", sysctl: { "net.ipv4.conf.all.arp_notify": "1" } },
      "20-recorder.conf": { type: "recorder", record },
    });
    await chain("failing-chain", {
      "10-tuning.conf": { type: "tuning", sysctl: { "net.ipv4.conf.all.arp_notify": "1" } },
      "20-bad-sysctl.conf": { type: "tuning", sysctl: { "net.ipv4.no_such_sysctl": "1" } },
      "README.md": "not a .conf: not read",
    });
    const primer = await n.createPod("team-a", "primer");
    expect((await n.add(primer)).code).toBe(0);
    expect((await n.del(primer)).code).toBe(0);
    nodeLinksBefore = (await links(n.node)).map((l) => l.ifname).sort();
  });
  afterAll(async () => {
    await n?.cleanup();
  });

  async function chain(name: string, files: Record<string, unknown>): Promise<void> {
    const dir = join(n.dir, name);
    await mkdir(dir, { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      await writeFile(join(dir, file), typeof content === "string" ? content : JSON.stringify(content));
    }
  }

  async function expectNothingLeft(pod: TestPod): Promise<void> {
    expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
    expect((await links(n.node)).map((l) => l.ifname).sort()).toEqual(nodeLinksBefore);
    expect(await n.leases()).toEqual([]);
  }

  it("runs last, on every pod, after the selections; nothing of it in the result or network-status; DEL tears it down", async () => {
    const conf = n.conf({ auxiliaryCNIChainName: "vendor-chain" });
    const pod = await n.createPod("team-a", "web-0", { "k8s.v1.cni.cncf.io/networks": "macvlan-rec" });
    expect(await readSysctl(pod.netns, SYSCTL)).toBe("0");
    const out = await n.add(pod, { conf, cniPath });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(await readSysctl(pod.netns, SYSCTL)).toBe("1");
    // The chain after the selection; its second plugin on net2, in the pod's namespace, after
    // tuning's (empty) result.
    const calls = () =>
      readRecords(record).map((c) => [c.command, c.stdin["name"], c.env["CNI_IFNAME"], c.env["CNI_CONTAINERID"]]);
    expect(calls()).toEqual([
      ["ADD", "macvlan-rec", "net1", pod.containerId],
      ["ADD", "vendor-chain", "net2", pod.containerId],
    ]);
    const added = readRecords(record)[1];
    expect(added?.env["CNI_NETNS"]).toBe(pod.netns.path);
    expect(added?.stdin).toMatchObject({ type: "recorder", prevResult: { cniVersion: "1.0.0" } });
    expect(added?.stdin["prevResult"]).not.toHaveProperty("interfaces");
    expect(
      resultOf(out)
        .interfaces?.filter((i) => i.sandbox)
        .map((i) => i.name),
    ).toEqual(["eth0", "net1"]);
    const statuses = n.networkStatusOf("team-a", "web-0");
    expect(statuses.map((s) => s.name)).toEqual(["cluster", "team-a/macvlan-rec"]);
    // Its state: the chain as executed (Multus names its interface net<position>: net2 here).
    const state = await readdir(join(n.stateDir, pod.containerId));
    expect(state.sort()).toEqual(["eth0.json", "net1.json", "net2.json"]);
    const check = await n.call("CHECK", pod, { conf, cniPath });
    expect(check.code, check.stdout).toBe(0);
    const del = await n.del(pod, { conf, cniPath });
    expect(del.code, del.stdout).toBe(0);
    // CHECK skips the chain (docs/compatibility.md#auxiliary-chain); DEL tears it down first.
    expect(calls().slice(2)).toEqual([
      ["CHECK", "macvlan-rec", "net1", pod.containerId],
      ["DEL", "vendor-chain", "net2", pod.containerId],
      ["DEL", "macvlan-rec", "net1", pod.containerId],
    ]);
    await expectNothingLeft(pod);
    expect(await containerEntries(n.stateDir, pod.containerId)).toEqual(["tombstone"]);
  });

  it("a pod without selections gets the chain too, on net1", async () => {
    const conf = n.conf({ auxiliaryCNIChainName: "vendor-chain" });
    const pod = await n.createPod("team-a", "plain-0");
    const out = await n.add(pod, { conf, cniPath });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(await readSysctl(pod.netns, SYSCTL)).toBe("1");
    const mine = () =>
      readRecords(record)
        .filter((c) => c.env["CNI_CONTAINERID"] === pod.containerId)
        .map((c) => [c.command, c.stdin["name"], c.env["CNI_IFNAME"]]);
    expect(mine()).toEqual([["ADD", "vendor-chain", "net1"]]);
    expect(n.networkStatusOf("team-a", "plain-0").map((s) => s.name)).toEqual(["cluster"]);
    expect((await n.del(pod, { conf, cniPath })).code).toBe(0);
    expect(mine()).toEqual([
      ["ADD", "vendor-chain", "net1"],
      ["DEL", "vendor-chain", "net1"],
    ]);
    await expectNothingLeft(pod);
  });

  it("a chain directory with no .conf adds nothing", async () => {
    const pod = await n.createPod("team-a", "web-1");
    const out = await n.add(pod, { conf: n.conf({ auxiliaryCNIChainName: "no-such-chain" }) });
    expect(out.code, out.stdout).toBe(0);
    expect((await readdir(join(n.stateDir, pod.containerId))).sort()).toEqual(["eth0.json"]);
    expect(await readSysctl(pod.netns, SYSCTL)).toBe("0");
    expect((await n.del(pod)).code).toBe(0);
  });

  it("a failing chain plugin fails ADD and rolls everything back", async () => {
    const conf = n.conf({ auxiliaryCNIChainName: "failing-chain" });
    const pod = await n.createPod("team-a", "web-2", { "k8s.v1.cni.cncf.io/networks": "macvlan-a" });
    const add = await n.add(pod, { conf });
    expect(add.code).toBe(1);
    expect(errorOf(add).msg).toContain(
      'pod team-a/web-2: network "failing-chain" (net2): plugin type="tuning" failed (add)',
    );
    await expectNothingLeft(pod);
    expect((await n.del(pod, { conf })).code).toBe(0);
  });

  it("clusterNetwork that is not a path is an error naming both keys, and nothing is left", async () => {
    n.createNad("kube-system", "cluster-nad", {
      cniVersion: "1.0.0",
      type: "bridge",
      bridge: `${n.net.prefix}c`.slice(0, 15),
      ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.0.0/24" }]] },
    });
    const conf = n.conf({ clusterNetwork: "cluster-nad", auxiliaryCNIChainName: "vendor-chain" });
    const pod = await n.createPod("team-a", "web-3");
    const add = await n.add(pod, { conf });
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({ code: 7 });
    expect(errorOf(add).msg).toBe(
      'auxiliaryCNIChainName "vendor-chain" is set, but clusterNetwork must be a path, and it is not a path: ' +
        '"cluster-nad"',
    );
    await expectNothingLeft(pod);
    expect((await n.del(pod, { conf })).code).toBe(0);
  });

  it("the clusterNetwork conflist gets the plugin confs of <its dir>/<its name>/ too (libcni's sub-directory chaining)", async () => {
    const dir = join(n.dir, "cluster");
    await mkdir(dir);
    try {
      await writeFile(
        join(dir, "10-tuning.conf"),
        JSON.stringify({ type: "tuning", sysctl: { "net.ipv4.conf.all.arp_ignore": "1" } }),
      );
      const pod = await n.createPod("team-a", "web-4");
      expect(await readSysctl(pod.netns, "net/ipv4/conf/all/arp_ignore")).toBe("0");
      const out = await n.add(pod);
      expect(out.code, out.stdout + out.stderr).toBe(0);
      expect(await readSysctl(pod.netns, "net/ipv4/conf/all/arp_ignore")).toBe("1");
      expect((await n.del(pod)).code).toBe(0);
      await expectNothingLeft(pod);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
