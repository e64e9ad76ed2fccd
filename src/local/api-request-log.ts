// Counts of the requests the local API server answered, so that a benchmark can say how many
// API calls one CNI ADD costs. Bounded: only the newest entries are kept, counters are exact.

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection) or "nonresource". */
  readonly verb: string;
  /** `pods`, `pods/status`, `network-attachment-definitions.k8s.cni.cncf.io`; absent for non-resource paths. */
  readonly resource?: string;
  readonly status: number;
  readonly durationMs: number;
}

export class RequestLog {
  private records: RequestRecord[] = [];
  private byRoute = new Map<string, number>();
  private byVerb = new Map<string, number>();
  private count = 0;

  constructor(private readonly limit = 10_000) {}

  record(entry: RequestRecord): void {
    this.count++;
    this.records.push(entry);
    if (this.records.length > this.limit) this.records = this.records.slice(-Math.floor(this.limit / 2));
    bump(this.byRoute, `${entry.method} ${entry.path}`);
    bump(
      this.byVerb,
      entry.resource === undefined ? `${entry.method} ${entry.path}` : `${entry.verb} ${entry.resource}`,
    );
  }

  /** Requests since start or the last reset(). */
  get total(): number {
    return this.count;
  }

  /** The newest entries (at most the limit given at construction). */
  entries(): readonly RequestRecord[] {
    return this.records;
  }

  /** `"GET /api/v1/namespaces/default/pods/web"` -> count. */
  countsByRoute(): Record<string, number> {
    return Object.fromEntries(this.byRoute);
  }

  /**
   * `"get pods"`, `"patch pods/status"`, `"list network-attachment-definitions.k8s.cni.cncf.io"`, or
   * `"GET /version"` -> count.
   */
  countsByVerb(): Record<string, number> {
    return Object.fromEntries(this.byVerb);
  }

  reset(): void {
    this.records = [];
    this.byRoute = new Map();
    this.byVerb = new Map();
    this.count = 0;
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
