// npm run bench (test/bench/run.sh): what Plexus costs on top of the delegates it runs.
// For pods with 1, 3 and 8 attachments (bridge cluster network, macvlan and bridge
// secondaries), ADD then DEL, once with the delegates executed directly (as a runtime would
// run each network itself) and once through dist/plexus with the local API server. Prints
// median and p95 per operation, the ratio plexus/direct, API requests per ADD and DEL, and
// plexus's peak memory. Everything runs inside a throwaway node namespace; plugins get the
// small environment a runtime gives them.

import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { ENV, ip, markdownTable, run, runInNodeNamespace, type Call } from "./harness.js";

const PLUGINS = "/usr/lib/cni";
const PLEXUS = resolve("dist/plexus");
const ITERATIONS = Number(process.env["BENCH_ITERATIONS"] ?? 15);
const SIZES = [1, 3, 8];

// ---------------------------------------------------------------- inner: inside the node namespace
interface Net {
  name: string;
  conf: Record<string, unknown>;
  ref: string;
}

function networks(dir: string, master: string, prefix: string): Net[] {
  const ipam = (k: number) => ({
    type: "host-local",
    dataDir: join(dir, "ipam"),
    ranges: [[{ subnet: `198.18.${k}.0/24` }]],
  });
  const nets: Net[] = [
    {
      name: "cluster",
      ref: "cluster",
      conf: {
        cniVersion: "1.0.0",
        name: "cluster",
        type: "bridge",
        bridge: `${prefix.slice(-9)}c`,
        isGateway: true,
        ipam: ipam(0),
      },
    },
  ];
  for (let k = 1; k < 8; k++) {
    const name = `sec${k}`;
    const conf =
      k % 2 === 1
        ? { cniVersion: "1.0.0", name, type: "macvlan", master, mode: "bridge", ipam: ipam(k) }
        : { cniVersion: "1.0.0", name, type: "bridge", bridge: `${prefix.slice(-9)}b${k}`, ipam: ipam(k) };
    nets.push({ name, ref: `bench/${name}`, conf });
  }
  return nets;
}

async function direct(
  command: "ADD" | "DEL",
  nets: Net[],
  pod: { netns: string; id: string },
  results: Map<string, unknown>,
): Promise<number> {
  const ordered = command === "ADD" ? nets : [...nets].reverse();
  let total = 0;
  for (const [i, net] of ordered.entries()) {
    const index = command === "ADD" ? i : nets.length - 1 - i;
    const ifName = index === 0 ? "eth0" : `net${index}`;
    const env = {
      ...ENV,
      CNI_COMMAND: command,
      CNI_CONTAINERID: pod.id,
      CNI_NETNS: pod.netns,
      CNI_IFNAME: ifName,
      CNI_ARGS: "IgnoreUnknown=1",
      CNI_PATH: PLUGINS,
    };
    const prev = results.get(net.name);
    const stdin = JSON.stringify(command === "DEL" && prev ? { ...net.conf, prevResult: prev } : net.conf);
    const out = await run([join(PLUGINS, String(net.conf["type"]))], env, stdin);
    if (out.code !== 0) throw new Error(`direct ${command} ${net.name}: ${out.stdout}${out.stderr}`);
    if (command === "ADD") results.set(net.name, JSON.parse(out.stdout));
    total += out.ms;
  }
  return total;
}

async function plexus(
  command: "ADD" | "DEL",
  conf: unknown,
  pod: { netns: string; id: string; name: string },
  wrap: string[] = [],
): Promise<Call> {
  const env = {
    ...ENV,
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.id,
    CNI_NETNS: pod.netns,
    CNI_IFNAME: "eth0",
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.id}`,
    CNI_PATH: PLUGINS,
  };
  const out = await run([...wrap, PLEXUS], env, JSON.stringify(conf));
  if (out.code !== 0) throw new Error(`plexus ${command}: ${out.stdout}${out.stderr}`);
  return out;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
}

async function inner(): Promise<void> {
  const prefix = process.env["BENCH_PREFIX"] as string;
  const dir = mkdtempSync(join(tmpdir(), "plexus-bench-"));
  const api: LocalApiServer = await startLocalApiServer({ crdDir: resolve("crds") });
  try {
    const master = `${prefix.slice(-10)}m`;
    ip("link", "add", master, "type", "veth", "peer", "name", `${master}p`);
    ip("link", "set", master, "up");
    ip("link", "set", `${master}p`, "up");
    const nets = networks(dir, master, prefix);
    await api.writeKubeconfig(join(dir, "kubeconfig"));
    writeFileSync(join(dir, "cluster.conf"), JSON.stringify(nets[0]?.conf));
    api.store.create({ resource: "namespaces" }, { metadata: { name: "bench" } });
    for (const net of nets.slice(1)) {
      api.store.create(
        { group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" },
        { metadata: { name: net.name, namespace: "bench" }, spec: { config: JSON.stringify(net.conf) } },
      );
    }
    const conf = {
      cniVersion: "1.0.0",
      name: "plexus",
      type: "plexus",
      kubeconfig: join(dir, "kubeconfig"),
      clusterNetwork: join(dir, "cluster.conf"),
      cniDir: join(dir, "state"),
      binDir: PLUGINS,
    };
    const rows: string[][] = [];
    let seq = 0;
    for (const size of SIZES) {
      const used = nets.slice(0, size);
      const t = {
        directAdd: [] as number[],
        directDel: [] as number[],
        plexusAdd: [] as number[],
        plexusDel: [] as number[],
        apiAdd: [] as number[],
        apiDel: [] as number[],
      };
      for (let i = 0; i <= ITERATIONS; i++) {
        const name = `pod${++seq}`;
        const netnsName = `${prefix}-${name}`;
        ip("netns", "add", netnsName);
        const pod = { name, id: randomUUID().replaceAll("-", ""), netns: `/run/netns/${netnsName}` };
        api.store.create(
          { resource: "pods" },
          {
            metadata: {
              name,
              namespace: "bench",
              annotations: {
                "k8s.v1.cni.cncf.io/networks": used
                  .slice(1)
                  .map((n) => n.name)
                  .join(","),
              },
            },
            spec: { containers: [{ name: "c", image: "pause" }] },
          },
        );
        const results = new Map<string, unknown>();
        const dAdd = await direct("ADD", used, pod, results);
        const dDel = await direct("DEL", used, pod, results);
        api.requestLog.reset();
        const pAdd = await plexus("ADD", conf, pod);
        const apiAdd = api.requestLog.total;
        api.requestLog.reset();
        const pDel = await plexus("DEL", conf, pod);
        const apiDel = api.requestLog.total;
        ip("netns", "delete", netnsName);
        if (i === 0) continue; // warm-up: page cache, first TLS handshake, ...
        t.directAdd.push(dAdd);
        t.directDel.push(dDel);
        t.plexusAdd.push(pAdd.ms);
        t.plexusDel.push(pDel.ms);
        t.apiAdd.push(apiAdd);
        t.apiDel.push(apiDel);
      }
      const memory = await peakMemory(conf, prefix, api, used);
      for (const op of ["ADD", "DEL"] as const) {
        const d = op === "ADD" ? t.directAdd : t.directDel;
        const p = op === "ADD" ? t.plexusAdd : t.plexusDel;
        const calls = op === "ADD" ? t.apiAdd : t.apiDel;
        rows.push([
          String(size),
          op,
          `${quantile(d, 0.5).toFixed(1)} / ${quantile(d, 0.95).toFixed(1)}`,
          `${quantile(p, 0.5).toFixed(1)} / ${quantile(p, 0.95).toFixed(1)}`,
          `${(quantile(p, 0.5) / quantile(d, 0.5)).toFixed(2)}x`,
          `${(quantile(p, 0.5) - quantile(d, 0.5)).toFixed(1)}`,
          String(quantile(calls, 0.5)),
          op === "ADD" ? `${memory.add} MiB` : `${memory.del} MiB`,
        ]);
      }
    }
    print(rows);
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function peakMemory(
  conf: unknown,
  prefix: string,
  api: LocalApiServer,
  used: Net[],
): Promise<{ add: string; del: string }> {
  const name = `mem${used.length}`;
  const netnsName = `${prefix}-${name}`;
  ip("netns", "add", netnsName);
  api.store.create(
    { resource: "pods" },
    {
      metadata: {
        name,
        namespace: "bench",
        annotations: {
          "k8s.v1.cni.cncf.io/networks": used
            .slice(1)
            .map((n) => n.name)
            .join(","),
        },
      },
      spec: { containers: [{ name: "c", image: "pause" }] },
    },
  );
  const pod = { name, id: randomUUID().replaceAll("-", ""), netns: `/run/netns/${netnsName}` };
  const file = join(tmpdir(), `plexus-bench-mem-${process.pid}`);
  const measure = async (op: "ADD" | "DEL") => {
    await plexus(op, conf, pod, ["/usr/bin/time", "-f", "%M", "-o", file]);
    return (Number(readFileSync(file, "utf8").trim()) / 1024).toFixed(1);
  };
  try {
    return { add: await measure("ADD"), del: await measure("DEL") };
  } finally {
    ip("netns", "delete", netnsName);
    rmSync(file, { force: true });
  }
}

function print(rows: string[][]): void {
  const head = [
    "attachments",
    "op",
    "direct ms (median / p95)",
    "plexus ms (median / p95)",
    "ratio",
    "+ms",
    "API requests",
    "plexus peak RSS",
  ];
  process.stdout.write(`\n${markdownTable(head, rows)}`);
  process.stdout.write(
    `\n${ITERATIONS} iterations per size after one warm-up; ${new Date().toISOString()}; node ${process.version}\n`,
  );
}

(process.env["BENCH_INNER"] ? inner() : runInNodeNamespace("pxbench", { BENCH_ITERATIONS: String(ITERATIONS) })).catch(
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
