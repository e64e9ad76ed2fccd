// The daemon's lifecycle: the CNI socket, the scheduler in front of the engine, the health and
// metrics endpoints, and a graceful stop (SIGTERM: not ready, stop accepting, finish what is in
// flight, remove the socket). What runs one CNI call is passed in (`runCni`: the same plugin
// edge as thin mode, src/cli/plugin.ts), so this module knows nothing of the engine.

import { availableParallelism } from "node:os";
import { rm } from "node:fs/promises";
import { isCniCommand } from "../cni/env.js";
import { toCniError } from "../cni/error.js";
import { errorVersion } from "../cni/version-info.js";
import type { Logger } from "../log/logger.js";
import { checkNotNested } from "../runtime/self-delegate.js";
import { createCniServer, type CniAnswer } from "./cni-server.js";
import { startHealthServer, type HealthServer } from "./health-server.js";
import type { DaemonMetrics } from "./metrics.js";
import type { CniCall } from "./protocol.js";
import { createScheduler, laneOf } from "./scheduler.js";
import { prepareSocketPath, restrictSocket } from "./socket.js";

export interface DaemonOptions {
  readonly socketPath: string;
  readonly maxParallel: number;
  readonly queueTimeoutMs: number;
  /** HOST:PORT for /metrics, /healthz, /readyz; undefined: none. */
  readonly metricsAddress: string | undefined;
  readonly runCni: (call: CniCall, signal: AbortSignal) => Promise<CniAnswer>;
  /** Why the Kubernetes side is not ready (caches not synced); empty when it is. */
  readonly kubeNotReady: () => readonly string[];
  readonly metrics: DaemonMetrics;
  readonly log: Logger;
  /** Told of each CNI call before it is scheduled and after it is answered (hot-plug's hooks). */
  readonly observer?: CallObserver | undefined;
}

export interface CallObserver {
  beforeCall(env: CniCall["env"], stdin: string): void;
  afterCall(env: CniCall["env"], stdin: string, exitCode: number): void;
}

export interface Daemon {
  /** Where /metrics is served, when it is. */
  readonly metricsAddress: string | undefined;
  /** Not ready, stop accepting, wait for what runs, remove the socket. Idempotent. */
  stop(): Promise<void>;
  /**
   * Runs work of the daemon's own (a hot-plug) in a container's lane: never beside a CNI call of
   * that container, and within the limit on what runs at once.
   */
  runForContainer<T>(containerId: string, signal: AbortSignal, task: () => Promise<T>): Promise<T>;
}

/** Twice the CPUs, at least 2: delegates mostly wait on the kernel and on their own process start. */
export function defaultMaxParallel(): number {
  return Math.max(2, 2 * availableParallelism());
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  let serving = false;
  let stopping = false;
  const scheduler = createScheduler({
    maxParallel: o.maxParallel,
    queueTimeoutMs: o.queueTimeoutMs,
    onChange: (c) => o.metrics.scheduler(c.running, c.queued),
  });
  const handle = async (call: CniCall, signal: AbortSignal): Promise<CniAnswer> => {
    const started = performance.now();
    const command = commandLabel(call.env["CNI_COMMAND"]);
    const seconds = () => (performance.now() - started) / 1000;
    try {
      // A delegate that is Plexus (a copy of the shim) calls back for the same container: it
      // must be refused now, not wait in that container's lane behind the call that runs it.
      checkNotNested(call.env, call.env["CNI_COMMAND"] ?? "");
      o.observer?.beforeCall(call.env, call.stdin);
      const answer = await scheduler.run(laneOf(call.env), signal, () => o.runCni(call, signal));
      o.metrics.request(command, answer.exitCode === 0 ? "ok" : "error", seconds());
      o.observer?.afterCall(call.env, call.stdin, answer.exitCode);
      return answer;
    } catch (err) {
      // Only the nesting check and the scheduler throw here (queue deadline, caller gone):
      // runCni answers its errors.
      o.metrics.request(command, "rejected", seconds());
      const error = toCniError(err);
      o.log.warn({ command, containerId: call.env["CNI_CONTAINERID"], code: error.code }, error.message);
      return { exitCode: 1, stdout: `${JSON.stringify(error.toWire(errorVersion(call.stdin)))}\n` };
    }
  };
  const server = createCniServer({ handle, log: o.log });
  let health: HealthServer | undefined;
  try {
    if (o.metricsAddress !== undefined)
      health = await startHealthServer(o.metricsAddress, {
        notReady: () => [
          ...(stopping ? ["stopping"] : []),
          ...(serving ? [] : ["the CNI socket is not serving"]),
          ...o.kubeNotReady(),
        ],
        metrics: () => o.metrics.render(),
      });
    await prepareSocketPath(o.socketPath);
    await server.listen(o.socketPath);
    await restrictSocket(o.socketPath);
    serving = true;
  } catch (err) {
    await health?.close();
    throw err;
  }
  o.log.info(
    {
      socket: o.socketPath,
      maxParallel: o.maxParallel,
      queueTimeoutSeconds: o.queueTimeoutMs / 1000,
      metrics: health?.address ?? "off",
    },
    "plexus daemon serving",
  );
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      const { running, queued } = scheduler.counts();
      o.log.info({ running, queued }, "stopping: no new requests; finishing those in flight");
      await server.close();
      serving = false;
      await scheduler.idle();
      await rm(o.socketPath, { force: true });
      await health?.close();
      o.log.info({}, "stopped");
    })());
  return {
    metricsAddress: health?.address,
    stop,
    runForContainer: (containerId, signal, task) => scheduler.run({ kind: "container", id: containerId }, signal, task),
  };
}

function commandLabel(command: string | undefined): string {
  return command !== undefined && isCniCommand(command) ? command : "invalid";
}
