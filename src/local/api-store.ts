// The in-process Kubernetes API: every verb with the server's rules (uid, resourceVersion,
// conflicts, namespaces, status subresources, CRDs becoming resources). The HTTP routes call it,
// and so can a node simulator living in the same process.
import { randomUUID } from "node:crypto";
import { parseCrdSpec, crdResources } from "./api-crd.js";
import {
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  invalid,
  notFound,
  routeNotFound,
  STALE_OBJECT,
} from "./api-errors.js";
import { paginate } from "./api-list.js";
import { generateName, normalizeBody, stripServerOwned } from "./api-object-meta.js";
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchType } from "./api-patch.js";
import { allOf, parseFieldSelector, parseLabelSelector } from "./api-selectors.js";
import { ObjectStorage } from "./api-storage.js";
import type { StorageDump } from "./api-storage.js";
import { prepareForCreate, prepareForUpdate } from "./api-strategy.js";
import type { Subresource } from "./api-strategy.js";
import { ResourceRegistry } from "./api-registry.js";
import type { KubeObject, ResourceDefinition, ResourceRef } from "./api-types.js";
import { isJsonObject, jsonEqual, storageKey } from "./api-types.js";
import { validateObject } from "./api-validation.js";
import type { FieldValidation, ValidationOptions } from "./api-validation.js";
import { asServed, startWatch, watchBacklog } from "./api-watchers.js";
import type { WatchCallbacks, WatchHandle, WatchScope, WatchStart } from "./api-watchers.js";
import { CRD_GROUP } from "./api-builtin-resources.js";

export type { FieldValidation, WatchCallbacks, WatchHandle };

export interface WriteOptions extends ValidationOptions {
  /** The URL's namespace; checked against metadata.namespace. */
  readonly namespace?: string | undefined;
  readonly subresource?: Subresource | undefined;
}

export interface SelectOptions {
  readonly namespace?: string | undefined;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
}

export interface ListOptions extends SelectOptions {
  readonly limit?: number | undefined;
  readonly continue?: string | undefined;
}

export interface ListResult {
  readonly items: KubeObject[];
  readonly resourceVersion: string;
  readonly continue?: string;
  readonly remainingItemCount?: number;
}

export interface WatchOptions extends SelectOptions, WatchStart {}

export interface DeleteOptions {
  readonly preconditions?:
    { readonly uid?: string | undefined; readonly resourceVersion?: string | undefined } | undefined;
}

export interface ApiStoreOptions {
  readonly now?: () => Date;
  readonly historyLimit?: number;
}

/** Kubernetes refuses to delete these (NamespaceLifecycle admission). */
const PROTECTED_NAMESPACES = new Set(["default", "kube-system", "kube-public"]);
const NAMESPACES: ResourceRef = { resource: "namespaces" };

export class ApiStore {
  readonly registry = new ResourceRegistry();
  private readonly storage: ObjectStorage;
  private readonly now: () => Date;

  constructor(options: ApiStoreOptions = {}) {
    this.storage = new ObjectStorage(options.historyLimit);
    this.now = options.now ?? (() => new Date());
    this.ensureNamespace("default");
    this.ensureNamespace("kube-system");
  }

  /** The newest resourceVersion: what a LIST reports. */
  get resourceVersion(): string {
    return String(this.storage.revision);
  }

  definition(ref: ResourceRef): ResourceDefinition {
    const def = this.registry.resolve(ref);
    if (!def) throw routeNotFound();
    return def;
  }

  find(ref: ResourceRef, namespace: string | undefined, name: string): KubeObject | undefined {
    const def = this.definition(ref);
    const found = this.storage.get(storageKey(def), def.namespaced ? namespace : undefined, name);
    return found && asServed(def, found);
  }

  get(ref: ResourceRef, namespace: string | undefined, name: string): KubeObject {
    const found = this.find(ref, namespace, name);
    if (!found) throw notFound(this.definition(ref), name);
    return found;
  }

  list(ref: ResourceRef, options: ListOptions = {}): ListResult {
    const def = this.definition(ref);
    const predicate = allOf(parseLabelSelector(options.labelSelector), parseFieldSelector(options.fieldSelector));
    const namespace = def.namespaced ? options.namespace : undefined;
    const all = this.storage
      .list(storageKey(def), namespace)
      .filter(predicate)
      .map((o) => asServed(def, o));
    const page = paginate(all, options.limit, options.continue);
    return {
      items: page.items,
      resourceVersion: this.resourceVersion,
      ...(page.continueToken !== undefined ? { continue: page.continueToken } : {}),
      ...(page.remainingItemCount !== undefined ? { remainingItemCount: page.remainingItemCount } : {}),
    };
  }

  create(ref: ResourceRef, body: unknown, options: WriteOptions = {}): KubeObject {
    const def = this.definition(ref);
    const object = normalizeBody(def, body, options.namespace);
    stripServerOwned(object);
    delete object.metadata.resourceVersion;
    if (!object.metadata.name && object.metadata.generateName)
      object.metadata.name = generateName(object.metadata.generateName);
    if (!object.metadata.name) {
      throw invalid(def, "", [
        {
          reason: "FieldValueRequired",
          field: "metadata.name",
          message: "Required value: name or generateName is required",
        },
      ]);
    }
    const name = object.metadata.name;
    if (def.namespaced) this.requireNamespace(object.metadata.namespace ?? "");
    const now = this.timestamp();
    object.metadata.uid = randomUUID();
    object.metadata.creationTimestamp = now;
    prepareForCreate(def, object, now);
    validateObject(def, object, options);
    if (this.storage.get(storageKey(def), object.metadata.namespace, name)) throw alreadyExists(def, name);
    const stored = this.storage.write(storageKey(def), object);
    this.afterWrite(def, stored);
    return asServed(def, stored);
  }

  /** PUT: replaces the object named by the body (or options.name); a stale resourceVersion is 409. */
  update(
    ref: ResourceRef,
    body: unknown,
    options: WriteOptions & { readonly name?: string | undefined } = {},
  ): KubeObject {
    const def = this.definition(ref);
    const object = normalizeBody(def, body, options.namespace);
    const name = object.metadata.name ?? options.name ?? "";
    if (options.name !== undefined && name !== options.name) {
      throw badRequest(`the name of the object (${name}) does not match the name on the URL (${options.name})`);
    }
    object.metadata.name = name;
    const existing = this.storage.get(storageKey(def), object.metadata.namespace, name);
    if (!existing) throw notFound(def, name);
    // A PUT's UID is a precondition (apiserver rest.defaultUpdatedObjectInfo.Preconditions):
    // checked by the storage layer, and a mismatch is a 409.
    const uid = object.metadata.uid;
    if (typeof uid === "string" && uid !== "" && uid !== existing.metadata.uid) {
      throw conflict(
        def,
        name,
        `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid ?? ""}`,
      );
    }
    return this.replace(def, existing, object, options);
  }

  patch(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    options: WriteOptions = {},
  ): KubeObject {
    const def = this.definition(ref);
    const key = storageKey(def);
    const existing = this.storage.get(key, def.namespaced ? namespace : undefined, name);
    if (!existing) {
      // Server-side apply creates what does not exist yet.
      if (type === PatchType.Apply && options.subresource === undefined) {
        return this.create(
          ref,
          { ...(isJsonObject(patch) ? patch : {}), metadata: { ...metadataOf(patch), name } },
          { ...options, namespace },
        );
      }
      throw notFound(def, name);
    }
    const patched = this.applyPatch(type, existing, patch);
    if (!isJsonObject(patched) || !isJsonObject(patched["metadata"]))
      throw badRequest("the patch removed the object's metadata");
    const candidate = normalizeBody(def, patched, def.namespaced ? namespace : undefined);
    if (candidate.metadata.name !== name) {
      throw invalid(def, name, [
        { reason: "FieldValueInvalid", field: "metadata.name", message: "Invalid value: field is immutable" },
      ]);
    }
    // A patch is no precondition (the apiserver's patcher passes no UpdatedObjectInfo object):
    // a UID it sets reaches update validation, where metadata.uid is immutable
    // (apimachinery ValidateObjectMetaAccessorUpdate). Clients put the UID in a patch exactly
    // for this: the kubelet's status patches do, so that a recreated pod is never patched.
    const uid = candidate.metadata.uid;
    if (typeof uid === "string" && uid !== "" && uid !== existing.metadata.uid) {
      throw invalid(def, name, [
        { reason: "FieldValueInvalid", field: "metadata.uid", message: `Invalid value: "${uid}": field is immutable` },
      ]);
    }
    return this.replace(def, existing, candidate, options);
  }

  delete(ref: ResourceRef, namespace: string | undefined, name: string, options: DeleteOptions = {}): KubeObject {
    const def = this.definition(ref);
    const ns = def.namespaced ? namespace : undefined;
    const existing = this.storage.get(storageKey(def), ns, name);
    if (!existing) throw notFound(def, name);
    const pre = options.preconditions;
    if (pre?.uid !== undefined && pre.uid !== existing.metadata.uid) {
      throw conflict(
        def,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid ?? ""}`,
      );
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== existing.metadata.resourceVersion) {
      throw conflict(
        def,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in ` +
          `object meta: ${existing.metadata.resourceVersion ?? ""}`,
      );
    }
    if (isNamespaces(def) && PROTECTED_NAMESPACES.has(name))
      throw forbidden(def, name, "this namespace may not be deleted");
    // Deletion is immediate: no graceful period, finalizers are not waited for.
    const removed = this.storage.remove(storageKey(def), ns, name) as KubeObject;
    this.afterDelete(def, removed);
    return asServed(def, removed);
  }

  deleteCollection(ref: ResourceRef, options: SelectOptions = {}): KubeObject[] {
    const { items } = this.list(ref, options);
    return items.map((o) => this.delete(ref, o.metadata.namespace, o.metadata.name ?? ""));
  }

  watch(ref: ResourceRef, options: WatchOptions, callbacks: WatchCallbacks): WatchHandle {
    const def = this.definition(ref);
    const scope: WatchScope = {
      def,
      namespace: def.namespaced ? options.namespace : undefined,
      predicate: allOf(parseLabelSelector(options.labelSelector), parseFieldSelector(options.fieldSelector)),
    };
    return startWatch(this.storage, scope, watchBacklog(this.storage, scope, options), callbacks);
  }

  /** Calls the listener after every write (persistence). */
  onWrite(listener: () => void): () => void {
    return this.storage.subscribe(() => listener());
  }

  /** Forgets the change history (etcd compaction): a watch resuming from before now gets 410 Gone. */
  compact(): void {
    this.storage.compact();
  }

  dump(): StorageDump {
    return this.storage.dump();
  }

  /** Restores a dump: CRDs found in it are served again; default namespaces are ensured. */
  load(dump: StorageDump): void {
    this.storage.load(dump);
    for (const crd of this.storage.list(storageKey({ group: CRD_GROUP, plural: "customresourcedefinitions" }))) {
      this.registry.registerCrd(crd.metadata.name ?? "", crdResources(crd.metadata.name ?? "", parseCrdSpec(crd)));
    }
    this.ensureNamespace("default");
    this.ensureNamespace("kube-system");
  }

  ensureNamespace(name: string): void {
    if (!this.find(NAMESPACES, undefined, name)) this.create(NAMESPACES, { metadata: { name } });
  }

  private applyPatch(type: PatchType, existing: KubeObject, patch: unknown): unknown {
    switch (type) {
      case PatchType.Json:
        return applyJsonPatch(existing, patch);
      case PatchType.Merge:
        return applyMergePatch(existing, patch);
      case PatchType.Strategic:
      case PatchType.Apply:
        // Server-side apply approximated as a strategic merge of the applied configuration.
        if (!isJsonObject(patch)) throw badRequest("the patch must be a JSON object");
        return applyStrategicMergePatch(existing, patch);
    }
  }

  private replace(
    def: ResourceDefinition,
    existing: KubeObject,
    candidate: KubeObject,
    options: WriteOptions,
  ): KubeObject {
    const name = existing.metadata.name ?? "";
    const sent = candidate.metadata.resourceVersion;
    if (sent !== undefined && sent !== "" && sent !== existing.metadata.resourceVersion)
      throw conflict(def, name, STALE_OBJECT);
    candidate.metadata.resourceVersion = existing.metadata.resourceVersion ?? "";
    stripServerOwned(candidate);
    candidate.metadata.uid = existing.metadata.uid ?? "";
    candidate.metadata.creationTimestamp = existing.metadata.creationTimestamp ?? this.timestamp();
    const next = prepareForUpdate(def, candidate, existing, options.subresource, this.timestamp());
    validateObject(def, next, options);
    // An update that changes nothing is not written: same resourceVersion, no watch event.
    if (jsonEqual(next, existing)) return asServed(def, existing);
    const stored = this.storage.write(storageKey(def), next);
    this.afterWrite(def, stored);
    return asServed(def, stored);
  }

  private requireNamespace(namespace: string): void {
    if (!this.storage.get(storageKey({ group: "", plural: "namespaces" }), undefined, namespace)) {
      throw notFound({ group: "", plural: "namespaces" }, namespace);
    }
  }

  private afterWrite(def: ResourceDefinition, stored: KubeObject): void {
    if (isCrds(def))
      this.registry.registerCrd(
        stored.metadata.name ?? "",
        crdResources(stored.metadata.name ?? "", parseCrdSpec(stored)),
      );
  }

  /** Cascades: a namespace takes its objects with it, a CRD its custom resources. */
  private afterDelete(def: ResourceDefinition, removed: KubeObject): void {
    const name = removed.metadata.name ?? "";
    if (isNamespaces(def)) {
      for (const d of this.registry.all()) {
        if (!d.namespaced) continue;
        for (const o of this.storage.list(storageKey(d), name))
          this.storage.remove(storageKey(d), name, o.metadata.name ?? "");
      }
    } else if (isCrds(def)) {
      const served = this.registry.all().find((d) => d.crdName === name);
      if (served)
        for (const o of this.storage.list(storageKey(served)))
          this.storage.remove(storageKey(served), o.metadata.namespace, o.metadata.name ?? "");
      this.registry.unregisterCrd(name);
    }
  }

  private timestamp(): string {
    // Kubernetes timestamps have second precision (metav1.Time, RFC 3339).
    return this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
  }
}

function metadataOf(value: unknown): Record<string, unknown> {
  return isJsonObject(value) && isJsonObject(value["metadata"]) ? value["metadata"] : {};
}

function isNamespaces(def: ResourceDefinition): boolean {
  return def.group === "" && def.plural === "namespaces";
}

function isCrds(def: ResourceDefinition): boolean {
  return def.group === CRD_GROUP && def.plural === "customresourcedefinitions";
}
