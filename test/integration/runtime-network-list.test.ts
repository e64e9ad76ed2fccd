// ADD and DEL of configuration lists by createRuntime over the fake delegates, libcni's way
// (CNI SPEC §3; libcni libcni/api.go AddNetworkList, DelNetworkList).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNetworkConfig, type NetworkConfigList } from "../../src/cni/conf.js";
import { convertResult } from "../../src/cni/convert.js";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { parseContainerId, parseIfName } from "../../src/cni/ids.js";
import { formatResult, parseResult } from "../../src/cni/result.js";
import { SUPPORTED_VERSIONS } from "../../src/cni/version.js";
import { createRuntime } from "../../src/runtime/runtime.js";
import type { RuntimeConf } from "../../src/runtime/types.js";
import { cniFailure, fakePluginDir, fakePluginEnv, recorderList } from "../support/cni-plugins.js";

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "plexus-list-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const never = new AbortController().signal;
const runtime = createRuntime({ binDirs: [fakePluginDir], env: fakePluginEnv() });
const rt: RuntimeConf = {
  containerId: parseContainerId("c1"),
  netns: "/run/netns/pod-1",
  ifName: parseIfName("net1"),
  args: [
    ["K8S_POD_NAMESPACE", "ns1"],
    ["K8S_POD_NAME", "pod-1"],
  ],
  capabilityArgs: { mac: "00:11:22:33:44:66", ips: ["10.0.0.2/24"] },
};

const recorders = (version: string, plugins: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
  recorderList(tmp, version, plugins, extra);

const R1 = {
  cniVersion: "0.3.1",
  interfaces: [{ name: "br0" }],
  ips: [{ version: "4", address: "198.18.0.2/24", interface: 0 }],
  dns: {},
};
const R2 = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "br0" }, { name: "net1", sandbox: "/run/netns/pod-1" }],
  ips: [{ address: "198.18.0.2/24", gateway: "198.18.0.1", interface: 1 }],
};
const R3 = {
  ...R2,
  cniVersion: "1.1.0",
  routes: [{ dst: "0.0.0.0/0", gw: "198.18.0.1" }],
  dns: { nameservers: ["198.18.0.1"] },
};

describe("ADD", () => {
  it("name and cniVersion injected, runtimeConfig from capabilities, unknown keys kept", async () => {
    const { list, calls } = recorders("1.1.0", [
      { cniVersion: "0.1.0", bridge: "cni0", "x-vendor": { a: [1] } },
      { capabilities: { mac: true, ips: false }, runtimeConfig: { stale: 1 } },
      { capabilities: { portMappings: true } },
    ]);
    await runtime.addNetworkList(list, rt, never);
    expect(calls().map((c) => c.stdin["id"])).toEqual([1, 2, 3]);
    const [c1, c2, c3] = calls().map((c) => c.stdin);
    expect(c1).toEqual({ ...list.plugins[0]!.raw, name: "dbnet", cniVersion: "1.1.0" });
    expect(c1).toMatchObject({ bridge: "cni0", "x-vendor": { a: [1] } });
    expect(Object.keys(c1 ?? {}).sort()).toEqual(["bridge", "cniVersion", "id", "name", "record", "type", "x-vendor"]);
    expect(c2?.["runtimeConfig"]).toEqual({ mac: "00:11:22:33:44:66" });
    expect(c3).not.toHaveProperty("runtimeConfig");
  });

  it("each plugin gets the previous result verbatim, in its own version; the last result is returned", async () => {
    const { list, calls } = recorders("1.1.0", [{ result: R1 }, { result: R2 }, { result: R3 }]);
    const result = await runtime.addNetworkList(list, rt, never);
    const stdins = calls().map((c) => c.stdin);
    expect(stdins[0]).not.toHaveProperty("prevResult");
    expect(stdins[1]?.["prevResult"]).toEqual(R1);
    expect(stdins[2]?.["prevResult"]).toEqual(R2);
    expect(formatResult(result)).toEqual(R3);
  });

  it("every plugin gets the attachment's CNI_* env, CNI_ARGS with IgnoreUnknown=1 first", async () => {
    const { list, calls } = recorders("1.0.0", [{}]);
    await runtime.addNetworkList(list, rt, never);
    expect(calls()[0]?.env).toMatchObject({
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c1",
      CNI_NETNS: "/run/netns/pod-1",
      CNI_IFNAME: "net1",
      CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod-1",
      CNI_PATH: fakePluginDir,
    });
  });

  it("stops at the first failure, keeps its code, names the plugin", async () => {
    const { list, calls } = recorders("1.0.0", [
      {},
      { fail: { code: 7, msg: "bad subnet", details: "198.18.0.0/33" } },
      {},
    ]);
    const err = await cniFailure(runtime.addNetworkList(list, rt, never));
    expect({ code: err.code, msg: err.msg, details: err.details }).toEqual({
      code: 7,
      msg: 'plugin type="recorder" name="p2" failed (add): bad subnet',
      details: "198.18.0.0/33",
    });
    expect(calls().map((c) => [c.command, c.stdin["id"]])).toEqual([
      ["ADD", 1],
      ["ADD", 2],
    ]);
  });

  it.each(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])(
    "a result without cniVersion takes the list's (%s)",
    async (v) => {
      const list = parseNetworkConfig({ cniVersion: v, name: "n", plugins: [{ type: "fixed-result" }] });
      const result = await runtime.addNetworkList(list, rt, never);
      expect(result.cniVersion).toBe(v);
      expect(formatResult(result)).toMatchObject({ ips: [expect.objectContaining({ address: "198.18.0.2/24" })] });
    },
  );

  it("null on stdout is an empty result of the list's version", async () => {
    const { list } = recorders("1.0.0", [{ stdout: "null" }]);
    expect(await runtime.addNetworkList(list, rt, never)).toEqual({ cniVersion: "1.0.0" });
  });

  it("an unsupported result version is an error naming the plugin", async () => {
    const list = parseNetworkConfig({ cniVersion: "1.0.0", name: "n", plugins: [{ type: "bad-version" }] });
    const err = await cniFailure(runtime.addNetworkList(list, rt, never));
    expect(err.code).toBe(ErrorCode.IncompatibleVersion);
    expect(err.msg).toBe('plugin type="bad-version" failed (add): unsupported CNI result version "2.0.0"');
  });

  it("a result that is not a valid result of its version is an error naming the plugin", async () => {
    const { list } = recorders("1.0.0", [{ result: { cniVersion: "1.0.0", ips: [{ address: "not-an-ip" }] } }]);
    const err = await cniFailure(runtime.addNetworkList(list, rt, never));
    expect(err.code).toBe(ErrorCode.DecodingFailure);
    expect(err.msg).toBe('plugin type="recorder" name="p1" failed (add): failed to decode 1.0.0 result');
  });

  it.each([
    { type: "../x", msg: 'plugin type="../x" failed (add): invalid plugin name: ../x' },
    {
      type: "nosuch",
      msg: `plugin type="nosuch" failed (add): failed to find plugin "nosuch" in path [${fakePluginDir}]`,
    },
  ])("plugin type $type is refused before anything runs", async ({ type, msg }) => {
    const list = parseNetworkConfig({ cniVersion: "1.0.0", name: "n", plugins: [{ type }] });
    expect((await cniFailure(runtime.addNetworkList(list, rt, never))).msg).toBe(msg);
  });

  it("refuses a network name libcni would refuse, before executing anything", async () => {
    const { list, calls } = recorders("1.0.0", [{}]);
    const bad: NetworkConfigList = { ...list, name: "ns/net" };
    expect((await cniFailure(runtime.addNetworkList(bad, rt, never))).code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(calls()).toEqual([]);
  });
});

describe("DEL", () => {
  const added = parseResult(R3);

  it("reverse order, every plugin with the final ADD result", async () => {
    const { list, calls } = recorders("1.1.0", [{}, {}, {}]);
    await runtime.delNetworkList(list, rt, added, never);
    expect(calls().map((c) => [c.env["CNI_COMMAND"], c.stdin["id"], c.stdin["prevResult"]])).toEqual([
      ["DEL", 3, R3],
      ["DEL", 2, R3],
      ["DEL", 1, R3],
    ]);
  });

  // Every list version, with a 1.1.0 ADD result: converted to the list version from 0.4.0 on,
  // left out below (libcni DelNetworkList sends no prevResult before 0.4.0).
  it.each(SUPPORTED_VERSIONS)("prevResult for a %s list", async (v) => {
    const { list, calls } = recorders(v, [{}]);
    await runtime.delNetworkList(list, rt, added, never);
    const prev = calls()[0]?.stdin["prevResult"] as Record<string, unknown> | undefined;
    if (v < "0.4.0") {
      expect(prev).toBeUndefined();
      return;
    }
    expect(prev).toEqual(formatResult(convertResult(added, v)));
    expect(prev?.["cniVersion"]).toBe(v);
    expect((prev?.["ips"] as { version?: string }[])[0]?.version).toBe(v === "0.4.0" ? "4" : undefined);
  });

  it("converts an older ADD result up to the list version", async () => {
    const { list, calls } = recorders("1.0.0", [{}]);
    await runtime.delNetworkList(list, rt, parseResult({ cniVersion: "0.2.0", ip4: { ip: "198.18.0.9/24" } }), never);
    expect(calls()[0]?.stdin["prevResult"]).toEqual({ cniVersion: "1.0.0", ips: [{ address: "198.18.0.9/24" }] });
  });

  it("continues past failures and reports all of them with the first one's code", async () => {
    const { list, calls } = recorders("1.0.0", [
      { fail: { code: 3, msg: "gone" }, failOn: ["DEL"] },
      {},
      { fail: { code: 11, msg: "busy", details: "retry" }, failOn: ["DEL"] },
    ]);
    const err = await cniFailure(runtime.delNetworkList(list, rt, undefined, never));
    expect(calls()).toHaveLength(3);
    expect(err.code).toBe(11);
    expect(err.msg).toBe(
      '2 of 3 plugins failed: plugin type="recorder" name="p3" failed (delete): busy; retry; plugin type="recorder" name="p1" failed (delete): gone',
    );
    expect((err.cause as AggregateError).errors.map((e: CniError) => e.code)).toEqual([11, 3]);
  });

  it("one failure is returned as it is", async () => {
    const { list } = recorders("1.0.0", [{}, { fail: { code: 5, msg: "io" }, failOn: ["DEL"] }]);
    const err = await cniFailure(runtime.delNetworkList(list, rt, undefined, never));
    expect([err.code, err.msg]).toEqual([5, 'plugin type="recorder" name="p2" failed (delete): io']);
  });

  it("works without a netns (repeated DEL after the sandbox is gone)", async () => {
    const { list, calls } = recorders("1.0.0", [{}]);
    await runtime.delNetworkList(list, { ...rt, netns: "" }, undefined, never);
    expect(calls()[0]?.env["CNI_NETNS"]).toBe("");
    expect(calls()[0]?.stdin).not.toHaveProperty("prevResult");
  });
});
