// Taking a node over from Multus (takeOverMultus, docs/migration.md). Multus's generated config
// (00-multus.conf or .conflist, thin `multus` or thick `multus-shim`) sorts before Plexus's, so
// the runtime would keep running Multus: the agent adopts the settings that carry over, writes
// 00-plexus.conflist, then renames Multus's file out of the runtime's view (<file>.replaced-by-plexus,
// kept for the way back). The renamed file stays the source of the adopted settings, so a
// restarted agent writes the same config.
//
// What carries over (Multus pkg/types/types.go NetConf; the thin entrypoint and the thick daemon
// write these keys into the file): defaultNetworks, namespaceIsolation, globalNamespaces,
// systemNamespaces, multusNamespace, confDir, logLevel, logFile, logToStderr,
// readinessindicatorfile, auxiliaryCNIChainName; clusterNetwork as the primary (a file of the
// conf dir, even through the thick daemon's /host prefix) or verbatim (a NAD or network name, a
// path elsewhere); cniDir becomes multusCniDir, where Plexus reads Multus's caches on DEL of the
// pods Multus set up. What does not: kubeconfig, binDir, cniDir as Plexus's own state, and
// Multus-only keys (retryDeleteOnError, logOptions, cniConf, which Multus itself never reads).

import { join } from "node:path";
import { isJsonObject, parseConfJson } from "../cni/untrusted-conf.js";
import type { JsonObject } from "../cni/conf.js";
import { candidateConfFiles, type ConfDirReader } from "../runtime/conf-files.js";

/** Multus's cniDir default (pkg/types/conf.go). */
const MULTUS_DEFAULT_CNI_DIR = "/var/lib/cni/multus";
export const REPLACED_SUFFIX = ".replaced-by-plexus";
const MULTUS_TYPES = new Set(["multus", "multus-shim"]);

const CARRIED_KEYS = [
  "defaultNetworks",
  "namespaceIsolation",
  "globalNamespaces",
  "systemNamespaces",
  "multusNamespace",
  "confDir",
  "logLevel",
  "logFile",
  "logToStderr",
  "readinessindicatorfile",
  "auxiliaryCNIChainName",
] as const;

export interface MultusTakeover {
  /** Multus's config files the runtime would still load: renamed once ours is written. */
  readonly active: readonly string[];
  /** The file the settings come from (an active one, or an earlier one already renamed). */
  readonly source: string;
  /** The primary as a file of the conf dir, when Multus's clusterNetwork names one. */
  readonly primaryFile: string | undefined;
  /** clusterNetwork to use verbatim (a NAD or network name, or a path outside the conf dir). */
  readonly clusterNetwork: string | undefined;
  /** Plugin keys adopted from Multus, multusCniDir included. */
  readonly plugin: Readonly<Record<string, unknown>>;
  /** Multus's top-level cniVersion and capabilities, for a clusterNetwork that is not a file here. */
  readonly cniVersion: string;
  readonly capabilities: Readonly<Record<string, true>>;
}

export type TakeoverLookup =
  | { readonly kind: "none" }
  | { readonly kind: "found"; readonly takeover: MultusTakeover }
  | { readonly kind: "invalid"; readonly file: string; readonly problem: string };

/**
 * Multus's config in the agent-side conf dir `dir` (host path `hostDir`): the active files first,
 * else the last one Plexus replaced.
 */
export async function findMultusTakeover(dir: string, hostDir: string, reader: ConfDirReader): Promise<TakeoverLookup> {
  const names = await reader.list(dir);
  const active: { file: string; plugin: JsonObject; cniVersion: string }[] = [];
  for (const file of candidateConfFiles(names)) {
    const text = await reader.read(join(dir, file)).catch(() => undefined);
    const found = text === undefined ? undefined : multusPlugin(text);
    if (found) active.push({ file, ...found });
  }
  let source = active[0];
  if (source === undefined) {
    for (const file of names.filter((n) => n.endsWith(REPLACED_SUFFIX)).sort()) {
      const text = await reader.read(join(dir, file)).catch(() => undefined);
      const found = text === undefined ? undefined : multusPlugin(text);
      if (found) {
        source = { file, ...found };
        break;
      }
    }
  }
  if (source === undefined) return { kind: "none" };
  const plugin: Record<string, unknown> = {};
  for (const key of CARRIED_KEYS) if (source.plugin[key] !== undefined) plugin[key] = source.plugin[key];
  const cniDir = source.plugin["cniDir"];
  plugin["multusCniDir"] = typeof cniDir === "string" && cniDir !== "" ? cniDir : MULTUS_DEFAULT_CNI_DIR;
  const cluster = clusterNetworkOf(source.plugin, hostDir, candidateConfFiles(names));
  if (cluster.problem) return { kind: "invalid", file: source.file, problem: cluster.problem };
  return {
    kind: "found",
    takeover: {
      active: active.map((a) => a.file),
      source: source.file,
      primaryFile: cluster.primaryFile,
      clusterNetwork: cluster.verbatim,
      plugin,
      cniVersion: source.cniVersion,
      capabilities: trueCapabilities(source.plugin["capabilities"]),
    },
  };
}

/** The multus plugin of a config file (a conf, or a list whose plugin it is), with the file's cniVersion. */
function multusPlugin(text: string): { plugin: JsonObject; cniVersion: string } | undefined {
  const parsed = parseConfJson(text);
  if (!parsed.ok || !isJsonObject(parsed.value)) return undefined;
  const file = parsed.value;
  const plugins = Array.isArray(file["plugins"]) ? file["plugins"] : [file];
  const plugin = plugins.find((p): p is JsonObject => isJsonObject(p) && MULTUS_TYPES.has(String(p["type"])));
  if (!plugin) return undefined;
  const version = file["cniVersion"] ?? plugin["cniVersion"];
  return { plugin, cniVersion: typeof version === "string" ? version : "" };
}

/**
 * Multus's clusterNetwork as Plexus will use it. A path to a file of this conf dir (the thin
 * entrypoint writes the host path; the thick daemon its own view of it, /host/etc/cni/net.d/...)
 * becomes the primary file; anything else is kept as written. No clusterNetwork (the thin
 * entrypoint's `delegates` form): the primary is found as usual, the first file of the conf dir.
 */
function clusterNetworkOf(
  plugin: JsonObject,
  hostDir: string,
  files: readonly string[],
): { primaryFile?: string; verbatim?: string; problem?: string } {
  const value = plugin["clusterNetwork"];
  if (value === undefined || value === "") {
    if (Array.isArray(plugin["delegates"]) && plugin["delegates"].length > 0) return {};
    return { problem: "Multus's config has neither clusterNetwork nor delegates" };
  }
  if (typeof value !== "string") return { problem: "Multus's clusterNetwork is not a string" };
  if (!value.startsWith("/")) return { verbatim: value };
  const file = value.slice(value.lastIndexOf("/") + 1);
  const dir = value.slice(0, value.lastIndexOf("/"));
  if ((dir === hostDir || dir.endsWith(hostDir)) && files.includes(file)) return { primaryFile: file };
  return { verbatim: value };
}

function trueCapabilities(value: unknown): Record<string, true> {
  if (!isJsonObject(value)) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v === true)) as Record<string, true>;
}
