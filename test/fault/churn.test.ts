// Churn: pods' sandboxes (a new container ID each, one macvlan secondary each) ADDed and DELed,
// 8 at a time, as a busy node does all day: 1,000 in each mode (in thin mode each call is a Node
// process of its own: 2,000 of them take a few minutes on two cores). Nothing may be left (no
// link, no lease, no record, no lock), and what the history leaves in the state directory is
// bounded: its size after the run is reported (test/support/report.ts; docs/state.md#tombstones).

import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execIn, links } from "../support/netns.js";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  clusterConflist,
  MODES,
  startTestNode,
  type PlexusMode,
  type TestNode,
  type TestPod,
} from "../support/plexus-node.js";
import { report } from "../support/report.js";
import { isRoot } from "../support/root.js";
import { stateEntries } from "../support/state-dir.js";

const CYCLES: Readonly<Record<PlexusMode, number>> = { daemon: 1_000, thin: 1_000 };
const CONCURRENCY = 8;

describe.skipIf(!isRoot).each(MODES)("%s mode: ADD/DEL churn", (mode) => {
  let n: TestNode;
  const pods: TestPod[] = [];
  let nodeLinks: string[];
  let conf: Record<string, unknown>;
  const cycles = CYCLES[mode];

  beforeAll(async () => {
    n = await startTestNode(`churn-${mode}`, { mode });
    const master = `${n.net.prefix}m`.slice(-15);
    await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
    await execIn(n.node, ["ip", "link", "set", master, "up"]);
    n.createNad("churn", "macvlan", {
      cniVersion: "1.0.0",
      type: "macvlan",
      master,
      mode: "bridge",
      ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.1.0/24" }]] },
    });
    // The cluster network without portmap: its iptables runs would be most of the time here.
    const cluster = clusterConflist(`${n.net.prefix}c`.slice(0, 15), n.ipamDir) as { plugins: unknown[] };
    await writeFile(
      join(n.dir, "churn-cluster.conflist"),
      JSON.stringify({ ...cluster, plugins: cluster.plugins.slice(0, 1) }),
    );
    conf = n.conf({ clusterNetwork: join(n.dir, "churn-cluster.conflist"), logLevel: "warn" });
    // One pod (and network namespace) per worker; each cycle is a new sandbox of it.
    for (let i = 0; i < CONCURRENCY; i++)
      pods.push(await n.createPod("churn", `churn-${i}`, { "k8s.v1.cni.cncf.io/networks": "macvlan" }));
    // The cluster bridge stays once created.
    const primer = pods[0] as TestPod;
    expect((await n.add(primer, { conf })).code).toBe(0);
    expect((await n.del(primer, { conf })).code).toBe(0);
    nodeLinks = (await links(n.node)).map((l) => l.ifname).sort();
  });
  afterAll(async () => {
    await n?.cleanup();
  });

  it(
    `${cycles} ADD/DEL cycles at concurrency ${CONCURRENCY}, one macvlan secondary each: nothing left, the state dir stays small`,
    // A limit for a hung run, not a measure: 1,000 thin cycles took 12 min on two cores at load 20.
    { timeout: 2_400_000 },
    async ({ task }) => {
      let next = 0;
      const failures: string[] = [];
      const started = performance.now();
      const worker = async (pod: TestPod) => {
        while (next < cycles) {
          next++;
          const sandbox = { ...pod, containerId: randomUUID().replaceAll("-", "") };
          const add = await n.add(sandbox, { conf });
          if (add.code !== 0) failures.push(`ADD ${sandbox.containerId}: ${add.stdout}`);
          const del = await n.del(sandbox, { conf });
          if (del.code !== 0) failures.push(`DEL ${sandbox.containerId}: ${del.stdout}`);
        }
      };
      await Promise.all(pods.map(worker));
      const seconds = (performance.now() - started) / 1000;
      expect(failures).toEqual([]);
      for (const pod of pods) expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
      expect((await links(n.node)).map((l) => l.ifname).sort()).toEqual(nodeLinks);
      expect(await n.leases()).toEqual([]);
      // Only tombstones remain: no record, no container directory, no lock.
      const entries = await stateEntries(n.stateDir);
      expect(entries.filter((e) => !e.endsWith("/tombstone"))).toEqual([]);
      expect(entries.length).toBe(cycles + 1);
      const files = Number(execFileSync("sh", ["-c", `find "$1" -type f | wc -l`, "sh", n.stateDir]).toString());
      const kib = Number(execFileSync("du", ["-sk", n.stateDir]).toString().split("\t")[0]);
      report(
        task,
        `${mode} mode: ${cycles} ADD/DEL cycles in ${seconds.toFixed(0)} s; state dir after the run: ${files} files (tombstones), ${kib} KiB on disk`,
      );
      // At most 1,001 empty tombstones in at most 257 directories: about a MiB.
      expect(kib).toBeLessThan(1536);
    },
  );
});
