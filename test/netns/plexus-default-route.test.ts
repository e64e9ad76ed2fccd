// The default-route selection key in a real pod namespace: the kernel's default routes, the
// merged ADD result's routes and the network-status gateways agree, and only the requested
// family moves (src/networks/README.md "default-route";
// docs/compatibility.md#default-route).
// The cluster network is dual-stack (bridge + host-local, 198.18.0.0/24 and fd00:18::/64).

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execIn, routes } from "../support/netns.js";
import { startTestNode, type TestNode, type TestPod } from "../support/plexus-node.js";
import { isRoot } from "../support/root.js";
import { errorOf, resultOf } from "../support/plexus.js";
import type { Result100 } from "../../src/cni/result.js";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";

describe.skipIf(!isRoot)("default-route in the pod's kernel", () => {
  let n: TestNode;
  let conf: Record<string, unknown>;

  beforeAll(async () => {
    n = await startTestNode("dr");
    const master = `${n.net.prefix}m`.slice(-15);
    await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
    await execIn(n.node, ["ip", "link", "set", master, "up"]);
    await execIn(n.node, ["ip", "link", "set", `${master.slice(0, 13)}p`, "up"]);
    const cluster = join(n.dir, "cluster-ds.conflist");
    await writeFile(
      cluster,
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "cluster",
        plugins: [
          {
            type: "bridge",
            bridge: `${n.net.prefix}d`.slice(-15),
            isGateway: true,
            ipam: {
              type: "host-local",
              dataDir: n.ipamDir,
              ranges: [[{ subnet: "198.18.0.0/24" }], [{ subnet: "fd00:18::/64" }]],
              routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0" }],
            },
          },
        ],
      }),
    );
    conf = n.conf({ clusterNetwork: cluster });
    n.createNad("team-a", "macvlan-a", {
      cniVersion: "1.0.0",
      type: "macvlan",
      master,
      mode: "bridge",
      ipam: {
        type: "host-local",
        dataDir: n.ipamDir,
        ranges: [[{ subnet: "198.18.1.0/24", gateway: "198.18.1.254" }]],
      },
    });
  });
  afterAll(async () => {
    await n?.cleanup();
  });

  /** Default routes as [dev, gateway] from the kernel, the result and the status, per family. */
  async function defaults(pod: TestPod, result: Result100) {
    const kernel = async (family: 4 | 6) =>
      (await routes(pod.netns, family)).filter((r) => r.dst === "default").map((r) => [r.dev, r.gateway]);
    // Result routes carry no interface: the gateway says which attachment's subnet they leave by.
    const fromResult = (dst: string) =>
      (result.routes ?? []).filter((r) => r.dst === dst).map((r) => r.gw ?? "(the interface's gateway)");
    const status = n.networkStatusOf(pod.namespace, pod.name);
    return {
      kernel4: await kernel(4),
      kernel6: await kernel(6),
      result4: fromResult("0.0.0.0/0"),
      result6: fromResult("::/0"),
      status: status.map((s) => [s.interface, s.gateway ?? []]),
    };
  }

  async function add(name: string, annotation: unknown): Promise<{ pod: TestPod; result: Result100 }> {
    const pod = await n.createPod("team-a", name, { [NETWORKS]: JSON.stringify(annotation) });
    const out = await n.add(pod, { conf });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    return { pod, result: resultOf(out) };
  }

  it("without the key, the cluster network has both default routes", async () => {
    const { pod, result } = await add("plain", [{ name: "macvlan-a" }]);
    const d = await defaults(pod, result);
    expect(d.kernel4).toEqual([["eth0", "198.18.0.1"]]);
    expect(d.kernel6).toEqual([["eth0", "fd00:18::1"]]);
    expect(d.status).toEqual([
      ["eth0", ["198.18.0.1", "fd00:18::1"]],
      ["net1", []],
    ]);
  });

  it("a v4 gateway moves only the IPv4 default route to net1; kernel, result and status agree", async () => {
    const { pod, result } = await add("v4-moved", [{ name: "macvlan-a", "default-route": ["198.18.1.254"] }]);
    const d = await defaults(pod, result);
    expect(d.kernel4).toEqual([["net1", "198.18.1.254"]]);
    expect(d.kernel6).toEqual([["eth0", "fd00:18::1"]]);
    expect(d.result4).toEqual(["198.18.1.254"]);
    expect(d.result6).toEqual(["(the interface's gateway)"]);
    expect(d.status).toEqual([
      ["eth0", ["fd00:18::1"]],
      ["net1", ["198.18.1.254"]],
    ]);
    expect(await execIn(pod.netns, ["ip", "route", "get", "198.19.255.9"])).toMatch(/via 198\.18\.1\.254 dev net1/);
  });

  it('"default-route": [] takes the default route through the attachment\'s own gateway', async () => {
    const { pod, result } = await add("own-gw", [{ name: "macvlan-a", "default-route": [] }]);
    const d = await defaults(pod, result);
    expect(d.kernel4).toEqual([["net1", "198.18.1.254"]]);
    expect(d.kernel6).toEqual([["eth0", "fd00:18::1"]]);
    expect(d.status.find((s) => s[0] === "net1")).toEqual(["net1", ["198.18.1.254"]]);
  });

  it("a v6 gateway on an attachment without IPv6 fails ADD naming the pod, and leaves nothing", async () => {
    const pod = await n.createPod("team-a", "bad-family", {
      [NETWORKS]: JSON.stringify([{ name: "macvlan-a", "default-route": ["fd00:18::1"] }]),
    });
    const out = await n.add(pod, { conf });
    expect(out.code).not.toBe(0);
    expect(errorOf(out).msg).toMatch(
      /pod team-a\/bad-family: default-route of net1: gateway fd00:18::1 is IPv6, but net1 has no IPv6 address/,
    );
    expect((await execIn(pod.netns, ["ip", "-o", "link", "show"])).trim().split("\n")).toHaveLength(1);
  });

  it("DEL after a moved default route removes every link", async () => {
    const pod = await n.createPod("team-a", "moved-del", {
      [NETWORKS]: JSON.stringify([{ name: "macvlan-a", "default-route": ["198.18.1.254"] }]),
    });
    expect((await n.add(pod, { conf })).code).toBe(0);
    const out = await n.del(pod, { conf });
    expect([out.code, out.stdout]).toEqual([0, ""]);
    expect((await execIn(pod.netns, ["ip", "-o", "link", "show"])).trim().split("\n")).toHaveLength(1);
  });
});
