// The one command-line parser of the plexus subcommands (src/cli/args.ts): what it accepts, and
// the one-line message each usage error gets. test/integration/plexus-cli.test.ts runs the same
// cases through the executable.

import { describe, expect, it } from "vitest";
import {
  integerValue,
  nonEmptyValue,
  parseCommandLine,
  portValue,
  UsageError,
  type FlagSpecs,
} from "../../src/cli/args.js";

const FLAGS = {
  "state-dir": { type: "string" },
  port: { type: "string", short: "p" },
  json: { type: "boolean" },
} as const satisfies FlagSpecs;

function problem(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error("no usage error");
}

describe("parseCommandLine", () => {
  it("reads long, inline, short and boolean flags; the last of a repeated flag wins", () => {
    const line = parseCommandLine(["--state-dir", "/a", "--port=80", "-p", "81", "--json", "--state-dir", "/b"], FLAGS);
    expect(line).toEqual({ flags: { "state-dir": "/b", port: "81", json: true }, positionals: [], help: false });
  });

  it("takes positionals up to the maximum, and after --", () => {
    expect(parseCommandLine(["x", "--", "--json"], FLAGS, { maxPositionals: 2 }).positionals).toEqual(["x", "--json"]);
  });

  it.each([["--help"], ["-h"], ["--bogus", "--help"], ["--port", "abc", "-h"]])("%j is help", (...argv) => {
    expect(parseCommandLine(argv, FLAGS)).toEqual({ flags: {}, positionals: [], help: true });
  });

  it.each([
    [["--bogus"], "unknown flag --bogus"],
    [["-x"], "unknown flag -x"],
    [["-j"], "unknown flag -j"],
    [["--port"], "--port needs a value"],
    [["--port", "--json"], "--port needs a value"],
    [["-p"], "-p needs a value"],
    [["--json=true"], "--json takes no value"],
    [["extra"], 'unexpected argument "extra"'],
    [["--help=yes"], "--help takes no value"],
  ])("%j: %s", (argv, message) => {
    expect(problem(() => parseCommandLine(argv, FLAGS))).toBe(message);
  });

  it("names the first argument past the maximum", () => {
    expect(problem(() => parseCommandLine(["a", "b", "c"], FLAGS, { maxPositionals: 2 }))).toBe(
      'too many arguments: "c" is one more than the 2 it takes',
    );
  });

  it("an empty inline value is a value (the value checks refuse it where it matters)", () => {
    expect(parseCommandLine(["--state-dir="], FLAGS).flags["state-dir"]).toBe("");
    expect(problem(() => nonEmptyValue("state-dir", ""))).toBe("--state-dir needs a non-empty value");
  });
});

describe("value checks", () => {
  it.each(["0", "80", "65535", " 8080 "])("port %j", (text) => {
    expect(portValue("port", text)).toBe(Number(text));
  });

  it.each(["", "abc", "-1", "65536", "99999", "1.5", "0x50", "1e3", "80abc"])("port %j is refused", (text) => {
    expect(problem(() => portValue("port", text))).toBe(
      `--port: ${JSON.stringify(text)} is not a port number (0-65535)`,
    );
  });

  it("integers within a range", () => {
    expect(integerValue("max", "-3", { min: -5, max: 5 })).toBe(-3);
    expect(problem(() => integerValue("max", "6", { min: -5, max: 5 }))).toBe('--max: "6" is not an integer (-5-5)');
  });
});
