// Hot-plug (docs/architecture.md#hot-plug): bring a running pod's secondary attachments to what
// its k8s.v1.cni.cncf.io/networks annotation asks for now. Level-triggered: it compares the
// annotation with the state files (the truth about what the pod has), so it converges from any
// starting point (a daemon restart, a hot-plug killed half-way), and doing it twice does nothing.
//
//   load      the container's records; the cluster network's record holds the ADD's settings
//   diff      which attachments to keep, detach and attach (src/networks/hotplug-diff.ts)
//   detach    each gone attachment, in reverse order: DEL, then its record goes
//   attach    each new selection, in annotation order, exactly as ADD runs one: NAD, plan,
//             persist, delegate; a failure is rolled back and leaves the pod as it was
//   publish   network-status from the records, in attachment order, with a resourceVersion
//             precondition; one Event per change, a Warning per failure
//
// Only selections are hot-plugged: the cluster network, defaultNetworks and every attachment that
// stays are never touched (same link, same ifindex, same addresses). The caller serializes this
// with the container's CNI commands and cancels it (deps.signal) for the pod's DEL.

import type { JsonObject } from "../cni/conf.js";
import { parseCniEnv } from "../cni/env.js";
import { CniError, ErrorCode, toCniError } from "../cni/error.js";
import type { IfName } from "../cni/ids.js";
import type { Result100 } from "../cni/result.js";
import type { AttachmentRecord } from "../cache/record.js";
import { parsePlexusNetConf } from "../config/netconf.js";
import type { Pod, PodRef } from "../k8s/port.js";
import { NETWORKS_ANNOTATION, NETWORK_STATUS_ANNOTATION } from "../networks/annotations.js";
import { checkArgsOnlyRequests } from "../networks/delegate-config.js";
import { diffSelections, selectionRef, type CurrentAttachment, type PlannedAttach } from "../networks/hotplug-diff.js";
import { checkNamespaceIsolation } from "../networks/isolation.js";
import {
  buildNetworkStatus,
  eventMessage,
  formatNetworkStatusAnnotation,
  parseNetworkStatusAnnotation,
} from "../networks/network-status.js";
import { parseNetworkSelections, type NetworkSelection } from "../networks/selection.js";
import { addAttachment, readDeviceInfo, seedDeviceInfo } from "./add.js";
import { newRecord, resultOf } from "./attachments.js";
import { withContainerLock } from "./command-lock.js";
import type { ContainerRequest, EngineDeps } from "./deps.js";
import { fromNad, getNad } from "./networks.js";
import { planSelection } from "./plan.js";
import { describePod, podRefFromArgs } from "./pod.js";
import { recordFailureEvent } from "./publish.js";
import { deleteAttachments } from "./teardown.js";

/** The Warning Event reason of a hot-plug that failed (it is retried while the annotation asks). */
const HOTPLUG_FAILED_REASON = "NetworkHotplugFailed";
/** The Normal Event reason of an attachment a hot-plug removed. */
const REMOVED_INTERFACE_REASON = "RemovedInterface";

export interface HotplugFailure {
  readonly operation: "attach" | "detach" | "annotation" | "status";
  /** "namespace/name" of the network, when the failure is about one. */
  readonly network?: string;
  readonly ifName?: string;
  /** The NAD that does not exist (yet): creating it is worth a retry at once. */
  readonly missingNad?: string;
  readonly message: string;
}

export interface HotplugOutcome {
  /** Why nothing was reconciled: the container is gone, its ADD has not finished, the pod is another one... */
  readonly skipped?: string;
  /** "ifName=namespace/name" of each attachment added, and removed. */
  readonly attached: readonly string[];
  readonly detached: readonly string[];
  readonly failures: readonly HotplugFailure[];
  /** Set when deps.signal aborted the reconcile (the pod's DEL, the daemon stopping). */
  readonly cancelled: boolean;
  /** The network-status value the pod carries now, when the reconcile wrote it or found it right. */
  readonly networkStatus?: string;
}

export interface SandboxRequest {
  readonly req: ContainerRequest;
  /** The CNI_* variables of that ADD, for the delegates' environment. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The request a hot-plug runs under: the sandbox's ADD as the cluster network's record keeps it
 * (its configuration, CNI_PATH, CNI_ARGS) with the netns and CNI_IFNAME of that ADD. Undefined
 * when the record has none (an ADD by a Plexus before hot-plug): such a pod is left alone.
 */
export function sandboxRequest(records: readonly AttachmentRecord[]): SandboxRequest | undefined {
  const cluster = records.find((r) => r.role === "cluster");
  if (!cluster?.sandbox || cluster.state !== "added") return undefined;
  const env = {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: cluster.containerId,
    CNI_NETNS: cluster.netns,
    CNI_IFNAME: cluster.primaryIfName,
    CNI_PATH: cluster.sandbox.cniPath,
    CNI_ARGS: cluster.sandbox.cniArgs,
  };
  const raw = cluster.sandbox.conf as JsonObject;
  const parsed = parseCniEnv(env);
  if (parsed.command !== "ADD") return undefined;
  return { req: { env: parsed, conf: parsePlexusNetConf(raw).conf, raw }, env };
}

/**
 * Reconciles under the container's lock (docs/state.md "Locks"), like every command for it: a
 * thin plexus's DEL of the pod (the daemon restarting) waits for the hot-plug to end, and a
 * hot-plug waits for a command that runs.
 */
export function reconcileHotplug(req: ContainerRequest, pod: Pod, deps: EngineDeps): Promise<HotplugOutcome> {
  return withContainerLock(req, deps, (owned) => reconcile(req, pod, owned));
}

async function reconcile(req: ContainerRequest, pod: Pod, deps: EngineDeps): Promise<HotplugOutcome> {
  const outcome = { attached: [] as string[], detached: [] as string[], failures: [] as HotplugFailure[] };
  const skip = (skipped: string): HotplugOutcome => ({ ...outcome, skipped, cancelled: false });
  const containerId = req.env.containerId;
  const ref = podRefFromArgs(req.env.args);
  if (!ref) return skip("the sandbox's CNI_ARGS name no pod");
  if (pod.metadata.uid !== ref.uid) return skip("the pod of that name is another one (deleted and recreated)");
  if (pod.metadata.deletionTimestamp) return skip("the pod is terminating");
  const state = await deps.cache.loadContainer(containerId);
  if (state.corrupt.length > 0) return skip("a state file of the container is unreadable (its DEL will deal with it)");
  if (state.attachments.some((r) => r.role !== "selected" && r.state !== "added"))
    return skip("the sandbox's ADD has not finished");
  const kube = await deps.kube();
  if (!kube) return skip("no API access");

  const podName = describePod(ref);
  let wanted: readonly NetworkSelection[];
  try {
    wanted = wantedSelections(pod, ref, req);
  } catch (err) {
    const message = toCniError(err).message;
    outcome.failures.push({ operation: "annotation", message });
    recordFailureEvent(kube, ref, HOTPLUG_FAILED_REASON, `hot-plug not applied: ${message}`);
    return { ...outcome, cancelled: false };
  }
  const selected = state.attachments.filter((r) => r.role === "selected");
  const reserved = new Set(state.attachments.filter((r) => r.role !== "selected").map((r) => r.ifName));
  const diff = diffSelections(selected.map(currentOf), reserved, wanted);
  for (const r of diff.refused)
    outcome.failures.push({
      operation: "attach",
      network: selectionRef(r.selection),
      message:
        `pod ${podName}: annotation ${NETWORKS_ANNOTATION}, item ${r.item + 1} ` +
        `("${r.selection.name}"): ${r.reason}`,
    });

  let changed = false;
  for (const gone of diff.detach) {
    if (deps.signal.aborted) break;
    const record = selected.find((r) => r.ifName === gone.ifName) as AttachmentRecord;
    const failure = (await deleteAttachments([record], req.env.netns, deps))[0];
    if (failure) {
      outcome.failures.push({
        operation: "detach",
        network: record.networkRef,
        ifName: record.ifName,
        message: `pod ${podName}: ${failure.error.message}`,
      });
      continue;
    }
    await deps.cache.removeAttachment(containerId, record.ifName);
    changed = true;
    // A record whose ADD never finished was no interface of the pod's: nothing to announce.
    if (record.state === "added") {
      outcome.detached.push(`${record.ifName}=${record.networkRef}`);
      kube.recordEvent({
        pod: ref,
        type: "Normal",
        reason: REMOVED_INTERFACE_REASON,
        message: `Remove ${record.ifName} from ${record.networkRef}`,
      });
    }
  }
  for (const planned of diff.attach) {
    if (deps.signal.aborted) break;
    const added = await attachOne(planned, req, ref, deps).catch((err: unknown) => {
      outcome.failures.push(attachFailure(planned, ref, err));
      return undefined;
    });
    if (!added) continue;
    changed = true;
    outcome.attached.push(`${added.ifName}=${added.networkRef}`);
    const result = resultOf(added) as Result100;
    kube.recordEvent({
      pod: ref,
      type: "Normal",
      reason: "AddedInterface",
      message: eventMessage(added.ifName, ipsOf(result, added.ifName), added.networkRef),
    });
  }
  if (deps.signal.aborted) return { ...outcome, cancelled: true };

  const status = await statusFromRecords(containerId, deps);
  const had = pod.metadata.annotations?.[NETWORK_STATUS_ANNOTATION];
  let networkStatus = had;
  if (changed || !sameAttachments(had, status.entries)) {
    try {
      await kube.updateNetworkStatus(ref, status.value, deps.signal);
      networkStatus = status.value;
    } catch (err) {
      networkStatus = undefined;
      outcome.failures.push({
        operation: "status",
        message: `pod ${podName}: cannot write the ${NETWORK_STATUS_ANNOTATION} annotation: ${toCniError(err).message}`,
      });
    }
  }
  for (const f of outcome.failures)
    recordFailureEvent(kube, ref, HOTPLUG_FAILED_REASON, `${f.message} (retried while the annotation asks for it)`);
  return { ...outcome, cancelled: deps.signal.aborted, ...(networkStatus !== undefined ? { networkStatus } : {}) };
}

/** The annotation's selections, validated as ADD validates them (strictness and namespace isolation included). */
function wantedSelections(pod: Pod, ref: PodRef, req: ContainerRequest): readonly NetworkSelection[] {
  const value = pod.metadata.annotations?.[NETWORKS_ANNOTATION] ?? "";
  const podName = describePod(ref);
  const { selections } = parseNetworkSelections(value, {
    podNamespace: ref.namespace,
    pod: podName,
    strict: req.conf.strictSelections,
  });
  for (const sel of selections) checkNamespaceIsolation(sel, ref.namespace, req.conf, { pod: podName });
  return selections;
}

function currentOf(r: AttachmentRecord): CurrentAttachment {
  return { ifName: r.ifName, networkRef: r.networkRef, index: r.index, added: r.state === "added" };
}

/**
 * One new attachment, exactly as ADD runs one: the NAD, the plan (capabilities, cni-args,
 * device-info), the record on disk before any side effect, the delegates, the ips/mac check.
 * A failure is rolled back (docs/architecture.md#rollback) and rethrown: the pod is as it was.
 * Cancelled (the pod's DEL is waiting), the record stays for that DEL to tear down.
 */
async function attachOne(
  planned: PlannedAttach,
  req: ContainerRequest,
  ref: PodRef,
  deps: EngineDeps,
): Promise<AttachmentRecord> {
  const podName = describePod(ref);
  const sel = planned.selection;
  if (sel.defaultRoute !== undefined)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `pod ${podName}: network "${selectionRef(sel)}": default-route cannot be hot-plugged (it would change the ` +
        `routes of the pod's other interfaces); recreate the pod to change it`,
    );
  const kube = (await deps.kube())!;
  const nad = await getNad(kube, sel.namespace, sel.name, deps, podName).catch((err: unknown) => {
    throw err instanceof CniError && err.code === ErrorCode.NotFound ? new MissingNad(err) : err;
  });
  const network = await fromNad(nad, req.conf, deps, podName);
  const records = (await deps.cache.loadContainer(req.env.containerId)).attachments;
  const index = Math.max(0, ...records.map((r) => r.index)) + 1;
  const attachment = planSelection(sel, network, { index, ifName: planned.ifName }, req);
  const record = newRecord(attachment, req, ref, deps.now());
  await deps.cache.saveAttachment(record);
  let done: AttachmentRecord | undefined;
  try {
    await seedDeviceInfo(attachment, deps);
    done = await addAttachment(record, req, deps);
    if (attachment.argsOnly)
      checkArgsOnlyRequests(attachment.argsOnly, resultOf(done) as Result100, done.ifName, {
        pod: podName,
        network: done.networkRef,
      });
    return done;
  } catch (err) {
    if (deps.signal.aborted) throw err;
    const failures = await deleteAttachments([done ?? record], req.env.netns, deps);
    // As for ADD: a plugin cleans up after its own failed ADD, so only an attachment that was
    // added and cannot be removed keeps its record (the next reconcile, or the pod's DEL, retries).
    if (failures.length === 0 || !done) await deps.cache.removeAttachment(record.containerId, record.ifName);
    throw err;
  }
}

/** The selection's NAD does not exist: the daemon retries as soon as it is created. */
class MissingNad extends Error {
  constructor(readonly error: CniError) {
    super(error.message, { cause: error });
  }
}

function attachFailure(planned: PlannedAttach, ref: PodRef, err: unknown): HotplugFailure {
  const missing = err instanceof MissingNad;
  const error = missing ? err.error : toCniError(err);
  const network = selectionRef(planned.selection);
  return {
    operation: "attach",
    network,
    ifName: planned.ifName,
    ...(missing ? { missingNad: network } : {}),
    message: error.message.startsWith("pod ") ? error.message : `pod ${describePod(ref)}: ${error.message}`,
  };
}

/** network-status as the records say: every attachment that is added, in attachment order. */
async function statusFromRecords(
  containerId: string,
  deps: EngineDeps,
): Promise<{ value: string; entries: readonly string[] }> {
  // The auxiliary chain is no network of the pod's: ADD leaves it out of network-status too.
  const records = (await deps.cache.loadContainer(containerId)).attachments.filter(
    (r) => r.state === "added" && r.role !== "auxiliary",
  );
  const statuses = [];
  for (const r of records) {
    const deviceInfo = r.deviceInfoFile ? await readDeviceInfo(r.deviceInfoFile, deps) : undefined;
    statuses.push(
      buildNetworkStatus({
        name: r.networkRef,
        ifName: r.ifName as IfName,
        isDefault: r.role === "cluster",
        result: resultOf(r) as Result100,
        ...(deviceInfo ? { deviceInfo } : {}),
      }),
    );
  }
  return {
    value: formatNetworkStatusAnnotation(statuses),
    entries: statuses.map((s) => `${s.name}|${s.interface ?? ""}|${(s.ips ?? []).join(",")}`),
  };
}

/** Whether the pod's network-status lists exactly these attachments (a failed write is made up for). */
function sameAttachments(value: string | undefined, entries: readonly string[]): boolean {
  if (value === undefined) return entries.length === 0;
  try {
    const have = parseNetworkStatusAnnotation(value).map(
      (s) => `${s.name}|${s.interface ?? ""}|${(s.ips ?? []).join(",")}`,
    );
    return have.length === entries.length && have.every((e, i) => e === entries[i]);
  } catch {
    return false;
  }
}

function ipsOf(result: Result100, ifName: string): string[] {
  return (result.ips ?? [])
    .filter((ip) => ip.interface === undefined || result.interfaces?.[ip.interface]?.name === ifName)
    .map((ip) => ip.address);
}
