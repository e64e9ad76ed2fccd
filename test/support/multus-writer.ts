// A stand-in for Multus on a test node (Multus itself cannot be installed here): it sets a pod up
// the way Multus's thin plugin does (pkg/multus/multus.go CmdAdd) and leaves the same files:
// - before any delegate runs, the scratch cache <cniDir>/<containerId>: Multus's []*DelegateNetConf
//   as Go's encoding/json writes it (Conf and ConfList always present, zero values included,
//   `Bytes` the base64 of the delegate's config as executed);
// - for each delegate, libcni's result cache <cniDir>/results/<network>-<containerId>-<ifName>
//   (kind cniCacheV1), since Multus hands its cniDir to libcni as the cache dir;
// then runs each delegate's ADD with the real plugins (through Plexus's libcni port, as libcni
// would run them), with the CNI_ARGS Multus gives delegates: its own pod identity first, then
// the runtime's pairs appended (so IgnoreUnknown and the K8S_ keys appear twice, as in thin mode).

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseNetworkConfig, type JsonObject } from "../../src/cni/conf.js";
import type { ContainerId, IfName } from "../../src/cni/ids.js";
import type { CniRuntime } from "../../src/runtime/types.js";

export interface MultusDelegateSpec {
  /** What Multus's network-status calls it: "<ns>/<nad>" for a NAD, else the network name. */
  readonly name: string;
  /** The delegate config as Multus executes it (a conf or a conflist, with its name). */
  readonly config: JsonObject;
  readonly ifnameRequest?: string;
}

export interface MultusPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly containerId: string;
  readonly netns: string;
}

/** The interface Multus gives delegate `idx` (getIfname). */
export function multusIfName(d: MultusDelegateSpec, idx: number, cniIfName = "eth0"): string {
  return d.ifnameRequest ?? (idx === 0 ? cniIfName : `net${idx}`);
}

/** Sets the pod up "by Multus"; returns the files written. */
export async function setUpLikeMultus(
  runtime: CniRuntime,
  cniDir: string,
  pod: MultusPod,
  delegates: readonly MultusDelegateSpec[],
): Promise<string[]> {
  await mkdir(join(cniDir, "results"), { recursive: true, mode: 0o700 });
  const scratch = join(cniDir, pod.containerId);
  await writeFile(scratch, JSON.stringify(delegates.map(goDelegateNetConf)), { mode: 0o600 });
  const files = [scratch];
  // Multus thin mode: its own identity first, then every pair of the runtime's CNI_ARGS appended.
  const runtimeArgs: [string, string][] = [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAMESPACE", pod.namespace],
    ["K8S_POD_NAME", pod.name],
    ["K8S_POD_INFRA_CONTAINER_ID", pod.containerId],
    ["K8S_POD_UID", pod.uid],
  ];
  const cniArgs: [string, string][] = [
    ["IgnoreUnknown", "true"],
    ["K8S_POD_NAMESPACE", pod.namespace],
    ["K8S_POD_NAME", pod.name],
    ["K8S_POD_INFRA_CONTAINER_ID", pod.containerId],
    ["K8S_POD_UID", pod.uid],
    ...runtimeArgs,
  ];
  for (const [idx, d] of delegates.entries()) {
    const ifName = multusIfName(d, idx);
    const list = parseNetworkConfig(d.config);
    const result = await runtime.addNetworkList(
      list,
      {
        containerId: pod.containerId as ContainerId,
        netns: pod.netns,
        ifName: ifName as IfName,
        args: cniArgs,
        capabilityArgs: {},
      },
      AbortSignal.timeout(60_000),
    );
    const cache = join(cniDir, "results", `${list.name}-${pod.containerId}-${ifName}`);
    await writeFile(
      cache,
      JSON.stringify({
        kind: "cniCacheV1",
        containerId: pod.containerId,
        config: Buffer.from(JSON.stringify(d.config)).toString("base64"),
        ifName,
        networkName: list.name,
        netns: pod.netns,
        cniArgs,
        result,
      }),
      { mode: 0o600 },
    );
    files.push(cache);
  }
  return files;
}

/** One DelegateNetConf as Go marshals it (pkg/types/types.go; libcni types.NetConf / NetConfList). */
function goDelegateNetConf(d: MultusDelegateSpec): Record<string, unknown> {
  const isList = Array.isArray(d.config["plugins"]);
  const netConf = (c: JsonObject) => ({
    ...(c["cniVersion"] ? { cniVersion: c["cniVersion"] } : {}),
    ...(c["name"] ? { name: c["name"] } : {}),
    ...(c["type"] ? { type: c["type"] } : {}),
    ...(c["capabilities"] ? { capabilities: c["capabilities"] } : {}),
    ipam: typeof c["ipam"] === "object" && c["ipam"] !== null ? { type: (c["ipam"] as JsonObject)["type"] } : {},
    dns: {},
  });
  return {
    Conf: isList ? netConf({}) : netConf(d.config),
    ConfList: isList
      ? {
          cniVersion: d.config["cniVersion"],
          name: d.config["name"],
          plugins: (d.config["plugins"] as JsonObject[]).map(netConf),
        }
      : {},
    Name: d.name,
    ...(d.ifnameRequest ? { ifnameRequest: d.ifnameRequest } : {}),
    IsFilterV4Gateway: false,
    IsFilterV6Gateway: false,
    Bytes: Buffer.from(JSON.stringify(d.config)).toString("base64"),
  };
}
