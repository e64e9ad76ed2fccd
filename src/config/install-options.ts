// The node agent's options (`plexus install` / `plexus uninstall`): command-line flags (parsed
// by src/cli/install-command.ts) over a JSON file (the ConfigMap deploy/configmap.yaml mounts),
// both read through one zod schema.
// Paths are HOST paths, as the runtime and the plugin see them; `hostRoot` says where the
// host's root is mounted in the agent's container (/host in the DaemonSet, / on a host).

import { z } from "zod";
import { CniError, ErrorCode } from "../cni/error.js";
import { isValidNetworkName } from "../cni/ids.js";
import { PlexusNetConfSchema } from "./netconf.js";

const absolutePath = z.string().regex(/^\//, "must be an absolute path");
/** An absolute path, or "" for "none". */
const optionalPath = z.union([z.literal(""), absolutePath]);

/**
 * Keys of Plexus's network config the ConfigMap may set. The installer owns the rest
 * (cniVersion, name, type, capabilities, clusterNetwork, kubeconfig, binDir, cniDir,
 * readinessindicatorfile): they are derived from the node, so a stale value cannot be pinned.
 */
const PLUGIN_KEYS = {
  defaultNetworks: true,
  confDir: true,
  namespaceIsolation: true,
  globalNamespaces: true,
  systemNamespaces: true,
  multusNamespace: true,
  readinessTimeoutSeconds: true,
  logFile: true,
  logLevel: true,
  logToStderr: true,
  delegateTimeoutSeconds: true,
  kubernetes: true,
  auxiliaryCNIChainName: true,
  multusCniDir: true,
} as const;

const PluginOptionsSchema = z.strictObject(PlexusNetConfSchema.pick(PLUGIN_KEYS).partial().shape);
export type PluginOptions = Readonly<Partial<z.infer<typeof PluginOptionsSchema>>>;

const DEFAULT_NETWORK_NAME = "plexus-cni-network";

/** The file form (ConfigMap `install.json`); every key optional, unknown keys rejected. */
const InstallFileSchema = z.strictObject({
  hostRoot: absolutePath.optional(),
  cniConfDir: absolutePath.optional(),
  cniBinDir: absolutePath.optional(),
  stateDir: absolutePath.optional(),
  plexusBinary: optionalPath.optional(),
  skipBinaryCopy: z.boolean().optional(),
  mode: z.enum(["thin", "daemon"]).optional(),
  shimBinary: optionalPath.optional(),
  primaryConfFile: z
    .string()
    .regex(/^[^/]*$/, "must be a file name in the conf dir")
    .optional(),
  networkName: z.string().refine(isValidNetworkName, "must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$").optional(),
  kubeconfig: optionalPath.optional(),
  skipKubeconfig: z.boolean().optional(),
  serviceAccountDir: absolutePath.optional(),
  readinessIndicatorFile: optionalPath.optional(),
  cleanupOnExit: z.boolean().optional(),
  /** Replace a Multus config on the node and adopt its settings (docs/migration.md). */
  takeOverMultus: z.boolean().optional(),
  waitTimeoutSeconds: z.number().nonnegative().optional(),
  pollIntervalSeconds: z.number().positive().max(3600).optional(),
  statusFile: optionalPath.optional(),
  logLevel: z.enum(["debug", "info", "warn", "error", "silent"]).optional(),
  /** Plexus's own network config keys, copied into 00-plexus.conflist as given. */
  plugin: z.unknown().optional(),
});
type InstallFile = z.infer<typeof InstallFileSchema>;

export interface InstallOptions {
  readonly hostRoot: string;
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  readonly stateDir: string;
  /** The executable copied to <cniBinDir>/plexus ("" = this process's own executable). */
  readonly plexusBinary: string;
  readonly skipBinaryCopy: boolean;
  /**
   * thin: <cniBinDir>/plexus is the plexus executable. daemon: <cniBinDir>/plexus is the shim
   * that forwards each call to `plexus daemon`, and the plexus executable is installed beside
   * it as plexus-thin, the shim's fallback (docs/architecture.md "Daemon mode").
   */
  readonly mode: "thin" | "daemon";
  /** The shim installed in daemon mode ("" = plexus-shim beside the plexus executable installed). */
  readonly shimBinary: string;
  /** A file name in cniConfDir, or "" to pick the primary as runtimes do. */
  readonly primaryConfFile: string;
  readonly networkName: string;
  /** Host path of the kubeconfig written for the plugin ("" when skipKubeconfig). */
  readonly kubeconfig: string;
  readonly skipKubeconfig: boolean;
  readonly serviceAccountDir: string;
  readonly readinessIndicatorFile: string;
  readonly cleanupOnExit: boolean;
  readonly takeOverMultus: boolean;
  /** How long to wait for the primary config (and readiness) before giving up; 0 = forever. */
  readonly waitTimeoutSeconds: number;
  readonly pollIntervalSeconds: number;
  /** Where the agent's heartbeat is written (an agent-local path, not a host path); "" = none. */
  readonly statusFile: string;
  readonly logLevel: "debug" | "info" | "warn" | "error" | "silent";
  readonly plugin: PluginOptions;
  readonly once: boolean;
  readonly check: boolean;
  readonly alive: boolean;
  readonly removeBinary: boolean;
  /** plexus uninstall --wait: stay running once done (the uninstall DaemonSet's container). */
  readonly wait: boolean;
}

/**
 * The command-line flags, by long name, as src/cli/install-command.ts parses them (no defaults:
 * what the command line said). Flags win over the --config file.
 */
export interface InstallFlags {
  readonly config?: string;
  readonly "host-root"?: string;
  readonly "cni-conf-dir"?: string;
  readonly "cni-bin-dir"?: string;
  readonly "state-dir"?: string;
  readonly "plexus-binary"?: string;
  readonly "skip-binary-copy"?: boolean;
  readonly mode?: string;
  readonly "shim-binary"?: string;
  readonly "primary-conf"?: string;
  readonly "network-name"?: string;
  readonly kubeconfig?: string;
  readonly "skip-kubeconfig"?: boolean;
  readonly "service-account-dir"?: string;
  readonly "readiness-indicator-file"?: string;
  readonly "cleanup-on-exit"?: boolean;
  readonly "no-cleanup-on-exit"?: boolean;
  readonly "take-over-multus"?: boolean;
  readonly "wait-timeout"?: string;
  readonly "poll-interval"?: string;
  readonly "status-file"?: string;
  readonly "log-level"?: string;
  readonly once?: boolean;
  readonly check?: boolean;
  readonly alive?: boolean;
  readonly "remove-binary"?: boolean;
  readonly wait?: boolean;
}

function seconds(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n)) fail(`--${flag}: not a number of seconds: ${JSON.stringify(text)}`);
  return n;
}

/** Each file key and the flag that sets it. */
const FLAG_OF = {
  hostRoot: "host-root",
  cniConfDir: "cni-conf-dir",
  cniBinDir: "cni-bin-dir",
  stateDir: "state-dir",
  plexusBinary: "plexus-binary",
  skipBinaryCopy: "skip-binary-copy",
  mode: "mode",
  shimBinary: "shim-binary",
  primaryConfFile: "primary-conf",
  networkName: "network-name",
  kubeconfig: "kubeconfig",
  skipKubeconfig: "skip-kubeconfig",
  serviceAccountDir: "service-account-dir",
  readinessIndicatorFile: "readiness-indicator-file",
  cleanupOnExit: "cleanup-on-exit",
  takeOverMultus: "take-over-multus",
  waitTimeoutSeconds: "wait-timeout",
  pollIntervalSeconds: "poll-interval",
  statusFile: "status-file",
  logLevel: "log-level",
} as const satisfies Partial<Record<keyof InstallFile, keyof InstallFlags>>;

/** The flags written as file keys, so one schema checks both sources. */
function flagsAsFile(flags: InstallFlags): Record<string, unknown> {
  if (flags["cleanup-on-exit"] && flags["no-cleanup-on-exit"])
    fail("--cleanup-on-exit and --no-cleanup-on-exit contradict each other");
  const special: Record<string, unknown> = {
    cleanupOnExit: flags["cleanup-on-exit"] ? true : flags["no-cleanup-on-exit"] ? false : undefined,
    waitTimeoutSeconds: seconds("wait-timeout", flags["wait-timeout"]),
    pollIntervalSeconds: seconds("poll-interval", flags["poll-interval"]),
  };
  const entries = Object.entries(FLAG_OF).map(([key, flag]) => [key, key in special ? special[key] : flags[flag]]);
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined));
}

/** The flags, checked by the file's schema; a problem names the flag, not the file key. */
function parseFlags(flags: InstallFlags): InstallFile {
  const parsed = InstallFileSchema.safeParse(flagsAsFile(flags));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const key = issue?.path[0];
  const flag = typeof key === "string" && key in FLAG_OF ? FLAG_OF[key as keyof typeof FLAG_OF] : undefined;
  return fail(`${flag ? `--${flag}` : "flags"}: ${issue?.message}`, z.prettifyError(parsed.error));
}

function fail(msg: string, details?: string): never {
  throw new CniError(ErrorCode.InvalidEnvironment, msg, { details });
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join(".") || "(options)";
  return fail(`invalid ${what}: ${field}: ${issue?.message}`, z.prettifyError(parsed.error));
}

/** Keeps only the plugin keys the user set (with their parsed values), so defaults stay the plugin's. */
function parsePluginOptions(raw: unknown, what = "plugin options"): PluginOptions {
  if (raw === undefined) return {};
  const parsed = parseWith(PluginOptionsSchema, raw, what);
  const given = new Set(Object.keys(raw as object));
  return Object.fromEntries(Object.entries(parsed).filter(([k]) => given.has(k))) as PluginOptions;
}

/**
 * Flags win over the file; defaults fill the rest. `fileText` is the JSON of --config when
 * given (read by the caller, so this stays pure).
 */
export function resolveInstallOptions(flags: InstallFlags, fileText?: string): InstallOptions {
  let fileJson: unknown = {};
  if (fileText !== undefined) {
    try {
      fileJson = JSON.parse(fileText);
    } catch (err) {
      fail(`--config ${flags.config}: not valid JSON: ${(err as Error).message}`);
    }
  }
  const file: InstallFile = parseWith(InstallFileSchema, fileJson, `options file ${flags.config ?? ""}`.trim());
  const merged: InstallFile = { ...file, ...parseFlags(flags) };
  const cniConfDir = merged.cniConfDir ?? "/etc/cni/net.d";
  const skipKubeconfig = merged.skipKubeconfig ?? false;
  return {
    hostRoot: merged.hostRoot ?? "/",
    cniConfDir,
    cniBinDir: merged.cniBinDir ?? "/opt/cni/bin",
    stateDir: merged.stateDir ?? "/var/lib/cni/plexus",
    plexusBinary: merged.plexusBinary ?? "",
    skipBinaryCopy: merged.skipBinaryCopy ?? false,
    mode: merged.mode ?? "thin",
    shimBinary: merged.shimBinary ?? "",
    primaryConfFile: merged.primaryConfFile ?? "",
    networkName: merged.networkName ?? DEFAULT_NETWORK_NAME,
    // Beside the conf files but in a subdirectory, which runtimes never read as a config.
    kubeconfig: skipKubeconfig ? "" : merged.kubeconfig || `${cniConfDir}/plexus.d/plexus.kubeconfig`,
    skipKubeconfig,
    serviceAccountDir: merged.serviceAccountDir ?? "/var/run/secrets/kubernetes.io/serviceaccount",
    readinessIndicatorFile: merged.readinessIndicatorFile ?? "",
    cleanupOnExit: merged.cleanupOnExit ?? false,
    takeOverMultus: merged.takeOverMultus ?? false,
    waitTimeoutSeconds: merged.waitTimeoutSeconds ?? 0,
    pollIntervalSeconds: merged.pollIntervalSeconds ?? 5,
    statusFile: merged.statusFile ?? "",
    logLevel: merged.logLevel ?? "info",
    plugin: parsePluginOptions(file.plugin, `options file ${flags.config ?? ""}: plugin`),
    once: flags.once ?? false,
    check: flags.check ?? false,
    alive: flags.alive ?? false,
    removeBinary: flags["remove-binary"] ?? false,
    wait: flags.wait ?? false,
  };
}
