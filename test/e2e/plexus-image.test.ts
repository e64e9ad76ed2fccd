// The image, run as a kubelet runs it: `npm run image`'s OCI archive imported into containerd
// (`ctr -n k8s.io images import`), and the DaemonSet of deploy/ (built by kubectl's kustomize,
// its image rewritten by the `images:` entry) run as a CRI pod on the e2e node: its mounts, env,
// command, security context, memory limits and probes parsed from the manifests
// (support/daemonset-pod.ts). The node has the paths a real node has (/etc/cni/net.d,
// /opt/cni/bin, /run), node-private. The pod's agent installs Plexus in daemon mode, its daemon
// serves the node's pods, and pods get their networks through it; with the pod stopped (a
// rolling update), the node stays configured and the shim's thin fallback serves new pods.

import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { repoRoot } from "../support/plexus.js";
import { isRoot } from "../support/root.js";
import { startContainerd, type ContainerdHandle } from "./support/containerd.js";
import {
  loadDeployManifests,
  runDaemonSetPod,
  type DaemonSetPod,
  type DeployManifests,
} from "./support/daemonset-pod.js";
import {
  createPod,
  createSecondaryNetworks,
  NETWORKS_ANNOTATION,
  networkStatusOf,
  sandboxSpec,
  snapshotNode,
  type NodeSnapshot,
} from "./support/plexus-cluster.js";
import {
  FLANNEL_BRIDGE,
  FLANNEL_NETWORK,
  installFlannelPrimary,
  plexusPaths,
  PLEXUS_NETWORK,
  type PlexusPaths,
} from "./support/plexus-install.js";
import { runSandbox, stopAndRemove } from "./support/plexus-timing.js";
import { runCommand } from "./support/run-command.js";
import { addressesOf, ipAddrs, resolveSandboxNetns } from "./support/sandbox-netns.js";

const ARCHIVE = join(repoRoot, "dist/plexus-image.oci.tar");
const NODE_NAME = "e2e-node";

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

describe.skipIf(!isRoot)("the image, run by containerd as the DaemonSet's pod (skipped unless root)", () => {
  let api: LocalApiServer;
  let h: ContainerdHandle;
  let paths: PlexusPaths;
  let manifests: DeployManifests;
  let ds: DaemonSetPod | undefined;
  let saDir: string;
  let importMs = 0;

  beforeAll(async () => {
    if (!existsSync(ARCHIVE)) throw new Error(`${ARCHIVE} is missing: run \`npm run image\` (test/run.sh does)`);
    api = await startLocalApiServer({ crdDir: join(repoRoot, "crds") });
    h = await startContainerd({ cniPlugins: ["bridge", "host-local", "macvlan", "portmap"], hostCniPaths: true });
    paths = plexusPaths(h);
    await installFlannelPrimary(h, paths);
    await h.waitForNetworkReady({ networkName: FLANNEL_NETWORK });
    manifests = await loadDeployManifests(repoRoot);
    const t0 = performance.now();
    await runCommand(["ctr", "--address", h.paths.socket, "--namespace", "k8s.io", "images", "import", ARCHIVE]);
    importMs = performance.now() - t0;
    saDir = await mkdtemp(join(tmpdir(), "plexus-e2e-sa-"));
    await writeFile(join(saDir, "token"), api.token);
    await writeFile(join(saDir, "ca.crt"), api.caCertPem ?? "");
    await writeFile(join(saDir, "namespace"), "kube-system");
    await createSecondaryNetworks(h, api, paths);
  });

  afterAll(async () => {
    try {
      await h?.stop();
    } finally {
      await api?.stop();
      if (saDir) await rm(saDir, { recursive: true, force: true });
    }
  });

  it("the image deploy/ names (after its images: rewrite) is the one npm run image built", async () => {
    const images = [
      ...manifests.daemonSet.spec.template.spec.initContainers,
      ...manifests.daemonSet.spec.template.spec.containers,
    ].map((c) => c.image);
    const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string };
    expect(new Set(images)).toEqual(new Set([`ghcr.io/plexus-cni/plexus:${pkg.version}`]));
    expect(await h.cri.imageStatus(images[0] as string)).not.toBeNull();
    expect(importMs).toBeGreaterThan(0);
  });

  it("runs the DaemonSet's pod; its probes pass; the agent installs daemon mode from the image's executables", async () => {
    const uid = randomUUID();
    const podName = `plexus-${uid.slice(0, 5)}`;
    api.store.ensureNamespace("kube-system");
    api.store.create(
      { resource: "pods" },
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: podName, namespace: "kube-system", uid },
        spec: { nodeName: NODE_NAME, containers: [{ name: "plexus", image: "plexus" }] },
      },
    );
    const apiPort = await h.forwardToHost(api.port);
    ds = await runDaemonSetPod(h, manifests, {
      podName,
      podUid: uid,
      nodeName: NODE_NAME,
      hostIp: "127.0.0.1",
      apiHost: "127.0.0.1",
      apiPort,
      serviceAccountDir: saDir,
    });
    await ds.waitReady();
    expect(await ds.liveness()).toEqual([]);
    await h.waitForNetworkReady({ networkName: PLEXUS_NETWORK, timeoutMs: 30_000 });
    // Daemon mode: the runtime executes the shim; the image's plexus is beside it as the fallback.
    expect(await sha256(join(h.paths.cniBinDir, "plexus"))).toBe(await sha256(join(repoRoot, "dist/plexus-shim")));
    expect(await sha256(join(h.paths.cniBinDir, "plexus-thin"))).toBe(await sha256(join(repoRoot, "dist/plexus")));
    const conflist = JSON.parse(await readFile(join(h.paths.cniConfDir, "00-plexus.conflist"), "utf8"));
    expect(conflist.plugins[0]).toMatchObject({
      type: "plexus",
      clusterNetwork: "/etc/cni/net.d/10-flannel.conflist",
      binDir: "/opt/cni/bin",
      cniDir: "/var/lib/cni/plexus",
      kubeconfig: "/etc/cni/net.d/plexus.d/plexus.kubeconfig",
    });
  });

  it("a pod gets eth0 from the cluster network and net1 from its NAD through the daemon, and its DEL leaves nothing", async () => {
    const before = await snapshotNode(h, paths);
    const requests = async () => {
      const r = await h.execInNode(["curl", "-s", "http://127.0.0.1:9454/metrics"]);
      return r.stdout
        .split("\n")
        .filter((l) => l.startsWith("plexus_cni_requests_total{") && l.includes('command="ADD"'))
        .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
    };
    const served = await requests();
    const pod = createPod(api, "team-a", "web-0", { [NETWORKS_ANNOTATION]: "macvlan-a" });
    const { id } = await runSandbox(h, paths, pod);
    expect(await requests()).toBe(served + 1);
    const netns = await resolveSandboxNetns(h, id);
    const addrs = await ipAddrs(h, netns);
    expect(addressesOf(addrs, "eth0").some((a) => a.startsWith("198.18.7."))).toBe(true);
    expect(addressesOf(addrs, "net1").some((a) => a.startsWith("198.19.1."))).toBe(true);
    expect(networkStatusOf(api, pod).map((s) => s.interface)).toEqual(["eth0", "net1"]);
    // What an operator sees with `kubectl -n kube-system exec <pod> -c daemon -- plexus inspect`.
    const inspect = await ds?.exec("daemon", ["/usr/local/bin/plexus", "inspect", "--pod", "team-a/web-0"]);
    expect(inspect?.exitCode, inspect?.stderr).toBe(0);
    expect(inspect?.stdout).toMatch(/team-a\/web-0\s+eth0\s+cbr0\s+flannel\+portmap\s+198\.18\.7\.\d+\s+added/);
    expect(inspect?.stdout).toMatch(/team-a\/web-0\s+net1\s+team-a\/macvlan-a\s+macvlan\s+198\.19\.1\.\d+\s+added/);
    await stopAndRemove(h, id);
    // The first pod made Flannel's bridge (cni0), which stays, as on any node; nothing else may.
    const comparable = (s: NodeSnapshot) => ({
      ...s,
      plexusCache: [],
      nodeLinks: s.nodeLinks.filter((l) => l !== FLANNEL_BRIDGE),
    });
    expect(comparable(await snapshotNode(h, paths))).toEqual(comparable(before));
  });

  it("with the DaemonSet's pod stopped (a rolling update), the node stays configured and new pods still get every network", async () => {
    await ds?.stop();
    ds = undefined;
    expect(existsSync(join(h.paths.cniConfDir, "00-plexus.conflist"))).toBe(true);
    const pod = createPod(api, "team-a", "web-1", { [NETWORKS_ANNOTATION]: "macvlan-a" });
    const { id } = await runSandbox(h, paths, pod);
    const addrs = await ipAddrs(h, await resolveSandboxNetns(h, id));
    expect(addressesOf(addrs, "net1").some((a) => a.startsWith("198.19.1."))).toBe(true);
    await stopAndRemove(h, id);
    // A failed call through the thin fallback: the runtime's log holds the error naming the pod and
    // the network, but not the thin executable's own log lines, since libcni copies a plugin's
    // stderr only when the call succeeds (pkg/invoke/raw_exec.go); docs/operator-guide.md, "Logs".
    const broken = createPod(api, "team-a", "broken-0", { [NETWORKS_ANNOTATION]: "broken-c" });
    await expect(h.cri.runPodSandbox(sandboxSpec(broken))).rejects.toThrow(/team-a\/broken-0/);
    const log = await h.logs();
    expect(log).toMatch(
      /level=error msg="RunPodSandbox for [^\n]*broken-0[^\n]*pod team-a\/broken-0: network \\"team-a\/broken-c\\" \(net1\)/,
    );
    expect(log).not.toMatch(/"level":50,[^\n]*"pod":"team-a\/broken-0"/);
  });
});
