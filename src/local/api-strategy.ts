// Per-resource rules applied on create and update, after the shared metadata handling:
// what the real registry strategies do that clients can observe (status resets, the pod phase,
// namespace defaults, CRD defaulting and status, the status subresource split, generation).
import { crdStatus, parseCrdSpec } from "./api-crd.js";
import type { KubeObject, ResourceDefinition } from "./api-types.js";
import { jsonEqual } from "./api-types.js";
import { CRD_GROUP } from "./api-builtin-resources.js";

export type Subresource = "status";

function isCore(def: ResourceDefinition, plural: string): boolean {
  return def.group === "" && def.plural === plural;
}

function isCrd(def: ResourceDefinition): boolean {
  return def.group === CRD_GROUP && def.plural === "customresourcedefinitions";
}

/** Kubernetes tracks metadata.generation for custom resources and CRDs (of what is served here). */
function tracksGeneration(def: ResourceDefinition): boolean {
  return def.crdName !== undefined || isCrd(def);
}

export function prepareForCreate(def: ResourceDefinition, object: KubeObject, now: string): void {
  if (tracksGeneration(def)) object.metadata.generation = 1;
  if (isCore(def, "pods")) {
    // The server runs nothing: a new pod waits, Pending, for a (simulated) kubelet.
    object["status"] = { phase: "Pending" };
  } else if (isCore(def, "namespaces")) {
    object["spec"] = { finalizers: ["kubernetes"], ...(object["spec"] as object | undefined) };
    object["status"] = { phase: "Active" };
  } else if (isCrd(def)) {
    const spec = parseCrdSpec(object);
    object["spec"] = { conversion: { strategy: "None" }, ...spec };
    object["status"] = crdStatus(spec, now);
  } else if (def.statusSubresource && !isCore(def, "nodes")) {
    // Status is written through /status only (nodes are the exception: kubelets create them whole).
    delete object["status"];
  }
  stampNamespaceName(def, object);
}

/**
 * Shapes the new state of an object being updated. Through the main endpoint a resource with a
 * status subresource keeps its old status; through /status only status changes (pods also take
 * labels and annotations there, which is how the NAD client library publishes network-status).
 */
export function prepareForUpdate(
  def: ResourceDefinition,
  object: KubeObject,
  old: KubeObject,
  subresource: Subresource | undefined,
  now: string,
): KubeObject {
  let next = object;
  if (subresource === "status") {
    const metadata = { ...old.metadata, resourceVersion: object.metadata.resourceVersion ?? "" };
    if (isCore(def, "pods")) {
      setOrDelete(metadata, "labels", object.metadata.labels);
      setOrDelete(metadata, "annotations", object.metadata.annotations);
    }
    next = { ...structuredClone(old), metadata, status: object["status"] };
    if (object["status"] === undefined) delete next["status"];
  } else if (def.statusSubresource) {
    if (old["status"] === undefined) delete next["status"];
    else next["status"] = structuredClone(old["status"]);
  }
  if (isCrd(def)) {
    const spec = parseCrdSpec(next);
    next["spec"] = { conversion: { strategy: "None" }, ...spec };
    next["status"] = crdStatus(spec, now);
  }
  if (tracksGeneration(def))
    next.metadata.generation = specChanged(next, old)
      ? (old.metadata.generation ?? 0) + 1
      : (old.metadata.generation ?? 1);
  stampNamespaceName(def, next);
  return next;
}

function setOrDelete(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined) delete target[key];
  else target[key] = value;
}

function specChanged(next: KubeObject, old: KubeObject): boolean {
  const body = (o: KubeObject): Record<string, unknown> => {
    const { metadata: _m, status: _s, ...rest } = o;
    return rest;
  };
  return !jsonEqual(body(next), body(old));
}

// Kubernetes labels every namespace with its own name (NamespaceDefaultLabelName, 1.21+).
function stampNamespaceName(def: ResourceDefinition, object: KubeObject): void {
  if (!isCore(def, "namespaces")) return;
  object.metadata.labels = { ...object.metadata.labels, "kubernetes.io/metadata.name": object.metadata.name ?? "" };
}
