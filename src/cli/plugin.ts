// Plexus as a CNI plugin: the edge that owns env, stdin, stdout and the exit code.
// Like skel (containernetworking/cni pkg/skel): parse, check the version, dispatch, print the
// result or ONE error JSON on stdout (CNI SPEC §5 "Error"), log once.

import { setMaxListeners } from "node:events";
import { parseJsonObject, type JsonObject } from "../cni/conf.js";
import { convertResult } from "../cni/convert.js";
import { parseCniEnv, type CniEnv } from "../cni/env.js";
import { CniError, ErrorCode, toCniError } from "../cni/error.js";
import { parseNetworkName } from "../cni/ids.js";
import { formatResult } from "../cni/result.js";
import { checkVersionSupported, errorVersion, pluginVersionInfo } from "../cni/version-info.js";
import { versionAllows } from "../cni/version.js";
import { parsePlexusNetConf, type PlexusNetConf } from "../config/netconf.js";
import type { KubeClient } from "../k8s/port.js";
import { createLogger, type Logger } from "../log/logger.js";
import type { RuntimeOptions } from "../runtime/runtime.js";
import { checkNotNested } from "../runtime/self-delegate.js";
import type { PodResourcesSource } from "../engine/deps.js";
import { buildEngineDeps } from "./engine-deps.js";
import { dispatch } from "./dispatch.js";

export interface PluginIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readStdin: () => Promise<string>;
  readonly writeStdout: (text: string) => void;
  /** Aborted when the process is asked to stop (SIGTERM from the runtime's deadline). */
  readonly signal: AbortSignal;
}

/**
/**
 * What the process that runs the plugin edge provides besides the I/O. Thin mode provides
 * nothing: each call opens the logger its config names and loads the Kubernetes client the
 * config's `kubeconfig` points to. The daemon (src/cli/daemon-command.ts) runs every call
 * through this same edge with its own logger, its own long-lived API client, and its metrics.
 */
export interface PluginHost {
  readonly logger?: (conf: PlexusNetConf) => Logger;
  readonly kube?: () => Promise<KubeClient | undefined>;
  readonly wrap?: RuntimeOptions["wrap"];
  readonly onExec?: RuntimeOptions["onExec"];
  /** Starts the delegates (the daemon's process starter); default: this process starts them. */
  readonly spawnServer?: RuntimeOptions["spawnServer"];
  /** The kubelet's device allocations (the daemon's client, cached per pod); default: loaded per call. */
  readonly podResources?: (settings: PlexusNetConf["kubelet"]) => Promise<PodResourcesSource>;
}

/**
 * How long the plugin process may spend, after its reply is on stdout, writing the Kubernetes
 * Events it queued. The runtime waits for the process to exit, so this is on the pod's path:
 * events to a reachable API server take a few ms on the connection the status write opened;
 * an unreachable one costs at most this, and only on calls that queued an event.
 */
const EVENT_FLUSH_MS = 1_000;
const COMMAND_SIGNAL_LISTENERS = 256;

/**
 * Runs one CNI command; returns the exit code. A client this call loaded (thin mode) delivers
 * its queued events after the reply is written; a host's client (the daemon's) delivers them
 * on its own.
 */
export async function runPlugin(io: PluginIo, host: PluginHost = {}): Promise<number> {
  // Every API request and every delegate run listens on the command's signal while it lasts, and
  // a pod's NADs are fetched at once: 10 selections would pass Node's default of 10 listeners
  // and print a MaxListenersExceededWarning. Selections are bounded (32), default networks are few.
  setMaxListeners(COMMAND_SIGNAL_LISTENERS, io.signal);
  let loaded: KubeClient | undefined;
  const code = await runCommand(io, host, (client) => (loaded = client));
  // After stdout: an event never delays the reply, and the reply never waits for an event.
  await loaded?.flushEvents(AbortSignal.any([io.signal, AbortSignal.timeout(EVENT_FLUSH_MS)]));
  return code;
}

async function runCommand(io: PluginIo, host: PluginHost, onKubeClient: (client: KubeClient) => void): Promise<number> {
  let cniVersion: string | undefined;
  let stdin: string | undefined;
  let log: Logger | undefined;
  try {
    const env = parseCniEnv(io.env);
    if (env.command === "VERSION") {
      io.writeStdout(JSON.stringify(pluginVersionInfo()) + "\n");
      return 0;
    }
    checkNotNested(io.env, env.command);
    stdin = await io.readStdin();
    const raw = parseStdinConf(stdin);
    checkNetworkName(raw);
    const { conf, unknownKeys, replaced } = parsePlexusNetConf(raw);
    checkVersionSupported(conf.cniVersion);
    cniVersion = conf.cniVersion || "0.1.0";
    checkCommandAllowed(env, cniVersion);
    log = (host.logger ?? openLogger)(conf).child({
      command: env.command,
      containerId: env.containerId,
      pod: env.args.podName ? `${env.args.podNamespace}/${env.args.podName}` : undefined,
    });
    if (unknownKeys.length) log.warn({ unknownKeys }, "ignoring unknown keys in the Plexus network configuration");
    for (const r of replaced)
      log.warn({ replaced: r }, "Plexus network configuration: a value was replaced by its default");
    const deps = buildEngineDeps({
      conf,
      env: io.env,
      log,
      signal: io.signal,
      kube: host.kube,
      podResources: host.podResources,
      wrap: host.wrap,
      onExec: host.onExec,
      spawnServer: host.spawnServer,
      onKubeClient,
    });
    const result = await dispatch({ env, conf, raw }, deps);
    if (result) io.writeStdout(JSON.stringify(formatResult(convertResult(result, cniVersion))) + "\n");
    return 0;
  } catch (err) {
    const error = toCniError(err);
    log?.error({ code: error.code, err: describe(error) }, error.message);
    cniVersion ??= errorVersion(stdin ?? (await io.readStdin().catch(() => "")));
    io.writeStdout(JSON.stringify(error.toWire(cniVersion)) + "\n");
    return 1;
  }
}

const MAX_STDIN_BYTES = 4 * 1024 * 1024;

function parseStdinConf(text: string): JsonObject {
  if (Buffer.byteLength(text) > MAX_STDIN_BYTES) {
    throw new CniError(ErrorCode.IoFailure, `network configuration on stdin is larger than ${MAX_STDIN_BYTES} bytes`);
  }
  try {
    return parseJsonObject(text, "network configuration on stdin");
  } catch (err) {
    throw new CniError(ErrorCode.DecodingFailure, `error unmarshall network config: ${(err as CniError).msg}`, {
      cause: err,
    });
  }
}

/**
 * A log file that cannot be opened (a missing directory, a read-only mount) must not fail the
 * pod's networking, nor make its DEL fail forever: log to stderr instead, and say so there
 * (Multus does the same).
 */
function openLogger(conf: PlexusNetConf): Logger {
  const options = { level: conf.logLevel, toStderr: conf.logToStderr };
  if (conf.logFile === "") return createLogger(options);
  try {
    return createLogger({ ...options, file: conf.logFile });
  } catch (err) {
    const log = createLogger({ ...options, toStderr: true });
    log.error(
      { logFile: conf.logFile, reason: (err as Error).message },
      "cannot open the log file: logging to stderr instead",
    );
    return log;
  }
}

/**
 * skel's validateConfig: a configuration without a network name is refused (code 7 `missing
 * network name`), as is a name libcni would refuse. Runtimes always inject the conflist's name.
 */
function checkNetworkName(raw: JsonObject): void {
  const name = raw["name"];
  if (name === undefined || typeof name === "string") parseNetworkName(name ?? "");
}

/** skel's version gates: CHECK needs 0.4.0, STATUS and GC need 1.1.0. */
function checkCommandAllowed(env: CniEnv, version: string): void {
  const c = env.command;
  if ((c === "CHECK" || c === "STATUS" || c === "GC") && !versionAllows(c, version)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `config version does not allow ${c}`);
  }
}

/** The error chain as text for the log (causes included), never stdout. */
function describe(err: Error): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 8; e = e.cause) parts.push(e.message);
  return parts.join(" <- ");
}
