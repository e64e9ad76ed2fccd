// Who runs when inside the daemon (docs/architecture.md "Daemon mode"):
//   - one container at a time: ADD, CHECK and DEL of one container ID never overlap, in arrival
//     order (a runtime's DEL after a failed ADD must see the ADD finished);
//   - GC is exclusive: it decides which cached attachments are stale from a list the runtime
//     computed before the call, so an ADD running beside it could be "collected" half-way. It
//     waits for what runs, and what arrives after it waits for it (a barrier, so it never starves);
//   - at most `maxParallel` requests run at once; the rest wait first-in first-out;
//   - a request that waited `queueTimeoutMs` gets CNI error 11 (try again later): the runtime
//     retries, and a stuck queue never turns into a stuck kubelet;
//   - STATUS and VERSION ("free") bypass all of it: containerd polls STATUS every 5 s and must
//     get an answer at once, not after a burst of ADDs.
// In-memory only: the on-disk per-container lock of the cache layer is what keeps a daemon and
// a thin fallback (src/shim) apart.

import { CniError, ErrorCode } from "../cni/error.js";

export type Lane =
  { readonly kind: "container"; readonly id: string } | { readonly kind: "exclusive" } | { readonly kind: "free" };

export interface SchedulerOptions {
  readonly maxParallel: number;
  readonly queueTimeoutMs: number;
  /** Told whenever the numbers of running and queued requests change (metrics). */
  readonly onChange?: (counts: SchedulerCounts) => void;
}

export interface SchedulerCounts {
  /** Requests holding a slot (free-lane requests are not counted: they take none). */
  readonly running: number;
  readonly queued: number;
}

export interface Scheduler {
  /**
   * Runs `task` when its lane allows; rejects with CniError 11 when it waited too long, or with the
   * signal's reason.
   */
  run<T>(lane: Lane, signal: AbortSignal, task: () => Promise<T>): Promise<T>;
  counts(): SchedulerCounts;
  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void>;
}

interface Waiter {
  readonly lane: Lane;
  readonly start: () => void;
}

export function createScheduler(options: SchedulerOptions): Scheduler {
  if (!Number.isInteger(options.maxParallel) || options.maxParallel < 1)
    throw new Error(`maxParallel must be a positive integer, not ${options.maxParallel}`);
  const queue: Waiter[] = [];
  const busy = new Set<string>();
  let running = 0;
  let exclusive = false;
  let idleWaiters: (() => void)[] = [];

  const counts = (): SchedulerCounts => ({ running, queued: queue.length });
  const changed = () => {
    options.onChange?.(counts());
    if (running === 0 && queue.length === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  const canStart = (lane: Lane): boolean => {
    if (exclusive || running >= options.maxParallel) return false;
    if (lane.kind === "exclusive") return running === 0;
    return lane.kind !== "container" || !busy.has(lane.id);
  };

  const take = (lane: Lane) => {
    running++;
    if (lane.kind === "exclusive") exclusive = true;
    if (lane.kind === "container") busy.add(lane.id);
  };

  const release = (lane: Lane) => {
    running--;
    if (lane.kind === "exclusive") exclusive = false;
    if (lane.kind === "container") busy.delete(lane.id);
    pump();
  };

  /** Starts every waiter that may start, in order; an exclusive waiter stops the scan (a barrier). */
  const pump = () => {
    for (let i = 0; i < queue.length;) {
      const w = queue[i] as Waiter;
      if (canStart(w.lane)) {
        queue.splice(i, 1);
        take(w.lane);
        w.start();
        continue;
      }
      if (w.lane.kind === "exclusive" || running >= options.maxParallel) break;
      i++;
    }
    changed();
  };

  const run = <T>(lane: Lane, signal: AbortSignal, task: () => Promise<T>): Promise<T> => {
    if (lane.kind === "free") return task();
    signal.throwIfAborted();
    const execute = async (): Promise<T> => {
      try {
        return await task();
      } finally {
        release(lane);
      }
    };
    return new Promise<void>((resolve, reject) => {
      const waitedSince = performance.now();
      const ahead = queue.length;
      const leave = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
      };
      const onAbort = () => {
        leave();
        pump();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        leave();
        pump();
        const seconds = ((performance.now() - waitedSince) / 1000).toFixed(1);
        reject(
          new CniError(
            ErrorCode.TryAgainLater,
            `plexus daemon: the request waited ${seconds} s in the queue (${ahead} ahead of ` +
              `it, ${options.maxParallel} running at most): try again later`,
          ),
        );
      }, options.queueTimeoutMs);
      const waiter: Waiter = {
        lane,
        start: () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      queue.push(waiter);
      // Starts it at once when it may (a free slot, its container idle, no GC waiting ahead).
      pump();
    }).then(execute);
  };

  const idle = () =>
    running === 0 && queue.length === 0 ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r));

  return { run, counts, idle };
}

/** The lane of a CNI command, from the request's environment (before anything is parsed). */
export function laneOf(env: Readonly<Record<string, string | undefined>>): Lane {
  switch (env["CNI_COMMAND"]) {
    case "ADD":
    case "DEL":
    case "CHECK":
      return { kind: "container", id: env["CNI_CONTAINERID"] ?? "" };
    case "GC":
      return { kind: "exclusive" };
    default:
      return { kind: "free" };
  }
}
