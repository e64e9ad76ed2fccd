// What a selection changes in its delegate's configuration: cni-args merged into every
// plugin's args.cni, and the runtimeConfig values (capability args) it requests.
// Multi-net spec §4.1.2.1 (v1.1+), CNI CONVENTIONS.md; Multus injectCNIArgs, mergeCNIRuntimeConfig.

import type { JsonObject, NetworkConfigList, PluginConf } from "../cni/conf.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { addressIp, canonicalIpOrCidr } from "../cni/ip.js";
import type { Result100 } from "../cni/result.js";
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
      `${where}: cannot apply cni-args: plugin ${index} (type ${JSON.stringify(raw["type"])}) ` +
        `has ${isObject(args) ? '"args.cni"' : '"args"'} that is not a JSON object`,
    );
  }
  return { ...raw, args: { ...args, cni: { ...cni, ...cniArgs } } };
}

/**
 * Selection key (as written in the annotation) -> capability / runtimeConfig key, for the
 * requests that only runtimeConfig can carry. `ips` and `mac` are not here: they also travel as
 * CNI_ARGS IP= and MAC= (selectionCniArgs), which static IPAM and tuning apply without any
 * capability, and the engine checks the result instead (argsOnlyRequests).
 */
const REQUIRED_CAPABILITIES = [
  { key: "portMappings", capability: "portMappings", hint: "e.g. portmap" },
  { key: "bandwidth", capability: "bandwidth", hint: "e.g. bandwidth" },
  { key: "infiniband-guid", capability: "infinibandGUID", hint: "e.g. ib-sriov" },
] as const;

/**
 * The capability args (libcni CapabilityArgs: offered as runtimeConfig to the plugins that
 * declare each key) of a selected network. portMappings, bandwidth and infiniband-guid need at
 * least one plugin of the list declaring its capability, else the attachment fails (spec
 * §4.1.2.1: a request nobody applies must not silently do nothing). deviceID and CNIDeviceInfoFile are
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

/**
 * CNI_ARGS a selection adds for its delegates, as Multus does on ADD (multus-cni
 * pkg/multus/multus.go DelegateAdd, docs/compatibility.md#input-tolerance): `MAC=<mac>`, then
 * `IP=<ips joined by ",">`, whatever the plugins' capabilities. Static IPAM reads `IP`
 * (comma-separated CIDRs), tuning reads `MAC`, so NADs written for Multus work without
 * capabilities. Plexus sends them on DEL and CHECK too: CNI SPEC §3 wants the ADD's parameters
 * there, and the attachment's record keeps them.
 */
export function selectionCniArgs(selection: NetworkSelection): [string, string][] {
  return [
    ...(selection.mac !== undefined ? [["MAC", selection.mac] as [string, string]] : []),
    ...(selection.ips !== undefined ? [["IP", selection.ips.join(",")] as [string, string]] : []),
  ];
}

/** What a selection asks for that travels only as CNI_ARGS (no plugin declares its capability). */
export interface ArgsOnlyRequests {
  readonly ips?: readonly string[];
  readonly mac?: string;
}

/**
 * The selection's `ips` and `mac` that no plugin of the list declares a capability for: they
 * reach the plugins only as CNI_ARGS IP=/MAC=, which a plugin may ignore. The engine checks the
 * ADD result shows them (the multi-net spec v1.0 rule), so a pod never runs with an address or
 * MAC other than the one it asked for. Undefined when there is nothing to check.
 */
export function argsOnlyRequests(selection: NetworkSelection, list: NetworkConfigList): ArgsOnlyRequests | undefined {
  const declared = new Set(list.plugins.flatMap((p) => p.capabilities));
  const ips = selection.ips !== undefined && !declared.has("ips") ? selection.ips : undefined;
  const mac = selection.mac !== undefined && !declared.has("mac") ? selection.mac : undefined;
  if (ips === undefined && mac === undefined) return undefined;
  return { ...(ips ? { ips } : {}), ...(mac ? { mac } : {}) };
}

/**
 * Whether the ADD result shows what was asked for through CNI_ARGS only: every requested
 * address among the result's (prefix compared when one was requested), the MAC on the
 * attachment's sandbox interface. Fails the attachment naming what is missing and how to fix it.
 */
export function checkArgsOnlyRequests(
  requests: ArgsOnlyRequests,
  result: Result100,
  ifName: string,
  ctx: { readonly pod: string; readonly network: string },
): void {
  const got = (result.ips ?? []).map((ip) => canonicalIpOrCidr(ip.address) ?? ip.address);
  const missingIps = (requests.ips ?? []).filter((want) =>
    want.includes("/") ? !got.includes(want) : !got.some((g) => addressIp(g) === want),
  );
  const iface = (result.interfaces ?? []).find((i) => i.name === ifName && i.sandbox);
  const macMissing = requests.mac !== undefined && iface?.mac?.toLowerCase() !== requests.mac;
  const problems = [
    ...(missingIps.length > 0
      ? [
          `ips ${missingIps.join(", ")} (no plugin declares "capabilities": {"ips": true}, and none applied ` +
            `CNI_ARGS IP=, as static IPAM does)`,
        ]
      : []),
    ...(macMissing
      ? [
          `mac ${requests.mac} (no plugin declares "capabilities": {"mac": true}, and none applied CNI_ARGS ` +
            `MAC=, as tuning does; the interface has ${iface?.mac ?? "no MAC in the result"})`,
        ]
      : []),
  ];
  if (problems.length === 0) return;
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    `pod ${ctx.pod}: network ${ctx.network} (${ifName}): the selection requests ${problems.join(" and ")}, but ` +
      `the network's result does not have it`,
  );
}
