// The k8s.v1.cni.cncf.io/network-status annotation, in the format of the NAD client library (what
// Multus writes and kubectl users, KubeVirt and e2e suites parse;
// docs/compatibility.md#network-status): bare IPs, `default: true` only on the cluster network,
// `dns` always, `gateway` only when there is one, `mtu`, `device-info`. Unlike the library: ONE
// entry per attachment (multi-net spec §5.1.1), taken from the attachment's own interface, never
// host-side addresses, and no "<nil>" gateway.

import { z } from "zod";
import type { JsonObject } from "../cni/conf.js";
import { CniError, ErrorCode } from "../cni/error.js";
import type { IfName } from "../cni/ids.js";
import { addressFamily, addressIp, isDefaultDst } from "../cni/ip.js";
import type { Result100 } from "../cni/result.js";
import { NETWORK_STATUS_ANNOTATION } from "./annotations.js";
import { parseBoundedJson } from "../cni/bounded-json.js";

export interface NetworkStatusDns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

/** Keys in the order the NAD client's Go struct writes them. */
export interface NetworkStatus {
  readonly name: string;
  readonly interface?: string;
  readonly ips?: readonly string[];
  readonly mac?: string;
  readonly mtu?: number;
  readonly default?: true;
  readonly dns: NetworkStatusDns;
  readonly "device-info"?: JsonObject;
  readonly gateway?: readonly string[];
}

export interface StatusInput {
  /** "namespace/name" for a NAD, the CNI network name otherwise. */
  readonly name: string;
  /** The CNI_IFNAME the attachment was run with. */
  readonly ifName: IfName;
  readonly isDefault: boolean;
  /** The attachment's result, converted to 1.x. */
  readonly result: Result100;
  readonly deviceInfo?: JsonObject;
}

/**
 * The entry of one attachment. Interface: the sandbox interface named ifName, else the first
 * sandbox interface (spec §5.1.1), else none; but a result listing no interfaces at all and
 * some IPs (0.1.0/0.2.0 plugins) gets ifName, which the plugin was told to create (the spec
 * allows this for results before 0.3.0). IPs: those indexed to that interface, plus unindexed ones.
 */
export function buildNetworkStatus(input: StatusInput): NetworkStatus {
  const { result } = input;
  const interfaces = result.interfaces ?? [];
  const sandboxed = interfaces.flatMap((iface, index) => (iface.sandbox ? [{ iface, index }] : []));
  const chosen = sandboxed.find((s) => s.iface.name === input.ifName) ?? sandboxed[0];
  const ips = (result.ips ?? [])
    .filter((ip) => ip.interface === undefined || ip.interface < 0 || ip.interface === chosen?.index)
    .map((ip) => addressIp(ip.address));
  const ifName = chosen?.iface.name ?? (interfaces.length === 0 && ips.length > 0 ? input.ifName : undefined);
  // A default route without `gw` goes via the plugin's gateway for that family (CNI SPEC §5:
  // "if omitted, a default gateway is assumed"): the IP config's gateway, where the NAD client
  // library writes the string "<nil>".
  const ownIps = (result.ips ?? []).filter(
    (ip) => ip.interface === undefined || ip.interface < 0 || ip.interface === chosen?.index,
  );
  const gatewayOf = (dst: string) =>
    ownIps.find((ip) => ip.gateway !== undefined && addressFamily(ip.address) === addressFamily(dst))?.gateway;
  const gateway = unique(
    (result.routes ?? []).flatMap((r) =>
      isDefaultDst(r.dst) ? [r.gw ?? gatewayOf(r.dst)].filter((g): g is string => g !== undefined) : [],
    ),
  );
  return {
    name: input.name,
    ...(ifName ? { interface: ifName } : {}),
    ...(ips.length > 0 ? { ips: unique(ips) } : {}),
    ...(chosen?.iface.mac ? { mac: chosen.iface.mac } : {}),
    ...(chosen?.iface.mtu ? { mtu: chosen.iface.mtu } : {}),
    ...(input.isDefault ? { default: true as const } : {}),
    dns: statusDns(result.dns),
    ...(input.deviceInfo ? { "device-info": input.deviceInfo } : {}),
    ...(gateway.length > 0 ? { gateway } : {}),
  };
}

function statusDns(dns: Result100["dns"]): NetworkStatusDns {
  return {
    ...(dns?.nameservers?.length ? { nameservers: dns.nameservers } : {}),
    ...(dns?.domain ? { domain: dns.domain } : {}),
    ...(dns?.search?.length ? { search: dns.search } : {}),
    ...(dns?.options?.length ? { options: dns.options } : {}),
  };
}

/**
 * The annotation value, byte for byte as the NAD client's SetNetworkStatus writes it: each
 * entry json.MarshalIndent(…, "", "    "), joined by "," inside [ ]. Go escapes <, >, & and
 * U+2028/U+2029 in strings; so does this, so the two are interchangeable.
 */
export function formatNetworkStatusAnnotation(statuses: readonly NetworkStatus[]): string {
  const body = statuses.map((s) => JSON.stringify(s, null, 4)).join(",");
  return `[${body}]`.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const strings = z.array(z.string());
const StatusEntrySchema = z
  .object({
    name: z.string(),
    interface: z.string().optional(),
    ips: strings.optional(),
    mac: z.string().optional(),
    mtu: z.number().int().nonnegative().optional(),
    default: z.boolean().optional(),
    dns: z
      .object({
        nameservers: strings.optional(),
        domain: z.string().optional(),
        search: strings.optional(),
        options: strings.optional(),
      })
      .optional(),
    "device-info": z.record(z.string(), z.unknown()).optional(),
    gateway: strings.optional(),
  })
  .transform((s): NetworkStatus => {
    const { default: isDefault, dns, ...rest } = s;
    const entry = { ...rest, dns: statusDns(dns), ...(isDefault ? { default: true as const } : {}) };
    // Same key order as buildNetworkStatus, so a parsed entry formats back identically.
    return buildOrder(entry);
  });

/** Reads a network-status value (ours, Multus's, or spec-style with "default": false). */
export function parseNetworkStatusAnnotation(value: string): NetworkStatus[] {
  const parsed = parseBoundedJson(value, { maxBytes: 1024 * 1024, maxDepth: 16 });
  const fail = (why: string): never => {
    throw new CniError(ErrorCode.DecodingFailure, `annotation ${NETWORK_STATUS_ANNOTATION}: ${why}`);
  };
  if (!parsed.ok) return fail(parsed.problem);
  const result = z.array(StatusEntrySchema).safeParse(parsed.value);
  if (!result.success) return fail(z.prettifyError(result.error));
  return result.data;
}

function buildOrder(s: { readonly [key: string]: unknown }): NetworkStatus {
  const keys: readonly (keyof NetworkStatus)[] = [
    "name",
    "interface",
    "ips",
    "mac",
    "mtu",
    "default",
    "dns",
    "device-info",
    "gateway",
  ];
  return Object.fromEntries(keys.filter((k) => s[k] !== undefined).map((k) => [k, s[k]])) as unknown as NetworkStatus;
}

/** The AddedInterface event text, as Multus writes it: `Add net1 [198.18.0.5/24] from team-a/macvlan-a`. */
export function eventMessage(ifName: string, ips: readonly string[], name: string): string {
  return `Add ${ifName} [${ips.join(" ")}]${name ? ` from ${name}` : ""}`;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
