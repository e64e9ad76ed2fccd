// Result conversion between every pair of CNI versions (CNI SPEC §5; libcni
// pkg/types/internal/convert.go), on the result
// bridge + host-local really return for a dual-stack pod, plus each lossy rule and both errors.
// Expectations are written out from the rules, not captured from the code.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { convertResult, toResult100 } from "../../src/cni/convert.js";
import { ErrorCode } from "../../src/cni/error.js";
import { formatResult, parseResult, type AnyResult } from "../../src/cni/result.js";
import { SUPPORTED_VERSIONS, type CniVersion } from "../../src/cni/version.js";
import { thrown } from "../support/cni-error.js";

function fixture(version: CniVersion): unknown {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/results/bridge-dual-stack-${version}.json`, import.meta.url), "utf8"),
  );
}

/** What goes on the wire: the formatted result as plain JSON. */
function wire(r: AnyResult): unknown {
  return JSON.parse(JSON.stringify(formatResult(r)));
}

function convertJson(input: unknown, to: string): unknown {
  return wire(convertResult(parseResult(input), to));
}

const NETNS = "/var/run/netns/cni-5d7c0a3e-1b2f-4c9d-8e7f-0a1b2c3d4e5f";
const DNS = {
  nameservers: ["198.18.0.10"],
  search: ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
  options: ["ndots:5"],
};
const ROUTES = [
  { dst: "0.0.0.0/0", gw: "198.18.1.1" },
  { dst: "::/0", gw: "fd00:18:1::1" },
];

// --- The expected shapes, one per (source family, target family) --------------------------

/** 1.x with the 1.1 interface mtu: what a 1.1.0 source keeps when it goes to 1.0.0 or 1.1.0. */
const BODY_1X_WITH_MTU = {
  interfaces: [
    { name: "cni0", mac: "0a:58:c6:12:01:01", mtu: 1500 },
    { name: "veth3f2a9c1d", mac: "7e:4c:1a:2b:3c:4d", mtu: 1500 },
    { name: "eth0", mac: "0a:58:c6:12:01:05", mtu: 1500, sandbox: NETNS },
  ],
  ips: [
    { interface: 2, address: "198.18.1.5/24", gateway: "198.18.1.1" },
    { interface: 2, address: "fd00:18:1::5/64", gateway: "fd00:18:1::1" },
  ],
  routes: ROUTES,
  dns: DNS,
};

/** 1.x from a 1.0.0 or 0.3.x/0.4.0 source: interfaces name/mac/sandbox, no ips[].version. */
const BODY_1X = {
  interfaces: [
    { name: "cni0", mac: "0a:58:c6:12:01:01" },
    { name: "veth3f2a9c1d", mac: "7e:4c:1a:2b:3c:4d" },
    { name: "eth0", mac: "0a:58:c6:12:01:05", sandbox: NETNS },
  ],
  ips: [
    { interface: 2, address: "198.18.1.5/24", gateway: "198.18.1.1" },
    { interface: 2, address: "fd00:18:1::5/64", gateway: "fd00:18:1::1" },
  ],
  routes: ROUTES,
  dns: DNS,
};

/** 1.x from 0.1.0/0.2.0: no interfaces, no interface index; ip4 then ip6, their routes in order. */
const BODY_1X_FROM_02X = {
  ips: [
    { address: "198.18.1.5/24", gateway: "198.18.1.1" },
    { address: "fd00:18:1::5/64", gateway: "fd00:18:1::1" },
  ],
  routes: ROUTES,
  dns: DNS,
};

/** 0.3.x/0.4.0 from 1.x or 0.3.x/0.4.0: the interface mtu is gone, every ip has its version. */
const BODY_04X = {
  interfaces: [
    { name: "cni0", mac: "0a:58:c6:12:01:01" },
    { name: "veth3f2a9c1d", mac: "7e:4c:1a:2b:3c:4d" },
    { name: "eth0", mac: "0a:58:c6:12:01:05", sandbox: NETNS },
  ],
  ips: [
    { version: "4", interface: 2, address: "198.18.1.5/24", gateway: "198.18.1.1" },
    { version: "6", interface: 2, address: "fd00:18:1::5/64", gateway: "fd00:18:1::1" },
  ],
  routes: ROUTES,
  dns: DNS,
};

/** 0.3.x/0.4.0 from 0.1.0/0.2.0: versions set from ip4/ip6, still no interfaces or indexes. */
const BODY_04X_FROM_02X = {
  ips: [
    { version: "4", address: "198.18.1.5/24", gateway: "198.18.1.1" },
    { version: "6", address: "fd00:18:1::5/64", gateway: "fd00:18:1::1" },
  ],
  routes: ROUTES,
  dns: DNS,
};

/** 0.1.0/0.2.0 from anything: first ip of each family, its family's routes (dst/gw only). */
const BODY_02X = {
  ip4: { ip: "198.18.1.5/24", gateway: "198.18.1.1", routes: [{ dst: "0.0.0.0/0", gw: "198.18.1.1" }] },
  ip6: { ip: "fd00:18:1::5/64", gateway: "fd00:18:1::1", routes: [{ dst: "::/0", gw: "fd00:18:1::1" }] },
  dns: DNS,
};

type Family = "02x" | "04x" | "1x";
function family(v: CniVersion): Family {
  if (v === "0.1.0" || v === "0.2.0") return "02x";
  if (v === "1.0.0" || v === "1.1.0") return "1x";
  return "04x";
}

function expected(from: CniVersion, to: CniVersion): unknown {
  const body = {
    "02x": () => BODY_02X,
    "04x": () => (family(from) === "02x" ? BODY_04X_FROM_02X : BODY_04X),
    "1x": () => (family(from) === "02x" ? BODY_1X_FROM_02X : from === "1.1.0" ? BODY_1X_WITH_MTU : BODY_1X),
  }[family(to)]();
  return { cniVersion: to, ...body };
}

const PAIRS = SUPPORTED_VERSIONS.flatMap((from) => SUPPORTED_VERSIONS.map((to) => [from, to] as const));

describe("bridge + host-local dual-stack result, every ordered pair of versions", () => {
  it("covers all 49 ordered pairs", () => {
    expect(PAIRS).toHaveLength(49);
  });

  it.each(PAIRS)("%s -> %s", (from, to) => {
    const out = convertResult(parseResult(fixture(from)), to);
    expect(out.cniVersion).toBe(to);
    expect(wire(out)).toStrictEqual(expected(from, to));
  });

  it.each(SUPPORTED_VERSIONS)("%s -> %s returns the very same object", (v) => {
    const r = parseResult(fixture(v));
    expect(convertResult(r, v)).toBe(r);
  });

  it('target "" means 0.1.0', () => {
    expect(convertJson(fixture("1.1.0"), "")).toStrictEqual({ cniVersion: "0.1.0", ...BODY_02X });
  });

  it("does not modify its input", () => {
    const r = parseResult(fixture("1.1.0"));
    const before = structuredClone(r);
    for (const to of SUPPORTED_VERSIONS) convertResult(r, to);
    expect(r).toStrictEqual(before);
  });
});

describe("lossy conversions", () => {
  it("going to 0.2.0 keeps only the first IPv4 and the first IPv6 address", () => {
    const r = {
      cniVersion: "1.1.0",
      ips: [
        { address: "198.18.0.2/24" },
        { address: "fd00::2/64" },
        { address: "198.18.0.3/24" },
        { address: "fd00::3/64" },
      ],
    };
    expect(convertJson(r, "0.2.0")).toStrictEqual({
      cniVersion: "0.2.0",
      ip4: { ip: "198.18.0.2/24" },
      ip6: { ip: "fd00::2/64" },
      dns: {},
    });
  });

  it("going to 0.2.0 drops every route field but dst and gw (mtu, advmss, priority, table, scope)", () => {
    const r = {
      cniVersion: "1.1.0",
      ips: [{ address: "198.18.0.2/24" }],
      routes: [{ dst: "198.19.0.0/16", gw: "198.18.0.1", mtu: 9000, advmss: 8960, priority: 5, table: 100, scope: 0 }],
    };
    expect(convertJson(r, "0.2.0")).toStrictEqual({
      cniVersion: "0.2.0",
      ip4: { ip: "198.18.0.2/24", routes: [{ dst: "198.19.0.0/16", gw: "198.18.0.1" }] },
      dns: {},
    });
  });

  it("going to 0.2.0 drops an IPv6 route when there is no IPv6 address (and an IPv4 route without IPv4)", () => {
    const v4only = {
      cniVersion: "1.0.0",
      ips: [{ address: "198.18.0.2/24" }],
      routes: [{ dst: "::/0", gw: "fd00::1" }, { dst: "0.0.0.0/0" }],
    };
    expect(convertJson(v4only, "0.2.0")).toStrictEqual({
      cniVersion: "0.2.0",
      ip4: { ip: "198.18.0.2/24", routes: [{ dst: "0.0.0.0/0" }] },
      dns: {},
    });
    const v6only = {
      cniVersion: "1.0.0",
      ips: [{ address: "fd00::2/64" }],
      routes: [{ dst: "::/0" }, { dst: "0.0.0.0/0" }],
    };
    expect(convertJson(v6only, "0.1.0")).toStrictEqual({
      cniVersion: "0.1.0",
      ip6: { ip: "fd00::2/64", routes: [{ dst: "::/0" }] },
      dns: {},
    });
  });

  it("going to 0.2.0 drops interfaces and interface indexes", () => {
    const out = convertJson(fixture("1.1.0"), "0.2.0") as Record<string, unknown>;
    expect(Object.keys(out).sort()).toStrictEqual(["cniVersion", "dns", "ip4", "ip6"]);
    expect(out["ip4"]).not.toHaveProperty("interface");
  });

  it.each(["0.3.0", "0.3.1", "0.4.0"] as const)("going to %s drops interface mtu, pciID and socketPath", (to) => {
    const r = {
      cniVersion: "1.1.0",
      interfaces: [
        {
          name: "eth0",
          mac: "00:11:22:33:44:55",
          mtu: 9000,
          sandbox: "/x",
          pciID: "8086:9a01",
          socketPath: "/run/vhost.sock",
        },
      ],
      ips: [{ interface: 0, address: "198.18.0.2/24" }],
    };
    expect(convertJson(r, to)).toStrictEqual({
      cniVersion: to,
      interfaces: [{ name: "eth0", mac: "00:11:22:33:44:55", sandbox: "/x" }],
      ips: [{ version: "4", interface: 0, address: "198.18.0.2/24" }],
      dns: {},
    });
  });

  it("1.1.0 -> 1.0.0 keeps the 1.1-only fields (interface mtu/pciID/socketPath, route mtu/advmss/priority/table/scope)", () => {
    const r = {
      cniVersion: "1.1.0",
      interfaces: [{ name: "eth0", mtu: 9000, pciID: "8086:9a01", socketPath: "/run/vhost.sock" }],
      routes: [{ dst: "198.19.0.0/16", mtu: 1400, advmss: 1360, priority: 10, table: 100, scope: 253 }],
    };
    expect(convertJson(r, "1.0.0")).toStrictEqual({ ...r, cniVersion: "1.0.0" });
  });

  it("1.x -> 0.3.x/0.4.0 keeps every route field (libcni shares types.Route)", () => {
    const route = {
      dst: "198.19.0.0/16",
      gw: "198.18.0.1",
      mtu: 1400,
      advmss: 1360,
      priority: 10,
      table: 100,
      scope: 0,
    };
    const out = convertJson({ cniVersion: "1.1.0", ips: [{ address: "198.18.0.2/24" }], routes: [route] }, "0.4.0");
    expect(out).toStrictEqual({
      cniVersion: "0.4.0",
      ips: [{ version: "4", address: "198.18.0.2/24" }],
      routes: [route],
      dns: {},
    });
  });

  it("the ips[].version field is added going down to 0.x and removed going up to 1.x", () => {
    const down = convertJson(
      { cniVersion: "1.0.0", ips: [{ address: "fd00::2/64" }, { address: "198.18.0.2/24" }] },
      "0.3.1",
    );
    expect(down).toStrictEqual({
      cniVersion: "0.3.1",
      ips: [
        { version: "6", address: "fd00::2/64" },
        { version: "4", address: "198.18.0.2/24" },
      ],
      dns: {},
    });
    const up = convertJson({ cniVersion: "0.4.0", ips: [{ version: "6", address: "fd00::2/64" }] }, "1.1.0");
    expect(up).toStrictEqual({ cniVersion: "1.1.0", ips: [{ address: "fd00::2/64" }] });
  });

  it.each(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const)(
    "0.2.0 -> %s has no interfaces and no interface index",
    (to) => {
      const out = convertJson(fixture("0.2.0"), to) as { interfaces?: unknown; ips: object[] };
      expect(out.interfaces).toBeUndefined();
      for (const ip of out.ips) expect(ip).not.toHaveProperty("interface");
    },
  );

  it("0.1.0/0.2.0 routes keep their extra fields going up (types.Route is shared)", () => {
    const r = { cniVersion: "0.2.0", ip4: { ip: "198.18.0.2/24", routes: [{ dst: "0.0.0.0/0", mtu: 1400 }] } };
    expect(convertJson(r, "1.0.0")).toStrictEqual({
      cniVersion: "1.0.0",
      ips: [{ address: "198.18.0.2/24" }],
      routes: [{ dst: "0.0.0.0/0", mtu: 1400 }],
    });
  });

  it("0.4.0 -> 0.1.0 trusts ips[].version, not the address (libcni classifies by the version string)", () => {
    const r = { cniVersion: "0.4.0", ips: [{ version: "6", address: "198.18.0.2/24" }] };
    expect(convertJson(r, "0.1.0")).toStrictEqual({ cniVersion: "0.1.0", ip6: { ip: "198.18.0.2/24" }, dns: {} });
  });
});

describe("conversion errors", () => {
  it.each([
    ["1.1.0 without ips", { cniVersion: "1.1.0", interfaces: [{ name: "eth0" }] }, "0.2.0"],
    ["1.0.0 with an empty ips list", { cniVersion: "1.0.0", ips: [] }, "0.1.0"],
    ["0.3.1 without ips", { cniVersion: "0.3.1" }, "0.2.0"],
    ["0.4.0 whose ips lack version", { cniVersion: "0.4.0", ips: [{ address: "10.0.0.5/24" }] }, "0.2.0"],
    [
      '0.3.0 whose only ip has version ""',
      { cniVersion: "0.3.0", ips: [{ version: "", address: "10.0.0.5/24" }] },
      "0.1.0",
    ],
  ])("%s -> %s: cannot convert: no valid IP addresses (code 1)", (_name, input, to) => {
    const err = thrown(() => convertResult(parseResult(input), to));
    expect(err.code).toBe(ErrorCode.IncompatibleVersion);
    expect(err.msg).toBe("cannot convert: no valid IP addresses");
  });

  it("a 0.2.0 result without addresses converts up but not back down", () => {
    const up = convertResult(parseResult({ cniVersion: "0.2.0" }), "1.1.0");
    expect(wire(up)).toStrictEqual({ cniVersion: "1.1.0" });
    expect(wire(convertResult(parseResult({ cniVersion: "0.2.0" }), "0.1.0"))).toStrictEqual({
      cniVersion: "0.1.0",
      dns: {},
    });
    expect(thrown(() => convertResult(up, "0.2.0")).msg).toBe("cannot convert: no valid IP addresses");
  });

  it.each([
    ["1.1.0", "0.9.0"],
    ["1.1.0", "2.0.0"],
    ["0.4.0", "1.2.0"],
    ["0.2.0", "1.0"],
    ["1.0.0", "v1.0.0"],
  ] as const)("%s -> %s: no converter (code 1)", (from, to) => {
    const err = thrown(() => convertResult(parseResult(fixture(from)), to));
    expect(err.code).toBe(ErrorCode.IncompatibleVersion);
    expect(err.msg).toBe(`no converter for CNI result version ${from} to ${to}`);
  });
});

describe("toResult100: the engine's working shape", () => {
  it.each(SUPPORTED_VERSIONS)("reads a %s result as a 1.x result", (v) => {
    const r = toResult100(parseResult(fixture(v)));
    expect(r.cniVersion === "1.0.0" || r.cniVersion === "1.1.0").toBe(true);
    expect(r.ips?.map((a) => a.address)).toStrictEqual(["198.18.1.5/24", "fd00:18:1::5/64"]);
  });

  it("returns a 1.x result unchanged", () => {
    const r = parseResult(fixture("1.0.0"));
    expect(toResult100(r)).toBe(r);
  });
});
