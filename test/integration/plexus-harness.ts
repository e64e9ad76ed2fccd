// A node without a kernel network for the integration tests of the built plexus executable:
// the local API server in this process (plexus reaches it at https://127.0.0.1:PORT with a
// kubeconfig), fake delegates from test/fixtures/plugins (the `recorder` records the env and
// stdin of every call into one file per harness), a state dir and a conf dir in a temp dir.
//
//   const h = await startPlexusHarness();            afterAll(() => h.cleanup());
//   h.createNad("team-a", "net-a", recorderNad({ result: netResult("net1", "198.18.1.2/24") }));
//   const pod = h.createPod("team-a", "web-0", { "k8s.v1.cni.cncf.io/networks": "net-a" });
//   const out = await h.call("ADD", pod);             // CNI ADD through dist/plexus
//   h.calls()                                         // what the delegates received

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { fakePluginDir, readRecords, type RecordedCall } from "../support/cni-plugins.js";
import {
  plexusBin,
  podArgs,
  repoRoot,
  requireBuiltPlexus,
  startPlexus,
  type PlexusOutcome,
  type RunningPlexus,
} from "../support/plexus.js";
import type { KubeObject } from "../../src/local/api-types.js";
import type { NetworkStatus } from "../../src/networks/network-status.js";
import { networkStatusIn } from "../support/network-status.js";

export const PODS = { resource: "pods" } as const;
export const NADS = { group: "k8s.cni.cncf.io", version: "v1", resource: "network-attachment-definitions" } as const;
const NAMESPACES = { resource: "namespaces" } as const;
export const NETWORKS = "k8s.v1.cni.cncf.io/networks";
export const NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status";

export interface HarnessPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly containerId: string;
  /** A path nobody opens: the fake delegates do not enter it. */
  readonly netns: string;
}

export interface HarnessCall {
  readonly conf?: Record<string, unknown>;
  /** Sent verbatim instead of `conf`. */
  readonly stdin?: unknown;
  readonly ifName?: string;
  readonly netns?: string;
  readonly containerId?: string;
  readonly cniArgs?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Daemon mode: through dist/plexus-shim to the daemon on this socket (see callPlexus). */
  readonly daemonSocket?: string;
  /** A command prefix plexus runs under (e.g. strace). */
  readonly wrap?: readonly string[];
}

export interface PlexusHarness {
  readonly api: LocalApiServer;
  readonly dir: string;
  readonly kubeconfig: string;
  readonly stateDir: string;
  readonly confDir: string;
  readonly recordFile: string;
  /** Plexus's netconf: the cluster network is one recorder returning eth0 198.18.0.2/24. */
  conf(overrides?: Record<string, unknown>): Record<string, unknown>;
  createNamespace(name: string): void;
  createNad(namespace: string, name: string, config: unknown, annotations?: Record<string, string>): void;
  createPod(namespace: string, name: string, annotations?: Record<string, string>): HarnessPod;
  deletePod(pod: HarnessPod): void;
  getPod(pod: HarnessPod): KubeObject;
  /** The pod's k8s.v1.cni.cncf.io/network-status, parsed; the test fails when it is missing. */
  networkStatusOf(pod: HarnessPod): NetworkStatus[];
  call(command: string, pod: HarnessPod | undefined, options?: HarnessCall): Promise<PlexusOutcome>;
  /** The same call, still running (to signal it). */
  start(command: string, pod: HarnessPod | undefined, options?: HarnessCall): RunningPlexus;
  /** Every delegate call recorded since the last reset. */
  calls(): RecordedCall[];
  resetCalls(): Promise<void>;
  cleanup(): Promise<void>;
}

/** A result a fake delegate returns: one sandbox interface with one address. */
export function netResult(
  ifName: string,
  address: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const gateway = address.includes(":") ? undefined : address.replace(/\.\d+\/\d+$/, ".1");
  return {
    interfaces: [{ name: ifName, mac: "02:00:00:00:00:01", sandbox: "/var/run/netns/fake" }],
    ips: [{ address, ...(gateway ? { gateway } : {}), interface: 0 }],
    ...extra,
  };
}

/** A NAD config of one recorder plugin (the NAD name is injected by Plexus). */
export function recorderNad(plugin: Record<string, unknown> = {}, version = "1.0.0"): Record<string, unknown> {
  return { cniVersion: version, type: "recorder", ...plugin };
}

export const CLUSTER_RESULT = netResult("eth0", "198.18.0.2/24");

export async function startPlexusHarness(): Promise<PlexusHarness> {
  const dir = await mkdtemp(join(tmpdir(), "plexus-it-"));
  let api: LocalApiServer | undefined;
  try {
    api = await startLocalApiServer({ crdDir: `${repoRoot}crds` });
    return await makeHarness(dir, api);
  } catch (err) {
    await api?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function makeHarness(dir: string, api: LocalApiServer): Promise<PlexusHarness> {
  const kubeconfig = join(dir, "kubeconfig");
  const stateDir = join(dir, "state");
  const confDir = join(dir, "net.d");
  const recordFile = join(dir, "calls.jsonl");
  await api.writeKubeconfig(kubeconfig);
  const clusterFile = join(dir, "cluster.conflist");
  await writeFile(
    clusterFile,
    JSON.stringify({ cniVersion: "1.0.0", name: "cluster", plugins: [{ type: "recorder", result: CLUSTER_RESULT }] }),
  );
  const h: PlexusHarness = {
    api,
    dir,
    kubeconfig,
    stateDir,
    confDir,
    recordFile,
    conf: (overrides = {}) => ({
      cniVersion: "1.0.0",
      name: "plexus-it",
      type: "plexus",
      kubeconfig,
      clusterNetwork: clusterFile,
      confDir,
      cniDir: stateDir,
      binDir: fakePluginDir,
      ...overrides,
    }),
    createNamespace: (name) => {
      if (!api.store.find(NAMESPACES, undefined, name))
        api.store.create(NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
    },
    createNad: (namespace, name, config, annotations = {}) => {
      h.createNamespace(namespace);
      api.store.create(NADS, {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name, namespace, annotations },
        spec: { config: typeof config === "string" ? config : JSON.stringify(config) },
      });
    },
    createPod: (namespace, name, annotations = {}) => {
      h.createNamespace(namespace);
      const obj = api.store.create(PODS, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace, annotations },
        spec: { containers: [{ name: "c", image: "pause" }], nodeName: "node" },
      });
      const containerId = randomUUID().replaceAll("-", "");
      return {
        namespace,
        name,
        uid: String(obj.metadata.uid),
        containerId,
        netns: `/var/run/netns/fake-${containerId.slice(0, 8)}`,
      };
    },
    deletePod: (pod) => {
      api.store.delete(PODS, pod.namespace, pod.name);
    },
    getPod: (pod) => api.store.get(PODS, pod.namespace, pod.name),
    networkStatusOf: (pod) =>
      networkStatusIn(api.store.get(PODS, pod.namespace, pod.name), `pod ${pod.namespace}/${pod.name}`),
    call: (command, pod, o = {}) => h.start(command, pod, o).done,
    start: (command, pod, o = {}) =>
      startPlexus({
        command,
        containerId: o.containerId ?? pod?.containerId ?? "",
        netns: o.netns ?? pod?.netns ?? "",
        ifName: o.ifName ?? "eth0",
        cniArgs: o.cniArgs ?? (pod ? podArgs(pod.namespace, pod.name, pod.uid, pod.containerId) : ""),
        cniPath: [fakePluginDir],
        stdin: o.stdin ?? o.conf ?? h.conf(),
        env: { RECORDER_FILE: recordFile, ...o.env },
        ...(o.daemonSocket !== undefined ? { daemonSocket: o.daemonSocket } : {}),
        ...(o.wrap ? { wrap: o.wrap } : {}),
      }),
    calls: () => readRecords(recordFile),
    resetCalls: () => rm(recordFile, { force: true }),
    cleanup: async () => {
      await api.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** The recorded calls of one command, optionally for one interface. */
export function callsOf(calls: readonly RecordedCall[], command: string, ifName?: string): RecordedCall[] {
  return calls.filter((c) => c.command === command && (ifName === undefined || c.env["CNI_IFNAME"] === ifName));
}

/** dist/plexus with exactly `env` (nothing inherited, not even PATH) and `stdin`. */
export function runPlexusRaw(
  env: Readonly<Record<string, string>>,
  stdin: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  requireBuiltPlexus();
  return new Promise((resolve, reject) => {
    const child = spawn(plexusBin, [], { env: { ...env }, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.end(stdin);
  });
}

/** stdout of a failed call: exactly one JSON error document, nothing else. */
export function wireError(out: { code: number; stdout: string }): {
  code: number;
  msg: string;
  details?: string;
  cniVersion?: string;
} {
  if (out.code === 0) throw new Error(`expected a failure, got exit 0 and ${JSON.stringify(out.stdout)}`);
  if (!/^[^\n]*\n$/.test(out.stdout)) throw new Error(`stdout is not one line of JSON: ${JSON.stringify(out.stdout)}`);
  const doc = JSON.parse(out.stdout) as { code: number; msg: string };
  if (typeof doc.code !== "number" || typeof doc.msg !== "string") throw new Error(`not a CNI error: ${out.stdout}`);
  return doc;
}
