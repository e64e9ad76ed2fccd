// Step 7 of ADD: the pod's k8s.v1.cni.cncf.io/network-status annotation and one Event per
// interface, written the way the NAD client library and Multus write them
// (docs/compatibility.md#network-status). Events are best effort and asynchronous (queued here,
// written by the client after the reply); the status is not.

import type { JsonObject } from "../cni/conf.js";
import type { IfName } from "../cni/ids.js";
import type { Result100 } from "../cni/result.js";
import { isKubeError, type KubeClient, type PodRef } from "../k8s/port.js";
import { describeSelectionWarning, type SelectionWarning } from "../networks/selection.js";
import { buildNetworkStatus, eventMessage, formatNetworkStatusAnnotation } from "../networks/network-status.js";
import type { EngineDeps } from "./deps.js";
import { describePod, kubeFailure } from "./pod.js";

export interface PublishedAttachment {
  readonly networkRef: string;
  readonly ifName: IfName;
  readonly isCluster: boolean;
  readonly result: Result100;
  readonly deviceInfo?: JsonObject;
}

export async function publishNetworkStatus(
  kube: KubeClient,
  pod: PodRef,
  attachments: readonly PublishedAttachment[],
  deps: EngineDeps,
): Promise<void> {
  const statuses = attachments.map((a) =>
    buildNetworkStatus({
      name: a.networkRef,
      ifName: a.ifName,
      isDefault: a.isCluster,
      result: a.result,
      ...(a.deviceInfo ? { deviceInfo: a.deviceInfo } : {}),
    }),
  );
  try {
    await kube.publishNetworkStatus(pod, formatNetworkStatusAnnotation(statuses), deps.signal);
  } catch (err) {
    // The pod was deleted while its sandbox was being set up: nothing left to annotate.
    if (isKubeError(err, "not-found")) {
      deps.log.warn({ reason: err.message }, "pod disappeared before its network-status could be written");
    } else {
      throw kubeFailure(err, `pod ${describePod(pod)}: cannot write the k8s.v1.cni.cncf.io/network-status annotation`);
    }
  } finally {
    // Queued after the status write, so that their requests never compete with it.
    for (const a of attachments) {
      kube.recordEvent({
        pod,
        type: "Normal",
        reason: "AddedInterface",
        message: eventMessage(
          a.ifName,
          (a.result.ips ?? []).filter((ip) => ownsIp(a, ip.interface)).map((ip) => ip.address),
          a.networkRef,
        ),
      });
    }
  }
}

function ownsIp(a: PublishedAttachment, index: number | undefined): boolean {
  if (index === undefined) return true;
  const iface = a.result.interfaces?.[index];
  return iface !== undefined && iface.name === a.ifName;
}

/**
 * A warning Event on the pod when ADD fails, so `kubectl describe pod` says why. Queued: the
 * runtime retries a failing sandbox, and each retry adds to the one Event's count.
 */
export function recordFailureEvent(
  kube: KubeClient | undefined,
  pod: PodRef | undefined,
  reason: string,
  message: string,
): void {
  if (!kube || !pod) return;
  kube.recordEvent({ pod, type: "Warning", reason, message: message.slice(0, 1024) });
}

/**
 * What the pod's annotations asked for that was accepted but not applied as written (unknown
 * keys, duplicates): one log line each, naming the key, the item and the key probably meant, and
 * ONE Warning Event on the pod with all of them, so `kubectl describe pod` shows it without the
 * node's log (docs/compatibility.md#input-tolerance). Queued like every event: a retried
 * sandbox adds to the one Event's count.
 */
export function reportSelectionWarnings(
  kube: KubeClient | undefined,
  pod: PodRef | undefined,
  warnings: readonly SelectionWarning[],
  deps: EngineDeps,
): void {
  if (warnings.length === 0) return;
  for (const w of warnings) {
    deps.log.warn(
      {
        pod: describePod(pod),
        annotation: w.annotation,
        item: w.item,
        key: w.key,
        ...(w.suggestion ? { suggestion: w.suggestion } : {}),
      },
      describeSelectionWarning(w),
    );
  }
  const message =
    `${warnings.map(describeSelectionWarning).join("; ")} ` +
    "(accepted as Multus accepts it; set strictSelections in the Plexus configuration to refuse such pods)";
  recordFailureEvent(kube, pod, SELECTION_WARNING_REASON, message);
}

/** The reason of the Warning Event listing a pod's ignored selection input. */
export const SELECTION_WARNING_REASON = "NetworkSelectionWarning";
