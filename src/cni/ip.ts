// IP address and prefix handling: the only importer of ip-cidr.
// Addresses are validated with node:net and written in canonical form, as Go's net package
// marshals them (CNI results re-marshalled by libcni are canonical, reference/specs.md D16).

import { isIPv4, isIPv6 } from "node:net";
import IPCIDR from "ip-cidr";

export type IpFamily = 4 | 6;

export interface ParsedCidr {
  readonly family: IpFamily;
  /** The address, canonical, host bits kept. */
  readonly ip: string;
  readonly prefix: number;
}

export function ipFamily(ip: string): IpFamily | undefined {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip)) return 6;
  return undefined;
}

/** A bare address in canonical form, or undefined when it is not one. */
export function canonicalIp(ip: string): string | undefined {
  const family = ipFamily(ip);
  if (family === 4) return ip;
  if (family === 6) return IPCIDR.createAddress(ip).correctForm();
  return undefined;
}

export function parseCidr(cidr: string): ParsedCidr | undefined {
  const slash = cidr.indexOf("/");
  if (slash < 0) return undefined;
  const ip = canonicalIp(cidr.slice(0, slash));
  const prefixText = cidr.slice(slash + 1);
  if (ip === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const family = ipFamily(ip) as IpFamily;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return { family, ip, prefix };
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
