// `plexus install` and `plexus uninstall`: the edge of the node agent. Owns argv, the process
// environment, signals, stdout/stderr and the exit code; everything below gets them as values.

import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isSea } from "node:sea";
import { CniError, ErrorCode, toCniError } from "../cni/error.js";
import { parseInstallFlags, resolveInstallOptions, type InstallOptions } from "../config/install-options.js";
import { PlexusNetConfSchema } from "../config/netconf.js";
import type { KubeClient } from "../k8s/port.js";
import { createLogger, type Logger } from "../log/logger.js";
import { nodeConfDirReader } from "../runtime/conf-files.js";
import { runAgent } from "./agent.js";
import type { ExecutableSources } from "./binary.js";
import { checkAlive, checkInstallation } from "./install-check.js";
import { agentPodFromEnv, createInstallEvents } from "./agent-events.js";
import { installLayout } from "./layout.js";
import type { ReconcileContext } from "./agent-context.js";
import { uninstall } from "./uninstall.js";

export const INSTALL_USAGE = `Usage: plexus install [flags]

Installs Plexus on this node and keeps it installed: copies the plexus executable into the CNI
bin dir, writes a kubeconfig for the plugin from the pod's service account (and refreshes it
when the token rotates), waits for the primary network config (and the readiness indicator),
then writes 00-plexus.conflist around the primary and watches both. Paths are host paths.

Flags:
  --config FILE                  JSON options (the ConfigMap); flags win over it
  --host-root DIR                where the host's / is mounted in this container (default /)
  --cni-conf-dir DIR             the runtime's CNI config dir (default /etc/cni/net.d)
  --cni-bin-dir DIR              the runtime's CNI plugin dir (default /opt/cni/bin)
  --state-dir DIR                the plugin's state dir (default /var/lib/cni/plexus)
  --mode thin|daemon             thin (default): the runtime executes plexus for every call.
                                 daemon: it executes a small shim that forwards each call to
                                 \`plexus daemon\`; plexus is installed beside it as plexus-thin,
                                 which the shim runs while no daemon answers. Switching modes
                                 replaces the files atomically; nothing else changes
  --plexus-binary FILE           the executable to install (default: this executable)
  --shim-binary FILE             daemon mode's shim (default: plexus-shim beside --plexus-binary)
  --skip-binary-copy             do not install the executables
  --primary-conf NAME            the primary's file name in the conf dir (default: the lexically
                                 first .conf/.conflist/.json that is not Plexus's, as runtimes pick)
  --network-name NAME            name of the generated network (default plexus-cni-network)
  --kubeconfig FILE              the plugin's kubeconfig (default <conf dir>/plexus.d/plexus.kubeconfig)
  --skip-kubeconfig              write no kubeconfig (the plugin then runs without the API)
  --service-account-dir DIR      (default /var/run/secrets/kubernetes.io/serviceaccount)
  --readiness-indicator-file F   wait for this file before installing; the plugin holds ADDs while
                                 it is missing
  --cleanup-on-exit              remove 00-plexus.conflist on SIGTERM/SIGINT (keeps the executable)
  --no-cleanup-on-exit           leave it (the default)
  --wait-timeout SECONDS         give up (exit 1) when not installed by then (default 0: never)
  --poll-interval SECONDS        re-check this often even without file events (default 5)
  --status-file FILE             heartbeat file for --alive (a path in this container)
  --log-level LEVEL              debug, info (default), warn, error, silent
  --once                         install, then exit 0 (no watching)
  --check                        exit 0 when this node's installation is complete and current
  --alive                        exit 0 when the agent's status file is fresh
  -h, --help                     this text
`;

export const UNINSTALL_USAGE = `Usage: plexus uninstall [flags]

Removes Plexus from this node: 00-plexus.conflist first, then the plugin's kubeconfig and token.
The executable stays unless --remove-binary is given (pods torn down later may still need it).

Flags:
  --config FILE, --host-root DIR, --cni-conf-dir DIR, --cni-bin-dir DIR, --kubeconfig FILE,
  --skip-kubeconfig, --log-level LEVEL     as for plexus install
  --remove-binary                          also remove <cni bin dir>/plexus and plexus-thin
  -h, --help                               this text
`;

/** How the Kubernetes client module is loaded (the CLI passes src/cli/k8s-loader.ts's importKubeClient). */
export type ImportKubeClient = () => Promise<Pick<typeof import("../k8s/client.js"), "createKubeClient">>;

export interface InstallCommandOptions {
  /**
   * Default: `import("../k8s/client.js")`, right for sources and tests. The plexus executable
   * carries the client as a separate asset, so its entry point must pass its own loader.
   */
  readonly importKubeClient?: ImportKubeClient;
}

export interface CommandIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The executable to install when no --plexus-binary is given; undefined when not a single executable. */
  readonly ownExecutable: string | undefined;
  /** Aborted on SIGTERM/SIGINT. */
  readonly signal: AbortSignal;
  readonly importKubeClient: ImportKubeClient;
}

export function runInstallCommand(argv: readonly string[], options: InstallCommandOptions = {}): Promise<number> {
  return withProcessIo(options, (io) => installCommand(argv, io));
}

export function runUninstallCommand(argv: readonly string[], options: InstallCommandOptions = {}): Promise<number> {
  return withProcessIo(options, (io) => uninstallCommand(argv, io));
}

export async function installCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  return reportErrors(io, async () => {
    const options = await loadOptions(argv);
    if (options.help) return usage(io, INSTALL_USAGE);
    if (options.removeBinary)
      throw new CniError(ErrorCode.InvalidEnvironment, "--remove-binary is a flag of plexus uninstall");
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
  });
}

export async function uninstallCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  return reportErrors(io, async () => {
    const options = await loadOptions(argv);
    if (options.help) return usage(io, UNINSTALL_USAGE);
    if (options.once || options.check || options.alive)
      throw new CniError(ErrorCode.InvalidEnvironment, "--once, --check and --alive are flags of plexus install");
    const log = createLogger({ level: options.logLevel, toStderr: true }).child({ component: "uninstall" });
    await uninstall(installLayout(options), { removeBinary: options.removeBinary }, log);
    return 0;
  });
}

async function loadOptions(argv: readonly string[]): Promise<InstallOptions> {
  const flags = parseInstallFlags(argv);
  const file =
    flags.config === undefined
      ? undefined
      : await readFile(flags.config, "utf8").catch((err: unknown) => {
          throw new CniError(ErrorCode.InvalidEnvironment, `--config ${flags.config}: ${(err as Error).message}`, {
            cause: err,
          });
        });
  return resolveInstallOptions(flags, file);
}

function executableSources(options: InstallOptions, io: CommandIo): ExecutableSources | undefined {
  if (options.skipBinaryCopy) return undefined;
  const plexus = plexusSource(options, io);
  if (options.mode === "thin") return { plexus };
  // The build and the image put the shim beside the plexus executable.
  return { plexus, shim: options.shimBinary !== "" ? options.shimBinary : join(dirname(plexus), "plexus-shim") };
}

function plexusSource(options: InstallOptions, io: CommandIo): string {
  if (options.plexusBinary !== "") return options.plexusBinary;
  if (io.ownExecutable !== undefined) return io.ownExecutable;
  // node dist/plexus.cjs: process.execPath is node itself, which must never land in the bin dir.
  throw new CniError(
    ErrorCode.InvalidEnvironment,
    "not running as the plexus executable: pass --plexus-binary FILE (or --skip-binary-copy)",
  );
}

/** The in-cluster client, loaded on the first event (the library is slow to import). */
function kubeClientLoader(options: InstallOptions, io: CommandIo, log: Logger): () => Promise<KubeClient | undefined> {
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

function usage(io: CommandIo, text: string): number {
  io.stdout(text);
  return 0;
}

function probeResult(io: CommandIo, problem: string | undefined): number {
  if (problem === undefined) {
    io.stdout("ok\n");
    return 0;
  }
  io.stderr(`${problem}\n`);
  return 1;
}

async function reportErrors(io: CommandIo, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    const error = toCniError(err);
    io.stderr(`plexus: ${error.message}\n`);
    return error.code === ErrorCode.InvalidEnvironment ? 2 : 1;
  }
}

async function withProcessIo(options: InstallCommandOptions, run: (io: CommandIo) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  try {
    return await run({
      env: process.env,
      stdout: (text) => void process.stdout.write(text),
      stderr: (text) => void process.stderr.write(text),
      ownExecutable: ownExecutable(),
      signal: controller.signal,
      importKubeClient: options.importKubeClient ?? (() => import("../k8s/client.js")),
    });
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  }
}

/**
 * process.execPath is the plexus executable only in the single-executable build. (node:sea is
 * imported statically: a Node 20 single executable has no dynamic import() of built-ins.)
 */
function ownExecutable(): string | undefined {
  return isSea() ? process.execPath : undefined;
}
