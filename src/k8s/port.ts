// The Kubernetes port: everything Plexus needs from the API server, as plain data.
// The client (src/k8s/client.ts) is the only importer of @kubernetes/client-node; the engine
// and tests see only this interface, so a fake is a plain object.

import type { Namespace, PodName, PodUid } from "../cni/ids.js";

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  /** Set once the pod is being deleted (it is never hot-plugged then). */
  readonly deletionTimestamp?: string;
}

export interface Pod {
  readonly metadata: ObjectMeta;
  readonly spec?: { readonly nodeName?: string };
  readonly status?: { readonly phase?: string };
}

export interface NetworkAttachmentDefinition {
  readonly metadata: ObjectMeta;
  readonly spec?: { readonly config?: string };
}

export interface PodRef {
  readonly namespace: Namespace;
  readonly name: PodName;
  readonly uid?: PodUid;
}

export interface KubeEvent {
  readonly pod: PodRef;
  readonly type: "Normal" | "Warning";
  /** CamelCase, e.g. AddedInterface, NoNetworkFound, NetworkSetupFailed. */
  readonly reason: string;
  readonly message: string;
}

/** Error kinds the engine branches on (carried as `kind` on the thrown KubeError). */
export type KubeErrorKind =
  "not-found" | "conflict" | "forbidden" | "unauthorized" | "unavailable" | "invalid" | "timeout";

export class KubeError extends Error {
  override readonly name = "KubeError";
  constructor(
    readonly kind: KubeErrorKind,
    message: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = options.status;
  }
  readonly status: number | undefined;
}

/**
 * Whether `err` is a KubeError. Not `instanceof`: the client is loaded from a bundle of its own
 * (src/cli/k8s-loader.ts), whose KubeError class is another copy of this one.
 */
export function isKubeError(err: unknown, kind?: KubeErrorKind): err is KubeError {
  if (!(err instanceof Error) || err.name !== "KubeError") return false;
  const k = (err as { kind?: unknown }).kind;
  return typeof k === "string" && (kind === undefined || k === kind);
}

export interface KubeClient {
  /**
   * The pod of that name as the API server has it (or as a cache current with it has it). The
   * UID in `ref`, when given, is the one the caller expects: a cache holding another UID asks
   * the API server before answering. The caller compares UIDs (a newer pod of the same name is
   * not the same as no pod).
   */
  getPod(ref: PodRef, signal: AbortSignal): Promise<Pod>;
  getNetworkAttachmentDefinition(
    namespace: string,
    name: string,
    signal: AbortSignal,
  ): Promise<NetworkAttachmentDefinition>;
  /**
   * Writes the network-status annotation on the pod: one PATCH of pods/status carrying the
   * pod's UID as a precondition (none at all when the pod already carries the value). A pod
   * deleted, or deleted and recreated, is a not-found error.
   */
  publishNetworkStatus(ref: PodRef, value: string, signal: AbortSignal): Promise<void>;
  /**
   * Writes the network-status annotation with the pod's resourceVersion as a precondition,
   * reading the pod again and retrying when another writer changed it meanwhile (409): for a
   * writer that races others on a running pod (hot-plug). A pod deleted, or deleted and
   * recreated, is a not-found error.
   */
  updateNetworkStatus(ref: PodRef, value: string, signal: AbortSignal): Promise<void>;
  /**
   * Queues an Event for asynchronous delivery (rate-limited, repeats aggregated into a count):
   * never throws, never waits for the API. An event is not worth delaying a pod for.
   */
  recordEvent(event: KubeEvent): void;
  /**
   * Delivers the queued events until `signal` aborts, then gives up on the rest. A short-lived
   * process calls it after its reply is written, before it exits.
   */
  flushEvents(signal: AbortSignal): Promise<void>;
}
