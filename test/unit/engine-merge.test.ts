import { describe, expect, it } from "vitest";
import type { IfName } from "../../src/cni/ids.js";
import type { Result100 } from "../../src/cni/result.js";
import { indexAddresses, mergeResults } from "../../src/engine/merge.js";

const netns = "/run/netns/pod";
const eth0 = "eth0" as IfName;
const net1 = "net1" as IfName;

// What bridge + host-local returns: host bridge, host veth, sandbox eth0.
const cluster: Result100 = {
  cniVersion: "1.1.0",
  interfaces: [
    { name: "cni0", mac: "aa:00:00:00:00:01" },
    { name: "veth1", mac: "aa:00:00:00:00:02" },
    { name: "eth0", mac: "aa:00:00:00:00:03", sandbox: netns },
  ],
  ips: [{ address: "198.18.0.5/24", gateway: "198.18.0.1", interface: 2 }],
  routes: [{ dst: "0.0.0.0/0", gw: "198.18.0.1" }],
  dns: { nameservers: ["198.18.0.53"] },
};
// What macvlan returns: only the sandbox interface.
const macvlan: Result100 = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "net1", mac: "aa:00:00:00:01:01", sandbox: netns }],
  ips: [{ address: "198.19.0.7/24", gateway: "198.19.0.1", interface: 0 }],
  dns: { nameservers: ["198.19.0.53"] },
};

describe("mergeResults", () => {
  it("lists the cluster network first and rebases every secondary index onto its own interface", () => {
    const merged = mergeResults([
      { ifName: eth0, netns, result: cluster },
      { ifName: net1, netns, result: macvlan },
    ]);
    expect(merged.interfaces?.map((i) => i.name)).toEqual(["cni0", "veth1", "eth0", "net1"]);
    expect(merged.ips).toEqual([
      { address: "198.18.0.5/24", gateway: "198.18.0.1", interface: 2 },
      { address: "198.19.0.7/24", gateway: "198.19.0.1", interface: 3 },
    ]);
    // containerd reads the pod IP from IPs on the interface named CNI_IFNAME.
    const podIps = merged.ips?.filter((ip) => merged.interfaces?.[ip.interface ?? -1]?.name === "eth0");
    expect(podIps?.map((ip) => ip.address)).toEqual(["198.18.0.5/24"]);
    expect(merged.dns).toEqual(cluster.dns);
    expect(merged.routes).toEqual(cluster.routes);
  });

  it("gives an IPAM-style secondary result (no interfaces, no indexes) its own sandbox interface", () => {
    const ipamOnly: Result100 = { cniVersion: "1.0.0", ips: [{ address: "198.19.1.2/24" }] };
    const merged = mergeResults([
      { ifName: eth0, netns, result: cluster },
      { ifName: net1, netns, result: ipamOnly },
    ]);
    expect(merged.interfaces?.[3]).toEqual({ name: "net1", sandbox: netns });
    expect(merged.ips?.[1]).toEqual({ address: "198.19.1.2/24", interface: 3 });
  });

  it("indexes an unindexed cluster IP to the existing sandbox eth0 instead of adding a second one", () => {
    const r = indexAddresses({
      ifName: eth0,
      netns,
      result: {
        cniVersion: "1.1.0",
        interfaces: [{ name: "eth0", sandbox: netns }],
        ips: [{ address: "198.18.0.9/24" }],
      },
    });
    expect(r.interfaces).toHaveLength(1);
    expect(r.ips).toEqual([{ address: "198.18.0.9/24", interface: 0 }]);
  });

  it("leaves out empty lists", () => {
    expect(mergeResults([{ ifName: eth0, netns, result: { cniVersion: "1.0.0" } }])).toEqual({ cniVersion: "1.1.0" });
  });
});
