// IP address and prefix handling: the only importer of ip-cidr.
// Addresses are validated with node:net and written in canonical form, as Go's net package
// marshals them (CNI results re-marshalled by libcni's pkg/types are canonical).
// Canonical IPv6 is computed here, not by ip-cidr: its correctForm() turns any address with a
// dotted IPv4 tail into that IPv4 address ("64:ff9b::1.2.3.4" -> "1.2.3.4").

import { isIPv4, isIPv6 } from "node:net";
import IPCIDR from "ip-cidr";

export type IpFamily = 4 | 6;

export interface ParsedCidr {
  readonly family: IpFamily;
  /** The address, canonical, host bits kept. */
  readonly ip: string;
  readonly prefix: number;
}

/** The family of a bare address (an IPv4-mapped IPv6 address counts as IPv4, as in Go). */
export function ipFamily(ip: string): IpFamily | undefined {
  const c = canonicalIp(ip);
  if (c === undefined) return undefined;
  return isIPv4(c) ? 4 : 6;
}

/**
 * A bare address in canonical form, or undefined when it is not one. IPv6 is written the way
 * Go's net.IP.String() does: lower case, the first longest run of two or more zero groups as
 * "::", and an IPv4-mapped address (::ffff:a.b.c.d) as plain dotted IPv4. Zones ("%eth0") are
 * rejected, as Go's net.ParseIP rejects them.
 */
export function canonicalIp(ip: string): string | undefined {
  if (isIPv4(ip)) return ip;
  const groups = ipv6Groups(ip);
  return groups && formatIpv6(groups);
}

/** The eight 16-bit groups of a valid IPv6 address (embedded dotted IPv4 included). */
function ipv6Groups(ip: string): number[] | undefined {
  if (!isIPv6(ip) || ip.includes("%")) return undefined;
  let text = ip;
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split(".").map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (half: string): number[] => (half === "" ? [] : half.split(":").map((g) => parseInt(g, 16)));
  const gap = text.indexOf("::");
  if (gap < 0) return parse(text);
  const head = parse(text.slice(0, gap));
  const rest = parse(text.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
}

function formatIpv6(g: readonly number[]): string {
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const [hi = 0, lo = 0] = g.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  // RFC 5952 / Go: compress the first longest run of at least two zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (part: readonly number[]): string => part.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/**
 * "a/p" with the address canonical and host bits kept. For an IPv4-mapped address the prefix
 * is taken from the last 32 bits of the IPv6 mask, as Go's IPNet.String() prints it.
 */
export function parseCidr(cidr: string): ParsedCidr | undefined {
  const slash = cidr.indexOf("/");
  if (slash < 0) return undefined;
  const raw = cidr.slice(0, slash);
  const ip = canonicalIp(raw);
  const prefixText = cidr.slice(slash + 1);
  if (ip === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const written: IpFamily = isIPv4(raw) ? 4 : 6;
  const family: IpFamily = isIPv4(ip) ? 4 : 6;
  const prefix = Number(prefixText);
  if (prefix > (written === 4 ? 32 : 128)) return undefined;
  return { family, ip, prefix: written === family ? prefix : Math.max(0, prefix - 96) };
}

/** "a/p" or a bare "a", canonical; undefined when neither. */
export function canonicalIpOrCidr(v: string): string | undefined {
  const cidr = parseCidr(v);
  if (cidr) return `${cidr.ip}/${cidr.prefix}`;
  return canonicalIp(v);
}

/** The family of "a/p" or "a". */
export function addressFamily(v: string): IpFamily | undefined {
  return parseCidr(v)?.family ?? ipFamily(v);
}

/** The address part of "a/p" (or "a" itself). */
export function addressIp(v: string): string {
  const slash = v.indexOf("/");
  return slash < 0 ? v : v.slice(0, slash);
}

export function cidrContains(cidr: string, ip: string): boolean {
  return new IPCIDR(cidr).contains(ip);
}

/** The default-route destination of a family. */
export function defaultDst(family: IpFamily): string {
  return family === 4 ? "0.0.0.0/0" : "::/0";
}

/** True for "0.0.0.0/0", "::/0" and other spellings of a default destination. */
export function isDefaultDst(dst: string): boolean {
  const cidr = parseCidr(dst);
  return cidr !== undefined && cidr.prefix === 0;
}

const MAC48 = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const GUID64 = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){7}$/;

/** A 6-byte Ethernet MAC written as six colon-separated hex pairs (multi-net spec v1.2). */
export function isMac(v: string): boolean {
  return MAC48.test(v);
}

/** An 8-byte InfiniBand GUID written as eight colon-separated hex pairs. */
export function isInfinibandGuid(v: string): boolean {
  return GUID64.test(v);
}
