// npm run bench -- churn [--history N] [--iterations I] [--checkpoints a,b,...]
//
// Does a node's history cost anything? A pod (the cluster bridge + one macvlan) is ADDed and
// DELed through dist/plexus after 1,000, 10,000 and 100,000 (--history) containers were created
// and deleted on the node, alternating with the same cycle on a state directory without that
// history (so that the load of the machine weighs on both alike); at each checkpoint: the median
// and p95 of ADD and DEL with and without the history, and the size of the state directory
// (files, directories, disk usage).
//
// The history is written by the cache code every ADD and DEL runs (src/cache: two attachment
// records saved, then the container forgotten, which leaves its tombstone), in this process and
// without delegates, 64 at a time: 100,000 real ADD/DEL cycles through dist/plexus take a day on
// two cores (the fault tier's churn test runs 1,000 real ones and checks that each leaves one
// tombstone and nothing else). Everything runs in a throwaway node namespace.

import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createCacheStore } from "../../src/cache/store.js";
import {
  ATTACHMENT_RECORD_KIND,
  ATTACHMENT_RECORD_VERSION,
  AttachmentRecordSchema,
  type AttachmentRecord,
} from "../../src/cache/record.js";
import { startLocalApiServer } from "../../src/local/api-server.js";
import { ENV, ip, markdownTable, run, runInNodeNamespace } from "./harness.js";

const PLUGINS = "/usr/lib/cni";
const PLEXUS = resolve("dist/plexus");
/** History containers written at once: record writes are fsynced, and the disk batches them. */
const SEED_PARALLEL = 64;

const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    history: { type: "string", default: "100000" },
    iterations: { type: "string", default: "15" },
    checkpoints: { type: "string" },
  },
  allowPositionals: true,
});
const HISTORY = Number(opts.history);
const ITERATIONS = Number(opts.iterations);
const CHECKPOINTS = (opts.checkpoints ?? `1000,10000,${HISTORY}`)
  .split(",")
  .map(Number)
  .filter((n) => n > 0)
  .filter((n, i, all) => n <= HISTORY && all.indexOf(n) === i)
  .sort((a, b) => a - b);

// ---------------------------------------------------------------- inner: inside the node namespace

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
}

interface Size {
  readonly files: number;
  readonly dirs: number;
  readonly kib: number;
}

function sizeOf(dir: string): Size {
  if (!existsSync(dir)) return { files: 0, dirs: 0, kib: 0 };
  const count = (type: string) =>
    Number(
      execFileSync("sh", ["-c", `find "$1" -type ${type} | wc -l`, "sh", dir])
        .toString()
        .trim(),
    );
  return {
    files: count("f"),
    dirs: count("d"),
    kib: Number(execFileSync("du", ["-sk", dir]).toString().split("\t")[0]),
  };
}

/** The records a real ADD of the bench pod writes, for the history (same shape, same size). */
function historyRecords(id: string): AttachmentRecord[] {
  const base = {
    kind: ATTACHMENT_RECORD_KIND,
    version: ATTACHMENT_RECORD_VERSION,
    containerId: id,
    primaryIfName: "eth0",
    pod: { namespace: "bench", name: "history", uid: randomUUID() },
    netns: `/var/run/netns/cni-${randomUUID()}`,
    cniArgs: [["K8S_POD_NAMESPACE", "bench"] as [string, string], ["K8S_POD_NAME", "history"] as [string, string]],
    capabilityArgs: {},
    state: "added",
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  };
  const result = (ifName: string, address: string) => ({
    cniVersion: "1.1.0",
    interfaces: [{ name: ifName, mac: "02:00:00:00:00:01", sandbox: base.netns }],
    ips: [{ address, gateway: address.replace(/\.\d+\/\d+$/, ".1"), interface: 0 }],
  });
  // Through the schema that reads them: it brands the IDs as the engine's records have them.
  return [
    {
      ...base,
      ifName: "eth0",
      index: 0,
      role: "cluster",
      networkRef: "cluster",
      config: { cniVersion: "1.0.0", name: "cluster", plugins: [{ type: "bridge", bridge: "cni0" }] },
      result: result("eth0", "198.18.0.2/24"),
    },
    {
      ...base,
      ifName: "net1",
      index: 1,
      role: "selected",
      networkRef: "bench/macvlan",
      config: { cniVersion: "1.0.0", name: "macvlan", plugins: [{ type: "macvlan", master: "eth1" }] },
      result: result("net1", "198.18.1.2/24"),
    },
  ].map((r) => AttachmentRecordSchema.parse(r));
}

async function inner(): Promise<void> {
  const prefix = process.env["BENCH_PREFIX"] as string;
  const dir = mkdtempSync(join(tmpdir(), "plexus-churn-"));
  const stateDir = join(dir, "state");
  const api = await startLocalApiServer({ crdDir: resolve("crds") });
  try {
    const master = `${prefix.slice(-10)}m`;
    ip("link", "add", master, "type", "veth", "peer", "name", `${master}p`);
    ip("link", "set", master, "up");
    const ipam = (k: number) => ({
      type: "host-local",
      dataDir: join(dir, "ipam"),
      ranges: [[{ subnet: `198.18.${k}.0/24` }]],
    });
    await api.writeKubeconfig(join(dir, "kubeconfig"));
    writeFileSync(
      join(dir, "cluster.conf"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "cluster",
        type: "bridge",
        bridge: `${prefix.slice(-9)}c`,
        isGateway: true,
        ipam: ipam(0),
      }),
    );
    api.store.create({ resource: "namespaces" }, { metadata: { name: "bench" } });
    api.store.create(
      { group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" },
      {
        metadata: { name: "macvlan", namespace: "bench" },
        spec: {
          config: JSON.stringify({ cniVersion: "1.0.0", type: "macvlan", master, mode: "bridge", ipam: ipam(1) }),
        },
      },
    );
    api.store.create(
      { resource: "pods" },
      {
        metadata: { name: "churn", namespace: "bench", annotations: { "k8s.v1.cni.cncf.io/networks": "macvlan" } },
        spec: { containers: [{ name: "c", image: "pause" }], nodeName: "node" },
      },
    );
    const confOf = (cniDir: string) =>
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "plexus",
        type: "plexus",
        kubeconfig: join(dir, "kubeconfig"),
        clusterNetwork: join(dir, "cluster.conf"),
        cniDir,
        binDir: PLUGINS,
      });
    const podNetns = `${prefix}-pod`;
    execFileSync("ip", ["netns", "add", podNetns], { stdio: "ignore" });

    const plexus = (command: "ADD" | "DEL", id: string, cniDir: string) =>
      run(
        [PLEXUS],
        {
          ...ENV,
          CNI_COMMAND: command,
          CNI_CONTAINERID: id,
          CNI_NETNS: `/run/netns/${podNetns}`,
          CNI_IFNAME: "eth0",
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=churn;K8S_POD_INFRA_CONTAINER_ID=${id}`,
          CNI_PATH: PLUGINS,
        },
        confOf(cniDir),
      );

    /** One real ADD/DEL cycle through dist/plexus with `cniDir`. */
    async function cycle(cniDir: string): Promise<{ add: number; del: number }> {
      const id = randomUUID().replaceAll("-", "");
      const add = await plexus("ADD", id, cniDir);
      if (add.code !== 0) throw new Error(`ADD: ${add.stdout}`);
      const del = await plexus("DEL", id, cniDir);
      if (del.code !== 0) throw new Error(`DEL: ${del.stdout}`);
      return { add: add.ms, del: del.ms };
    }

    // Two state directories: `fresh` keeps no history but the measured cycles' own, `stateDir`
    // gets the history. Their cycles alternate, so a loaded machine slows both alike.
    const fresh = join(dir, "fresh");
    const store = createCacheStore(stateDir);
    let written = 0;
    let seedMs = 0;
    /** Creates and deletes containers through the cache code until `target` were, SEED_PARALLEL at a time. */
    async function seed(target: number): Promise<void> {
      const started = performance.now();
      const worker = async () => {
        while (written < target) {
          const id = `history${(written++).toString(16).padStart(12, "0")}`;
          for (const r of historyRecords(id)) await store.saveAttachment(r);
          await store.forgetContainer(id, "deleted");
        }
      };
      await Promise.all(Array.from({ length: SEED_PARALLEL }, worker));
      seedMs += performance.now() - started;
    }

    const ms = (xs: readonly number[]) => `${quantile(xs, 0.5).toFixed(0)} / ${quantile(xs, 0.95).toFixed(0)}`;
    const rows: string[][] = [];
    let realCycles = 0;
    for (const checkpoint of CHECKPOINTS) {
      await seed(checkpoint);
      const t = { freshAdd: [] as number[], freshDel: [] as number[], oldAdd: [] as number[], oldDel: [] as number[] };
      for (let i = 0; i <= ITERATIONS; i++) {
        const a = await cycle(fresh);
        const b = await cycle(stateDir);
        if (i === 0) continue; // warm-up
        t.freshAdd.push(a.add);
        t.freshDel.push(a.del);
        t.oldAdd.push(b.add);
        t.oldDel.push(b.del);
      }
      realCycles += ITERATIONS + 1;
      const size = sizeOf(stateDir);
      const history = written + realCycles;
      rows.push([
        history.toLocaleString("en-US"),
        ms(t.freshAdd),
        ms(t.oldAdd),
        (quantile(t.oldAdd, 0.5) / quantile(t.freshAdd, 0.5)).toFixed(2),
        ms(t.freshDel),
        ms(t.oldDel),
        size.files.toLocaleString("en-US"),
        String(size.dirs),
        `${size.kib.toLocaleString("en-US")} KiB`,
      ]);
      process.stderr.write(`churn: ${history} containers in the history measured\n`);
    }
    const header = [
      "deleted containers",
      "ADD ms, no history",
      "ADD ms, this history",
      "ratio",
      "DEL ms, no history",
      "DEL ms, this history",
      "state files",
      "dirs",
      "disk",
    ];
    process.stdout.write(markdownTable(header, rows));
    console.log(
      `\nms: median / p95 of ${ITERATIONS} ADD/DEL cycles through dist/plexus (after one warm-up), alternating between a state dir` +
        ` with no history and the one with the history. History written through the cache code: ${written.toLocaleString("en-US")}` +
        ` containers in ${(seedMs / 1000).toFixed(0)} s (${SEED_PARALLEL} at a time).` +
        `\nstate files: the history's tombstones (at most 256 x 64 = 16,384); dirs: .tombstones, its buckets and the state dir.`,
    );
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

(process.env["BENCH_INNER"] ? inner() : runInNodeNamespace("pxchurn")).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
