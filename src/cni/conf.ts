// Network configurations: a list (conflist) of plugin configurations, or a legacy single
// plugin config that is read as a one-plugin list. Unknown keys are never dropped: each plugin
// keeps its raw JSON, and Plexus only injects the keys the spec gives the runtime.
// CNI SPEC §1; libcni libcni/conf.go NetworkConfFromBytes, ConfListFromConf.

import { CniError, ErrorCode } from "./error.js";
import { compareVersions, CURRENT_VERSION } from "./version.js";

export type JsonObject = { readonly [key: string]: unknown };

export interface PluginConf {
  readonly type: string;
  /** Enabled capabilities only (`false` entries are ignored, as libcni does). */
  readonly capabilities: readonly string[];
  /** The plugin object exactly as written, foreign keys included. */
  readonly raw: JsonObject;
}

export interface NetworkConfigList {
  readonly name: string;
  /** The version selected from cniVersion and cniVersions (spec §1 "Version considerations"). */
  readonly cniVersion: string;
  readonly disableCheck: boolean;
  readonly disableGC: boolean;
  readonly plugins: readonly PluginConf[];
  /** The list object as written (or the list a legacy config was up-converted to). */
  readonly raw: JsonObject;
}

function fail(msg: string, details?: string): never {
  throw new CniError(ErrorCode.InvalidNetworkConfig, msg, { details });
}

/** Parses JSON text into an object, or fails with a decoding error naming `what`. */
export function parseJsonObject(text: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CniError(ErrorCode.DecodingFailure, `error parsing ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CniError(ErrorCode.DecodingFailure, `error parsing ${what}: not a JSON object`);
  }
  return value as JsonObject;
}

/** A legacy single-plugin config has a top-level `type`; a list has `plugins`. */
export function isConfList(o: JsonObject): boolean {
  return typeof o["type"] !== "string" || o["type"] === "";
}

/** Reads a conflist object, or a single plugin config up-converted to a one-plugin list. */
export function parseNetworkConfig(o: JsonObject): NetworkConfigList {
  return isConfList(o) ? parseConfList(o) : parseConfList(confToList(o));
}

/** libcni ConfListFromConf: `{cniVersion, name, plugins: [conf]}`. */
export function confToList(conf: JsonObject): JsonObject {
  return {
    ...(conf["cniVersion"] !== undefined ? { cniVersion: conf["cniVersion"] } : {}),
    ...(conf["name"] !== undefined ? { name: conf["name"] } : {}),
    plugins: [conf],
  };
}

export function parseConfList(o: JsonObject): NetworkConfigList {
  const name = o["name"];
  if (name === undefined) fail("error parsing configuration list: no name");
  if (typeof name !== "string") fail(`error parsing configuration list: invalid name type ${jsonType(name)}`);
  if (name === "") fail("error parsing configuration list: no name");
  const plugins = o["plugins"];
  if (!Array.isArray(plugins)) fail(`error parsing configuration list ${JSON.stringify(name)}: no 'plugins' list`);
  if (plugins.length === 0) fail(`error parsing configuration list ${JSON.stringify(name)}: no plugins in list`);
  return {
    name,
    cniVersion: selectVersion(o),
    disableCheck: parseFlag(o, "disableCheck"),
    disableGC: parseFlag(o, "disableGC"),
    plugins: plugins.map((p, i) => parsePlugin(p, i)),
    raw: o,
  };
}

function parsePlugin(p: unknown, index: number): PluginConf {
  if (typeof p !== "object" || p === null || Array.isArray(p)) {
    fail(`failed to parse plugin config ${index}: not a JSON object`);
  }
  const raw = p as JsonObject;
  const type = raw["type"];
  if (typeof type !== "string" || type === "") {
    fail(`failed to parse plugin config ${index}: error parsing configuration: missing 'type'`);
  }
  const caps = raw["capabilities"];
  if (caps !== undefined && caps !== null && (typeof caps !== "object" || Array.isArray(caps))) {
    fail(`failed to parse plugin config ${index} (type ${JSON.stringify(type)}): 'capabilities' must be an object`);
  }
  // libcni decodes capabilities into map[string]bool: a value that is not a boolean is an error,
  // but null is not (Go's encoding/json leaves a nil map, or a false value, for it).
  const entries = Object.entries((caps ?? {}) as JsonObject);
  const notBool = entries.find(([, on]) => typeof on !== "boolean" && on !== null);
  if (notBool) {
    fail(
      `failed to parse plugin config ${index} (type ${JSON.stringify(type)}): ` +
        `capability ${JSON.stringify(notBool[0])} must be true or false`,
    );
  }
  return { type, capabilities: entries.filter(([, on]) => on === true).map(([k]) => k), raw };
}

/**
 * cniVersions entries above what we support are dropped, cniVersion joins the rest and the
 * highest wins; when nothing is left cniVersion stands as written (libcni NetworkConfFromBytes).
 */
function selectVersion(o: JsonObject): string {
  const single = o["cniVersion"];
  if (single !== undefined && typeof single !== "string")
    fail("error parsing configuration list: invalid cniVersion type");
  const many = o["cniVersions"];
  if (many === undefined) return single ?? "";
  if (!Array.isArray(many)) fail("error parsing configuration list: cniVersions must be a list");
  const supported = (v: string, what: string): boolean => {
    try {
      return compareVersions(v, CURRENT_VERSION) <= 0;
    } catch (err) {
      return fail(`error parsing configuration list: invalid ${what}: ${(err as Error).message}`);
    }
  };
  const candidates: string[] = [];
  many.forEach((v, i) => {
    if (typeof v !== "string")
      fail(`error parsing configuration list: invalid cniVersions entry ${JSON.stringify(v)} at index ${i}`);
    if (supported(v, `cniVersions entry ${v} at index ${i}`)) candidates.push(v);
  });
  if (single !== undefined && single !== "" && supported(single, `cniVersion ${single}`)) candidates.push(single);
  if (candidates.length === 0) return single ?? "";
  return candidates.reduce((best, v) => (compareVersions(v, best) > 0 ? v : best));
}

/** JSON booleans, or the strings "true"/"false" in any case (libcni accepts both). */
function parseFlag(o: JsonObject, key: string): boolean {
  const v = o[key];
  if (v === undefined) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false)$/i.test(v)) return v.toLowerCase() === "true";
  const shown = typeof v === "string" ? v.toLowerCase() : v;
  return fail(`error parsing configuration list: invalid value ${JSON.stringify(shown)} for ${key}`);
}

function jsonType(v: unknown): string {
  if (typeof v === "number") return "float64"; // libcni's wording, kept for familiarity
  return Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
}
