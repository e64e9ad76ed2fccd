// dist/plexus as a CNI plugin, the protocol side (CNI SPEC §2, §5; libcni pkg/skel/skel.go): env and
// stdin in, one result or ONE error document out on stdout, logs never on stdout.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isResult020, parseResult } from "../../src/cni/result.js";
import { fakePluginDir } from "../support/cni-plugins.js";
import { callsOf, runPlexusRaw, startPlexusHarness, wireError, type PlexusHarness } from "./plexus-harness.js";

const ALL_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
const GOOD_ENV = { CNI_CONTAINERID: "c1", CNI_NETNS: "/var/run/netns/x", CNI_IFNAME: "eth0", CNI_PATH: fakePluginDir };

describe("plexus as a CNI plugin: the protocol", () => {
  let h: PlexusHarness;
  let conf: string;
  beforeAll(async () => {
    h = await startPlexusHarness();
    // No kubeconfig: these cases never need the API.
    conf = JSON.stringify(h.conf({ kubeconfig: "" }));
    h.createNad("proto", "sec", {
      cniVersion: "1.0.0",
      type: "recorder",
      result: { ips: [{ address: "198.18.1.2/24" }] },
    });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it("VERSION with no PATH at all, whatever stdin holds, answers every version", async () => {
    for (const stdin of ["", '{"cniVersion":"1.1.0"}', "not json"]) {
      const out = await runPlexusRaw({ CNI_COMMAND: "VERSION" }, stdin);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toBe(`${JSON.stringify({ cniVersion: "1.1.0", supportedVersions: ALL_VERSIONS })}\n`);
    }
  });

  it("an unknown command is code 4 naming it", async () => {
    const err = wireError(await runPlexusRaw({ CNI_COMMAND: "BOGUS", ...GOOD_ENV }, conf));
    expect([err.code, err.msg]).toEqual([4, "unknown CNI_COMMAND: BOGUS"]);
  });

  const missing: [string, string[], string][] = [
    ["ADD", ["CNI_NETNS"], "CNI_NETNS"],
    ["ADD", ["CNI_CONTAINERID", "CNI_PATH"], "CNI_CONTAINERID,CNI_PATH"],
    ["ADD", ["CNI_IFNAME"], "CNI_IFNAME"],
    ["CHECK", ["CNI_NETNS"], "CNI_NETNS"],
    ["DEL", ["CNI_CONTAINERID"], "CNI_CONTAINERID"],
    ["DEL", ["CNI_IFNAME", "CNI_PATH"], "CNI_IFNAME,CNI_PATH"],
    ["STATUS", ["CNI_PATH"], "CNI_PATH"],
    ["GC", ["CNI_PATH"], "CNI_PATH"],
  ];
  it.each(missing)("%s without %j is code 4 naming them", async (command, drop, named) => {
    const env: Record<string, string> = { CNI_COMMAND: command, ...GOOD_ENV };
    for (const k of drop) delete env[k];
    const err = wireError(await runPlexusRaw(env, conf));
    expect([err.code, err.msg]).toEqual([4, `required env variables [${named}] missing`]);
  });

  const bad: [string, Record<string, string>, string, number, RegExp][] = [
    ["stdin not JSON", {}, "not json", 6, /^error unmarshall network config: /],
    ["stdin empty", {}, "", 6, /^error unmarshall network config: /],
    ["no name", {}, '{"cniVersion":"1.0.0","type":"plexus"}', 7, /^missing network name$/],
    [
      "empty name",
      {},
      '{"cniVersion":"1.0.0","name":"","type":"plexus","delegates":[{"name":"d","type":"recorder"}]}',
      7,
      /^missing network name$/,
    ],
    [
      "bad name",
      {},
      '{"cniVersion":"1.0.0","name":"a b","type":"plexus","delegates":[{"name":"d","type":"recorder"}]}',
      7,
      /^invalid characters found in network name$/,
    ],
    [
      "unsupported version",
      {},
      '{"cniVersion":"0.9.0","name":"p","delegates":[{"name":"d","type":"recorder"}]}',
      1,
      /^incompatible CNI versions$/,
    ],
    ["interface name of 16 bytes", { CNI_IFNAME: "0123456789abcdef" }, "CONF", 4, /^interface name is too long/],
    ["container ID _abc", { CNI_CONTAINERID: "_abc" }, "CONF", 4, /^invalid characters in containerID$/],
    // skel reads an empty variable as a missing one (getCmdArgsFromEnv): code 4, not 3.
    ["empty container ID", { CNI_CONTAINERID: "" }, "CONF", 4, /^required env variables \[CNI_CONTAINERID\] missing$/],
  ];
  it.each(bad)("%s: ADD fails with its code", async (_title, env, stdin, code, msg) => {
    const err = wireError(
      await runPlexusRaw({ CNI_COMMAND: "ADD", ...GOOD_ENV, ...env }, stdin === "CONF" ? conf : stdin),
    );
    expect(err.code).toBe(code);
    expect(err.msg).toMatch(msg);
    if (code === 1)
      expect(err.details).toBe(`config is "0.9.0", plugin supports [${ALL_VERSIONS.map((v) => `"${v}"`).join(" ")}]`);
  });

  const gated: [string, string][] = [
    ["CHECK", "0.3.1"],
    ["GC", "1.0.0"],
    ["STATUS", "1.0.0"],
  ];
  it.each(gated)("%s with a %s configuration is code 1", async (command, version) => {
    const err = wireError(
      await runPlexusRaw(
        { CNI_COMMAND: command, ...GOOD_ENV },
        JSON.stringify(h.conf({ kubeconfig: "", cniVersion: version })),
      ),
    );
    expect([err.code, err.msg, err.cniVersion]).toEqual([1, `config version does not allow ${command}`, version]);
  });

  it("a 15-byte interface name is accepted", async () => {
    const out = await h.call("ADD", undefined, {
      ifName: "0123456789abcde",
      containerId: "c15",
      netns: "/var/run/netns/x",
      conf: JSON.parse(conf),
    });
    expect(out.code, out.stdout).toBe(0);
    expect(callsOf(h.calls(), "ADD", "0123456789abcde")).toHaveLength(1);
  });

  describe.each(ALL_VERSIONS)("Plexus configured with cniVersion %s", (version) => {
    it("ADD returns that version; DEL twice, without prevResult and without CNI_NETNS, prints nothing", async () => {
      const pod = h.createPod("proto", `v-${version.replaceAll(".", "-")}`, { "k8s.v1.cni.cncf.io/networks": "sec" });
      const cfg = h.conf({ cniVersion: version });
      const out = await h.call("ADD", pod, { conf: cfg });
      expect(out.code, out.stdout + out.stderr).toBe(0);
      expect(out.stdout.endsWith("}\n") && out.stdout.indexOf("\n") === out.stdout.length - 1).toBe(true);
      const r = parseResult(out.json);
      expect(r.cniVersion).toBe(version);
      if (isResult020(r)) {
        expect(version === "0.1.0" || version === "0.2.0").toBe(true);
        expect(r.ip4).toEqual({ ip: "198.18.0.2/24", gateway: "198.18.0.1" });
        expect(out.json).not.toHaveProperty("ips");
        expect(out.json).not.toHaveProperty("interfaces");
      } else {
        const ifs = r.interfaces ?? [];
        expect(ifs.map((i) => i.name)).toEqual(["eth0", "net1"]);
        expect((r.ips ?? []).map((ip) => [ip.address, ifs[ip.interface ?? -1]?.name])).toEqual([
          ["198.18.0.2/24", "eth0"],
          ["198.18.1.2/24", "net1"],
        ]);
        for (const ip of r.ips ?? []) {
          expect("version" in ip ? ip.version : undefined).toBe(version.startsWith("1.") ? undefined : "4");
        }
      }
      const before = callsOf(h.calls(), "DEL").length;
      for (const netns of [pod.netns, ""]) {
        const del = await h.call("DEL", pod, { conf: cfg, netns });
        expect([del.code, del.stdout]).toEqual([0, ""]);
      }
      // The first DEL reached both delegates, the repeated one nobody.
      expect(callsOf(h.calls(), "DEL").length - before).toBe(2);
      const unset = await runPlexusRaw(
        {
          CNI_COMMAND: "DEL",
          CNI_CONTAINERID: pod.containerId,
          CNI_IFNAME: "eth0",
          CNI_PATH: fakePluginDir,
          PATH: "/usr/bin:/bin",
        },
        JSON.stringify(cfg),
      );
      expect([unset.code, unset.stdout]).toEqual([0, ""]);
    });
  });

  it("DEL without CNI_NETNS and without prevResult, with no cache, still reaches every delegate", async () => {
    const pod = h.createPod("proto", "never-added", { "k8s.v1.cni.cncf.io/networks": "sec" });
    await h.resetCalls();
    const out = await runPlexusRaw(
      {
        CNI_COMMAND: "DEL",
        CNI_CONTAINERID: pod.containerId,
        CNI_IFNAME: "eth0",
        CNI_PATH: fakePluginDir,
        CNI_ARGS: `K8S_POD_NAMESPACE=proto;K8S_POD_NAME=never-added`,
        PATH: "/usr/bin:/bin",
        RECORDER_FILE: h.recordFile,
      },
      JSON.stringify(h.conf()),
    );
    expect([out.code, out.stdout]).toEqual([0, ""]);
    const dels = callsOf(h.calls(), "DEL");
    expect(dels.map((c) => [c.env["CNI_IFNAME"], c.env["CNI_NETNS"], "prevResult" in c.stdin])).toEqual([
      ["net1", "", false],
      ["eth0", "", false],
    ]);
  });

  it("failures print one JSON document and exit non-zero; logs go to stderr or the log file only", async () => {
    const logFile = join(h.dir, "quiet.log");
    const cfg = h.conf({ logLevel: "debug", logToStderr: false, logFile });
    const pod = h.createPod("proto", "missing-nad", { "k8s.v1.cni.cncf.io/networks": "nope" });
    const out = await h.call("ADD", pod, { conf: cfg });
    const err = wireError(out);
    expect([err.code, err.cniVersion]).toEqual([100, "1.0.0"]);
    expect(err.msg).toMatch(
      /network-attachment-definition "nope" not found in namespace "proto" \(pod proto\/missing-nad\)/,
    );
    expect(out.stderr).not.toMatch(/"level":/);
    const lines = (await readFile(logFile, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => l.level === 20 && l.msg === "API request")).toBe(true);
    expect(lines.some((l) => l.level === 50 && l.code === 100)).toBe(true);
    const ok = await h.call("ADD", h.createPod("proto", "ok-logged"), { conf: h.conf({ logLevel: "debug" }) });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim().split("\n")).toHaveLength(1);
    expect(ok.stderr).toMatch(/"level":20/);
  });

  it("a log file that cannot be opened fails neither ADD nor DEL: the logs go to stderr instead", async () => {
    const cfg = h.conf({ logFile: join(h.dir, "no-such-dir", "plexus.log") });
    const pod = h.createPod("proto", "bad-log-file");
    for (const command of ["ADD", "DEL"]) {
      const out = await h.call(command, pod, { conf: cfg });
      expect(out.code, out.stdout).toBe(0);
      expect(out.stderr).toMatch(/"level":50.*"msg":"cannot open the log file: logging to stderr instead"/);
    }
  });

  it.each(["0.1.0", "0.2.0"])(
    "%s: the result holds the cluster network's addresses only (an IPv6 pod's ip4 is not a secondary's)",
    async (version) => {
      h.createNad("proto", `v4-routed-${version.replaceAll(".", "-")}`, {
        cniVersion: "1.0.0",
        type: "recorder",
        result: {
          ips: [{ address: "198.18.1.9/24", gateway: "198.18.1.1" }],
          routes: [{ dst: "198.19.0.0/16", gw: "198.18.1.1" }],
        },
      });
      const pod = h.createPod("proto", `v6-pod-${version.replaceAll(".", "-")}`, {
        "k8s.v1.cni.cncf.io/networks": `v4-routed-${version.replaceAll(".", "-")}`,
      });
      const v6Cluster = {
        cniVersion: "1.0.0",
        name: "cluster",
        plugins: [
          {
            type: "recorder",
            result: { ips: [{ address: "fd00:18::2/64", gateway: "fd00:18::1" }], routes: [{ dst: "::/0" }] },
          },
        ],
      };
      const out = await h.call("ADD", pod, {
        conf: h.conf({ cniVersion: version, clusterNetwork: "", delegates: [v6Cluster] }),
      });
      expect(out.code, out.stdout).toBe(0);
      expect(out.json).toEqual({
        cniVersion: version,
        ip6: { ip: "fd00:18::2/64", gateway: "fd00:18::1", routes: [{ dst: "::/0" }] },
        dns: {},
      });
    },
  );
});
