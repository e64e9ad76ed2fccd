// What a selection changes in its delegate's configuration: cni-args merged into every
// plugin's args.cni, and the runtimeConfig values (capability args) it requests.
// Multi-net spec §4.1.2.1 (v1.1+), CNI CONVENTIONS.md; Multus injectCNIArgs, mergeCNIRuntimeConfig.

import type { JsonObject, NetworkConfigList, PluginConf } from "../cni/conf.js";
import { CniError, ErrorCode } from "../cni/error.js";
import type { NetworkSelection } from "./selection.js";

/**
 * Every plugin's `args.cni` with `cniArgs` merged in, the annotation winning over the NAD
 * (Multus behaviour; spec: the annotation has priority). Other `args` keys are kept. Nothing is
 * mutated: changed objects are copies.
 */
export function injectCniArgs(
  list: NetworkConfigList,
  cniArgs: JsonObject,
  ctx: { readonly pod?: string; readonly network?: string } = {},
): NetworkConfigList {
  if (Object.keys(cniArgs).length === 0) return list;
  const plugins: PluginConf[] = list.plugins.map((p, i) => ({ ...p, raw: withCniArgs(p.raw, cniArgs, i, list, ctx) }));
  return { ...list, plugins, raw: { ...list.raw, plugins: plugins.map((p) => p.raw) } };
}

function withCniArgs(
  raw: JsonObject,
  cniArgs: JsonObject,
  index: number,
  list: NetworkConfigList,
  ctx: { readonly pod?: string; readonly network?: string },
): JsonObject {
  const args = raw["args"] ?? {};
  const cni = isObject(args) ? (args["cni"] ?? {}) : undefined;
  if (!isObject(args) || !isObject(cni)) {
    const where = [ctx.pod && `pod ${ctx.pod}`, `network ${ctx.network ?? list.name}`].filter(Boolean).join(": ");
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `${where}: cannot apply cni-args: plugin ${index} (type ${JSON.stringify(raw["type"])}) has ${isObject(args) ? '"args.cni"' : '"args"'} that is not a JSON object`,
    );
  }
  return { ...raw, args: { ...args, cni: { ...cni, ...cniArgs } } };
}

/** Selection key (as written in the annotation) -> capability / runtimeConfig key. */
const REQUIRED_CAPABILITIES = [
  { key: "ips", capability: "ips", hint: "the plugin whose IPAM takes static addresses" },
  { key: "mac", capability: "mac", hint: "e.g. tuning" },
  { key: "portMappings", capability: "portMappings", hint: "e.g. portmap" },
  { key: "bandwidth", capability: "bandwidth", hint: "e.g. bandwidth" },
  { key: "infiniband-guid", capability: "infinibandGUID", hint: "e.g. ib-sriov" },
] as const;

/**
 * The capability args (libcni CapabilityArgs: offered as runtimeConfig to the plugins that
 * declare each key) of a selected network. Every value the selection requests needs at least one
 * plugin of the list declaring its capability, else the attachment fails (spec §4.1.2.1: a
 * request nobody applies must not silently do nothing). deviceID and CNIDeviceInfoFile are
 * offered without that check: they describe the device, they do not ask for anything.
 * `device.deviceId` (the device-plugin allocation) wins over the selection's deviceID, as in Multus.
 */
export function capabilityArgsFor(
  selection: NetworkSelection,
  list: NetworkConfigList,
  ctx: { readonly pod: string; readonly network: string },
  device: { readonly deviceId?: string; readonly deviceInfoFile?: string } = {},
): Record<string, unknown> {
  const requested: Record<string, unknown> = {
    ips: selection.ips,
    mac: selection.mac,
    portMappings: selection.portMappings,
    bandwidth: selection.bandwidth,
    infinibandGUID: selection.infinibandGuid,
  };
  const declared = new Set(list.plugins.flatMap((p) => p.capabilities));
  const missing = REQUIRED_CAPABILITIES.filter(
    (c) => requested[c.capability] !== undefined && !declared.has(c.capability),
  );
  if (missing.length > 0) {
    const what = missing.map(
      (c) => `${c.key} needs a plugin declaring "capabilities": {"${c.capability}": true} (${c.hint})`,
    );
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `pod ${ctx.pod}: network ${ctx.network}: the selection requests ${missing.map((c) => c.key).join(", ")}, ` +
        `but no plugin in CNI config ${JSON.stringify(list.name)} would apply it: ${what.join("; ")}`,
    );
  }
  const deviceId = device.deviceId ?? selection.deviceId;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(requested)) if (v !== undefined) out[k] = v;
  if (deviceId !== undefined) out["deviceID"] = deviceId;
  if (device.deviceInfoFile !== undefined) out["CNIDeviceInfoFile"] = device.deviceInfoFile;
  return out;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
