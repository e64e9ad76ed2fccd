// The KubeClient port (src/k8s/port.ts) over the real API, with client-node for credentials.
// Loaded lazily by the CLI (`await import("../k8s/client.js")`) on paths that talk to the API:
// importing the client library is the most expensive thing the plugin process does. Whether
// API access is configured at all is answered by src/k8s/api-access.ts, which costs nothing.

import type { Logger } from "../log/logger.js";
import { describeApiAccess, findApiAccess, type ApiAccessOptions } from "./api-access.js";
import { buildEvent } from "./event-object.js";
import { loadKubeConfig } from "./client-config.js";
import {
  NETWORK_STATUS_ANNOTATION,
  isStaticPod,
  parseNetworkAttachmentDefinition,
  parsePod,
  withAnnotation,
  type ParsedPod,
} from "./objects.js";
import {
  KubeError,
  type KubeClient,
  type KubeEvent,
  type NetworkAttachmentDefinition,
  type Pod,
  type PodRef,
} from "./port.js";
import { createRequester, type Requester } from "./request.js";
import { CONFLICT_ATTEMPTS, conflictBackoffMs, defaultSleep, type KubeClientSettings, type Sleep } from "./retry.js";
import { createTransport } from "./transport.js";

export interface CreateKubeClientOptions extends ApiAccessOptions {
  readonly settings: KubeClientSettings;
  readonly log: Logger;
  readonly sleep?: Sleep;
  readonly now?: () => Date;
}

/** Throws a KubeError when no access is configured or the kubeconfig is unusable. */
export function createKubeClient(options: CreateKubeClientOptions): KubeClient {
  const access = findApiAccess(options);
  if (!access) {
    throw new KubeError(
      "unavailable",
      "no Kubernetes API access configured: no kubeconfig, and no in-cluster service account (KUBERNETES_SERVICE_HOST/PORT)",
    );
  }
  const kc = loadKubeConfig(access);
  const transport = createTransport(kc);
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? (() => new Date());
  const { log } = options;
  log.debug({ access: describeApiAccess(access), server: transport.server }, "Kubernetes API client ready");
  const request = createRequester({ transport, settings: options.settings, sleep, log });
  const ctx: Ctx = { request, sleep, log };
  return {
    getPod: async (ref, signal) => (await readPod(ctx, ref, signal)).pod,
    getNetworkAttachmentDefinition: (namespace, name, signal) => readNad(ctx, namespace, name, signal),
    publishNetworkStatus: (ref, value, signal) => publishNetworkStatus(ctx, ref, value, signal),
    emitEvent: (event, signal) => emitEvent(ctx, event, now(), signal),
  };
}

interface Ctx {
  readonly request: Requester;
  readonly sleep: Sleep;
  readonly log: Logger;
}

const seg = encodeURIComponent;

function podSubject(ref: PodRef): string {
  return `pod ${ref.namespace}/${ref.name}`;
}

function podPath(ref: PodRef): string {
  return `/api/v1/namespaces/${seg(ref.namespace)}/pods/${seg(ref.name)}`;
}

async function readPod(ctx: Ctx, ref: PodRef, signal: AbortSignal): Promise<ParsedPod> {
  const subject = podSubject(ref);
  const parsed = parsePod(await ctx.request(subject, { method: "GET", path: podPath(ref) }, signal));
  if (typeof parsed === "string") throw new KubeError("invalid", `${subject}: ${parsed}`);
  checkUid(ref, parsed.pod);
  return parsed;
}

/**
 * The runtime names the pod it sets up by UID too: a pod of the same name with another UID is
 * a newer pod, and the one being set up no longer exists. Static pods are the exception: their
 * mirror pod in the API has a UID of its own.
 */
function checkUid(ref: PodRef, pod: Pod): void {
  const uid = pod.metadata.uid;
  if (ref.uid === undefined || uid === undefined || uid === ref.uid || isStaticPod(pod)) return;
  throw new KubeError(
    "not-found",
    `${podSubject(ref)}: not found with UID ${ref.uid}: the API server has UID ${uid} (the pod was deleted and recreated)`,
    { status: 404 },
  );
}

async function readNad(
  ctx: Ctx,
  namespace: string,
  name: string,
  signal: AbortSignal,
): Promise<NetworkAttachmentDefinition> {
  const subject = `network-attachment-definition ${namespace}/${name}`;
  const path = `/apis/k8s.cni.cncf.io/v1/namespaces/${seg(namespace)}/network-attachment-definitions/${seg(name)}`;
  const parsed = parseNetworkAttachmentDefinition(await ctx.request(subject, { method: "GET", path }, signal));
  if (typeof parsed === "string") throw new KubeError("invalid", `${subject}: ${parsed}`);
  return parsed;
}

/**
 * GET the pod, set the annotation, PUT pods/status with the resourceVersion read, again on a
 * conflict: what the NAD client's SetNetworkStatus does (pkg/utils/net-attach-def.go).
 */
async function publishNetworkStatus(ctx: Ctx, ref: PodRef, value: string, signal: AbortSignal): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { pod, raw } = await readPod(ctx, ref, signal);
    // A repeated ADD writes the same value: the write would change nothing.
    if (pod.metadata.annotations?.[NETWORK_STATUS_ANNOTATION] === value) return;
    try {
      const body = withAnnotation(raw, NETWORK_STATUS_ANNOTATION, value);
      await ctx.request(`${podSubject(ref)}: status`, { method: "PUT", path: `${podPath(ref)}/status`, body }, signal);
      return;
    } catch (err) {
      if (!(err instanceof KubeError) || err.kind !== "conflict" || attempt >= CONFLICT_ATTEMPTS) throw err;
      ctx.log.debug(
        { pod: `${ref.namespace}/${ref.name}`, attempt },
        "pod changed while writing network-status, retrying",
      );
      await ctx.sleep(conflictBackoffMs(), signal).catch((cause: unknown) => {
        throw new KubeError(
          "timeout",
          `${podSubject(ref)}: gave up writing network-status: the caller's deadline passed`,
          { cause },
        );
      });
    }
  }
}

async function emitEvent(ctx: Ctx, event: KubeEvent, now: Date, signal: AbortSignal): Promise<void> {
  const subject = `event ${event.reason} for ${podSubject(event.pod)}`;
  const path = `/api/v1/namespaces/${seg(event.pod.namespace)}/events`;
  try {
    await ctx.request(subject, { method: "POST", path, body: buildEvent(event, now) }, signal, { singleAttempt: true });
  } catch (err) {
    ctx.log.debug({ reason: (err as Error).message }, "event not written");
  }
}
