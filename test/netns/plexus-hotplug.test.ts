// Hot-plug (docs/architecture.md#hot-plug) with `plexus local` in daemon mode and the real
// kubectl: a running pod's networks follow its k8s.v1.cni.cncf.io/networks annotation. The
// kernel is read in the pods' namespaces, the leases in host-local's data dirs, the state in the
// state dir. The burst at the end prints the time from an annotation change to the interface
// being up (median and worst; never asserted).

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runCommand } from "../support/netns.js";
import { plexusBin, requireBuiltPlexus } from "../support/plexus.js";
import { isRoot } from "../support/root.js";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const STATUS = "k8s.v1.cni.cncf.io/network-status";
const BURST_PODS = 20;

interface StatusEntry {
  name: string;
  interface: string;
  ips?: string[];
}
interface PodJson {
  metadata: { uid: string; annotations?: Record<string, string> };
}
interface LinkJson {
  ifname: string;
  ifindex: number;
  flags: string[];
  addr_info?: { family: string; local: string }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(100);
  }
}

describe.skipIf(!isRoot)("hot-plug with plexus local and kubectl", () => {
  const NODE = `h${process.pid.toString(36)}`;
  const NODE_NS = `plexus-${NODE}`;
  let dir: string;
  let local: ChildProcess | undefined;
  let output = "";
  let api: { server: string; token: string; ca: string };
  const kubectl = (...args: string[]) =>
    runCommand(
      ["kubectl", "--kubeconfig", join(dir, "state", "kubeconfig"), "--cache-dir", join(dir, "kube-cache"), ...args],
      60_000,
    );
  // host-local keeps a network's leases in <dataDir>/<network name>/, one file per address.
  const ipamDir = () => join(dir, "ipam");
  const ipam = (network: string) => join(ipamDir(), network);
  const nad = (name: string, config: object) => `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: ${name}
spec:
  config: '${JSON.stringify({ cniVersion: "1.0.0", ...config })}'
`;
  const bridgeNad = (name: string, bridge: string, subnet: string, type = "bridge") =>
    nad(name, { type, bridge, ipam: { type: "host-local", dataDir: ipamDir(), ranges: [[{ subnet }]] } });
  const podYaml = (name: string, networks?: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
${networks !== undefined ? `  annotations:\n    ${NETWORKS}: ${networks}\n` : ""}spec:
  containers:
    - name: app
      image: pause
`;
  const apply = async (name: string, yaml: string) => {
    await writeFile(join(dir, `${name}.yaml`), yaml);
    return kubectl("apply", "-f", join(dir, `${name}.yaml`));
  };
  const getPod = async (name: string): Promise<PodJson> => JSON.parse(await kubectl("get", "pod", name, "-o", "json"));
  const statusOf = (pod: PodJson): StatusEntry[] => JSON.parse(pod.metadata.annotations?.[STATUS] ?? "[]");
  const netnsOf = (pod: PodJson) =>
    String(pod.metadata.annotations?.["local.plexus.dev/netns"]).replace("/run/netns/", "");
  const linksIn = async (ns: string): Promise<LinkJson[]> =>
    JSON.parse(await runCommand(["ip", "-n", ns, "-j", "addr"]));
  const ipv4 = (l: LinkJson | undefined) => (l?.addr_info ?? []).filter((a) => a.family === "inet").map((a) => a.local);
  const leases = async (network: string) =>
    (await readdir(ipam(network)).catch(() => [] as string[])).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort();
  const stateFiles = async () => {
    const root = join(dir, "state", "cni");
    const out: string[] = [];
    for (const c of await readdir(root).catch(() => [] as string[])) {
      if (c.startsWith(".")) continue;
      for (const f of await readdir(join(root, c)).catch(() => [] as string[])) out.push(`${c}/${f}`);
    }
    return out;
  };
  const warningEvents = async (pod: string) =>
    kubectl("get", "events", "--field-selector", `involvedObject.name=${pod},type=Warning`, "-o", "json").then(
      (t) => JSON.parse(t).items as { reason: string; message: string }[],
    );
  /** A merge patch of the pod's annotations through the API (what kubectl annotate sends), answered when stored. */
  const annotate = (pod: string, value: string) =>
    new Promise<void>((resolve, reject) => {
      const url = new URL(`${api.server}/api/v1/namespaces/default/pods/${pod}`);
      const body = JSON.stringify({ metadata: { annotations: { [NETWORKS]: value } } });
      const req = request(
        url,
        {
          method: "PATCH",
          ca: api.ca,
          headers: {
            Authorization: `Bearer ${api.token}`,
            "Content-Type": "application/merge-patch+json",
            "Content-Length": Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`PATCH ${pod}: ${res.statusCode}`)),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  beforeAll(async () => {
    requireBuiltPlexus();
    dir = await mkdtemp(join(tmpdir(), "plexus-hotplug-"));
    local = spawn(plexusBin, ["local", "--state-dir", join(dir, "state"), "--node-name", NODE], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    local.stdout?.on("data", (b) => (output += b));
    local.stderr?.on("data", (b) => (output += b));
    for (let i = 0; i < 300 && !output.includes("plexus local is running"); i++) {
      if (local.exitCode !== null) break;
      await sleep(100);
    }
    if (!output.includes("plexus local is running (daemon mode)"))
      throw new Error(`plexus local did not start:\n${output}`);
    const kubeconfig = parseYaml(await readFile(join(dir, "state", "kubeconfig"), "utf8"));
    api = {
      server: kubeconfig.clusters[0].cluster.server,
      token: kubeconfig.users[0].user.token,
      ca: Buffer.from(kubeconfig.clusters[0].cluster["certificate-authority-data"], "base64").toString(),
    };
    // A stand-in for a slow delegate (the bridge plugin after 3 s), to delete a pod mid-hot-plug.
    const slow = join(dir, "state", "bin", "slow-bridge");
    await writeFile(
      slow,
      `#!/bin/sh\n[ "$CNI_COMMAND" = ADD ] && touch ${join(dir, "slow-started")} && sleep 3\nexec ` +
        `/usr/lib/cni/bridge\n`,
    );
    await chmod(slow, 0o755);
    await apply(
      "nads",
      [
        nad("macvlan-demo", {
          type: "macvlan",
          master: "eth1",
          mode: "bridge",
          ipam: { type: "host-local", dataDir: ipamDir(), ranges: [[{ subnet: "198.19.50.0/24" }]] },
        }),
        bridgeNad("bridge-demo", "hpbr0", "198.19.51.0/24"),
        bridgeNad("slow-demo", "hpbr9", "198.19.59.0/24", "slow-bridge"),
        bridgeNad("hp-a", "hpbra", "198.19.52.0/24"),
        bridgeNad("hp-b", "hpbrb", "198.19.53.0/24"),
        bridgeNad("hp-c", "hpbrc", "198.19.54.0/24"),
      ].join("---\n"),
    );
    await apply("web-0", podYaml("web-0", "macvlan-demo"));
    await apply("peer-0", podYaml("peer-0", "bridge-demo"));
    await kubectl("wait", "--for=condition=Ready", "pod/web-0", "pod/peer-0", "--timeout=60s");
  }, 120_000);

  afterAll(async () => {
    if (local && local.exitCode === null) {
      local.kill("SIGINT");
      await new Promise((r) => local?.once("exit", r));
    }
    // By exact prefix, in case plexus local could not clean up after itself.
    const names = (await runCommand(["ip", "netns", "list"]).catch(() => ""))
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "");
    for (const ns of names.filter((n) => n.startsWith(NODE_NS)))
      await runCommand(["ip", "netns", "delete", ns]).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it("kubectl annotate adds net2: it is up with the IP network-status shows and pings a peer; eth0 and net1 are untouched", async () => {
    const web = await getPod("web-0");
    const ns = netnsOf(web);
    const before = await linksIn(ns);
    const peerIp = statusOf(await getPod("peer-0")).find((s) => s.interface === "net1")?.ips?.[0];
    expect(peerIp).toMatch(/^198\.19\.51\./);
    await kubectl("annotate", "pod", "web-0", `${NETWORKS}=macvlan-demo,bridge-demo`, "--overwrite");
    const status = await until("net2 in network-status", async () => {
      const s = statusOf(await getPod("web-0"));
      return s.some((e) => e.interface === "net2") ? s : undefined;
    });
    expect(status.map((s) => [s.name, s.interface])).toEqual([
      ["local-bridge", "eth0"],
      ["default/macvlan-demo", "net1"],
      ["default/bridge-demo", "net2"],
    ]);
    const after = await linksIn(ns);
    const net2 = after.find((l) => l.ifname === "net2");
    expect(net2?.flags).toContain("UP");
    expect(ipv4(net2)).toEqual(status[2]?.ips);
    for (const name of ["eth0", "net1"]) {
      const was = before.find((l) => l.ifname === name);
      const now = after.find((l) => l.ifname === name);
      expect(now?.ifindex).toBe(was?.ifindex);
      expect(ipv4(now)).toEqual(ipv4(was));
    }
    expect(await runCommand(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "5", peerIp as string])).toMatch(
      /1 received/,
    );
    expect(await leases("bridge-demo")).toHaveLength(2);
  });

  it("removing the selection removes net2 and releases its lease; network-status follows", async () => {
    const ns = netnsOf(await getPod("web-0"));
    const net1 = (await linksIn(ns)).find((l) => l.ifname === "net1");
    await kubectl("annotate", "pod", "web-0", `${NETWORKS}=macvlan-demo`, "--overwrite");
    await until("net2 gone from network-status", async () =>
      statusOf(await getPod("web-0")).some((s) => s.interface === "net2") ? undefined : true,
    );
    const links = await linksIn(ns);
    expect(links.map((l) => l.ifname).sort()).toEqual(["eth0", "lo", "net1"]);
    expect(links.find((l) => l.ifname === "net1")?.ifindex).toBe(net1?.ifindex);
    // Only peer-0's lease is left.
    const peerIp = statusOf(await getPod("peer-0")).find((s) => s.interface === "net1")?.ips?.[0];
    expect(await leases("bridge-demo")).toEqual([peerIp]);
    expect((await kubectl("get", "events", "--field-selector", "involvedObject.name=web-0")).toString()).toMatch(
      /RemovedInterface\s+pod\/web-0\s+Remove net2 from default\/bridge-demo/,
    );
  });

  it("a missing NAD: a Warning Event and nothing else changes; creating the NAD attaches it without touching the pod", async () => {
    const ns = netnsOf(await getPod("web-0"));
    const before = await linksIn(ns);
    await kubectl("annotate", "pod", "web-0", `${NETWORKS}=macvlan-demo,late-demo`, "--overwrite");
    const event = await until("the hot-plug failure event", async () =>
      (await warningEvents("web-0")).find((e) => e.reason === "NetworkHotplugFailed"),
    );
    expect(event.message).toMatch(/network-attachment-definition "late-demo" not found in namespace "default"/);
    const links = await linksIn(ns);
    expect(links.map((l) => [l.ifname, l.ifindex, ipv4(l)])).toEqual(before.map((l) => [l.ifname, l.ifindex, ipv4(l)]));
    expect(statusOf(await getPod("web-0")).map((s) => s.interface)).toEqual(["eth0", "net1"]);
    const annotations = (await getPod("web-0")).metadata.annotations;
    await apply("late", bridgeNad("late-demo", "hpbrl", "198.19.55.0/24"));
    const status = await until("late-demo attached", async () => {
      const s = statusOf(await getPod("web-0"));
      return s.some((e) => e.name === "default/late-demo") ? s : undefined;
    });
    expect(status.map((s) => [s.name, s.interface])).toEqual([
      ["local-bridge", "eth0"],
      ["default/macvlan-demo", "net1"],
      ["default/late-demo", "net2"],
    ]);
    expect(ipv4((await linksIn(ns)).find((l) => l.ifname === "net2"))).toEqual(status[2]?.ips);
    expect((await getPod("web-0")).metadata.annotations?.[NETWORKS]).toBe(annotations?.[NETWORKS]);
  });

  it("daemon stopped, annotation changed, daemon started: it converges", async () => {
    const pidFile = join(dir, "state", "run", "daemon.pid");
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    expect(pid).toBeGreaterThan(0);
    // Frozen, it cannot see the change; killed, it never will: only the next daemon can.
    process.kill(pid, "SIGSTOP");
    try {
      await kubectl("annotate", "pod", "web-0", `${NETWORKS}=bridge-demo@data0`, "--overwrite");
    } finally {
      process.kill(pid, "SIGKILL");
    }
    const status = await until("convergence after the restart", async () => {
      const s = statusOf(await getPod("web-0"));
      return s.length === 2 && s[1]?.interface === "data0" ? s : undefined;
    });
    expect(Number((await readFile(pidFile, "utf8")).trim())).not.toBe(pid);
    expect(status.map((s) => [s.name, s.interface])).toEqual([
      ["local-bridge", "eth0"],
      ["default/bridge-demo", "data0"],
    ]);
    const ns = netnsOf(await getPod("web-0"));
    expect((await linksIn(ns)).map((l) => l.ifname).sort()).toEqual(["data0", "eth0", "lo"]);
    expect(await leases("macvlan-demo")).toEqual([]);
    expect(await leases("late-demo")).toEqual([]);
  });

  it("a pod deleted while a hot-plug is in progress leaks nothing (links, leases, state files)", async () => {
    await apply("gone-0", podYaml("gone-0"));
    await kubectl("wait", "--for=condition=Ready", "pod/gone-0", "--timeout=60s");
    const gone = await getPod("gone-0");
    const containerId = await until("gone-0's state", async () => {
      for (const f of await stateFiles()) {
        if (!f.endsWith("/eth0.json")) continue;
        const record = JSON.parse(await readFile(join(dir, "state", "cni", f), "utf8"));
        if (record.pod?.uid === gone.metadata.uid) return f.split("/")[0];
      }
      return undefined;
    });
    await kubectl("annotate", "pod", "gone-0", `${NETWORKS}=slow-demo`, "--overwrite");
    await until("the slow delegate to start", async () => (existsSync(join(dir, "slow-started")) ? true : undefined));
    await kubectl("delete", "pod", "gone-0", "--wait=true");
    const records = async () =>
      (await stateFiles()).filter(
        (f) => f.startsWith(`${containerId}/`) && /\/[^/]+\.json$/.test(f) && !f.endsWith("/tombstone.json"),
      );
    await until("gone-0's records to go", async () => ((await records()).length === 0 ? true : undefined));
    await until("gone-0's namespace to go", async () =>
      (await runCommand(["ip", "netns", "list"])).includes(netnsOf(gone)) ? undefined : true,
    );
    // A delegate the cancel killed must not add anything later: wait out its 3 s.
    await sleep(3500);
    expect(await records()).toEqual([]);
    expect(await leases("slow-demo")).toEqual([]);
    const bridged = await runCommand(["ip", "-n", NODE_NS, "-o", "link", "show", "master", "hpbr9"]).catch(() => "");
    expect(bridged.trim()).toBe("");
  });

  it(`${BURST_PODS} pods each change their networks 5 times in a burst: every final state matches, nothing leaks, no status lost`, async () => {
    const pods = Array.from({ length: BURST_PODS }, (_, i) => `burst-${i}`);
    await apply("burst", pods.map((p) => podYaml(p, "hp-a")).join("---\n"));
    await kubectl("wait", "--for=condition=Ready", ...pods.map((p) => `pod/${p}`), "--timeout=120s");
    const sequence = ["hp-a,hp-b", "hp-b", "hp-b,hp-c", "hp-c", "hp-c,hp-a@fin0"];
    const namespaces = new Map<string, string>();
    for (const p of pods) namespaces.set(p, netnsOf(await getPod(p)));
    // The moment fin0 comes up in each pod, from the kernel's own link notifications.
    const upAt = new Map<string, number>();
    const monitors = pods.map((p) => {
      const m = spawn("ip", ["-n", namespaces.get(p) as string, "-o", "monitor", "link"], {
        stdio: ["ignore", "pipe", "ignore"],
      });
      m.stdout.on("data", (b: Buffer) => {
        if (!upAt.has(p) && /\bfin0\b.*<[^>]*\bUP\b[^>]*\bLOWER_UP\b/.test(b.toString()))
          upAt.set(p, performance.now());
      });
      return m;
    });
    const changedAt = new Map<string, number>();
    try {
      await sleep(300); // the monitors are listening
      await Promise.all(
        pods.map(async (p) => {
          for (const [i, value] of sequence.entries()) {
            if (i === sequence.length - 1) changedAt.set(p, performance.now());
            await annotate(p, value);
          }
        }),
      );
      await until(
        "every pod's final state",
        async () => {
          for (const p of pods) {
            const s = statusOf(await getPod(p));
            if (s.map((e) => e.name).join() !== "local-bridge,default/hp-c,default/hp-a" || s[2]?.interface !== "fin0")
              return undefined;
          }
          return true;
        },
        120_000,
      );
      await until("every fin0 up", async () => (upAt.size === pods.length ? true : undefined), 30_000);
    } finally {
      for (const m of monitors) m.kill();
    }
    const allIps: Record<string, string[]> = { "hp-a": [], "hp-b": [], "hp-c": [] };
    for (const p of pods) {
      const status = statusOf(await getPod(p));
      const links = await linksIn(namespaces.get(p) as string);
      // The kernel has exactly what network-status lists, with the same addresses.
      expect(links.map((l) => l.ifname).sort()).toEqual(["lo", ...status.map((s) => s.interface)].sort());
      for (const s of status) expect(ipv4(links.find((l) => l.ifname === s.interface))).toEqual(s.ips);
      allIps["hp-c"]?.push(...(status[1]?.ips ?? []));
      allIps["hp-a"]?.push(...(status[2]?.ips ?? []));
    }
    for (const [network, ips] of Object.entries(allIps)) expect(await leases(network)).toEqual([...ips].sort());
    const latencies = pods.map((p) => (upAt.get(p) as number) - (changedAt.get(p) as number)).sort((a, b) => a - b);
    const median = ((latencies[9] as number) + (latencies[10] as number)) / 2;
    const worst = latencies[latencies.length - 1] as number;
    process.stdout.write(
      `hot-plug latency (annotation change -> interface up), ${BURST_PODS} pods x ${sequence.length} changes in ` +
        `a burst: median ${median.toFixed(0)} ms, worst ${worst.toFixed(0)} ms\n`,
    );
    const metrics = await runCommand(["ip", "netns", "exec", NODE_NS, "curl", "-s", "127.0.0.1:9454/metrics"]);
    expect(metrics).toMatch(/^plexus_hotplug_operations_total\{operation="attach",outcome="ok"\} [1-9]/m);
    expect(metrics).toMatch(/^plexus_hotplug_reconcile_duration_seconds_count\{outcome="converged"\} [1-9]/m);
  }, 240_000);
});
