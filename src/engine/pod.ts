// The pod an invocation is for, as the runtime names it in CNI_ARGS, and the API's view of it.

import type { CniArgs } from "../cni/args.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { isStaticPod } from "../k8s/objects.js";
import { isKubeError, type KubeClient, type Pod, type PodRef } from "../k8s/port.js";
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
 *
 * A pod of that name with another UID than CNI_ARGS names is a NEWER pod: the one the runtime
 * is setting up was deleted and recreated. Its annotations are not this sandbox's. ADD fails
 * naming both UIDs (Multus: `expected pod UID ... but got ...`); with `uidMismatch: "absent"`
 * (DEL re-resolving) it counts as gone, so the new pod's networks are never torn down.
 * Static pods are exempt: their mirror pod has a UID of its own.
 */
export async function fetchPod(
  kube: KubeClient,
  ref: PodRef,
  deps: EngineDeps,
  options: { readonly uidMismatch?: "error" | "absent" } = {},
): Promise<Pod | undefined> {
  let pod: Pod;
  try {
    // The UID is compared here, not by the client: a mismatch is not the same as "no pod".
    pod = await kube.getPod({ namespace: ref.namespace, name: ref.name }, deps.signal);
  } catch (err) {
    if (isKubeError(err, "not-found")) {
      deps.log.warn({ reason: err.message }, "pod not found in the API: attaching its cluster network only");
      return undefined;
    }
    throw kubeFailure(err, `pod ${describePod(ref)}: cannot read the pod from the Kubernetes API`);
  }
  const uid = pod.metadata.uid;
  if (ref.uid === undefined || uid === undefined || uid === ref.uid || isStaticPod(pod)) return pod;
  const what =
    `pod ${describePod(ref)}: expected UID ${ref.uid} (CNI_ARGS K8S_POD_UID) but the API server has ` +
    `UID ${uid}: the pod was deleted and recreated`;
  if (options.uidMismatch === "absent") {
    deps.log.warn({ reason: what }, "the pod in the API is a newer one: its networks are not this sandbox's");
    return undefined;
  }
  throw new CniError(ErrorCode.NotFound, what);
}

/** A Kubernetes failure as a CNI error: transient kinds say "try again later" (code 11). */
export function kubeFailure(err: unknown, what: string): CniError {
  if (!isKubeError(err)) return new CniError(ErrorCode.Internal, `${what}: ${(err as Error).message}`, { cause: err });
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
