// CHECK, STATUS, GC and the VERSION probe by createRuntime over the fake delegates
// (CNI SPEC §2, §3; libcni libcni/api.go, pkg/invoke/exec.go GetVersionInfo).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/cni/error.js";
import { parseContainerId, parseIfName } from "../../src/cni/ids.js";
import { parseResult } from "../../src/cni/result.js";
import { SUPPORTED_VERSIONS } from "../../src/cni/version.js";
import { createRuntime } from "../../src/runtime/runtime.js";
import type { RuntimeConf } from "../../src/runtime/types.js";
import { cniFailure, fakePluginDir, fakePluginEnv, readRecords, recorderList } from "../support/cni-plugins.js";

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "plexus-verbs-"));
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
  args: [],
  capabilityArgs: {},
};
const R3 = { cniVersion: "1.1.0", ips: [{ address: "198.18.0.2/24", gateway: "198.18.0.1" }] };
const recorders = (version: string, plugins: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
  recorderList(tmp, version, plugins, extra);
let seq = 0;

describe("CHECK", () => {
  it.each(SUPPORTED_VERSIONS)("a %s list", async (v) => {
    const { list, calls } = recorders(v, [{}, {}]);
    const run = runtime.checkNetworkList(list, rt, parseResult(R3), never);
    if (v < "0.4.0") {
      const err = await cniFailure(run);
      expect([err.code, err.msg]).toEqual([
        ErrorCode.IncompatibleVersion,
        `configuration version "${v}" does not support the CHECK command`,
      ]);
      expect(calls()).toEqual([]);
      return;
    }
    await run;
    expect(calls().map((c) => [c.command, (c.stdin["prevResult"] as { cniVersion?: string }).cniVersion])).toEqual([
      ["CHECK", v],
      ["CHECK", v],
    ]);
  });

  it("disableCheck runs nothing", async () => {
    const { list, calls } = recorders("1.0.0", [{ fail: { code: 1, msg: "x" } }], { disableCheck: true });
    await runtime.checkNetworkList(list, rt, undefined, never);
    expect(calls()).toEqual([]);
  });

  it("stops at the first failure", async () => {
    const { list, calls } = recorders("1.0.0", [{ fail: { code: 100, msg: "link missing" }, failOn: ["CHECK"] }, {}]);
    const err = await cniFailure(runtime.checkNetworkList(list, rt, undefined, never));
    expect([err.code, err.msg]).toEqual([100, 'plugin type="recorder" name="p1" failed (check): link missing']);
    expect(calls()).toHaveLength(1);
  });
});

describe("STATUS", () => {
  it.each(SUPPORTED_VERSIONS)("a %s list", async (v) => {
    const { list, calls } = recorders(v, [{}, {}]);
    await runtime.statusNetworkList(list, never);
    if (v !== "1.1.0") return expect(calls()).toEqual([]);
    expect(
      calls().map((c) => [
        c.command,
        c.stdin["name"],
        c.stdin["cniVersion"],
        c.env["CNI_CONTAINERID"],
        c.env["CNI_PATH"],
      ]),
    ).toEqual([
      ["STATUS", "dbnet", "1.1.0", "", fakePluginDir],
      ["STATUS", "dbnet", "1.1.0", "", fakePluginDir],
    ]);
  });

  it("returns the first failure with its code (50: cannot service ADD)", async () => {
    const { list, calls } = recorders("1.1.0", [{ fail: { code: 50, msg: "no IPs left" } }, {}]);
    const err = await cniFailure(runtime.statusNetworkList(list, never));
    expect([err.code, err.msg]).toEqual([50, 'plugin type="recorder" name="p1" failed (status): no IPs left']);
    expect(calls()).toHaveLength(1);
  });
});

describe("GC", () => {
  const valid = [{ containerID: "c1", ifname: "net1" }];

  it("every plugin gets the valid attachments under both keys, an empty attachment env", async () => {
    const { list, calls } = recorders("1.1.0", [{ capabilities: { mac: true } }, {}]);
    await runtime.gcNetworkList(list, valid, never);
    for (const call of calls()) {
      expect(call.stdin).toMatchObject({
        name: "dbnet",
        cniVersion: "1.1.0",
        "cni.dev/valid-attachments": valid,
        "cni.dev/attachments": valid,
      });
      expect(call.stdin).not.toHaveProperty("runtimeConfig");
      expect(call.stdin).not.toHaveProperty("prevResult");
      expect(call.env).toMatchObject({
        CNI_COMMAND: "GC",
        CNI_CONTAINERID: "",
        CNI_NETNS: "",
        CNI_IFNAME: "",
        CNI_ARGS: "",
      });
    }
    expect(calls()).toHaveLength(2);
  });

  it("runs every plugin even when one fails; the failures are joined", async () => {
    const { list, calls } = recorders("1.1.0", [
      { fail: { code: 11, msg: "locked" } },
      {},
      { fail: { code: 5, msg: "disk" } },
    ]);
    const err = await cniFailure(runtime.gcNetworkList(list, valid, never));
    expect(calls()).toHaveLength(3);
    expect(err.code).toBe(11);
    expect(err.msg).toContain('plugin type="recorder" name="p1" failed (gc): locked');
    expect(err.msg).toContain('plugin type="recorder" name="p3" failed (gc): disk');
  });

  it.each([
    { name: "disableGC", version: "1.1.0", extra: { disableGC: true } },
    { name: "a 1.0.0 list gets no GC command", version: "1.0.0", extra: {} },
    { name: "a 0.4.0 list gets no GC command", version: "0.4.0", extra: {} },
  ])("$name", async ({ version, extra }) => {
    const { list, calls } = recorders(version, [{}], extra);
    await runtime.gcNetworkList(list, valid, never);
    expect(calls()).toEqual([]);
  });
});

describe("VERSION probe", () => {
  it("dummy netns, ifname and path; stdin {cniVersion: 1.1.0}", async () => {
    const file = join(tmp, `version-${++seq}.jsonl`);
    const probe = createRuntime({ binDirs: [fakePluginDir], env: fakePluginEnv({ RECORDER_FILE: file }) });
    expect(await probe.pluginVersions("recorder", never)).toEqual(SUPPORTED_VERSIONS);
    const [call] = readRecords(file);
    expect(call?.stdin).toEqual({ cniVersion: "1.1.0" });
    expect(call?.env).toMatchObject({
      CNI_COMMAND: "VERSION",
      CNI_NETNS: "dummy",
      CNI_IFNAME: "dummy",
      CNI_PATH: "dummy",
      CNI_CONTAINERID: "",
      CNI_ARGS: "",
    });
  });

  it.each([
    { reply: '{"cniVersion":"0.2.0"}', want: ["0.1.0", "0.2.0"] },
    { reply: '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}', want: ["0.4.0", "1.0.0"] },
    {
      reply: '{"cniVersion":"0.3.1"}',
      error: 'plugin type="recorder" failed (version): decoding version info: missing field supportedVersions',
    },
    {
      reply: '{"supportedVersions":["1.0.0"]}',
      error: 'plugin type="recorder" failed (version): decoding version info: missing field cniVersion',
    },
  ])("a VERSION reply $reply", async ({ reply, want, error }) => {
    const probe = createRuntime({ binDirs: [fakePluginDir], env: fakePluginEnv({ RECORDER_VERSION_REPLY: reply }) });
    if (want) expect(await probe.pluginVersions("recorder", never)).toEqual(want);
    else expect((await cniFailure(probe.pluginVersions("recorder", never))).msg).toBe(error);
  });

  it.each([
    { stdout: '{"code":4,"msg":"unknown CNI_COMMAND: VERSION"}', want: ["0.1.0"] },
    {
      stdout: '{"code":4,"msg":"unknown CNI_COMMAND: VERSION","details":"x"}',
      error: 'plugin type="fail" failed (version): unknown CNI_COMMAND: VERSION',
    },
    {
      stdout: '{"code":4,"msg":"required env variables [CNI_PATH] missing"}',
      error: 'plugin type="fail" failed (version): required env variables [CNI_PATH] missing',
    },
  ])("a plugin failing with $stdout", async ({ stdout, want, error }) => {
    const probe = createRuntime({ binDirs: [fakePluginDir], env: fakePluginEnv({ FAIL_STDOUT: stdout }) });
    if (want) expect(await probe.pluginVersions("fail", never)).toEqual(want);
    else expect((await cniFailure(probe.pluginVersions("fail", never))).msg).toBe(error);
  });
});

describe("createRuntime", () => {
  it("refuses an empty plugin path (CNI_PATH must not be empty)", () => {
    expect(() => createRuntime({ binDirs: [] })).toThrow("no plugin directories given");
  });
});
