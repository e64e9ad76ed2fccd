// DEL of a pod Multus set up, on a node Plexus took over (docs/migration.md): Plexus has no state
// for it, Multus's own cache says what ran (src/cache/multus-cache.ts). Each delegate is deleted
// as Multus would have: reverse order, the same interface names, the config it executed, the
// result libcni cached as prevResult, and the CNI_ARGS and capability args ADD had (Multus
// pkg/multus/multus.go delPlugins). Every delegate is attempted; while one fails, Multus's files
// stay for the runtime's next DEL, as Plexus's own state would.

import { CniError, ErrorCode } from "../cni/error.js";
import { parseIfName } from "../cni/ids.js";
import { ATTACHMENT_RECORD_KIND, ATTACHMENT_RECORD_VERSION, type AttachmentRecord } from "../cache/record.js";
import type { MultusContainer, MultusDelegate } from "../cache/multus-cache.js";
import { delegateArgs } from "./attachments.js";
import type { ContainerRequest, EngineDeps } from "./deps.js";
import { describePod, podRefFromArgs } from "./pod.js";
import { deleteAttachments } from "./teardown.js";

/** Multus's state for the container, or undefined (none, or no Multus cache configured). */
export async function loadMultusContainer(
  req: ContainerRequest,
  deps: EngineDeps,
): Promise<MultusContainer | undefined> {
  if (deps.multus === undefined) return undefined;
  try {
    return await deps.multus.load(req.env.containerId, req.env.ifName);
  } catch (err) {
    throw new CniError(
      ErrorCode.DecodingFailure,
      `pod ${describePod(podRefFromArgs(req.env.args))}: Multus's cache for container ${req.env.containerId} ` +
        `cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export async function deleteMultusContainer(
  req: ContainerRequest,
  deps: EngineDeps,
  container: MultusContainer,
): Promise<void> {
  const records = container.delegates.map((d) => asRecord(d, req, deps.now()));
  const failures = await deleteAttachments(records, req.env.netns, deps);
  const pod = describePod(podRefFromArgs(req.env.args));
  if (failures.length > 0) {
    const first = failures[0] as (typeof failures)[number];
    throw new CniError(
      first.error.code,
      `pod ${pod}: DEL of the networks Multus set up failed for ${failures.length} ` +
        `of ${records.length}: ${failures.map((f) => f.error.message).join("; ")} (Multus's ` +
        `cache ${container.scratchFile} is kept for the next DEL)`,
      { cause: first.error },
    );
  }
  await deps.multus?.forget(container);
  await deps.cache.forgetContainer(req.env.containerId, "deleted");
  deps.log.info(
    { networks: records.map((r) => `${r.networkRef} (${r.ifName})`), multusCache: container.scratchFile },
    "tore down a pod Multus had set up, from Multus's cache",
  );
}

function asRecord(d: MultusDelegate, req: ContainerRequest, at: Date): AttachmentRecord {
  const pod = podRefFromArgs(req.env.args);
  return {
    kind: ATTACHMENT_RECORD_KIND,
    version: ATTACHMENT_RECORD_VERSION,
    containerId: req.env.containerId,
    primaryIfName: req.env.ifName,
    ifName: parseIfName(d.ifName),
    index: d.index,
    role: d.index === 0 ? "cluster" : "selected",
    networkRef: d.name,
    ...(pod ? { pod } : {}),
    netns: req.env.netns,
    // What ADD ran with (libcni caches them); without a cache entry, the pod's identity as Multus passes it.
    cniArgs: d.cached ? d.cached.cniArgs.map(([k, v]) => [k, v]) : delegateArgs(req, pod),
    capabilityArgs: { ...(d.cached?.capabilityArgs ?? {}) },
    config: { ...d.config },
    state: "added",
    ...(d.cached?.result ? { result: d.cached.result } : {}),
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
  };
}
