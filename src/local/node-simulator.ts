// The kubelet's part of pod networking, for `plexus local`: it watches the pods bound to this
// node (binding unscheduled ones, as a one-node scheduler would), gives each a network
// namespace and runs the node's CNI configuration for it like containerd would
// (pod-sandbox.ts), then reports phase, pod IPs and events; it tears the network down when the
// pod is deleted. A failed setup is retried with back-off, as the kubelet does.

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { toCniError } from "../cni/error.js";
import type { ContainerId } from "../cni/ids.js";
import type { Logger } from "../log/logger.js";
import type { CniRuntime } from "../runtime/types.js";
import { PatchType } from "./api-patch.js";
import type { ApiStore } from "./api-store.js";
import type { KubeObject, WatchEvent } from "./api-types.js";
import {
  newSandboxId,
  runtimeConfOf,
  setUpSandbox,
  tearDownSandbox,
  type PodIdentity,
  type Sandbox,
} from "./pod-sandbox.js";
import { failedStatus, podEvent, runningStatus, type PodStatusWrite } from "./pod-status.js";

const run = promisify(execFile);
const PODS = { resource: "pods" } as const;
const MAX_BACKOFF_MS = 30_000;

export interface NodeSimulatorOptions {
  readonly store: ApiStore;
  readonly runtime: CniRuntime;
  readonly nodeName: string;
  readonly confDir: string;
  /** Pod network namespaces are named "<prefix>-<uid prefix>" (ip netns). */
  readonly netnsPrefix: string;
  readonly log: Logger;
}

interface PodState {
  identity: PodIdentity;
  sandbox?: Sandbox | undefined;
  sandboxId: ContainerId;
  netnsName: string;
  attempts: number;
  retry?: NodeJS.Timeout | undefined;
  deleted: boolean;
  /** Operations on one pod run one after another (a runtime serializes per sandbox). */
  queue: Promise<void>;
}

export interface NodeSimulator {
  /** Tears down every pod's network and namespace. */
  stop(): Promise<void>;
  /** Resolves when no operation is in flight (tests, the demo). */
  idle(): Promise<void>;
  sandboxOf(namespace: string, name: string): Sandbox | undefined;
}

export function startNodeSimulator(o: NodeSimulatorOptions): NodeSimulator {
  const pods = new Map<string, PodState>();
  const abort = new AbortController();
  const enqueue = (state: PodState, op: () => Promise<void>) => {
    state.queue = state.queue
      .then(op)
      .catch((err: unknown) => o.log.error({ err: toCniError(err).message }, "pod operation failed"));
  };

  const setUp = async (state: PodState) => {
    if (state.deleted || state.sandbox) return;
    const { identity } = state;
    const netnsPath = `/run/netns/${state.netnsName}`;
    try {
      await run("ip", ["netns", "add", state.netnsName]).catch(() => undefined);
      await run("ip", ["-n", state.netnsName, "link", "set", "lo", "up"]);
      const sandbox = await setUpSandbox(
        o.runtime,
        o.confDir,
        runtimeConfOf(identity, state.sandboxId, netnsPath),
        abort.signal,
      );
      state.sandbox = sandbox;
      state.attempts = 0;
      writeStatus(o.store, identity, runningStatus(sandbox));
      podEvent(
        o.store,
        identity,
        "Normal",
        "SandboxReady",
        `Pod sandbox ${sandbox.id.slice(0, 12)} is ready, IPs ${sandbox.podIps.join(", ")}`,
      );
      o.log.info({ pod: `${identity.namespace}/${identity.name}`, ips: sandbox.podIps }, "pod network ready");
    } catch (err) {
      const message = toCniError(err).message;
      state.attempts++;
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(state.attempts - 1, 5));
      writeStatus(o.store, identity, failedStatus(message));
      podEvent(
        o.store,
        identity,
        "Warning",
        "FailedCreatePodSandBox",
        `Failed to create pod sandbox: plugin type="plexus" failed (add): ${message}`,
      );
      o.log.warn(
        { pod: `${identity.namespace}/${identity.name}`, err: message, retryInMs: delay },
        "pod network setup failed",
      );
      // A new sandbox ID per attempt, as the kubelet creates a new sandbox.
      state.sandboxId = newSandboxId();
      if (!state.deleted && !abort.signal.aborted)
        state.retry = setTimeout(() => enqueue(state, () => setUp(state)), delay);
    }
  };

  const tearDown = async (state: PodState) => {
    clearTimeout(state.retry);
    const netnsPath = `/run/netns/${state.netnsName}`;
    try {
      await tearDownSandbox(
        o.runtime,
        o.confDir,
        runtimeConfOf(state.identity, state.sandbox?.id ?? state.sandboxId, netnsPath),
        state.sandbox?.result,
        new AbortController().signal,
      );
    } catch (err) {
      o.log.error(
        { pod: `${state.identity.namespace}/${state.identity.name}`, err: toCniError(err).message },
        "pod network teardown failed",
      );
    }
    state.sandbox = undefined;
    await run("ip", ["netns", "delete", state.netnsName]).catch(() => undefined);
  };

  const onEvent = (event: WatchEvent) => {
    const pod = event.object as KubeObject;
    const uid = String(pod.metadata.uid ?? "");
    if (!uid) return;
    if (event.type === "DELETED") {
      const state = pods.get(uid);
      if (!state) return;
      state.deleted = true;
      pods.delete(uid);
      enqueue(state, () => tearDown(state));
      return;
    }
    if (event.type !== "ADDED" && event.type !== "MODIFIED") return;
    const nodeName = (pod as { spec?: { nodeName?: string } }).spec?.nodeName;
    if (nodeName && nodeName !== o.nodeName) return;
    if (!nodeName) bind(o.store, pod, o.nodeName);
    if (pods.has(uid)) return;
    const state: PodState = {
      identity: identityOf(pod),
      sandboxId: newSandboxId(),
      netnsName: `${o.netnsPrefix}-${uid.slice(0, 8)}`,
      attempts: 0,
      deleted: false,
      queue: Promise.resolve(),
    };
    pods.set(uid, state);
    enqueue(state, () => setUp(state));
  };

  const watch = o.store.watch(
    PODS,
    {},
    { onEvent, onError: (err) => o.log.error({ err: String(err) }, "pod watch failed") },
  );

  return {
    async stop() {
      watch.stop();
      abort.abort();
      const states = [...pods.values()];
      pods.clear();
      for (const s of states) {
        s.deleted = true;
        enqueue(s, () => tearDown(s));
      }
      await Promise.all(states.map((s) => s.queue));
    },
    async idle() {
      await Promise.all([...pods.values()].map((s) => s.queue));
    },
    sandboxOf(namespace, name) {
      return [...pods.values()].find((s) => s.identity.namespace === namespace && s.identity.name === name)?.sandbox;
    },
  };
}

function identityOf(pod: KubeObject): PodIdentity {
  const spec = (
    pod as {
      spec?: {
        containers?: { ports?: { hostPort?: number; containerPort: number; protocol?: string; hostIP?: string }[] }[];
      };
    }
  ).spec;
  const hostPorts = (spec?.containers ?? []).flatMap((c) =>
    (c.ports ?? [])
      .filter((p) => (p.hostPort ?? 0) > 0)
      .map((p) => ({
        hostPort: p.hostPort as number,
        containerPort: p.containerPort,
        protocol: (p.protocol ?? "TCP").toLowerCase(),
        ...(p.hostIP ? { hostIP: p.hostIP } : {}),
      })),
  );
  return {
    namespace: String(pod.metadata.namespace),
    name: String(pod.metadata.name),
    uid: String(pod.metadata.uid),
    annotations: (pod.metadata.annotations ?? {}) as Record<string, string>,
    hostPorts,
  };
}

/** A one-node scheduler: an unbound pod is bound here. */
function bind(store: ApiStore, pod: KubeObject, nodeName: string): void {
  try {
    store.patch(PODS, pod.metadata.namespace, String(pod.metadata.name), PatchType.Merge, { spec: { nodeName } });
  } catch {
    // Deleted meanwhile: the DELETED event follows.
  }
}

function writeStatus(store: ApiStore, pod: PodIdentity, write: PodStatusWrite): void {
  try {
    store.patch(PODS, pod.namespace, pod.name, PatchType.Merge, write, { subresource: "status" });
  } catch {
    // The pod is gone; nothing to report on.
  }
}
