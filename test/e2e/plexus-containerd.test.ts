// Plexus on a real containerd (1.6 + runc, CRI), installed as a node has it: the Flannel
// stand-in as the cluster network, `plexus install --once` writing 00-plexus.conflist in front
// of it, the local API server holding Pods and NADs, and CRI calls made the way a kubelet
// makes them. Asserts what containerd reports, what the kernel holds, and what Plexus wrote,
// and that a failed sandbox and a torn-down one leave nothing on the node.
// In daemon mode, as deploy/ installs it (`plexus install --mode daemon`, `plexus daemon` in the
// node, containerd executing the shim); PLEXUS_E2E_MODE=thin runs the same tests in thin mode.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { repoRoot } from "../support/plexus.js";
import { isRoot } from "../support/root.js";
import { startContainerd, type ContainerdHandle } from "./support/containerd.js";
import { CriError } from "./support/cri-client.js";
import {
  createPod,
  createSecondaryNetworks,
  deletePod,
  goCniIps,
  leasesIn,
  libcniCachedResult,
  natRules,
  NETWORKS_ANNOTATION,
  networkStatusOf,
  newCacheDirs,
  parseGoCniResult,
  plexusCacheFiles,
  podEvents,
  resultIps,
  sandboxSpec,
  snapshotNode,
  type ApiPod,
} from "./support/plexus-cluster.js";
import {
  FLANNEL_BRIDGE,
  FLANNEL_NETWORK,
  installFlannelPrimary,
  installPlexus,
  plexusPaths,
  PLEXUS_NETWORK,
  pluginLogLines,
  startDaemonInNode,
  type PlexusMode,
  type PlexusPaths,
} from "./support/plexus-install.js";
import {
  addPhases,
  measureBaselines,
  median,
  runSandbox,
  stopAndRemove,
  type Timings,
} from "./support/plexus-timing.js";
import { fetchInNode, serveOnceInPod } from "./support/pod-http.js";
import {
  addressesOf,
  ipAddrs,
  ipLinks,
  ipRoutes,
  isNetnsPinned,
  resolveSandboxNetns,
} from "./support/sandbox-netns.js";

const TWO_SECONDARIES = "macvlan-a, bridge-b@data0";
const MODE: PlexusMode = process.env["PLEXUS_E2E_MODE"] === "thin" ? "thin" : "daemon";
const LOOPBACK = ["127.0.0.1", "::1"];

describe.skipIf(!isRoot)(
  `Plexus on a real containerd, ${MODE} mode (skipped unless root: runs containerd, runc and namespaces)`,
  () => {
    const t0 = performance.now();
    let api: LocalApiServer;
    let h: ContainerdHandle;
    let paths: PlexusPaths;
    let socketDir: string | undefined;
    const timings: Timings = { plainBridge: [], flannel: [], plexusPlain: [], plexusTwoSecondaries: [], installMs: 0 };

    beforeAll(async () => {
      api = await startLocalApiServer({ crdDir: join(repoRoot, "crds") });
      // The daemon's socket: a temp path (never /run/plexus), named to the shim through
      // containerd's environment, which plugins inherit.
      socketDir = await mkdtemp(join(tmpdir(), "plexus-e2e-sock-"));
      const socket = join(socketDir, "plexus.sock");
      h = await startContainerd({
        cniPlugins: ["bridge", "host-local", "macvlan", "portmap"],
        env: { PLEXUS_SOCKET: socket },
      });
      paths = plexusPaths(h);
      await installFlannelPrimary(h, paths);
      await h.waitForNetworkReady({ networkName: FLANNEL_NETWORK });
      // Before Plexus: the same sandboxes on a plain bridge (as the harness test) and on Flannel alone.
      Object.assign(timings, await measureBaselines(h, paths));
      const installed = await installPlexus(h, api, paths, { mode: MODE });
      timings.installMs = installed.ms;
      if (MODE === "daemon") await startDaemonInNode(h, paths, socket, "e2e-node");
      await h.waitForNetworkReady({ networkName: PLEXUS_NETWORK, timeoutMs: 30_000 });

      await createSecondaryNetworks(h, api, paths);
    });

    afterAll(async () => {
      try {
        // The node first: its teardown runs Plexus's DELs, which may still talk to the API.
        await h?.stop();
        // The last test keeps the run dir to look at it after stop().
        if (h) await rm(h.paths.runDir, { recursive: true, force: true });
      } finally {
        await api?.stop();
        if (socketDir) await rm(socketDir, { recursive: true, force: true });
      }
    });

    const run = (pod: ApiPod, extra = {}) => runSandbox(h, paths, pod, extra);

    it("installs 00-plexus.conflist around Flannel; containerd loads it", async () => {
      const status = await h.cri.status({ verbose: true });
      const loaded = JSON.parse(status.info["cniconfig"] ?? "{}") as { Networks: { Config: { Name: string } }[] };
      expect(loaded.Networks.map((n) => n.Config.Name)).toEqual(["cni-loopback", PLEXUS_NETWORK]);
      expect(JSON.parse(await readFile(join(h.paths.cniConfDir, "00-plexus.conflist"), "utf8"))).toMatchObject({
        cniVersion: "0.3.1",
        name: PLEXUS_NETWORK,
        plugins: [
          {
            type: "plexus",
            capabilities: { portMappings: true },
            clusterNetwork: join(h.paths.cniConfDir, "10-flannel.conflist"),
            cniDir: paths.stateDir,
          },
        ],
      });
    });

    it("a pod with no annotation: containerd's pod IP is eth0's in the kernel and in its CNI result; one default network-status entry", async () => {
      const pod = createPod(api, "team-a", "plain-0");
      const { id, ms } = await run(pod);
      timings.plexusPlain.push(ms);
      const { status, verbose } = await h.cri.podSandboxStatus(id, { verbose: true });
      expect(status.state).toBe("SANDBOX_READY");
      const ip = status.network?.ip ?? "";
      expect(ip).toMatch(/^198\.18\.7\.\d+$/);
      expect(status.network?.additionalIps).toEqual([]);

      const netns = await resolveSandboxNetns(h, id);
      const addrs = await ipAddrs(h, netns);
      expect(addrs.map((a) => a.ifname).sort()).toEqual(["eth0", "lo"]);
      expect(addressesOf(addrs, "eth0")).toEqual([ip]);
      // Flannel's MTU and routes: the stand-in's bridge delegate really ran, through Plexus.
      expect(addrs.find((a) => a.ifname === "eth0")?.mtu).toBe(1450);
      expect((await ipRoutes(h, netns)).map((r) => `${r.dst} ${r.gateway ?? ""}`)).toEqual(
        expect.arrayContaining(["default 198.18.7.1", "198.18.0.0/16 198.18.7.1"]),
      );
      // Plexus's merged result (libcni's cache of what containerd got) and containerd's reading of it
      // (plus lo, from containerd's own loopback network).
      const merged = await libcniCachedResult(paths, PLEXUS_NETWORK, id);
      expect(merged.cniVersion).toBe("0.3.1");
      expect(resultIps(merged)).toEqual([["eth0", ip]]);
      expect(goCniIps(parseGoCniResult(verbose?.cniResult))).toEqual({ lo: LOOPBACK, eth0: [ip] });

      const mac = (await ipLinks(h, netns)).find((l) => l.ifname === "eth0")?.address;
      expect(networkStatusOf(api, pod)).toEqual([
        { name: FLANNEL_NETWORK, interface: "eth0", ips: [ip], mac, default: true, dns: {}, gateway: ["198.18.7.1"] },
      ]);
      expect(await plexusCacheFiles(paths, id)).toEqual(["eth0.json"]);
      expect(await leasesIn(paths.clusterIpamDir)).toContain(`${FLANNEL_NETWORK}/${ip}`);
      // The host end of eth0's veth is a port of Flannel's bridge, in the node's netns.
      expect((await ipLinks(h)).filter((l) => l.master === FLANNEL_BRIDGE).map((l) => l.linkinfo?.info_kind)).toEqual([
        "veth",
      ]);
      await stopAndRemove(h, id);
    });

    it("two secondaries: eth0, net1 and data0 in the sandbox; containerd reports eth0's IP only; network-status matches the kernel", async () => {
      const pod = createPod(api, "team-a", "multi-0", { [NETWORKS_ANNOTATION]: TWO_SECONDARIES });
      const { id, ms } = await run(pod);
      timings.plexusTwoSecondaries.push(ms);
      const { status, verbose } = await h.cri.podSandboxStatus(id, { verbose: true });
      const netns = await resolveSandboxNetns(h, id);
      const addrs = await ipAddrs(h, netns);
      const links = await ipLinks(h, netns);
      expect(addrs.map((a) => a.ifname).sort()).toEqual(["data0", "eth0", "lo", "net1"]);
      const kernel = Object.fromEntries(["eth0", "net1", "data0"].map((i) => [i, addressesOf(addrs, i)]));
      expect(kernel["eth0"]).toEqual([status.network?.ip]);
      expect(kernel["net1"]?.[0]).toMatch(/^198\.19\.1\.\d+$/);
      expect(kernel["data0"]?.[0]).toMatch(/^198\.19\.2\.\d+$/);
      expect(links.find((l) => l.ifname === "net1")?.linkinfo?.info_kind).toBe("macvlan");
      // containerd's pod IP and additional IPs come from eth0 alone (docs/compatibility.md#container-runtimes);
      // the secondaries' IPs are only in its verbose CNI result, each under its own interface.
      expect(status.network?.additionalIps).toEqual([]);
      expect(resultIps(await libcniCachedResult(paths, PLEXUS_NETWORK, id))).toEqual([
        ["eth0", kernel["eth0"]?.[0]],
        ["net1", kernel["net1"]?.[0]],
        ["data0", kernel["data0"]?.[0]],
      ]);
      // (plus lo from containerd's own loopback network; host-side links are listed without IPs).
      expect(goCniIps(parseGoCniResult(verbose?.cniResult))).toEqual({
        lo: LOOPBACK,
        eth0: kernel["eth0"],
        net1: kernel["net1"],
        data0: kernel["data0"],
      });

      const statuses = networkStatusOf(api, pod);
      expect(statuses.map((s) => [s.name, s.interface, s.default ?? false])).toEqual([
        [FLANNEL_NETWORK, "eth0", true],
        ["team-a/macvlan-a", "net1", false],
        ["team-a/bridge-b", "data0", false],
      ]);
      for (const s of statuses) {
        expect(s.ips).toEqual(kernel[s.interface ?? ""]);
        expect(s.mac).toBe(links.find((l) => l.ifname === s.interface)?.address);
      }
      expect(podEvents(api, pod).filter(([reason]) => reason === "AddedInterface")).toHaveLength(3);
      expect(await plexusCacheFiles(paths, id)).toEqual(["data0.json", "eth0.json", "net1.json"]);
      await stopAndRemove(h, id);
    });

    it.each([
      {
        what: "a missing NAD",
        name: "bad-nad",
        annotation: "macvlan-a, no-such-net",
        error: /no-such-net.*not found/,
        reason: "NoNetworkFound",
      },
      {
        what: "a delegate failing after eth0 and net1 were added",
        name: "bad-delegate",
        annotation: "macvlan-a, broken-c",
        error: /broken-c/,
        reason: "NetworkSetupFailed",
      },
      // The kubelet still runs the deleted pod's sandbox while a pod of the same name exists again.
      {
        what: "a stale pod UID",
        name: "bad-uid",
        annotation: "macvlan-a",
        error: /expected UID .* recreated/,
        reason: "NoNetworkFound",
        stale: true,
      },
    ])(
      "$what: RunPodSandbox fails and nothing leaks (links, leases, caches, containerd's state)",
      async ({ name, annotation, error, reason, stale }) => {
        let pod = createPod(api, "team-a", name, { [NETWORKS_ANNOTATION]: annotation });
        const spec = sandboxSpec(pod);
        if (stale === true) {
          deletePod(api, pod);
          pod = createPod(api, "team-a", name, { [NETWORKS_ANNOTATION]: annotation });
        }
        const before = await snapshotNode(h, paths);
        const attempt = h.cri.runPodSandbox(spec);
        await expect(attempt).rejects.toBeInstanceOf(CriError);
        await expect(attempt).rejects.toThrow(error);
        const after = await snapshotNode(h, paths);

        // Plexus's cache holds at most a tombstone for the failed sandbox; all else is as before.
        const created = newCacheDirs(before, after);
        expect(created).toHaveLength(1);
        expect(await plexusCacheFiles(paths, created[0] ?? "")).toEqual(["tombstone"]);
        expect({
          ...after,
          plexusCache: after.plexusCache.filter((f) => !created.some((id) => f.startsWith(id))),
        }).toEqual(before);
        expect(podEvents(api, pod).map(([r]) => r)).toContain(reason);
        expect(networkStatusOf(api, pod)).toEqual([]);
        // containerd's DEL after the failed ADD found the tombstone and did nothing.
        const calls = (await pluginLogLines(paths)).filter((l) => l.containerId === created[0]);
        expect(calls.some((l) => l.command === "DEL" && /already torn down/.test(l.msg ?? ""))).toBe(true);
      },
    );

    it("repeated stop and remove: each succeeds, the first releases everything, then the tombstone is harmless", async () => {
      const pod = createPod(api, "team-a", "again-0", { [NETWORKS_ANNOTATION]: TWO_SECONDARIES });
      const before = await snapshotNode(h, paths);
      const { id } = await run(pod);
      const netns = await resolveSandboxNetns(h, id);
      expect(await leasesIn(paths.ipamDir)).toHaveLength(before.nadLeases.length + 2);

      await h.cri.stopPodSandbox(id);
      expect((await h.cri.podSandboxStatus(id)).status.state).toBe("SANDBOX_NOTREADY");
      expect(await isNetnsPinned(h, netns.path)).toBe(false);
      expect(await plexusCacheFiles(paths, id)).toEqual(["tombstone"]);
      const stopped = await snapshotNode(h, paths);
      expect({ ...stopped, sandboxes: before.sandboxes, plexusCache: before.plexusCache }).toEqual(before);

      await h.cri.stopPodSandbox(id);
      await h.cri.removePodSandbox(id);
      expect((await h.cri.listPodSandbox()).map((s) => s.id)).not.toContain(id);
      expect(await plexusCacheFiles(paths, id)).toEqual(["tombstone"]);
      // Both later DELs came with CNI_NETNS="" and found the tombstone.
      const dels = (await pluginLogLines(paths)).filter(
        (l) => l.containerId === id && /already torn down/.test(l.msg ?? ""),
      );
      expect(dels).toHaveLength(2);

      // The pod is recreated (new uid, same name), as a StatefulSet does: a new sandbox works.
      deletePod(api, pod);
      const again = createPod(api, "team-a", "again-0", { [NETWORKS_ANNOTATION]: TWO_SECONDARIES });
      const second = await run(again);
      expect(second.id).not.toBe(id);
      const addrs = await ipAddrs(h, await resolveSandboxNetns(h, second.id));
      expect(addrs.map((a) => a.ifname).sort()).toEqual(["data0", "eth0", "lo", "net1"]);
      expect(networkStatusOf(api, again)).toHaveLength(3);
      await stopAndRemove(h, second.id);
    });

    it("a hostPort reaches the primary's portmap through Plexus: DNAT in the node, and a connection gets to the pod", async () => {
      const pod = createPod(api, "team-a", "web-0");
      const before = await natRules(h);
      const { id } = await run(pod, { portMappings: [{ containerPort: 8080, hostPort: 30080 }] });
      const { status } = await h.cri.podSandboxStatus(id);
      const ip = status.network?.ip ?? "";
      const rules = await natRules(h);
      expect(rules.some((r) => /--dport 30080 .*-j DNAT --to-destination /.test(r) && r.includes(`${ip}:8080`))).toBe(
        true,
      );

      // A one-shot HTTP server in the pod; the node connects to its own address on the host port.
      const netns = await resolveSandboxNetns(h, id);
      const server = serveOnceInPod(h, netns, 8080);
      const reply = await fetchInNode(h, `http://198.18.7.1:30080/hello`);
      expect(reply).toBe("pod saw /hello");
      await server;

      await stopAndRemove(h, id);
      // portmap's DEL removed the pod's rules; its shared chains (CNI-HOSTPORT-*) stay, as on any node.
      const left = await natRules(h);
      expect(left.filter((r) => r.includes("30080") || r.includes(ip) || r.includes("CNI-DN-"))).toEqual([]);
      expect(
        left.filter((r) => !before.includes(r)).every((r) => r.includes("CNI-HOSTPORT-") && !r.includes("DNAT --to")),
      ).toBe(true);
    });

    it("measures RunPodSandbox with Plexus against the plain bridge and Flannel alone", async ({ annotate }) => {
      const ids = { plain: [] as string[], multi: [] as string[] };
      for (let i = 0; i < 3; i++) {
        for (const [kind, annotations] of [
          ["plain", {}],
          ["multi", { [NETWORKS_ANNOTATION]: TWO_SECONDARIES }],
        ] as const) {
          const pod = createPod(api, "team-a", `time-${kind}-${i}`, annotations);
          const { id, ms } = await run(pod);
          (kind === "plain" ? timings.plexusPlain : timings.plexusTwoSecondaries).push(ms);
          ids[kind].push(id);
          expect(networkStatusOf(api, pod)).toHaveLength(kind === "plain" ? 1 : 3);
          await stopAndRemove(h, id);
        }
      }
      const fmt = (xs: readonly number[]) => `median ${Math.round(median(xs))} ms [${xs.map(Math.round).join(", ")}]`;
      await annotate(
        `RunPodSandbox: plain bridge ${fmt(timings.plainBridge)}; Flannel stand-in ${fmt(timings.flannel)}; ` +
          `Plexus, no annotation ${fmt(timings.plexusPlain)}; Plexus, two ` +
          `secondaries ${fmt(timings.plexusTwoSecondaries)}; ` +
          `plexus install --once ${Math.round(timings.installMs)} ms`,
      );
      const log = await pluginLogLines(paths);
      await annotate(
        `Plexus ADD phases, no annotation: ${addPhases(log, ids.plain)}; two secondaries: ${addPhases(log, ids.multi)}`,
      );
    });

    it.runIf(MODE === "daemon")(
      "every CNI call containerd made was served by the one daemon, none by the fallback",
      async () => {
        const calls = (await pluginLogLines(paths)).filter((l) => typeof l.command === "string");
        expect(calls.length).toBeGreaterThan(10);
        expect(new Set(calls.map((l) => l["pid"]))).toHaveLength(1);
        expect(calls.every((l) => l["component"] === "daemon")).toBe(true);
      },
    );

    it("stop() tears down a running multi-network sandbox through Plexus and leaves nothing", async ({ annotate }) => {
      const pod = createPod(api, "team-a", "last-0", { [NETWORKS_ANNOTATION]: TWO_SECONDARIES });
      const { id } = await run(pod);
      expect((await leasesIn(paths.ipamDir)).length).toBeGreaterThanOrEqual(2);
      // The run dir is kept for a look after the node is gone (afterAll removes it).
      const report = await h.stop({ keepRunDir: true });
      expect(report).toEqual({ sandboxErrors: [], leftoverCgroups: [] });
      // Plexus's DEL ran (from containerd's stop) and released every address it had.
      expect(await leasesIn(paths.ipamDir)).toEqual([]);
      expect(await leasesIn(paths.clusterIpamDir)).toEqual([]);
      expect(await plexusCacheFiles(paths, id)).toEqual(["tombstone"]);
      await annotate(
        `sandbox ${id.slice(0, 12)} torn down by stop(); whole file ${Math.round(performance.now() - t0)} ms`,
      );
    });
  },
);
