// The node's conf directories (src/runtime/conf-files.ts): which files are configs, the order a
// runtime loads them in, finding a config by name, loading a network from a path, and the reader
// on a real temporary directory.
import { mkdtemp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { MAX_CONF_BYTES } from "../../src/cni/untrusted-conf.js";
import {
  candidateConfFiles,
  findConfByName,
  loadNetworkFromPath,
  nodeConfDirReader,
  runtimeConfFiles,
  type ConfDirReader,
} from "../../src/runtime/conf-files.js";
import { cniFailure } from "../support/cni-plugins.js";

/** A conf dir held in memory: file name -> content, listed in reverse to prove nothing relies on the order. */
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
const conf = (name: string, type = "bridge"): string => JSON.stringify({ cniVersion: "1.0.0", name, type });

// containerd (go-cni loadFromConfDir) and CRI-O (ocicni loadNetworks) both call
// libcni.ConfFiles(dir, [".conf", ".conflist", ".json"]) and sort the paths with Go's
// sort.Strings: byte by byte over UTF-8, upper case before lower case, digits as characters.
// The first file is the runtime's network. Each row: the names a directory holds, and the
// order those runtimes load them in.
const RUNTIME_ORDER: readonly (readonly [string, readonly string[], readonly string[]])[] = [
  [
    "digits are characters",
    ["9-x.conf", "10-b.conf", "10-a.conflist", "10-a.conf"],
    ["10-a.conf", "10-a.conflist", "10-b.conf", "9-x.conf"],
  ],
  [
    "upper case, then _, then lower case",
    ["a.conf", "_.conf", "Z.conf", "B.conf"],
    ["B.conf", "Z.conf", "_.conf", "a.conf"],
  ],
  [
    "Multus's file sorts before Plexus's",
    ["05-cilium.conflist", "00-plexus.conflist", "00-multus.conf"],
    ["00-multus.conf", "00-plexus.conflist", "05-cilium.conflist"],
  ],
  [
    "only the three extensions; hidden files count",
    ["x.yaml", "README", "10-x.conf.bak", "x.json", ".tmp.conf", "x.conflist~"],
    [".tmp.conf", "x.json"],
  ],
  // U+FF21 is 0xEF 0xBC 0xA1 in UTF-8 and U+1F600 is 0xF0 0x9F 0x98 0x80; in UTF-16, U+1F600 starts with the
  // surrogate 0xD83D, below 0xFF21. JavaScript's default sort gets this one wrong.
  [
    "bytes, not UTF-16 units",
    ["\u{1F600}.conf", "\uFF21.conf", "z.conf", "é.conf"],
    ["z.conf", "é.conf", "\uFF21.conf", "\u{1F600}.conf"],
  ],
];

describe("the runtime's order", () => {
  it.each(RUNTIME_ORDER)("%s", (_, names, order) => {
    expect(runtimeConfFiles(names)).toEqual(order);
  });

  it("differs from JavaScript's default sort where UTF-16 and UTF-8 disagree", () => {
    const [, names, order] = RUNTIME_ORDER[RUNTIME_ORDER.length - 1]!;
    expect([...names].sort()).not.toEqual(order);
  });

  it("candidates for a primary or a delegate leave out Plexus's own file and hidden files", () => {
    const names = ["10-flannel.conflist", "00-plexus.conflist", "00-plexus.conflist.tmp", ".10-x.conf", "05-a.json"];
    expect(candidateConfFiles(names)).toEqual(["05-a.json", "10-flannel.conflist"]);
  });

  it("loadNetworkFromPath and findConfByName go by the same order", async () => {
    const dir = memoryDir({ "\u{1F600}.conf": conf("net", "second"), "\uFF21.conf": conf("net", "first") });
    expect((await loadNetworkFromPath("/etc/cni/net.d", dir)).plugins[0]!.type).toBe("first");
    expect((await findConfByName("/etc/cni/net.d", "net", dir)).plugins[0]!.type).toBe("first");
  });
});

describe("findConfByName", () => {
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
  const dir = "/etc/cni/multus/net.d";
  const reader = memoryDir(files);

  it("the .conflist of that name wins over a .conf of that name (spec §3.4.1), past a broken file", async () => {
    expect((await findConfByName(dir, "net-a", reader)).raw["from"]).toBe("conflist");
  });

  it(".json files count; a .conf holding a list is read as a list", async () => {
    expect((await findConfByName(dir, "net-b", reader)).plugins[0]!.type).toBe("macvlan");
    expect((await findConfByName(dir, "net-c", reader)).plugins[0]!.type).toBe("ptp");
  });

  it("Plexus's own file and other extensions are never matched", async () => {
    for (const name of ["net-d", "net-e"]) {
      expect((await cniFailure(findConfByName(dir, name, reader))).code).toBe(ErrorCode.NotFound);
    }
  });

  it("no match is NotFound naming the conf dir and the skipped broken file", async () => {
    const err = await cniFailure(findConfByName(dir, "missing", reader));
    expect(err.code).toBe(ErrorCode.NotFound);
    expect(err.msg).toMatch(
      /^no CNI config named "missing" in \/etc\/cni\/multus\/net.d; skipped unreadable files: 05-broken.conf \(invalid JSON: .+\)$/,
    );
  });

  it("a matching file that is not a valid config is that file's error", async () => {
    const err = await cniFailure(findConfByName(dir, "net-f", reader));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toContain("/etc/cni/multus/net.d/60-bad-match.conf");
  });
});

describe("on the node's file system", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "plexus-conf-files-"));
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

  it("loadNetworkFromPath: a directory gives its first config in the runtime's order, skipping 00-plexus*", async () => {
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

  it("loadNetworkFromPath: a .conflist gets the plugin confs of <dir>/<its name>/ appended (libcni's sub-directory chaining)", async () => {
    const dir = join(root, "chained");
    await mkdir(join(dir, "cbr1"), { recursive: true });
    await mkdir(join(dir, "cbr2"), { recursive: true });
    await writeFile(join(dir, "10-a.conflist"), '{"cniVersion":"1.0.0","name":"cbr1","plugins":[{"type":"bridge"}]}');
    await writeFile(join(dir, "cbr1", "20-tuning.conf"), '{"type":"tuning"}');
    await writeFile(join(dir, "cbr1", "10-portmap.conf"), '{"type":"portmap","capabilities":{"portMappings":true}}');
    await writeFile(join(dir, "cbr1", "30-note.json"), '{"type":"not-a-conf"}');
    const types = async (file: string) =>
      (await loadNetworkFromPath(join(dir, file), nodeConfDirReader)).plugins.map((p) => p.type);
    expect(await types("10-a.conflist")).toEqual(["bridge", "portmap", "tuning"]);
    // No plugins of its own: the directory's are the list.
    await writeFile(join(dir, "20-b.conflist"), '{"cniVersion":"1.0.0","name":"cbr1"}');
    expect(await types("20-b.conflist")).toEqual(["portmap", "tuning"]);
    // loadOnlyInlinedPlugins (a bool, or "true" in any case, as libcni reads it) turns it off.
    for (const only of ["true", '"TRUE"']) {
      await writeFile(
        join(dir, "30-c.conflist"),
        `{"cniVersion":"1.0.0","name":"cbr1","loadOnlyInlinedPlugins":${only},"plugins":[{"type":"bridge"}]}`,
      );
      expect(await types("30-c.conflist")).toEqual(["bridge"]);
    }
    // A .conf is one plugin: no chaining; a broken chained file fails naming it.
    await writeFile(join(dir, "40-d.conf"), '{"cniVersion":"1.0.0","name":"cbr1","type":"bridge"}');
    expect(await types("40-d.conf")).toEqual(["bridge"]);
    await writeFile(join(dir, "50-e.conflist"), '{"cniVersion":"1.0.0","name":"cbr2","plugins":[{"type":"bridge"}]}');
    await writeFile(join(dir, "cbr2", "10-broken.conf"), '{"sysctl":{}}');
    const err = await cniFailure(loadNetworkFromPath(join(dir, "50-e.conflist"), nodeConfDirReader));
    expect([err.code, err.msg]).toEqual([
      ErrorCode.InvalidNetworkConfig,
      expect.stringContaining(`${join(dir, "cbr2", "10-broken.conf")}: error parsing configuration: missing 'type'`),
    ]);
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
