// The reference plugins run through createRuntime inside a throwaway "node" namespace (the
// plugin processes themselves run there, via `wrap`), attaching throwaway "pod" namespaces.
// Assertions read the kernel with `ip -j`; host-local keeps its leases in a temp dir.
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNetworkConfig } from "../../src/cni/conf.js";
import { CniError } from "../../src/cni/error.js";
import { parseContainerId, parseIfName } from "../../src/cni/ids.js";
import { isResult100 } from "../../src/cni/result.js";
import { runInNetns } from "../../src/runtime/run-in-netns.js";
import { createRuntime } from "../../src/runtime/runtime.js";
import type { CniRuntime, RuntimeConf } from "../../src/runtime/types.js";
import { referencePluginDir } from "../support/cni-plugins.js";
import {
  addressesOf,
  createNetScope,
  execIn,
  link,
  links,
  readSysctl,
  routes,
  runCommand,
  shortName,
  wrapInNetns,
  type Netns,
} from "../support/netns.js";
import { isRoot } from "../support/root.js";

const never = new AbortController().signal;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

describe.skipIf(!isRoot)("reference plugins through the runtime, inside a node namespace", () => {
  const net = createNetScope("rtbr");
  let node: Netns;
  let runtime: CniRuntime;
  let dataDir: string;
  let podSeq = 0;

  beforeAll(async () => {
    node = await net.netns("node");
    dataDir = await mkdtemp(join(tmpdir(), "plexus-ipam-"));
    runtime = createRuntime({
      binDirs: [referencePluginDir()],
      env: { PATH },
      wrap: wrapInNetns(node),
      timeoutMs: 30_000,
    });
  });
  afterAll(async () => {
    await net.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function pod(): Promise<{ ns: Netns; rt: RuntimeConf }> {
    const ns = await net.netns(`pod${++podSeq}`);
    const rt: RuntimeConf = {
      containerId: parseContainerId(`${net.prefix}-c${podSeq}`),
      netns: ns.path,
      ifName: parseIfName("net1"),
      args: [
        ["K8S_POD_NAMESPACE", "default"],
        ["K8S_POD_NAME", `pod${podSeq}`],
      ],
      capabilityArgs: {},
    };
    return { ns, rt };
  }

  function bridgeList(version: string, subnet: number, extra: object[] = []) {
    return parseNetworkConfig({
      cniVersion: version,
      name: `${net.prefix}-n${subnet}`,
      plugins: [
        {
          type: "bridge",
          bridge: shortName("pxbr"),
          isGateway: true,
          ipam: {
            type: "host-local",
            dataDir,
            ranges: [[{ subnet: `198.18.${subnet}.0/24` }], [{ subnet: `fd00:198:${subnet}::/64` }]],
          },
        },
        ...extra,
      ],
    });
  }

  const leases = async (network: string): Promise<string[]> =>
    existsSync(join(dataDir, network))
      ? (await readdir(join(dataDir, network))).filter((f) => /^[0-9a-f.:]+$/.test(f))
      : [];

  // Every version the installed plugins speak where runtime behaviour differs: prevResult on
  // DEL and CHECK exist from 0.4.0 on.
  it.each([
    { version: "0.3.1", subnet: 10 },
    { version: "0.4.0", subnet: 11 },
    { version: "1.0.0", subnet: 12 },
  ])("bridge + host-local $version: ADD, CHECK, DEL, DEL again", async ({ version, subnet }) => {
    const { ns, rt } = await pod();
    const list = bridgeList(version, subnet);
    const bridgeName = list.plugins[0]!.raw["bridge"] as string;

    const result = await runtime.addNetworkList(list, rt, never);
    expect(result.cniVersion).toBe(version);
    expect(await addressesOf(ns, "net1")).toEqual(
      expect.arrayContaining([`198.18.${subnet}.2/24`, `fd00:198:${subnet}::2/64`]),
    );
    expect((await link(node, bridgeName))?.linkinfo?.info_kind).toBe("bridge");
    expect(await addressesOf(node, bridgeName)).toContain(`198.18.${subnet}.1/24`);
    const hostVeths = (await links(node)).filter((l) => l.master === bridgeName);
    expect(hostVeths).toHaveLength(1);
    expect(await runCommand(["ip", "-o", "link", "show"])).not.toContain(bridgeName); // the machine's namespace is untouched
    expect((await leases(list.name)).sort()).toEqual([`198.18.${subnet}.2`, `fd00:198:${subnet}::2`].sort());

    if (version !== "0.3.1") await runtime.checkNetworkList(list, rt, result, never);
    await runtime.delNetworkList(list, rt, result, never);
    expect(await link(ns, "net1")).toBeUndefined();
    expect(await link(node, hostVeths[0]!.ifname)).toBeUndefined();
    expect(await leases(list.name)).toEqual([]);
    // The runtime's repeated DEL: no netns, no prevResult. It must succeed.
    await runtime.delNetworkList(list, { ...rt, netns: "" }, undefined, never);
  });

  it("tuning chained after bridge gets the mac capability as runtimeConfig and sets a sysctl", async () => {
    const { ns, rt } = await pod();
    const mac = "02:00:c6:12:14:07";
    const list = bridgeList("1.0.0", 20, [
      { type: "tuning", capabilities: { mac: true }, sysctl: { "net.ipv4.conf.net1.arp_notify": "1" } },
    ]);
    const result = await runtime.addNetworkList(list, { ...rt, capabilityArgs: { mac } }, never);
    expect((await link(ns, "net1"))?.address).toBe(mac);
    expect(await readSysctl(ns, "net/ipv4/conf/net1/arp_notify")).toBe("1");
    expect(isResult100(result) && result.interfaces?.find((i) => i.name === "net1")?.mac).toBe(mac);
    await runtime.delNetworkList(list, rt, result, never);
    expect(await link(ns, "net1")).toBeUndefined();
  });

  it("portmap and bandwidth receive their runtimeConfig and act on the node namespace", async () => {
    const { ns, rt } = await pod();
    const list = bridgeList("1.0.0", 21, [
      { type: "portmap", capabilities: { portMappings: true } },
      { type: "bandwidth", capabilities: { bandwidth: true } },
    ]);
    const capabilityArgs = {
      portMappings: [{ hostPort: 18080, containerPort: 80, protocol: "tcp" }],
      bandwidth: { ingressRate: 1_000_000, ingressBurst: 100_000, egressRate: 2_000_000, egressBurst: 200_000 },
    };
    const result = await runtime.addNetworkList(list, { ...rt, capabilityArgs }, never);
    const nat = await execIn(node, ["iptables", "-t", "nat", "-S"]);
    expect(nat).toMatch(/--dport 18080 .*-j DNAT --to-destination 198\.18\.21\.2:80/);
    const ifbs = (await links(node)).filter((l) => l.linkinfo?.info_kind === "ifb");
    expect(ifbs).toHaveLength(1); // bandwidth's egress shaping device
    expect(await execIn(node, ["tc", "qdisc", "show", "dev", ifbs[0]!.ifname])).toContain("tbf");
    expect(await addressesOf(ns, "net1")).toContain("198.18.21.2/24");

    await runtime.delNetworkList(list, { ...rt, capabilityArgs }, result, never);
    expect(await execIn(node, ["iptables", "-t", "nat", "-S"])).not.toContain("18080");
    expect((await links(node)).filter((l) => l.linkinfo?.info_kind === "ifb")).toEqual([]);
  });

  it("runInNetns applies a default route in the pod, and reports a failing command clearly", async () => {
    const { ns, rt } = await pod();
    const list = bridgeList("1.0.0", 22);
    const result = await runtime.addNetworkList(list, rt, never);
    await runInNetns(ns.path, ["ip", "route", "replace", "default", "via", "198.18.22.1", "dev", "net1"], never);
    expect(await routes(ns)).toContainEqual(
      expect.objectContaining({ dst: "default", gateway: "198.18.22.1", dev: "net1" }),
    );

    const err = await runInNetns(
      ns.path,
      ["ip", "route", "replace", "default", "via", "198.19.99.1", "dev", "net1"],
      never,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).msg).toMatch(
      /^command "ip route replace default via 198\.19\.99\.1 dev net1" in network namespace \/run\/netns\/\S+ failed: ".+": exit status 2$/,
    );
    await runtime.delNetworkList(list, rt, result, never);
    expect(await link(ns, "net1")).toBeUndefined();
  });
});
