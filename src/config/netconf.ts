// Plexus's own network configuration: what the runtime sends on stdin (the plexus entry of
// 00-plexus.conflist). Multus's keys with Multus's defaults, so a Multus config works as is,
// plus Plexus's deadlines. The installer writes this same shape through the same schema.
// Multus pkg/types/conf.go (keys and defaults); docs/compatibility.md#multus-behaviour-kept.

import { z } from "zod";
import { CniError, ErrorCode } from "../cni/error.js";

const LOG_LEVELS = ["debug", "verbose", "info", "warn", "error", "panic", "silent"] as const;

const KubernetesSettingsSchema = z.strictObject({
  /** Deadline of one API request. Multus hard-codes 250 ms, too short for remote control planes (#1461). */
  requestTimeoutMs: z.number().int().positive().max(300_000).default(5_000),
  /** Retries of a request that failed with a transient error (unavailable, timeout). */
  retries: z.number().int().nonnegative().max(20).default(3),
  /** Delay before the first retry; doubles each time. */
  retryBackoffMs: z.number().int().nonnegative().max(60_000).default(200),
});

// Paths are absolute: the runtime executes Plexus in a working directory of its own choosing,
// where a relative cniDir would put Plexus's state (and a relative binDir would find plugins).
const ABSOLUTE = "must be an absolute path (a relative one would depend on the container runtime's working directory)";
const absolutePath = z.string().refine((v) => v.startsWith("/"), ABSOLUTE);
const optionalAbsolutePath = z.string().refine((v) => v === "" || v.startsWith("/"), `${ABSOLUTE}, or ""`);

const KubeletSettingsSchema = z.strictObject({
  /** The kubelet's pod-resources API (devices for NADs with a resourceName). */
  podResourcesSocket: absolutePath.default("/var/lib/kubelet/pod-resources/kubelet.sock"),
  /** Deadline of one request (Multus: 10 s). */
  requestTimeoutMs: z.number().int().positive().max(300_000).default(10_000),
  /** Retries of a request the kubelet refused for now (rate limit, restart; Multus #1545). */
  retries: z.number().int().nonnegative().max(20).default(5),
  /** Delay before the first retry; doubles each time. */
  retryBackoffMs: z.number().int().nonnegative().max(60_000).default(100),
});

const globalNamespaces = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(",")).map((s) => s.trim()).filter((s) => s !== ""));

export const PlexusNetConfSchema = z.looseObject({
  cniVersion: z.string().default(""),
  name: z.string().default(""),
  type: z.string().default("plexus"),
  capabilities: z.record(z.string(), z.boolean()).optional(),
  /** Capability values from the runtime (portMappings, bandwidth, pod annotations, ...). */
  runtimeConfig: z.record(z.string(), z.unknown()).default({}),
  kubeconfig: optionalAbsolutePath.default(""),
  clusterNetwork: z.string().default(""),
  defaultNetworks: z.array(z.string().min(1)).default([]),
  delegates: z.array(z.record(z.string(), z.unknown())).default([]),
  confDir: absolutePath.default("/etc/cni/multus/net.d"),
  /** Plexus's state (cache) directory. Multus's key, Plexus's own default. */
  cniDir: absolutePath.default("/var/lib/cni/plexus"),
  binDir: absolutePath.default("/opt/cni/bin"),
  namespaceIsolation: z.boolean().default(false),
  /** Setting it replaces the default list, as in Multus. */
  globalNamespaces: globalNamespaces.default(["default"]),
  systemNamespaces: z.array(z.string()).default(["kube-system"]),
  /** Where clusterNetwork/defaultNetworks NADs live (and default-network annotations point). */
  multusNamespace: z.string().default("kube-system"),
  readinessindicatorfile: optionalAbsolutePath.default(""),
  /** How long ADD waits for the readiness indicator file (Multus: 45 s). */
  readinessTimeoutSeconds: z.number().nonnegative().max(600).default(45),
  logFile: optionalAbsolutePath.default(""),
  logLevel: z.string().toLowerCase().pipe(z.enum(LOG_LEVELS)).default("warn"),
  logToStderr: z.boolean().default(true),
  /** Device Information Specification files (dp/ from device plugins, cni/ per attachment). */
  deviceInfoDir: absolutePath.default("/var/run/k8s.cni.cncf.io/devinfo"),
  /** Deadline of one delegate plugin execution. Multus has none. */
  delegateTimeoutSeconds: z.number().positive().max(3600).default(120),
  kubernetes: KubernetesSettingsSchema.default(KubernetesSettingsSchema.parse({})),
  kubelet: KubeletSettingsSchema.default(KubeletSettingsSchema.parse({})),
  /**
   * Refuse a selection annotation with unknown keys (or duplicates, or a conflicting deprecated
   * key) instead of ignoring them with a warning as Multus does (docs/compatibility.md).
   */
  strictSelections: z.boolean().default(false),
  /**
   * A chain of the plugin confs in `<dir of clusterNetwork>/<name>/*.conf`, run last on every
   * pod (Multus's auxiliary chain, docs/compatibility.md#auxiliary-chain).
   */
  auxiliaryCNIChainName: z.string().optional(),
  /**
   * Multus's cniDir on a node Plexus took over: DEL of a pod Plexus has no state for, that Multus
   * set up, reads Multus's caches there (docs/migration.md). "" = no Multus on this node.
   */
  multusCniDir: z.string().default(""),
});

export type PlexusNetConf = z.infer<typeof PlexusNetConfSchema>;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Keys Multus reads or documents that Plexus accepts and deliberately ignores. */
const IGNORED_MULTUS_KEYS = new Set([
  "logOptions",
  "retryDeleteOnError",
  "cniConf",
  "defaultnetworkfile",
  "defaultnetworkwaitseconds",
]);
/** Keys a runtime adds to every plugin config (CNI SPEC §3). */
const RUNTIME_KEYS = new Set(["prevResult", "args", "cni.dev/valid-attachments", "cni.dev/attachments"]);

export interface LoadedNetConf {
  readonly conf: PlexusNetConf;
  /** Top-level keys nobody reads: worth a warning, since a typo would otherwise do nothing. */
  readonly unknownKeys: readonly string[];
  /** Values replaced by their default, each a sentence for a warning (e.g. an unknown logLevel). */
  readonly replaced: readonly string[];
}

export function parsePlexusNetConf(raw: unknown): LoadedNetConf {
  const { input, replaced } = withMultusReadings(raw);
  const parsed = PlexusNetConfSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".") || "(config)";
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `invalid Plexus network configuration: field "${field}": ${issue?.message}`,
      {
        details: z.prettifyError(parsed.error),
      },
    );
  }
  const conf = parsed.data;
  if (conf.clusterNetwork === "" && conf.delegates.length === 0) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      "invalid Plexus network configuration: set clusterNetwork or delegates",
    );
  }
  const known = new Set(Object.keys(PlexusNetConfSchema.shape));
  const unknownKeys = Object.keys(raw as object).filter(
    (k) => !known.has(k) && !IGNORED_MULTUS_KEYS.has(k) && !RUNTIME_KEYS.has(k),
  );
  return { conf, unknownKeys, replaced };
}

/** Multus's directories, which it reads as its default when empty (pkg/types/conf.go). */
const DEFAULT_WHEN_EMPTY = ["confDir", "cniDir", "binDir"] as const;

/**
 * Values Multus reads as its default, read so here too, each named for a warning
 * (docs/compatibility.md, "Input tolerance"): an unknown logLevel (Multus prints a complaint and
 * keeps its default: a log setting must not stop every pod's networking), `null` for a key
 * (Go's JSON decoding leaves the field at its zero value, then the default applies) and `""` for
 * the directories Multus defaults when empty.
 */
function withMultusReadings(raw: unknown): { input: unknown; replaced: string[] } {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { input: raw, replaced: [] };
  const input = { ...(raw as Record<string, unknown>) };
  const replaced: string[] = [];
  const level = input["logLevel"];
  if (typeof level === "string" && !(LOG_LEVELS as readonly string[]).includes(level.toLowerCase())) {
    delete input["logLevel"];
    replaced.push(`logLevel ${JSON.stringify(level)} is not one of ${LOG_LEVELS.join(", ")}: using "warn"`);
  }
  // cniVersion stays as it is: it decides the version of the answer, errors included.
  for (const key of Object.keys(PlexusNetConfSchema.shape)) {
    if (key === "cniVersion" || input[key] !== null) continue;
    delete input[key];
    replaced.push(`${key}: null is read as the default, as Multus reads it`);
  }
  for (const key of DEFAULT_WHEN_EMPTY) {
    if (input[key] !== "") continue;
    delete input[key];
    replaced.push(`${key}: "" is read as the default, as Multus reads it`);
  }
  return { input, replaced };
}
