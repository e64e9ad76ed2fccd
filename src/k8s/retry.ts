// Deadlines and retries of API requests. Multus gives each GET 250 ms and 2.5 s in total, hard
// coded, which fails on remote control planes (Multus #1461); here both are settings, and every
// wait also ends when the caller's signal does.

import { setTimeout as delay } from "node:timers/promises";

export interface KubeClientSettings {
  /** Deadline of one attempt (connect, TLS, request, response body). */
  readonly requestTimeoutMs: number;
  /** Further attempts after a transient failure (connection refused/reset, timeout, 429, 5xx). */
  readonly retries: number;
  /** Delay before the first retry; doubles with each further retry. */
  readonly retryBackoffMs: number;
}

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export const defaultSleep: Sleep = (ms, signal) => delay(ms, undefined, { signal });

/**
 * The wait before retry number `retry` (0 for the first): exponential, with the upper half
 * randomised so that many plugins failing together do not come back together. A server's
 * Retry-After is honoured up to the longest backoff the settings allow.
 */
export function backoffMs(settings: KubeClientSettings, retry: number, retryAfterMs?: number): number {
  const ceiling = settings.retryBackoffMs * 2 ** retry;
  const jittered = ceiling / 2 + Math.random() * (ceiling / 2);
  if (retryAfterMs === undefined) return Math.round(jittered);
  const longest = settings.retryBackoffMs * 2 ** Math.max(0, settings.retries - 1);
  return Math.round(Math.max(jittered, Math.min(retryAfterMs, longest)));
}

/** The longest a request can take under these settings, whatever the server does. */
export function maxRequestDurationMs(settings: KubeClientSettings): number {
  let total = (settings.retries + 1) * settings.requestTimeoutMs;
  for (let retry = 0; retry < settings.retries; retry++) total += settings.retryBackoffMs * 2 ** retry;
  return total;
}

/** Conflicts on the status write: client-go's retry.DefaultRetry (5 tries, 10 ms, jitter 0.1). */
export const CONFLICT_ATTEMPTS = 5;
export function conflictBackoffMs(): number {
  return Math.round(10 * (1 + Math.random() * 0.1));
}

export interface AttemptDeadline {
  /** Aborts at the caller's abort or after the attempt's own timeout, whichever comes first. */
  readonly signal: AbortSignal;
  readonly timedOut: () => boolean;
  /** Clears the timer and the listener on the caller's signal (which may live much longer). */
  readonly dispose: () => void;
}

/**
 * AbortSignal.any + AbortSignal.timeout, but released as soon as the attempt ends: Node 20's
 * AbortSignal.any keeps dependants of a long-lived signal around, and a timeout signal's timer
 * lingers until it fires. The timer is ref'd on purpose: it must fire even when nothing else
 * keeps the process alive.
 */
export function attemptDeadline(caller: AbortSignal, timeoutMs: number): AttemptDeadline {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError"));
  }, timeoutMs);
  const onAbort = (): void => controller.abort(caller.reason);
  if (caller.aborted) onAbort();
  else caller.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => expired,
    dispose: () => {
      clearTimeout(timer);
      caller.removeEventListener("abort", onAbort);
    },
  };
}
