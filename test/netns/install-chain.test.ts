// A node as `plexus install` leaves it, used the way a runtime uses it: the agent installs
// dist/plexus and writes 00-plexus.conflist around the primary (the Flannel or Calico stand-in,
// from their real conflists); then the generated conflist is run like containerd runs it
// (libcni-style: name and cniVersion injected, runtime capabilities offered to what the list
// declares) for pods that also select a macvlan secondary. Everything runs inside a throwaway
// node namespace with the local API server reachable there.

import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNetworkConfig, type NetworkConfigList } from "../../src/cni/conf.js";
import type { ContainerId, IfName } from "../../src/cni/ids.js";
import type { AnyResult } from "../../src/cni/result.js";
import { createRuntime } from "../../src/runtime/runtime.js";
import type { CniRuntime, RuntimeConf } from "../../src/runtime/types.js";
import { fakePluginEnv, referencePluginDir } from "../support/cni-plugins.js";
import { addressesOf, execIn, link, routes } from "../support/netns.js";
import { plexusBin, requireBuiltPlexus } from "../support/plexus.js";
import { startTestNode, type TestNode, type TestPod } from "../support/plexus-node.js";
import { isRoot } from "../support/root.js";
import { buildAgentBundle, primariesDir, runAgent, standinsDir } from "../integration/install-harness.js";
import { z } from "zod";

interface InstalledNode {
  readonly n: TestNode;
  readonly runtime: CniRuntime;
  readonly list: NetworkConfigList;
  readonly master: string;
}

/** A primary's conflist file, as far as the tests adjust it (its first plugin). */
const PrimaryFile = z.looseObject({
  plugins: z.tuple([z.record(z.string(), z.unknown())], z.record(z.string(), z.unknown())),
});

/** A test node with `primary` (adjusted by `adjust`) installed under Plexus by the real agent. */
async function installNode(
  tag: string,
  primary: string,
  adjust: (firstPlugin: Record<string, unknown>, dir: string) => void,
): Promise<InstalledNode> {
  requireBuiltPlexus();
  const n = await startTestNode(tag);
  const master = `${n.net.prefix}m`.slice(-15);
  await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
  await execIn(n.node, ["ip", "link", "set", master, "up"]);
  await execIn(n.node, ["ip", "link", "set", `${master.slice(0, 13)}p`, "up"]);
  const confDir = join(n.dir, "cni-net.d");
  const binDir = join(n.dir, "cni-bin");
  const sa = join(n.dir, "serviceaccount");
  await Promise.all([mkdir(confDir), mkdir(binDir), mkdir(sa)]);
  const conflist = PrimaryFile.parse(JSON.parse(await readFile(join(primariesDir, primary), "utf8")));
  adjust(conflist.plugins[0], n.dir);
  await writeFile(join(confDir, primary), JSON.stringify(conflist, null, 2));
  await writeFile(join(sa, "token"), n.api.token);
  await writeFile(join(sa, "ca.crt"), n.api.caCertPem ?? "");
  const bundle = await buildAgentBundle(n.dir);
  // The machine is the node here (--host-root /): the paths in the generated files are real.
  const installed = await runAgent(
    bundle,
    [
      "--once",
      "--host-root",
      "/",
      "--cni-conf-dir",
      confDir,
      "--cni-bin-dir",
      binDir,
      "--state-dir",
      join(n.dir, "plexus-state"),
      "--plexus-binary",
      plexusBin,
      "--service-account-dir",
      sa,
    ],
    {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: String(n.api.port),
    },
  );
  if (installed.code !== 0) throw new Error(`plexus install failed: ${installed.stderr}`);
  const list = parseNetworkConfig(JSON.parse(await readFile(join(confDir, "00-plexus.conflist"), "utf8")));
  // containerd's CNI_PATH: the bin dir plexus was installed to, with the primary's plugins
  // (the stand-ins) and the reference plugins beside it.
  const runtime = createRuntime({
    binDirs: [binDir, standinsDir, referencePluginDir()],
    env: fakePluginEnv(),
    wrap: (argv) => ["ip", "netns", "exec", n.node.name, ...argv],
  });
  n.createNad("default", "macvlan-conf", {
    cniVersion: "1.0.0",
    type: "macvlan",
    master,
    mode: "bridge",
    ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.9.0/24" }]] },
  });
  return { n, runtime, list, master };
}

/** What containerd sends: the pod's identity in CNI_ARGS, every capability it knows as capability args. */
function runtimeConf(pod: TestPod, hostPort: number): RuntimeConf {
  return {
    containerId: pod.containerId as ContainerId,
    netns: pod.netns.path,
    ifName: "eth0" as IfName,
    args: [
      ["IgnoreUnknown", "1"],
      ["K8S_POD_NAMESPACE", pod.namespace],
      ["K8S_POD_NAME", pod.name],
      ["K8S_POD_INFRA_CONTAINER_ID", pod.containerId],
      ["K8S_POD_UID", pod.uid],
    ],
    capabilityArgs: {
      portMappings: [{ hostPort, containerPort: 80, protocol: "tcp", hostIP: "" }],
      bandwidth: { ingressRate: 8_000_000, ingressBurst: 1_000_000, egressRate: 8_000_000, egressBurst: 1_000_000 },
      "io.kubernetes.cri.pod-annotations": { "k8s.v1.cni.cncf.io/networks": "macvlan-conf" },
    },
  };
}

async function natRules(n: TestNode): Promise<string> {
  return execIn(n.node, ["iptables", "-t", "nat", "-S"]);
}

function ipOf(addresses: string[]): string {
  const first = addresses.find((a) => a.startsWith("198.18."));
  if (!first) throw new Error(`no 198.18 address in ${addresses.join(", ")}`);
  return first.split("/")[0]!;
}

describe.skipIf(!isRoot)("a node installed over the Flannel stand-in", () => {
  let node: InstalledNode;
  const pods: TestPod[] = [];
  const results: AnyResult[] = [];
  const signal = (): AbortSignal => AbortSignal.timeout(60_000);

  beforeAll(async () => {
    node = await installNode("instfl", "10-flannel.conflist", (flannel, dir) => {
      // Where this node's flanneld state lives (keys the real flannel plugin reads).
      flannel["subnetFile"] = join(dir, "subnet.env");
      flannel["dataDir"] = join(dir, "flannel");
      flannel["ipam"] = { dataDir: join(dir, "ipam") };
    });
    await copyFile(join(primariesDir, "subnet.env"), join(node.n.dir, "subnet.env"));
    for (const name of ["web-0", "web-1"])
      pods.push(await node.n.createPod("default", name, { "k8s.v1.cni.cncf.io/networks": "macvlan-conf" }));
  });
  afterAll(async () => {
    await node?.n.cleanup();
  });

  it("the generated conflist offers portMappings (Flannel's portmap) and nothing Flannel does not declare", () => {
    expect(node.list.cniVersion).toBe("0.3.1");
    expect(node.list.plugins.map((p) => [p.type, p.capabilities])).toEqual([["plexus", ["portMappings"]]]);
  });

  it("ADD through the generated config gives eth0 from Flannel and net1 from the macvlan NAD", async () => {
    for (const [i, pod] of pods.entries()) {
      results.push(await node.runtime.addNetworkList(node.list, runtimeConf(pod, 18080 + i), signal()));
      expect(ipOf(await addressesOf(pod.netns, "eth0"))).toMatch(/^198\.18\.7\.\d+$/);
      expect(ipOf(await addressesOf(pod.netns, "net1"))).toMatch(/^198\.18\.9\.\d+$/);
      expect((await link(pod.netns, "net1"))?.linkinfo?.info_kind).toBe("macvlan");
      // Flannel's delegate: isDefaultGateway on the cni0 bridge, the route to the cluster network.
      const r4 = await routes(pod.netns, 4);
      expect(r4.find((r) => r.dst === "default")).toMatchObject({ gateway: "198.18.7.1", dev: "eth0" });
      expect(r4.some((r) => r.dst === "198.18.0.0/16")).toBe(true);
    }
    expect((await link(node.n.node, "cni0"))?.linkinfo?.info_kind).toBe("bridge");
  });

  it("the result names eth0's address first (the pod IP) and lists net1", () => {
    for (const result of results) {
      const r = result as {
        interfaces: { name: string; sandbox?: string }[];
        ips: { address: string; interface: number }[];
      };
      expect(r.interfaces.filter((i) => i.sandbox).map((i) => i.name)).toEqual(["eth0", "net1"]);
      expect(r.interfaces[r.ips[0]!.interface]?.name).toBe("eth0");
      expect(r.ips[0]!.address).toMatch(/^198\.18\.7\.\d+\/24$/);
    }
  });

  it("the runtime's portMappings reach the primary's portmap (DNAT rules in the node)", async () => {
    const rules = await natRules(node.n);
    for (const [i, pod] of pods.entries()) {
      const ip = ipOf(await addressesOf(pod.netns, "eth0"));
      expect(rules).toMatch(
        new RegExp(`--dport ${18080 + i} .*-j DNAT --to-destination ${ip.replaceAll(".", "\\.")}:80`),
      );
    }
  });

  it("pods reach each other on the cluster network and on the macvlan secondary", async () => {
    const [a, b] = pods as [TestPod, TestPod];
    await execIn(a.netns, ["ping", "-c", "1", "-W", "2", "-I", "eth0", ipOf(await addressesOf(b.netns, "eth0"))]);
    await execIn(a.netns, ["ping", "-c", "1", "-W", "2", "-I", "net1", ipOf(await addressesOf(b.netns, "net1"))]);
  });

  it("network-status on the pod: the cluster network (default) then the macvlan", () => {
    const status = node.n.networkStatusOf("default", "web-0");
    expect(status.map((s) => [s.name, s.interface, s.default ?? false])).toEqual([
      ["cbr0", "eth0", true],
      ["default/macvlan-conf", "net1", false],
    ]);
  });

  it("DEL through the generated config tears both down: interfaces, DNAT rules, leases, Flannel's saved config", async () => {
    for (const [i, pod] of pods.entries()) {
      await node.runtime.delNetworkList(node.list, runtimeConf(pod, 18080 + i), results[i], signal());
      expect(await link(pod.netns, "eth0")).toBeUndefined();
      expect(await link(pod.netns, "net1")).toBeUndefined();
    }
    expect(await natRules(node.n)).not.toMatch(/--dport 1808[01]/);
    expect(await node.n.leases()).toEqual([]);
    expect(await readdir(join(node.n.dir, "flannel"))).toEqual([]);
  });
});

describe.skipIf(!isRoot)("a node installed over the Calico stand-in", () => {
  let node: InstalledNode;
  let pod: TestPod;
  let result: AnyResult;
  const signal = (): AbortSignal => AbortSignal.timeout(60_000);

  beforeAll(async () => {
    node = await installNode("instca", "10-calico.conflist", (calico, dir) => {
      calico["standInPool"] = "198.18.64.0/20";
      calico["standInIpamDataDir"] = join(dir, "ipam");
    });
    pod = await node.n.createPod("default", "db-0", { "k8s.v1.cni.cncf.io/networks": "macvlan-conf" });
  });
  afterAll(async () => {
    await node?.n.cleanup();
  });

  it("offers both of Calico's capabilities, portMappings and bandwidth", () => {
    expect(node.list.plugins[0]?.capabilities).toEqual(["portMappings", "bandwidth"]);
  });

  it("ADD gives eth0 a /32 behind the link-local gateway 169.254.1.1, net1 from the macvlan NAD", async () => {
    result = await node.runtime.addNetworkList(node.list, runtimeConf(pod, 18090), signal());
    expect((await addressesOf(pod.netns, "eth0")).filter((a) => a.startsWith("198.18."))).toEqual([
      expect.stringMatching(/^198\.18\.6[4-9]\.\d+\/32$/),
    ]);
    const r4 = await routes(pod.netns, 4);
    expect(r4.find((r) => r.dst === "default")).toMatchObject({ gateway: "169.254.1.1", dev: "eth0" });
    expect(r4.find((r) => r.dst === "169.254.1.1")).toMatchObject({ dev: "eth0" });
    expect(ipOf(await addressesOf(pod.netns, "net1"))).toMatch(/^198\.18\.9\.\d+$/);
  });

  it("the runtime's portMappings and bandwidth reach Calico's portmap and bandwidth plugins", async () => {
    const ip = ipOf(await addressesOf(pod.netns, "eth0"));
    expect(await natRules(node.n)).toMatch(
      new RegExp(`--dport 18090 .*-j DNAT --to-destination ${ip.replaceAll(".", "\\.")}:80`),
    );
    const hostVeth = (result as { interfaces: { name: string; sandbox?: string }[] }).interfaces.find((i) =>
      i.name.startsWith("cali"),
    )?.name;
    expect(hostVeth).toBeDefined();
    expect(await execIn(node.n.node, ["tc", "qdisc", "show", "dev", hostVeth!])).toContain("tbf");
  });

  it("DEL releases everything", async () => {
    await node.runtime.delNetworkList(node.list, runtimeConf(pod, 18090), result, signal());
    expect(await link(pod.netns, "eth0")).toBeUndefined();
    expect(await link(pod.netns, "net1")).toBeUndefined();
    expect(await natRules(node.n)).not.toMatch(/--dport 18090/);
    expect(await node.n.leases()).toEqual([]);
  });
});
