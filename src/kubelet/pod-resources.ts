// The kubelet's PodResourcesLister v1 API (gRPC over a unix socket): which devices the kubelet
// allocated to a pod's containers, for NADs annotated k8s.v1.cni.cncf.io/resourceName
// (docs/compatibility.md#devices-from-the-kubelet). The one importer of @grpc/grpc-js; messages
// are encoded by ./pod-resources-proto.ts. Loaded from a bundle of its own
// (src/cli/kubelet-loader.ts): only pods with such a NAD pay for grpc-js.
//
// Get (one pod) is used where the kubelet serves it (KubeletPodResourcesGet, beta since 1.34);
// a kubelet without it answers UNIMPLEMENTED, one with the gate off UNKNOWN ("Get method
// disabled"), and the client then uses List (every pod on the node) from there on. The kubelet
// rate-limits the API (100 requests/s, burst 10: RESOURCE_EXHAUSTED, Multus #1545): such
// answers, and UNAVAILABLE while the kubelet restarts, are retried with exponential backoff.

import { access } from "node:fs/promises";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { CniError, ErrorCode } from "../cni/error.js";
import {
  decodeGetResponse,
  decodeListResponse,
  encodeGetRequest,
  encodeListRequest,
  type PodResources,
} from "./pod-resources-proto.js";

export const DEFAULT_POD_RESOURCES_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock";

export interface PodResourcesSettings {
  /** The kubelet's pod-resources socket. */
  readonly podResourcesSocket: string;
  /** Deadline of one request (Multus: 10 s). */
  readonly requestTimeoutMs: number;
  /** Retries of a request the kubelet refused for now (RESOURCE_EXHAUSTED, UNAVAILABLE). */
  readonly retries: number;
  /** Delay before the first retry; doubles each time, with jitter. */
  readonly retryBackoffMs: number;
}

export interface PodRefName {
  readonly namespace: string;
  readonly name: string;
}

/** Device IDs by resource name, each list sorted (Multus sorts them), merged over the pod's containers. */
export type PodDevices = ReadonlyMap<string, readonly string[]>;

export interface PodResourcesClient {
  /**
   * The devices the kubelet allocated to the pod; an empty map when the kubelet does not know the
   * pod or gave it none. Failures are CniErrors naming the socket.
   */
  podDevices(pod: PodRefName, signal: AbortSignal): Promise<PodDevices>;
  close(): void;
}

export interface PodResourcesOptions {
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Each RPC as it completes, for logs and metrics. */
  readonly onCall?: (method: "Get" | "List", outcome: string, ms: number) => void;
}

const SERVICE = "/v1.PodResourcesLister";
/** The kubelet's own limit for List answers (pkg/kubelet/apis/podresources: 16 MiB). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Codes that mean "not now": retried. */
const RETRIED = new Set<number>([status.RESOURCE_EXHAUSTED, status.UNAVAILABLE]);

export function createPodResourcesClient(
  settings: PodResourcesSettings,
  options: PodResourcesOptions = {},
): PodResourcesClient {
  const sleep = options.sleep ?? defaultSleep;
  const socket = settings.podResourcesSocket;
  let client: Client | undefined;
  let getServed = true;

  const rpc = async <T>(method: "Get" | "List", request: Buffer, decode: (b: Buffer) => T, signal: AbortSignal) => {
    client ??= new Client(`unix:${socket}`, credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    });
    const c = client;
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        const value = await unary(c, method, request, decode, settings.requestTimeoutMs, signal);
        options.onCall?.(method, "ok", performance.now() - started);
        return value;
      } catch (err) {
        const code = (err as Partial<ServiceError>).code;
        options.onCall?.(
          method,
          code === undefined ? "error" : (status[code] ?? String(code)),
          performance.now() - started,
        );
        if (code === undefined || !RETRIED.has(code) || attempt >= settings.retries || signal.aborted) throw err;
        const backoff = settings.retryBackoffMs * 2 ** attempt;
        await sleep(backoff / 2 + Math.random() * backoff, signal);
      }
    }
  };

  return {
    async podDevices(pod, signal) {
      await checkSocket(socket);
      try {
        if (getServed) {
          try {
            const one = await rpc("Get", encodeGetRequest(pod), decodeGetResponse, signal);
            return devicesOf(one ? [one] : [], pod);
          } catch (err) {
            const code = (err as Partial<ServiceError>).code;
            // Not served by this kubelet (no Get, or KubeletPodResourcesGet off): List from now on.
            if (code !== status.UNIMPLEMENTED && code !== status.UNKNOWN) throw err;
            getServed = false;
          }
        }
        return devicesOf(await rpc("List", encodeListRequest(), decodeListResponse, signal), pod);
      } catch (err) {
        throw failure(socket, err);
      }
    },
    close() {
      client?.close();
      client = undefined;
    },
  };
}

/** The devices of `pod` (matched by namespace and name, as Multus matches) in `pods`. */
function devicesOf(pods: readonly PodResources[], pod: PodRefName): PodDevices {
  const out = new Map<string, string[]>();
  for (const p of pods) {
    if (p.name !== pod.name || p.namespace !== pod.namespace) continue;
    for (const c of p.containers) {
      for (const d of c.devices) out.set(d.resourceName, [...(out.get(d.resourceName) ?? []), ...d.deviceIds]);
    }
  }
  for (const ids of out.values()) ids.sort();
  return out;
}

function unary<T>(
  client: Client,
  method: "Get" | "List",
  request: Buffer,
  decode: (b: Buffer) => T,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const call = client.makeUnaryRequest<Buffer, T>(
      `${SERVICE}/${method}`,
      (b) => b,
      decode,
      request,
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, value) => {
        signal.removeEventListener("abort", cancel);
        if (err) reject(err);
        else resolve(value as T);
      },
    );
    const cancel = () => call.cancel();
    signal.addEventListener("abort", cancel, { once: true });
  });
}

async function checkSocket(socket: string): Promise<void> {
  try {
    await access(socket);
  } catch {
    throw new CniError(
      ErrorCode.TryAgainLater,
      `kubelet pod-resources API: no socket at ${socket} (kubelet.podResourcesSocket in the Plexus configuration)`,
    );
  }
}

/** A gRPC failure as a CniError: what the kubelet said, with its status code's name. */
function failure(socket: string, err: unknown): CniError {
  if (err instanceof CniError) return err;
  const e = err as Partial<ServiceError> & Error;
  const code = e.code;
  const name = code === undefined ? undefined : status[code];
  const detail = e.details || e.message;
  const transient = code === status.RESOURCE_EXHAUSTED || code === status.UNAVAILABLE;
  return new CniError(
    code === status.DEADLINE_EXCEEDED ? ErrorCode.Timeout : transient ? ErrorCode.TryAgainLater : ErrorCode.IoFailure,
    `kubelet pod-resources API at ${socket}: ${detail}${name ? ` (${name})` : ""}`,
    { cause: err },
  );
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", stop, { once: true });
  });
}
