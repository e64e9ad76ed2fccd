// One logical API request: attempts with a deadline each, retried with backoff while the
// failure is transient, and mapped to a KubeError naming the subject when it is not.

import type { Logger } from "../log/logger.js";
import { failureFromError, failureFromStatus, toKubeError, type Failure } from "./errors.js";
import { redactError } from "./redact.js";
import { attemptDeadline, backoffMs, type KubeClientSettings, type Sleep } from "./retry.js";
import type { KubeMetricsSink } from "./metrics.js";
import type { ApiRequest, Transport } from "./transport.js";

export interface RequestOptions {
  /** Best-effort writes (events) get one attempt: a retry would only delay the pod. */
  readonly singleAttempt?: boolean;
}

/** Resolves to the response body of a 2xx answer; throws a KubeError otherwise. */
export type Requester = (
  subject: string,
  request: ApiRequest,
  signal: AbortSignal,
  options?: RequestOptions,
) => Promise<unknown>;

export interface RequesterDeps {
  readonly transport: Transport;
  readonly settings: KubeClientSettings;
  readonly sleep: Sleep;
  readonly log: Logger;
  readonly metrics?: KubeMetricsSink | undefined;
}

type Outcome = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly failure: Failure };

export function createRequester(deps: RequesterDeps): Requester {
  return async (subject, request, signal, options = {}) => {
    const attempts = options.singleAttempt ? 1 : deps.settings.retries + 1;
    for (let attempt = 1; ; attempt++) {
      const outcome = await attemptOnce(deps, request, signal);
      if (outcome.ok) return outcome.body;
      const { failure } = outcome;
      if (!failure.retryable || attempt >= attempts || signal.aborted) throw toKubeError(subject, failure, attempt);
      const waitMs = backoffMs(deps.settings, attempt - 1, failure.retryAfterMs);
      deps.log.debug(
        { method: request.method, path: request.path, attempt, kind: failure.kind, reason: failure.detail, waitMs },
        "API request failed, retrying",
      );
      try {
        await deps.sleep(waitMs, signal);
      } catch (err) {
        const gaveUp = redacted(deps, failureFromError(err, errorContext(deps, false, true)));
        throw toKubeError(
          subject,
          { ...gaveUp, detail: `${gaveUp.detail}; the last attempt failed with: ${failure.detail}` },
          attempt,
        );
      }
    }
  };
}

async function attemptOnce(deps: RequesterDeps, request: ApiRequest, signal: AbortSignal): Promise<Outcome> {
  const deadline = attemptDeadline(signal, deps.settings.requestTimeoutMs);
  const started = performance.now();
  try {
    const response = await deps.transport.send(request, deadline.signal);
    deps.log.debug(
      {
        method: request.method,
        path: request.path,
        status: response.status,
        ms: Math.round(performance.now() - started),
      },
      "API request",
    );
    const ok = response.status >= 200 && response.status < 300;
    countRequest(deps, request, ok, started);
    if (ok) return { ok: true, body: response.body };
    const failure = failureFromStatus(response.status, response.body, response.retryAfter);
    return { ok: false, failure: redacted(deps, failure) };
  } catch (err) {
    countRequest(deps, request, false, started);
    // The caller's own abort wins over our per-attempt deadline: it must not be retried.
    const failure = failureFromError(err, errorContext(deps, deadline.timedOut(), signal.aborted));
    return { ok: false, failure: redacted(deps, failure) };
  } finally {
    deadline.dispose();
  }
}

/**
 * A failure as it may be logged and reported: a library's message (and its causes) can quote a
 * URL with user:password or a piece of the kubeconfig's credentials.
 */
function redacted(deps: RequesterDeps, failure: Failure): Failure {
  const { redact } = deps.transport;
  return {
    ...failure,
    detail: redact(failure.detail),
    ...(failure.cause !== undefined ? { cause: redactError(failure.cause, redact) } : {}),
  };
}

function errorContext(deps: RequesterDeps, timedOut: boolean, callerAborted: boolean) {
  return { server: deps.transport.server, timeoutMs: deps.settings.requestTimeoutMs, timedOut, callerAborted };
}

/** Every attempt is one API request for the metrics: a retried GET counts each time it went out. */
export function countRequest(
  deps: Pick<RequesterDeps, "metrics">,
  request: Pick<ApiRequest, "verb" | "resource">,
  ok: boolean,
  started: number,
): void {
  deps.metrics?.apiRequest(request.verb, request.resource, ok ? "ok" : "error", (performance.now() - started) / 1000);
}
