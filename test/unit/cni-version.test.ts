// Spec versions, their comparison and gates, and VERSION negotiation.
// CNI SPEC §1 "Version considerations"; libcni pkg/version, pkg/skel/skel.go (gates).

import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/cni/error.js";
import { checkVersionSupported, decodeVersionInfo, pluginVersionInfo } from "../../src/cni/version-info.js";
import {
  CURRENT_VERSION,
  SUPPORTED_VERSIONS,
  compareVersions,
  isSupportedVersion,
  parseVersion,
  versionAllows,
  versionAtLeast,
} from "../../src/cni/version.js";
import { thrown } from "../support/cni-error.js";

const ALL = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

describe("supported versions", () => {
  it("are libcni's version.All, oldest first, and the current one is 1.1.0", () => {
    expect([...SUPPORTED_VERSIONS]).toStrictEqual(ALL);
    expect(CURRENT_VERSION).toBe("1.1.0");
  });

  it.each(ALL)("%s is supported", (v) => {
    expect(isSupportedVersion(v)).toBe(true);
  });

  it.each(["", "0.9.0", "1.0", "1", "1.2.0", "2.0.0", " 1.0.0", "v1.0.0", "1.0.0-rc1"])(
    "%j is not (exact string match)",
    (v) => {
      expect(isSupportedVersion(v)).toBe(false);
    },
  );
});

describe("parseVersion (libcni ParseVersion)", () => {
  it.each([
    ["", [0, 1, 0]],
    ["1", [1, 0, 0]],
    ["1.2", [1, 2, 0]],
    ["1.2.3", [1, 2, 3]],
    ["0.10.0", [0, 10, 0]],
    ["01.002.3", [1, 2, 3]],
  ])("%j -> %j", (v, parts) => {
    expect(parseVersion(v)).toStrictEqual(parts);
  });

  it.each([
    ["1.2.3.4", 'invalid version "1.2.3.4": too many parts'],
    ["a.b.c", 'failed to convert major version part "a"'],
    ["1.x.0", 'failed to convert minor version part "x"'],
    ["1.0.f", 'failed to convert micro version part "f"'],
    ["1..0", 'failed to convert minor version part ""'],
    ["-1.0.0", 'failed to convert major version part "-1"'],
  ])("%j fails (code 6): %s", (v, msg) => {
    const err = thrown(() => parseVersion(v));
    expect([err.code, err.msg]).toStrictEqual([ErrorCode.DecodingFailure, msg]);
  });
});

describe("compareVersions", () => {
  it.each([
    ["1.10.0", "1.9.0", 1],
    ["1.9.0", "1.10.0", -1],
    ["", "0.1.0", 0],
    ["1.0", "1.0.0", 0],
    ["1", "1.0.0", 0],
    ["0.3.1", "0.3.0", 1],
    ["0.4.0", "1.0.0", -1],
    ["2.0.0", "1.99.99", 1],
  ])("%j vs %j: %i", (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
    expect(Math.sign(compareVersions(b, a))).toBe(0 - sign);
  });

  it("versionAtLeast is >=", () => {
    expect(versionAtLeast("1.10.0", "1.9.0")).toBe(true);
    expect(versionAtLeast("", "0.1.0")).toBe(true);
    expect(versionAtLeast("1.0", "1.0.0")).toBe(true);
    expect(versionAtLeast("0.3.1", "0.4.0")).toBe(false);
  });

  it("orders the supported versions as listed", () => {
    const shuffled = ["1.0.0", "0.3.1", "1.1.0", "0.1.0", "0.4.0", "0.2.0", "0.3.0"];
    expect(shuffled.sort(compareVersions)).toStrictEqual(ALL);
  });
});

describe("versionAllows: skel's command gates", () => {
  const table = ALL.flatMap(
    (v) =>
      [
        ["CHECK", v, compareVersions(v, "0.4.0") >= 0],
        ["STATUS", v, v === "1.1.0"],
        ["GC", v, v === "1.1.0"],
      ] as const,
  );

  it.each(table)("%s at %s: %s", (command, v, allowed) => {
    expect(versionAllows(command, v)).toBe(allowed);
  });

  it("CHECK needs 0.4.0: 0.3.1 no, 0.4.0 yes; GC/STATUS need 1.1.0: 1.0.0 no", () => {
    expect([versionAllows("CHECK", "0.3.1"), versionAllows("CHECK", "0.4.0")]).toStrictEqual([false, true]);
    expect([versionAllows("GC", "1.0.0"), versionAllows("STATUS", "1.0.0")]).toStrictEqual([false, false]);
  });

  it('a config without a version ("") is 0.1.0 and allows none of them', () => {
    expect([versionAllows("CHECK", ""), versionAllows("GC", ""), versionAllows("STATUS", "")]).toStrictEqual([
      false,
      false,
      false,
    ]);
  });

  it("later versions pass the gates", () => {
    expect([
      versionAllows("CHECK", "1.2.0"),
      versionAllows("GC", "1.2.0"),
      versionAllows("STATUS", "2.0.0"),
    ]).toStrictEqual([true, true, true]);
  });
});

describe("pluginVersionInfo: Plexus's VERSION answer", () => {
  it("is skel's: the current version and every supported one", () => {
    expect(pluginVersionInfo()).toStrictEqual({ cniVersion: "1.1.0", supportedVersions: ALL });
    expect(JSON.stringify(pluginVersionInfo())).toBe(
      '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}',
    );
  });

  it("hands out a copy: changing it does not change the next answer", () => {
    (pluginVersionInfo().supportedVersions as string[]).push("9.9.9");
    expect(pluginVersionInfo().supportedVersions).toStrictEqual(ALL);
  });
});

describe("decodeVersionInfo: a delegate's VERSION answer", () => {
  it.each([
    [
      "a full answer",
      { cniVersion: "1.0.0", supportedVersions: ["0.4.0", "1.0.0"] },
      { cniVersion: "1.0.0", supportedVersions: ["0.4.0", "1.0.0"] },
    ],
    [
      "0.2.0 without the list: 0.1.0 and 0.2.0",
      { cniVersion: "0.2.0" },
      { cniVersion: "0.2.0", supportedVersions: ["0.1.0", "0.2.0"] },
    ],
    [
      "0.2.0 with an empty list",
      { cniVersion: "0.2.0", supportedVersions: [] },
      { cniVersion: "0.2.0", supportedVersions: ["0.1.0", "0.2.0"] },
    ],
    [
      "extra keys are ignored",
      { cniVersion: "1.1.0", supportedVersions: ["1.1.0"], foo: 1 },
      { cniVersion: "1.1.0", supportedVersions: ["1.1.0"] },
    ],
  ])("%s", (_name, raw, info) => {
    expect(decodeVersionInfo(raw)).toStrictEqual(info);
  });

  it.each([
    ["0.3.1 without the list", { cniVersion: "0.3.1" }, "decoding version info: missing field supportedVersions"],
    [
      "1.0.0 with an empty list",
      { cniVersion: "1.0.0", supportedVersions: [] },
      "decoding version info: missing field supportedVersions",
    ],
    [
      "a list that is not strings",
      { cniVersion: "1.0.0", supportedVersions: [1] },
      "decoding version info: missing field supportedVersions",
    ],
    ["no cniVersion", { supportedVersions: ["1.0.0"] }, "decoding version info: missing field cniVersion"],
    [
      "an empty cniVersion",
      { cniVersion: "", supportedVersions: ["1.0.0"] },
      "decoding version info: missing field cniVersion",
    ],
    [
      "a numeric cniVersion",
      { cniVersion: 1, supportedVersions: ["1.0.0"] },
      "decoding version info: missing field cniVersion",
    ],
    ["null", null, "decoding version info: missing field cniVersion"],
    ["a string", "1.0.0", "decoding version info: missing field cniVersion"],
  ])("%s fails (code 6)", (_name, raw, msg) => {
    const err = thrown(() => decodeVersionInfo(raw));
    expect([err.code, err.msg]).toStrictEqual([ErrorCode.DecodingFailure, msg]);
  });
});

describe("checkVersionSupported: the config version must be spoken exactly", () => {
  it.each(ALL)("%s passes", (v) => {
    expect(() => checkVersionSupported(v)).not.toThrow();
  });

  it('a config without a version ("") is 0.1.0 and passes (skel ConfigDecoder)', () => {
    expect(() => checkVersionSupported("")).not.toThrow();
  });

  it.each(["0.9.0", "1.0", "1.2.0", "2.0.0"])('"%s" fails with code 1 and skel\'s details', (v) => {
    const err = thrown(() => checkVersionSupported(v));
    expect(err.code).toBe(ErrorCode.IncompatibleVersion);
    expect(err.msg).toBe("incompatible CNI versions");
    expect(err.details).toBe(
      `config is "${v}", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]`,
    );
    expect(err.toWire("0.9.0")).toStrictEqual({
      cniVersion: "0.9.0",
      code: 1,
      msg: "incompatible CNI versions",
      details: err.details,
    });
  });
});
