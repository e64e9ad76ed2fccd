// The Kubernetes side of Plexus, and the entry of the client bundle (src/cli/k8s-loader.ts
// loads it lazily: importing the client library is the most expensive thing the plugin process
// does). Two ways to get the KubeClient port (src/k8s/port.ts):
//   - createKubeClient: thin mode, one plugin process per CNI call; every read is a GET.
//   - startNodeKubeCaches (src/k8s/node-caches.ts): the daemon; pods of its node and all NADs
//     from watch-backed caches, so an ADD with warm caches makes one request (the status write).
// Whether API access is configured at all is answered by src/k8s/api-access.ts, which costs nothing.

import type { Logger } from "../log/logger.js";
import type { ApiAccessOptions } from "./api-access.js";
import { publishNetworkStatus, readNad, readPod, writeNetworkStatusGuarded } from "./api-calls.js";
import { createApiContext } from "./api-context.js";
import { createEventRecorder, type EventLimits } from "./event-recorder.js";
import type { KubeMetricsSink } from "./metrics.js";
import type { KubeClient, Pod } from "./port.js";
import type { KubeClientSettings, Sleep } from "./retry.js";

export { startNodeKubeCaches } from "./node-caches.js";
export type { NodeKubeCaches, NodeKubeCachesOptions, CacheState } from "./node-caches.js";
export type { KubeMetricsSink } from "./metrics.js";

export interface CreateKubeClientOptions extends ApiAccessOptions {
  readonly settings: KubeClientSettings;
  readonly log: Logger;
  readonly metrics?: KubeMetricsSink | undefined;
  /** The node this process runs on, recorded on Events; learned from the pod read when absent. */
  readonly nodeName?: string | undefined;
  readonly events?: Partial<EventLimits> | undefined;
  readonly sleep?: Sleep;
  readonly now?: () => Date;
}

/**
 * Thin mode: reads go to the API server. The pod this process read is remembered, so that the
 * status write that follows needs no read of its own (and a repeated ADD writes nothing).
 */
export function createKubeClient(options: CreateKubeClientOptions): KubeClient {
  const ctx = createApiContext(options);
  const read = new Map<string, Pod>();
  let node = options.nodeName;
  const events = createEventRecorder({
    ctx,
    node: () => node,
    limits: options.events,
    ...(options.now ? { now: options.now } : {}),
  });
  const key = (namespace: string, name: string): string => `${namespace}/${name}`;
  return {
    async getPod(ref, signal) {
      const pod = await readPod(ctx, ref, signal);
      read.set(key(ref.namespace, ref.name), pod);
      // The runtime runs the plugin on the pod's node: the pod says which one that is.
      node ??= pod.spec?.nodeName;
      return pod;
    },
    getNetworkAttachmentDefinition: (namespace, name, signal) => readNad(ctx, namespace, name, signal),
    publishNetworkStatus: (ref, value, signal) =>
      publishNetworkStatus(ctx, ref, value, read.get(key(ref.namespace, ref.name)), signal),
    updateNetworkStatus: (ref, value, signal) => writeNetworkStatusGuarded(ctx, ref, value, undefined, signal),
    recordEvent: (event) => events.record(event),
    flushEvents: (signal) => events.flush(signal),
  };
}
