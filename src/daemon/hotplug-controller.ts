// The daemon's hot-plug controller (docs/architecture.md#hot-plug): it keeps every running pod of
// the node whose sandbox Plexus set up attached to what its k8s.v1.cni.cncf.io/networks
// annotation asks for. Level-triggered, like a Kubernetes controller: a trigger only says "look
// at this pod again"; the reconcile itself (src/engine/hotplug.ts) compares the annotation with
// the state on disk and does what the difference says, so a missed or repeated trigger costs
// nothing but time.
//
// Which pods: the containers in the state directories (the sandboxes Plexus set up, thin or
// daemon), each tied to its pod by the cluster network's record (namespace, name, UID).
// Triggers:
//   - the pod cache: a pod whose selection, opt-out or network-status annotation changed;
//   - the NAD cache: a NAD created or changed that a failed hot-plug waits for (the pod attaches
//     it without its annotation being touched again);
//   - a re-list of either cache, the daemon's start (converging after a restart), a periodic
//     rescan of the state directories, and an ADD the daemon answered (the annotation may have
//     changed while the ADD ran);
//   - a failed reconcile retries itself with exponential backoff while the annotation asks.
// Each reconcile runs in its container's lane of the daemon's scheduler, so it never overlaps an
// ADD, CHECK or DEL of that container; a DEL that arrives cancels the reconcile in progress (and
// any waiting), which leaves what it had not finished on disk for that DEL to tear down.
// A pod annotated plexus.dev/hotplug: "false", or terminating, is not touched.

import { createCacheStore } from "../cache/store.js";
import type { Pod } from "../k8s/port.js";
import type { NodeCacheListener } from "../k8s/node-caches.js";
import type { HotplugOutcome } from "../engine/hotplug.js";
import { HOTPLUG_ANNOTATION, NETWORKS_ANNOTATION, NETWORK_STATUS_ANNOTATION } from "../networks/annotations.js";
import type { Logger } from "../log/logger.js";
import type { HotplugMetricsSink } from "./metrics.js";

/** One sandbox to reconcile: where its state is, and the pod it belongs to. */
export interface HotplugTarget {
  readonly stateDir: string;
  readonly containerId: string;
  /** The pod as the cache has it when the reconcile starts. */
  readonly pod: Pod;
}

/** What the controller reads of the node's pods (the daemon's pod cache). */
export interface PodSource {
  cachedPod(namespace: string, name: string): Pod | undefined;
  subscribe(listener: NodeCacheListener): () => void;
}

export interface HotplugControllerOptions {
  /** The state directories scanned for sandboxes (the daemon's --state-dir, plus those ADDs name). */
  readonly stateDirs: readonly string[];
  readonly pods: PodSource;
  /** Runs one reconcile (the engine, with the sandbox's own configuration): built by src/cli. */
  readonly reconcile: (target: HotplugTarget, signal: AbortSignal) => Promise<HotplugOutcome>;
  /** Runs `task` in the container's lane of the daemon's scheduler. */
  readonly schedule: <T>(containerId: string, signal: AbortSignal, task: () => Promise<T>) => Promise<T>;
  readonly metrics: HotplugMetricsSink;
  readonly log: Logger;
  /** How often the state directories are rescanned (default 60 s). */
  readonly rescanMs?: number;
  /** First retry after a failure, doubling up to maxBackoffMs (defaults 1 s and 5 min). */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface HotplugController {
  /** Scans the state directories and reconciles every sandbox found (after a restart: converge). */
  start(): Promise<void>;
  /** A CNI call is about to be scheduled: a DEL cancels the container's hot-plug. */
  beforeCall(env: Readonly<Record<string, string | undefined>>, stdin: string): void;
  /** A CNI call was answered: a successful ADD makes a new sandbox to watch. */
  afterCall(env: Readonly<Record<string, string | undefined>>, stdin: string, exitCode: number): void;
  /** Cancels what runs, stops the timers and the triggers. */
  stop(): Promise<void>;
  /** Resolves when no reconcile runs or is due now (tests). */
  idle(): Promise<void>;
}

/** Multus's and Plexus's default state directory (the conflist's cniDir when it sets none). */
export const DEFAULT_STATE_DIR = "/var/lib/cni/plexus";

interface Sandbox {
  readonly stateDir: string;
  readonly containerId: string;
  readonly podKey: string;
  readonly podUid: string | undefined;
  /** The reconcile running now. */
  running?: AbortController | undefined;
  /** Asked again while running: run once more after it. */
  again: boolean;
  /** When the oldest change not yet served was seen (for the latency metric). */
  since?: number | undefined;
  retry?: NodeJS.Timeout | undefined;
  failures: number;
  /** NADs ("namespace/name") whose creation should retry at once. */
  waitingFor: ReadonlySet<string>;
  /** The pod's annotations the last completed reconcile saw (a change of anything else is no trigger). */
  seen?: string | undefined;
  gone: boolean;
}

export function createHotplugController(o: HotplugControllerOptions): HotplugController {
  const sandboxes = new Map<string, Sandbox>();
  const stateDirs = new Set(o.stateDirs);
  const backoffMs = o.backoffMs ?? 1_000;
  const maxBackoffMs = o.maxBackoffMs ?? 300_000;
  const log = o.log.child({ component: "hotplug" });
  let stopped = false;
  let unsubscribe: (() => void) | undefined;
  let rescanTimer: NodeJS.Timeout | undefined;
  const running = new Set<Promise<void>>();

  const fingerprint = (pod: Pod) =>
    JSON.stringify([
      pod.metadata.uid,
      pod.metadata.deletionTimestamp ?? "",
      pod.metadata.annotations?.[NETWORKS_ANNOTATION] ?? "",
      pod.metadata.annotations?.[HOTPLUG_ANNOTATION] ?? "",
      pod.metadata.annotations?.[NETWORK_STATUS_ANNOTATION] ?? "",
    ]);
  const retrying = () => o.metrics.hotplugRetrying([...sandboxes.values()].filter((s) => s.failures > 0).length);

  /** Looks at the sandbox again (now, or after the reconcile running). */
  const trigger = (s: Sandbox, at = performance.now()): void => {
    if (stopped || s.gone) return;
    s.since ??= at;
    if (s.running) {
      s.again = true;
      return;
    }
    clearTimeout(s.retry);
    s.retry = undefined;
    const run = reconcile(s).finally(() => running.delete(run));
    running.add(run);
  };

  const reconcile = async (s: Sandbox): Promise<void> => {
    const [namespace, name] = s.podKey.split("/") as [string, string];
    const pod = o.pods.cachedPod(namespace, name);
    const why = pod === undefined ? "not in the cache" : skipReason(pod, s);
    if (pod === undefined || why !== undefined) {
      log.debug({ pod: s.podKey, containerId: s.containerId, why }, "not reconciling");
      s.since = undefined;
      if (pod) s.seen = fingerprint(pod);
      return;
    }
    const controller = new AbortController();
    s.running = controller;
    const since = s.since ?? performance.now();
    s.since = undefined;
    s.again = false;
    const seen = fingerprint(pod);
    let outcome: HotplugOutcome | undefined;
    try {
      outcome = await o.schedule(s.containerId, controller.signal, () =>
        o.reconcile(
          { stateDir: s.stateDir, containerId: s.containerId, pod: o.pods.cachedPod(namespace, name) ?? pod },
          controller.signal,
        ),
      );
    } catch (err) {
      // The scheduler's queue deadline, or a cancel while waiting; the engine answers its own errors.
      if (!controller.signal.aborted)
        log.warn({ pod: s.podKey, err: (err as Error).message }, "hot-plug could not run: retrying");
    } finally {
      s.running = undefined;
    }
    const cancelled = controller.signal.aborted || outcome?.cancelled === true;
    report(s, outcome, cancelled, (performance.now() - since) / 1000);
    if (cancelled || s.gone || stopped) return;
    const failed = outcome === undefined || outcome.failures.length > 0;
    if (!failed) {
      s.failures = 0;
      s.waitingFor = new Set();
      // The pod as the reconcile left it: its own status write is no reason to look again.
      s.seen = outcome?.networkStatus === undefined ? seen : fingerprint(withStatus(pod, outcome.networkStatus));
    } else {
      s.failures++;
      s.waitingFor = new Set(outcome?.failures.flatMap((f) => (f.missingNad ? [f.missingNad] : [])) ?? []);
      s.seen = undefined;
      const wait = Math.min(maxBackoffMs, backoffMs * 2 ** Math.min(s.failures - 1, 20));
      log.info(
        { pod: s.podKey, failures: s.failures, retryInMs: wait, waitingFor: [...s.waitingFor] },
        "hot-plug failed: retrying with backoff",
      );
      s.retry = setTimeout(() => trigger(s), wait);
    }
    retrying();
    if (s.again) trigger(s);
  };

  const report = (s: Sandbox, outcome: HotplugOutcome | undefined, cancelled: boolean, seconds: number): void => {
    for (let i = 0; i < (outcome?.attached.length ?? 0); i++) o.metrics.hotplugOperation("attach", "ok");
    for (let i = 0; i < (outcome?.detached.length ?? 0); i++) o.metrics.hotplugOperation("detach", "ok");
    for (const f of outcome?.failures ?? [])
      if (f.operation === "attach" || f.operation === "detach")
        o.metrics.hotplugOperation(f.operation, cancelled ? "cancelled" : "error");
    if (outcome?.skipped !== undefined) {
      log.debug({ pod: s.podKey, containerId: s.containerId, why: outcome.skipped }, "not reconciled");
      return;
    }
    const result = cancelled
      ? "cancelled"
      : outcome === undefined || outcome.failures.length > 0
        ? "failed"
        : "converged";
    o.metrics.hotplugReconcile(result, seconds);
    if (outcome && (outcome.attached.length > 0 || outcome.detached.length > 0 || outcome.failures.length > 0))
      log.info(
        {
          pod: s.podKey,
          containerId: s.containerId,
          attached: outcome.attached,
          detached: outcome.detached,
          failures: outcome.failures.map((f) => f.message),
          ms: Math.round(seconds * 1000),
          cancelled,
        },
        "hot-plug reconciled",
      );
  };

  const skipReason = (pod: Pod, s: Sandbox): string | undefined => {
    if (s.podUid !== undefined && pod.metadata.uid !== s.podUid) return "the pod of that name is another one";
    if (pod.metadata.deletionTimestamp) return "terminating";
    if (pod.metadata.annotations?.[HOTPLUG_ANNOTATION] === "false") return `${HOTPLUG_ANNOTATION} is "false"`;
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return `phase ${pod.status.phase}`;
    return undefined;
  };

  /** Adds (or refreshes) the sandbox of a container from its state files; undefined when it has none. */
  const track = async (stateDir: string, containerId: string): Promise<Sandbox | undefined> => {
    const known = sandboxes.get(containerId);
    if (known) return known;
    const state = await createCacheStore(stateDir).loadContainer(containerId);
    const cluster = state.attachments.find((r) => r.role === "cluster");
    if (!cluster?.pod || !cluster.sandbox) return undefined;
    const s: Sandbox = {
      stateDir,
      containerId,
      podKey: `${cluster.pod.namespace}/${cluster.pod.name}`,
      podUid: cluster.pod.uid,
      again: false,
      failures: 0,
      waitingFor: new Set(),
      gone: false,
    };
    sandboxes.set(containerId, s);
    return s;
  };

  /** Every sandbox on disk is tracked; those gone from disk are forgotten; new ones reconciled. */
  const rescan = async (): Promise<void> => {
    const found = new Set<string>();
    for (const dir of stateDirs) {
      const ids = await createCacheStore(dir)
        .listContainers()
        .catch((err: unknown) => {
          log.warn({ stateDir: dir, err: (err as Error).message }, "cannot list the state directory");
          return [] as readonly string[];
        });
      for (const id of ids) {
        found.add(id);
        const fresh = !sandboxes.has(id);
        const s = await track(dir, id).catch((err: unknown) => {
          log.warn({ stateDir: dir, containerId: id, err: (err as Error).message }, "cannot read a sandbox's state");
          return undefined;
        });
        if (s && fresh) trigger(s);
      }
    }
    for (const [id, s] of sandboxes) if (!found.has(id) && !s.running) forget(s);
  };

  const forget = (s: Sandbox): void => {
    s.gone = true;
    s.running?.abort(new Error("the container's DEL came"));
    clearTimeout(s.retry);
    sandboxes.delete(s.containerId);
    retrying();
  };

  const byPod = (key: string): Sandbox[] => [...sandboxes.values()].filter((s) => s.podKey === key);

  const listener: NodeCacheListener = {
    pod(change) {
      if (change.type === "relist") {
        for (const s of sandboxes.values()) trigger(s);
        return;
      }
      for (const s of byPod(change.key)) {
        if (change.type === "delete") {
          // The sandbox's DEL follows; a reconcile now would only slow it down.
          s.running?.abort(new Error("the pod was deleted"));
          continue;
        }
        if (change.object.metadata.deletionTimestamp) s.running?.abort(new Error("the pod is terminating"));
        if (s.seen !== fingerprint(change.object) || s.failures > 0) trigger(s);
      }
    },
    nad(change) {
      if (change.type === "delete") return;
      for (const s of sandboxes.values()) {
        if (change.type === "relist" ? s.waitingFor.size > 0 : s.waitingFor.has(change.key)) {
          s.failures = 0; // a new chance, not the next step of the backoff
          trigger(s);
        }
      }
    },
  };

  return {
    async start() {
      unsubscribe = o.pods.subscribe(listener);
      await rescan();
      const every = o.rescanMs ?? 60_000;
      const tick = () => {
        rescanTimer = setTimeout(() => {
          void rescan().finally(() => {
            if (!stopped) tick();
          });
        }, every);
        rescanTimer.unref();
      };
      tick();
      log.info({ stateDirs: [...stateDirs], sandboxes: sandboxes.size }, "hot-plug controller started");
    },
    beforeCall(env) {
      if (env["CNI_COMMAND"] !== "DEL") return;
      const s = sandboxes.get(env["CNI_CONTAINERID"] ?? "");
      if (s) forget(s);
    },
    afterCall(env, stdin, exitCode) {
      if (stopped || exitCode !== 0 || env["CNI_COMMAND"] !== "ADD") return;
      const containerId = env["CNI_CONTAINERID"] ?? "";
      const dir = stateDirOf(stdin);
      stateDirs.add(dir);
      void track(dir, containerId)
        .then((s) => s && trigger(s))
        .catch((err: unknown) =>
          log.warn({ containerId, err: (err as Error).message }, "cannot read a new sandbox's state"),
        );
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      clearTimeout(rescanTimer);
      for (const s of sandboxes.values()) {
        clearTimeout(s.retry);
        s.running?.abort(new Error("the daemon is stopping"));
      }
      await Promise.all([...running]);
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}

function withStatus(pod: Pod, value: string): Pod {
  const annotations = { ...pod.metadata.annotations, [NETWORK_STATUS_ANNOTATION]: value };
  return { ...pod, metadata: { ...pod.metadata, annotations } };
}

/** The state directory an ADD's configuration names (cniDir), read loosely: the engine validates it. */
function stateDirOf(stdin: string): string {
  try {
    const conf = JSON.parse(stdin) as { cniDir?: unknown };
    return typeof conf.cniDir === "string" && conf.cniDir !== "" ? conf.cniDir : DEFAULT_STATE_DIR;
  } catch {
    return DEFAULT_STATE_DIR;
  }
}
