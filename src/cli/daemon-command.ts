// `plexus daemon`: the edge of daemon mode. Owns argv, signals and the process; every CNI call
// that arrives on the socket runs through the same plugin edge as thin mode (runPlugin), with
// the call's environment and stdin instead of the process's, the daemon's logger and its one
// long-lived Kubernetes client (docs/architecture.md "Daemon mode").

import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { PlexusNetConfSchema } from "../config/netconf.js";
import { defaultMaxParallel, startDaemon, type Daemon } from "../daemon/daemon.js";
import { DEFAULT_STATE_DIR, type HotplugController, type PodSource } from "../daemon/hotplug-controller.js";
import { parseListenAddress } from "../daemon/health-server.js";
import { createDaemonMetrics, type CacheState, type KubeMetricsSink } from "../daemon/metrics.js";
import type { CniCall } from "../daemon/protocol.js";
import { DEFAULT_SOCKET } from "../daemon/socket.js";
import { findApiAccess, type ApiAccessOptions } from "../k8s/api-access.js";
import type { KubeClientSettings } from "../k8s/retry.js";
import type { KubeClient } from "../k8s/port.js";
import { createLogger, type Logger } from "../log/logger.js";
import { integerValue, nonEmptyValue, parseCommandLine, UsageError, type FlagSpecs } from "./args.js";
import type { importKubeClient as ImportKubeClient } from "./k8s-loader.js";
import { createDaemonHotplug } from "./daemon-hotplug.js";
import type { PodResourcesSource } from "../engine/deps.js";
import { cachePodDevices } from "../kubelet/pod-devices-cache.js";
import { loadPodResources } from "./engine-deps.js";
import { createSpawnServer } from "../runtime/spawn-server.js";
import { runPlugin, type PluginHost } from "./plugin.js";

export const DEFAULT_METRICS_ADDRESS = "127.0.0.1:9454";
export const DEFAULT_QUEUE_TIMEOUT_SECONDS = 30;

export const DAEMON_USAGE = `Usage: plexus daemon [flags]

Serves CNI calls for this node on a unix socket (one per node; the shim installed as the CNI
plugin forwards each call to it). Every call runs the same engine as the plexus executable;
per-pod settings come with each call's config, API access is the daemon's own (--kubeconfig
or the pod's service account; the config's "kubeconfig" key is not used).

Flags:
  --socket PATH              the socket (default ${DEFAULT_SOCKET}; its directory is made 0700)
  --kubeconfig FILE          API access (default: the in-cluster service account; none: no API)
  --node-name NAME           this node's name (default $NODE_NAME, else the host name)
  --max-parallel N           CNI calls of different containers run at once (default 2 x CPUs,
                             at least 2: ${defaultMaxParallel()} here); the rest wait in order
  --queue-timeout SECONDS    a call that waited this long gets CNI error 11, try again
                             (default ${DEFAULT_QUEUE_TIMEOUT_SECONDS})
  --metrics-address HOST:PORT|off
                             /metrics, /healthz and /readyz (default ${DEFAULT_METRICS_ADDRESS})
  --host-root DIR            run delegates chrooted into DIR, where the host's / is mounted
                             (a daemon in a container; off by default)
  --host-mount-ns FILE       run delegates in this mount namespace instead, e.g. /proc/1/ns/mnt
                             with hostPID (off by default)
  --hostexec FILE            the helper that enters the host root or mount namespace (default
                             plexus-hostexec beside this executable)
  --hotplug on|off           change running pods' networks when their annotation changes
                             (default on; a pod opts out with plexus.dev/hotplug: "false")
  --state-dir DIR            where the sandboxes to hot-plug are recorded (the conflist's
                             cniDir; default ${DEFAULT_STATE_DIR}); the cniDir of every ADD
                             the daemon serves is added
  --log-level LEVEL          debug, info (default), warn, error
  -h, --help                 this text
`;

export const DAEMON_FLAGS = {
  socket: { type: "string" },
  kubeconfig: { type: "string" },
  "node-name": { type: "string" },
  "max-parallel": { type: "string" },
  "queue-timeout": { type: "string" },
  "metrics-address": { type: "string" },
  "host-root": { type: "string" },
  "host-mount-ns": { type: "string" },
  hostexec: { type: "string" },
  hotplug: { type: "string" },
  "state-dir": { type: "string" },
  "log-level": { type: "string" },
} as const satisfies FlagSpecs;

const LOG_LEVELS: readonly string[] = ["debug", "info", "warn", "error"];

function listenAddressValue(text: string): string {
  try {
    parseListenAddress(text);
  } catch {
    throw new UsageError(`--metrics-address: ${JSON.stringify(text)} is not HOST:PORT or off`);
  }
  return text;
}

export interface DaemonCommandDeps {
  readonly importKubeClient: typeof ImportKubeClient;
  /** This executable (plexus-hostexec is looked up beside it). */
  readonly executable: string;
}

export async function runDaemonCommand(argv: readonly string[], deps: DaemonCommandDeps): Promise<number> {
  const line = parseCommandLine(argv, DAEMON_FLAGS);
  if (line.help) {
    process.stdout.write(DAEMON_USAGE);
    return 0;
  }
  // Every value is checked before the socket or anything else is created (src/cli/README.md).
  const values = { ...line.flags, socket: nonEmptyValue("socket", line.flags.socket ?? DEFAULT_SOCKET) };
  const maxParallel =
    values["max-parallel"] === undefined
      ? defaultMaxParallel()
      : integerValue("max-parallel", values["max-parallel"], { min: 1, max: 65536, what: "a positive integer" });
  const queueTimeout = Number(values["queue-timeout"] ?? DEFAULT_QUEUE_TIMEOUT_SECONDS);
  if (!(queueTimeout > 0))
    throw new UsageError(
      `--queue-timeout: ${JSON.stringify(values["queue-timeout"])} is not a positive number of seconds`,
    );
  const logLevel = values["log-level"] ?? "info";
  if (!LOG_LEVELS.includes(logLevel))
    throw new UsageError(`--log-level: ${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(", ")}`);
  if (values["host-root"] !== undefined && values["host-mount-ns"] !== undefined)
    throw new UsageError("--host-root and --host-mount-ns exclude each other");
  const hotplugFlag = values.hotplug ?? "on";
  if (hotplugFlag !== "on" && hotplugFlag !== "off")
    throw new UsageError(`--hotplug: ${JSON.stringify(hotplugFlag)} is not on or off`);
  const stateDir = nonEmptyValue("state-dir", values["state-dir"] ?? DEFAULT_STATE_DIR);
  const metricsText = values["metrics-address"] ?? DEFAULT_METRICS_ADDRESS;
  const metricsAddress = metricsText === "off" ? undefined : listenAddressValue(metricsText);
  const log = createLogger({ level: logLevel, toStderr: true }).child({ component: "daemon" });
  const access: ApiAccessOptions = {
    kubeconfigPath: values.kubeconfig,
    inCluster: values.kubeconfig === undefined,
    env: process.env,
  };
  const nodeName = values["node-name"] ?? process.env["NODE_NAME"] ?? hostname();
  let kubeSide: KubeSide | undefined;
  const metrics = createDaemonMetrics({ caches: () => kubeSide?.cacheState() ?? [] });
  kubeSide = await startKubeSide({ access, nodeName, log, metrics, importKubeClient: deps.importKubeClient });
  const kube = kubeSide;
  const hostexec = values.hostexec ?? join(dirname(deps.executable), "plexus-hostexec");
  const kubelet = kubeletClients(log);
  // Delegates are started by plexus-hostexec --serve, off the event loop (src/runtime/spawn-server.ts).
  const spawnServer = createSpawnServer(hostexec, (message) => log.error({}, message));
  const host: PluginHost = {
    logger: () => log,
    kube: async () => kube.client,
    podResources: kubelet.get,
    wrap: hostWrap(hostexec, values["host-root"], values["host-mount-ns"]),
    onExec: (type, command, ok, ms) => metrics.delegate(type, command, ok ? "ok" : "error", ms / 1000),
    spawnServer,
  };
  const runCni = async (call: CniCall, signal: AbortSignal) => {
    let stdout = "";
    const exitCode = await runPlugin(
      { env: call.env, readStdin: async () => call.stdin, writeStdout: (t) => (stdout += t), signal },
      host,
    );
    return { exitCode, stdout };
  };
  // Hot-plug needs the pod cache (docs/architecture.md#hot-plug); it runs in the daemon's lanes.
  let daemon: Daemon | undefined;
  const hotplug: HotplugController | undefined =
    hotplugFlag === "on" && kube.pods
      ? createDaemonHotplug({
          stateDirs: [stateDir],
          pods: kube.pods,
          host,
          schedule: (containerId, signal, task) => {
            if (!daemon) throw new Error("the daemon is not serving yet");
            return daemon.runForContainer(containerId, signal, task);
          },
          metrics,
          log,
        })
      : undefined;
  try {
    daemon = await startDaemon({
      socketPath: values.socket,
      maxParallel,
      queueTimeoutMs: queueTimeout * 1000,
      metricsAddress,
      runCni,
      kubeNotReady: () => kube.notReady(),
      metrics,
      log,
      observer: hotplug,
    });
  } catch (err) {
    spawnServer.close();
    await kube.stop();
    process.stderr.write(`plexus daemon: ${(err as Error).message}\n`);
    return 1;
  }
  await hotplug?.start();
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await hotplug?.stop();
  await daemon.stop();
  spawnServer.close();
  await kube.stop();
  await kubelet.close();
  return 0;
}

/**
 * One pod-resources client per socket (the configuration of each call names it), each behind the
 * per-pod cache (src/kubelet/pod-devices-cache.ts), loaded when a call first needs devices.
 */
function kubeletClients(log: Logger): {
  get: NonNullable<PluginHost["podResources"]>;
  close: () => Promise<void>;
} {
  const clients = new Map<string, Promise<{ cached: PodResourcesSource; close(): void }>>();
  return {
    get: async (settings) => {
      const key = JSON.stringify(settings);
      let entry = clients.get(key);
      if (!entry) {
        entry = loadPodResources({ kubelet: settings }, log.child({ component: "kubelet" })).then((client) => ({
          cached: cachePodDevices(client),
          close: () => client.close(),
        }));
        clients.set(key, entry);
        entry.catch(() => clients.delete(key));
      }
      return (await entry).cached;
    },
    close: async () => {
      for (const e of clients.values()) (await e.catch(() => undefined))?.close();
    },
  };
}

function hostWrap(hostexec: string, root: string | undefined, mountNs: string | undefined): PluginHost["wrap"] {
  if (root !== undefined) return (argv) => [hostexec, "--root", root, "--", ...argv];
  if (mountNs !== undefined) return (argv) => [hostexec, "--mount-ns", mountNs, "--", ...argv];
  return undefined;
}

/** The Kubernetes side of the daemon: the engine's client, readiness, cache state, stop. */
interface KubeSide {
  readonly client: KubeClient | undefined;
  /** The pod cache (hot-plug's source); none without API access. */
  readonly pods: PodSource | undefined;
  notReady(): readonly string[];
  cacheState(): readonly CacheState[];
  stop(): Promise<void>;
}

async function startKubeSide(o: {
  access: ApiAccessOptions;
  nodeName: string;
  log: Logger;
  metrics: KubeMetricsSink;
  importKubeClient: typeof ImportKubeClient;
}): Promise<KubeSide> {
  if (!findApiAccess(o.access)) {
    o.log.warn({}, "no API access (no --kubeconfig, not in a cluster): only configured networks run, no annotations");
    return {
      client: undefined,
      pods: undefined,
      notReady: () => [],
      cacheState: () => [],
      stop: async () => undefined,
    };
  }
  const settings: KubeClientSettings = PlexusNetConfSchema.shape.kubernetes.parse(undefined);
  const mod = await o.importKubeClient();
  const log = o.log.child({ component: "k8s" });
  const caches = mod.startNodeKubeCaches({
    access: o.access,
    nodeName: o.nodeName,
    settings,
    log,
    metrics: o.metrics,
  });
  return {
    client: caches.client,
    pods: caches,
    notReady: () => (caches.synced() ? [] : ["the pod and NAD caches have not listed yet"]),
    cacheState: () => caches.cacheState(),
    stop: () => caches.stop(AbortSignal.timeout(5_000)),
  };
}
