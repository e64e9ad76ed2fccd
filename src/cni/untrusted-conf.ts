// A delegate's configuration from outside Plexus's own config: a NAD's spec.config (namespaced
// user input) or a file in a conf dir. Every one is size- and depth-bounded before it is
// parsed, and checked for the values that become file names: the network name names cache
// files, plugin types and IPAM types name binaries. None of those binaries may be Plexus.

import { parseBoundedJson, type BoundedParse } from "./bounded-json.js";
import { parseNetworkConfig, type JsonObject, type NetworkConfigList } from "./conf.js";
import { CniError, ErrorCode } from "./error.js";
import { isValidNetworkName, pluginTypeProblem, SELF_PLUGIN_TYPES } from "./ids.js";

/** Config files and NAD configs larger than this are refused (real ones are a few KiB). */
export const MAX_CONF_BYTES = 1024 * 1024;
/** Deepest JSON nesting in a delegate config; plugin configs nest 5-6 levels. */
const MAX_CONF_JSON_DEPTH = 64;

/** The JSON text of a config, within the bounds above. */
export function parseConfJson(text: string): BoundedParse {
  return parseBoundedJson(text, { maxBytes: MAX_CONF_BYTES, maxDepth: MAX_CONF_JSON_DEPTH });
}

/** A conf or conflist object as a list, with its name and plugin types safe to use as file names. */
export function validateDelegateConfig(raw: JsonObject, origin: string): NetworkConfigList {
  let list: NetworkConfigList;
  try {
    list = parseNetworkConfig(raw);
  } catch (err) {
    throw err instanceof CniError ? err.withContext(origin) : err;
  }
  if (!isValidNetworkName(list.name)) {
    invalid(
      `${origin}: network name ${JSON.stringify(list.name)} is invalid: ` +
        "it must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (it names cache files)",
    );
  }
  list.plugins.forEach((p, i) => {
    checkBinaryName(p.type, `${origin}: plugin ${i} has type`);
    // The main plugin executes its IPAM plugin by this name (libcni ipam.ExecAdd); a path or
    // Plexus there fails inside the plugin, after it made its interface, and its DEL fails on
    // the same lookup: refused here, before anything runs.
    const ipam = p.raw["ipam"];
    if (isJsonObject(ipam) && ipam["type"] !== undefined) {
      if (typeof ipam["type"] !== "string") invalid(`${origin}: plugin ${i} has an ipam type that is not a string`);
      checkBinaryName(ipam["type"], `${origin}: plugin ${i} has ipam type`);
    }
  });
  return list;
}

/** A plugin or IPAM type: a file name in the bin dirs, and not Plexus's own. */
function checkBinaryName(type: string, what: string): void {
  if (pluginTypeProblem(type) !== undefined) {
    invalid(`${what} ${JSON.stringify(type)}; a type is a plugin binary's file name, not a path`);
  }
  if (SELF_PLUGIN_TYPES.includes(type)) {
    invalid(
      `${what} ${JSON.stringify(type)}; that is Plexus itself, which would run the same networks again, without end`,
    );
  }
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function invalid(msg: string): never {
  throw new CniError(ErrorCode.InvalidNetworkConfig, msg);
}
