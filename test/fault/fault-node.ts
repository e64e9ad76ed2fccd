// The node of the fault tier: a test node (test/support/plexus-node.ts) whose every delegate runs
// behind a pausing wrapper (test/support/pausing-plugins.ts): the cluster network is bridge +
// host-local + portmap, the pod's secondary is macvlan + host-local ("slow-macvlan"). A pause
// stops nothing unless a test arms a gate, so the same node serves the kill, race and churn tests.
//
//   const f = await startFaultNode("kill");          afterAll(() => f.cleanup());
//   const pod = await f.pod("a");                    // annotated with slow-macvlan
//   await f.p.arm("ADD-net1-macvlan-before"); const run = f.start("ADD", pod); await f.p.held(...)
//   await f.expectNothingLeft(pod);

import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "vitest";
import { referencePluginDir } from "../support/cni-plugins.js";
import { execIn, links } from "../support/netns.js";
import { createPausingPlugins, type PausingPlugins } from "../support/pausing-plugins.js";
import type { PlexusOutcome, RunningPlexus } from "../support/plexus.js";
import {
  clusterConflist,
  startTestNode,
  type CallOptions,
  type TestNode,
  type TestPod,
} from "../support/plexus-node.js";

export const NETWORKS = "k8s.v1.cni.cncf.io/networks";

export interface FaultNode {
  readonly n: TestNode;
  readonly p: PausingPlugins;
  conf(overrides?: Record<string, unknown>): Record<string, unknown>;
  pod(tag: string): Promise<TestPod>;
  start(command: string, pod: TestPod, options?: CallOptions): RunningPlexus;
  call(command: string, pod: TestPod, options?: CallOptions): Promise<PlexusOutcome>;
  /** No link in the pod or the node beyond what was there before, no lease, no attachment state. */
  expectNothingLeft(pod: TestPod): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startFaultNode(tag: string): Promise<FaultNode> {
  const n = await startTestNode(tag);
  try {
    const real = referencePluginDir();
    const p = await createPausingPlugins(n.dir, real, ["bridge", "host-local", "portmap", "macvlan"]);
    const master = `${n.net.prefix}m`.slice(-15);
    await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
    await execIn(n.node, ["ip", "link", "set", master, "up"]);
    const cluster = clusterConflist(`${n.net.prefix}c`.slice(0, 15), n.ipamDir);
    for (const plugin of cluster.plugins) {
      plugin.type = `pause-${plugin.type}`;
      if (plugin.ipam) plugin.ipam.type = `pause-${plugin.ipam.type}`;
    }
    const clusterFile = join(n.dir, "pause-cluster.conflist");
    await writeFile(clusterFile, JSON.stringify(cluster));
    n.createNad("fault", "slow-macvlan", {
      cniVersion: "1.0.0",
      type: "pause-macvlan",
      master,
      mode: "bridge",
      ipam: { type: "pause-host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.1.0/24" }]] },
    });
    const conf = (overrides: Record<string, unknown> = {}) =>
      n.conf({ clusterNetwork: clusterFile, binDir: p.binDir, ...overrides });
    const options = (o: CallOptions = {}): CallOptions => ({
      conf: conf(),
      cniPath: [p.binDir, real],
      ...o,
      env: { ...p.env, ...o.env },
    });
    let pods = 0;
    const f: FaultNode = {
      n,
      p,
      conf,
      pod: (podTag) => n.createPod("fault", `${podTag}-${++pods}`, { [NETWORKS]: "slow-macvlan" }),
      start: (command, pod, o) => n.start(command, pod, options(o)),
      call: (command, pod, o) => n.start(command, pod, options(o)).done,
      async expectNothingLeft(pod) {
        expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
        expect((await links(n.node)).map((l) => l.ifname).sort()).toEqual(nodeLinks);
        expect(await n.leases()).toEqual([]);
        expect(await attachmentFiles(n.stateDir, pod.containerId)).toEqual([]);
      },
      cleanup: () => n.cleanup(),
    };
    // The cluster bridge stays once created: create it now so it is not counted as a leftover.
    const primer = await f.pod("primer");
    expect((await f.call("ADD", primer)).code).toBe(0);
    expect((await f.call("DEL", primer)).code).toBe(0);
    const nodeLinks = (await links(n.node)).map((l) => l.ifname).sort();
    return f;
  } catch (err) {
    await n.cleanup();
    throw err;
  }
}

/** The container's attachment records (a tombstone of any layout is not one). */
async function attachmentFiles(stateDir: string, containerId: string): Promise<string[]> {
  const names = await readdir(join(stateDir, containerId)).catch(() => [] as string[]);
  return names.filter((f) => f !== "tombstone.json");
}
