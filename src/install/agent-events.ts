// What the agent tells the cluster, besides its log: Kubernetes Events on the agent's own pod
// (`kubectl describe pod plexus-xxxxx` and `kubectl get events` show them next to the node's
// other news). The pod is named by the downward API (POD_NAME, POD_NAMESPACE, POD_UID).
// An event that cannot be written is logged and dropped: the log line is always there.

import { parseNamespace, parsePodName, parsePodUid, type Namespace, type PodName, type PodUid } from "../cni/ids.js";
import type { KubeClient } from "../k8s/port.js";
import type { Logger } from "../log/logger.js";

export type EventType = "Normal" | "Warning";

export interface InstallEvents {
  /** Never throws, never blocks the caller for long; delivery is best effort. */
  emit(type: EventType, reason: string, message: string): void;
  /** Resolves when every emitted event has been sent or given up on. */
  flush(): Promise<void>;
}

export interface AgentPodRef {
  readonly namespace: Namespace;
  readonly name: PodName;
  readonly uid?: PodUid;
}

export function agentPodFromEnv(env: Readonly<Record<string, string | undefined>>): AgentPodRef | undefined {
  const name = env["POD_NAME"];
  const namespace = env["POD_NAMESPACE"];
  if (!name || !namespace) return undefined;
  const uid = env["POD_UID"];
  return { namespace: parseNamespace(namespace), name: parsePodName(name), ...(uid ? { uid: parsePodUid(uid) } : {}) };
}

const EVENT_TIMEOUT_MS = 10_000;

/** Events through `client()` (loaded on first use) on `pod`; log-only when either is missing. */
export function createInstallEvents(
  pod: AgentPodRef | undefined,
  client: (() => Promise<KubeClient | undefined>) | undefined,
  log: Logger,
): InstallEvents {
  let loaded: Promise<KubeClient | undefined> | undefined;
  return {
    emit(type, reason, message) {
      if (!pod || !client) return;
      // The client queues and writes on its own; loading it is the only wait, and it is not ours.
      loaded ??= client().catch((err: unknown) => {
        log.warn({ eventReason: reason, err: (err as Error).message }, "could not write a Kubernetes Event");
        return undefined;
      });
      void loaded.then((kube) => kube?.recordEvent({ pod, type, reason, message }));
    },
    async flush() {
      const kube = await loaded;
      await kube?.flushEvents(AbortSignal.timeout(EVENT_TIMEOUT_MS));
    },
  };
}
