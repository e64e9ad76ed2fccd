// A restart or an upgrade of the DaemonSet never starts a pod without its networks: the agent
// runs with the options deploy/configmap.yaml ships, and pods are created while it (and, in
// daemon mode, the daemon) is stopped and started again. Each pod goes through whatever config
// file the runtime would load at that moment (the conf dir's first file, re-read for every pod),
// the way containerd picks up config changes. Every pod must get eth0 from the primary (the
// Flannel stand-in) and net1 from its macvlan NAD, whether the agent was running, stopping,
// gone or starting; in daemon mode the shim's thin fallback serves the pods the daemon cannot.

import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNetworkConfig } from "../../src/cni/conf.js";
import type { ContainerId, IfName } from "../../src/cni/ids.js";
import { parseYamlDocuments } from "../../src/local/yaml.js";
import { runtimeConfFiles } from "../../src/runtime/conf-files.js";
import { createRuntime } from "../../src/runtime/runtime.js";
import type { CniRuntime, RuntimeConf } from "../../src/runtime/types.js";
import { fakePluginEnv, referencePluginDir } from "../support/cni-plugins.js";
import { addressesOf, execIn } from "../support/netns.js";
import { plexusBin, repoRoot, requireBuiltPlexus } from "../support/plexus.js";
import { startPlexusDaemon, type TestDaemon } from "../support/plexus-daemon.js";
import { MODES, startTestNode, type PlexusMode, type TestNode, type TestPod } from "../support/plexus-node.js";
import { isRoot } from "../support/root.js";
import {
  buildAgentBundle,
  primariesDir,
  standinsDir,
  startAgent,
  waitFor,
  type AgentProcess,
} from "../integration/install-harness.js";

/** deploy/configmap.yaml's install.json, as the DaemonSet's agent reads it. */
async function shippedInstallJson(): Promise<string> {
  const docs = parseYamlDocuments(await readFile(join(repoRoot, "deploy/configmap.yaml"), "utf8")) as {
    data?: Record<string, string>;
  }[];
  const json = docs.find((d) => d?.data?.["install.json"])?.data?.["install.json"];
  if (json === undefined) throw new Error("deploy/configmap.yaml has no install.json");
  return json;
}

interface RestartNode {
  readonly n: TestNode;
  readonly mode: PlexusMode;
  readonly confDir: string;
  readonly runtime: CniRuntime;
  startAgent(): Promise<void>;
  stopAgent(): Promise<void>;
  startDaemon(): Promise<void>;
  stopDaemon(): Promise<void>;
  cleanup(): Promise<void>;
}

async function restartNode(mode: PlexusMode): Promise<RestartNode> {
  requireBuiltPlexus();
  const n = await startTestNode(`rst${mode[0]}`);
  const master = `${n.net.prefix}m`.slice(-15);
  await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
  await execIn(n.node, ["ip", "link", "set", master, "up"]);
  const confDir = join(n.dir, "cni-net.d");
  const binDir = join(n.dir, "cni-bin");
  const sa = join(n.dir, "serviceaccount");
  await Promise.all([mkdir(confDir), mkdir(binDir), mkdir(sa)]);
  const flannel = JSON.parse(await readFile(join(primariesDir, "10-flannel.conflist"), "utf8"));
  flannel.plugins[0].subnetFile = join(n.dir, "subnet.env");
  flannel.plugins[0].dataDir = join(n.dir, "flannel");
  flannel.plugins[0].ipam = { dataDir: join(n.dir, "ipam") };
  await writeFile(join(confDir, "10-flannel.conflist"), JSON.stringify(flannel, null, 2));
  await copyFile(join(primariesDir, "subnet.env"), join(n.dir, "subnet.env"));
  await writeFile(join(sa, "token"), n.api.token);
  await writeFile(join(sa, "ca.crt"), n.api.caCertPem ?? "");
  const config = join(n.dir, "install.json");
  await writeFile(config, await shippedInstallJson());
  n.createNad("default", "macvlan-conf", {
    cniVersion: "1.0.0",
    type: "macvlan",
    master,
    mode: "bridge",
    ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.9.0/24" }]] },
  });
  const bundle = await buildAgentBundle(n.dir);
  // The shipped options, with this node's directories (the machine is the node: --host-root /).
  const agentArgs = [
    `--config=${config}`,
    "--host-root=/",
    `--cni-conf-dir=${confDir}`,
    `--cni-bin-dir=${binDir}`,
    `--state-dir=${join(n.dir, "plexus-state")}`,
    `--plexus-binary=${plexusBin}`,
    `--service-account-dir=${sa}`,
    `--mode=${mode}`,
    "--poll-interval=1",
  ];
  const agentEnv = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    KUBERNETES_SERVICE_HOST: "127.0.0.1",
    KUBERNETES_SERVICE_PORT: String(n.api.port),
  };
  const daemonDir = join(n.dir, "daemon");
  let agent: AgentProcess | undefined;
  let daemon: TestDaemon | undefined;
  const self: RestartNode = {
    n,
    mode,
    confDir,
    // containerd's CNI_PATH: the installed bin dir, the stand-ins and the reference plugins; in
    // daemon mode the shim finds the daemon on this node's socket.
    runtime: createRuntime({
      binDirs: [binDir, standinsDir, referencePluginDir()],
      env: fakePluginEnv(mode === "daemon" ? { PLEXUS_SOCKET: join(daemonDir, "run", "plexus.sock") } : {}),
      wrap: (argv) => ["ip", "netns", "exec", n.node.name, ...argv],
    }),
    startAgent: async () => {
      agent = startAgent(bundle, agentArgs, agentEnv);
      await waitFor("the agent to install", async () =>
        (await readdir(confDir)).includes("00-plexus.conflist") && agent?.stderr().includes("Plexus wraps the primary")
          ? true
          : undefined,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${agent?.stderr()}`);
      });
    },
    stopAgent: async () => {
      agent?.child.kill("SIGTERM");
      const exited = await agent?.exited;
      expect(exited?.code, exited?.stderr).toBe(0);
    },
    startDaemon: async () => {
      if (mode === "daemon")
        daemon = await startPlexusDaemon({ dir: daemonDir, kubeconfig: n.kubeconfig, inNetns: n.node });
    },
    stopDaemon: async () => {
      if (daemon) expect(await daemon.stop()).toBe(0);
    },
    cleanup: async () => {
      agent?.child.kill("SIGKILL");
      daemon?.kill("SIGKILL");
      await n.cleanup();
    },
  };
  return self;
}

/** What containerd sends for a pod. */
function runtimeConf(pod: TestPod): RuntimeConf {
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
    capabilityArgs: {},
  };
}

describe.skipIf(!isRoot).each(MODES)("%s mode: restarting the agent during a burst of pods", (mode) => {
  let node: RestartNode;
  const pods: TestPod[] = [];
  let seq = 0;

  beforeAll(async () => {
    node = await restartNode(mode);
    await node.startDaemon();
    await node.startAgent();
  });
  afterAll(async () => {
    await node?.cleanup();
  });

  /** ADD of `count` new pods at once, each through the config the runtime would load right then. */
  async function burst(count: number): Promise<void> {
    const created: TestPod[] = [];
    // One at a time: the test node names each pod's namespace by its position.
    for (let i = 0; i < count; i++)
      created.push(
        await node.n.createPod("default", `web-${seq++}`, { "k8s.v1.cni.cncf.io/networks": "macvlan-conf" }),
      );
    pods.push(...created);
    await Promise.all(
      created.map(async (pod) => {
        const first = runtimeConfFiles(await readdir(node.confDir))[0] ?? "";
        const list = parseNetworkConfig(JSON.parse(await readFile(join(node.confDir, first), "utf8")));
        await node.runtime.addNetworkList(list, runtimeConf(pod), AbortSignal.timeout(60_000));
      }),
    );
  }

  it("pods created while the agent runs, stops, is gone and starts again all get eth0 and net1", async () => {
    await burst(3);
    // The rolling update: the old pod stops while pods keep coming...
    await Promise.all([burst(3), node.stopAgent(), node.stopDaemon()]);
    // ...pods arrive while nothing of Plexus runs on the node...
    await burst(3);
    // ...and the new pod starts while they still come.
    await Promise.all([burst(3), node.startDaemon().then(() => node.startAgent())]);
    await burst(2);
    expect(pods).toHaveLength(14);
    for (const pod of pods) {
      expect(
        (await addressesOf(pod.netns, "eth0")).some((a) => a.startsWith("198.18.7.")),
        pod.name,
      ).toBe(true);
      expect(
        (await addressesOf(pod.netns, "net1")).some((a) => a.startsWith("198.18.9.")),
        pod.name,
      ).toBe(true);
    }
  });
});
