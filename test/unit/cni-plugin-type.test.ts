// One rule for "a plugin type is a bare file name" (src/cni/ids.ts pluginTypeProblem), asked by
// both places a type is checked: a delegate config from a NAD or a conf file
// (validateDelegateConfig), and the plugin lookup (findPlugin). One table drives both, so they
// cannot drift apart again.
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/cni/error.js";
import { pluginTypeProblem } from "../../src/cni/ids.js";
import { validateDelegateConfig } from "../../src/cni/untrusted-conf.js";
import { findPlugin } from "../../src/runtime/find-plugin.js";
import { thrown } from "../support/cni-error.js";
import { cniFailure } from "../support/cni-plugins.js";

/** A name a file in a directory can have is a plugin type; a path (or no name) is not. */
const BARE = ["bridge", "host-local", "a.b", "v1.2_x", ".hidden", "a..b", "..x", "x..", "..."];
const NOT_BARE = ["", ".", "..", "../x", "../../bin/sh", "/bin/sh", "sub/x", "x/", "..\\x", "a\\b", "C:\\x", "a\0b"];
const TABLE = [...BARE.map((t) => [t, true] as const), ...NOT_BARE.map((t) => [t, false] as const)];

describe("a plugin type is a bare file name", () => {
  let bin: string;
  beforeAll(async () => {
    bin = await mkdtemp(join(tmpdir(), "plexus-plugin-type-"));
    for (const type of BARE) {
      await writeFile(join(bin, type), "#!/bin/sh\n");
      await chmod(join(bin, type), 0o755);
    }
  });
  afterAll(async () => {
    await rm(bin, { recursive: true, force: true });
  });

  it.each(TABLE)("%j: bare %s", async (type, bare) => {
    expect(pluginTypeProblem(type) === undefined).toBe(bare);

    const conf = () => validateDelegateConfig({ cniVersion: "1.0.0", name: "net", type }, "nad team-a/net");
    if (bare) {
      expect(conf().plugins[0]!.type).toBe(type);
      expect(await findPlugin(type, [bin])).toBe(join(bin, type));
    } else {
      const err = thrown(conf);
      expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
      expect(err.msg).toMatch(/^nad team-a\/net: /);
      const lookup = await cniFailure(findPlugin(type, [bin]));
      expect(lookup.code).toBe(ErrorCode.InvalidNetworkConfig);
      expect(lookup.msg).toBe(`invalid plugin name: ${type}`);
    }
  });

  it("a conf file's refusal names the plugin and says why", () => {
    const err = thrown(() =>
      validateDelegateConfig({ cniVersion: "1.0.0", name: "net", plugins: [{ type: "ok" }, { type: "../sh" }] }, "f"),
    );
    expect(err.msg).toBe(`f: plugin 1 has type "../sh"; a type is a plugin binary's file name, not a path`);
  });
});

describe("IPAM types and Plexus's own names", () => {
  const conf = (plugin: Record<string, unknown>) => ({ cniVersion: "1.0.0", name: "net", plugins: [plugin] });

  it.each(NOT_BARE)("an ipam type %j is refused like a plugin type", (type) => {
    const err = thrown(() => validateDelegateConfig(conf({ type: "macvlan", ipam: { type } }), "f"));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toBe(
      `f: plugin 0 has ipam type ${JSON.stringify(type)}; a type is a plugin binary's file name, not a path`,
    );
  });

  it("an ipam type that is not a string is refused", () => {
    const err = thrown(() => validateDelegateConfig(conf({ type: "macvlan", ipam: { type: 7 } }), "f"));
    expect(err.msg).toBe("f: plugin 0 has an ipam type that is not a string");
  });

  it.each(["plexus", "plexus-thin"])("%j as a plugin type or an ipam type is Plexus itself", (type) => {
    for (const [plugin, what] of [
      [{ type }, "type"],
      [{ type: "macvlan", ipam: { type } }, "ipam type"],
    ] as const) {
      const err = thrown(() => validateDelegateConfig(conf(plugin), "f"));
      expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
      expect(err.msg).toBe(
        `f: plugin 0 has ${what} "${type}"; that is Plexus itself, which would run the same networks again, ` +
          `without end`,
      );
    }
  });

  it("an ipam section without a type, or a usual ipam type, is fine", () => {
    expect(validateDelegateConfig(conf({ type: "macvlan", ipam: {} }), "f").plugins).toHaveLength(1);
    expect(validateDelegateConfig(conf({ type: "macvlan", ipam: { type: "host-local" } }), "f").plugins).toHaveLength(
      1,
    );
  });
});
