// Executing a network configuration list, as libcni's AddNetworkList, DelNetworkList,
// CheckNetworkList, GetStatusNetworkList and GCNetworkList do. CNI SPEC §3 "Execution of Network
// Configurations"; libcni libcni/api.go. Plugin execution comes in as `run`, so this file only
// sequences.

import { formatCniArgs } from "../cni/args.js";
import type { NetworkConfigList, PluginConf } from "../cni/conf.js";
import { convertResult } from "../cni/convert.js";
import type { CniCommand } from "../cni/env.js";
import { CniError, ErrorCode, toCniError } from "../cni/error.js";
import { parseNetworkName } from "../cni/ids.js";
import { parseResult, type AnyResult } from "../cni/result.js";
import { versionAllows, versionAtLeast } from "../cni/version.js";
import { pluginFailure, type PluginRef } from "./exec-plugin.js";
import { buildGcConfig, buildPluginConfig, buildStatusConfig } from "./plugin-config.js";
import type { PluginExecution, RuntimeConf, ValidAttachment } from "./types.js";

/** Executes one plugin of a list (execPlugin with the runtime's options bound). */
export type RunPlugin = (plugin: PluginConf, exec: PluginExecution, signal: AbortSignal) => Promise<unknown>;

/** How an error names a plugin of a list: its type and its own `name`, if any (libcni). */
export function pluginRef(plugin: PluginConf): PluginRef {
  const name = plugin.raw["name"];
  return { type: plugin.type, name: typeof name === "string" ? name : undefined };
}

function attachment(command: CniCommand, rt: RuntimeConf, stdin: PluginExecution["stdin"]): PluginExecution {
  return {
    command,
    containerId: rt.containerId,
    netns: rt.netns,
    ifName: rt.ifName,
    args: formatCniArgs(rt.args),
    owner: rt.owner,
    stdin,
  };
}

/**
 * ADD in order, each plugin getting the previous one's result (the first one `from`, if given);
 * stops at the first failure.
 */
export async function addNetworkList(
  run: RunPlugin,
  list: NetworkConfigList,
  rt: RuntimeConf,
  signal: AbortSignal,
  from?: AnyResult,
): Promise<AnyResult> {
  parseNetworkName(list.name); // libcni validates the name before any ADD
  let result: AnyResult | undefined = from;
  for (const plugin of list.plugins) {
    const out = await run(
      plugin,
      attachment("ADD", rt, buildPluginConfig(list, plugin, result, rt.capabilityArgs)),
      signal,
    );
    try {
      // A result without cniVersion has the config's version (libcni pkg/invoke/exec.go
      // fixupResultVersion).
      result = parseResult(out, list.cniVersion);
    } catch (err) {
      throw pluginFailure(pluginRef(plugin), "ADD", err);
    }
  }
  if (result === undefined)
    throw new CniError(ErrorCode.InvalidNetworkConfig, `network ${JSON.stringify(list.name)} has no plugins`);
  return result;
}

/**
 * DEL in reverse order. Every plugin is tried even when an earlier one failed (DEL is best
 * effort, SPEC §2); the failures come back as one error with the first failure's code.
 */
export async function delNetworkList(
  run: RunPlugin,
  list: NetworkConfigList,
  rt: RuntimeConf,
  prevResult: AnyResult | undefined,
  signal: AbortSignal,
): Promise<void> {
  const prev = delPrevResult(list, prevResult);
  const failures: CniError[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await run(plugin, attachment("DEL", rt, buildPluginConfig(list, plugin, prev, rt.capabilityArgs)), signal);
    } catch (err) {
      failures.push(toCniError(err));
    }
  }
  throwFailures(failures, list.plugins.length);
}

/**
 * prevResult on DEL exists since 0.4.0 and is the ADD result in the list's version (CNI SPEC §3,
 * libcni DelNetworkList).
 * One that cannot be converted is left out, as libcni drops a cache entry it cannot read:
 * plugins must cope without it, and DEL must not fail for want of it.
 */
function delPrevResult(list: NetworkConfigList, prevResult: AnyResult | undefined): AnyResult | undefined {
  if (prevResult === undefined || !versionAtLeast(list.cniVersion, "0.4.0")) return undefined;
  try {
    return convertResult(prevResult, list.cniVersion);
  } catch {
    return undefined;
  }
}

/** CHECK in order with the ADD result in the list's version; stops at the first failure. */
export async function checkNetworkList(
  run: RunPlugin,
  list: NetworkConfigList,
  rt: RuntimeConf,
  prevResult: AnyResult | undefined,
  signal: AbortSignal,
): Promise<void> {
  if (!versionAllows("CHECK", list.cniVersion)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `configuration version ${JSON.stringify(list.cniVersion)} does not support the CHECK command`,
    );
  }
  if (list.disableCheck) return;
  const prev = prevResult === undefined ? undefined : convertResult(prevResult, list.cniVersion);
  for (const plugin of list.plugins) {
    await run(plugin, attachment("CHECK", rt, buildPluginConfig(list, plugin, prev, rt.capabilityArgs)), signal);
  }
}

/** STATUS of each plugin, lists >= 1.1.0 only; the first failure is returned as it is. */
export async function statusNetworkList(run: RunPlugin, list: NetworkConfigList, signal: AbortSignal): Promise<void> {
  if (!versionAllows("STATUS", list.cniVersion)) return;
  for (const plugin of list.plugins) {
    await run(plugin, { command: "STATUS", stdin: buildStatusConfig(list, plugin) }, signal);
  }
}

/**
 * GC on every plugin with the attachments still valid (lists >= 1.1.0, unless disableGC).
 * Every plugin runs; the failures are joined. Deleting the stale attachments of an older list
 * (libcni GCNetworkList) needs the attachment cache, so it is the engine's part, not this one.
 */
export async function gcNetworkList(
  run: RunPlugin,
  list: NetworkConfigList,
  valid: readonly ValidAttachment[],
  signal: AbortSignal,
): Promise<void> {
  if (list.disableGC || !versionAllows("GC", list.cniVersion)) return;
  const failures: CniError[] = [];
  for (const plugin of list.plugins) {
    try {
      await run(plugin, { command: "GC", stdin: buildGcConfig(list, plugin, valid) }, signal);
    } catch (err) {
      failures.push(toCniError(err));
    }
  }
  throwFailures(failures, list.plugins.length);
}

/** One failure as it is; several as one error that names them all, with the first one's code. */
function throwFailures(failures: readonly CniError[], total: number): void {
  const [first] = failures;
  if (first === undefined) return;
  if (failures.length === 1) throw first;
  const msg = `${failures.length} of ${total} plugins failed: ${failures.map((f) => f.message).join("; ")}`;
  throw new CniError(first.code, msg, { cause: new AggregateError(failures, msg) });
}
