// `plexus install` and `plexus uninstall`: the command line of the node agent. Owns argv, the
// --config file, the process environment, signals, stdout/stderr and the exit code; the agent
// itself (src/install/node-commands.ts) gets parsed options and these as values.

import { readFile } from "node:fs/promises";
import { isSea } from "node:sea";
import { CniError, ErrorCode } from "../cni/error.js";
import { resolveInstallOptions, type InstallFlags, type InstallOptions } from "../config/install-options.js";
import { installNode, uninstallNode, type NodeCommandIo } from "../install/node-commands.js";
import { parseCommandLine, UsageError, type FlagSpecs } from "./args.js";
import { importKubeClient } from "./k8s-loader.js";

const INSTALL_USAGE = `Usage: plexus install [flags]

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
  --take-over-multus             replace a Multus config on the node (00-multus.conf/.conflist) and
                                 adopt its settings; pods Multus set up are torn down from its
                                 cache on DEL (docs/migration.md)
  --wait-timeout SECONDS         give up (exit 1) when not installed by then (default 0: never)
  --poll-interval SECONDS        re-check this often even without file events (default 5)
  --status-file FILE             heartbeat file for --alive (a path in this container)
  --log-level LEVEL              debug, info (default), warn, error, silent
  --once                         install, then exit 0 (no watching)
  --check                        exit 0 when this node's installation is complete and current
  --alive                        exit 0 when the agent's status file is fresh
  -h, --help                     this text

Exit codes: 0 done (or probe passed), 1 failed (or probe failed), 2 a bad flag, value or
--config file, or an environment the agent cannot work in.
`;

const UNINSTALL_USAGE = `Usage: plexus uninstall [flags]

Removes Plexus from this node: 00-plexus.conflist first, then the plugin's kubeconfig and token.
The executable stays unless --remove-binary is given (pods torn down later may still need it).
Stop whatever keeps Plexus installed first (the DaemonSet's agent restores its config):
deploy/uninstall/ replaces the DaemonSet's container with \`plexus uninstall --wait\` on every node.

Flags:
  --config FILE, --host-root DIR, --cni-conf-dir DIR, --cni-bin-dir DIR, --kubeconfig FILE,
  --skip-kubeconfig, --log-level LEVEL     as for plexus install
  --remove-binary                          also remove <cni bin dir>/plexus and plexus-thin
  --wait                                   once done, keep running until SIGTERM (a DaemonSet's
                                           container)
  --check                                  exit 0 when nothing of Plexus's config and credentials
                                           is left on this node (a readiness probe)
  -h, --help                               this text
`;

/** Every flag of plexus install (the type check keeps this table and InstallFlags in step). */
const INSTALL_FLAGS = {
  config: { type: "string" },
  "host-root": { type: "string" },
  "cni-conf-dir": { type: "string" },
  "cni-bin-dir": { type: "string" },
  "state-dir": { type: "string" },
  "plexus-binary": { type: "string" },
  "skip-binary-copy": { type: "boolean" },
  mode: { type: "string" },
  "shim-binary": { type: "string" },
  "primary-conf": { type: "string" },
  "network-name": { type: "string" },
  kubeconfig: { type: "string" },
  "skip-kubeconfig": { type: "boolean" },
  "service-account-dir": { type: "string" },
  "readiness-indicator-file": { type: "string" },
  "cleanup-on-exit": { type: "boolean" },
  "no-cleanup-on-exit": { type: "boolean" },
  "take-over-multus": { type: "boolean" },
  "wait-timeout": { type: "string" },
  "poll-interval": { type: "string" },
  "status-file": { type: "string" },
  "log-level": { type: "string" },
  once: { type: "boolean" },
  check: { type: "boolean" },
  alive: { type: "boolean" },
} as const satisfies FlagSpecs;

/** Uninstall reads the same options (they say where things are), and flags of its own; --check is both's probe. */
const NODE_FLAGS = {
  ...INSTALL_FLAGS,
  "remove-binary": { type: "boolean" },
  wait: { type: "boolean" },
} as const satisfies FlagSpecs;
const ONLY = { install: ["once", "alive"], uninstall: ["remove-binary", "wait"] } as const;

/** The flags of one command line, or undefined for --help. Exported for the manifests' tests. */
export function parseInstallFlags(command: "install" | "uninstall", argv: readonly string[]): InstallFlags | undefined {
  const line = parseCommandLine(argv, NODE_FLAGS);
  if (line.help) return undefined;
  const other = command === "install" ? "uninstall" : "install";
  const wrong = ONLY[other].find((f) => line.flags[f]);
  if (wrong) throw new UsageError(`--${wrong} is a flag of plexus ${other}`);
  return line.flags;
}

export async function runInstallCommand(argv: readonly string[]): Promise<number> {
  const flags = parseInstallFlags("install", argv);
  if (flags === undefined) return usage(INSTALL_USAGE);
  const options = await loadOptions(flags);
  return withProcessIo((io) => installNode(options, io));
}

export async function runUninstallCommand(argv: readonly string[]): Promise<number> {
  const flags = parseInstallFlags("uninstall", argv);
  if (flags === undefined) return usage(UNINSTALL_USAGE);
  const options = await loadOptions(flags);
  return withProcessIo((io) => uninstallNode(options, io));
}

async function loadOptions(flags: InstallFlags): Promise<InstallOptions> {
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

function usage(text: string): number {
  process.stdout.write(text);
  return 0;
}

async function withProcessIo(run: (io: NodeCommandIo) => Promise<number>): Promise<number> {
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
      importKubeClient,
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
