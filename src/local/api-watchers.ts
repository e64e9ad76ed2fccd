// Turns storage events into the watch events one watcher should see: only its resource and
// namespace, and with selectors the Kubernetes rule that an object leaving the selection is
// DELETED for that watcher and one entering it is ADDED. Delivery is queued per watcher on
// microtasks, so a callback that writes to the store never reorders anyone's events.
import { badRequest, expired } from "./api-errors.js";
import type { ObjectPredicate } from "./api-selectors.js";
import type { ObjectStorage, StorageEvent } from "./api-storage.js";
import type { KubeObject, ResourceDefinition, WatchEvent } from "./api-types.js";
import { apiVersionOf, storageKey } from "./api-types.js";

export interface WatchScope {
  readonly def: ResourceDefinition;
  readonly namespace: string | undefined;
  readonly predicate: ObjectPredicate;
}

export interface WatchStart {
  /** Absent, "" or "0": synthetic ADDED events for what exists, then changes. Otherwise changes after it. */
  readonly resourceVersion?: string | undefined;
  /** Watch-list: initial events then a BOOKMARK annotated k8s.io/initial-events-end. */
  readonly sendInitialEvents?: boolean | undefined;
}

export interface WatchHandle {
  /** Stops delivery at once; events still queued are dropped. */
  stop(): void;
  readonly stopped: boolean;
}

export interface WatchCallbacks {
  readonly onEvent: (event: WatchEvent) => void;
  /** Called once if a callback throws (the watch is then stopped). */
  readonly onError?: (error: unknown) => void;
}

/** The object as this watcher's version of the resource presents it. */
export function asServed(def: ResourceDefinition, object: KubeObject): KubeObject {
  return { ...object, apiVersion: apiVersionOf(def.group, def.version) };
}

function inScope(scope: WatchScope, object: KubeObject | undefined): boolean {
  if (object === undefined) return false;
  if (scope.namespace !== undefined && object.metadata.namespace !== scope.namespace) return false;
  return scope.predicate(object);
}

function translateEvent(scope: WatchScope, event: StorageEvent): WatchEvent | undefined {
  if (event.key !== storageKey(scope.def)) return undefined;
  const now = event.type !== "DELETED" && inScope(scope, event.object);
  const before = event.type === "DELETED" ? inScope(scope, event.object) : inScope(scope, event.previous);
  const object = asServed(scope.def, event.object);
  if (event.type === "DELETED") return before ? { type: "DELETED", object } : undefined;
  if (now && before) return { type: "MODIFIED", object };
  if (now) return { type: "ADDED", object };
  if (before) return { type: "DELETED", object };
  return undefined;
}

/**
 * Starts delivering: first the given backlog (synthetic ADDED events or history replay), then
 * live events. Subscribing happens synchronously, so nothing written in between is missed.
 */
export function startWatch(
  storage: ObjectStorage,
  scope: WatchScope,
  backlog: readonly WatchEvent[],
  callbacks: WatchCallbacks,
): WatchHandle {
  let queue: WatchEvent[] = [...backlog];
  let scheduled = false;
  let stopped = false;
  const flush = (): void => {
    scheduled = false;
    const batch = queue;
    queue = [];
    for (const event of batch) {
      if (stopped) return;
      try {
        callbacks.onEvent(event);
      } catch (error) {
        handle.stop();
        callbacks.onError?.(error);
        return;
      }
    }
  };
  const push = (event: WatchEvent): void => {
    if (stopped) return;
    queue.push(event);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(flush);
    }
  };
  const unsubscribe = storage.subscribe((e) => {
    const translated = translateEvent(scope, e);
    if (translated) push(translated);
  });
  const handle: WatchHandle = {
    stop() {
      if (stopped) return;
      stopped = true;
      queue = [];
      unsubscribe();
    },
    get stopped() {
      return stopped;
    },
  };
  if (queue.length > 0) {
    scheduled = true;
    queueMicrotask(flush);
  }
  return handle;
}

/** What a new watch sees before live events: the current objects, or the history it missed. */
export function watchBacklog(storage: ObjectStorage, scope: WatchScope, start: WatchStart): WatchEvent[] {
  const rv = start.resourceVersion ?? "";
  if (rv === "" || rv === "0" || start.sendInitialEvents === true) {
    const objects = storage.list(storageKey(scope.def), scope.namespace).filter((o) => inScope(scope, o));
    const added: WatchEvent[] = objects.map((o) => ({ type: "ADDED", object: asServed(scope.def, o) }));
    if (start.sendInitialEvents !== true) return added;
    const bookmark = {
      apiVersion: apiVersionOf(scope.def.group, scope.def.version),
      kind: scope.def.kind,
      metadata: { resourceVersion: String(storage.revision), annotations: { "k8s.io/initial-events-end": "true" } },
    };
    return [...added, { type: "BOOKMARK", object: bookmark }];
  }
  const revision = Number(rv);
  if (!Number.isInteger(revision) || revision < 0) throw badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
  const events = storage.eventsAfter(revision);
  if (events === undefined) throw expired(`too old resource version: ${rv} (${storage.revision})`);
  return events.map((e) => translateEvent(scope, e)).filter((e): e is WatchEvent => e !== undefined);
}
