// The one error family: spec codes, the wire form, context and conversion of anything thrown.
// CNI SPEC §5 "Error".

import { describe, expect, it } from "vitest";
import { CniError, ErrorCode, toCniError } from "../../src/cni/error.js";

describe("ErrorCode", () => {
  it("has the spec's numbers", () => {
    expect(ErrorCode).toMatchObject({
      Unknown: 0,
      IncompatibleVersion: 1,
      UnsupportedField: 2,
      UnknownContainer: 3,
      InvalidEnvironment: 4,
      IoFailure: 5,
      DecodingFailure: 6,
      InvalidNetworkConfig: 7,
      TryAgainLater: 11,
      PluginNotAvailable: 50,
      LimitedConnectivity: 51,
      Internal: 999,
    });
  });

  it("keeps Plexus's own codes at 100 and above, clear of the reserved 0-99", () => {
    for (const code of [ErrorCode.NotFound, ErrorCode.Forbidden, ErrorCode.DelegateFailed, ErrorCode.Timeout]) {
      expect(code).toBeGreaterThanOrEqual(100);
    }
    expect(new Set(Object.values(ErrorCode)).size).toBe(Object.values(ErrorCode).length);
  });
});

describe("CniError", () => {
  it("carries code, msg and details; its message is libcni's Error(): msg; details", () => {
    const err = new CniError(ErrorCode.TryAgainLater, "try again", { details: "x" });
    expect(err).toBeInstanceOf(Error);
    expect([err.name, err.code, err.msg, err.details, err.message]).toStrictEqual([
      "CniError",
      11,
      "try again",
      "x",
      "try again; x",
    ]);
  });

  it("without details the message is msg alone", () => {
    const err = new CniError(ErrorCode.IoFailure, "error reading from stdin");
    expect([err.message, err.details]).toStrictEqual(["error reading from stdin", undefined]);
  });

  it("keeps its cause", () => {
    const cause = new Error("EACCES");
    expect(new CniError(ErrorCode.IoFailure, "read failed", { cause }).cause).toBe(cause);
  });
});

describe("toWire: the error object printed on stdout", () => {
  it("with cniVersion and details", () => {
    const err = new CniError(ErrorCode.InvalidNetworkConfig, "Invalid Configuration", {
      details: "Network 192.168.0.0/31 too small to allocate from.",
    });
    expect(err.toWire("1.1.0")).toStrictEqual({
      cniVersion: "1.1.0",
      code: 7,
      msg: "Invalid Configuration",
      details: "Network 192.168.0.0/31 too small to allocate from.",
    });
  });

  it("without cniVersion (libcni's types.Error form) and without details", () => {
    expect(new CniError(ErrorCode.InvalidEnvironment, "unknown CNI_COMMAND: FOO").toWire()).toStrictEqual({
      code: 4,
      msg: "unknown CNI_COMMAND: FOO",
    });
  });

  it("an empty details string is left out, an empty cniVersion is kept", () => {
    expect(new CniError(ErrorCode.Unknown, "boom", { details: "" }).toWire("")).toStrictEqual({
      cniVersion: "",
      code: 0,
      msg: "boom",
    });
  });

  it("prints cniVersion, code, msg, details in that order", () => {
    const text = JSON.stringify(new CniError(1, "m", { details: "d" }).toWire("0.4.0"));
    expect(text).toBe('{"cniVersion":"0.4.0","code":1,"msg":"m","details":"d"}');
  });
});

describe("withContext", () => {
  it("prefixes the msg, keeps code and details, and has the original as cause", () => {
    const inner = new CniError(ErrorCode.TryAgainLater, "try again", { details: "x" });
    const outer = inner.withContext('plugin type="bridge" failed (add)');
    expect(outer).not.toBe(inner);
    expect([outer.code, outer.msg, outer.details]).toStrictEqual([
      11,
      'plugin type="bridge" failed (add): try again',
      "x",
    ]);
    expect(outer.cause).toBe(inner);
    expect(inner.msg).toBe("try again");
  });

  it("nests", () => {
    const err = new CniError(ErrorCode.NotFound, "network not found").withContext("net1").withContext("ADD");
    expect([err.code, err.msg]).toStrictEqual([ErrorCode.NotFound, "ADD: net1: network not found"]);
    expect((err.cause as CniError).cause).toBeInstanceOf(CniError);
  });
});

describe("toCniError", () => {
  it("returns a CniError as it is", () => {
    const err = new CniError(ErrorCode.DecodingFailure, "bad");
    expect(toCniError(err)).toBe(err);
  });

  it("wraps an Error as Internal (999, skel's ErrInternal) keeping it as cause", () => {
    const cause = new TypeError("x is undefined");
    const err = toCniError(cause);
    expect([err.code, err.msg, err.cause]).toStrictEqual([ErrorCode.Internal, "x is undefined", cause]);
  });

  it.each([
    ["a string", "boom", "boom"],
    ["a number", 42, "42"],
    ["undefined", undefined, "undefined"],
    ["an object", { code: 7 }, "[object Object]"],
  ])("wraps %s as Internal", (_name, thrownValue, msg) => {
    const err = toCniError(thrownValue);
    expect([err.code, err.msg, err.cause]).toStrictEqual([ErrorCode.Internal, msg, thrownValue]);
  });
});
