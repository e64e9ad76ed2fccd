// Secondary-network plugins through the runtime: macvlan on a veth master inside a throwaway
// "node" namespace with static IPAM (from the config and from the `ips` capability), and
// ipvlan, which this kernel lacks: it must fail clearly and leave nothing behind.
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNetworkConfig } from "../../src/cni/conf.js";
import { CniError } from "../../src/cni/error.js";
import { parseContainerId, parseIfName } from "../../src/cni/ids.js";
import { createRuntime } from "../../src/runtime/runtime.js";
import type { CniRuntime, RuntimeConf } from "../../src/runtime/types.js";
import { referencePluginDir } from "../support/cni-plugins.js";
import { addressesOf, createNetScope, link, links, wrapInNetns, type Netns } from "../support/netns.js";
import { isRoot } from "../support/root.js";

const never = new AbortController().signal;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

describe.skipIf(!isRoot)("macvlan and ipvlan through the runtime", () => {
  const net = createNetScope("rtmv");
  let node: Netns;
  let runtime: CniRuntime;
  let dataDir: string;
  let seq = 0;

  beforeAll(async () => {
    node = await net.netns("node");
    // The kernel has no dummy links: a veth pair inside the node namespace is the master.
    await net.veth(node, "mv0", node, "mv0p");
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

  async function pod(capabilityArgs: Record<string, unknown> = {}): Promise<{ ns: Netns; rt: RuntimeConf }> {
    const ns = await net.netns(`pod${++seq}`);
    return {
      ns,
      rt: {
        containerId: parseContainerId(`${net.prefix}-c${seq}`),
        netns: ns.path,
        ifName: parseIfName("net1"),
        args: [],
        capabilityArgs,
      },
    };
  }

  it.each([
    {
      name: "static addresses from the config",
      ipam: {
        type: "static",
        addresses: [{ address: "198.19.1.10/24", gateway: "198.19.1.1" }, { address: "fd00:199:1::10/64" }],
      },
      capabilities: {},
      capabilityArgs: {},
      want: ["198.19.1.10/24", "fd00:199:1::10/64"],
    },
    {
      name: "static addresses from the ips capability",
      ipam: { type: "static" },
      // static reads runtimeConfig.ips from the whole config it is given (CONVENTIONS.md ips).
      capabilities: { ips: true },
      capabilityArgs: { ips: ["198.19.2.20/24"] },
      want: ["198.19.2.20/24"],
    },
  ])("macvlan + $name", async ({ ipam, capabilities, capabilityArgs, want }) => {
    const { ns, rt } = await pod(capabilityArgs);
    const list = parseNetworkConfig({
      cniVersion: "1.0.0",
      name: `${net.prefix}-macvlan`,
      plugins: [{ type: "macvlan", master: "mv0", mode: "bridge", capabilities, ipam }],
    });
    const result = await runtime.addNetworkList(list, rt, never);
    const podLink = await link(ns, "net1");
    expect(podLink?.linkinfo?.info_kind).toBe("macvlan");
    expect(await addressesOf(ns, "net1")).toEqual(expect.arrayContaining(want));
    await runtime.delNetworkList(list, rt, result, never);
    expect(await link(ns, "net1")).toBeUndefined();
    expect(await link(node, "mv0")).toBeDefined(); // the master is not the plugin's to remove
  });

  it("ipvlan, missing from this kernel, fails clearly and leaves no link and no lease", async () => {
    const { ns, rt } = await pod();
    const list = parseNetworkConfig({
      cniVersion: "1.0.0",
      name: `${net.prefix}-ipvlan`,
      plugins: [{ type: "ipvlan", master: "mv0", ipam: { type: "host-local", dataDir, subnet: "198.19.3.0/24" } }],
    });
    const before = (await links(node)).map((l) => l.ifname).sort();
    const err = await runtime.addNetworkList(list, rt, never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    // The plugin's own words: "failed to create ipvlan: operation not supported".
    expect((err as CniError).msg).toMatch(/^plugin type="ipvlan" failed \(add\): failed to create ipvlan: /);
    expect((await links(ns)).map((l) => l.ifname)).toEqual(["lo"]);
    expect((await links(node)).map((l) => l.ifname).sort()).toEqual(before);
    const leaseDir = join(dataDir, list.name);
    expect(existsSync(leaseDir) ? (await readdir(leaseDir)).filter((f) => f.startsWith("198.")) : []).toEqual([]);
    // The runtime DELs a failed ADD: that must succeed too.
    await runtime.delNetworkList(list, rt, undefined, never);
  });
});
