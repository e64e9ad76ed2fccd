// Reading results of every version (delegate stdout, cache files, prevResult) and printing them
// the way libcni's Go types marshal them. CNI SPEC §5; libcni pkg/types.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/cni/error.js";
import { formatResult, isResult020, isResult040, isResult100, parseResult } from "../../src/cni/result.js";
import { SUPPORTED_VERSIONS, type CniVersion } from "../../src/cni/version.js";
import { thrown } from "../support/cni-error.js";

function fixture(version: CniVersion): Record<string, unknown> {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/results/bridge-dual-stack-${version}.json`, import.meta.url), "utf8"),
  );
}

const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe("parseResult: every version", () => {
  it.each(SUPPORTED_VERSIONS)("reads a %s result and prints it back unchanged", (v) => {
    const r = parseResult(fixture(v));
    expect(r.cniVersion).toBe(v);
    expect(json(formatResult(r))).toStrictEqual(fixture(v));
  });

  it.each([
    ["0.1.0", "020"],
    ["0.2.0", "020"],
    ["0.3.0", "040"],
    ["0.3.1", "040"],
    ["0.4.0", "040"],
    ["1.0.0", "100"],
    ["1.1.0", "100"],
  ] as const)("%s is read with the %s types", (v, family) => {
    const r = parseResult(fixture(v));
    expect([isResult020(r), isResult040(r), isResult100(r)]).toStrictEqual([
      family === "020",
      family === "040",
      family === "100",
    ]);
  });

  it("0.x types have no interface mtu/pciID/socketPath: they are not read", () => {
    const r = parseResult({
      cniVersion: "0.4.0",
      interfaces: [{ name: "eth0", mtu: 1500, pciID: "x", socketPath: "/s" }],
    });
    expect(r).toStrictEqual({ cniVersion: "0.4.0", interfaces: [{ name: "eth0" }] });
  });

  it("keys no version defines are dropped", () => {
    expect(parseResult({ cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24", version: "4" }], foo: 1 })).toStrictEqual(
      {
        cniVersion: "1.0.0",
        ips: [{ address: "10.0.0.2/24" }],
      },
    );
    expect(parseResult({ cniVersion: "0.2.0", ips: [{ address: "10.0.0.2/24" }] })).toStrictEqual({
      cniVersion: "0.2.0",
    });
  });

  it('reads a gateway or gw of "" as absent (Go decodes "" into a nil net.IP)', () => {
    const r = parseResult({
      cniVersion: "1.0.0",
      ips: [{ address: "10.0.0.2/24", gateway: "" }],
      routes: [{ dst: "0.0.0.0/0", gw: "" }],
    });
    expect(json(formatResult(r))).toStrictEqual({
      cniVersion: "1.0.0",
      ips: [{ address: "10.0.0.2/24" }],
      routes: [{ dst: "0.0.0.0/0" }],
    });
    expect(
      json(formatResult(parseResult({ cniVersion: "0.2.0", ip4: { ip: "10.0.0.2/24", gateway: "" } }))),
    ).toStrictEqual({
      cniVersion: "0.2.0",
      ip4: { ip: "10.0.0.2/24" },
      dns: {},
    });
  });

  it('reads a 0.4.0 ips[].version of "" (how libcni prints a missing version) as absent', () => {
    const r = parseResult({ cniVersion: "0.4.0", ips: [{ version: "", address: "10.0.0.2/24" }] });
    expect(json(r)).toStrictEqual({ cniVersion: "0.4.0", ips: [{ address: "10.0.0.2/24" }] });
  });

  it("canonicalises addresses, gateways and route destinations, keeping host bits", () => {
    const r = parseResult({
      cniVersion: "1.1.0",
      ips: [{ address: "FD00:0:0:0:0:0:0:0005/64", gateway: "fd00:0::1" }],
      routes: [{ dst: "FD01:0000::/48", gw: "FD00::0001" }, { dst: "10.1.2.3/8" }],
    });
    expect(json(r)).toStrictEqual({
      cniVersion: "1.1.0",
      ips: [{ address: "fd00::5/64", gateway: "fd00::1" }],
      routes: [{ dst: "fd01::/48", gw: "fd00::1" }, { dst: "10.1.2.3/8" }],
    });
  });
});

describe("parseResult: the version of a result", () => {
  it("a result without cniVersion takes the assumed (config) version", () => {
    expect(parseResult({ ips: [{ address: "10.0.0.2/24" }] }, "1.0.0")).toStrictEqual({
      cniVersion: "1.0.0",
      ips: [{ address: "10.0.0.2/24" }],
    });
    expect(parseResult({ cniVersion: "", ips: [{ address: "10.0.0.2/24", version: "4" }] }, "0.3.1")).toStrictEqual({
      cniVersion: "0.3.1",
      ips: [{ address: "10.0.0.2/24", version: "4" }],
    });
  });

  it("a result without cniVersion and nothing assumed is 0.1.0", () => {
    expect(parseResult({ ip4: { ip: "10.0.0.2/24" } })).toStrictEqual({
      cniVersion: "0.1.0",
      ip4: { ip: "10.0.0.2/24" },
    });
    expect(parseResult({ cniVersion: "" }, "")).toStrictEqual({ cniVersion: "0.1.0" });
  });

  it("a declared cniVersion wins over the assumed one", () => {
    expect(parseResult({ cniVersion: "0.2.0" }, "1.1.0").cniVersion).toBe("0.2.0");
  });

  it("`null` is an empty result (libcni turns it into {})", () => {
    expect(parseResult(null)).toStrictEqual({ cniVersion: "0.1.0" });
    expect(parseResult(null, "1.1.0")).toStrictEqual({ cniVersion: "1.1.0" });
  });

  it.each(["2.0.0", "0.9.0", "1.0", "1.1.1", "v1.0.0"])('cniVersion "%s" is unsupported (code 1)', (v) => {
    const err = thrown(() => parseResult({ cniVersion: v }));
    expect(err.code).toBe(ErrorCode.IncompatibleVersion);
    expect(err.msg).toBe(`unsupported CNI result version "${v}"`);
  });

  it("an assumed version that is unsupported fails the same way", () => {
    expect(thrown(() => parseResult({}, "1.2.0")).msg).toBe('unsupported CNI result version "1.2.0"');
  });
});

describe("parseResult: decoding errors are code 6", () => {
  it.each([
    ["a string", "ok"],
    ["a number", 5],
    ["an array", [{ cniVersion: "1.0.0" }]],
    ["undefined", undefined],
  ])("%s is not a result", (_name, raw) => {
    const err = thrown(() => parseResult(raw));
    expect(err.code).toBe(ErrorCode.DecodingFailure);
    expect(err.msg).toBe("failed to decode result: not a JSON object");
  });

  it("a cniVersion that is not a string", () => {
    const err = thrown(() => parseResult({ cniVersion: 1 }));
    expect([err.code, err.msg]).toStrictEqual([
      ErrorCode.DecodingFailure,
      "failed to decode result: cniVersion is not a string",
    ]);
  });

  it.each([
    ["1.1.0", { ips: [{ address: "10.0.0.2" }] }, "invalid CIDR address: 10.0.0.2"],
    ["1.1.0", { ips: [{ address: "10.0.0.2/33" }] }, "invalid CIDR address: 10.0.0.2/33"],
    ["1.1.0", { ips: [{ address: "fd00::2/129" }] }, "invalid CIDR address: fd00::2/129"],
    ["1.1.0", { ips: [{ address: "fe80::1%eth0/64" }] }, "invalid CIDR address: fe80::1%eth0/64"],
    ["1.1.0", { ips: [{ address: "10.0.0.2/24", gateway: "10.0.0.256" }] }, "invalid IP address: 10.0.0.256"],
    ["1.1.0", { ips: [{ address: "10.0.0.2/24", gateway: "10.0.0.1/24" }] }, "invalid IP address: 10.0.0.1/24"],
    ["1.1.0", { ips: [{}] }, "address"],
    ["1.1.0", { interfaces: [{ mac: "00:11:22:33:44:55" }] }, "name"],
    ["1.1.0", { interfaces: [{ name: "eth0", mtu: -1 }] }, "mtu"],
    ["1.1.0", { routes: [{ gw: "10.0.0.1" }] }, "dst"],
    ["1.1.0", { routes: [{ dst: "0.0.0.0/0", table: 1.5 }] }, "table"],
    ["1.0.0", { ips: [{ address: "10.0.0.2/24", interface: "0" }] }, "interface"],
    ["1.0.0", { dns: { nameservers: "10.0.0.1" } }, "nameservers"],
    ["0.4.0", { ips: [{ version: "5", address: "10.0.0.2/24" }] }, "version"],
    ["0.2.0", { ip4: { gateway: "10.0.0.1" } }, "ip"],
    ["0.2.0", { ip6: { ip: "fd00::2/64", routes: [{ dst: "::/0", gw: "nope" }] } }, "invalid IP address: nope"],
  ])("%s %j: %s", (version, body, mentioned) => {
    const err = thrown(() => parseResult({ cniVersion: version, ...body }));
    expect(err.code).toBe(ErrorCode.DecodingFailure);
    expect(err.msg).toBe(`failed to decode ${version} result`);
    expect(err.details).toContain(mentioned);
  });
});

describe("formatResult: Go's marshalling rules", () => {
  it("0.x results always carry dns, {} when empty", () => {
    expect(formatResult(parseResult({ cniVersion: "0.3.1" }))).toStrictEqual({ cniVersion: "0.3.1", dns: {} });
    expect(formatResult(parseResult({ cniVersion: "0.1.0", ip4: { ip: "10.0.0.2/24" } }))).toStrictEqual({
      cniVersion: "0.1.0",
      ip4: { ip: "10.0.0.2/24" },
      dns: {},
    });
  });

  it("1.x results leave out an empty dns, also one with only empty fields", () => {
    expect(formatResult(parseResult({ cniVersion: "1.1.0", dns: {} }))).toStrictEqual({ cniVersion: "1.1.0" });
    expect(
      formatResult(parseResult({ cniVersion: "1.0.0", dns: { nameservers: [], domain: "", search: [], options: [] } })),
    ).toStrictEqual({
      cniVersion: "1.0.0",
    });
  });

  it("empty dns fields are left out, the others kept", () => {
    const out = formatResult(
      parseResult({ cniVersion: "0.4.0", dns: { nameservers: [], domain: "example.com", search: [] } }),
    );
    expect(out).toStrictEqual({ cniVersion: "0.4.0", dns: { domain: "example.com" } });
  });

  it("empty lists are left out", () => {
    expect(formatResult(parseResult({ cniVersion: "1.1.0", interfaces: [], ips: [], routes: [] }))).toStrictEqual({
      cniVersion: "1.1.0",
    });
    expect(formatResult(parseResult({ cniVersion: "0.2.0", ip4: { ip: "10.0.0.2/24", routes: [] } }))).toStrictEqual({
      cniVersion: "0.2.0",
      ip4: { ip: "10.0.0.2/24" },
      dns: {},
    });
  });

  it("interface: 0 is kept (a pointer in Go)", () => {
    expect(
      formatResult(parseResult({ cniVersion: "1.1.0", ips: [{ address: "10.0.0.2/24", interface: 0 }] })),
    ).toStrictEqual({
      cniVersion: "1.1.0",
      ips: [{ address: "10.0.0.2/24", interface: 0 }],
    });
  });

  it("route table and scope 0 are kept (pointers), mtu/advmss/priority 0 are left out", () => {
    const out = formatResult(
      parseResult({
        cniVersion: "1.1.0",
        routes: [{ dst: "0.0.0.0/0", mtu: 0, advmss: 0, priority: 0, table: 0, scope: 0 }],
      }),
    );
    expect(out).toStrictEqual({ cniVersion: "1.1.0", routes: [{ dst: "0.0.0.0/0", table: 0, scope: 0 }] });
  });

  it("interface mtu 0 and empty strings are left out; name is always printed", () => {
    const out = formatResult(
      parseResult({
        cniVersion: "1.1.0",
        interfaces: [{ name: "", mac: "", mtu: 0, sandbox: "", pciID: "", socketPath: "" }],
      }),
    );
    expect(out).toStrictEqual({ cniVersion: "1.1.0", interfaces: [{ name: "" }] });
  });

  it("prints exactly the keys of its version, cniVersion first", () => {
    for (const v of SUPPORTED_VERSIONS) {
      const keys = Object.keys(formatResult(parseResult(fixture(v))));
      expect(keys[0]).toBe("cniVersion");
      expect(keys.slice(1).sort()).toStrictEqual(
        v < "0.3.0" ? ["dns", "ip4", "ip6"] : ["dns", "interfaces", "ips", "routes"],
      );
    }
  });
});
