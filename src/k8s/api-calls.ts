// The API requests Plexus makes, one function each, over a Requester: read a pod, read a NAD,
// write network-status. Both clients use them: the thin one (src/k8s/client.ts) for every read,
// the cache-backed one (src/k8s/node-caches.ts) when its caches cannot answer.

import type { Logger } from "../log/logger.js";
import type { KubeMetricsSink } from "./metrics.js";
import { NETWORK_STATUS_ANNOTATION, isStaticPod, parseNetworkAttachmentDefinition, parsePod } from "./objects.js";
import { KubeError, isKubeError, type NetworkAttachmentDefinition, type Pod, type PodRef } from "./port.js";
import type { Requester } from "./request.js";
import { CONFLICT_ATTEMPTS, conflictBackoffMs, type KubeClientSettings, type Sleep } from "./retry.js";
import type { Transport } from "./transport.js";

/** Everything one client shares: the connection pool, the retry policy, the log, the metrics. */
export interface ApiContext {
  readonly transport: Transport;
  readonly request: Requester;
  readonly settings: KubeClientSettings;
  readonly sleep: Sleep;
  readonly log: Logger;
  readonly metrics?: KubeMetricsSink | undefined;
}

export const seg = encodeURIComponent;

export const NADS_PATH = "/apis/k8s.cni.cncf.io/v1";
export const NAD_RESOURCE = "network-attachment-definitions";

function podSubject(ref: Pick<PodRef, "namespace" | "name">): string {
  return `pod ${ref.namespace}/${ref.name}`;
}

function podPath(ref: Pick<PodRef, "namespace" | "name">): string {
  return `/api/v1/namespaces/${seg(ref.namespace)}/pods/${seg(ref.name)}`;
}

/** The pod of that name as the API server has it now, whatever its UID (the caller compares). */
export async function readPod(ctx: ApiContext, ref: PodRef, signal: AbortSignal): Promise<Pod> {
  const subject = podSubject(ref);
  const body = await ctx.request(subject, { method: "GET", path: podPath(ref), verb: "get", resource: "pods" }, signal);
  const parsed = parsePod(body);
  if (typeof parsed === "string") throw new KubeError("invalid", `${subject}: ${parsed}`);
  return parsed.pod;
}

export async function readNad(
  ctx: ApiContext,
  namespace: string,
  name: string,
  signal: AbortSignal,
): Promise<NetworkAttachmentDefinition> {
  const subject = `network-attachment-definition ${namespace}/${name}`;
  const path = `${NADS_PATH}/namespaces/${seg(namespace)}/${NAD_RESOURCE}/${seg(name)}`;
  const body = await ctx.request(subject, { method: "GET", path, verb: "get", resource: NAD_RESOURCE }, signal);
  const parsed = parseNetworkAttachmentDefinition(body);
  if (typeof parsed === "string") throw new KubeError("invalid", `${subject}: ${parsed}`);
  return parsed;
}

export interface StatusWrite {
  /**
   * The UID the pod must still have: the merge patch carries it, and the API server refuses to
   * change an object's UID (422 on metadata.uid, read as not-found), so a pod deleted and
   * recreated under the same name never gets the old sandbox's network-status.
   */
  readonly uid?: string | undefined;
  /**
   * Optimistic concurrency for writers that compute the value from what they read: with it the
   * server answers 409 when the pod changed since (the caller re-reads and retries). ADD does
   * not need it: it writes the whole value from its own attachments, and the last ADD of a
   * sandbox is the one that counts. Hot-plug, which can race another writer of the same pod,
   * will: a resourceVersion precondition with retry is preferred there over server-side apply,
   * because network-status is ONE string that Plexus always recomputes whole from its state on
   * disk; apply's per-field ownership would make a second writer's whole-value update a conflict
   * to force, not a merge, and would cost a managedFields entry on every pod.
   */
  readonly resourceVersion?: string | undefined;
}

/**
 * ONE request: a JSON merge patch of pods/status that sets the annotation (annotations written
 * through the status subresource persist; the pod status strategy resets spec and ownerReferences
 * only), instead of the NAD client library's GET + PUT with retries on conflict.
 */
async function patchNetworkStatus(
  ctx: ApiContext,
  ref: PodRef,
  value: string,
  write: StatusWrite,
  signal: AbortSignal,
): Promise<void> {
  const metadata = {
    ...(write.uid !== undefined ? { uid: write.uid } : {}),
    ...(write.resourceVersion !== undefined ? { resourceVersion: write.resourceVersion } : {}),
    annotations: { [NETWORK_STATUS_ANNOTATION]: value },
  };
  await ctx.request(
    `${podSubject(ref)}: status`,
    {
      method: "PATCH",
      path: `${podPath(ref)}/status`,
      body: { metadata },
      contentType: "application/merge-patch+json",
      verb: "patch",
      resource: "pods/status",
    },
    signal,
  );
}

/**
 * Writes network-status for the pod the runtime named, given what the client already knows of
 * it (from its cache, or the GET this process just made), in one request when it can:
 *   - nothing, when the known pod (same UID) already carries exactly this value (a repeated ADD);
 *   - the PATCH, with the runtime's UID as precondition; a static pod's mirror has a UID of its
 *     own, so for a known static pod the mirror's UID is the precondition instead;
 *   - only when the server refuses the UID and the client knew nothing of the pod: one GET to
 *     tell a static pod's mirror (write again with its UID) from a recreated pod (not-found).
 */
export async function publishNetworkStatus(
  ctx: ApiContext,
  ref: PodRef,
  value: string,
  known: Pod | undefined,
  signal: AbortSignal,
): Promise<void> {
  const knownUid = known?.metadata.uid;
  const sameUid = ref.uid === undefined || knownUid === ref.uid;
  if (known && (sameUid || isStaticPod(known))) {
    if (known.metadata.annotations?.[NETWORK_STATUS_ANNOTATION] === value) return;
    return patchNetworkStatus(ctx, ref, value, { uid: knownUid ?? ref.uid }, signal);
  }
  try {
    await patchNetworkStatus(ctx, ref, value, { uid: ref.uid }, signal);
  } catch (err) {
    if (!isKubeError(err, "not-found") || err.status !== 422) throw err;
    const current = await readPod(ctx, ref, signal);
    if (!isStaticPod(current)) throw recreated(ref, current, { status: 422, cause: err });
    await patchNetworkStatus(ctx, ref, value, { uid: current.metadata.uid }, signal);
  }
}

/** The runtime's pod is gone: the API server has another pod (another UID) under its name. */
function recreated(ref: PodRef, current: Pod, options: { status?: number; cause?: unknown } = {}): KubeError {
  return new KubeError(
    "not-found",
    `${podSubject(ref)}: not found with UID ${ref.uid ?? ""}: the API server has ` +
      `UID ${current.metadata.uid ?? ""} (the pod was deleted and recreated)`,
    options,
  );
}

/**
 * Writes network-status for a writer that can race others on the same pod (hot-plug,
 * docs/architecture.md#hot-plug): the merge patch carries the UID and the resourceVersion of
 * the pod as last read, so the API server applies it only to that version of the pod (409
 * otherwise); on 409 the pod is read again and the write retried. `known` (the cache's copy)
 * saves the first read when it is current. Nothing is written when the pod already carries the
 * value. A pod deleted or recreated under the same name is a not-found error.
 */
export async function writeNetworkStatusGuarded(
  ctx: ApiContext,
  ref: PodRef,
  value: string,
  known: Pod | undefined,
  signal: AbortSignal,
): Promise<void> {
  let pod = known && known.metadata.uid === ref.uid ? known : await readPod(ctx, ref, signal);
  for (let attempt = 1; ; attempt++) {
    if (ref.uid !== undefined && pod.metadata.uid !== ref.uid && !isStaticPod(pod)) throw recreated(ref, pod);
    if (pod.metadata.annotations?.[NETWORK_STATUS_ANNOTATION] === value) return;
    const write = { uid: pod.metadata.uid, resourceVersion: pod.metadata.resourceVersion };
    try {
      return await patchNetworkStatus(ctx, ref, value, write, signal);
    } catch (err) {
      if (!isKubeError(err, "conflict") || attempt >= CONFLICT_ATTEMPTS) throw err;
      ctx.log.debug(
        { pod: `${ref.namespace}/${ref.name}`, attempt },
        "network-status changed meanwhile: reading the pod again",
      );
    }
    await ctx.sleep(conflictBackoffMs(), signal);
    pod = await readPod(ctx, ref, signal);
  }
}
