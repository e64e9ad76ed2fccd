// npm run bench -- executables [EXE ...]: start-up time and memory of plexus executables side by
// side (default: dist/plexus), to choose the Node.js the shipped executables are built with
// (README.md, "Building and developing", has the table). For each executable, interleaved round by
// round so that machine load hits all of them alike: VERSION, then ADD and DEL of a pod with a
// bridge cluster network and one macvlan secondary through the local API server (the thin-mode
// path: the Kubernetes client loaded, one TLS connection, the delegates), each wrapped in
// /usr/bin/time for its peak RSS. Prints median / p95 ms and median peak RSS per operation.
// Then each executable as the daemon: its memory idle, during a 30-pod burst and after.
// Plugins get the small environment a runtime gives them. Root (a throwaway node namespace).

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { ENV, ip, markdownTable, runInNodeNamespace } from "./harness.js";

const PLUGINS = "/usr/lib/cni";
const ROUNDS = Number(process.env["BENCH_ITERATIONS"] ?? 15);

interface Sample {
  ms: number;
  /** user + system CPU time (/usr/bin/time, 10 ms resolution: compared by the mean). */
  cpuMs: number;
  rssKiB: number;
  /** Peak RssAnon, sampled every 2 ms: what each concurrent call adds (file pages are shared). */
  anonKiB: number;
}

function rssAnonKiB(pid: number): number {
  try {
    return Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0; // exited between two samples
  }
}

/** Runs argv under /usr/bin/time; resolves with the wall time, the peak RSS and peak anonymous RSS. */
function timed(argv: string[], env: Record<string, string>, stdin: string, rssFile: string): Promise<Sample> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn("/usr/bin/time", ["-f", "%M %U %S", "-o", rssFile, ...argv], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let anonKiB = 0;
    const sampler = setInterval(() => {
      // /usr/bin/time's only child is the executable.
      let kids = "";
      try {
        kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim();
      } catch {
        return; // /usr/bin/time has exited
      }
      if (kids !== "") anonKiB = Math.max(anonKiB, rssAnonKiB(Number(kids.split(" ")[0])));
    }, 2);
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    child.on("error", fail);
    child.on("close", (code) => {
      clearInterval(sampler);
      const ms = performance.now() - started;
      if (code !== 0) return fail(new Error(`${argv.join(" ")} ${env["CNI_COMMAND"] ?? ""} exited ${code}: ${out}`));
      const [rss, user, sys] = readFileSync(rssFile, "utf8").trim().split(/\s+/).map(Number);
      done({ ms, cpuMs: ((user ?? NaN) + (sys ?? NaN)) * 1000, rssKiB: rss ?? NaN, anonKiB });
    });
    child.stdin.end(stdin);
  });
}

async function inner(): Promise<void> {
  const exes = process.argv.slice(2).map((p) => resolve(p));
  if (exes.length === 0) exes.push(resolve("dist/plexus"));
  const prefix = process.env["BENCH_PREFIX"] as string;
  const dir = mkdtempSync(join(tmpdir(), "plexus-bench-exe-"));
  const rssFile = join(dir, "rss");
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
    const cluster = {
      cniVersion: "1.0.0",
      name: "cluster",
      type: "bridge",
      bridge: `${prefix.slice(-9)}c`,
      isGateway: true,
      ipam: ipam(0),
    };
    const macvlan = { cniVersion: "1.0.0", name: "sec", type: "macvlan", master, mode: "bridge", ipam: ipam(1) };
    writeFileSync(join(dir, "cluster.conf"), JSON.stringify(cluster));
    await api.writeKubeconfig(join(dir, "kubeconfig"));
    api.store.create({ resource: "namespaces" }, { metadata: { name: "bench" } });
    api.store.create(
      { group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" },
      { metadata: { name: "sec", namespace: "bench" }, spec: { config: JSON.stringify(macvlan) } },
    );
    const conf = JSON.stringify({
      cniVersion: "1.0.0",
      name: "plexus",
      type: "plexus",
      kubeconfig: join(dir, "kubeconfig"),
      clusterNetwork: join(dir, "cluster.conf"),
      cniDir: join(dir, "state"),
      binDir: PLUGINS,
    });
    const samples = new Map<string, Sample[]>();
    const keep = (exe: string, op: string, s: Sample) => {
      const key = `${exe}\0${op}`;
      samples.set(key, [...(samples.get(key) ?? []), s]);
    };
    let seq = 0;
    for (let round = 0; round <= ROUNDS; round++) {
      for (const exe of exes) {
        const name = `pod${++seq}`;
        const netnsName = `${prefix}-${name}`;
        ip("netns", "add", netnsName);
        const id = randomUUID().replaceAll("-", "");
        api.store.create(
          { resource: "pods" },
          {
            metadata: { name, namespace: "bench", annotations: { "k8s.v1.cni.cncf.io/networks": "sec" } },
            spec: { containers: [{ name: "c", image: "pause" }] },
          },
        );
        const cni = (command: string) => ({
          ...ENV,
          CNI_COMMAND: command,
          CNI_CONTAINERID: id,
          CNI_NETNS: `/run/netns/${netnsName}`,
          CNI_IFNAME: "eth0",
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${id}`,
          CNI_PATH: PLUGINS,
        });
        try {
          const version = await timed([exe], { ...ENV, CNI_COMMAND: "VERSION" }, "{}", rssFile);
          const add = await timed([exe], cni("ADD"), conf, rssFile);
          const del = await timed([exe], cni("DEL"), conf, rssFile);
          if (round === 0) continue; // warm-up: page cache, the API server's first TLS handshake
          keep(exe, "VERSION", version);
          keep(exe, "ADD", add);
          keep(exe, "DEL", del);
        } finally {
          ip("netns", "delete", netnsName);
        }
      }
    }
    print(exes, samples);
    await daemonMemory(exes, { api, dir, prefix, conf, macvlan });
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- each executable as the daemon
const DAEMON_PODS = 30;

function memoryKiB(pid: number, field: "Rss" | "Pss"): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    return Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/**
 * Each executable as `plexus daemon` for a node with 1,000 NADs and 110 pods: its RSS and PSS
 * once the caches are listed (idle), its peak RSS while a burst of 30 pods is ADDed and DELed
 * through dist/plexus-shim (sampled every 20 ms; the delegates are not counted), and after the
 * burst settled. The queue deadline is lifted: on a loaded machine the burst must not fail.
 */
async function daemonMemory(
  exes: readonly string[],
  ctx: { api: LocalApiServer; dir: string; prefix: string; conf: string; macvlan: Record<string, unknown> },
): Promise<void> {
  const { api, dir, prefix, conf, macvlan } = ctx;
  for (let i = 0; i < 1000; i++)
    api.store.create(
      { group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" },
      {
        metadata: { name: `nad-${i}`, namespace: "bench" },
        spec: { config: JSON.stringify({ ...macvlan, name: `nad-${i}` }) },
      },
    );
  for (let i = 0; i < 110; i++)
    api.store.create(
      { resource: "pods" },
      {
        metadata: { name: `node-pod-${i}`, namespace: "bench", annotations: { "k8s.v1.cni.cncf.io/networks": "sec" } },
        spec: { nodeName: "bench", containers: [{ name: "c", image: "pause" }] },
      },
    );
  const rows: string[][] = [];
  for (const exe of exes) {
    const socket = join(dir, `daemon-${rows.length}`, "plexus.sock");
    const args = ["daemon", "--socket", socket, "--kubeconfig", join(dir, "kubeconfig"), "--node-name", "bench"];
    const child = spawn(exe, [...args, "--metrics-address", "off", "--queue-timeout", "600", "--log-level", "warn"], {
      env: ENV,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    child.stderr.on("data", (b) => (log += b));
    try {
      // The socket answers once the daemon serves; its caches list right after.
      for (let i = 0; i < 600 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
      if (!existsSync(socket)) throw new Error(`${exe} daemon did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 5000));
      const pid = child.pid as number;
      const idle = { rss: memoryKiB(pid, "Rss"), pss: memoryKiB(pid, "Pss") };
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, memoryKiB(pid, "Rss") || 0)), 20);
      const pods = Array.from({ length: DAEMON_PODS }, (_, i) => ({
        name: `node-pod-${i}`,
        id: randomUUID().replaceAll("-", ""),
        netns: `${prefix}-d${rows.length}-${i}`,
      }));
      for (const p of pods) ip("netns", "add", p.netns);
      const call = (command: string, p: (typeof pods)[number]) =>
        new Promise<void>((done, fail) => {
          const shim = spawn(resolve("dist/plexus-shim"), [], {
            env: {
              ...ENV,
              PLEXUS_SOCKET: socket,
              PLEXUS_THIN: "/nonexistent",
              CNI_COMMAND: command,
              CNI_CONTAINERID: p.id,
              CNI_NETNS: `/run/netns/${p.netns}`,
              CNI_IFNAME: "eth0",
              CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=${p.id}`,
              CNI_PATH: PLUGINS,
            },
            stdio: ["pipe", "pipe", "ignore"],
          });
          let out = "";
          shim.stdout.on("data", (b) => (out += b));
          shim.on("close", (code) => (code === 0 ? done() : fail(new Error(`${command} ${p.name}: ${out}`))));
          shim.stdin.end(conf);
        });
      try {
        await Promise.all(pods.map((p) => call("ADD", p)));
        await Promise.all(pods.map((p) => call("DEL", p)));
      } finally {
        clearInterval(sampler);
        for (const p of pods) ip("netns", "delete", p.netns);
      }
      await new Promise((r) => setTimeout(r, 3000));
      const after = { rss: memoryKiB(pid, "Rss"), pss: memoryKiB(pid, "Pss") };
      const mib = (k: number) => `${(k / 1024).toFixed(1)} MiB`;
      rows.push([exe, mib(idle.rss), mib(idle.pss), mib(peak), mib(after.rss), mib(after.pss)]);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }
  const head = ["daemon", "idle RSS", "idle PSS", `peak RSS (${DAEMON_PODS}-pod burst)`, "RSS after", "PSS after"];
  process.stdout.write(
    `\n${markdownTable(head, rows)}` +
      `\n1,000 NADs and 110 pods in the API (the daemon caches this node's pods and every NAD); ${new Date().toISOString()}\n`,
  );
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
}

function print(exes: string[], samples: Map<string, Sample[]>): void {
  const rows = exes.flatMap((exe) =>
    ["VERSION", "ADD", "DEL"].map((op) => {
      const s = samples.get(`${exe}\0${op}`) ?? [];
      const ms = s.map((x) => x.ms);
      const mib = (xs: number[]) => `${(quantile(xs, 0.5) / 1024).toFixed(1)} MiB`;
      return [
        exe,
        op,
        `${quantile(ms, 0.5).toFixed(1)} / ${quantile(ms, 0.95).toFixed(1)}`,
        `${(s.reduce((a, x) => a + x.cpuMs, 0) / s.length).toFixed(0)}`,
        mib(s.map((x) => x.rssKiB)),
        mib(s.map((x) => x.anonKiB)),
      ];
    }),
  );
  const head = [
    "executable",
    "op",
    "ms (median / p95)",
    "CPU ms (mean)",
    "peak RSS (median)",
    "peak anon RSS (median)",
  ];
  process.stdout.write(`\n${markdownTable(head, rows)}`);
  process.stdout.write(`\n${ROUNDS} rounds after one warm-up, interleaved; ${new Date().toISOString()}\n`);
}

(process.env["BENCH_INNER"] ? inner() : runInNodeNamespace("pxexe", { BENCH_ITERATIONS: String(ROUNDS) })).catch(
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
