// The config one plugin of a list receives on stdin. CNI SPEC §3 "Deriving execution
// configuration"; libcni buildOneConfig and injectRuntimeConfig (libcni/api.go).
// The plugin's own keys are kept exactly: only the keys the spec gives the runtime are set.

import type { JsonObject, NetworkConfigList, PluginConf } from "../cni/conf.js";
import { formatResult, type AnyResult } from "../cni/result.js";
import type { ValidAttachment } from "./types.js";

/**
 * name and cniVersion of the list (overriding the plugin's), then prevResult in its own version
 * when there is one, then runtimeConfig when the plugin declares a capability the runtime has
 * an argument for. `capabilities` stays, as libcni leaves it.
 */
export function buildPluginConfig(
  list: NetworkConfigList,
  plugin: PluginConf,
  prevResult: AnyResult | undefined,
  capabilityArgs: Readonly<Record<string, unknown>>,
): JsonObject {
  const runtimeConfig = selectRuntimeConfig(plugin.capabilities, capabilityArgs);
  return {
    ...plugin.raw,
    name: list.name,
    cniVersion: list.cniVersion,
    ...(prevResult !== undefined ? { prevResult: formatResult(prevResult) } : {}),
    // Replaces any runtimeConfig written in the plugin object, but only when non-empty (libcni
    // injectRuntimeConfig).
    ...(runtimeConfig !== undefined ? { runtimeConfig } : {}),
  };
}

/** The capability arguments the plugin asked for (enabled capabilities only), or undefined. */
export function selectRuntimeConfig(
  capabilities: readonly string[],
  capabilityArgs: Readonly<Record<string, unknown>>,
): JsonObject | undefined {
  const picked = capabilities
    .filter((c) => Object.hasOwn(capabilityArgs, c) && capabilityArgs[c] !== undefined)
    .map((c) => [c, capabilityArgs[c]] as const);
  return picked.length > 0 ? Object.fromEntries(picked) : undefined;
}

/** STATUS: the plugin object with the list's name and cniVersion (libcni InjectConf). */
export function buildStatusConfig(list: NetworkConfigList, plugin: PluginConf): JsonObject {
  return { ...plugin.raw, name: list.name, cniVersion: list.cniVersion };
}

/**
 * GC: the plugin object with name, cniVersion and the attachments that are still valid, under
 * both keys: the spec's `cni.dev/valid-attachments` and the `cni.dev/attachments` of the
 * spec-v1.1.0 tag, which libcni also sends (containernetworking/cni #1101).
 */
export function buildGcConfig(
  list: NetworkConfigList,
  plugin: PluginConf,
  valid: readonly ValidAttachment[],
): JsonObject {
  const attachments = valid.map((a) => ({ containerID: a.containerID, ifname: a.ifname }));
  return {
    ...buildStatusConfig(list, plugin),
    "cni.dev/valid-attachments": attachments,
    "cni.dev/attachments": attachments,
  };
}
