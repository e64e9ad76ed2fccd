// Failures of the local API server, carried as metav1 Status objects: kubectl and client-node
// read `reason`, `code` and `details` from them to print their usual messages
// (e.g. `Error from server (NotFound): pods "x" not found`). Kept apart from CniError: this is
// the wire error of the Kubernetes API, not of the CNI protocol.
import type { ResourceDefinition } from "./api-types.js";
import { qualifiedResource } from "./api-types.js";

export type StatusReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Invalid"
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "MethodNotAllowed"
  | "NotAcceptable"
  | "UnsupportedMediaType"
  | "RequestEntityTooLarge"
  | "Expired"
  | "Gone"
  | "InternalError";

export interface StatusCause {
  readonly reason?: string;
  readonly message?: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
}

export interface Status {
  readonly kind: "Status";
  readonly apiVersion: "v1";
  readonly metadata: Record<string, never>;
  readonly status: "Success" | "Failure";
  readonly message?: string;
  readonly reason?: StatusReason;
  readonly details?: StatusDetails;
  readonly code: number;
}

export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: Status;

  constructor(
    code: number,
    reason: StatusReason,
    message: string,
    details?: StatusDetails,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      ...(details !== undefined ? { details } : {}),
      code,
    };
  }

  get code(): number {
    return this.status.code;
  }

  get reason(): StatusReason {
    return this.status.reason ?? "InternalError";
  }
}

type Resource = Pick<ResourceDefinition, "group" | "plural">;

function resourceDetails(def: Resource, name: string): StatusDetails {
  return { name, group: def.group, kind: def.plural };
}

export function notFound(def: Resource, name: string): ApiError {
  return new ApiError(404, "NotFound", `${qualifiedResource(def)} "${name}" not found`, resourceDetails(def, name));
}

export function alreadyExists(def: Resource, name: string): ApiError {
  return new ApiError(
    409,
    "AlreadyExists",
    `${qualifiedResource(def)} "${name}" already exists`,
    resourceDetails(def, name),
  );
}

export function conflict(def: Resource, name: string, why: string): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(def)} "${name}": ${why}`,
    resourceDetails(def, name),
  );
}

export const STALE_OBJECT =
  "the object has been modified; please apply your changes to the latest version and try again";

/** 422: validation failed; details.kind is the Kind (not the resource), as Kubernetes sends it. */
export function invalid(
  def: Pick<ResourceDefinition, "group" | "kind">,
  name: string,
  causes: readonly StatusCause[],
): ApiError {
  const qualifiedKind = def.group === "" ? def.kind : `${def.kind}.${def.group}`;
  const summary = causes.map((c) => (c.field ? `${c.field}: ${c.message ?? ""}` : (c.message ?? ""))).join(", ");
  const list = causes.length > 1 ? `[${summary}]` : summary;
  return new ApiError(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${list}`, {
    name,
    group: def.group,
    kind: def.kind,
    causes,
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

export function forbidden(def: Resource, name: string, why: string): ApiError {
  return new ApiError(
    403,
    "Forbidden",
    `${qualifiedResource(def)} "${name}" is forbidden: ${why}`,
    resourceDetails(def, name),
  );
}

export function unauthorized(): ApiError {
  return new ApiError(401, "Unauthorized", "Unauthorized");
}

export function methodNotAllowed(method: string, what: string): ApiError {
  return new ApiError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource (${method} ${what})`,
  );
}

export function routeNotFound(): ApiError {
  return new ApiError(404, "NotFound", "the server could not find the requested resource");
}

export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: application/json, ` +
      `application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, ` +
      `application/apply-patch+yaml (got "${contentType}")`,
  );
}

export function requestTooLarge(limit: number): ApiError {
  return new ApiError(413, "RequestEntityTooLarge", `Request entity too large: limit is ${limit}`);
}

/** 410: the watch cannot resume from a resourceVersion the server no longer remembers. */
export function expired(message: string): ApiError {
  return new ApiError(410, "Expired", message);
}

export function internalError(message: string, cause?: unknown): ApiError {
  return new ApiError(500, "InternalError", `Internal error occurred: ${message}`, undefined, { cause });
}

export function successStatus(def: Resource, name: string, uid: string | undefined): Status {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: { name, group: def.group, kind: def.plural, ...(uid !== undefined ? { uid } : {}) },
    code: 200,
  };
}
