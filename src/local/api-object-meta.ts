// Reading a request body into a KubeObject and checking the metadata every resource shares:
// names, namespaces, labels, annotations. Resource-specific rules live in api-strategy.ts.
import { randomInt } from "node:crypto";
import { isDns1123Label, isDns1123Subdomain } from "../cni/ids.js";
import { badRequest } from "./api-errors.js";
import type { StatusCause } from "./api-errors.js";
import type { KubeObject, ResourceDefinition } from "./api-types.js";
import { apiVersionOf, isJsonObject } from "./api-types.js";

/** Kubernetes' limit on the total size of an object's annotations (TotalAnnotationSizeLimitB). */
const ANNOTATIONS_LIMIT_BYTES = 256 * 1024;

/** The metadata the server owns: whatever a client sends here is replaced. */
const SERVER_OWNED = [
  "uid",
  "creationTimestamp",
  "deletionTimestamp",
  "generation",
  "managedFields",
  "selfLink",
] as const;

/**
 * A request body as an object of this resource: apiVersion and kind filled in (and checked when
 * given), metadata.namespace reconciled with the URL's namespace.
 */
export function normalizeBody(def: ResourceDefinition, body: unknown, namespace: string | undefined): KubeObject {
  if (!isJsonObject(body)) throw badRequest("the request body must be a JSON object");
  const expected = apiVersionOf(def.group, def.version);
  const apiVersion = body["apiVersion"];
  if (apiVersion !== undefined) {
    const group = typeof apiVersion === "string" && apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
    if (typeof apiVersion !== "string" || group !== def.group) {
      throw badRequest(
        `the API version in the data (${String(apiVersion)}) does not match the expected API version (${expected})`,
      );
    }
  }
  const kind = body["kind"];
  if (kind !== undefined && kind !== def.kind) {
    throw badRequest(`the kind in the data (${String(kind)}) does not match the expected kind (${def.kind})`);
  }
  const metadata = body["metadata"] ?? {};
  if (!isJsonObject(metadata)) throw badRequest("metadata must be an object");
  const object = {
    ...structuredClone(body),
    apiVersion: expected,
    kind: def.kind,
    metadata: structuredClone(metadata),
  } as KubeObject;
  reconcileNamespace(def, object, namespace);
  checkStringMap(object, "labels");
  checkStringMap(object, "annotations");
  return object;
}

function reconcileNamespace(def: ResourceDefinition, object: KubeObject, namespace: string | undefined): void {
  if (!def.namespaced) {
    delete object.metadata.namespace;
    return;
  }
  const given = object.metadata.namespace;
  if (given !== undefined && given !== "" && namespace !== undefined && given !== namespace) {
    throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
  }
  const effective = namespace ?? (given || undefined);
  if (effective === undefined) throw badRequest("a namespace is required for namespaced resources");
  object.metadata.namespace = effective;
}

function checkStringMap(object: KubeObject, field: "labels" | "annotations"): void {
  const map: unknown = object.metadata[field];
  if (map === undefined || map === null) {
    delete object.metadata[field];
    return;
  }
  if (!isJsonObject(map) || Object.values(map).some((v) => typeof v !== "string")) {
    throw badRequest(`metadata.${field} must be a map of strings`);
  }
}

export function stripServerOwned(object: KubeObject): void {
  for (const key of SERVER_OWNED) delete object.metadata[key];
}

// Kubernetes' name generator alphabet: no vowels, no look-alike digits (apiserver names.go).
const ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

export function generateName(prefix: string): string {
  let suffix = "";
  for (let i = 0; i < 5; i++) suffix += ALPHABET[randomInt(ALPHABET.length)];
  return `${prefix}${suffix}`;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Field causes for a 422 Invalid; empty when the metadata is acceptable. */
export function validateMetadata(def: ResourceDefinition, object: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = object.metadata.name ?? "";
  // Namespaces are DNS labels; most other names DNS subdomains (events use dots freely).
  const nameOk = def.plural === "namespaces" ? isDns1123Label(name) : isDns1123Subdomain(name);
  if (!nameOk) {
    const rule = def.plural === "namespaces" ? "a lowercase RFC 1123 label" : "a lowercase RFC 1123 subdomain";
    causes.push({
      reason: "FieldValueInvalid",
      field: "metadata.name",
      message: `Invalid value: "${name}": must be ${rule}`,
    });
  }
  for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
    if (value.length > 63 || !LABEL_VALUE.test(value)) {
      causes.push({
        reason: "FieldValueInvalid",
        field: `metadata.labels`,
        message:
          `Invalid value: "${value}": a valid label value for ${key} must be 63 characters or ` +
          `less, alphanumeric, '-', '_' or '.'`,
      });
    }
  }
  const annotationBytes = Object.entries(object.metadata.annotations ?? {}).reduce(
    (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v),
    0,
  );
  if (annotationBytes > ANNOTATIONS_LIMIT_BYTES) {
    causes.push({
      reason: "FieldValueTooLong",
      field: "metadata.annotations",
      message: `Too long: must have at most ${ANNOTATIONS_LIMIT_BYTES} bytes`,
    });
  }
  return causes;
}
