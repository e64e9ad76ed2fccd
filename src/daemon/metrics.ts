// The daemon's Prometheus metrics: the only importer of prom-client. Names and labels are
// documented in docs/architecture.md ("Daemon mode"); label values are bounded sets (CNI
// commands, outcomes, delegate plugin types, API verbs and resources), never pod names.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type RequestOutcome = "ok" | "error" | "rejected";

/** What the Kubernetes side reports (src/k8s node caches call it). */
export interface KubeMetricsSink {
  apiRequest(verb: string, resource: string, outcome: "ok" | "error", seconds: number): void;
  eventDropped(reason: string): void;
}

export interface CacheState {
  readonly resource: string;
  readonly synced: boolean;
  readonly objects: number;
  readonly lastSyncAgeSeconds: number;
}

/** What the hot-plug controller reports (src/daemon/hotplug-controller.ts). */
export interface HotplugMetricsSink {
  /** One attachment added or removed by a hot-plug; cancelled: the pod's DEL or the daemon's stop came first. */
  hotplugOperation(operation: "attach" | "detach", outcome: "ok" | "error" | "cancelled"): void;
  /** One reconcile of a pod, from the change that asked for it to the end (queueing included). */
  hotplugReconcile(outcome: "converged" | "failed" | "cancelled", seconds: number): void;
  /** Pods waiting for a retry (a failed hot-plug, a NAD that does not exist yet). */
  hotplugRetrying(pods: number): void;
}

export interface DaemonMetrics extends KubeMetricsSink, HotplugMetricsSink {
  request(command: string, outcome: RequestOutcome, seconds: number): void;
  delegate(type: string, command: string, outcome: "ok" | "error", seconds: number): void;
  scheduler(running: number, queued: number): void;
  /** The Prometheus text exposition. */
  render(): Promise<{ contentType: string; text: string }>;
}

// CNI calls last from a few ms (DEL from the cache) to minutes (a stuck delegate's deadline).
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createDaemonMetrics(options: { caches?: () => readonly CacheState[] } = {}): DaemonMetrics {
  const registry = new Registry();
  // Process memory, CPU, event-loop lag and heap: what an operator sizing the pod needs.
  collectDefaultMetrics({ register: registry, prefix: "plexus_daemon_" });
  const requests = new Counter({
    name: "plexus_cni_requests_total",
    help: "CNI requests served by the daemon, by command and outcome (rejected: queue deadline or shutting down)",
    labelNames: ["command", "outcome"] as const,
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: "plexus_cni_request_duration_seconds",
    help: "Time from a CNI request's arrival to its answer (queueing included), by command",
    labelNames: ["command"] as const,
    buckets: SECONDS,
    registers: [registry],
  });
  const delegateSeconds = new Histogram({
    name: "plexus_delegate_duration_seconds",
    help: "Time of one delegate plugin execution, by plugin type, command and outcome",
    labelNames: ["type", "command", "outcome"] as const,
    buckets: SECONDS,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "plexus_cni_requests_in_flight",
    help: "CNI requests running now (STATUS and VERSION excluded: they bypass the limit)",
    registers: [registry],
  });
  const queued = new Gauge({
    name: "plexus_cni_requests_queued",
    help: "CNI requests waiting for a slot or for their container's previous request",
    registers: [registry],
  });
  const apiRequests = new Counter({
    name: "plexus_kube_api_requests_total",
    help: "Requests to the Kubernetes API server, by verb, resource and outcome",
    labelNames: ["verb", "resource", "outcome"] as const,
    registers: [registry],
  });
  const apiSeconds = new Histogram({
    name: "plexus_kube_api_request_duration_seconds",
    help: "Latency of Kubernetes API requests, by verb and resource",
    labelNames: ["verb", "resource"] as const,
    buckets: SECONDS,
    registers: [registry],
  });
  const eventsDropped = new Counter({
    name: "plexus_kube_events_dropped_total",
    help: "Kubernetes Events not written, by reason (queue full, rate limited, API error)",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const hotplugOperations = new Counter({
    name: "plexus_hotplug_operations_total",
    help: "Attachments added (attach) or removed (detach) on running pods by hot-plug, by outcome",
    labelNames: ["operation", "outcome"] as const,
    registers: [registry],
  });
  const hotplugSeconds = new Histogram({
    name: "plexus_hotplug_reconcile_duration_seconds",
    help: "Time from a change of a pod's networks (or of a NAD it waits for) to the end of its reconcile, by outcome",
    labelNames: ["outcome"] as const,
    buckets: SECONDS,
    registers: [registry],
  });
  const hotplugRetrying = new Gauge({
    name: "plexus_hotplug_pods_retrying",
    help: "Pods whose last hot-plug failed and that wait for a retry",
    registers: [registry],
  });
  const states = options.caches ?? (() => []);
  new Gauge({
    name: "plexus_cache_synced",
    help: "1 when the watch cache of a resource has listed at least once and is watching",
    labelNames: ["resource"] as const,
    registers: [registry],
    collect() {
      for (const s of states()) this.set({ resource: s.resource }, s.synced ? 1 : 0);
    },
  });
  new Gauge({
    name: "plexus_cache_objects",
    help: "Objects held by the watch cache of a resource",
    labelNames: ["resource"] as const,
    registers: [registry],
    collect() {
      for (const s of states()) this.set({ resource: s.resource }, s.objects);
    },
  });
  new Gauge({
    name: "plexus_cache_last_sync_age_seconds",
    help: "Seconds since the watch cache of a resource last heard from the API server",
    labelNames: ["resource"] as const,
    registers: [registry],
    collect() {
      for (const s of states()) this.set({ resource: s.resource }, s.lastSyncAgeSeconds);
    },
  });
  return {
    request(command, outcome, seconds) {
      requests.inc({ command, outcome });
      requestSeconds.observe({ command }, seconds);
    },
    delegate(type, command, outcome, seconds) {
      delegateSeconds.observe({ type, command, outcome }, seconds);
    },
    scheduler(running, waiting) {
      inFlight.set(running);
      queued.set(waiting);
    },
    apiRequest(verb, resource, outcome, seconds) {
      apiRequests.inc({ verb, resource, outcome });
      apiSeconds.observe({ verb, resource }, seconds);
    },
    eventDropped(reason) {
      eventsDropped.inc({ reason });
    },
    hotplugOperation(operation, outcome) {
      hotplugOperations.inc({ operation, outcome });
    },
    hotplugReconcile(outcome, seconds) {
      hotplugSeconds.observe({ outcome }, seconds);
    },
    hotplugRetrying(pods) {
      hotplugRetrying.set(pods);
    },
    async render() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
  };
}
