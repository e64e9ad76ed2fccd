// What the Kubernetes side reports to whoever keeps the process's metrics (the daemon, with
// prom-client). An interface here, so that this module never imports a metrics library and the
// thin plugin process, which keeps no metrics, passes nothing.

export interface KubeMetricsSink {
  /**
   * One HTTP exchange with the API server, retries counted one by one. `verb` is the Kubernetes
   * verb (get, list, watch, create, patch), `resource` the resource as RBAC names it (pods,
   * pods/status, network-attachment-definitions, events). A WATCH is counted when its stream
   * ends, with the seconds it stayed open.
   */
  apiRequest(verb: string, resource: string, outcome: "ok" | "error", seconds: number): void;
  /** An Event that was never written: "queue-full", "rate-limited" (at stop), "failed", "stopped". */
  eventDropped(reason: string): void;
}
