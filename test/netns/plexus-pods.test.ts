// The meta-plugin end to end in a simulated node (issue: "a pod annotated `macvlan-a,
// team-b/bridge-b@data0` gets eth0, net1 and data0; the merged result, the kernel, and the
// network-status on the pod agree; two such pods ping each other over the macvlan network").
// plexus runs as the runtime would run it (dist/plexus, CNI env, stdin), inside a node namespace,
// with the real bridge, macvlan and host-local plugins and the local API server. Both modes: the
// thin executable per call, and the shim with `plexus daemon` in the node namespace.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Result100 } from "../../src/cni/result.js";
import { addressesOf, execIn, links, type Netns } from "../support/netns.js";
import { resultOf } from "../support/plexus.js";
import { MODES, startTestNode, type TestNode, type TestPod } from "../support/plexus-node.js";
import { isRoot } from "../support/root.js";
import { containerEntries } from "../support/state-dir.js";
import { eventsIn } from "../support/events.js";

const ANNOTATION = "macvlan-a, team-b/bridge-b@data0";

/** The addresses a result puts on the pod's interface `name` (by each IP's interface index). */
function addressesIn(r: Result100, name: string): string[] {
  const ifs = r.interfaces ?? [];
  return (r.ips ?? []).filter((ip) => ifs[ip.interface ?? -1]?.name === name).map((ip) => ip.address);
}

describe.skipIf(!isRoot).each(MODES)("plexus ADD/DEL of annotated pods in a node namespace (%s mode)", (mode) => {
  let n: TestNode;
  let master: string;
  const pods: TestPod[] = [];
  const results: Result100[] = [];

  beforeAll(async () => {
    n = await startTestNode(`pods-${mode}`, { mode });
    master = `${n.net.prefix}m`.slice(-15);
    await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
    // A veth master has carrier only when both ends are up; macvlans on it are down otherwise.
    await execIn(n.node, ["ip", "link", "set", master, "up"]);
    await execIn(n.node, ["ip", "link", "set", `${master.slice(0, 13)}p`, "up"]);
    n.createNad("team-a", "macvlan-a", {
      cniVersion: "1.0.0",
      type: "macvlan",
      master,
      mode: "bridge",
      ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.1.0/24" }]] },
    });
    n.createNad("team-b", "bridge-b", {
      cniVersion: "0.4.0",
      type: "bridge",
      bridge: `${n.net.prefix}b`.slice(-15),
      ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.2.0/24" }]] },
    });
    for (const name of ["web-0", "web-1"])
      pods.push(await n.createPod("team-a", name, { "k8s.v1.cni.cncf.io/networks": ANNOTATION }));
  });
  afterAll(async () => {
    await n?.cleanup();
  });

  it("ADD gives each pod eth0, net1 and data0, and one merged result in the caller's version", async () => {
    for (const pod of pods) {
      const out = await n.add(pod);
      expect(out.stderr).not.toMatch(/"level":50/);
      expect(out.code, out.stdout + out.stderr).toBe(0);
      const r = resultOf(out);
      results.push(r);
      expect(r.cniVersion).toBe("1.0.0");
      const sandbox = r.interfaces?.filter((i) => i.sandbox).map((i) => i.name);
      expect(sandbox).toEqual(["eth0", "net1", "data0"]);
      // Every IP is indexed to its own interface, eth0's first (containerd's pod IP).
      const byIf = (name: string) => addressesIn(r, name);
      expect(r.interfaces?.[r.ips?.[0]?.interface ?? -1]?.name).toBe("eth0");
      expect(byIf("eth0")[0]).toMatch(/^198\.18\.0\.\d+\/24$/);
      expect(byIf("net1")[0]).toMatch(/^198\.18\.1\.\d+\/24$/);
      expect(byIf("data0")[0]).toMatch(/^198\.18\.2\.\d+\/24$/);
    }
  });

  it("the kernel has exactly what the result says", async () => {
    for (const [i, pod] of pods.entries()) {
      const r = results[i];
      if (r === undefined) throw new Error(`no ADD result for ${pod.name}`);
      for (const name of ["eth0", "net1", "data0"]) {
        const expected = addressesIn(r, name);
        expect((await addressesOf(pod.netns, name)).filter((a) => !a.startsWith("fe80:"))).toEqual(expected);
        const mac = r.interfaces?.find((x) => x.name === name && x.sandbox)?.mac;
        expect((await links(pod.netns)).find((l) => l.ifname === name)?.address).toBe(mac);
      }
    }
  });

  it("network-status on the pod agrees with the kernel, one entry per attachment", async () => {
    for (const [i, pod] of pods.entries()) {
      const statuses = n.networkStatusOf("team-a", pod.name);
      expect(statuses.map((s) => [s.name, s.interface, s.default ?? false])).toEqual([
        ["cluster", "eth0", true],
        ["team-a/macvlan-a", "net1", false],
        ["team-b/bridge-b", "data0", false],
      ]);
      for (const s of statuses) {
        const kernel = (await addressesOf(pod.netns, s.interface as string))
          .filter((a) => !a.startsWith("fe80:"))
          .map((a) => a.split("/")[0]);
        expect(s.ips).toEqual(kernel);
        expect(s.mac).toBe((await links(pod.netns)).find((l) => l.ifname === s.interface)?.address);
      }
      expect(statuses[0]?.gateway).toEqual(["198.18.0.1"]);
      void results[i];
    }
  });

  it("records an AddedInterface event per interface", async () => {
    // Events may be written after the answer (the daemon sends them asynchronously).
    const mine = await eventually(() =>
      eventsIn(n.api.store, "team-a")
        .filter((e) => e.involvedObject.name === "web-0" && e.reason === "AddedInterface")
        .map((e) => e.message),
    );
    expect(mine).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Add eth0 \[198\.18\.0\.\d+\/24\] from cluster$/),
        expect.stringMatching(/^Add net1 \[198\.18\.1\.\d+\/24\] from team-a\/macvlan-a$/),
        expect.stringMatching(/^Add data0 \[198\.18\.2\.\d+\/24\] from team-b\/bridge-b$/),
      ]),
    );
  });

  it("the two pods reach each other over the macvlan network", async () => {
    const target = (await addressesOf(pods[1]!.netns, "net1"))[0]!.split("/")[0]!;
    const out = await execIn(pods[0]!.netns, ["ping", "-c", "2", "-W", "2", "-I", "net1", target]);
    expect(out).toMatch(/2 received/);
  });

  it("DEL removes every link, releases every IP and the cache; DEL again and with an empty CNI_NETNS succeed", async () => {
    const pod = pods[0]!;
    const leasesBefore = await n.leases();
    const mine = (results[0]?.ips ?? []).map((ip) => ip.address.split("/")[0]);
    expect(leasesBefore.filter((l) => mine.includes(l.split("/")[1]))).toHaveLength(3);
    const out = await n.del(pod);
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toBe("");
    expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
    const leasesAfter = await n.leases();
    expect(leasesAfter.filter((l) => mine.includes(l.split("/")[1]))).toEqual([]);
    await expectOnlyTombstone(n, pod);
    expect((await n.del(pod)).code).toBe(0);
    const empty = await n.del(pod, { netns: "" });
    expect(empty.code, empty.stdout).toBe(0);
  });

  it("DEL still cleans up with the API server stopped", async () => {
    const pod = pods[1]!;
    await n.stopApi();
    const mine = (results[1]?.ips ?? []).map((ip) => ip.address.split("/")[0]);
    const out = await n.del(pod);
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
    expect((await n.leases()).filter((l) => mine.includes(l.split("/")[1]))).toEqual([]);
    expect((await n.del(pod, { netns: "" })).code).toBe(0);
  });
});

async function expectOnlyTombstone(n: TestNode, pod: TestPod): Promise<void> {
  expect(await containerEntries(n.stateDir, pod.containerId)).toEqual(["tombstone"]);
}

export type { Netns };

/** What `read` returns once it has 3 items, or after 5 s whatever it returns then. */
async function eventually<T>(read: () => T[], want = 3): Promise<T[]> {
  const until = Date.now() + 5_000;
  let got = read();
  while (got.length < want && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    got = read();
  }
  return got;
}
