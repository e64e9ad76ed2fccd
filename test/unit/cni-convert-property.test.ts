// Properties of result conversion over random valid results of every version (seeded, so each
// run checks the same cases): round trips that must be lossless, and the lossy rules of
// libcni's pkg/types converters restated as simple models.

import { describe, expect, it } from "vitest";
import { convertResult } from "../../src/cni/convert.js";
import { CniError } from "../../src/cni/error.js";
import { formatResult, parseResult, type AnyResult } from "../../src/cni/result.js";
import { SUPPORTED_VERSIONS } from "../../src/cni/version.js";
import { SEEDS, forCases, type Random } from "./cni-seeded-random.js";

type Json = Record<string, unknown>;

const wire = (r: AnyResult): Json => JSON.parse(JSON.stringify(formatResult(r))) as Json;
const hex = (rnd: Random, max: number) => rnd.int(0, max).toString(16);

function v4(rnd: Random): string {
  return `198.${rnd.int(18, 19)}.${rnd.int(0, 255)}.${rnd.int(1, 254)}`;
}
function v6(rnd: Random): string {
  return rnd.pick([
    `fd00::${hex(rnd, 0xffff)}`,
    `fd00:${hex(rnd, 0xffff)}:0:${hex(rnd, 9)}::${hex(rnd, 0xff)}`,
    `fd${hex(rnd, 0xff).padStart(2, "0")}:1::1`,
  ]);
}
function address(rnd: Random, family: 4 | 6): string {
  return family === 4 ? `${v4(rnd)}/${rnd.int(8, 32)}` : `${v6(rnd)}/${rnd.int(48, 128)}`;
}
function optional<T>(rnd: Random, value: () => T): T | undefined {
  return rnd.bool() ? value() : undefined;
}
/** Drops undefined members so the object is what JSON would carry. */
function json<T extends object>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}

function route(rnd: Random, family: 4 | 6, rich: boolean): Json {
  const dst = rnd.bool(0.3) ? (family === 4 ? "0.0.0.0/0" : "::/0") : address(rnd, family);
  return json({
    dst,
    gw: optional(rnd, () => (family === 4 ? v4(rnd) : v6(rnd))),
    ...(rich
      ? {
          mtu: optional(rnd, () => rnd.int(1280, 9000)),
          advmss: optional(rnd, () => rnd.int(1200, 8960)),
          priority: optional(rnd, () => rnd.int(1, 1000)),
          table: optional(rnd, () => rnd.int(0, 255)),
          scope: optional(rnd, () => rnd.pick([0, 253, 254])),
        }
      : {}),
  });
}

function dns(rnd: Random): Json | undefined {
  return optional(rnd, () =>
    json({
      nameservers: optional(rnd, () => [v4(rnd), v6(rnd)].slice(0, rnd.int(1, 2))),
      domain: optional(rnd, () => "cluster.local"),
      search: optional(rnd, () => ["default.svc.cluster.local", "svc.cluster.local"].slice(0, rnd.int(1, 2))),
      options: optional(rnd, () => ["ndots:5"]),
    }),
  );
}

function interfaces(rnd: Random, rich: boolean): Json[] {
  return Array.from({ length: rnd.int(0, 3) }, (_, i) =>
    json({
      name: rnd.pick(["eth0", "net1", "cni0", `veth${hex(rnd, 0xffffff)}`]) + (i > 0 ? `-${i}` : ""),
      mac: optional(rnd, () => Array.from({ length: 6 }, () => hex(rnd, 255).padStart(2, "0")).join(":")),
      sandbox: optional(rnd, () => `/var/run/netns/cni-${hex(rnd, 0xffff)}`),
      ...(rich
        ? {
            mtu: optional(rnd, () => rnd.int(1280, 9000)),
            pciID: optional(rnd, () => "0000:04:00.5"),
            socketPath: optional(rnd, () => "/run/vhost/sock0"),
          }
        : {}),
    }),
  );
}

/** A random 1.0.0/1.1.0 result (1.1 fields included) or 0.3.x/0.4.0 result (ips carry their version). */
function randomRich(rnd: Random, version: string): Json {
  const zeroX = version.startsWith("0.");
  const ifaces = interfaces(rnd, !zeroX);
  const ips = Array.from({ length: rnd.int(0, 4) }, () => {
    const family = rnd.pick([4, 6] as const);
    return json({
      ...(zeroX ? { version: String(family) } : {}),
      address: address(rnd, family),
      gateway: optional(rnd, () => (family === 4 ? v4(rnd) : v6(rnd))),
      interface: ifaces.length && rnd.bool(0.7) ? rnd.int(0, ifaces.length - 1) : undefined,
    });
  });
  const routes = Array.from({ length: rnd.int(0, 3) }, () => route(rnd, rnd.pick([4, 6] as const), true));
  return json({ cniVersion: version, interfaces: ifaces, ips, routes, dns: dns(rnd) });
}

/** A random 0.1.0/0.2.0 result with at least one address; its routes carry only dst and gw. */
function random02x(rnd: Random, version: string): Json {
  const families = rnd.pick([[4], [6], [4, 6]] as const);
  const config = (family: 4 | 6) =>
    json({
      ip: address(rnd, family),
      gateway: optional(rnd, () => (family === 4 ? v4(rnd) : v6(rnd))),
      routes: optional(rnd, () => Array.from({ length: rnd.int(1, 3) }, () => route(rnd, family, false))),
    });
  return json({
    cniVersion: version,
    ip4: families.includes(4 as never) ? config(4) : undefined,
    ip6: families.includes(6 as never) ? config(6) : undefined,
    dns: dns(rnd),
  });
}

function randomResult(rnd: Random, version: string): AnyResult {
  const raw = version === "0.1.0" || version === "0.2.0" ? random02x(rnd, version) : randomRich(rnd, version);
  return parseResult(raw);
}

const isV4 = (cidr: string) => !cidr.includes(":");

describe("property: up to 1.1.0 and back is lossless", () => {
  it.each(SEEDS)("seed %i", (seed) => {
    forCases(seed, (rnd) => {
      for (const v of SUPPORTED_VERSIONS) {
        const r = randomResult(rnd, v);
        const back = convertResult(convertResult(r, "1.1.0"), v);
        expect(wire(back)).toStrictEqual(wire(r));
      }
    });
  });
});

describe("property: what formatResult prints, parseResult reads back to the same", () => {
  it.each(SEEDS)("seed %i", (seed) => {
    forCases(seed, (rnd) => {
      const from = rnd.pick(SUPPORTED_VERSIONS);
      const r = randomResult(rnd, from);
      for (const to of SUPPORTED_VERSIONS) {
        let out: AnyResult;
        try {
          out = convertResult(r, to);
        } catch (err) {
          expect((err as CniError).msg).toBe("cannot convert: no valid IP addresses");
          continue;
        }
        const printed = wire(out);
        expect(printed["cniVersion"]).toBe(to);
        expect(wire(parseResult(printed))).toStrictEqual(printed);
      }
    });
  });
});

describe("property: 1.x -> 0.2.0 keeps the first address of each family and its family's routes", () => {
  it.each(SEEDS)("seed %i", (seed) => {
    forCases(seed, (rnd) => {
      const r = randomResult(rnd, rnd.pick(["1.0.0", "1.1.0"]));
      const source = wire(r) as {
        ips?: { address: string; gateway?: string }[];
        routes?: { dst: string; gw?: string }[];
        dns?: Json;
      };
      const first4 = source.ips?.find((a) => isV4(a.address));
      const first6 = source.ips?.find((a) => !isV4(a.address));
      if (!first4 && !first6) {
        expect(() => convertResult(r, "0.2.0")).toThrow("cannot convert: no valid IP addresses");
        return;
      }
      const routesOf = (family4: boolean) =>
        (source.routes ?? []).filter((rt) => isV4(rt.dst) === family4).map((rt) => json({ dst: rt.dst, gw: rt.gw }));
      const config = (ip: { address: string; gateway?: string } | undefined, family4: boolean) => {
        if (!ip) return undefined;
        const routes = routesOf(family4);
        return json({ ip: ip.address, gateway: ip.gateway, routes: routes.length ? routes : undefined });
      };
      expect(wire(convertResult(r, "0.2.0"))).toStrictEqual(
        json({ cniVersion: "0.2.0", ip4: config(first4, true), ip6: config(first6, false), dns: source.dns ?? {} }),
      );
    });
  });
});

describe("property: 1.x -> 0.3.x/0.4.0 adds the version, trims interfaces, keeps the rest", () => {
  it.each(SEEDS)("seed %i", (seed) => {
    forCases(seed, (rnd) => {
      const r = randomResult(rnd, rnd.pick(["1.0.0", "1.1.0"]));
      const to = rnd.pick(["0.3.0", "0.3.1", "0.4.0"]);
      const source = wire(r) as { interfaces?: Json[]; ips?: { address: string }[]; routes?: Json[]; dns?: Json };
      expect(wire(convertResult(r, to))).toStrictEqual(
        json({
          cniVersion: to,
          interfaces: source.interfaces?.map((i) => json({ name: i["name"], mac: i["mac"], sandbox: i["sandbox"] })),
          ips: source.ips?.map((a) => ({ version: isV4(a.address) ? "4" : "6", ...a })),
          routes: source.routes,
          dns: source.dns ?? {},
        }),
      );
    });
  });
});

describe("property: 0.1.0/0.2.0 -> 1.x lists ip4 then ip6, their routes in that order, no interfaces", () => {
  it.each(SEEDS)("seed %i", (seed) => {
    forCases(seed, (rnd) => {
      const r = randomResult(rnd, rnd.pick(["0.1.0", "0.2.0"]));
      const to = rnd.pick(["1.0.0", "1.1.0"]);
      type Config = { ip: string; gateway?: string; routes?: Json[] };
      const source = wire(r) as { ip4?: Config; ip6?: Config; dns: Json };
      const configs = [source.ip4, source.ip6].filter((c): c is Config => c !== undefined);
      const routes = configs.flatMap((c) => c.routes ?? []);
      expect(wire(convertResult(r, to))).toStrictEqual(
        json({
          cniVersion: to,
          ips: configs.map((c) => json({ address: c.ip, gateway: c.gateway })),
          routes: routes.length ? routes : undefined,
          dns: Object.keys(source.dns).length ? source.dns : undefined,
        }),
      );
    });
  });
});
