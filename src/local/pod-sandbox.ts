// What a container runtime does for a pod's network, as containerd 1.6 does it
// (docs/compatibility.md#container-runtimes): a network namespace, the lexically first CNI config
// of the conf dir, CNI_ARGS with the pod's identity, runtimeConfig for portMappings and the pod's
// annotations, DEL right after a failed ADD, and on teardown a DEL with the netns path then one
// with CNI_NETNS="" (RemovePodSandbox).

import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseJsonObject, parseNetworkConfig, type NetworkConfigList } from "../cni/conf.js";
import { toResult100 } from "../cni/convert.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { parseContainerId, parseIfName, type ContainerId } from "../cni/ids.js";
import { addressFamily, addressIp } from "../cni/ip.js";
import type { Result100 } from "../cni/result.js";
import { nodeConfDirReader, runtimeConfFiles } from "../runtime/conf-files.js";
import type { CniRuntime, RuntimeConf } from "../runtime/types.js";

export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly hostPorts: readonly { hostPort: number; containerPort: number; protocol: string; hostIP?: string }[];
}

export interface Sandbox {
  readonly id: ContainerId;
  readonly netnsPath: string;
  readonly result: Result100;
  /** containerd's pod IPs: the IPs on eth0, IPv4 first. */
  readonly podIps: readonly string[];
}

const IFNAME = parseIfName("eth0");

/** The network configuration a runtime would use now: the first file in its order (go-cni). */
async function loadRuntimeNetwork(confDir: string): Promise<NetworkConfigList> {
  const first = runtimeConfFiles(await nodeConfDirReader.list(confDir))[0];
  if (!first)
    throw new CniError(ErrorCode.TryAgainLater, `no network config found in ${confDir}: cni plugin not initialized`);
  const path = join(confDir, first);
  return parseNetworkConfig(parseJsonObject(await nodeConfDirReader.read(path), path));
}

export function newSandboxId(): ContainerId {
  return parseContainerId(randomBytes(32).toString("hex"));
}

export function runtimeConfOf(pod: PodIdentity, sandboxId: ContainerId, netnsPath: string): RuntimeConf {
  return {
    containerId: sandboxId,
    netns: netnsPath,
    ifName: IFNAME,
    args: [
      ["K8S_POD_NAMESPACE", pod.namespace],
      ["K8S_POD_NAME", pod.name],
      ["K8S_POD_INFRA_CONTAINER_ID", sandboxId],
      ["K8S_POD_UID", pod.uid],
    ],
    capabilityArgs: {
      ...(pod.hostPorts.length > 0 ? { portMappings: pod.hostPorts } : {}),
      "io.kubernetes.cri.pod-annotations": pod.annotations,
    },
  };
}

/** ADD; on failure a DEL at once, as containerd does, and the ADD error is what is reported. */
export async function setUpSandbox(
  runtime: CniRuntime,
  confDir: string,
  rt: RuntimeConf,
  signal: AbortSignal,
): Promise<Sandbox> {
  const list = await loadRuntimeNetwork(confDir);
  let raw;
  try {
    raw = await runtime.addNetworkList(list, rt, signal);
  } catch (err) {
    await runtime.delNetworkList(list, rt, undefined, signal).catch(() => undefined);
    throw err;
  }
  const result = toResult100(raw);
  return { id: rt.containerId, netnsPath: rt.netns, result, podIps: podIps(result) };
}

/** DEL with the netns (StopPodSandbox), then with none (RemovePodSandbox). */
export async function tearDownSandbox(
  runtime: CniRuntime,
  confDir: string,
  rt: RuntimeConf,
  prev: Result100 | undefined,
  signal: AbortSignal,
): Promise<void> {
  const list = await loadRuntimeNetwork(confDir);
  await runtime.delNetworkList(list, rt, prev, signal);
  await runtime.delNetworkList(list, { ...rt, netns: "" }, undefined, signal);
}

/** containerd: IPs grouped by interface name; only eth0's count (an unindexed IP is eth0's). */
function podIps(result: Result100): string[] {
  const ips = (result.ips ?? [])
    .filter((ip) => ip.interface === undefined || result.interfaces?.[ip.interface]?.name === IFNAME)
    .map((ip) => addressIp(ip.address));
  return [...ips.filter((ip) => addressFamily(ip) === 4), ...ips.filter((ip) => addressFamily(ip) === 6)];
}
