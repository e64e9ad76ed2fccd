// Network configuration lists and legacy single-plugin configs, as libcni's
// NetworkConfFromBytes / ConfListFromConf read them. CNI SPEC §1; libcni/conf.go.

import { describe, expect, it } from "vitest";
import { confToList, isConfList, parseConfList, parseJsonObject, parseNetworkConfig } from "../../src/cni/conf.js";
import { ErrorCode } from "../../src/cni/error.js";
import { thrown } from "../support/cni-error.js";

const list = (extra: Record<string, unknown>) => ({
  cniVersion: "1.0.0",
  name: "x",
  plugins: [{ type: "a" }],
  ...extra,
});

describe("libcni's conflist parsing", () => {
  it.each([
    ["no name", { cniVersion: "1.0.0", plugins: [{ type: "bridge" }] }, "error parsing configuration list: no name"],
    [
      "empty plugins",
      { cniVersion: "1.0.0", name: "x", plugins: [] },
      'error parsing configuration list "x": no plugins in list',
    ],
    [
      "plugin without type",
      { cniVersion: "1.0.0", name: "x", plugins: [{ bridge: "br0" }] },
      "failed to parse plugin config 0: error parsing configuration: missing 'type'",
    ],
    [
      "unparsable cniVersions entry",
      list({ cniVersions: ["1.0.f"] }),
      'error parsing configuration list: invalid cniVersions entry 1.0.f at index 0: failed to convert micro version part "f"',
    ],
    [
      'disableCheck: "yes"',
      list({ disableCheck: "yes" }),
      'error parsing configuration list: invalid value "yes" for disableCheck',
    ],
    [
      "numeric name",
      { name: 5, plugins: [{ type: "a" }] },
      "error parsing configuration list: invalid name type float64",
    ],
  ])("%s fails with code 7", (_id, input, msg) => {
    const err = thrown(() => parseConfList(input));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toBe(msg);
  });

  it.each([
    [
      "highest supported of cniVersion and cniVersions",
      { cniVersion: "0.4.0", cniVersions: ["0.3.1", "1.0.0", "2.0.0"] },
      "1.0.0",
    ],
    [
      "a cniVersion above 1.1.0 is dropped when cniVersions is given",
      { cniVersion: "1.2.0", cniVersions: ["1.1.0"] },
      "1.1.0",
    ],
    ["without cniVersions, cniVersion is kept as written", { cniVersion: "1.2.3" }, "1.2.3"],
  ])("%s", (_id, versions, selected) => {
    expect(parseConfList({ name: "x", plugins: [{ type: "a" }], ...versions }).cniVersion).toBe(selected);
  });

  it('disableCheck: "TRUE" is true', () => {
    expect(parseConfList(list({ disableCheck: "TRUE" })).disableCheck).toBe(true);
  });

  it("a legacy .conf is up-converted to a one-plugin list", () => {
    const conf = {
      cniVersion: "0.3.1",
      name: "mynet",
      type: "bridge",
      bridge: "cni0",
      ipam: { type: "host-local", subnet: "10.1.0.0/16" },
    };
    const expected = {
      cniVersion: "0.3.1",
      name: "mynet",
      plugins: [
        {
          bridge: "cni0",
          cniVersion: "0.3.1",
          ipam: { subnet: "10.1.0.0/16", type: "host-local" },
          name: "mynet",
          type: "bridge",
        },
      ],
    };
    expect(confToList(conf)).toStrictEqual(expected);
    const parsed = parseNetworkConfig(conf);
    expect(parsed.raw).toStrictEqual(expected);
    expect(parsed).toMatchObject({ name: "mynet", cniVersion: "0.3.1", disableCheck: false, disableGC: false });
    expect(parsed.plugins).toHaveLength(1);
    expect(parsed.plugins[0]?.type).toBe("bridge");
    expect(parsed.plugins[0]?.raw).toBe(conf);
  });
});

describe("cniVersion and cniVersions", () => {
  it.each([
    ["no version at all", {}, ""],
    ["cniVersion only", { cniVersion: "0.3.1" }, "0.3.1"],
    ["empty cniVersions and no cniVersion", { cniVersions: [] }, ""],
    ["empty cniVersions keeps cniVersion", { cniVersion: "1.0.0", cniVersions: [] }, "1.0.0"],
    ["cniVersions without cniVersion", { cniVersions: ["0.4.0", "1.1.0", "1.0.0"] }, "1.1.0"],
    ["cniVersion higher than every entry", { cniVersion: "1.1.0", cniVersions: ["0.3.1"] }, "1.1.0"],
    ["numeric, not string, comparison", { cniVersions: ["0.10.0", "0.9.0"] }, "0.10.0"],
    ["short forms are versions too", { cniVersions: ["1", "0.4"] }, "1"],
    ["every entry too high: cniVersion stands (libcni)", { cniVersion: "1.2.0", cniVersions: ["2.0.0"] }, "1.2.0"],
    ["every entry too high, no cniVersion", { cniVersions: ["2.0.0", "1.2.0"] }, ""],
    ["an empty cniVersion does not take part", { cniVersion: "", cniVersions: ["0.4.0"] }, "0.4.0"],
  ])("%s", (_name, versions, selected) => {
    expect(parseConfList({ name: "x", plugins: [{ type: "a" }], ...versions }).cniVersion).toBe(selected);
  });

  it.each([
    ["cniVersion not a string", { cniVersion: 1 }, "error parsing configuration list: invalid cniVersion type"],
    [
      "cniVersions not a list",
      { cniVersions: "1.0.0" },
      "error parsing configuration list: cniVersions must be a list",
    ],
    [
      "cniVersions entry not a string",
      { cniVersions: ["1.0.0", 1] },
      "error parsing configuration list: invalid cniVersions entry 1 at index 1",
    ],
    [
      "cniVersions entry with four parts",
      { cniVersions: ["1.0.0.0"] },
      'error parsing configuration list: invalid cniVersions entry 1.0.0.0 at index 0: invalid version "1.0.0.0": too many parts',
    ],
    [
      "unparsable cniVersion next to cniVersions",
      { cniVersion: "x", cniVersions: ["1.0.0"] },
      'error parsing configuration list: invalid cniVersion x: failed to convert major version part "x"',
    ],
  ])("%s fails with code 7", (_name, versions, msg) => {
    const err = thrown(() => parseConfList({ name: "x", plugins: [{ type: "a" }], ...versions }));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toBe(msg);
  });
});

describe("disableCheck and disableGC", () => {
  it.each(["disableCheck", "disableGC"] as const)('%s accepts booleans and "true"/"false" in any case', (key) => {
    expect(parseConfList(list({}))[key]).toBe(false);
    for (const [value, on] of [
      [true, true],
      [false, false],
      ["true", true],
      ["TRUE", true],
      ["True", true],
      ["false", false],
      ["FALSE", false],
    ] as const) {
      expect(parseConfList(list({ [key]: value }))[key]).toBe(on);
    }
  });

  it.each([
    ["disableCheck", "yes", 'invalid value "yes" for disableCheck'],
    ["disableCheck", "YES", 'invalid value "yes" for disableCheck'],
    ["disableCheck", 1, "invalid value 1 for disableCheck"],
    ["disableGC", "", 'invalid value "" for disableGC'],
    ["disableGC", null, "invalid value null for disableGC"],
  ])("%s: %j is an error (code 7)", (key, value, msg) => {
    const err = thrown(() => parseConfList(list({ [key]: value })));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toBe(`error parsing configuration list: ${msg}`);
  });
});

describe("name and plugins", () => {
  it.each([
    ["empty name", { name: "", plugins: [{ type: "a" }] }, "error parsing configuration list: no name"],
    ["null name", { name: null, plugins: [{ type: "a" }] }, "error parsing configuration list: invalid name type null"],
    [
      "list as name",
      { name: ["x"], plugins: [{ type: "a" }] },
      "error parsing configuration list: invalid name type array",
    ],
    ["no plugins key", { name: "x" }, `error parsing configuration list "x": no 'plugins' list`],
    [
      "plugins not a list",
      { name: "x", plugins: { type: "a" } },
      `error parsing configuration list "x": no 'plugins' list`,
    ],
    [
      "plugin not an object",
      { name: "x", plugins: [{ type: "a" }, "bridge"] },
      "failed to parse plugin config 1: not a JSON object",
    ],
    ["plugin null", { name: "x", plugins: [null] }, "failed to parse plugin config 0: not a JSON object"],
    [
      "plugin with empty type",
      { name: "x", plugins: [{ type: "" }] },
      "failed to parse plugin config 0: error parsing configuration: missing 'type'",
    ],
    [
      "plugin with numeric type",
      { name: "x", plugins: [{ type: 1 }] },
      "failed to parse plugin config 0: error parsing configuration: missing 'type'",
    ],
    [
      "second plugin without type",
      { name: "x", plugins: [{ type: "a" }, { ipam: {} }] },
      "failed to parse plugin config 1: error parsing configuration: missing 'type'",
    ],
  ])("%s fails with code 7", (_name, input, msg) => {
    const err = thrown(() => parseConfList(input));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toBe(msg);
  });

  it("keeps every plugin in order with its raw JSON, foreign keys included", () => {
    const plugins = [
      { type: "bridge", bridge: "cni0", "x-vendor": { a: [1, 2] } },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
    ];
    const input = { cniVersion: "1.1.0", name: "dbnet", plugins, "x-top": 1 };
    const parsed = parseConfList(input);
    expect(parsed.plugins.map((p) => p.type)).toStrictEqual(["bridge", "portmap"]);
    expect(parsed.plugins[0]?.raw).toBe(plugins[0]);
    expect(parsed.plugins[1]?.raw).toBe(plugins[1]);
    expect(parsed.raw).toBe(input);
  });
});

describe("capabilities", () => {
  it.each([
    ["absent", undefined, []],
    ["empty", {}, []],
    [
      "only enabled ones count (false is ignored, as libcni does)",
      { mac: true, ips: false, portMappings: true },
      ["mac", "portMappings"],
    ],
    ["all disabled", { mac: false }, []],
    // Go's encoding/json: null leaves the map nil and a bool false, without an error.
    ["null", null, []],
    ["a null value", { mac: null, ips: true }, ["ips"]],
  ])("%s", (_name, capabilities, enabled) => {
    const plugin = capabilities === undefined ? { type: "tuning" } : { type: "tuning", capabilities };
    expect(parseConfList({ name: "x", plugins: [plugin] }).plugins[0]?.capabilities).toStrictEqual(enabled);
  });

  it.each([
    ["a list", ["mac"], `failed to parse plugin config 0 (type "tuning"): 'capabilities' must be an object`],
    ["a string", "mac", `failed to parse plugin config 0 (type "tuning"): 'capabilities' must be an object`],
    [
      "a string value",
      { mac: "true" },
      `failed to parse plugin config 0 (type "tuning"): capability "mac" must be true or false`,
    ],
    [
      "a numeric value",
      { mac: true, ips: 1 },
      `failed to parse plugin config 0 (type "tuning"): capability "ips" must be true or false`,
    ],
  ])("%s is an error (code 7; libcni decodes map[string]bool)", (_name, capabilities, msg) => {
    const err = thrown(() => parseConfList({ name: "x", plugins: [{ type: "tuning", capabilities }] }));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toBe(msg);
  });
});

describe("legacy single-plugin configs", () => {
  it.each([
    ["a list", { name: "x", plugins: [] }, true],
    ["a plugin config", { name: "x", type: "bridge" }, false],
    ["an object with an empty type", { name: "x", type: "" }, true],
    ["an object with a non-string type", { name: "x", type: 1 }, true],
    ["an object with type and plugins (type wins)", { name: "x", type: "bridge", plugins: [] }, false],
  ])("isConfList: %s -> %s", (_name, input, expected) => {
    expect(isConfList(input)).toBe(expected);
  });

  it("confToList leaves out cniVersion and name the config does not have", () => {
    expect(confToList({ type: "bridge" })).toStrictEqual({ plugins: [{ type: "bridge" }] });
  });

  it("a legacy config without a name fails like a list without one", () => {
    const err = thrown(() => parseNetworkConfig({ cniVersion: "1.0.0", type: "bridge" }));
    expect([err.code, err.msg]).toStrictEqual([
      ErrorCode.InvalidNetworkConfig,
      "error parsing configuration list: no name",
    ]);
  });

  it("parseNetworkConfig reads a list as a list", () => {
    const parsed = parseNetworkConfig({ cniVersion: "1.1.0", name: "n", plugins: [{ type: "a" }, { type: "b" }] });
    expect(parsed.plugins.map((p) => p.type)).toStrictEqual(["a", "b"]);
  });
});

describe("parseJsonObject", () => {
  it("parses an object", () => {
    expect(parseJsonObject('{"a":1,"b":{"c":[true]}}', "stdin")).toStrictEqual({ a: 1, b: { c: [true] } });
  });

  it("invalid JSON is a decoding failure (code 6) naming what was read, with the parser error as cause", () => {
    const err = thrown(() => parseJsonObject("{not json", "network config from stdin"));
    expect(err.code).toBe(ErrorCode.DecodingFailure);
    expect(err.msg).toMatch(/^error parsing network config from stdin: /);
    expect(err.cause).toBeInstanceOf(SyntaxError);
  });

  it.each([["[]"], ["null"], ['"text"'], ["5"], ["true"]])("%s is not an object (code 6)", (text) => {
    const err = thrown(() => parseJsonObject(text, "x.conflist"));
    expect([err.code, err.msg]).toStrictEqual([
      ErrorCode.DecodingFailure,
      "error parsing x.conflist: not a JSON object",
    ]);
  });

  it("empty input is a decoding failure", () => {
    expect(thrown(() => parseJsonObject("", "stdin")).code).toBe(ErrorCode.DecodingFailure);
  });
});
