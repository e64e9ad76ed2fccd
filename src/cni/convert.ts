// Conversion between result versions, with libcni's exact lossy rules and its two errors.
// CNI SPEC §5; libcni pkg/types/internal/convert.go and the 020/040/100 converters.

import { CniError, ErrorCode } from "./error.js";
import { addressFamily, ipFamily } from "./ip.js";
import {
  isResult020,
  isResult040,
  isResult100,
  type AnyResult,
  type IpConfig020,
  type Result020,
  type Result040,
  type Result100,
  type Route,
} from "./result.js";
import { isSupportedVersion, type CniVersion } from "./version.js";

type Family = "020" | "040" | "100";

function familyOf(v: CniVersion): Family {
  if (v === "0.1.0" || v === "0.2.0") return "020";
  if (v === "1.0.0" || v === "1.1.0") return "100";
  return "040";
}

/** Converts a result to `to` ("" means 0.1.0); the same version is returned unchanged. */
export function convertResult(result: AnyResult, to: string): AnyResult {
  const target = to === "" ? "0.1.0" : to;
  if (result.cniVersion === target) return result;
  if (!isSupportedVersion(target)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `no converter for CNI result version ${result.cniVersion} to ${to}`,
    );
  }
  switch (familyOf(target)) {
    case "100":
      return { ...toResult100(result), cniVersion: target as Result100["cniVersion"] };
    case "040":
      return { ...toResult040(result), cniVersion: target as Result040["cniVersion"] };
    case "020":
      return { ...toResult020(result), cniVersion: target as Result020["cniVersion"] };
  }
}

/** Any result as the current (1.x) shape, the form the engine works in. */
export function toResult100(r: AnyResult): Result100 {
  if (isResult100(r)) return r;
  const r040 = isResult040(r) ? r : from020To040(r);
  return withoutUndefined({
    cniVersion: "1.1.0" as const,
    interfaces: r040.interfaces?.map((i) => withoutUndefined({ name: i.name, mac: i.mac, sandbox: i.sandbox })),
    ips: r040.ips?.map((a) => withoutUndefined({ address: a.address, gateway: a.gateway, interface: a.interface })),
    routes: r040.routes,
    dns: r040.dns,
  });
}

function toResult040(r: AnyResult): Result040 {
  if (isResult040(r)) return r;
  if (isResult020(r)) return from020To040(r);
  return withoutUndefined({
    cniVersion: "0.4.0" as const,
    // 0.x interfaces know only name, mac and sandbox: mtu, socketPath and pciID are lost.
    interfaces: r.interfaces?.map((i) => withoutUndefined({ name: i.name, mac: i.mac, sandbox: i.sandbox })),
    ips: r.ips?.map((a) =>
      withoutUndefined({
        version: addressFamily(a.address) === 4 ? ("4" as const) : ("6" as const),
        interface: a.interface,
        address: a.address,
        gateway: a.gateway,
      }),
    ),
    routes: r.routes,
    dns: r.dns,
  });
}

function from020To040(r: Result020): Result040 {
  const ips = [
    ...(r.ip4 ? [withoutUndefined({ version: "4" as const, address: r.ip4.ip, gateway: r.ip4.gateway })] : []),
    ...(r.ip6 ? [withoutUndefined({ version: "6" as const, address: r.ip6.ip, gateway: r.ip6.gateway })] : []),
  ];
  const routes = [...(r.ip4?.routes ?? []), ...(r.ip6?.routes ?? [])];
  return withoutUndefined({
    cniVersion: "0.4.0" as const,
    ips: ips.length ? ips : undefined,
    routes: routes.length ? routes : undefined,
    dns: r.dns,
  });
}

function toResult020(r: AnyResult): Result020 {
  if (isResult020(r)) return r;
  const r040 = toResult040(r);
  // Only the FIRST address of each family survives; classification uses the `version` field,
  // so 0.4.0 addresses without it are not recognised (libcni 040.convertTo02x).
  const first4 = r040.ips?.find((a) => a.version === "4");
  const first6 = r040.ips?.find((a) => a.version === "6");
  if (!first4 && !first6) throw new CniError(ErrorCode.IncompatibleVersion, "cannot convert: no valid IP addresses");
  const ip4: IpConfig020 | undefined = first4 && withoutUndefined({ ip: first4.address, gateway: first4.gateway });
  const ip6: IpConfig020 | undefined = first6 && withoutUndefined({ ip: first6.address, gateway: first6.gateway });
  const routes4: Route[] = [];
  const routes6: Route[] = [];
  for (const route of r040.routes ?? []) {
    const family = ipFamily(route.dst.slice(0, route.dst.indexOf("/")));
    const target = family === 4 && ip4 ? routes4 : family === 6 && ip6 ? routes6 : undefined;
    target?.push(withoutUndefined({ dst: route.dst, gw: route.gw }));
  }
  return withoutUndefined({
    cniVersion: "0.2.0" as const,
    ip4: ip4 && (routes4.length ? { ...ip4, routes: routes4 } : ip4),
    ip6: ip6 && (routes6.length ? { ...ip6, routes: routes6 } : ip6),
    dns: r040.dns,
  });
}

/** Drops keys whose value is undefined, so results compare and print cleanly. */
function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
