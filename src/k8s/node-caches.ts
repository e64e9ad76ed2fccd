// The daemon's view of the cluster: the pods of its node and every NetworkAttachmentDefinition,
// each in a watch-backed cache (src/k8s/reflector.ts) holding only what the engine reads
// (src/k8s/objects.ts trimPod / trimNetworkAttachmentDefinition), and a KubeClient over them:
//   - getPod answers from the cache; a pod not in it yet (created a moment before its ADD, the
//     watch event still on its way) or cached with another UID than the runtime's (the cache
//     may be behind a delete and recreate) is read from the API at once, never polled for
//     (Multus polls its cache every 50 ms for up to 2.5 s);
//   - getNetworkAttachmentDefinition answers from the cache; a miss (a NAD created a moment
//     ago) is read from the API;
//   - publishNetworkStatus is one PATCH; events go through the node's rate-limited recorder.
// With warm caches an ADD makes one API request, the status write; a DEL makes none.

import type { Logger } from "../log/logger.js";
import type { ApiAccessOptions } from "./api-access.js";
import {
  NAD_RESOURCE,
  NADS_PATH,
  publishNetworkStatus,
  readNad,
  readPod,
  writeNetworkStatusGuarded,
} from "./api-calls.js";
import { createApiContext } from "./api-context.js";
import { createEventRecorder, type EventLimits } from "./event-recorder.js";
import type { KubeMetricsSink } from "./metrics.js";
import { isStaticPod, trimNetworkAttachmentDefinition, trimPod } from "./objects.js";
import type { KubeClient, NetworkAttachmentDefinition, Pod } from "./port.js";
import { DEFAULT_WATCH_SETTINGS, startReflector, type CacheChange, type WatchSettings } from "./reflector.js";

export type { CacheChange } from "./reflector.js";

/** Told of the caches' changes (the daemon's hot-plug reconciles pods from them). Must not throw. */
export interface NodeCacheListener {
  pod?(change: CacheChange<Pod>): void;
  nad?(change: CacheChange<NetworkAttachmentDefinition>): void;
}
import type { KubeClientSettings } from "./retry.js";

export interface NodeKubeCachesOptions {
  readonly access: ApiAccessOptions;
  /** The node whose pods are cached (fieldSelector spec.nodeName), recorded on Events. */
  readonly nodeName: string;
  readonly settings: KubeClientSettings;
  readonly log: Logger;
  readonly metrics?: KubeMetricsSink | undefined;
  readonly watch?: Partial<WatchSettings> | undefined;
  readonly events?: Partial<EventLimits> | undefined;
}

export interface CacheState {
  /** "pods" or "network-attachment-definitions". */
  readonly resource: string;
  readonly synced: boolean;
  readonly objects: number;
  /** Seconds since the cache was last known current: 0 while its watch is open. */
  readonly lastSyncAgeSeconds: number;
}

export interface NodeKubeCaches {
  readonly client: KubeClient;
  /** The pod as the cache has it (this node's pods only). */
  cachedPod(namespace: string, name: string): Pod | undefined;
  /** Every cached pod of this node. */
  cachedPods(): Pod[];
  /** Registers a listener of cache changes; returns its removal. */
  subscribe(listener: NodeCacheListener): () => void;
  /** Both caches listed at least once. */
  synced(): boolean;
  cacheState(): readonly CacheState[];
  /** Resolves true once both caches listed, false if `signal` aborts first. */
  whenSynced(signal: AbortSignal): Promise<boolean>;
  /** Ends the watches, then delivers queued events until `signal` aborts (the rest is dropped and counted). */
  stop(signal?: AbortSignal): Promise<void>;
}

/** Starts listing at once and returns without waiting; reads before the first list go to the API. */
export function startNodeKubeCaches(options: NodeKubeCachesOptions): NodeKubeCaches {
  const log = options.log;
  const ctx = createApiContext({ ...options.access, settings: options.settings, log, metrics: options.metrics });
  const watch = { ...DEFAULT_WATCH_SETTINGS, ...options.watch };
  const key = (namespace: string, name: string): string => `${namespace}/${name}`;
  const listeners = new Set<NodeCacheListener>();
  const tell = (call: (l: NodeCacheListener) => void): void => {
    for (const l of listeners) {
      try {
        call(l);
      } catch (err) {
        log.error({ err: String(err) }, "a cache listener failed");
      }
    }
  };
  const pods = startReflector<Pod>({
    ctx,
    resource: "pods",
    collectionPath: "/api/v1/pods",
    fieldSelector: `spec.nodeName=${options.nodeName}`,
    trim: trimPod,
    keyOf: (p) => key(p.metadata.namespace, p.metadata.name),
    settings: watch,
    onChange: (change) => tell((l) => l.pod?.(change)),
  });
  const nads = startReflector<NetworkAttachmentDefinition>({
    ctx,
    resource: NAD_RESOURCE,
    collectionPath: `${NADS_PATH}/${NAD_RESOURCE}`,
    trim: trimNetworkAttachmentDefinition,
    keyOf: (n) => key(n.metadata.namespace, n.metadata.name),
    settings: watch,
    onChange: (change) => tell((l) => l.nad?.(change)),
  });
  const events = createEventRecorder({ ctx, node: () => options.nodeName, limits: options.events });

  const client: KubeClient = {
    async getPod(ref, signal) {
      const cached = pods.get(key(ref.namespace, ref.name));
      const uid = cached?.metadata.uid;
      if (cached && (ref.uid === undefined || uid === ref.uid || isStaticPod(cached))) return cached;
      log.debug(
        { pod: key(ref.namespace, ref.name), cachedUid: uid, wantedUid: ref.uid },
        cached ? "cached pod has another UID: reading it from the API" : "pod not cached yet: reading it from the API",
      );
      return readPod(ctx, ref, signal);
    },
    async getNetworkAttachmentDefinition(namespace, name, signal) {
      const cached = nads.get(key(namespace, name));
      if (cached) return cached;
      log.debug({ nad: key(namespace, name) }, "NetworkAttachmentDefinition not cached: reading it from the API");
      return readNad(ctx, namespace, name, signal);
    },
    publishNetworkStatus: (ref, value, signal) =>
      publishNetworkStatus(ctx, ref, value, pods.get(key(ref.namespace, ref.name)), signal),
    updateNetworkStatus: (ref, value, signal) =>
      writeNetworkStatusGuarded(ctx, ref, value, pods.get(key(ref.namespace, ref.name)), signal),
    recordEvent: (event) => events.record(event),
    flushEvents: (signal) => events.flush(signal),
  };

  const caches = [pods, nads] as const;
  return {
    client,
    cachedPod: (namespace, name) => pods.get(key(namespace, name)),
    cachedPods: () => pods.values(),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    synced: () => pods.synced && nads.synced,
    cacheState: () =>
      [
        { resource: "pods", cache: pods },
        { resource: NAD_RESOURCE, cache: nads },
      ].map(({ resource, cache }) => ({
        resource,
        synced: cache.synced,
        objects: cache.size,
        lastSyncAgeSeconds: cache.lastSyncAgeSeconds(),
      })),
    async whenSynced(signal) {
      const results = await Promise.all(caches.map((c) => c.whenSynced(signal)));
      return results.every(Boolean);
    },
    async stop(signal = AbortSignal.timeout(5_000)) {
      await Promise.all(caches.map((c) => c.stop()));
      await events.stop(signal);
      ctx.transport.close();
    },
  };
}
