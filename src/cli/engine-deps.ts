// The composition root of the plugin process: real adapters, built once per invocation.

import { access, copyFile, mkdir, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { isSea } from "node:sea";
import { setTimeout as delay } from "node:timers/promises";
import { createMultusCache } from "../cache/multus-cache.js";
import { createCacheStore } from "../cache/store.js";
import { CniError } from "../cni/error.js";
import type { PlexusNetConf } from "../config/netconf.js";
import type { DeviceInfoFiles, EngineDeps, PodResourcesSource } from "../engine/deps.js";
import { findApiAccess } from "../k8s/api-access.js";
import { importKubeClient, kubeClientCodeCacheOutcome } from "./k8s-loader.js";
import { importKubeletClient, kubeletClientCodeCacheOutcome } from "./kubelet-loader.js";
import type { KubeClient } from "../k8s/port.js";
import type { Logger } from "../log/logger.js";
import { nodeConfDirReader } from "../runtime/conf-files.js";
import { createRuntime, type RuntimeOptions } from "../runtime/runtime.js";
import { selfIdentity } from "../runtime/self-delegate.js";
import { runInNetns } from "../runtime/run-in-netns.js";

export interface EngineDepsInput {
  readonly conf: PlexusNetConf;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** A client the caller already has (the daemon's); default: one loaded from the config's kubeconfig. */
  readonly kube?: (() => Promise<KubeClient | undefined>) | undefined;
  readonly wrap?: RuntimeOptions["wrap"];
  readonly onExec?: RuntimeOptions["onExec"];
  readonly spawnServer?: RuntimeOptions["spawnServer"];
  /** Told of the client loaded from the kubeconfig (the plugin flushes its events before exit). */
  readonly onKubeClient?: (client: KubeClient) => void;
  /** The kubelet's device allocations the caller already has (the daemon's, cached per pod). */
  readonly podResources?: ((settings: PlexusNetConf["kubelet"]) => Promise<PodResourcesSource>) | undefined;
}

export function buildEngineDeps({ conf, env, log, signal, onKubeClient, ...host }: EngineDepsInput): EngineDeps {
  const cniPath = (env["CNI_PATH"] ?? "").split(":").filter((d) => d !== "");
  // Multus prepends binDir to CNI_PATH; duplicates are dropped so a plugin is looked up once.
  const binDirs = [...new Set([conf.binDir, ...cniPath].filter((d) => d !== ""))];
  const runtime = createRuntime({
    binDirs,
    env,
    timeoutMs: conf.delegateTimeoutSeconds * 1000,
    onStderr: (type, text) => log.info({ plugin: type, stderr: text.slice(0, 4096) }, "delegate wrote to stderr"),
    wrap: host.wrap,
    onExec: host.onExec,
    spawnServer: host.spawnServer,
    // Plexus never runs itself as a delegate (src/runtime/self-delegate.ts).
    self: selfIdentity(binDirs, isSea() ? process.execPath : undefined),
  });
  let kube: Promise<KubeClient | undefined> | undefined;
  let podResources: Promise<PodResourcesSource> | undefined;
  return {
    runtime,
    cache: createCacheStore(conf.cniDir),
    multus: conf.multusCniDir !== "" ? createMultusCache(conf.multusCniDir) : undefined,
    kube:
      host.kube ??
      (() =>
        (kube ??= loadKubeClient(conf, env, log).then((client) => {
          if (client) onKubeClient?.(client);
          return client;
        }))),
    podResources: () =>
      (podResources ??= host.podResources ? host.podResources(conf.kubelet) : loadOneShotPodResources(conf, log)),
    confFiles: nodeConfDirReader,
    runInNetns: async (path, argv, s) => {
      await runInNetns(path, argv, s);
    },
    fileExists: (path) =>
      access(path).then(
        () => true,
        () => false,
      ),
    deviceInfo: deviceInfoFiles,
    sleep: (ms, s) => delay(ms, undefined, { signal: s }),
    log,
    now: () => new Date(),
    signal,
  };
}

/** Loaded only when a request needs the API: the client library costs ~100 ms to load. */
async function loadKubeClient(
  conf: PlexusNetConf,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
): Promise<KubeClient | undefined> {
  const access = { kubeconfigPath: conf.kubeconfig || undefined, inCluster: conf.kubeconfig === "", env };
  if (!findApiAccess(access)) return undefined;
  const started = performance.now();
  const { createKubeClient } = await importKubeClient();
  const client = createKubeClient({ ...access, settings: conf.kubernetes, log: log.child({ component: "k8s" }) });
  log.debug(
    { ms: Math.round(performance.now() - started), codeCache: kubeClientCodeCacheOutcome() },
    "Kubernetes client loaded",
  );
  return client;
}

/**
 * Loaded only when a plan has a NAD with a resourceName: grpc-js costs tens of ms to load. The
 * plugin process asks once per command and closes the channel right after, so that nothing of
 * gRPC keeps it alive.
 */
async function loadOneShotPodResources(conf: PlexusNetConf, log: Logger): Promise<PodResourcesSource> {
  const client = await loadPodResources(conf, log);
  return {
    podDevices: async (pod, signal) => {
      try {
        return await client.podDevices(pod, signal);
      } finally {
        client.close();
      }
    },
  };
}

/** The kubelet pod-resources client, from its own bundle (src/cli/kubelet-loader.ts). */
export async function loadPodResources(
  conf: Pick<PlexusNetConf, "kubelet">,
  log: Logger,
): Promise<PodResourcesSource & { close(): void }> {
  const started = performance.now();
  const { createPodResourcesClient } = await importKubeletClient();
  const client = createPodResourcesClient(conf.kubelet, {
    onCall: (method, outcome, ms) => log.debug({ method, outcome, ms: Math.round(ms) }, "kubelet pod-resources call"),
  });
  log.debug(
    { ms: Math.round(performance.now() - started), codeCache: kubeletClientCodeCacheOutcome() },
    "kubelet pod-resources client loaded",
  );
  return {
    podDevices: (pod, signal) =>
      client.podDevices(pod, signal).catch((err: unknown) => Promise.reject(ownCniError(err))),
    close: () => client.close(),
  };
}

/**
 * The client's bundle carries its own copy of CniError (src/cli/kubelet-loader.ts): an error
 * from it is made one of ours again, code and message kept, so the engine reports its code.
 */
function ownCniError(err: unknown): unknown {
  if (err instanceof CniError || !(err instanceof Error) || err.name !== "CniError") return err;
  const e = err as Error & { code?: unknown; msg?: unknown; details?: unknown };
  if (typeof e.code !== "number" || typeof e.msg !== "string") return err;
  return new CniError(e.code, e.msg, { details: typeof e.details === "string" ? e.details : undefined, cause: err });
}

const deviceInfoFiles: DeviceInfoFiles = {
  async seed(from, to) {
    if (
      !(await access(from).then(
        () => true,
        () => false,
      ))
    )
      return false;
    await mkdir(dirname(to), { recursive: true });
    await copyFile(from, to);
    return true;
  },
  read: (path) =>
    readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    }),
  remove: (path) => rm(path, { force: true }),
};
