// NAD -> delegate config (multi-net spec §3.4): spec.config, bounded and checked, or the conf-dir
// file named like the NAD (looked up by src/runtime/conf-files.ts, here over a directory in memory).
import { describe, expect, it } from "vitest";
import type { NetworkConfigList } from "../../src/cni/conf.js";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { MAX_CONF_BYTES } from "../../src/cni/untrusted-conf.js";
import { delegateConfigFromNad, type ConfByName, type NadConfigSource } from "../../src/networks/nad-config.js";
import { findConfByName } from "../../src/runtime/conf-files.js";
import { cniFailure } from "../support/cni-plugins.js";

const nad = (name: string, config?: string, namespace = "team-a"): NadConfigSource => ({
  metadata: { name, namespace },
  ...(config !== undefined ? { spec: { config } } : {}),
});
const ctx = { pod: "team-a/web-0" };
/** For NADs with a spec.config: the conf dir must not be asked. */
const emptyDir: ConfByName = (name) => Promise.reject(new Error(`the conf dir was asked for ${name}`));

describe("delegateConfigFromNad with spec.config", () => {
  it("a conf without name gets the NAD name; foreign keys kept", async () => {
    const list = await delegateConfigFromNad(
      nad("a-bridge-network", '{"cniVersion":"0.3.0","type":"awesome-plugin","x-vendor":{"a":1}}'),
      emptyDir,
      ctx,
    );
    expect(list.name).toBe("a-bridge-network");
    expect(list.cniVersion).toBe("0.3.0");
    expect(list.plugins[0]!.raw).toEqual({
      cniVersion: "0.3.0",
      name: "a-bridge-network",
      type: "awesome-plugin",
      "x-vendor": { a: 1 },
    });
  });

  it('a conflist with name "" gets the NAD name on the list', async () => {
    const list = await delegateConfigFromNad(
      nad("net-a", '{"cniVersion":"1.0.0","name":"","plugins":[{"type":"bridge"},{"type":"tuning"}]}'),
      emptyDir,
      ctx,
    );
    expect(list.name).toBe("net-a");
    expect(list.plugins.map((p) => p.type)).toEqual(["bridge", "tuning"]);
  });

  it("a config's own name is kept (it need not equal the NAD name, spec §3.4.3)", async () => {
    const list = await delegateConfigFromNad(
      nad("net-a", '{"cniVersion":"1.0.0","name":"other","type":"bridge"}'),
      emptyDir,
      ctx,
    );
    expect(list.name).toBe("other");
  });

  it.each([
    ["invalid JSON", "{", "spec.config: invalid JSON"],
    ["not an object", "[1]", "spec.config must be a JSON object"],
    ["no type and no plugins", '{"cniVersion":"1.0.0"}', "no 'plugins' list"],
    [
      "a plugin type that is a path",
      '{"cniVersion":"1.0.0","type":"../../bin/sh"}',
      'plugin 0 has type "../../bin/sh"',
    ],
    [
      "a network name that is not a file name",
      '{"cniVersion":"1.0.0","name":"../x","type":"bridge"}',
      'network name "../x" is invalid',
    ],
    ["a name that is not a string", '{"cniVersion":"1.0.0","name":5,"type":"bridge"}', "invalid name type"],
    ["a deeply nested config", `{"type":"bridge","x":${"[".repeat(100)}${"]".repeat(100)}}`, "nested deeper than 64"],
    ["a huge config", `{"type":"bridge","x":"${"a".repeat(MAX_CONF_BYTES)}"}`, "larger than"],
  ])("%s is InvalidNetworkConfig naming the NAD", async (_, config, text) => {
    const err = await cniFailure(delegateConfigFromNad(nad("net-a", config), emptyDir, ctx));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toContain("pod team-a/web-0: NetworkAttachmentDefinition team-a/net-a");
    expect(err.msg).toContain(text);
  });
});

describe("delegateConfigFromNad without spec.config: the conf dir", () => {
  const files: Record<string, string> = {
    "05-broken.conf": "{not json",
    "20-a.conflist": '{"cniVersion":"1.0.0","name":"net-a","plugins":[{"type":"bridge"}],"from":"conflist"}',
  };
  const reader = {
    list: async () => Object.keys(files),
    read: async (path: string): Promise<string> => {
      const text = files[path.slice(path.lastIndexOf("/") + 1)];
      if (text === undefined) throw new CniError(ErrorCode.NotFound, `${path} does not exist`);
      return text;
    },
  };
  const asked: string[] = [];
  const confDir: ConfByName = (name): Promise<NetworkConfigList> => {
    asked.push(name);
    return findConfByName("/etc/cni/multus/net.d", name, reader);
  };

  it("the config named like the NAD, for a missing or blank spec.config", async () => {
    expect((await delegateConfigFromNad(nad("net-a"), confDir, ctx)).raw["from"]).toBe("conflist");
    expect((await delegateConfigFromNad(nad("net-a", "  "), confDir, ctx)).raw["from"]).toBe("conflist");
    expect(asked).toEqual(["net-a", "net-a"]);
  });

  it("no match is NotFound naming the NAD, the conf dir and the skipped broken file", async () => {
    const err = await cniFailure(delegateConfigFromNad(nad("missing"), confDir, ctx));
    expect(err.code).toBe(ErrorCode.NotFound);
    expect(err.msg).toMatch(
      /^pod team-a\/web-0: NetworkAttachmentDefinition team-a\/missing has no spec.config: no CNI config named "missing" in \/etc\/cni\/multus\/net.d; skipped unreadable files: 05-broken.conf \(invalid JSON: .+\)$/,
    );
  });
});
