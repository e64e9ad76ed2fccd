// NAD -> delegate config (spec §3.4), the conf-dir search and clusterNetwork paths.
// The node reader runs against a real temporary directory.
import { mkdtemp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import type { NetworkAttachmentDefinition } from "../../src/k8s/port.js";
import {
  MAX_CONF_BYTES,
  delegateConfigFromNad,
  findConfByName,
  loadNetworkFromPath,
  nodeConfDirReader,
  type ConfDirReader,
} from "../../src/networks/nad-config.js";
import { cniFailure } from "../support/cni-plugins.js";

/** A conf dir held in memory: file name -> content. */
function memoryDir(files: Record<string, string>): ConfDirReader {
  return {
    list: async () => Object.keys(files).reverse(),
    read: async (path) => {
      const name = path.slice(path.lastIndexOf("/") + 1);
      const text = files[name];
      if (text === undefined) throw new CniError(ErrorCode.NotFound, `${path} does not exist`);
      return text;
    },
  };
}
const nad = (name: string, config?: string, namespace = "team-a"): NetworkAttachmentDefinition => ({
  metadata: { name, namespace },
  ...(config !== undefined ? { spec: { config } } : {}),
});
const ctx = { pod: "team-a/web-0" };
const emptyDir = { dir: "/etc/cni/multus/net.d", reader: memoryDir({}) };

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
  const files = {
    "10-a.conf": '{"cniVersion":"1.0.0","name":"net-a","type":"bridge","from":"conf"}',
    "20-a.conflist": '{"cniVersion":"1.0.0","name":"net-a","plugins":[{"type":"bridge"}],"from":"conflist"}',
    "05-broken.conf": "{not json",
    "30-b.json": '{"cniVersion":"1.0.0","name":"net-b","type":"macvlan"}',
    "40-c.conf": '{"cniVersion":"1.0.0","name":"net-c","plugins":[{"type":"ptp"}]}',
    "00-plexus.conflist": '{"cniVersion":"1.0.0","name":"net-d","plugins":[{"type":"plexus"}]}',
    "50-e.conflist.bak": '{"cniVersion":"1.0.0","name":"net-e","plugins":[{"type":"x"}]}',
    "60-bad-match.conf": '{"cniVersion":"1.0.0","name":"net-f"}',
  };
  const dir = { dir: "/etc/cni/multus/net.d", reader: memoryDir(files) };

  it("the .conflist named like the NAD wins over a .conf of that name (spec §3.4.1), past a broken file", async () => {
    const list = await delegateConfigFromNad(nad("net-a"), dir, ctx);
    expect(list.raw["from"]).toBe("conflist");
    const again = await delegateConfigFromNad(nad("net-a", "  "), dir, ctx);
    expect(again.raw["from"]).toBe("conflist");
  });

  it(".json files count; a .conf holding a list is read as a list", async () => {
    expect((await delegateConfigFromNad(nad("net-b"), dir, ctx)).plugins[0]!.type).toBe("macvlan");
    expect((await delegateConfigFromNad(nad("net-c"), dir, ctx)).plugins[0]!.type).toBe("ptp");
  });

  it("Plexus's own file and other extensions are never matched", async () => {
    for (const name of ["net-d", "net-e"]) {
      const err = await cniFailure(delegateConfigFromNad(nad(name), dir, ctx));
      expect(err.code).toBe(ErrorCode.NotFound);
    }
  });

  it("no match is NotFound naming the NAD, the conf dir and the skipped broken file", async () => {
    const err = await cniFailure(delegateConfigFromNad(nad("missing"), dir, ctx));
    expect(err.code).toBe(ErrorCode.NotFound);
    expect(err.msg).toMatch(
      /^pod team-a\/web-0: NetworkAttachmentDefinition team-a\/missing has no spec.config: no CNI config named "missing" in \/etc\/cni\/multus\/net.d; skipped unreadable files: 05-broken.conf \(invalid JSON: .+\)$/,
    );
  });

  it("a matching file that is not a valid config is that file's error", async () => {
    const err = await cniFailure(delegateConfigFromNad(nad("net-f"), dir, ctx));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toContain("/etc/cni/multus/net.d/60-bad-match.conf");
  });
});

describe("on the node's file system", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "plexus-nad-config-"));
    await mkdir(join(root, "net.d", "multus.d.conf"), { recursive: true });
    await writeFile(
      join(root, "net.d", "10-flannel.conflist"),
      '{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel"}]}',
    );
    await writeFile(
      join(root, "net.d", "00-plexus.conflist"),
      '{"cniVersion":"1.0.0","name":"plexus","plugins":[{"type":"plexus"}]}',
    );
    await writeFile(join(root, "net.d", "05-big.conf"), `{"x":"${"a".repeat(MAX_CONF_BYTES)}"}`);
    await writeFile(join(root, "net.d", "99-loopback.conf"), '{"cniVersion":"1.0.0","name":"lo","type":"loopback"}');
    await symlink(join(root, "net.d", "99-loopback.conf"), join(root, "net.d", "50-link.conf"));
    await mkdir(join(root, "broken"));
    await writeFile(join(root, "broken", "01-broken.conf"), "{");
    await writeFile(join(root, "broken", "02-ok.conf"), '{"cniVersion":"1.0.0","name":"ok","type":"bridge"}');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("lists regular files and symlinks to them, not directories or oversized files", async () => {
    const names = [...(await nodeConfDirReader.list(join(root, "net.d")))].sort();
    expect(names).toEqual(["00-plexus.conflist", "10-flannel.conflist", "50-link.conf", "99-loopback.conf"]);
    expect(await nodeConfDirReader.list(join(root, "nope"))).toEqual([]);
  });

  it("reads refuse oversized files and report missing ones as NotFound", async () => {
    expect((await cniFailure(nodeConfDirReader.read(join(root, "net.d", "05-big.conf")))).msg).toContain("larger than");
    expect((await cniFailure(nodeConfDirReader.read(join(root, "nope.conf")))).code).toBe(ErrorCode.NotFound);
  });

  it("loadNetworkFromPath: a directory gives its first config in lexical order, skipping 00-plexus*", async () => {
    expect((await loadNetworkFromPath(join(root, "net.d"), nodeConfDirReader)).name).toBe("cbr0");
  });

  it("loadNetworkFromPath: a file, a conf file, a missing path, an empty directory", async () => {
    expect(
      (await loadNetworkFromPath(join(root, "net.d", "99-loopback.conf"), nodeConfDirReader)).plugins[0]!.type,
    ).toBe("loopback");
    expect((await cniFailure(loadNetworkFromPath(join(root, "missing.conflist"), nodeConfDirReader))).code).toBe(
      ErrorCode.NotFound,
    );
    const empty = await cniFailure(loadNetworkFromPath(join(root, "net.d", "multus.d.conf"), nodeConfDirReader));
    expect(empty.code).toBe(ErrorCode.NotFound);
    expect(empty.msg).toContain("no CNI config file");
  });

  it("loadNetworkFromPath: a broken first file is an error, not a silent pick of the next one", async () => {
    const err = await cniFailure(loadNetworkFromPath(join(root, "broken"), nodeConfDirReader));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toContain("01-broken.conf");
  });

  it("findConfByName finds a config by its CNI name, through symlinks", async () => {
    expect((await findConfByName(join(root, "net.d"), "lo", nodeConfDirReader)).plugins[0]!.type).toBe("loopback");
    expect((await findConfByName(join(root, "broken"), "ok", nodeConfDirReader)).name).toBe("ok");
    expect((await cniFailure(findConfByName(join(root, "net.d"), "plexus", nodeConfDirReader))).code).toBe(
      ErrorCode.NotFound,
    );
  });

  it("without kind(), a path with a config extension is a file and anything else a directory", async () => {
    const { kind: _k, ...plain } = nodeConfDirReader;
    expect((await loadNetworkFromPath(join(root, "net.d"), plain)).name).toBe("cbr0");
    expect((await loadNetworkFromPath(join(root, "net.d", "99-loopback.conf"), plain)).name).toBe("lo");
  });
});
