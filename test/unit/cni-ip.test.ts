// Addresses and prefixes written the way Go's net package writes them (libcni re-marshals every
// result through it), plus the small IP helpers of src/cni/ip.ts.

import { describe, expect, it } from "vitest";
import {
  addressFamily,
  addressIp,
  canonicalIp,
  canonicalIpOrCidr,
  cidrContains,
  defaultDst,
  ipFamily,
  isDefaultDst,
  isInfinibandGuid,
  isMac,
  parseCidr,
} from "../../src/cni/ip.js";
import { SEEDS, forCases, type Random } from "./cni-seeded-random.js";

describe("canonicalIp", () => {
  it.each([
    ["198.18.0.1", "198.18.0.1"],
    ["2001:DB8:0:0::0001", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["::", "::"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["fd00:0:0:1::", "fd00:0:0:1::"],
    ["1:0:0:1:0:0:0:1", "1:0:0:1::1"],
    ["1:0:0:1:1:0:0:1", "1::1:1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"],
    ["1:2:3:4:5:6::", "1:2:3:4:5:6::"],
    ["64:ff9b::1.2.3.4", "64:ff9b::102:304"],
    ["::1.2.3.4", "::102:304"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
    ["::ffff:198.18.0.1", "198.18.0.1"],
    ["::FFFF:c612:1", "198.18.0.1"],
    ["::ffff:0:198.18.0.1", "::ffff:0:c612:1"],
  ])("%s -> %s (Go's net.IP.String)", (input, canonical) => {
    expect(canonicalIp(input)).toBe(canonical);
  });

  it.each([
    "",
    "198.18.0",
    "198.18.0.256",
    "01.2.3.4",
    "1.2.3.4/32",
    "fe80::1%eth0",
    "1::2::3",
    "12345::",
    "g::1",
    " ::1",
    "::1 ",
  ])("%j is not an address", (input) => {
    expect(canonicalIp(input)).toBeUndefined();
    expect(ipFamily(input)).toBeUndefined();
  });

  it("an IPv4-mapped IPv6 address is IPv4, as Go's To4() says", () => {
    expect(ipFamily("::ffff:198.18.0.1")).toBe(4);
    expect(ipFamily("64:ff9b::198.18.0.1")).toBe(6);
  });
});

/** RFC 5952 text of eight groups, by a different method than the code: a regex over the full form. */
function expectedText(groups: readonly number[]): string {
  const full = `:${groups.map((g) => g.toString(16)).join(":")}:`;
  const runs = [...full.matchAll(/:(0:){2,}/g)].map((m) => ({ at: m.index, text: m[0] }));
  const longest = runs.reduce<{ at: number; text: string } | undefined>(
    (best, r) => (!best || r.text.length > best.text.length ? r : best),
    undefined,
  );
  const text = longest ? `${full.slice(0, longest.at)}::${full.slice(longest.at + longest.text.length)}` : full;
  return text.replace(/^:(?!:)/, "").replace(/(?<!:):$/, "");
}

/** Eight groups with zero runs, so compression matters; never the IPv4-mapped prefix. */
function randomGroups(rnd: Random): number[] {
  for (;;) {
    const groups = Array.from({ length: 8 }, () =>
      rnd.bool(0.45) ? 0 : rnd.pick([1, 0xa, 0xff, 0x1234, 0xffff, rnd.int(1, 0xffff)]),
    );
    if (!(groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)) return groups;
  }
}

/** One of the many ways to write the same address. */
function randomSpelling(rnd: Random, groups: readonly number[]): string {
  const parts = groups.map((g) => {
    const hex = g.toString(16).padStart(rnd.int(1, 4), "0");
    return rnd.bool() ? hex.toUpperCase() : hex;
  });
  if (rnd.bool(0.25)) {
    const [hi = 0, lo = 0] = groups.slice(6);
    parts.splice(6, 2, `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`);
  }
  const zeroRuns: [number, number][] = [];
  for (let i = 0; i < parts.length; i++) {
    if (groups[i] !== 0 || (i >= 6 && parts.length === 7)) continue;
    let j = i;
    while (j < parts.length && groups[j] === 0 && !(j >= 6 && parts.length === 7)) j++;
    zeroRuns.push([i, j]);
    i = j;
  }
  if (zeroRuns.length === 0 || rnd.bool(0.3)) return parts.join(":");
  const [from, to] = rnd.pick(zeroRuns);
  const start = rnd.int(from, to - 1);
  const end = rnd.int(start + 1, to);
  return `${parts.slice(0, start).join(":")}::${parts.slice(end).join(":")}`;
}

describe("canonical IPv6, property: every spelling of an address gives Go's text", () => {
  it.each(SEEDS)("seed %i", (seed) => {
    forCases(seed, (rnd) => {
      const groups = randomGroups(rnd);
      const spelling = randomSpelling(rnd, groups);
      const expected = expectedText(groups);
      expect({ spelling, canonical: canonicalIp(spelling) }).toStrictEqual({ spelling, canonical: expected });
      const prefix = rnd.int(0, 128);
      expect(parseCidr(`${spelling}/${prefix}`)).toStrictEqual({ family: 6, ip: expected, prefix });
      expect(canonicalIp(expected)).toBe(expected);
    });
  });
});

describe("parseCidr", () => {
  it.each([
    ["10.1.2.3/8", { family: 4, ip: "10.1.2.3", prefix: 8 }],
    ["10.1.2.3/08", { family: 4, ip: "10.1.2.3", prefix: 8 }],
    ["0.0.0.0/0", { family: 4, ip: "0.0.0.0", prefix: 0 }],
    ["198.18.0.1/32", { family: 4, ip: "198.18.0.1", prefix: 32 }],
    ["2001:DB8::1/64", { family: 6, ip: "2001:db8::1", prefix: 64 }],
    ["::/0", { family: 6, ip: "::", prefix: 0 }],
    ["fd00::1/128", { family: 6, ip: "fd00::1", prefix: 128 }],
    ["::ffff:198.18.0.1/120", { family: 4, ip: "198.18.0.1", prefix: 24 }],
    ["::ffff:198.18.0.1/64", { family: 4, ip: "198.18.0.1", prefix: 0 }],
  ])("%s keeps the host bits", (input, parsed) => {
    expect(parseCidr(input)).toStrictEqual(parsed);
  });

  it.each([
    "10.1.2.3",
    "10.1.2.3/33",
    "fd00::1/129",
    "10.1.2.3/",
    "10.1.2.3/a",
    "10.1.2.3/-1",
    "10.1.2.3/1000",
    "/24",
    "fe80::1%eth0/64",
    "10.1.2.3/24/1",
  ])("%j is not a CIDR", (input) => {
    expect(parseCidr(input)).toBeUndefined();
  });
});

describe("small helpers", () => {
  it("canonicalIpOrCidr takes either form", () => {
    expect(canonicalIpOrCidr("FD00::0001/64")).toBe("fd00::1/64");
    expect(canonicalIpOrCidr("FD00::0001")).toBe("fd00::1");
    expect(canonicalIpOrCidr("nope")).toBeUndefined();
  });

  it("addressFamily and addressIp", () => {
    expect([
      addressFamily("198.18.0.1/24"),
      addressFamily("fd00::1/64"),
      addressFamily("198.18.0.1"),
      addressFamily("x"),
    ]).toStrictEqual([4, 6, 4, undefined]);
    expect([addressIp("198.18.0.1/24"), addressIp("fd00::1")]).toStrictEqual(["198.18.0.1", "fd00::1"]);
  });

  it("default destinations", () => {
    expect([defaultDst(4), defaultDst(6)]).toStrictEqual(["0.0.0.0/0", "::/0"]);
    expect(
      ["0.0.0.0/0", "::/0", "0:0::/0", "10.0.0.0/0", "0.0.0.0/1", "::/1", "default"].map(isDefaultDst),
    ).toStrictEqual([true, true, true, true, false, false, false]);
  });

  it("cidrContains", () => {
    expect(cidrContains("198.18.0.0/15", "198.19.255.1")).toBe(true);
    expect(cidrContains("198.18.0.0/15", "198.20.0.1")).toBe(false);
    expect(cidrContains("fd00::/8", "fd12::1")).toBe(true);
  });

  it.each([
    ["00:11:22:33:44:55", true, false],
    ["0A:58:c6:12:01:05", true, false],
    ["00-11-22-33-44-55", false, false],
    ["0:11:22:33:44:55", false, false],
    ["00:11:22:33:44:55:66:77", false, true],
    ["c2:11:22:33:44:55:66:77", false, true],
    ["", false, false],
  ])("%j: MAC %s, InfiniBand GUID %s", (v, mac, guid) => {
    expect([isMac(v), isInfinibandGuid(v)]).toStrictEqual([mac, guid]);
  });
});
