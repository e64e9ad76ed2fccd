// The demo (README: `sudo npm run demo`): Plexus on this machine, no cluster needed.
//  1. a Flannel stand-in as the cluster network (the real Flannel cannot run here), as on a
//     node where Flannel was installed first;
//  2. `plexus local`: the local API server, a node namespace, `plexus install` around the
//     Flannel config, and a node simulator doing what kubelet + containerd do; in daemon mode
//     (the default; `npm run demo -- --mode thin` for thin mode) `plexus daemon` runs in the
//     node namespace and the CNI plugin is the shim;
//  3. the real kubectl applies two NetworkAttachmentDefinitions and two annotated pods;
//  4. each pod's interfaces and IPs from network-status, beside what the kernel shows;
//  5. a ping between the pods over the macvlan network, and the daemon's metrics;
//  6. everything torn down.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const STATE = "/run/plexus-demo";
const REPO = resolve(".");
const PLEXUS = join(REPO, "dist/plexus");
const KUBECONFIG = join(STATE, "kubeconfig");
const MODE = process.argv.includes("--mode") ? process.argv[process.argv.indexOf("--mode") + 1] : "daemon";
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function say(text: string): void {
  process.stdout.write(`\n${bold(`==> ${text}`)}\n`);
}

function sh(argv: string[], options: { quiet?: boolean } = {}): string {
  // kubectl's discovery cache goes with the demo's state, not into ~/.kube.
  if (argv[0] === "kubectl") argv = [...argv, "--cache-dir", join(STATE, "kube-cache")];
  const out = execFileSync(argv[0] as string, argv.slice(1), {
    env: { ...process.env, KUBECONFIG },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (!options.quiet) process.stdout.write(out);
  return out;
}

function prepareNode(): void {
  rmSync(STATE, { recursive: true, force: true });
  for (const dir of ["net.d", "bin", "ipam", "flannel"]) mkdirSync(join(STATE, dir), { recursive: true, mode: 0o700 });
  // What flanneld would have written, and flannel's own conflist, pointed at the demo's dirs.
  writeFileSync(
    join(STATE, "subnet.env"),
    "FLANNEL_NETWORK=198.18.0.0/16\nFLANNEL_SUBNET=198.18.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n",
  );
  const flannel = JSON.parse(readFileSync(join(REPO, "test/fixtures/primaries/10-flannel.conflist"), "utf8"));
  Object.assign(flannel.plugins[0], {
    subnetFile: join(STATE, "subnet.env"),
    dataDir: join(STATE, "flannel"),
    ipam: { dataDir: join(STATE, "ipam") },
  });
  writeFileSync(join(STATE, "net.d/10-flannel.conflist"), JSON.stringify(flannel, null, 2));
  copyFileSync(join(REPO, "test/fixtures/standins/flannel"), join(STATE, "bin/flannel"));
  execFileSync("chmod", ["0755", join(STATE, "bin/flannel")]);
}

async function startNode(): Promise<ChildProcess> {
  const child = spawn(PLEXUS, ["local", "--state-dir", STATE, "--mode", MODE ?? ""], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (b) => (log += b));
  child.stderr?.on("data", (b) => (log += b));
  for (let i = 0; i < 100 && !existsSync(join(STATE, "ready")); i++) {
    if (child.exitCode !== null) throw new Error(`plexus local exited:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!existsSync(join(STATE, "ready"))) throw new Error(`plexus local did not start:\n${log}`);
  return child;
}

interface Row {
  pod: string;
  iface: string;
  network: string;
  status: string;
  kernel: string;
}

function table(rows: Row[]): void {
  const head: Row = {
    pod: "POD",
    iface: "INTERFACE",
    network: "NETWORK (network-status)",
    status: "IPS (network-status)",
    kernel: "IPS (kernel)",
  };
  const keys = Object.keys(head) as (keyof Row)[];
  const width = keys.map((k) => Math.max(...[head, ...rows].map((r) => r[k].length)));
  for (const r of [head, ...rows])
    process.stdout.write(`  ${keys.map((k, i) => r[k].padEnd(width[i] ?? 0)).join("   ")}\n`);
}

function kernelAddresses(netns: string): Map<string, string[]> {
  const links = JSON.parse(sh(["ip", "-j", "-n", netns, "addr"], { quiet: true })) as {
    ifname: string;
    addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
  }[];
  return new Map(
    links.map((l) => [
      l.ifname,
      l.addr_info.filter((a) => a.scope === "global").map((a) => `${a.local}/${a.prefixlen}`),
    ]),
  );
}

function podView(name: string): { rows: Row[]; netns: string; ips: Map<string, string[]> } {
  const pod = JSON.parse(sh(["kubectl", "get", "pod", name, "-o", "json"], { quiet: true }));
  const netns = String(pod.metadata.annotations["local.plexus.dev/netns"]).replace("/run/netns/", "");
  const statuses = JSON.parse(pod.metadata.annotations["k8s.v1.cni.cncf.io/network-status"]) as {
    name: string;
    interface: string;
    ips?: string[];
    default?: boolean;
  }[];
  const kernel = kernelAddresses(netns);
  const rows = statuses.map((s) => ({
    pod: name,
    iface: s.interface,
    network: `${s.name}${s.default ? " (default)" : ""}`,
    status: (s.ips ?? []).join(", "),
    kernel: (kernel.get(s.interface) ?? []).join(", "),
  }));
  return { rows, netns, ips: new Map(statuses.map((s) => [s.interface, s.ips ?? []])) };
}

async function main(): Promise<void> {
  say("a node whose cluster network is Flannel (a stand-in: the real Flannel cannot run here)");
  prepareNode();
  say(
    MODE === "daemon"
      ? "plexus local: API server, node namespace, plexus install --once --mode daemon, plexus daemon, node simulator"
      : "plexus local: API server, node namespace, plexus install --once --mode thin, node simulator",
  );
  const node = await startNode();
  try {
    process.stdout.write(readFileSync(join(STATE, "net.d/00-plexus.conflist"), "utf8"));
    say("kubectl apply: two NetworkAttachmentDefinitions and two annotated pods");
    sh(["kubectl", "apply", "-f", "examples/demo/networks.yaml"]);
    sh(["kubectl", "apply", "-f", "examples/demo/pods.yaml"]);
    sh(["kubectl", "wait", "--for=condition=Ready", "pod/web-0", "pod/web-1", "--timeout=60s"]);
    sh(["kubectl", "get", "pods", "-o", "wide"]);
    say("each pod's interfaces: network-status (what Plexus published) beside the kernel");
    const views = ["web-0", "web-1"].map(podView);
    table(views.flatMap((v) => v.rows));
    const mismatches = views
      .flatMap((v) => v.rows)
      .filter(
        (r) =>
          r.status !==
          r.kernel
            .split(", ")
            .map((a) => a.split("/")[0])
            .join(", "),
      );
    process.stdout.write(
      mismatches.length === 0
        ? "  network-status and the kernel agree\n"
        : `  MISMATCH: ${JSON.stringify(mismatches)}\n`,
    );
    say("web-0 pings web-1 over the macvlan network (net1)");
    const target = views[1]?.ips.get("net1")?.[0] as string;
    sh(["ip", "netns", "exec", views[0]?.netns as string, "ping", "-c", "3", "-W", "2", "-I", "net1", target]);
    if (MODE === "daemon") {
      say("the node's plexus daemon served every CNI call: a few of its metrics (curl 127.0.0.1:9454/metrics)");
      const metrics = sh(["ip", "netns", "exec", "plexus-local", "curl", "-s", "127.0.0.1:9454/metrics"], {
        quiet: true,
      });
      process.stdout.write(
        metrics
          .split("\n")
          .filter(
            (l) =>
              /^plexus_(cni_requests_total|delegate_duration_seconds_count|cni_requests_in_flight) /.test(l) ||
              /^plexus_(cni_requests_total|delegate_duration_seconds_count)\{/.test(l),
          )
          .map((l) => `  ${l}\n`)
          .join(""),
      );
    }
    say("kubectl delete the pods: Plexus tears their networks down");
    sh(["kubectl", "delete", "-f", "examples/demo/pods.yaml", "--wait=true"]);
    // The node tears a pod's network down after the API has deleted it, as a kubelet does.
    let left = views;
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      left = views.filter((v) => sh(["ip", "netns", "list"], { quiet: true }).includes(v.netns));
    }
    process.stdout.write(
      left.length === 0
        ? "  the pods' network namespaces are gone\n"
        : `  still there: ${left.map((v) => v.netns).join(", ")}\n`,
    );
    if (mismatches.length > 0 || left.length > 0) process.exitCode = 1;
  } finally {
    say("tearing down: plexus local stops, the node namespace and the demo's files go");
    node.kill("SIGINT");
    await new Promise((r) => node.once("exit", r));
    rmSync(STATE, { recursive: true, force: true });
    const leftovers = sh(["ip", "netns", "list"], { quiet: true })
      .split("\n")
      .filter((l) => l.startsWith("plexus-local"));
    process.stdout.write(
      leftovers.length === 0 ? "  nothing left behind\n" : `  left behind: ${leftovers.join(", ")}\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
