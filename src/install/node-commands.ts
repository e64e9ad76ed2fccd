// What `plexus install` and `plexus uninstall` do on a node, given their parsed options: the
// probes (--check, --alive), the agent loop, and the uninstall. The command line itself (argv,
// the --config file, exit codes) is src/cli/install-command.ts's; everything here gets its
// process environment, output and stop signal as values.

import { dirname, join } from "node:path";
import { CniError, ErrorCode } from "../cni/error.js";
import type { InstallOptions } from "../config/install-options.js";
import { PlexusNetConfSchema } from "../config/netconf.js";
import type { KubeClient } from "../k8s/port.js";
import { createLogger, type Logger } from "../log/logger.js";
import { nodeConfDirReader } from "../runtime/conf-files.js";
import { runAgent } from "./agent.js";
import type { ExecutableSources } from "./binary.js";
import { agentPodFromEnv, createInstallEvents } from "./agent-events.js";
import { checkAlive, checkInstallation } from "./install-check.js";
import { installLayout } from "./layout.js";
import type { ReconcileContext } from "./agent-context.js";
import { leftBehind, uninstall } from "./uninstall.js";

/** How the Kubernetes client module is loaded: src/cli/k8s-loader.ts's importKubeClient. */
export type ImportKubeClient = () => Promise<Pick<typeof import("../k8s/client.js"), "createKubeClient">>;

export interface NodeCommandIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The executable to install when no --plexus-binary is given; undefined when not a single executable. */
  readonly ownExecutable: string | undefined;
  /** Aborted on SIGTERM/SIGINT. */
  readonly signal: AbortSignal;
  readonly importKubeClient: ImportKubeClient;
}

/**
 * `plexus install`: a probe (--alive, --check: exit 0 or 1) or the agent (until stopped, or once).
 * A node that cannot be installed as asked (no service account, no executable to copy) is a
 * CniError with code InvalidEnvironment.
 */
export async function installNode(options: InstallOptions, io: NodeCommandIo): Promise<number> {
  const layout = installLayout(options);
  if (options.alive) return probeResult(io, await checkAlive(options.statusFile, aliveMaxAgeMs(options), Date.now()));
  if (options.check) {
    const problems = await checkInstallation({ options, layout, env: io.env, reader: nodeConfDirReader });
    return probeResult(io, problems.length > 0 ? problems.join("\n") : undefined);
  }
  const log = createLogger({ level: options.logLevel, toStderr: true }).child({ component: "install" });
  const ctx: ReconcileContext = {
    options,
    layout,
    executables: executableSources(options, io),
    env: io.env,
    reader: nodeConfDirReader,
    log,
    events: createInstallEvents(agentPodFromEnv(io.env), kubeClientLoader(options, io, log), log),
    now: () => Date.now(),
  };
  return runAgent(ctx, io.signal);
}

/** `plexus uninstall`: the probe (--check), or the uninstall, then with --wait the wait for SIGTERM. */
export async function uninstallNode(options: InstallOptions, io: NodeCommandIo): Promise<number> {
  const layout = installLayout(options);
  if (options.check) {
    const left = await leftBehind(layout);
    return probeResult(io, left.length > 0 ? `still on this node: ${left.join(", ")}` : undefined);
  }
  const log = createLogger({ level: options.logLevel, toStderr: true }).child({ component: "uninstall" });
  await uninstall(layout, { removeBinary: options.removeBinary }, log);
  if (options.wait && !io.signal.aborted) {
    log.info({}, "done; waiting for SIGTERM (plexus uninstall --wait)");
    await untilAborted(io.signal);
  }
  return 0;
}

/** Resolves when `signal` aborts; keeps the process alive until then (a pending promise does not). */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => undefined, 2 ** 30);
    signal.addEventListener(
      "abort",
      () => {
        clearInterval(keepAlive);
        resolve();
      },
      { once: true },
    );
  });
}

function executableSources(options: InstallOptions, io: NodeCommandIo): ExecutableSources | undefined {
  if (options.skipBinaryCopy) return undefined;
  const plexus = plexusSource(options, io);
  if (options.mode === "thin") return { plexus };
  // The build and the image put the shim beside the plexus executable.
  return { plexus, shim: options.shimBinary !== "" ? options.shimBinary : join(dirname(plexus), "plexus-shim") };
}

function plexusSource(options: InstallOptions, io: NodeCommandIo): string {
  if (options.plexusBinary !== "") return options.plexusBinary;
  if (io.ownExecutable !== undefined) return io.ownExecutable;
  // node dist/plexus.cjs: process.execPath is node itself, which must never land in the bin dir.
  throw new CniError(
    ErrorCode.InvalidEnvironment,
    "not running as the plexus executable: pass --plexus-binary FILE (or --skip-binary-copy)",
  );
}

/** The in-cluster client, loaded on the first event (the library is slow to import). */
function kubeClientLoader(
  options: InstallOptions,
  io: NodeCommandIo,
  log: Logger,
): () => Promise<KubeClient | undefined> {
  const { env } = io;
  let client: Promise<KubeClient | undefined> | undefined;
  return () =>
    (client ??= (async () => {
      const { createKubeClient } = await io.importKubeClient();
      const settings = PlexusNetConfSchema.shape.kubernetes.parse(options.plugin.kubernetes);
      return createKubeClient({
        inCluster: true,
        env,
        serviceAccountDir: options.serviceAccountDir,
        settings,
        log: log.child({ component: "k8s" }),
      });
    })());
}

function aliveMaxAgeMs(options: InstallOptions): number {
  return Math.max(3 * options.pollIntervalSeconds, 30) * 1000;
}

function probeResult(io: NodeCommandIo, problem: string | undefined): number {
  if (problem === undefined) {
    io.stdout("ok\n");
    return 0;
  }
  io.stderr(`${problem}\n`);
  return 1;
}
