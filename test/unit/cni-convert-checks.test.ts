// Result conversion between CNI versions (CNI SPEC §5), case by case. Every expected output was
// produced by running libcni's own pkg/types converters on the same input.

import { describe, expect, it } from "vitest";
import { convertResult } from "../../src/cni/convert.js";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { formatResult, parseResult } from "../../src/cni/result.js";

const DNS_FULL = {
  nameservers: ["1.2.3.4", "1::cafe"],
  domain: "acompany.com",
  search: ["somedomain.com", "otherdomain.net"],
  options: ["foo", "bar"],
};

const FULL_110 = {
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
  dns: DNS_FULL,
};

const BODY_04X = {
  interfaces: [{ name: "eth0", mac: "00:11:22:33:44:55", sandbox: "/proc/3553/ns/net" }],
  ips: [
    { version: "4", interface: 0, address: "1.2.3.30/24", gateway: "1.2.3.1" },
    { version: "6", interface: 0, address: "abcd:1234:ffff::cdde/64", gateway: "abcd:1234:ffff::1" },
  ],
  routes: [
    { dst: "15.5.6.0/24", gw: "15.5.6.8", mtu: 1400, advmss: 1360, priority: 10, table: 100, scope: 0 },
    { dst: "1111:dddd::/80", gw: "1111:dddd::aaaa" },
  ],
  dns: DNS_FULL,
};

const BODY_02X = {
  ip4: { ip: "1.2.3.30/24", gateway: "1.2.3.1", routes: [{ dst: "15.5.6.0/24", gw: "15.5.6.8" }] },
  ip6: {
    ip: "abcd:1234:ffff::cdde/64",
    gateway: "abcd:1234:ffff::1",
    routes: [{ dst: "1111:dddd::/80", gw: "1111:dddd::aaaa" }],
  },
  dns: DNS_FULL,
};

const RESULT_040 = {
  cniVersion: "0.4.0",
  interfaces: [{ name: "eth0", mac: "0a:58:0a:f4:01:05", sandbox: "/var/run/netns/x" }],
  ips: [{ version: "4", interface: 0, address: "10.244.1.5/24", gateway: "10.244.1.1" }],
  routes: [{ dst: "0.0.0.0/0" }],
};

const RESULT_020 = {
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
    id: "a full 1.1.0 result -> 1.0.0 keeps mtu/pciID/socketPath and route extras",
    input: FULL_110,
    to: "1.0.0",
    expected: { ...FULL_110, cniVersion: "1.0.0" },
  },
  {
    id: "a full 1.1.0 result -> 0.4.0 drops the 1.1 interface keys and adds ips[].version",
    input: FULL_110,
    to: "0.4.0",
    expected: { cniVersion: "0.4.0", ...BODY_04X },
  },
  {
    id: "a full 1.1.0 result -> 0.3.1 as 0.4.0",
    input: FULL_110,
    to: "0.3.1",
    expected: { cniVersion: "0.3.1", ...BODY_04X },
  },
  {
    id: "a full 1.1.0 result -> 0.2.0 keeps one ip4 and one ip6 with their routes",
    input: FULL_110,
    to: "0.2.0",
    expected: { cniVersion: "0.2.0", ...BODY_02X },
  },
  {
    id: "a full 1.1.0 result -> 0.1.0 as 0.2.0",
    input: FULL_110,
    to: "0.1.0",
    expected: { cniVersion: "0.1.0", ...BODY_02X },
  },
  {
    id: "0.4.0 -> 1.0.0 (no dns key)",
    input: RESULT_040,
    to: "1.0.0",
    expected: {
      cniVersion: "1.0.0",
      interfaces: [{ name: "eth0", mac: "0a:58:0a:f4:01:05", sandbox: "/var/run/netns/x" }],
      ips: [{ address: "10.244.1.5/24", gateway: "10.244.1.1", interface: 0 }],
      routes: [{ dst: "0.0.0.0/0" }],
    },
  },
  {
    id: "0.4.0 -> 0.4.0 re-marshal adds dns: {}",
    input: RESULT_040,
    to: "0.4.0",
    expected: { ...RESULT_040, dns: {} },
  },
  {
    id: "0.2.0 -> 1.0.0 (no interfaces, no interface index)",
    input: RESULT_020,
    to: "1.0.0",
    expected: {
      cniVersion: "1.0.0",
      ips: [{ address: "10.1.0.23/24", gateway: "10.1.0.1" }, { address: "fd00::17/64" }],
      routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0", gw: "fd00::1" }],
      dns: { nameservers: ["10.1.0.1"] },
    },
  },
  {
    id: "0.2.0 -> 0.4.0 gives ips[].version",
    input: RESULT_020,
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
    id: "no cniVersion means 0.1.0, -> 1.0.0",
    input: { ip4: { ip: "10.1.0.23/24" } },
    to: "1.0.0",
    expected: { cniVersion: "1.0.0", ips: [{ address: "10.1.0.23/24" }] },
  },
  {
    id: "1.0.0 without ips -> 0.2.0",
    input: { cniVersion: "1.0.0", interfaces: [{ name: "eth0" }] },
    to: "0.2.0",
    error: "cannot convert: no valid IP addresses",
  },
  {
    id: "1.0.0 -> 0.2.0 drops the second IPv4 and the route mtu",
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
    id: "1.0.0 -> 0.2.0 drops the IPv6 route when there is no ip6",
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
    id: "1.0.0 -> 1.1.0 only changes the version",
    input: { cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }] },
    to: "1.1.0",
    expected: { cniVersion: "1.1.0", ips: [{ address: "10.0.0.2/24" }] },
  },
  {
    id: "1.0.0 -> 0.3.0 keeps interfaces and the interface index",
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
    id: "re-marshal canonicalises addresses and keeps host bits",
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
    id: "0.3.1 -> 0.1.0 with only IPv6",
    input: { cniVersion: "0.3.1", ips: [{ version: "6", address: "fd00::5/64" }] },
    to: "0.1.0",
    expected: { cniVersion: "0.1.0", ip6: { ip: "fd00::5/64" }, dns: {} },
  },
  {
    id: "0.4.0 ips without version -> 0.2.0",
    input: { cniVersion: "0.4.0", ips: [{ address: "10.0.0.5/24" }] },
    to: "0.2.0",
    error: "cannot convert: no valid IP addresses",
  },
  {
    id: "1.1.0 -> 0.9.0 (a version with no converter)",
    input: { cniVersion: "1.1.0" },
    to: "0.9.0",
    error: "no converter for CNI result version 1.1.0 to 0.9.0",
  },
  {
    id: "1.1.0 -> 1.0.0 keeps interface mtu",
    input: { cniVersion: "1.1.0", interfaces: [{ name: "a", mtu: 9000 }] },
    to: "1.0.0",
    expected: { cniVersion: "1.0.0", interfaces: [{ name: "a", mtu: 9000 }] },
  },
  {
    id: "interface: 0 is kept on output",
    input: { cniVersion: "1.1.0", interfaces: [{ name: "eth0" }], ips: [{ address: "10.0.0.2/24", interface: 0 }] },
    to: "1.0.0",
    expected: { cniVersion: "1.0.0", interfaces: [{ name: "eth0" }], ips: [{ address: "10.0.0.2/24", interface: 0 }] },
  },
  {
    id: "an empty dns is omitted from a 1.x result",
    input: { cniVersion: "1.1.0", ips: [{ address: "10.0.0.2/24" }], dns: {} },
    to: "1.0.0",
    expected: { cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }] },
  },
];

describe("result conversion, libcni's cases", () => {
  it.each(CHECKS.filter((c) => c.error === undefined))("$id", ({ input, to, expected }) => {
    const out = formatResult(convertResult(parseResult(input), to));
    expect(JSON.parse(JSON.stringify(out))).toStrictEqual(expected);
  });

  it.each(CHECKS.filter((c) => c.error !== undefined))("$id fails: $error", ({ input, to, error }) => {
    const run = () => convertResult(parseResult(input), to);
    expect(run).toThrow(CniError);
    expect(run).toThrow(expect.objectContaining({ code: ErrorCode.IncompatibleVersion, msg: error }));
  });

  it("interface: 0 is kept for every 1.x and 0.3.x/0.4.0 target", () => {
    const input = parseResult({
      cniVersion: "1.1.0",
      interfaces: [{ name: "eth0" }],
      ips: [{ address: "10.0.0.2/24", interface: 0 }],
    });
    for (const to of ["1.1.0", "1.0.0", "0.4.0", "0.3.1", "0.3.0"]) {
      expect(formatResult(convertResult(input, to))).toMatchObject({ ips: [{ interface: 0 }] });
    }
  });

  it("every 0.x version always prints dns, {} when empty", () => {
    for (const v of ["0.1.0", "0.2.0"])
      expect(formatResult(parseResult({ cniVersion: v, ip4: { ip: "10.0.0.2/24" } }))).toHaveProperty("dns", {});
    for (const v of ["0.3.0", "0.3.1", "0.4.0"])
      expect(formatResult(parseResult({ cniVersion: v }))).toHaveProperty("dns", {});
  });
});
