// A selection's ips and mac reach plugins as CNI_ARGS IP= and MAC=, exactly as Multus sets them,
// so NADs written for Multus work without capabilities: the real static IPAM reads IP (comma-
// separated CIDRs) and the real tuning plugin reads MAC. When no plugin applies them, ADD fails
// and leaves nothing behind instead of starting the pod with other addresses.

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressesOf, execIn, link, links } from "../support/netns.js";
import { MODES, startTestNode, type TestNode } from "../support/plexus-node.js";
import { isRoot } from "../support/root.js";
import { resultOf, errorOf } from "../support/plexus.js";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";

describe.skipIf(!isRoot).each(MODES)(
  "IP= and MAC= in CNI_ARGS with the real static IPAM and tuning plugins (%s mode)",
  (mode) => {
    let n: TestNode;
    let master: string;
    let nodeLinksBefore: string[];

    beforeAll(async () => {
      n = await startTestNode(`args-${mode}`, { mode });
      master = `${n.net.prefix}m`.slice(-15);
      await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
      await execIn(n.node, ["ip", "link", "set", master, "up"]);
      await execIn(n.node, ["ip", "link", "set", `${master.slice(0, 13)}p`, "up"]);
      // As a Multus user writes it: static IPAM with no addresses, tuning, and no capabilities.
      n.createNad("team-a", "macvlan-static", {
        cniVersion: "1.0.0",
        name: "macvlan-static",
        // tuning keeps the interface's original MAC for DEL in dataDir (default /run/cni/tuning).
        plugins: [
          { type: "macvlan", master, mode: "bridge", ipam: { type: "static" } },
          { type: "tuning", dataDir: join(n.dir, "tuning") },
        ],
      });
      // No tuning, and a plugin that does not read MAC= (macvlan and bridge 1.1 do): nothing applies it.
      const device = `${n.net.prefix}d`.slice(-15);
      await execIn(n.node, ["ip", "link", "add", device, "type", "veth", "peer", "name", `${device.slice(0, 12)}dp`]);
      n.createNad("team-a", "device-no-tuning", {
        cniVersion: "1.0.0",
        type: "host-device",
        device,
        ipam: { type: "static" },
      });
      const primer = await n.createPod("team-a", "primer");
      expect((await n.add(primer)).code).toBe(0);
      expect((await n.del(primer)).code).toBe(0);
      nodeLinksBefore = (await links(n.node)).map((l) => l.ifname).sort();
    });
    afterAll(async () => {
      await n?.cleanup();
    });

    it("net1 gets the requested addresses and MAC in the kernel, the result and network-status", async () => {
      const pod = await n.createPod("team-a", "static-0", {
        [NETWORKS]: JSON.stringify([
          { name: "macvlan-static", ips: ["198.18.1.50/24", "fd00:1::50/64"], mac: "02:00:00:00:00:50" },
        ]),
      });
      const out = await n.add(pod);
      expect(out.code, out.stdout + out.stderr).toBe(0);
      expect((await addressesOf(pod.netns, "net1")).filter((a) => !a.startsWith("fe80:"))).toEqual([
        "198.18.1.50/24",
        "fd00:1::50/64",
      ]);
      expect((await link(pod.netns, "net1"))?.address).toBe("02:00:00:00:00:50");
      const result = resultOf(out);
      const net1 = result.interfaces?.findIndex((i) => i.name === "net1" && i.sandbox);
      expect(result.interfaces?.find((i) => i.name === "net1" && i.sandbox)?.mac).toBe("02:00:00:00:00:50");
      expect(result.ips?.filter((ip) => ip.interface === net1).map((ip) => ip.address)).toEqual([
        "198.18.1.50/24",
        "fd00:1::50/64",
      ]);
      const status = n.networkStatusOf("team-a", "static-0").find((s) => s.interface === "net1");
      expect([status?.ips, status?.mac]).toEqual([["198.18.1.50", "fd00:1::50"], "02:00:00:00:00:50"]);
      // CHECK gets the ADD's CNI_ARGS: static checks the addresses it was given are there.
      const check = await n.call("CHECK", pod);
      expect(check.code, check.stdout).toBe(0);
      expect((await n.del(pod)).code).toBe(0);
      expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
    });

    it("a MAC no plugin applies fails ADD, naming the network and the fix, and leaves nothing behind", async () => {
      const pod = await n.createPod("team-a", "static-1", {
        [NETWORKS]: JSON.stringify([{ name: "device-no-tuning", ips: ["198.18.1.51/24"], mac: "02:00:00:00:00:51" }]),
      });
      const add = await n.add(pod);
      expect(add.code).toBe(1);
      expect(add.json, errorOf(add).msg).toMatchObject({ cniVersion: "1.0.0", code: 7 });
      expect(errorOf(add).msg).toContain(
        'pod team-a/static-1: network team-a/device-no-tuning (net1): the selection requests mac 02:00:00:00:00:51 (no plugin declares "capabilities": {"mac": true}, and none applied CNI_ARGS MAC=, as tuning does;',
      );
      expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
      expect((await links(n.node)).map((l) => l.ifname).sort()).toEqual(nodeLinksBefore);
      expect(await n.leases()).toEqual([]);
      expect((await n.del(pod)).code).toBe(0);
    });
  },
);
