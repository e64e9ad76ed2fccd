// The shim's own errors (daemon gone mid-call, a bad PLEXUS_SHIM_TIMEOUT, a socket it may not
// open, ...) carry the cniVersion the thin plexus would give them (CNI SPEC §5): dist/plexus-shim
// finds it with a small JSON scanner in C, so every stdin here is run through the real shim and
// its answer compared with src/cni/version-info.ts's errorVersion on the same text. The shim is
// made to fail at once (PLEXUS_SHIM_TIMEOUT is not a number): no daemon, no fallback.

import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { errorVersion } from "../../src/cni/version-info.js";
import { SUPPORTED_VERSIONS } from "../../src/cni/version.js";
import { shimBin } from "../support/plexus.js";
import { anyJson, edgyString, fuzzParams } from "./fuzz-settings.js";

/** The CNI error the shim printed for `stdin`: one line of JSON, nothing else. */
function shimError(stdin: string): { cniVersion?: unknown; code?: unknown } {
  const out = spawnSync(shimBin, [], {
    input: stdin,
    env: { PLEXUS_SHIM_TIMEOUT: "not-a-number", PLEXUS_SOCKET: "/nonexistent/plexus.sock" },
    encoding: "utf8",
  });
  expect(out.status).toBe(1);
  expect(out.stdout.endsWith("}\n") && out.stdout.indexOf("\n") === out.stdout.length - 1, out.stdout).toBe(true);
  return JSON.parse(out.stdout) as { cniVersion?: unknown; code?: unknown };
}

const versionValue = fc.oneof(
  fc.constantFrom<unknown>(
    ...SUPPORTED_VERSIONS,
    "",
    "0.9.0",
    "1.0",
    " 1.0.0",
    "1.0.0 ",
    "v1.0.0",
    7,
    null,
    true,
    {},
    [],
  ),
  edgyString,
);

/** A configuration-like object: sometimes with a cniVersion, other keys of any shape around it. */
const confObject = fc
  .tuple(fc.option(versionValue, { nil: undefined }), fc.dictionary(edgyString, anyJson, { maxKeys: 5 }))
  .map(([version, rest]) => (version === undefined ? rest : { ...rest, cniVersion: version }));

/** JSON texts: compact or indented, with the key escaped, repeated, nested, or with one byte broken. */
const stdinText = fc.oneof(
  confObject.map((o) => JSON.stringify(o)),
  confObject.map((o) => JSON.stringify(o, null, 2)),
  confObject.map((o) => JSON.stringify(o).replace('"cniVersion"', '"cni\\u0056ersion"')),
  fc
    .tuple(confObject, versionValue)
    .map(([o, v]) => `{"cniVersion":${JSON.stringify(v)},${JSON.stringify(o).slice(1)}`.replace(",}", "}")),
  confObject.map((o) => JSON.stringify({ delegates: [o], inner: { cniVersion: "0.3.1" } })),
  fc
    .tuple(confObject, fc.nat(), fc.constantFrom("", "{", "}", "[", "]", ",", ":", '"', "\\", "0", " ", "\n", "x"))
    .map(([o, at, put]) => {
      const t = JSON.stringify(o);
      const i = at % (t.length + 1);
      return t.slice(0, i) + put + t.slice(i + (put === "" ? 1 : 0));
    }),
  anyJson.map((v) => JSON.stringify(v)),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.constantFrom("", " ", "{", "}", "{}", "[]", "null", '{"cniVersion":"1.0.0"} {}', "\ufeff{}", "[".repeat(5000)),
);

describe("the shim's own errors carry the configuration's cniVersion", () => {
  it("as the thin plexus chooses it, for 500 generated stdins", () => {
    fc.assert(
      fc.property(stdinText, (text) => {
        const err = shimError(text);
        expect(err.code).toBe(5);
        expect(err.cniVersion).toBe(errorVersion(text));
      }),
      fuzzParams(500),
    );
  });

  it.each([
    ['{"cniVersion":"0.4.0","name":"x"}', "0.4.0"],
    ['{"name":"x"}', "0.1.0"],
    ['{"cniVersion":""}', "0.1.0"],
    ['{"cniVersion":"0.9.0"}', "1.1.0"],
    ['{"cniVersion":null}', "1.1.0"],
    ['{"cniVersion":"0.3.1","cniVersion":"1.0.0"}', "1.0.0"],
    ['{"plugins":[{"cniVersion":"0.3.1"}]}', "0.1.0"],
    ['{"cniVersion":"0.4.0"', "1.1.0"],
    ["not json", "1.1.0"],
    ["", "1.1.0"],
  ])("%s: %s", (text, version) => {
    expect(errorVersion(text)).toBe(version);
    expect(shimError(text).cniVersion).toBe(version);
  });
});
