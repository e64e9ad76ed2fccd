// An attachment as the runtime executes it and as the cache remembers it. The record holds the
// delegate configuration exactly as executed, so DEL never needs the pod, the NAD or the API.

import { parseNetworkConfig, type NetworkConfigList } from "../cni/conf.js";
import { formatCniArgs } from "../cni/args.js";
import { formatResult, parseResult, type Result100 } from "../cni/result.js";
import { toResult100 } from "../cni/convert.js";
import { ATTACHMENT_RECORD_KIND, ATTACHMENT_RECORD_VERSION, type AttachmentRecord } from "../cache/record.js";
import type { PodRef } from "../k8s/port.js";
import type { RuntimeConf } from "../runtime/types.js";
import type { ContainerRequest } from "./deps.js";
import type { PlannedAttachment } from "./plan.js";

/**
 * CNI_ARGS for delegates: the pod's identity first, then whatever the runtime sent, then the
 * attachment's own (`extra`: a selection's MAC= and IP=), which replace the runtime's pairs of
 * the same keys (Multus appends them last, and plugins' LoadArgs keeps the last value).
 */
export function delegateArgs(
  req: ContainerRequest,
  pod: PodRef | undefined,
  extra: readonly (readonly [string, string])[] = [],
): [string, string][] {
  const a = req.env.args;
  const own: [string, string][] = [
    ["K8S_POD_NAMESPACE", pod?.namespace ?? a.podNamespace ?? ""],
    ["K8S_POD_NAME", pod?.name ?? a.podName ?? ""],
    ["K8S_POD_INFRA_CONTAINER_ID", a.infraContainerId ?? req.env.containerId ?? ""],
    ["K8S_POD_UID", pod?.uid ?? a.podUid ?? ""],
  ];
  const replaced = new Set(["IgnoreUnknown", ...extra.map(([k]) => k)]);
  return [
    ...own,
    ...a.pairs.filter(([k]) => !replaced.has(k)).map(([k, v]) => [k, v] as [string, string]),
    ...extra.map(([k, v]) => [k, v] as [string, string]),
  ];
}

export function newRecord(
  a: PlannedAttachment,
  req: ContainerRequest,
  pod: PodRef | undefined,
  at: Date,
): AttachmentRecord {
  return {
    kind: ATTACHMENT_RECORD_KIND,
    version: ATTACHMENT_RECORD_VERSION,
    containerId: req.env.containerId,
    primaryIfName: req.env.ifName,
    ifName: a.ifName,
    index: a.index,
    role: a.role,
    networkRef: a.networkRef,
    ...(pod ? { pod: { namespace: pod.namespace, name: pod.name, ...(pod.uid ? { uid: pod.uid } : {}) } } : {}),
    netns: req.env.netns,
    cniArgs: delegateArgs(req, pod, a.cniArgs),
    capabilityArgs: { ...a.capabilityArgs },
    config: { ...a.list.raw },
    ...(a.defaultRoute ? { defaultRoute: [...a.defaultRoute] } : {}),
    ...(a.deviceInfo ? { deviceInfoFile: a.deviceInfo.file } : {}),
    ...(a.role === "cluster" ? { sandbox: sandboxOf(req) } : {}),
    state: "planned",
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
  };
}

/** What a hot-plug needs to run more attachments for this sandbox later (docs/architecture.md#hot-plug). */
function sandboxOf(req: ContainerRequest): NonNullable<AttachmentRecord["sandbox"]> {
  return { conf: { ...req.raw }, cniPath: req.env.path.join(":"), cniArgs: formatCniArgs(req.env.args.pairs) };
}

export function withResult(r: AttachmentRecord, result: Result100, at: Date): AttachmentRecord {
  return { ...r, state: "added", result: formatResult(result), updatedAt: at.toISOString() };
}

/** The runtime view of a record; `netns` is the one of this invocation (may be "" on DEL). */
export function runtimeConfOf(r: AttachmentRecord, netns: string): RuntimeConf {
  return {
    containerId: r.containerId,
    netns,
    ifName: r.ifName,
    args: r.cniArgs,
    capabilityArgs: r.capabilityArgs,
  };
}

export function listOf(r: AttachmentRecord): NetworkConfigList {
  return parseNetworkConfig(r.config);
}

export function resultOf(r: AttachmentRecord): Result100 | undefined {
  return r.result ? toResult100(parseResult(r.result)) : undefined;
}

export function describeAttachment(r: Pick<AttachmentRecord, "networkRef" | "ifName">): string {
  return `network "${r.networkRef}" (${r.ifName})`;
}
