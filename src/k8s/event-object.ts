// A core/v1 Event about a pod, shaped like client-go's legacy recorder writes it (which is what
// Multus uses for AddedInterface), so `kubectl describe pod` lists it: involvedObject
// pointing at the pod, first/lastTimestamp and count, no eventTime (an eventTime would make the
// API server demand the events.k8s.io fields reportingController/Instance and action).

import type { KubeEvent } from "./port.js";
import type { JsonObject } from "./objects.js";

export const EVENT_SOURCE = "plexus";
/** events.k8s.io caps `note` at 1 kB; the same bound keeps core events readable. */
const MAX_MESSAGE = 1024;
const MAX_NAME = 253;

export function buildEvent(event: KubeEvent, now: Date): JsonObject {
  const { pod } = event;
  const timestamp = now.toISOString().replace(/\.\d+Z$/, "Z");
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: eventName(pod.name, now), namespace: pod.namespace },
    involvedObject: {
      apiVersion: "v1",
      kind: "Pod",
      name: pod.name,
      namespace: pod.namespace,
      ...(pod.uid !== undefined ? { uid: pod.uid } : {}),
    },
    reason: event.reason,
    message: event.message.length > MAX_MESSAGE ? `${event.message.slice(0, MAX_MESSAGE - 3)}...` : event.message,
    type: event.type,
    source: { component: EVENT_SOURCE },
    reportingComponent: EVENT_SOURCE,
    firstTimestamp: timestamp,
    lastTimestamp: timestamp,
    count: 1,
  };
}

/** client-go names events `<object>.<unix nanos in hex>`; a random sub-millisecond part avoids clashes. */
function eventName(podName: string, now: Date): string {
  const nanos = BigInt(now.getTime()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000));
  const suffix = `.${nanos.toString(16)}`;
  // A cut name must still end in an alphanumeric (DNS-1123 subdomain).
  return podName.slice(0, MAX_NAME - suffix.length).replace(/[-.]+$/, "") + suffix;
}
