// Kubernetes Events, off the pod's critical path: record() only queues, a background pump
// writes. Three bounds keep a failing node from flooding the API server (or its own memory):
//   - aggregation: repeats of one event (same pod UID, type, reason, message) while it waits in
//     the queue add to its count, and once written they add to the Event's `count` (src/k8s/events.ts);
//   - a token bucket: at most `burst` writes at once, then `perSecond`, like client-go's
//     EventSourceObjectSpamFilter (burst 25) but for the whole node;
//   - a bounded queue: an event that finds it full is dropped and counted (eventDropped).
// A write is one attempt: an event is not worth retrying at the cost of the pods' requests.

import { buildEvent, countPatch, eventName, type EventOccurrence } from "./event-object.js";
import type { ApiContext } from "./api-calls.js";
import { seg } from "./api-calls.js";
import { isKubeError, type KubeEvent } from "./port.js";

export interface EventLimits {
  /** Writes allowed at once (the bucket's size). */
  readonly burst: number;
  /** Writes per second once the burst is spent. */
  readonly perSecond: number;
  /** Distinct events waiting at most; more are dropped. */
  readonly queueLimit: number;
}

const DEFAULT_EVENT_LIMITS: EventLimits = { burst: 25, perSecond: 5, queueLimit: 1000 };

export interface EventRecorderOptions {
  readonly ctx: ApiContext;
  /** The node the events happen on, when known (source.host, reportingInstance). */
  readonly node: () => string | undefined;
  readonly limits?: Partial<EventLimits> | undefined;
  readonly now?: () => Date;
}

export interface EventRecorder {
  /** Queues; never throws, never waits. */
  record(event: KubeEvent): void;
  /**
   * Writes what is queued, until `signal` aborts; then gives up on what is left (dropped and
   * counted as "stopped") so that nothing keeps the process alive. Later events are taken again.
   */
  flush(signal: AbortSignal): Promise<void>;
  /** flush(), and from now on every event is dropped (counted as "stopped"). */
  stop(signal: AbortSignal): Promise<void>;
}

interface Pending {
  event: KubeEvent;
  count: number;
  first: Date;
  last: Date;
  node: string | undefined;
}

/** What this process knows of an Event it wrote: enough to add to its count in one PATCH. */
interface Written {
  readonly count: number;
  readonly resourceVersion: string | undefined;
}

/** Events whose count this process remembers (a daemon's working set, not its history). */
const WRITTEN_LIMIT = 4096;
/** Rounds of read-and-patch when another writer keeps changing the same Event. */
const WRITE_ROUNDS = 4;

export function createEventRecorder(options: EventRecorderOptions): EventRecorder {
  const { ctx } = options;
  const limits = { ...DEFAULT_EVENT_LIMITS, ...options.limits };
  const now = options.now ?? (() => new Date());
  const queue = new Map<string, Pending>();
  const written = new Map<string, Written>();
  const bucket = tokenBucket(limits.burst, limits.perSecond);
  let halt = new AbortController();
  let pumping: Promise<void> | undefined;
  let stopped = false;

  const drop = (reason: string, n = 1): void => {
    for (let i = 0; i < n; i++) ctx.metrics?.eventDropped(reason);
  };

  const remember = (name: string, w: Written): void => {
    written.delete(name);
    written.set(name, w);
    if (written.size > WRITTEN_LIMIT) written.delete(written.keys().next().value as string);
  };

  const pump = async (): Promise<void> => {
    while (queue.size > 0 && !halt.signal.aborted) {
      try {
        await ctx.sleep(bucket.waitMs(), halt.signal);
      } catch {
        return;
      }
      const [name, pending] = queue.entries().next().value as [string, Pending];
      queue.delete(name);
      try {
        await deliver(name, pending);
      } catch (err) {
        drop("failed");
        ctx.log.debug(
          { event: name, eventReason: pending.event.reason, err: (err as Error).message },
          "Kubernetes Event not written",
        );
      }
    }
  };

  const deliver = async (name: string, p: Pending): Promise<void> => {
    const path = `/api/v1/namespaces/${seg(p.event.pod.namespace)}/events`;
    const subject = `event ${p.event.reason} for pod ${p.event.pod.namespace}/${p.event.pod.name}`;
    const once = { singleAttempt: true };
    let known = written.get(name);
    for (let round = 1; ; round++) {
      try {
        const body = known
          ? await ctx.request(
              subject,
              {
                method: "PATCH",
                path: `${path}/${seg(name)}`,
                body: countPatch(known.count, p.count, p.last, known.resourceVersion),
                contentType: "application/merge-patch+json",
                verb: "patch",
                resource: "events",
              },
              halt.signal,
              once,
            )
          : await ctx.request(
              subject,
              { method: "POST", path, body: buildEvent(p as EventOccurrence), verb: "create", resource: "events" },
              halt.signal,
              once,
            );
        remember(name, writtenOf(body, (known?.count ?? 0) + p.count));
        return;
      } catch (err) {
        if (round >= WRITE_ROUNDS) throw err;
        // 409: it exists (another process wrote it) or changed since we read it: read it and
        // add to what is there. 404 on a PATCH: it expired (events live an hour): create it.
        if (isKubeError(err, "conflict")) known = await readWritten(name, path, subject);
        else if (known && isKubeError(err, "not-found")) known = undefined;
        else throw err;
      }
    }
  };

  const readWritten = async (name: string, path: string, subject: string): Promise<Written | undefined> => {
    try {
      const body = await ctx.request(
        subject,
        { method: "GET", path: `${path}/${seg(name)}`, verb: "get", resource: "events" },
        halt.signal,
        { singleAttempt: true },
      );
      return writtenOf(body, 1);
    } catch (err) {
      if (isKubeError(err, "not-found")) return undefined;
      throw err;
    }
  };

  const startPump = (): void => {
    if (pumping || queue.size === 0) return;
    pumping = pump().finally(() => {
      pumping = undefined;
      // Something was queued while the last write was finishing.
      if (!halt.signal.aborted) startPump();
    });
  };

  const flush = async (signal: AbortSignal): Promise<void> => {
    const gaveUp = aborted(signal);
    while (pumping && !signal.aborted) await Promise.race([pumping, gaveUp.promise]);
    gaveUp.dispose();
    if (!pumping && queue.size === 0) return;
    halt.abort(new Error("event delivery stopped"));
    await pumping;
    drop(
      "stopped",
      [...queue.values()].reduce((n, p) => n + p.count, 0),
    );
    queue.clear();
    halt = new AbortController();
  };

  return {
    record(event) {
      if (stopped) {
        drop("stopped");
        return;
      }
      const name = eventName(event);
      const at = now();
      const pending = queue.get(name);
      if (pending) {
        pending.count++;
        pending.last = at;
        return;
      }
      if (queue.size >= limits.queueLimit) {
        drop("queue-full");
        return;
      }
      queue.set(name, { event, count: 1, first: at, last: at, node: options.node() });
      startPump();
    },
    flush,
    async stop(signal) {
      stopped = true;
      await flush(signal);
    },
  };
}

function writtenOf(body: unknown, fallbackCount: number): Written {
  const o = (typeof body === "object" && body !== null ? body : {}) as {
    count?: unknown;
    metadata?: { resourceVersion?: unknown };
  };
  const rv = o.metadata?.resourceVersion;
  return {
    count: typeof o.count === "number" ? o.count : fallbackCount,
    resourceVersion: typeof rv === "string" ? rv : undefined,
  };
}

/** Settles when `signal` aborts; dispose() removes the listener from a signal that lives on. */
function aborted(signal: AbortSignal): { promise: Promise<void>; dispose(): void } {
  let onAbort = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

/** Writes allowed now (0 ms) or after how long; taking the answer spends the token. */
function tokenBucket(burst: number, perSecond: number): { waitMs(): number } {
  let tokens = burst;
  let at = performance.now();
  return {
    waitMs() {
      const t = performance.now();
      tokens = Math.min(burst, tokens + ((t - at) / 1000) * perSecond);
      at = t;
      tokens -= 1;
      // A negative balance is the debt this write waits off.
      return tokens >= 0 ? 0 : Math.ceil((-tokens / perSecond) * 1000);
    },
  };
}
