// The shapes the local API server stores and serves. Objects are plain JSON documents, as on
// the wire; only the metadata the server itself manages is typed.

export type JsonObject = { [key: string]: unknown };

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: unknown[];
  finalizers?: string[];
  [key: string]: unknown;
}

/** A Kubernetes object as stored: apiVersion, kind and metadata always present. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** apiextensions v1 JSONSchemaProps, as much as the server reads of it. */
export interface JsonSchema {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly items?: JsonSchema;
  readonly required?: readonly string[];
  readonly enum?: readonly unknown[];
  readonly nullable?: boolean;
  readonly "x-kubernetes-preserve-unknown-fields"?: boolean;
  readonly "x-kubernetes-int-or-string"?: boolean;
  readonly "x-kubernetes-embedded-resource"?: boolean;
}

export interface PrinterColumn {
  readonly name: string;
  readonly type: string;
  readonly jsonPath: string;
  readonly description?: string | undefined;
  readonly priority?: number | undefined;
  readonly format?: string | undefined;
}

/** One served resource: a group/version/plural with its kind and behaviour. */
export interface ResourceDefinition {
  /** "" for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly verbs: readonly string[];
  /** True when `<plural>/status` is a subresource: the main endpoint then never writes status. */
  readonly statusSubresource: boolean;
  readonly schema?: JsonSchema | undefined;
  readonly printerColumns: readonly PrinterColumn[];
  /** metadata.name of the CRD that defines this resource; absent for built-ins. */
  readonly crdName?: string | undefined;
}

/**
 * How callers name a resource: `{ resource: "pods" }`,
 * `{ group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" }`.
 */
export interface ResourceRef {
  readonly group?: string;
  readonly version?: string;
  readonly resource: string;
}

export function refOf(def: Pick<ResourceDefinition, "group" | "version" | "plural">): ResourceRef {
  return { group: def.group, version: def.version, resource: def.plural };
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchEvent {
  readonly type: WatchEventType;
  readonly object: KubeObject | JsonObject;
}

export const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"] as const;

export function apiVersionOf(group: string, version: string): string {
  return group === "" ? version : `${group}/${version}`;
}

/** The storage key of a resource: versions of one group/plural share their objects. */
export function storageKey(def: Pick<ResourceDefinition, "group" | "plural">): string {
  return `${def.group}/${def.plural}`;
}

/** `pods`, or `network-attachment-definitions.k8s.cni.cncf.io`, as Kubernetes names a resource in messages. */
export function qualifiedResource(def: Pick<ResourceDefinition, "group" | "plural">): string {
  return def.group === "" ? def.plural : `${def.plural}.${def.group}`;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Structural equality of JSON values (object key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return false;
}
