// What went wrong with one API request, as data: the kind the engine branches on, whether a
// retry can help, and a detail a user can act on. Converted to a KubeError once, with the
// subject ("pod team-a/web-0") in front. No request header ever reaches a message: the
// bearer token lives there.

import { z } from "zod";
import { KubeError, type KubeErrorKind } from "./port.js";

export interface Failure {
  readonly kind: KubeErrorKind;
  readonly detail: string;
  readonly retryable: boolean;
  readonly status?: number;
  /** The server's Retry-After, when it sent one (429, some 5xx). */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

const StatusSchema = z.object({
  kind: z.literal("Status"),
  message: z.string().optional(),
  reason: z.string().optional(),
  details: z
    .object({
      name: z.string().optional(),
      causes: z.array(z.object({ field: z.string().optional() }).loose()).optional(),
    })
    .loose()
    .optional(),
});

/** HTTP statuses worth another attempt: the server is overloaded, restarting, or behind a proxy that is. */
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

export function failureFromStatus(status: number, body: unknown, retryAfter: string | undefined): Failure {
  const s = StatusSchema.safeParse(body);
  const said = s.success && s.data.message ? `: ${s.data.message}` : "";
  const retryable = RETRYABLE_STATUS.has(status);
  const retryAfterMs = parseRetryAfter(retryAfter);
  const base = { status, retryable, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  switch (status) {
    case 404:
      // A Status without details.name comes from a missing resource type, not a missing object.
      return s.success && s.data.details?.name === undefined && s.data.reason === "NotFound"
        ? {
            ...base,
            kind: "not-found",
            detail: "not found: the API server does not serve this resource type (is its CRD installed?)",
          }
        : { ...base, kind: "not-found", detail: "not found" };
    case 409:
      return { ...base, kind: "conflict", detail: `conflict${said}` };
    case 403:
      return { ...base, kind: "forbidden", detail: `forbidden${said}` };
    case 401:
      return {
        ...base,
        kind: "unauthorized",
        detail: "unauthorized: the API server rejected the credentials (expired or revoked token?)",
      };
    case 422:
      // An update naming another UID than the stored object's: the object we meant was deleted
      // and one of the same name created (apimachinery ValidateObjectMetaUpdate: metadata.uid
      // is immutable). For the caller that object is gone.
      if (s.success && s.data.details?.causes?.some((c) => c.field === "metadata.uid"))
        return { ...base, kind: "not-found", detail: `not found with that UID: it was deleted and recreated${said}` };
      return { ...base, kind: "invalid", detail: `invalid${said}` };
    case 400:
      return { ...base, kind: "invalid", detail: `invalid${said}` };
    case 429:
      return {
        ...base,
        kind: "unavailable",
        detail: `unavailable: the API server is throttling requests (429)${said}`,
      };
    default:
      if (status >= 500)
        return { ...base, kind: "unavailable", detail: `unavailable: the API server answered ${status}${said}` };
      return { ...base, kind: "invalid", detail: `the API server refused the request with HTTP ${status}${said}` };
  }
}

/** Network-level errors a new connection may not hit (Node's error codes). */
const RETRYABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ECONNABORTED",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** OpenSSL's verification codes: a configuration problem, which retrying cannot fix. */
function isTlsVerificationError(code: string): boolean {
  return /CERT|SIGNATURE|ISSUER|ERR_TLS/.test(code);
}

export interface ErrorContext {
  readonly server: string;
  readonly timeoutMs: number;
  /** The per-attempt deadline passed. */
  readonly timedOut: boolean;
  /** The caller's signal was aborted: its own deadline, or it gave up. */
  readonly callerAborted: boolean;
}

export function failureFromError(err: unknown, ctx: ErrorContext): Failure {
  if (ctx.callerAborted) {
    return {
      kind: "timeout",
      retryable: false,
      detail: `gave up waiting for the API server ${ctx.server}: the caller's deadline passed`,
      cause: err,
    };
  }
  if (ctx.timedOut) {
    return {
      kind: "timeout",
      retryable: true,
      detail: `no answer from the API server ${ctx.server} within ${ctx.timeoutMs} ms`,
      cause: err,
    };
  }
  if (err instanceof KubeError) return { kind: err.kind, retryable: false, detail: err.message, cause: err };
  if (err instanceof Error && err.name === "CredentialsError")
    return { kind: "unauthorized", retryable: false, detail: err.message, cause: err };
  const code =
    typeof (err as NodeJS.ErrnoException | undefined)?.code === "string"
      ? ((err as NodeJS.ErrnoException).code ?? "")
      : "";
  const message = err instanceof Error ? err.message : String(err);
  if (isTlsVerificationError(code)) {
    return {
      kind: "unavailable",
      retryable: false,
      detail:
        `TLS verification of the API server ${ctx.server} failed (${message}): check the ` +
        `certificate authority in the kubeconfig`,
      cause: err,
    };
  }
  return {
    kind: "unavailable",
    retryable: RETRYABLE_CODES.has(code),
    detail: `API server ${ctx.server} unreachable: ${message}`,
    cause: err,
  };
}

export function toKubeError(subject: string, failure: Failure, attempts: number): KubeError {
  const tries = attempts > 1 ? ` (${attempts} attempts)` : "";
  return new KubeError(failure.kind, `${subject}: ${failure.detail}${tries}`, {
    cause: failure.cause,
    ...(failure.status !== undefined ? { status: failure.status } : {}),
  });
}

function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}
