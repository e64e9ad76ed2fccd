// Reading a plugin's stdout and stderr (libcni pkg/invoke/raw_exec.go, exec.go).
import { describe, expect, it } from "vitest";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { decodeFailure, decodeSuccess, describeExit, quoteOutput } from "../../src/runtime/plugin-output.js";

const exit1 = { exitCode: 1, signal: undefined };

describe("decodeFailure", () => {
  it.each([
    {
      name: "empty stdout, stderr text",
      run: { ...exit1, stdout: "", stderr: "boom\n" },
      code: 0,
      msg: 'netplugin failed: "boom": exit status 1',
      details: undefined,
    },
    {
      name: "nothing at all",
      run: { exitCode: 2, signal: undefined, stdout: "", stderr: "" },
      code: 0,
      msg: "netplugin failed with no error message: exit status 2",
      details: undefined,
    },
    {
      name: "killed by a signal",
      run: { exitCode: undefined, signal: "SIGSEGV", stdout: "", stderr: "" },
      code: 0,
      msg: "netplugin failed with no error message: signal: SIGSEGV",
      details: undefined,
    },
    {
      name: "a CNI error on stdout",
      run: { ...exit1, stdout: '{"code":11,"msg":"try again","details":"x"}', stderr: "ignored" },
      code: 11,
      msg: "try again",
      details: "x",
    },
    {
      name: "a CNI error with cniVersion and no details (skel)",
      run: { ...exit1, stdout: '{"cniVersion":"1.1.0","code":7,"msg":"bad config"}\n', stderr: "" },
      code: 7,
      msg: "bad config",
      details: undefined,
    },
    {
      name: "an error object without a message",
      run: { ...exit1, stdout: '{"code":4}', stderr: "" },
      code: 4,
      msg: "netplugin failed with no error message: exit status 1",
      details: undefined,
    },
  ])("$name", ({ run, code, msg, details }) => {
    const err = decodeFailure(run);
    expect(err).toBeInstanceOf(CniError);
    expect({ code: err.code, msg: err.msg, details: err.details }).toEqual({ code, msg, details });
  });

  it("the error's text is msg; details", () => {
    expect(decodeFailure({ ...exit1, stdout: '{"code":11,"msg":"try again","details":"x"}', stderr: "" }).message).toBe(
      "try again; x",
    );
  });

  it.each(["garbage", "[1,2]", '{"code":"eleven","msg":"x"}', "42"])("unreadable stdout %j is quoted", (stdout) => {
    const err = decodeFailure({ ...exit1, stdout, stderr: "" });
    expect(err.code).toBe(ErrorCode.Unknown);
    expect(
      err.msg.startsWith(`netplugin failed but error parsing its diagnostic message ${JSON.stringify(stdout)}: `),
    ).toBe(true);
    expect(err.msg.length).toBeGreaterThan(
      `netplugin failed but error parsing its diagnostic message ${JSON.stringify(stdout)}: `.length,
    );
  });

  it("keeps stderr next to unreadable stdout", () => {
    expect(decodeFailure({ ...exit1, stdout: "garbage", stderr: "panic: nil map" }).details).toBe(
      'stderr: "panic: nil map"',
    );
  });
});

describe("decodeSuccess", () => {
  it("empty stdout is an error", () => {
    expect(() => decodeSuccess("")).toThrow("failed to unmarshal raw result: unexpected end of JSON input");
    expect(() => decodeSuccess(" \n")).toThrow(CniError);
  });

  it("null is an empty object; JSON is parsed", () => {
    expect(decodeSuccess("null\n")).toEqual({});
    expect(decodeSuccess('{"cniVersion":"1.0.0"}')).toEqual({ cniVersion: "1.0.0" });
  });

  it("garbage is a decoding error quoting it", () => {
    const err = (() => {
      try {
        decodeSuccess("not json");
      } catch (e) {
        return e as CniError;
      }
      throw new Error("no error");
    })();
    expect(err.code).toBe(ErrorCode.DecodingFailure);
    expect(err.msg).toMatch(/^failed to unmarshal raw result: /);
    expect(err.details).toBe('stdout: "not json"');
  });
});

describe("quoteOutput and describeExit", () => {
  it("quotes short output whole and long output cut", () => {
    expect(quoteOutput('a "b"\n')).toBe('"a \\"b\\"\\n"');
    const long = "x".repeat(5000);
    const quoted = quoteOutput(long);
    expect(quoted.length).toBeLessThan(700);
    expect(quoted).toContain("truncated, 5000 characters in all");
  });

  it("says how a process ended, as Go does", () => {
    expect(describeExit({ exitCode: 3, signal: undefined })).toBe("exit status 3");
    expect(describeExit({ exitCode: undefined, signal: "SIGKILL" })).toBe("signal: SIGKILL");
  });
});
