// A watch-backed cache of one resource, as client-go's Reflector keeps one: LIST, then WATCH
// from the list's resourceVersion (with bookmarks, so that a quiet watch still moves its
// resourceVersion forward), and again:
//   - the watch ends (the server's timeoutSeconds): watch again from where it was, at once;
//   - an ERROR event with 410 Gone (the server forgot that resourceVersion, e.g. after etcd
//     compaction or its own restart): LIST again, at the latest resourceVersion;
//   - anything else (refused, reset, timeout, 5xx): wait with exponential backoff and jitter,
//     then watch again from the last resourceVersion (a LIST again only if that is gone).
// The first LIST asks for resourceVersion=0: the API server answers from its watch cache
// without touching etcd, which is what keeps a node restart (every daemon of a cluster listing
// at once) from loading the control plane (Multus #1434).

import { createRequester, type Requester } from "./request.js";
import { countRequest } from "./request.js";
import type { ApiContext } from "./api-calls.js";
import { KubeError } from "./port.js";

export interface WatchSettings {
  /** The server ends each watch after this long (randomised up to twice, as client-go does). */
  readonly timeoutSeconds: number;
  /** First wait after a failure; doubles up to maxBackoffMs, with jitter. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** Deadline of one LIST page. */
  readonly listTimeoutMs: number;
  /** Objects per LIST page. */
  readonly pageSize: number;
}

export const DEFAULT_WATCH_SETTINGS: WatchSettings = {
  timeoutSeconds: 300,
  backoffMs: 800,
  maxBackoffMs: 30_000,
  listTimeoutMs: 60_000,
  pageSize: 500,
};

export interface ReflectorOptions<T> {
  readonly ctx: ApiContext;
  /** As RBAC and the metrics name it: "pods", "network-attachment-definitions". */
  readonly resource: string;
  /** The collection, e.g. /api/v1/pods (all namespaces). */
  readonly collectionPath: string;
  readonly fieldSelector?: string | undefined;
  /** What the cache keeps of an object, or why it is not one. */
  readonly trim: (raw: unknown) => T | string;
  readonly keyOf: (object: T) => string;
  readonly settings: WatchSettings;
  /** Told of every change the cache takes in, after it took it (hot-plug's triggers). */
  readonly onChange?: ((change: CacheChange<T>) => void) | undefined;
}

/** An object added or changed, an object deleted, or the whole cache replaced by a LIST. */
export type CacheChange<T> =
  { readonly type: "upsert" | "delete"; readonly key: string; readonly object: T } | { readonly type: "relist" };

export interface Reflector<T> {
  get(key: string): T | undefined;
  /** Every cached object. */
  values(): T[];
  /** Listed at least once. */
  readonly synced: boolean;
  readonly size: number;
  /** Seconds since the cache was last known current: 0 while its watch is open. */
  lastSyncAgeSeconds(): number;
  /** Resolves true once synced, false if `signal` aborts first. */
  whenSynced(signal: AbortSignal): Promise<boolean>;
  stop(): Promise<void>;
}

type WatchEnd = { readonly gone: boolean; readonly events: number };

const WatchEventSchemaTypes = new Set(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]);

export function startReflector<T>(options: ReflectorOptions<T>): Reflector<T> {
  const { ctx, resource, settings } = options;
  const log = ctx.log.child({ cache: resource });
  const listRequest: Requester = createRequester({
    ...ctx,
    settings: { ...ctx.settings, requestTimeoutMs: settings.listTimeoutMs },
  });
  let objects = new Map<string, T>();
  let resourceVersion = "";
  let synced = false;
  let watching = false;
  let currentSince = performance.now();
  const syncWaiters = new Set<() => void>();
  const stopping = new AbortController();

  const markCurrent = (): void => {
    currentSince = performance.now();
  };

  const list = async (latest: boolean): Promise<void> => {
    const next = new Map<string, T>();
    let continueToken: string | undefined;
    let listedVersion = "";
    do {
      const query = new URLSearchParams();
      if (options.fieldSelector) query.set("fieldSelector", options.fieldSelector);
      if (!latest && continueToken === undefined) query.set("resourceVersion", "0");
      query.set("limit", String(settings.pageSize));
      if (continueToken !== undefined) query.set("continue", continueToken);
      const body = (await listRequest(
        `list ${resource}`,
        { method: "GET", path: `${options.collectionPath}?${query}`, verb: "list", resource },
        stopping.signal,
      )) as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } } | null;
      const items = Array.isArray(body?.items) ? (body.items as unknown[]) : undefined;
      const rv = body?.metadata?.resourceVersion;
      if (!items || typeof rv !== "string") throw new KubeError("invalid", `list ${resource}: not a list`);
      for (const item of items) keep(next, item);
      listedVersion = rv;
      const token = body?.metadata?.continue;
      continueToken = typeof token === "string" && token !== "" ? token : undefined;
    } while (continueToken !== undefined);
    objects = next;
    resourceVersion = listedVersion;
    markCurrent();
    if (!synced) {
      synced = true;
      for (const wake of syncWaiters) wake();
      syncWaiters.clear();
    }
    log.debug({ objects: objects.size, resourceVersion }, "cache listed");
    options.onChange?.({ type: "relist" });
  };

  const keep = (into: Map<string, T>, raw: unknown): T | undefined => {
    const trimmed = options.trim(raw);
    if (typeof trimmed === "string") {
      log.warn({ reason: trimmed }, "ignoring an object the API server sent");
      return undefined;
    }
    into.set(options.keyOf(trimmed), trimmed);
    return trimmed;
  };

  const onWatchLine = (line: string, end: { gone: boolean; events: number }): void => {
    const event = JSON.parse(line) as { type?: unknown; object?: unknown };
    const type = typeof event.type === "string" && WatchEventSchemaTypes.has(event.type) ? event.type : undefined;
    const object = event.object as { metadata?: { resourceVersion?: unknown }; code?: unknown; message?: unknown };
    if (type === undefined || typeof object !== "object" || object === null)
      throw new KubeError("invalid", `watch ${resource}: not a watch event`);
    if (type === "ERROR") {
      if (object.code === 410) {
        end.gone = true;
        return;
      }
      throw new KubeError("unavailable", `watch ${resource}: ${String(object.message ?? "error event")}`);
    }
    end.events++;
    const rv = object.metadata?.resourceVersion;
    if (typeof rv === "string") resourceVersion = rv;
    markCurrent();
    if (type === "BOOKMARK") return;
    if (type === "DELETED") {
      const trimmed = options.trim(object);
      if (typeof trimmed === "string") return;
      const key = options.keyOf(trimmed);
      objects.delete(key);
      options.onChange?.({ type: "delete", key, object: trimmed });
      return;
    }
    const kept = keep(objects, object);
    if (kept) options.onChange?.({ type: "upsert", key: options.keyOf(kept), object: kept });
  };

  const watch = async (): Promise<WatchEnd> => {
    const timeoutSeconds = Math.round(settings.timeoutSeconds * (1 + Math.random()));
    const query = new URLSearchParams({
      watch: "true",
      resourceVersion,
      allowWatchBookmarks: "true",
      timeoutSeconds: String(timeoutSeconds),
    });
    if (options.fieldSelector) query.set("fieldSelector", options.fieldSelector);
    const request = { method: "GET", path: `${options.collectionPath}?${query}`, verb: "watch", resource } as const;
    // The server ends the stream at timeoutSeconds; the client's own deadline is a backstop
    // for a connection that died without a FIN (no bytes, no error, forever).
    const deadline = new AbortController();
    const onStop = (): void => deadline.abort(stopping.signal.reason);
    stopping.signal.addEventListener("abort", onStop, { once: true });
    const connectTimer = setTimeout(
      () => deadline.abort(new Error(`no answer within ${ctx.settings.requestTimeoutMs} ms`)),
      ctx.settings.requestTimeoutMs,
    );
    const streamTimer = setTimeout(
      () => deadline.abort(new Error("watch outlived its timeout")),
      (timeoutSeconds + 30) * 1000,
    );
    const started = performance.now();
    const end = { gone: false, events: 0 };
    let ok = false;
    try {
      const response = await ctx.transport.stream(request, deadline.signal, (line) => onWatchLine(line, end));
      clearTimeout(connectTimer);
      if (!response.streaming) {
        if (response.status === 410) return { gone: true, events: 0 };
        throw new KubeError("unavailable", `watch ${resource}: the API server answered ${response.status}`, {
          status: response.status,
        });
      }
      watching = true;
      markCurrent();
      await response.done;
      ok = true;
      return end;
    } finally {
      if (watching) markCurrent();
      watching = false;
      clearTimeout(connectTimer);
      clearTimeout(streamTimer);
      stopping.signal.removeEventListener("abort", onStop);
      // A watch this process ended (stop) ended as asked: not an error.
      countRequest(ctx, request, ok || stopping.signal.aborted, started);
    }
  };

  const run = async (): Promise<void> => {
    let listed = false;
    let latest = false;
    let failures = 0;
    while (!stopping.signal.aborted) {
      try {
        if (!listed) {
          await list(latest);
          listed = true;
          failures = 0;
        }
        const started = performance.now();
        const end = await watch();
        if (end.gone) {
          log.info({ resourceVersion }, "watch resourceVersion expired (410 Gone): listing again");
          listed = false;
          latest = true;
          continue;
        }
        // A server (or proxy) that ends every watch at once must not make this a busy loop.
        if (end.events === 0 && performance.now() - started < 1_000) throw new Error("watch ended at once");
        failures = 0;
      } catch (err) {
        if (stopping.signal.aborted) break;
        failures++;
        const waitMs = backoffMs(settings, failures);
        // A stream's own error (not through the requester) may quote a URL: redacted like the rest.
        const fields = { err: ctx.transport.redact((err as Error).message), failures, waitMs };
        if (failures === 1) log.warn(fields, "cache lost its watch: reconnecting");
        else log.debug(fields, "cache still reconnecting");
        await ctx.sleep(waitMs, stopping.signal).catch(() => undefined);
      }
    }
  };

  const running = run();

  return {
    get: (key) => objects.get(key),
    values: () => [...objects.values()],
    get synced() {
      return synced;
    },
    get size() {
      return objects.size;
    },
    lastSyncAgeSeconds: () => (watching ? 0 : (performance.now() - currentSince) / 1000),
    whenSynced(signal) {
      if (synced) return Promise.resolve(true);
      return new Promise((resolve) => {
        const wake = (): void => {
          signal.removeEventListener("abort", onAbort);
          resolve(true);
        };
        const onAbort = (): void => {
          syncWaiters.delete(wake);
          resolve(false);
        };
        syncWaiters.add(wake);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    },
    async stop() {
      stopping.abort(new Error("cache stopped"));
      await running;
    },
  };
}

/** Exponential from backoffMs, capped, the upper half randomised (client-go's wait.Backoff with jitter). */
function backoffMs(settings: WatchSettings, failures: number): number {
  const ceiling = Math.min(settings.maxBackoffMs, settings.backoffMs * 2 ** (failures - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
