// The pod an invocation is for, as the runtime names it in CNI_ARGS, and the API's view of it.

import type { CniArgs } from "../cni/args.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { KubeError, type KubeClient, type Pod, type PodRef } from "../k8s/port.js";
import type { EngineDeps } from "./deps.js";

export function podRefFromArgs(args: CniArgs): PodRef | undefined {
  if (!args.podNamespace || !args.podName) return undefined;
  return { namespace: args.podNamespace, name: args.podName, ...(args.podUid ? { uid: args.podUid } : {}) };
}

export function describePod(ref: PodRef | undefined): string {
  return ref ? `${ref.namespace}/${ref.name}` : "(no pod in CNI_ARGS)";
}

/**
 * The pod, or undefined when the API says it does not exist (it is being deleted, or it is a
 * static pod whose mirror is not there yet: the pod then gets its cluster network only).
 * An unreachable API is an error: without it the pod's selections are unknown.
 */
export async function fetchPod(kube: KubeClient, ref: PodRef, deps: EngineDeps): Promise<Pod | undefined> {
  try {
    return await kube.getPod(ref, deps.signal);
  } catch (err) {
    if (err instanceof KubeError && err.kind === "not-found") {
      deps.log.warn({ pod: describePod(ref), reason: err.message }, "pod not found in the API: attaching its cluster network only");
      return undefined;
    }
    throw kubeFailure(err, `pod ${describePod(ref)}: cannot read the pod from the Kubernetes API`);
  }
}

/** A Kubernetes failure as a CNI error: transient kinds say "try again later" (code 11). */
export function kubeFailure(err: unknown, what: string): CniError {
  if (!(err instanceof KubeError)) return new CniError(ErrorCode.Internal, `${what}: ${(err as Error).message}`, { cause: err });
  const code =
    err.kind === "not-found"
      ? ErrorCode.NotFound
      : err.kind === "forbidden" || err.kind === "unauthorized"
        ? ErrorCode.Forbidden
        : err.kind === "invalid"
          ? ErrorCode.InvalidNetworkConfig
          : err.kind === "timeout"
            ? ErrorCode.Timeout
            : ErrorCode.TryAgainLater;
  return new CniError(code, `${what}: ${err.message}`, { cause: err });
}
