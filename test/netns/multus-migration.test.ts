// Moving a node over from Multus with pods running (docs/migration.md): a pod Multus set up
// (its scratch cache and libcni's result cache written as Multus writes them, its links and
// leases made by the real reference plugins: test/support/multus-writer.ts) is torn down
// completely by Plexus's DEL, which has no state of its own for it and reads Multus's caches
// (multusCniDir). Nothing may be left: no link in the pod or on the node, no lease, no file.
// In thin and daemon mode.

import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime } from "../../src/runtime/runtime.js";
import { fakePluginEnv } from "../support/cni-plugins.js";
import { execIn, links } from "../support/netns.js";
import { setUpLikeMultus, type MultusDelegateSpec } from "../support/multus-writer.js";
import { clusterConflist, MODES, startTestNode, type TestNode, type TestPod } from "../support/plexus-node.js";
import { isRoot } from "../support/root.js";
import { errorOf } from "../support/plexus.js";

describe.skipIf(!isRoot).each(MODES)("%s mode: DEL of a pod Multus set up", (mode) => {
  let n: TestNode;
  let multusDir: string;
  let master: string;
  let bridgeB: string;

  beforeAll(async () => {
    n = await startTestNode(`mig${mode[0]}`, { mode });
    multusDir = join(n.dir, "multus");
    master = `${n.net.prefix}m`.slice(-15);
    bridgeB = `${n.net.prefix}b`.slice(-15);
    await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
    await execIn(n.node, ["ip", "link", "set", master, "up"]);
  });
  afterAll(async () => {
    await n?.cleanup();
  });

  /** What Multus ran for the pod: the cluster network (a conflist), a macvlan NAD (a conf) and a bridge NAD with a requested name. */
  function delegates(): MultusDelegateSpec[] {
    const ipam = (subnet: string) => ({ type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet }]] });
    return [
      { name: "cluster", config: clusterConflist(`${n.net.prefix}c`.slice(0, 15), n.ipamDir) },
      {
        name: "default/macvlan-conf",
        config: {
          cniVersion: "1.0.0",
          name: "macvlan-conf",
          type: "macvlan",
          master,
          mode: "bridge",
          ipam: ipam("198.18.9.0/24"),
        },
      },
      {
        name: "default/bridge-b",
        ifnameRequest: "data0",
        config: {
          cniVersion: "0.4.0",
          name: "bridge-b",
          plugins: [{ type: "bridge", bridge: bridgeB, ipam: ipam("198.18.10.0/24") }],
        },
      },
    ];
  }

  async function podLinks(pod: TestPod): Promise<string[]> {
    return (await links(pod.netns))
      .map((l) => l.ifname)
      .filter((name) => name !== "lo")
      .sort();
  }

  async function nodePorts(): Promise<string[]> {
    return (await links(n.node)).filter((l) => l.master !== undefined).map((l) => `${l.ifname}@${l.master}`);
  }

  it("leaves no link, no lease and no file of Multus's behind, and a repeated DEL is a no-op", async () => {
    const pod = await n.createPod("default", "set-up-by-multus", {
      "k8s.v1.cni.cncf.io/networks": "macvlan-conf,bridge-b@data0",
    });
    const runtime = createRuntime({
      binDirs: [...n.cniPath],
      env: fakePluginEnv(),
      wrap: (argv) => ["ip", "netns", "exec", n.node.name, ...argv],
    });
    const portsBefore = await nodePorts();
    const files = await setUpLikeMultus(
      runtime,
      multusDir,
      { namespace: pod.namespace, name: pod.name, uid: pod.uid, containerId: pod.containerId, netns: pod.netns.path },
      delegates(),
    );
    // What Multus left: three interfaces, three leases, a veth on each bridge, four files.
    expect(await podLinks(pod)).toEqual(["data0", "eth0", "net1"]);
    expect(await n.leases()).toHaveLength(3);
    expect((await nodePorts()).length).toBe(portsBefore.length + 2);
    expect(files).toHaveLength(4);

    const del = await n.del(pod, { conf: n.conf({ multusCniDir: multusDir }) });
    expect(del.code, del.stdout + del.stderr).toBe(0);

    expect(await podLinks(pod)).toEqual([]);
    expect(await n.leases()).toEqual([]);
    expect(await nodePorts()).toEqual(portsBefore);
    expect(await readdir(multusDir)).toEqual(["results"]);
    expect(await readdir(join(multusDir, "results"))).toEqual([]);
    // The runtime's repeated DELs (empty CNI_NETNS): Plexus's tombstone answers them.
    for (const netns of [pod.netns.path, ""]) {
      const again = await n.del(pod, { netns, conf: n.conf({ multusCniDir: multusDir }) });
      expect(again.code, again.stdout + again.stderr).toBe(0);
    }
  });

  it("a DEL that cannot run the delegates fails naming the pod, and keeps Multus's cache for the runtime's next DEL", async () => {
    const pod = await n.createPod("default", "half-broken", {});
    const runtime = createRuntime({
      binDirs: [...n.cniPath],
      env: fakePluginEnv(),
      wrap: (argv) => ["ip", "netns", "exec", n.node.name, ...argv],
    });
    await setUpLikeMultus(
      runtime,
      multusDir,
      { namespace: pod.namespace, name: pod.name, uid: pod.uid, containerId: pod.containerId, netns: pod.netns.path },
      delegates().slice(0, 2),
    );
    // No plugin where this DEL looks: nothing can run.
    const broken = await n.del(pod, {
      conf: n.conf({ multusCniDir: multusDir, binDir: "/nonexistent" }),
      cniPath: ["/nonexistent"],
    });
    expect(broken.code).not.toBe(0);
    expect(errorOf(broken).msg).toContain("default/half-broken: DEL of the networks Multus set up failed for 2 of 2");
    expect(await readdir(multusDir)).toContain(pod.containerId);
    const retry = await n.del(pod, { conf: n.conf({ multusCniDir: multusDir }) });
    expect(retry.code, retry.stdout + retry.stderr).toBe(0);
    expect(await podLinks(pod)).toEqual([]);
    expect(await n.leases()).toEqual([]);
    expect(await readdir(multusDir)).toEqual(["results"]);
  });
});
