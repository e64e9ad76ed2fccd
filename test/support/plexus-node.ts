// A simulated Kubernetes node for netns tests of the meta-plugin: a throwaway "node" network
// namespace where plexus and its delegates run (so bridges and host-side veths never touch the
// machine's own namespace), the project's local API server, and a forwarder that makes the API
// reachable from inside the node namespace at the same https://127.0.0.1:PORT (TCP in the node
// namespace -> unix socket -> TCP here; src/local/forward.ts).
//
// In daemon mode (startTestNode(tag, { mode: "daemon" })) `dist/plexus daemon` runs inside the
// node namespace on a temp socket, and every call goes through dist/plexus-shim, as a runtime
// on a daemon-mode node would run it.
//
//   const n = await startTestNode("meta");          afterAll(() => n.cleanup());
//   n.createNamespace("team-a"); n.createNad("team-a", "macvlan-a", {...});
//   const pod = await n.createPod("team-a", "web-0", { networks: "macvlan-a" });
//   const out = await n.add(pod);                   // CNI ADD through dist/plexus in the node ns
//   await n.del(pod); await n.del(pod, { netns: "" });

import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { connect, isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startForwarder, type Forwarder } from "../../src/local/forward.js";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { startNetnsForwarder } from "../../src/local/local-node.js";
import { referencePluginDir } from "./cni-plugins.js";
import { createNetScope, type NetScope, type Netns } from "./netns.js";
import { plexusBin, podArgs, repoRoot, startPlexus, type PlexusOutcome, type RunningPlexus } from "./plexus.js";
import { startPlexusDaemon, type TestDaemon } from "./plexus-daemon.js";
import type { KubeObject } from "../../src/local/api-types.js";
import type { NetworkStatus } from "../../src/networks/network-status.js";
import { networkStatusIn } from "./network-status.js";

/** How the runtime reaches Plexus: the thin executable per call, or the shim and the daemon. */
export type PlexusMode = "thin" | "daemon";
export const MODES: readonly PlexusMode[] = ["thin", "daemon"];

export interface TestNodeOptions {
  readonly mode?: PlexusMode;
  /** Further `plexus daemon` flags in daemon mode. */
  readonly daemonArgs?: readonly string[];
}

const PODS = { resource: "pods" } as const;
const NADS = { group: "k8s.cni.cncf.io", version: "v1", resource: "network-attachment-definitions" } as const;
const NAMESPACES = { resource: "namespaces" } as const;

export interface TestPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly containerId: string;
  readonly netns: Netns;
}

export interface CallOptions {
  readonly netns?: string;
  readonly conf?: Record<string, unknown>;
  readonly ifName?: string;
  /** Plugin dirs (CNI_PATH); default the reference plugins. */
  readonly cniPath?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export interface TestNode {
  readonly net: NetScope;
  readonly node: Netns;
  readonly api: LocalApiServer;
  readonly dir: string;
  readonly kubeconfig: string;
  readonly confDir: string;
  readonly stateDir: string;
  readonly ipamDir: string;
  readonly cniPath: readonly string[];
  readonly mode: PlexusMode;
  /** The daemon in daemon mode. */
  readonly daemon: TestDaemon | undefined;
  /** Plexus's netconf for this node (a clusterNetwork conflist of bridge + host-local is written). */
  conf(overrides?: Record<string, unknown>): Record<string, unknown>;
  createNamespace(name: string): void;
  createNad(namespace: string, name: string, config: unknown, annotations?: Record<string, string>): void;
  createPod(namespace: string, name: string, annotations?: Record<string, string>): Promise<TestPod>;
  getPod(namespace: string, name: string): KubeObject;
  /** The pod's k8s.v1.cni.cncf.io/network-status, parsed; the test fails when it is missing. */
  networkStatusOf(namespace: string, name: string): NetworkStatus[];
  add(pod: TestPod, options?: CallOptions): Promise<PlexusOutcome>;
  del(pod: TestPod, options?: CallOptions): Promise<PlexusOutcome>;
  call(command: string, pod: TestPod, options?: CallOptions): Promise<PlexusOutcome>;
  /** The same call, still running: to kill it or to race it against another. */
  start(command: string, pod: TestPod, options?: CallOptions): RunningPlexus;
  /** host-local leases under ipamDir (file names that are IPs). */
  leases(): Promise<string[]>;
  stopApi(): Promise<void>;
  cleanup(): Promise<void>;
}

/** The cluster network of a test node: bridge + host-local in 198.18.0.0/24, like a simple CNI. */
/** A plugin of a conflist the tests write: its type, its IPAM's type, and whatever else it takes. */
export interface TestPluginConf {
  type: string;
  ipam?: { type: string; [key: string]: unknown };
  [key: string]: unknown;
}

export function clusterConflist(
  bridge: string,
  ipamDir: string,
  cniVersion = "1.0.0",
): { cniVersion: string; name: string; plugins: TestPluginConf[] } {
  return {
    cniVersion,
    name: "cluster",
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        ipam: {
          type: "host-local",
          dataDir: ipamDir,
          ranges: [[{ subnet: "198.18.0.0/24" }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

export async function startTestNode(tag: string, options: TestNodeOptions = {}): Promise<TestNode> {
  const mode = options.mode ?? "thin";
  const net = createNetScope(tag);
  const dir = await mkdtemp(join(tmpdir(), `plexus-${tag}-`));
  const confDir = join(dir, "net.d");
  const stateDir = join(dir, "state");
  const ipamDir = join(dir, "ipam");
  const kubeconfig = join(dir, "kubeconfig");
  const socket = join(dir, "api.sock");
  let api: LocalApiServer | undefined;
  let hostForwarder: Forwarder | undefined;
  let nodeForwarder: ChildProcess | undefined;
  let daemon: TestDaemon | undefined;
  const pods: TestPod[] = [];
  const cleanup = async () => {
    daemon?.kill("SIGKILL");
    await daemon?.exited;
    nodeForwarder?.kill("SIGKILL");
    await hostForwarder?.close();
    await api?.stop().catch(() => undefined);
    await net.cleanup();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const node = await net.netns("node");
    api = await startLocalApiServer({ crdDir: `${repoRoot}crds` });
    await api.writeKubeconfig(kubeconfig);
    hostForwarder = await startForwarder({ path: socket }, { host: "127.0.0.1", port: api.port });
    nodeForwarder = await startNetnsForwarder({ netns: node.name, self: [plexusBin], port: api.port, socket });
    await writeFile(
      join(dir, "cluster.conflist"),
      JSON.stringify(clusterConflist(`${net.prefix}c`.slice(0, 15), ipamDir)),
    );
    const cniPath = [referencePluginDir()];
    if (mode === "daemon")
      daemon = await startPlexusDaemon({
        dir: join(dir, "daemon"),
        kubeconfig,
        inNetns: node,
        args: options.daemonArgs ?? [],
      });
    const liveApi = api;
    const self: TestNode = {
      net,
      node,
      api: liveApi,
      dir,
      kubeconfig,
      confDir,
      stateDir,
      ipamDir,
      cniPath,
      mode,
      daemon,
      conf: (overrides = {}) => ({
        cniVersion: "1.0.0",
        name: "plexus-test",
        type: "plexus",
        kubeconfig,
        clusterNetwork: join(dir, "cluster.conflist"),
        confDir,
        cniDir: stateDir,
        binDir: cniPath[0],
        logLevel: "debug",
        ...overrides,
      }),
      createNamespace: (name) => {
        if (!liveApi.store.find(NAMESPACES, undefined, name))
          liveApi.store.create(NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
      },
      createNad: (namespace, name, config, annotations = {}) => {
        self.createNamespace(namespace);
        liveApi.store.create(NADS, {
          apiVersion: "k8s.cni.cncf.io/v1",
          kind: "NetworkAttachmentDefinition",
          metadata: { name, namespace, annotations },
          spec: { config: typeof config === "string" ? config : JSON.stringify(config) },
        });
      },
      createPod: async (namespace, name, annotations = {}) => {
        self.createNamespace(namespace);
        const obj = liveApi.store.create(PODS, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, namespace, annotations },
          spec: { containers: [{ name: "c", image: "pause" }], nodeName: "node" },
        });
        const netns = await net.netns(`p${pods.length}`);
        const pod = {
          namespace,
          name,
          uid: String(obj.metadata.uid),
          containerId: randomUUID().replaceAll("-", ""),
          netns,
        };
        pods.push(pod);
        return pod;
      },
      getPod: (namespace, name) => liveApi.store.get(PODS, namespace, name),
      networkStatusOf: (namespace, name) =>
        networkStatusIn(liveApi.store.get(PODS, namespace, name), `pod ${namespace}/${name}`),
      call: (command, pod, options = {}) => self.start(command, pod, options).done,
      start: (command, pod, options = {}) =>
        startPlexus({
          command,
          containerId: pod.containerId,
          netns: options.netns ?? pod.netns.path,
          ifName: options.ifName ?? "eth0",
          cniArgs: podArgs(pod.namespace, pod.name, pod.uid, pod.containerId),
          cniPath: options.cniPath ?? cniPath,
          stdin: options.conf ?? self.conf(),
          inNetns: node,
          // In daemon mode a call the daemon did not serve fails instead of passing through the
          // thin fallback unnoticed (a test of the fallback names PLEXUS_THIN itself).
          env: { ...(daemon ? { PLEXUS_THIN: join(dir, "no-thin-fallback") } : {}), ...options.env },
          ...(daemon ? { daemonSocket: daemon.socket } : {}),
        }),
      add: (pod, options) => self.call("ADD", pod, options),
      del: (pod, options) => self.call("DEL", pod, options),
      leases: async () => listLeases(ipamDir),
      stopApi: async () => {
        await liveApi.stop();
      },
      cleanup,
    };
    return self;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function listLeases(ipamDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const network of await readdir(ipamDir).catch(() => [] as string[])) {
    for (const f of await readdir(join(ipamDir, network)).catch(() => [] as string[])) {
      if (isIP(f) !== 0) out.push(`${network}/${f}`);
    }
  }
  return out.sort();
}

/** Connects once to check a TCP endpoint (used by tests that stop the API). */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}
