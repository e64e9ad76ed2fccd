// The e2e harness tested on its own, with no Plexus: a real containerd runs pod sandboxes on a
// plain bridge + host-local network from /usr/lib/cni, with a recording plugin chained after
// the bridge to show what containerd sends to CNI plugins. What Plexus's e2e tests build on.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../support/root.js";
import { cgroupMountPoints } from "./support/cgroups.js";
import { installCniRecorder, readCniCalls, type CniCall } from "./support/cni-recorder.js";
import { startContainerd, type ContainerdHandle } from "./support/containerd.js";
import { CriError } from "./support/cri-client.js";
import { runCommand } from "./support/run-command.js";
import { harnessCreatedMountPoints } from "./support/run-registry.js";
import {
  addressesOf,
  hostLocalLeases,
  ipAddrs,
  ipLinks,
  isNetnsPinned,
  resolveSandboxNetns,
} from "./support/sandbox-netns.js";

/** Host dirs containerd 1.6 hard-codes; the harness mounts over them inside the node only. */
const HOST_DIRS = ["/run/containerd", "/var/lib/cni"];
const POD_ANNOTATIONS = { "k8s.v1.cni.cncf.io/networks": "macvlan-conf", "example.com/note": "e2e" };

describe.skipIf(!isRoot)("containerd e2e harness (skipped unless root: runs containerd, runc and namespaces)", () => {
  const t0 = performance.now();
  // The host's own dirs; a dir an earlier, killed run created is the harness's to remove.
  let hostBefore: Record<string, boolean>;
  let h: ContainerdHandle;
  let dataDir: string;
  let recordDir: string;
  let net: string;

  beforeAll(async () => {
    const created = await harnessCreatedMountPoints();
    hostBefore = Object.fromEntries(HOST_DIRS.map((d) => [d, existsSync(d) && !created.includes(d)]));
    h = await startContainerd({ cniPlugins: ["bridge", "host-local"] });
    await installCniRecorder(h.paths.cniBinDir);
    dataDir = join(h.paths.runDir, "host-local");
    recordDir = join(h.paths.runDir, "cni-calls");
    await mkdir(recordDir);
    net = `${h.prefix}-net`;
    // conf_dir starts empty: this also shows containerd picking up a conf written after start.
    await writeConflist("10-bridge.conflist", net, `${h.prefix}br`, "198.18.0.0/24", {});
    await h.waitForNetworkReady({ networkName: net });
  });

  afterAll(async () => {
    await h?.stop();
  });

  async function writeConflist(
    file: string,
    name: string,
    bridge: string,
    subnet: string,
    recorder: object,
  ): Promise<void> {
    const conflist = {
      cniVersion: "1.0.0",
      name,
      plugins: [
        {
          type: "bridge",
          bridge,
          isGateway: true,
          ipMasq: false,
          ipam: { type: "host-local", dataDir, ranges: [[{ subnet }]], routes: [{ dst: "0.0.0.0/0" }] },
        },
        {
          type: "cni-recorder",
          recordDir,
          capabilities: { portMappings: true, bandwidth: true, "io.kubernetes.cri.pod-annotations": true },
          ...recorder,
        },
      ],
    };
    // Write then rename, as an installer would: containerd must never read half a file.
    const path = join(h.paths.cniConfDir, file);
    await writeFile(`${path}.tmp`, JSON.stringify(conflist));
    await runCommand(["mv", `${path}.tmp`, path]);
  }

  async function callsSince(n: number): Promise<CniCall[]> {
    return (await readCniCalls(recordDir)).slice(n);
  }

  it("runs a sandbox whose reported IP is the kernel's, then stops (twice) and removes it cleanly", async ({
    annotate,
  }) => {
    const uid = randomUUID();
    const tRun = performance.now();
    const id = await h.cri.runPodSandbox({
      name: "web-0",
      namespace: "team-a",
      uid,
      labels: { app: "web" },
      annotations: POD_ANNOTATIONS,
      portMappings: [{ containerPort: 80, hostPort: 8080 }],
      linux: { securityContext: { namespaceOptions: { network: "POD", pid: "CONTAINER", ipc: "POD" } } },
    });
    const runMs = performance.now() - tRun;

    const { status } = await h.cri.podSandboxStatus(id);
    expect(status.state).toBe("SANDBOX_READY");
    expect(status.metadata).toEqual({ name: "web-0", namespace: "team-a", uid, attempt: 0 });
    expect(status.annotations).toEqual(POD_ANNOTATIONS);
    const ip = status.network?.ip ?? "";
    expect(ip).toMatch(/^198\.18\.0\.\d+$/);
    expect(status.network?.additionalIps).toEqual([]);

    const netns = await resolveSandboxNetns(h, id);
    expect(addressesOf(await ipAddrs(h, netns), "eth0")).toEqual([ip]);
    expect(await hostLocalLeases(dataDir, net)).toEqual([{ ip, containerId: id, ifname: "eth0" }]);
    // The bridge lives in the node's network namespace, not the host's.
    expect((await ipLinks(h)).map((l) => l.ifname)).toContain(`${h.prefix}br`);
    expect((await runCommand(["ip", "-j", "link"])).stdout).not.toContain(h.prefix);

    const [add, ...others] = await callsSince(0);
    expect(others).toEqual([]);
    expect(add?.command).toBe("ADD");
    expect(add?.env).toMatchObject({
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: id,
      CNI_NETNS: netns.path,
      CNI_IFNAME: "eth0",
      CNI_PATH: h.paths.cniBinDir,
    });
    expect(add?.args).toEqual({
      IgnoreUnknown: "1",
      K8S_POD_NAMESPACE: "team-a",
      K8S_POD_NAME: "web-0",
      K8S_POD_INFRA_CONTAINER_ID: id,
      K8S_POD_UID: uid,
    });
    // Plugins get containerd's environment, not the test's.
    expect(add?.env["VITEST"]).toBeUndefined();
    expect(add?.stdin).toMatchObject({
      name: net,
      cniVersion: "1.0.0",
      runtimeConfig: {
        portMappings: [{ HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "" }],
        "io.kubernetes.cri.pod-annotations": POD_ANNOTATIONS,
      },
      prevResult: { ips: [{ address: `${ip}/24` }] },
    });

    // First stop: DEL with the netns and the cached result; IPAM and netns released at once.
    await h.cri.stopPodSandbox(id);
    const [del1] = await callsSince(1);
    expect(del1?.env).toMatchObject({ CNI_COMMAND: "DEL", CNI_CONTAINERID: id, CNI_NETNS: netns.path });
    expect(del1?.stdin).toMatchObject({ prevResult: { ips: [{ address: `${ip}/24` }] } });
    expect((await h.cri.podSandboxStatus(id)).status.state).toBe("SANDBOX_NOTREADY");
    expect(await hostLocalLeases(dataDir, net)).toEqual([]);
    expect(await isNetnsPinned(h, netns.path)).toBe(false);
    expect(await readdir(join(h.paths.varLibCni, "results"))).toEqual([]);

    // Later stops and the remove: DEL again, with no netns and no prevResult.
    await h.cri.stopPodSandbox(id);
    await h.cri.removePodSandbox(id);
    const later = await callsSince(2);
    expect(later.map((c) => [c.command, c.env["CNI_NETNS"], has(c.stdin, "prevResult")])).toEqual([
      ["DEL", "", false],
      ["DEL", "", false],
    ]);
    expect(await h.cri.listPodSandbox()).toEqual([]);
    expect(existsSync(netns.path)).toBe(false);
    expect(await readdir(join(h.paths.runContainerd, "s"))).toEqual([]);
    // The veth is gone with the pod; only lo and the bridge (never deleted by its plugin) remain.
    expect((await ipLinks(h)).map((l) => l.ifname).sort()).toEqual([`${h.prefix}br`, "lo"].sort());

    await annotate(
      `containerd start ${Math.round(h.timings.startMs)} ms, pause image ` +
        `import ${Math.round(h.timings.imageImportMs)} ms, ` +
        `RunPodSandbox ${Math.round(runMs)} ms`,
    );
  });

  it("fails RunPodSandbox when a plugin fails ADD, after sending DEL at once", async () => {
    const failNet = `${h.prefix}-fail`;
    const before = (await readCniCalls(recordDir)).length;
    // Sorts first, and max_conf_num is 1: this conf is now the pod network.
    await writeConflist("00-fail.conflist", failNet, `${h.prefix}b1`, "198.18.1.0/24", { failOn: ["ADD"] });
    await h.waitForNetworkReady({ networkName: failNet });

    const run = h.cri.runPodSandbox({ name: "bad-0", namespace: "team-a", uid: randomUUID() });
    await expect(run).rejects.toBeInstanceOf(CriError);
    await expect(run).rejects.toThrow(/cni-recorder: ADD fails as configured/);

    const calls = await callsSince(before);
    expect(calls.map((c) => c.command)).toEqual(["ADD", "DEL"]);
    const [add, del] = calls;
    expect(del?.env["CNI_CONTAINERID"]).toBe(add?.env["CNI_CONTAINERID"]);
    expect(del?.env["CNI_NETNS"]).toBe(add?.env["CNI_NETNS"]);
    expect(has(del?.stdin, "prevResult")).toBe(false);
    // The bridge ran before the recorder; its DEL gave the address back.
    expect(await hostLocalLeases(dataDir, failNet)).toEqual([]);
    expect(await h.cri.listPodSandbox()).toEqual([]);
    expect(await readdir(h.paths.netnsDir)).toEqual([]);

    await rm(join(h.paths.cniConfDir, "00-fail.conflist"));
    await h.waitForNetworkReady({ networkName: net });
  });

  it("forwards a port of the test process into the node's network namespace", async () => {
    const server = createServer((req, res) => res.end(`host saw ${req.url ?? ""}`));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { port } = server.address() as AddressInfo;
      // The node has its own loopback: without the forward nothing listens there.
      const fetchInNode = (p: number) =>
        h.execInNode(
          [
            process.execPath,
            "-e",
            `fetch("http://127.0.0.1:${p}/ping").then((r) => r.text()).then((t) => process.stdout.write(t))`,
          ],
          {
            allowFailure: true,
          },
        );
      expect((await fetchInNode(port)).code).not.toBe(0);
      expect(await h.forwardToHost(port)).toBe(port);
      expect((await fetchInNode(port)).stdout).toBe("host saw /ping");
    } finally {
      server.close();
    }
  });

  it("stop() leaves no process, mount, netns, link, cgroup or file behind", async ({ annotate }) => {
    const { runDir } = h.paths;
    const { initPid, unsharePid } = h.node;
    const report = await h.stop();
    expect(report).toEqual({ sandboxErrors: [], leftoverCgroups: [] });

    expect(existsSync(`/proc/${initPid}`)).toBe(false);
    expect(existsSync(`/proc/${unsharePid}`)).toBe(false);
    expect(await processesMentioning(runDir)).toEqual([]);
    expect(existsSync(runDir)).toBe(false);
    expect(await readFile("/proc/self/mountinfo", "utf8")).not.toContain(h.runId);
    for (const mountPoint of await cgroupMountPoints())
      expect(existsSync(join(mountPoint, h.cgroupParent))).toBe(false);
    expect((await runCommand(["ip", "-j", "link"])).stdout).not.toContain(h.prefix);
    expect((await runCommand(["ip", "netns", "list"])).stdout).not.toContain(h.prefix);
    // A mount-point dir the harness created is gone, unless another live run still needs it.
    const stillOwed = await harnessCreatedMountPoints();
    expect(Object.fromEntries(HOST_DIRS.map((d) => [d, existsSync(d) && !stillOwed.includes(d)]))).toEqual(hostBefore);

    await annotate(`whole file ${Math.round(performance.now() - t0)} ms`);
  });
});

function has(value: unknown, key: string): boolean {
  return typeof value === "object" && value !== null && key in value;
}

/** Host processes whose command line names `text` (containerd, shims: they pass the run dir). */
async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(text)) found.push(`${pid}: ${cmdline.replaceAll("\u0000", " ")}`);
  }
  return found;
}
