// `plexus local` driven by the real kubectl, as a new user would: apply a NAD and an annotated
// pod, see the interfaces appear, read network-status with `kubectl get pod -o yaml`, describe
// the pod, delete it and see the network go. `plexus inspect` shows what Plexus knows meanwhile.
// In daemon mode (the default: the shim and `plexus daemon` in the node namespace) and thin mode.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../support/netns.js";
import { plexusBin, requireBuiltPlexus } from "../support/plexus.js";
import { isRoot } from "../support/root.js";

import { MODES } from "../support/plexus-node.js";

async function netnsNames(): Promise<string[]> {
  return (await runCommand(["ip", "netns", "list"])).split("\n").map((l) => l.split(" ")[0] ?? "");
}

describe.skipIf(!isRoot).each(MODES)("plexus local with kubectl (%s mode)", (mode) => {
  const NODE = `t${process.pid.toString(36)}${mode[0]}`;
  let dir: string;
  let local: ChildProcess | undefined;
  let output = "";
  const kubectl = (...args: string[]) =>
    runCommand(
      ["kubectl", "--kubeconfig", join(dir, "state", "kubeconfig"), "--cache-dir", join(dir, "kube-cache"), ...args],
      60_000,
    );

  beforeAll(async () => {
    requireBuiltPlexus();
    dir = await mkdtemp(join(tmpdir(), "plexus-local-"));
    local = spawn(plexusBin, ["local", "--state-dir", join(dir, "state"), "--node-name", NODE, "--mode", mode], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    local.stdout?.on("data", (b) => (output += b));
    local.stderr?.on("data", (b) => (output += b));
    // Ready: the ready file is written, then the line on stdout.
    for (let i = 0; i < 150 && !output.includes("plexus local is running"); i++) {
      if (local.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!existsSync(join(dir, "state", "ready")) || !output.includes("plexus local is running"))
      throw new Error(`plexus local did not start:\n${output}`);
    await writeFile(
      join(dir, "objects.yaml"),
      `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-l
spec:
  config: '{"cniVersion":"1.0.0","type":"macvlan","master":"eth1","mode":"bridge","ipam":{"type":"host-local","dataDir":"${join(dir, "ipam")}","ranges":[[{"subnet":"198.19.30.0/24"}]]}}'
---
apiVersion: v1
kind: Pod
metadata:
  name: app-0
  annotations:
    k8s.v1.cni.cncf.io/networks: macvlan-l@data0
spec:
  containers:
    - name: app
      image: pause
`,
    );
  }, 60_000);

  afterAll(async () => {
    if (local && local.exitCode === null) {
      local.kill("SIGINT");
      await new Promise((r) => local?.once("exit", r));
    }
    // By exact name, in case plexus local could not clean up after itself.
    for (const ns of (await netnsNames()).filter((n) => n.startsWith(`plexus-${NODE}`))) {
      await runCommand(["ip", "netns", "delete", ns]).catch(() => undefined);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("installs Plexus around the primary and serves kubectl", async () => {
    expect(existsSync(join(dir, "state", "net.d", "00-plexus.conflist"))).toBe(true);
    expect(output).toContain(`plexus local is running (${mode} mode)`);
    // Daemon mode: the CNI plugin is the shim and the thin executable is beside it.
    expect(existsSync(join(dir, "state", "bin", "plexus-thin"))).toBe(mode === "daemon");
    expect(await netnsNames()).toContain(`plexus-${NODE}`);
    expect(await kubectl("get", "network-attachment-definitions")).toBe("");
  });

  it("kubectl apply: the pod runs with eth0 and data0, and network-status is in `kubectl get -o yaml`", async () => {
    expect(await kubectl("apply", "-f", join(dir, "objects.yaml"))).toMatch(/pod\/app-0 created/);
    await kubectl("wait", "--for=condition=Ready", "pod/app-0", "--timeout=60s");
    expect(await kubectl("get", "pods")).toMatch(/app-0\s+1\/1\s+Running/);
    expect(await kubectl("get", "pod", "app-0", "-o", "yaml")).toMatch(/k8s\.v1\.cni\.cncf\.io\/network-status/);
    const pod = JSON.parse(await kubectl("get", "pod", "app-0", "-o", "json"));
    const status = JSON.parse(pod.metadata.annotations["k8s.v1.cni.cncf.io/network-status"]);
    expect(status.map((s: { name: string; interface: string }) => [s.name, s.interface])).toEqual([
      ["local-bridge", "eth0"],
      ["default/macvlan-l", "data0"],
    ]);
    const netns = String(pod.metadata.annotations["local.plexus.dev/netns"]).replace("/run/netns/", "");
    const addrs = await runCommand(["ip", "-n", netns, "-o", "-4", "addr"]);
    expect(addrs).toMatch(new RegExp(`data0\\s+inet ${status[1].ips[0].replaceAll(".", "\\.")}/24`));
    expect(addrs).toMatch(new RegExp(`eth0\\s+inet ${status[0].ips[0].replaceAll(".", "\\.")}/24`));
    expect(pod.status.podIP).toBe(status[0].ips[0]);
    if (mode === "daemon") {
      const metrics = await runCommand([
        "ip",
        "netns",
        "exec",
        `plexus-${NODE}`,
        "curl",
        "-s",
        "127.0.0.1:9454/metrics",
      ]);
      expect(metrics).toMatch(/^plexus_cni_requests_total\{command="ADD",outcome="ok"\} [1-9]/m);
    }
  });

  it("kubectl describe shows Plexus's events; plexus inspect shows the attachments", async () => {
    const described = await kubectl("describe", "pod", "app-0");
    expect(described).toMatch(/AddedInterface\s+.*Add data0 \[198\.19\.30\.\d+\/24\] from default\/macvlan-l/);
    const inspect = await runCommand([plexusBin, "inspect", "--state-dir", join(dir, "state", "cni")]);
    expect(inspect).toMatch(/default\/app-0\s+eth0\s+local-bridge\s+bridge\+portmap\s+198\.18\.0\.\d+\s+added/);
    expect(inspect).toMatch(/default\/app-0\s+data0\s+default\/macvlan-l\s+macvlan\s+198\.19\.30\.\d+\s+added/);
  });

  it("kubectl delete: the pod's network and namespace go", async () => {
    const pod = JSON.parse(await kubectl("get", "pod", "app-0", "-o", "json"));
    const netns = String(pod.metadata.annotations["local.plexus.dev/netns"]).replace("/run/netns/", "");
    await kubectl("delete", "-f", join(dir, "objects.yaml"), "--wait=true");
    for (let i = 0; i < 100 && (await netnsNames()).includes(netns); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await netnsNames()).not.toContain(netns);
    expect(await runCommand([plexusBin, "inspect", "--state-dir", join(dir, "state", "cni")])).toMatch(/deleted/);
    expect(await kubectl("get", "pods")).toBe("");
  });

  it("stopping plexus local removes the node namespace", async () => {
    local?.kill("SIGINT");
    await new Promise((r) => local?.once("exit", r));
    expect((await netnsNames()).filter((n) => n.startsWith(`plexus-${NODE}`))).toEqual([]);
  });
});
