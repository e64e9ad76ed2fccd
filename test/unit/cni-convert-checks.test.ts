// Conformance checks D1-D22 of reference/specs.md §5.D, each verified there against the
// upstream Go code (pkg/types). Inputs and expected outputs are copied from the table.

import { describe, expect, it } from "vitest";
import { convertResult } from "../../src/cni/convert.js";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { formatResult, parseResult } from "../../src/cni/result.js";

const DNS_R11 = {
  nameservers: ["1.2.3.4", "1::cafe"],
  domain: "acompany.com",
  search: ["somedomain.com", "otherdomain.net"],
  options: ["foo", "bar"],
};

const R11 = {
  cniVersion: "1.1.0",
  interfaces: [
    {
      name: "eth0",
      mac: "00:11:22:33:44:55",
      mtu: 1500,
      sandbox: "/proc/3553/ns/net",
      pciID: "8086:9a01",
      socketPath: "/path/to/vhost/fd",
    },
  ],
  ips: [
    { interface: 0, address: "1.2.3.30/24", gateway: "1.2.3.1" },
    { interface: 0, address: "abcd:1234:ffff::cdde/64", gateway: "abcd:1234:ffff::1" },
  ],
  routes: [
    { dst: "15.5.6.0/24", gw: "15.5.6.8", mtu: 1400, advmss: 1360, priority: 10, table: 100, scope: 0 },
    { dst: "1111:dddd::/80", gw: "1111:dddd::aaaa" },
  ],
  dns: DNS_R11,
};

const D2_BODY = {
  interfaces: [{ name: "eth0", mac: "00:11:22:33:44:55", sandbox: "/proc/3553/ns/net" }],
  ips: [
    { version: "4", interface: 0, address: "1.2.3.30/24", gateway: "1.2.3.1" },
    { version: "6", interface: 0, address: "abcd:1234:ffff::cdde/64", gateway: "abcd:1234:ffff::1" },
  ],
  routes: [
    { dst: "15.5.6.0/24", gw: "15.5.6.8", mtu: 1400, advmss: 1360, priority: 10, table: 100, scope: 0 },
    { dst: "1111:dddd::/80", gw: "1111:dddd::aaaa" },
  ],
  dns: DNS_R11,
};

const D4_BODY = {
  ip4: { ip: "1.2.3.30/24", gateway: "1.2.3.1", routes: [{ dst: "15.5.6.0/24", gw: "15.5.6.8" }] },
  ip6: {
    ip: "abcd:1234:ffff::cdde/64",
    gateway: "abcd:1234:ffff::1",
    routes: [{ dst: "1111:dddd::/80", gw: "1111:dddd::aaaa" }],
  },
  dns: DNS_R11,
};

const D6_IN = {
  cniVersion: "0.4.0",
  interfaces: [{ name: "eth0", mac: "0a:58:0a:f4:01:05", sandbox: "/var/run/netns/x" }],
  ips: [{ version: "4", interface: 0, address: "10.244.1.5/24", gateway: "10.244.1.1" }],
  routes: [{ dst: "0.0.0.0/0" }],
};

const D8_IN = {
  cniVersion: "0.2.0",
  ip4: { ip: "10.1.0.23/24", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0" }] },
  ip6: { ip: "fd00::17/64", routes: [{ dst: "::/0", gw: "fd00::1" }] },
  dns: { nameservers: ["10.1.0.1"] },
};

interface Check {
  readonly id: string;
  readonly input: unknown;
  readonly to: string;
  readonly expected?: unknown;
  readonly error?: string;
}

const CHECKS: readonly Check[] = [
  {
    id: "D1 R11 -> 1.0.0 keeps mtu/pciID/socketPath and route extras",
    input: R11,
    to: "1.0.0",
    expected: { ...R11, cniVersion: "1.0.0" },
  },
  { id: "D2 R11 -> 0.4.0", input: R11, to: "0.4.0", expected: { cniVersion: "0.4.0", ...D2_BODY } },
  { id: "D3 R11 -> 0.3.1", input: R11, to: "0.3.1", expected: { cniVersion: "0.3.1", ...D2_BODY } },
  { id: "D4 R11 -> 0.2.0", input: R11, to: "0.2.0", expected: { cniVersion: "0.2.0", ...D4_BODY } },
  { id: "D5 R11 -> 0.1.0", input: R11, to: "0.1.0", expected: { cniVersion: "0.1.0", ...D4_BODY } },
  {
    id: "D6 0.4.0 -> 1.0.0 (no dns key)",
    input: D6_IN,
    to: "1.0.0",
    expected: {
      cniVersion: "1.0.0",
      interfaces: [{ name: "eth0", mac: "0a:58:0a:f4:01:05", sandbox: "/var/run/netns/x" }],
      ips: [{ address: "10.244.1.5/24", gateway: "10.244.1.1", interface: 0 }],
      routes: [{ dst: "0.0.0.0/0" }],
    },
  },
  { id: "D7 0.4.0 -> 0.4.0 re-marshal adds dns: {}", input: D6_IN, to: "0.4.0", expected: { ...D6_IN, dns: {} } },
  {
    id: "D8 0.2.0 -> 1.0.0 (no interfaces, no interface index)",
    input: D8_IN,
    to: "1.0.0",
    expected: {
      cniVersion: "1.0.0",
      ips: [{ address: "10.1.0.23/24", gateway: "10.1.0.1" }, { address: "fd00::17/64" }],
      routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0", gw: "fd00::1" }],
      dns: { nameservers: ["10.1.0.1"] },
    },
  },
  {
    id: "D9 0.2.0 -> 0.4.0",
    input: D8_IN,
    to: "0.4.0",
    expected: {
      cniVersion: "0.4.0",
      ips: [
        { version: "4", address: "10.1.0.23/24", gateway: "10.1.0.1" },
        { version: "6", address: "fd00::17/64" },
      ],
      routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0", gw: "fd00::1" }],
      dns: { nameservers: ["10.1.0.1"] },
    },
  },
  {
    id: "D10 no cniVersion means 0.1.0, -> 1.0.0",
    input: { ip4: { ip: "10.1.0.23/24" } },
    to: "1.0.0",
    expected: { cniVersion: "1.0.0", ips: [{ address: "10.1.0.23/24" }] },
  },
  {
    id: "D11 1.0.0 without ips -> 0.2.0",
    input: { cniVersion: "1.0.0", interfaces: [{ name: "eth0" }] },
    to: "0.2.0",
    error: "cannot convert: no valid IP addresses",
  },
  {
    id: "D12 1.0.0 -> 0.2.0 drops the second IPv4 and the route mtu",
    input: {
      cniVersion: "1.0.0",
      ips: [{ address: "10.0.0.2/24" }, { address: "10.0.0.3/24" }, { address: "fd00::2/64" }],
      routes: [{ dst: "192.168.0.0/16", gw: "10.0.0.1", mtu: 9000 }, { dst: "fd01::/64" }],
    },
    to: "0.2.0",
    expected: {
      cniVersion: "0.2.0",
      ip4: { ip: "10.0.0.2/24", routes: [{ dst: "192.168.0.0/16", gw: "10.0.0.1" }] },
      ip6: { ip: "fd00::2/64", routes: [{ dst: "fd01::/64" }] },
      dns: {},
    },
  },
  {
    id: "D13 1.0.0 -> 0.2.0 drops the IPv6 route when there is no ip6",
    input: {
      cniVersion: "1.0.0",
      ips: [{ address: "10.0.0.2/24" }],
      routes: [
        { dst: "fd01::/64", gw: "fd00::1" },
        { dst: "0.0.0.0/0", gw: "10.0.0.1" },
      ],
    },
    to: "0.2.0",
    expected: {
      cniVersion: "0.2.0",
      ip4: { ip: "10.0.0.2/24", routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1" }] },
      dns: {},
    },
  },
  {
    id: "D14 1.0.0 -> 1.1.0",
    input: { cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }] },
    to: "1.1.0",
    expected: { cniVersion: "1.1.0", ips: [{ address: "10.0.0.2/24" }] },
  },
  {
    id: "D15 1.0.0 -> 0.3.0",
    input: {
      cniVersion: "1.0.0",
      ips: [{ address: "10.0.0.2/24", interface: 0 }],
      interfaces: [{ name: "net1", sandbox: "/x" }],
    },
    to: "0.3.0",
    expected: {
      cniVersion: "0.3.0",
      interfaces: [{ name: "net1", sandbox: "/x" }],
      ips: [{ version: "4", interface: 0, address: "10.0.0.2/24" }],
      dns: {},
    },
  },
  {
    id: "D16 re-marshal canonicalises addresses and keeps host bits",
    input: {
      cniVersion: "1.0.0",
      ips: [{ address: "2001:DB8:0:0::0001/64", gateway: "2001:db8::FFFF" }, { address: "10.0.0.5/8" }],
      routes: [{ dst: "10.1.2.3/8" }],
    },
    to: "1.0.0",
    expected: {
      cniVersion: "1.0.0",
      ips: [{ address: "2001:db8::1/64", gateway: "2001:db8::ffff" }, { address: "10.0.0.5/8" }],
      routes: [{ dst: "10.1.2.3/8" }],
    },
  },
  {
    id: "D17 0.3.1 -> 0.1.0 with only IPv6",
    input: { cniVersion: "0.3.1", ips: [{ version: "6", address: "fd00::5/64" }] },
    to: "0.1.0",
    expected: { cniVersion: "0.1.0", ip6: { ip: "fd00::5/64" }, dns: {} },
  },
  {
    id: "D18 0.4.0 ips without version -> 0.2.0",
    input: { cniVersion: "0.4.0", ips: [{ address: "10.0.0.5/24" }] },
    to: "0.2.0",
    error: "cannot convert: no valid IP addresses",
  },
  {
    id: "D19 1.1.0 -> 0.9.0",
    input: { cniVersion: "1.1.0" },
    to: "0.9.0",
    error: "no converter for CNI result version 1.1.0 to 0.9.0",
  },
  {
    id: "D20 1.1.0 -> 1.0.0 keeps interface mtu",
    input: { cniVersion: "1.1.0", interfaces: [{ name: "a", mtu: 9000 }] },
    to: "1.0.0",
    expected: { cniVersion: "1.0.0", interfaces: [{ name: "a", mtu: 9000 }] },
  },
  {
    id: "D21 interface: 0 is kept on output",
    input: { cniVersion: "1.1.0", interfaces: [{ name: "eth0" }], ips: [{ address: "10.0.0.2/24", interface: 0 }] },
    to: "1.0.0",
    expected: { cniVersion: "1.0.0", interfaces: [{ name: "eth0" }], ips: [{ address: "10.0.0.2/24", interface: 0 }] },
  },
  {
    id: "D22 an empty dns is omitted from a 1.x result",
    input: { cniVersion: "1.1.0", ips: [{ address: "10.0.0.2/24" }], dns: {} },
    to: "1.0.0",
    expected: { cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }] },
  },
];

describe("reference/specs.md §5.D result conversion checks", () => {
  it.each(CHECKS.filter((c) => c.error === undefined))("$id", ({ input, to, expected }) => {
    const out = formatResult(convertResult(parseResult(input), to));
    expect(JSON.parse(JSON.stringify(out))).toStrictEqual(expected);
  });

  it.each(CHECKS.filter((c) => c.error !== undefined))("$id fails: $error", ({ input, to, error }) => {
    const run = () => convertResult(parseResult(input), to);
    expect(run).toThrow(CniError);
    expect(run).toThrow(expect.objectContaining({ code: ErrorCode.IncompatibleVersion, msg: error }));
  });

  it("D21 holds for every 1.x and 0.3.x/0.4.0 target", () => {
    const input = parseResult({
      cniVersion: "1.1.0",
      interfaces: [{ name: "eth0" }],
      ips: [{ address: "10.0.0.2/24", interface: 0 }],
    });
    for (const to of ["1.1.0", "1.0.0", "0.4.0", "0.3.1", "0.3.0"]) {
      expect(formatResult(convertResult(input, to))).toMatchObject({ ips: [{ interface: 0 }] });
    }
  });

  it("D7 holds for every 0.x version: an empty dns is always printed", () => {
    for (const v of ["0.1.0", "0.2.0"])
      expect(formatResult(parseResult({ cniVersion: v, ip4: { ip: "10.0.0.2/24" } }))).toHaveProperty("dns", {});
    for (const v of ["0.3.0", "0.3.1", "0.4.0"])
      expect(formatResult(parseResult({ cniVersion: v }))).toHaveProperty("dns", {});
  });
});
