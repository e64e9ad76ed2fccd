// The node of the fault tier: a test node (test/support/plexus-node.ts) whose every delegate runs
// behind a pausing wrapper (test/support/pausing-plugins.ts): the cluster network is bridge +
// host-local + portmap, the pod's secondary is macvlan + host-local ("slow-macvlan"). A pause
// stops nothing unless a test arms a gate, so the same node serves the kill and race tests. In
// daemon mode the calls go through the shim to `plexus daemon` (which a test may kill -9 and
// restart); `thin: true` sends one through the shim's thin fallback instead, as when no daemon
// answers.
//
//   const f = await startFaultNode("kill", "thin");  afterAll(() => f.cleanup());
//   const pod = await f.pod("a");                    // annotated with slow-macvlan
//   await f.p.arm("ADD-net1-macvlan-before"); const run = f.start("ADD", pod); await f.p.held(...)
//   await f.expectNothingLeft(pod);

import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "vitest";
import { referencePluginDir } from "../support/cni-plugins.js";
import { execIn, links } from "../support/netns.js";
import { createPausingPlugins, type PausingPlugins } from "../support/pausing-plugins.js";
import { plexusBin, type PlexusOutcome, type RunningPlexus } from "../support/plexus.js";
import { startPlexusDaemon, type TestDaemon } from "../support/plexus-daemon.js";
import {
  clusterConflist,
  startTestNode,
  type CallOptions,
  type PlexusMode,
  type TestNode,
  type TestPod,
} from "../support/plexus-node.js";

export const NETWORKS = "k8s.v1.cni.cncf.io/networks";

export interface FaultCall extends CallOptions {
  /** Daemon mode: through the shim's thin fallback (dist/plexus), as when no daemon answers. */
  readonly thin?: boolean;
}

export interface FaultNode {
  readonly n: TestNode;
  readonly p: PausingPlugins;
  readonly mode: PlexusMode;
  conf(overrides?: Record<string, unknown>): Record<string, unknown>;
  pod(tag: string): Promise<TestPod>;
  start(command: string, pod: TestPod, options?: FaultCall): RunningPlexus;
  call(command: string, pod: TestPod, options?: FaultCall): Promise<PlexusOutcome>;
  /** Daemon mode: the daemon serving now (after restarts). */
  daemon(): TestDaemon;
  /** Daemon mode: kill -9 the daemon and wait until it is gone. */
  killDaemon(): Promise<void>;
  /** Daemon mode: a new daemon on the same socket. */
  restartDaemon(): Promise<void>;
  /** No link in the pod or the node beyond what was there before, no lease, no attachment state. */
  expectNothingLeft(pod: TestPod): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startFaultNode(tag: string, mode: PlexusMode = "thin"): Promise<FaultNode> {
  const n = await startTestNode(tag, { mode });
  const restarted: TestDaemon[] = [];
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
    const options = ({ thin, ...o }: FaultCall = {}): CallOptions => ({
      conf: conf(),
      cniPath: [p.binDir, real],
      ...o,
      env: { ...p.env, ...(thin ? { PLEXUS_THIN: plexusBin } : {}), ...o.env },
    });
    const daemon = () => {
      const d = restarted[restarted.length - 1] ?? n.daemon;
      if (!d) throw new Error("no daemon: this node runs in thin mode");
      return d;
    };
    let pods = 0;
    const f: FaultNode = {
      n,
      p,
      mode,
      conf,
      pod: (podTag) => n.createPod("fault", `${podTag}-${++pods}`, { [NETWORKS]: "slow-macvlan" }),
      start: (command, pod, o) => n.start(command, pod, options(o)),
      call: (command, pod, o) => n.start(command, pod, options(o)).done,
      daemon,
      async killDaemon() {
        const d = daemon();
        d.kill("SIGKILL");
        await d.exited;
      },
      async restartDaemon() {
        restarted.push(
          await startPlexusDaemon({ dir: join(n.dir, "daemon"), kubeconfig: n.kubeconfig, inNetns: n.node }),
        );
      },
      async expectNothingLeft(pod) {
        expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
        expect((await links(n.node)).map((l) => l.ifname).sort()).toEqual(nodeLinks);
        expect(await n.leases()).toEqual([]);
        expect(await attachmentFiles(n.stateDir, pod.containerId)).toEqual([]);
      },
      async cleanup() {
        for (const d of restarted) d.kill("SIGKILL");
        await Promise.all(restarted.map((d) => d.exited));
        await n.cleanup();
      },
    };
    // The cluster bridge stays once created: create it now so it is not counted as a leftover.
    const primer = await f.pod("primer");
    expect((await f.call("ADD", primer)).code).toBe(0);
    expect((await f.call("DEL", primer)).code).toBe(0);
    const nodeLinks = (await links(n.node)).map((l) => l.ifname).sort();
    return f;
  } catch (err) {
    for (const d of restarted) d.kill("SIGKILL");
    await n.cleanup();
    throw err;
  }
}

/** The container's attachment records (a tombstone of any layout is not one). */
async function attachmentFiles(stateDir: string, containerId: string): Promise<string[]> {
  const names = await readdir(join(stateDir, containerId)).catch(() => [] as string[]);
  return names.filter((f) => f !== "tombstone.json");
}
