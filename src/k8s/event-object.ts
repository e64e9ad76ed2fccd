// A core/v1 Event about a pod, shaped like client-go's legacy recorder writes it (which is what
// Multus uses for AddedInterface), so `kubectl describe pod` lists it: involvedObject
// pointing at the pod, first/lastTimestamp and count, no eventTime (an eventTime would make the
// API server demand the events.k8s.io fields reportingController/Instance and action).
//
// Aggregation: client-go's recorder counts repeats of one event (same object, reason and
// message) on ONE Event object, in memory of the process that sent it. Plexus names the Event
// after what makes it the same event (the pod's UID, the reason, the message), so that repeats
// find the Event whichever process sends them: the daemon, or one thin plugin process per CNI
// call, which remembers nothing between calls. `kubectl describe pod` then shows "x10 over 5m"
// instead of ten lines.

import { createHash } from "node:crypto";
import type { KubeEvent } from "./port.js";
import type { JsonObject } from "./objects.js";

const EVENT_SOURCE = "plexus";
/** events.k8s.io caps `note` at 1 kB; the same bound keeps core events readable. */
const MAX_MESSAGE = 1024;
const MAX_NAME = 253;

function eventMessage(event: KubeEvent): string {
  return event.message.length > MAX_MESSAGE ? `${event.message.slice(0, MAX_MESSAGE - 3)}...` : event.message;
}

/**
 * `<pod>.<hash>`, the hash over what makes two events the same one. The UID keeps a recreated
 * pod of the same name from inheriting the old one's counts; without it (no K8S_POD_UID) the
 * namespace and name stand in. Deterministic, and a valid DNS-1123 subdomain.
 */
export function eventName(event: KubeEvent): string {
  const { pod } = event;
  const identity = pod.uid ?? `${pod.namespace}/${pod.name}`;
  const hash = createHash("sha256")
    .update(`${identity}\n${event.type}\n${event.reason}\n${eventMessage(event)}`)
    .digest("hex")
    .slice(0, 16);
  const suffix = `.${hash}`;
  // A cut name must still end in an alphanumeric.
  return pod.name.slice(0, MAX_NAME - suffix.length).replace(/[-.]+$/, "") + suffix;
}

export interface EventOccurrence {
  readonly event: KubeEvent;
  readonly count: number;
  readonly first: Date;
  readonly last: Date;
  /** The node the event happened on (source.host, reportingInstance); omitted when unknown. */
  readonly node?: string | undefined;
}

export function buildEvent(o: EventOccurrence): JsonObject {
  const { pod } = o.event;
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: eventName(o.event), namespace: pod.namespace },
    involvedObject: {
      apiVersion: "v1",
      kind: "Pod",
      name: pod.name,
      namespace: pod.namespace,
      ...(pod.uid !== undefined ? { uid: pod.uid } : {}),
    },
    reason: o.event.reason,
    message: eventMessage(o.event),
    type: o.event.type,
    source: { component: EVENT_SOURCE, ...(o.node ? { host: o.node } : {}) },
    reportingComponent: EVENT_SOURCE,
    ...(o.node ? { reportingInstance: o.node } : {}),
    firstTimestamp: timestamp(o.first),
    lastTimestamp: timestamp(o.last),
    count: o.count,
  };
}

/** The merge patch that adds `more` occurrences to an Event that already counts `had`. */
export function countPatch(had: number, more: number, last: Date, resourceVersion?: string): JsonObject {
  return {
    count: had + more,
    lastTimestamp: timestamp(last),
    ...(resourceVersion !== undefined ? { metadata: { resourceVersion } } : {}),
  };
}

/** metav1.Time: RFC 3339 with second precision. */
function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}
