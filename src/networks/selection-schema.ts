// The JSON form of a network selection element (multi-net spec v1.3 §4.1.2.1, NAD client
// NetworkSelectionElement, Multus deviceID/interfaceRequest), every key validated. An invalid
// value fails the pod with a message naming the key
// (docs/compatibility.md#invalid-selection-annotations), it is never half-applied. What Multus v4
// accepts and still gives a working pod (unknown keys, a deprecated spelling that conflicts,
// duplicates, `null` or `""` for an absent value) is accepted with a warning instead: `unknownKeys`,
// `unsetValues`, `normalizationNotes` (docs/compatibility.md#input-tolerance).

import { z } from "zod";
import { isDns1123Label, isDns1123Subdomain } from "../cni/ids.js";
import { canonicalIp, canonicalIpOrCidr, isInfinibandGuid, isMac } from "../cni/ip.js";
import { requestedIfNameProblem } from "./interface-names.js";

export interface PortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: "tcp" | "udp" | "sctp";
  readonly hostIP?: string;
}

export interface Bandwidth {
  readonly ingressRate?: number;
  readonly ingressBurst?: number;
  readonly egressRate?: number;
  readonly egressBurst?: number;
}

/**
 * Burst (bits) given to a direction that has a rate but no burst. The reference bandwidth
 * plugin refuses a rate without a burst; kubelet filled in math.MaxInt32 for the
 * kubernetes.io/*-bandwidth pod annotations, so this is what Kubernetes users already get:
 * the rate caps the average, short bursts are not limited further.
 */
export const DEFAULT_BANDWIDTH_BURST = 2_147_483_647;
/** The reference bandwidth plugin rejects burst/8 >= 2^32 ("burst cannot be more than 4GB"). */
const MAX_BANDWIDTH_BURST = 2 ** 32 * 8 - 1;

/** Keys of the element; a key with a `.` is a reverse-domain extension (§4.1.2.1) and ignored. */
const SELECTION_KEYS = [
  "name",
  "namespace",
  "interface",
  "interfaceRequest",
  "ips",
  "mac",
  "infiniband-guid",
  "portMappings",
  "bandwidth",
  "cni-args",
  "default-route",
  "deviceID",
  "ipam-claim-reference",
] as const;

const string = z.string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") });

/** A string checked by `problem` (a message, or undefined when fine), then mapped to its canonical form. */
function checked<T = string>(problem: (v: string) => string | undefined, map: (v: string) => T = (v) => v as T) {
  return string.transform((v, ctx): T => {
    const p = problem(v);
    if (p) {
      ctx.addIssue({ code: "custom", message: p });
      return z.NEVER;
    }
    return map(v);
  });
}

const nadName = checked((v) =>
  isDns1123Subdomain(v)
    ? undefined
    : `${quote(v)} is not a valid NetworkAttachmentDefinition name (a lower-case DNS-1123 subdomain)`,
);
const namespace = checked((v) =>
  v === "" || isDns1123Label(v) ? undefined : `${quote(v)} is not a valid namespace name (a lower-case DNS-1123 label)`,
);
const ifName = checked((v) => (v === "" ? undefined : problemWith(v, requestedIfNameProblem(v))));
const ipOrCidr = checked(
  (v) =>
    canonicalIpOrCidr(v) === undefined ? `${quote(v)} is not an IP address (with an optional /prefix)` : undefined,
  (v) => canonicalIpOrCidr(v) as string,
);
const bareIp = checked(
  (v) => (canonicalIp(v) === undefined ? `${quote(v)} is not an IP address` : undefined),
  (v) => canonicalIp(v) as string,
);
const optionalIp = checked(
  (v) => (v === "" || canonicalIp(v) !== undefined ? undefined : `${quote(v)} is not an IP address`),
  (v) => (v === "" ? "" : (canonicalIp(v) as string)),
);
const mac = checked(
  (v) => macProblem(v),
  (v) => canonicalMac(v) as string,
);
const guid = checked(
  (v) =>
    isInfinibandGuid(v) ? undefined : `${quote(v)} is not an 8-byte InfiniBand GUID (like 24:8a:07:03:00:8d:ae:2f)`,
  (v) => v.toLowerCase(),
);
const deviceId = checked((v) =>
  /^[\x21-\x7e]{1,253}$/.test(v) ? undefined : `${quote(v)} is not a device ID (1-253 printable characters, no spaces)`,
);
const claimName = checked((v) =>
  isDns1123Subdomain(v) ? undefined : `${quote(v)} is not a valid IPAMClaim name (a lower-case DNS-1123 subdomain)`,
);

const port = z
  .number({ error: (i) => (i.input === undefined ? "is required" : "must be an integer from 1 to 65535") })
  .int({ error: "must be an integer from 1 to 65535" })
  .min(1, { error: "must be an integer from 1 to 65535" })
  .max(65535, { error: "must be an integer from 1 to 65535" });

const protocol = checked(
  (v) => (/^(tcp|udp|sctp)$/i.test(v) ? undefined : `${quote(v)} is not one of TCP, UDP, SCTP`),
  (v) => v.toLowerCase() as PortMapping["protocol"],
);

const portMapping = z
  .object(
    { hostPort: port, containerPort: port, protocol: protocol.optional(), hostIP: optionalIp.optional() },
    { error: (i) => (i.code === "invalid_type" ? "must be a JSON object with hostPort and containerPort" : undefined) },
  )
  .transform((p): PortMapping => ({
    hostPort: p.hostPort,
    containerPort: p.containerPort,
    protocol: p.protocol ?? "tcp",
    ...(p.hostIP ? { hostIP: p.hostIP } : {}),
  }));

const rate = z
  .number({ error: "must be a non-negative integer" })
  .int({ error: "must be a non-negative integer" })
  .min(0, { error: "must be a non-negative integer" });
const burst = rate.max(MAX_BANDWIDTH_BURST, { error: `must be at most ${MAX_BANDWIDTH_BURST} bits` });

/** Bandwidth keys; 0 is "no limit" as the reference bandwidth plugin reads it (a burst needs its rate). */
const BANDWIDTH_KEYS = ["ingressRate", "ingressBurst", "egressRate", "egressBurst"] as const;
const PORT_MAPPING_KEYS = ["hostPort", "containerPort", "protocol", "hostIP"] as const;

const bandwidth = z
  .object(
    {
      ingressRate: rate.optional(),
      ingressBurst: burst.optional(),
      egressRate: rate.optional(),
      egressBurst: burst.optional(),
    },
    {
      error: (i) =>
        i.code === "invalid_type"
          ? "must be a JSON object with ingressRate/ingressBurst/egressRate/egressBurst"
          : undefined,
    },
  )
  .superRefine((b, ctx) => {
    if (b.ingressBurst && !b.ingressRate) {
      ctx.addIssue({ code: "custom", path: ["ingressBurst"], message: "requires ingressRate" });
    }
    if (b.egressBurst && !b.egressRate) {
      ctx.addIssue({ code: "custom", path: ["egressBurst"], message: "requires egressRate" });
    }
  })
  .transform((b): Bandwidth => {
    const out: { -readonly [K in keyof Bandwidth]: Bandwidth[K] } = {};
    if (b.ingressRate) {
      out.ingressRate = b.ingressRate;
      out.ingressBurst = b.ingressBurst || DEFAULT_BANDWIDTH_BURST;
    }
    if (b.egressRate) {
      out.egressRate = b.egressRate;
      out.egressBurst = b.egressBurst || DEFAULT_BANDWIDTH_BURST;
    }
    return out;
  });

const cniArgs = z.record(z.string(), z.unknown(), { error: "must be a JSON object" });

/** One JSON element as written; namespace defaulting and the cross-element rules come after. */
export const SelectionElementSchema = z
  .object(
    {
      name: nadName,
      namespace: namespace.optional(),
      interface: ifName.optional(),
      interfaceRequest: ifName.optional(),
      ips: z.array(ipOrCidr, { error: "must be a list of IP addresses" }).optional(),
      mac: mac.optional(),
      "infiniband-guid": guid.optional(),
      portMappings: z.array(portMapping, { error: "must be a list of port mappings" }).optional(),
      bandwidth: bandwidth.optional(),
      "cni-args": cniArgs.optional(),
      "default-route": z.array(bareIp, { error: "must be a list of gateway IP addresses" }).optional(),
      deviceID: deviceId.optional(),
      "ipam-claim-reference": claimName.optional(),
    },
    { error: (i) => (i.code === "invalid_type" ? "must be a JSON object" : undefined) },
  )
  .superRefine((e, ctx) => {
    if (e.ips && e.ips.length > 0 && e["ipam-claim-reference"] !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["ipam-claim-reference"],
        message: "cannot be combined with ips in the same element (multi-net spec v1.3)",
      });
    }
  });
export type SelectionElement = z.infer<typeof SelectionElementSchema>;

/**
 * Something in an element that Multus v4 accepts and Plexus accepts too, but does not apply as
 * written: an unknown key (ignored), a duplicate (used once), a deprecated spelling overridden.
 * `strictSelections: true` makes each of these an error instead (`strict` is that message).
 */
export interface ElementNote {
  /** The key as a path in the element: `ipRequest`, `portMappings[0].name`, `bandwidth.ingressRate`. */
  readonly key: string;
  /** The key probably meant, for an unknown key with a close match. */
  readonly suggestion?: string;
  /** What Plexus does instead of refusing the pod. */
  readonly message: string;
  /** The same finding as an error, when selections are strict. */
  readonly strict: string;
}

/**
 * Unknown keys without a `.`, at the top of the element and inside portMappings and bandwidth.
 * The spec reserves dot-less keys, it does not ask to refuse a pod over them; Multus ignores
 * them (e.g. `ipRequest` from older drafts), and so does Plexus, saying so.
 */
export function unknownKeys(element: Record<string, unknown>): ElementNote[] {
  const notes = unknownIn(element, SELECTION_KEYS, "", true);
  const mappings = element["portMappings"];
  if (Array.isArray(mappings)) {
    mappings.forEach((m, i) => {
      if (isPlainObject(m)) notes.push(...unknownIn(m, PORT_MAPPING_KEYS, `portMappings[${i}].`, false));
    });
  }
  const bw = element["bandwidth"];
  if (isPlainObject(bw)) notes.push(...unknownIn(bw, BANDWIDTH_KEYS, "bandwidth.", false));
  return notes;
}

function unknownIn(
  o: Record<string, unknown>,
  known: readonly string[],
  prefix: string,
  topLevel: boolean,
): ElementNote[] {
  return Object.keys(o)
    .filter((k) => !(topLevel && k.includes(".")) && !known.includes(k))
    .map((k) => {
      const hint = closestKey(k, known);
      const meant = hint ? ` (did you mean ${quote(hint)}?)` : "";
      const reserved = topLevel
        ? "; keys without a '.' are reserved by the multi-net spec, extensions use reverse-domain names"
        : "";
      return {
        key: `${prefix}${k}`,
        ...(hint ? { suggestion: `${prefix}${hint}` } : {}),
        message: `unknown key ${quote(prefix + k)} ignored${meant}`,
        strict: `unknown key ${quote(prefix + k)}${meant}${reserved}`,
      };
    });
}

/**
 * What parses but is not applied as written: a conflicting deprecated interfaceRequest (interface
 * wins, as in Multus), duplicate ips (used once), a 0 bandwidth rate (no limit). `raw` is the
 * element as written, `e` as parsed.
 */
export function normalizationNotes(raw: Record<string, unknown>, e: SelectionElement): ElementNote[] {
  const notes: ElementNote[] = [];
  if (e.interface && e.interfaceRequest && e.interface !== e.interfaceRequest) {
    const what =
      `${quote(e.interfaceRequest)} conflicts with interface ${quote(e.interface)} ` +
      `(interfaceRequest is the deprecated spelling of interface)`;
    notes.push({
      key: "interfaceRequest",
      message: `interfaceRequest ${what}; interface is used`,
      strict: `interfaceRequest: ${what}`,
    });
  }
  for (const ip of new Set(duplicates(e.ips ?? []))) {
    notes.push({
      key: "ips",
      message: `ips: ${quote(ip)} is listed twice; it is requested once`,
      strict: `ips: ${quote(ip)} is listed twice`,
    });
  }
  const bw = raw["bandwidth"];
  if (isPlainObject(bw)) {
    for (const k of ["ingressRate", "egressRate"] as const) {
      if (bw[k] !== 0) continue;
      notes.push({
        key: `bandwidth.${k}`,
        message: `bandwidth.${k}: 0 is no limit in that direction (as the bandwidth plugin reads it)`,
        strict: `bandwidth.${k}: must be a positive integer`,
      });
    }
  }
  return notes;
}

/** Keys whose `""` Multus reads as absent: it applies each only when non-empty. */
const EMPTY_IS_ABSENT = ["mac", "infiniband-guid", "deviceID", "ipam-claim-reference"] as const;

/**
 * Values Multus v4 reads as an absent key: `null` for any key but `name` (Go's encoding/json
 * leaves the field at its zero value) and `""` for the keys it applies only when non-empty. The
 * pod networks as if the key were not there, so Plexus reads them so too, with a warning.
 * `without` is the element without those keys.
 */
export function unsetValues(raw: Record<string, unknown>): { notes: ElementNote[]; without: Record<string, unknown> } {
  const notes: ElementNote[] = [];
  const without = { ...raw };
  for (const key of SELECTION_KEYS) {
    if (key === "name" || !(key in raw)) continue;
    const v = raw[key];
    const empty = v === "" && (EMPTY_IS_ABSENT as readonly string[]).includes(key);
    if (v !== null && !empty) continue;
    const shown = v === null ? "null" : '""';
    delete without[key];
    notes.push({
      key,
      message: `${key}: ${shown} is read as no ${key} (as Multus reads it)`,
      strict: `${key}: ${shown} is not a value (leave the key out)`,
    });
  }
  return { notes, without };
}

/** Old spellings seen in the wild (Multus's own internal field names, camelCase variants). */
const ALIASES: Readonly<Record<string, string>> = {
  iprequest: "ips",
  ip: "ips",
  macrequest: "mac",
  ifnamerequest: "interface",
  ifname: "interface",
  infinibandguid: "infiniband-guid",
  infinibandguidrequest: "infiniband-guid",
  deviceid: "deviceID",
  defaultroute: "default-route",
  cniargs: "cni-args",
  ipamclaimreference: "ipam-claim-reference",
};

function closestKey(k: string, known: readonly string[]): string | undefined {
  const norm = (v: string) => v.toLowerCase().replace(/[-_]/g, "");
  const same = known.find((key) => norm(key) === norm(k));
  if (same) return same;
  const alias = ALIASES[norm(k)];
  if (alias && known.includes(alias)) return alias;
  const lower = k.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const key of known) {
    const d = editDistance(lower, key.toLowerCase());
    if (d <= 2 && (best === undefined || d < best.d)) best = { key, d };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 3;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A 6-byte MAC in any notation Go's net.ParseMAC reads (Multus validates with it, and tuning
 * applies it with it): `02:23:45:67:89:01`, `02-23-45-67-89-01`, `0223.4567.8901`; written
 * colon-separated, lower-case.
 */
function canonicalMac(v: string): string | undefined {
  const hex = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i.test(v)
    ? v.replace(/[:-]/g, "")
    : /^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/i.test(v)
      ? v.replaceAll(".", "")
      : undefined;
  return hex?.toLowerCase().replace(/(..)(?!$)/g, "$1:");
}

function macProblem(v: string): string | undefined {
  const mac = canonicalMac(v);
  if (mac === undefined || !isMac(mac)) return `${quote(v)} is not a 6-byte MAC address (like 02:23:45:67:89:01)`;
  const first = parseInt(mac.slice(0, 2), 16);
  // The kernel refuses these with EADDRNOTAVAIL; say so before any plugin runs.
  if (first & 1) return `${quote(v)} is a multicast MAC address; an interface needs a unicast one`;
  if (/^(00:){5}00$/.test(mac)) return `${quote(v)} is the all-zero MAC address`;
  return undefined;
}

function problemWith(v: string, problem: string | undefined): string | undefined {
  return problem ? `${quote(v)}: ${problem}` : undefined;
}

function duplicates(values: readonly string[]): string[] {
  return values.filter((v, i) => values.indexOf(v) !== i);
}

/** User text in a message: JSON-quoted (control characters escaped) and cut to a sane length. */
export function quote(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
}
