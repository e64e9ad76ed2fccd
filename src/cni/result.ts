// CNI results of every spec version: schemas that read them (delegate stdout, cache files,
// prevResult) and the shapes Plexus writes. CNI SPEC §5; libcni pkg/types/{020,040,100}.

import { z } from "zod";
import { CniError, ErrorCode } from "./error.js";
import { canonicalIp, parseCidr } from "./ip.js";

const cidr = z.string().transform((v, ctx) => {
  const c = parseCidr(v);
  if (!c) {
    ctx.addIssue({ code: "custom", message: `invalid CIDR address: ${v}` });
    return z.NEVER;
  }
  return `${c.ip}/${c.prefix}`;
});
function toCanonicalIp(v: string, ctx: z.RefinementCtx): string {
  const a = canonicalIp(v);
  if (a === undefined) {
    ctx.addIssue({ code: "custom", message: `invalid IP address: ${v}` });
    return z.NEVER;
  }
  return a;
}
/** Go decodes a JSON "" into a nil net.IP, so `"gateway": ""` means no gateway. */
const optionalIp = z
  .string()
  .transform((v, ctx) => (v === "" ? undefined : toCanonicalIp(v, ctx)))
  .optional();
const uint = z.number().int().nonnegative();

const DnsSchema = z.object({
  nameservers: z.array(z.string()).optional(),
  domain: z.string().optional(),
  search: z.array(z.string()).optional(),
  options: z.array(z.string()).optional(),
});
export type Dns = z.infer<typeof DnsSchema>;

const RouteSchema = z.object({
  dst: cidr,
  gw: optionalIp,
  mtu: uint.optional(),
  advmss: uint.optional(),
  priority: uint.optional(),
  table: uint.optional(),
  scope: uint.optional(),
});
export type Route = z.infer<typeof RouteSchema>;

const InterfaceSchema = z.object({
  name: z.string(),
  mac: z.string().optional(),
  mtu: uint.optional(),
  sandbox: z.string().optional(),
  socketPath: z.string().optional(),
  pciID: z.string().optional(),
});
export type Interface = z.infer<typeof InterfaceSchema>;

const IpConfigSchema = z.object({
  address: cidr,
  gateway: optionalIp,
  interface: z.number().int().optional(),
});
export type IpConfig = z.infer<typeof IpConfigSchema>;

/** 1.0.0 and 1.1.0 (the types did not change between them). */
export const Result100Schema = z.object({
  cniVersion: z.enum(["1.0.0", "1.1.0"]),
  interfaces: z.array(InterfaceSchema).optional(),
  ips: z.array(IpConfigSchema).optional(),
  routes: z.array(RouteSchema).optional(),
  dns: DnsSchema.optional(),
});
export type Result100 = z.infer<typeof Result100Schema>;

const Interface040Schema = InterfaceSchema.pick({ name: true, mac: true, sandbox: true });
// libcni marshals a 0.4.0 address without a version as `"version": ""`; read that as absent.
const IpConfig040Schema = IpConfigSchema.extend({
  version: z.union([z.literal("").transform(() => undefined), z.enum(["4", "6"])]).optional(),
});

/** 0.3.0, 0.3.1 and 0.4.0. */
const Result040Schema = z.object({
  cniVersion: z.enum(["0.3.0", "0.3.1", "0.4.0"]),
  interfaces: z.array(Interface040Schema).optional(),
  ips: z.array(IpConfig040Schema).optional(),
  routes: z.array(RouteSchema).optional(),
  dns: DnsSchema.optional(),
});
export type Result040 = z.infer<typeof Result040Schema>;

const IpConfig020Schema = z.object({
  ip: cidr,
  gateway: optionalIp,
  routes: z.array(RouteSchema).optional(),
});
export type IpConfig020 = z.infer<typeof IpConfig020Schema>;

/** 0.1.0 and 0.2.0. */
const Result020Schema = z.object({
  cniVersion: z.enum(["0.1.0", "0.2.0"]),
  ip4: IpConfig020Schema.optional(),
  ip6: IpConfig020Schema.optional(),
  dns: DnsSchema.optional(),
});
export type Result020 = z.infer<typeof Result020Schema>;

export type AnyResult = Result100 | Result040 | Result020;

export function isResult100(r: AnyResult): r is Result100 {
  return r.cniVersion === "1.0.0" || r.cniVersion === "1.1.0";
}
export function isResult040(r: AnyResult): r is Result040 {
  return r.cniVersion === "0.3.0" || r.cniVersion === "0.3.1" || r.cniVersion === "0.4.0";
}
export function isResult020(r: AnyResult): r is Result020 {
  return r.cniVersion === "0.1.0" || r.cniVersion === "0.2.0";
}

/**
 * Reads a result of any version. A result without cniVersion (or with "") takes
 * `assumedVersion`, as libcni's exec path does with the config's version; with none it is 0.1.0.
 */
export function parseResult(raw: unknown, assumedVersion?: string): AnyResult {
  if (raw === null) raw = {}; // libcni: a plugin printing `null` returned an empty result
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new CniError(ErrorCode.DecodingFailure, "failed to decode result: not a JSON object");
  }
  const declared = (raw as { cniVersion?: unknown }).cniVersion;
  if (declared !== undefined && typeof declared !== "string") {
    throw new CniError(ErrorCode.DecodingFailure, "failed to decode result: cniVersion is not a string");
  }
  const version = declared || assumedVersion || "0.1.0";
  const withVersion = { ...raw, cniVersion: version };
  const schema = schemaFor(version);
  const parsed = schema.safeParse(withVersion);
  if (!parsed.success) {
    throw new CniError(ErrorCode.DecodingFailure, `failed to decode ${version} result`, {
      details: z.prettifyError(parsed.error),
    });
  }
  return parsed.data;
}

function schemaFor(version: string): z.ZodType<AnyResult> {
  switch (version) {
    case "1.0.0":
    case "1.1.0":
      return Result100Schema;
    case "0.3.0":
    case "0.3.1":
    case "0.4.0":
      return Result040Schema;
    case "0.1.0":
    case "0.2.0":
      return Result020Schema;
    default:
      throw new CniError(ErrorCode.IncompatibleVersion, `unsupported CNI result version "${version}"`);
  }
}

/**
 * The JSON object a result is printed as, with Go's `omitempty` rules (libcni's types are the
 * reference output): empty strings, lists and zero mtu/advmss/priority are left out, while
 * `interface`, `table` and `scope` are pointers in Go and keep a 0. An empty `dns` is left out
 * of 1.x results; 0.x results always carry it (their Go types have no custom marshaller).
 */
export function formatResult(r: AnyResult): Record<string, unknown> {
  const dns = dropEmpty({ ...(r.dns ?? {}) });
  if (isResult020(r)) {
    const ipConfig = (c: IpConfig020 | undefined) => c && dropEmpty({ ...c, routes: c.routes?.map(formatRoute) });
    return dropEmpty({ cniVersion: r.cniVersion, ip4: ipConfig(r.ip4), ip6: ipConfig(r.ip6), dns });
  }
  const body = dropEmpty({
    cniVersion: r.cniVersion,
    interfaces: r.interfaces?.map((i) => ({ name: i.name, ...dropEmpty({ ...i, name: undefined }) })),
    ips: r.ips?.map((a) => keepDefined(a)),
    routes: r.routes?.map(formatRoute),
  });
  if (isResult040(r)) return { ...body, dns };
  return Object.keys(dns).length > 0 ? { ...body, dns } : body;
}

function formatRoute(route: Route): Record<string, unknown> {
  const { table, scope, ...rest } = route;
  return { ...dropEmpty(rest), ...keepDefined({ table, scope }) };
}

function keepDefined(v: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined));
}

/** Go's omitempty for the field kinds a result has: "", 0, empty list, absent. */
function dropEmpty(v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(v).filter(
      ([, x]) => x !== undefined && x !== "" && x !== 0 && !(Array.isArray(x) && x.length === 0),
    ),
  );
}
