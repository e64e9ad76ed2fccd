// The pod status and events a kubelet would write, enough for `kubectl get pods` (READY,
// STATUS, IP), `kubectl describe pod` and `kubectl wait --for=condition=Ready`.

import { randomBytes } from "node:crypto";
import type { ApiStore } from "./api-store.js";
import type { PodIdentity, Sandbox } from "./pod-sandbox.js";

export interface PodStatusWrite {
  readonly metadata?: { readonly annotations: Record<string, string> };
  readonly status: Record<string, unknown>;
}

/** Where the pod's network namespace is, for people and scripts looking inside it. */
const NETNS_ANNOTATION = "local.plexus.dev/netns";

function condition(type: string, ok: boolean, now: string, reason?: string, message?: string) {
  return {
    type,
    status: ok ? "True" : "False",
    lastTransitionTime: now,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
}

export function runningStatus(sandbox: Sandbox): PodStatusWrite {
  const now = new Date().toISOString();
  return {
    metadata: { annotations: { [NETNS_ANNOTATION]: sandbox.netnsPath } },
    status: {
      phase: "Running",
      hostIP: "127.0.0.1",
      ...(sandbox.podIps[0] ? { podIP: sandbox.podIps[0] } : {}),
      podIPs: sandbox.podIps.map((ip) => ({ ip })),
      startTime: now,
      conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((t) => condition(t, true, now)),
      containerStatuses: [
        {
          name: "sandbox",
          ready: true,
          restartCount: 0,
          started: true,
          image: "pause",
          imageID: "",
          state: { running: { startedAt: now } },
        },
      ],
    },
  };
}

export function failedStatus(message: string): PodStatusWrite {
  const now = new Date().toISOString();
  return {
    status: {
      phase: "Pending",
      conditions: [
        condition("PodScheduled", true, now),
        condition("ContainersReady", false, now, "SandboxCreationFailed", message),
        condition("Ready", false, now, "SandboxCreationFailed", message),
      ],
    },
  };
}

export function podEvent(
  store: ApiStore,
  pod: PodIdentity,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
): void {
  const now = new Date().toISOString();
  try {
    store.create(
      { resource: "events" },
      {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${pod.name}.${randomBytes(8).toString("hex")}`, namespace: pod.namespace },
        involvedObject: { kind: "Pod", apiVersion: "v1", namespace: pod.namespace, name: pod.name, uid: pod.uid },
        reason,
        message: message.slice(0, 1024),
        type,
        source: { component: "kubelet", host: "plexus-local" },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    );
  } catch {
    // The namespace is being deleted; the event has nowhere to go.
  }
}
