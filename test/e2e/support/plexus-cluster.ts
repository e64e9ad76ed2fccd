// The Kubernetes side of a Plexus e2e test, and what a test reads back from the node: Pod and
// NetworkAttachmentDefinition objects in the local API server (in-process store), the network
// status Plexus writes, containerd's view of the CNI result, Plexus's cache, and a snapshot of
// everything a sandbox could leave on the node (to show that a failed one left nothing).
import { readdir, readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { z } from "zod";
import type { LocalApiServer } from "../../../src/local/api-server.js";
import { parseNetworkStatusAnnotation, type NetworkStatus } from "../../../src/networks/network-status.js";
import type { ContainerdHandle } from "./containerd.js";
import type { PodSandboxSpec } from "./cri-client.js";
import type { PlexusPaths } from "./plexus-install.js";
import { ipLinks } from "./sandbox-netns.js";
import { containerEntries, stateEntries } from "../../support/state-dir.js";

const PODS = { resource: "pods" } as const;
const NADS = { group: "k8s.cni.cncf.io", version: "v1", resource: "network-attachment-definitions" } as const;
const EVENTS = { resource: "events" } as const;
export const NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks";
const STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";

/** The pod a kubelet would run a sandbox for: the API object's metadata, uid included. */
export interface ApiPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export function createNad(api: LocalApiServer, namespace: string, name: string, config: object): void {
  api.store.ensureNamespace(namespace);
  api.store.create(NADS, {
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: { name, namespace },
    spec: { config: JSON.stringify(config) },
  });
}

/**
 * The secondary networks of the tests, in namespace team-a: macvlan-a (macvlan on a veth inside
 * the node, 198.19.1.0/24), bridge-b (a bridge named with the run prefix, 198.19.2.0/24, a 0.4.0
 * config) and broken-c (a macvlan whose master does not exist: its ADD fails). host-local keeps
 * their leases in paths.ipamDir.
 */
export async function createSecondaryNetworks(
  h: ContainerdHandle,
  api: LocalApiServer,
  paths: PlexusPaths,
): Promise<void> {
  // A veth master has carrier only when both ends are up; macvlans on it are down otherwise.
  await h.execInNode(["ip", "link", "add", `${h.prefix}m`, "type", "veth", "peer", "name", `${h.prefix}p`]);
  for (const end of [`${h.prefix}m`, `${h.prefix}p`]) await h.execInNode(["ip", "link", "set", end, "up"]);
  const ipam = (subnet: string) => ({ type: "host-local", dataDir: paths.ipamDir, ranges: [[{ subnet }]] });
  createNad(api, "team-a", "macvlan-a", {
    cniVersion: "1.0.0",
    type: "macvlan",
    master: `${h.prefix}m`,
    mode: "bridge",
    ipam: ipam("198.19.1.0/24"),
  });
  createNad(api, "team-a", "bridge-b", {
    cniVersion: "0.4.0",
    type: "bridge",
    bridge: `${h.prefix}b`,
    ipam: ipam("198.19.2.0/24"),
  });
  createNad(api, "team-a", "broken-c", {
    cniVersion: "1.0.0",
    type: "macvlan",
    master: `${h.prefix}x`,
    ipam: ipam("198.19.3.0/24"),
  });
}

/** Creates the Pod object (before RunPodSandbox, as the scheduler and kubelet order it). */
export function createPod(
  api: LocalApiServer,
  namespace: string,
  name: string,
  annotations: Record<string, string> = {},
): ApiPod {
  api.store.ensureNamespace(namespace);
  const obj = api.store.create(PODS, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, annotations },
    spec: { nodeName: "e2e-node", containers: [{ name: "c", image: "pause" }] },
  });
  return { namespace, name, uid: String(obj.metadata.uid), annotations };
}

export function deletePod(api: LocalApiServer, pod: ApiPod): void {
  api.store.delete(PODS, pod.namespace, pod.name);
}

/** The sandbox config a kubelet sends for the pod: its metadata and annotations. */
export function sandboxSpec(pod: ApiPod, extra: Partial<PodSandboxSpec> = {}): PodSandboxSpec {
  return { name: pod.name, namespace: pod.namespace, uid: pod.uid, annotations: pod.annotations, ...extra };
}

/** The network-status Plexus wrote on the pod, parsed; [] when there is none. */
export function networkStatusOf(api: LocalApiServer, pod: ApiPod): NetworkStatus[] {
  const obj = api.store.get(PODS, pod.namespace, pod.name);
  const value = obj.metadata.annotations?.[STATUS_ANNOTATION];
  return value === undefined ? [] : parseNetworkStatusAnnotation(value);
}

/** [reason, message] of the events involving the pod, oldest first. */
export function podEvents(api: LocalApiServer, pod: ApiPod): [string, string][] {
  const items = api.store.list(EVENTS, { namespace: pod.namespace }).items as unknown as readonly EventLike[];
  return items.filter((e) => e.involvedObject?.name === pod.name).map((e) => [e.reason ?? "", e.message ?? ""]);
}

interface EventLike {
  readonly involvedObject?: { readonly name?: string };
  readonly reason?: string;
  readonly message?: string;
}

/**
 * containerd's CNI result as its verbose sandbox info shows it (go-cni's Result): interfaces by
 * name, each with its IP configs. Only the parts the tests read.
 */
const goCniResult = z.looseObject({
  Interfaces: z.record(
    z.string(),
    z.looseObject({
      IPConfigs: z.array(z.looseObject({ IP: z.string(), Gateway: z.string().nullish() })).nullish(),
      Mac: z.string().optional(),
    }),
  ),
});
export type GoCniResult = z.infer<typeof goCniResult>;

export function parseGoCniResult(value: unknown): GoCniResult {
  return goCniResult.parse(value);
}

/** IPs per interface name from containerd's CNI result; interfaces without IPs (host side) left out. */
export function goCniIps(result: GoCniResult): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(result.Interfaces).flatMap(([name, c]) =>
      (c.IPConfigs ?? []).length === 0 ? [] : [[name, (c.IPConfigs ?? []).map((ip) => ip.IP)]],
    ),
  );
}

/** The result a plugin returned to containerd: Plexus's merged result, in the conflist's version. */
const cniResult = z.looseObject({
  cniVersion: z.string(),
  interfaces: z
    .array(z.looseObject({ name: z.string(), mac: z.string().optional(), sandbox: z.string().optional() }))
    .optional(),
  ips: z.array(z.looseObject({ address: z.string(), interface: z.number().optional() })).optional(),
});
export type CachedCniResult = z.infer<typeof cniResult>;
const libcniCacheEntry = z.looseObject({
  kind: z.literal("cniCacheV1"),
  containerId: z.string(),
  ifName: z.string(),
  result: cniResult,
});

/** libcni's cached result (`/var/lib/cni/results/<network>-<container id>-<ifname>` in the node). */
export async function libcniCachedResult(
  paths: PlexusPaths,
  network: string,
  containerId: string,
  ifName = "eth0",
): Promise<CachedCniResult> {
  const text = await readFile(join(paths.libcniCacheDir, `${network}-${containerId}-${ifName}`), "utf8");
  return libcniCacheEntry.parse(JSON.parse(text)).result;
}

/** [interface name, IP without prefix] of a result's IPs, in order (an IP with no index: "?"). */
export function resultIps(result: CachedCniResult): [string, string][] {
  return (result.ips ?? []).map((ip) => [
    ip.interface === undefined ? "?" : (result.interfaces?.[ip.interface]?.name ?? "?"),
    ip.address.split("/")[0] ?? "",
  ]);
}

/** What Plexus keeps about a container: its files, "tombstone", "lock" ([] when nothing; test/support/state-dir.ts). */
export async function plexusCacheFiles(paths: PlexusPaths, containerId: string): Promise<string[]> {
  return containerEntries(paths.stateDir, containerId);
}

/** host-local leases as "<network>/<ip>" under a dataDir, the container id they belong to. */
export async function leasesIn(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const network of await readdir(dataDir).catch(() => [] as string[])) {
    for (const f of await readdir(join(dataDir, network)).catch(() => [] as string[])) {
      if (isIP(f) !== 0) out.push(`${network}/${f}`);
    }
  }
  return out.sort();
}

/** Everything a sandbox's networking could leave on the node. Equal snapshots: nothing leaked. */
export interface NodeSnapshot {
  readonly sandboxes: readonly string[];
  readonly pinnedNetns: readonly string[];
  /** Links in the node's netns with their master (veth host ends sit on a bridge). */
  readonly nodeLinks: readonly string[];
  readonly clusterLeases: readonly string[];
  readonly nadLeases: readonly string[];
  readonly flannelSaved: readonly string[];
  readonly libcniCache: readonly string[];
  /** Plexus's cache: "<container id>/<file>", "<container id>/tombstone" (test/support/state-dir.ts). */
  readonly plexusCache: readonly string[];
  /** The portmap plugin's NAT rules in the node. */
  readonly natRules: readonly string[];
}

export async function snapshotNode(h: ContainerdHandle, paths: PlexusPaths): Promise<NodeSnapshot> {
  const ls = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();
  const plexusCache = await stateEntries(paths.stateDir);
  return {
    sandboxes: (await h.cri.listPodSandbox()).map((s) => `${s.id} ${s.state}`).sort(),
    pinnedNetns: await ls(h.paths.netnsDir),
    nodeLinks: (await ipLinks(h))
      .map((l) => `${l.ifname}${l.master === undefined ? "" : ` master ${l.master}`}`)
      .sort(),
    clusterLeases: await leasesIn(paths.clusterIpamDir),
    nadLeases: await leasesIn(paths.ipamDir),
    flannelSaved: await ls(paths.flannelDataDir),
    libcniCache: await ls(paths.libcniCacheDir),
    plexusCache: plexusCache.sort(),
    natRules: await natRules(h),
  };
}

/** `iptables -t nat -S` in the node: the chains and rules portmap made (CNI-HOSTPORT-*, CNI-DN-*). */
export async function natRules(h: ContainerdHandle): Promise<string[]> {
  const out = await h.execInNode(["iptables", "-w", "5", "-t", "nat", "-S"], { allowFailure: true });
  if (out.code !== 0) return [`iptables failed (${out.code}): ${out.stderr.trim()}`];
  return out.stdout
    .split("\n")
    .filter((l) => l.includes("CNI-"))
    .sort();
}

/** Plexus cache directories created since `before` (a failed sandbox's id is not reported by CRI). */
export function newCacheDirs(before: NodeSnapshot, after: NodeSnapshot): string[] {
  const ids = (s: NodeSnapshot) => new Set(s.plexusCache.map((f) => f.split("/")[0] ?? ""));
  const old = ids(before);
  return [...ids(after)].filter((id) => !old.has(id));
}
