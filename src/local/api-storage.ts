// The versioned object map behind the local API server: one global, monotonically increasing
// revision (the resourceVersion), every write an event, a bounded history so that a watch can
// resume from a resourceVersion it saw. It knows nothing of resources' rules.
import type { KubeObject } from "./api-types.js";

export type StorageEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StorageEvent {
  readonly type: StorageEventType;
  /** storageKey() of the resource. */
  readonly key: string;
  /** The new state; for DELETED the last state, stamped with the deletion's resourceVersion. */
  readonly object: KubeObject;
  readonly previous: KubeObject | undefined;
  readonly revision: number;
}

export interface StorageDump {
  readonly revision: number;
  readonly objects: readonly { readonly key: string; readonly object: KubeObject }[];
}

export type StorageListener = (event: StorageEvent) => void;

function idOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

export class ObjectStorage {
  private rev = 0;
  private readonly buckets = new Map<string, Map<string, KubeObject>>();
  private history: StorageEvent[] = [];
  private readonly listeners = new Set<StorageListener>();

  constructor(private readonly historyLimit = 20_000) {}

  get revision(): number {
    return this.rev;
  }

  get(key: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.buckets.get(key)?.get(idOf(namespace, name));
    return found === undefined ? undefined : structuredClone(found);
  }

  /** Objects of one resource (in one namespace when given), ordered by namespace then name like etcd keys. */
  list(key: string, namespace?: string): KubeObject[] {
    const bucket = this.buckets.get(key);
    if (!bucket) return [];
    const ids = [...bucket.keys()].filter((id) => namespace === undefined || id.startsWith(`${namespace}/`)).sort();
    return ids.map((id) => structuredClone(bucket.get(id) as KubeObject));
  }

  /** Stores a new state of an object, stamping it with the next revision. Returns the stored copy. */
  write(key: string, object: KubeObject): KubeObject {
    const bucket = this.bucket(key);
    const id = idOf(object.metadata.namespace, object.metadata.name ?? "");
    const previous = bucket.get(id);
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(++this.rev);
    bucket.set(id, stored);
    this.record({ type: previous ? "MODIFIED" : "ADDED", key, object: stored, previous, revision: this.rev });
    return structuredClone(stored);
  }

  remove(key: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const bucket = this.buckets.get(key);
    const id = idOf(namespace, name);
    const previous = bucket?.get(id);
    if (!bucket || !previous) return undefined;
    bucket.delete(id);
    const last = structuredClone(previous);
    last.metadata.resourceVersion = String(++this.rev);
    this.record({ type: "DELETED", key, object: last, previous, revision: this.rev });
    return structuredClone(last);
  }

  subscribe(listener: StorageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after a revision, or undefined when some of them were already forgotten (410 Gone). */
  eventsAfter(revision: number): StorageEvent[] | undefined {
    if (revision >= this.rev) return [];
    const first = this.history[0];
    if (first === undefined || first.revision > revision + 1) return undefined;
    return this.history.filter((e) => e.revision > revision);
  }

  /** Forgets the history, as etcd compaction does: a watch from before now gets 410 Gone. */
  compact(): void {
    this.history = [];
  }

  dump(): StorageDump {
    const objects = [...this.buckets].flatMap(([key, bucket]) =>
      [...bucket.values()].map((object) => ({ key, object })),
    );
    return { revision: this.rev, objects };
  }

  /** Replaces everything with a dump; the history starts empty, at the dump's revision. */
  load(dump: StorageDump): void {
    this.buckets.clear();
    this.history = [];
    for (const { key, object } of dump.objects) {
      this.bucket(key).set(idOf(object.metadata.namespace, object.metadata.name ?? ""), structuredClone(object));
    }
    this.rev = dump.revision;
  }

  private bucket(key: string): Map<string, KubeObject> {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  private record(event: StorageEvent): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit) this.history = this.history.slice(-Math.floor(this.historyLimit / 2));
    for (const listener of this.listeners) listener(event);
  }
}
