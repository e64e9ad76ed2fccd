// dist/plexus at the edges of its input: no CNI_COMMAND, errors raised before the configuration
// is accepted, paths that are not absolute, container IDs no runtime makes, many secondaries,
// a DEL with no state while the API is down, and a state dir that cannot be written (full,
// read-only, out of inodes: each in a mount namespace of its own, so the machine's mounts are
// never touched). Each answer is one CNI error JSON (with cniVersion) naming what to fix.

import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakePluginDir } from "../support/cni-plugins.js";
import { plexusBin, podArgs } from "../support/plexus.js";
import {
  callsOf,
  NETWORKS,
  runPlexusRaw,
  startPlexusHarness,
  wireError,
  type PlexusHarness,
} from "./plexus-harness.js";

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const GOOD_ENV = { CNI_CONTAINERID: "c1", CNI_NETNS: "/var/run/netns/x", CNI_IFNAME: "eth0", CNI_PATH: fakePluginDir };

/** dist/plexus with `env`, `stdin` and `argv`, run in `cwd`; optionally behind a command prefix. */
function run(
  env: Record<string, string>,
  stdin: string,
  o: { argv?: readonly string[]; cwd?: string; prefix?: readonly string[] } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = [...(o.prefix ?? []), plexusBin, ...(o.argv ?? [])];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { env: { PATH, ...env }, cwd: o.cwd });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
    child.stdin.end(stdin);
  });
}

describe("plexus at the edges of its input", () => {
  let h: PlexusHarness;
  let conf: Record<string, unknown>;
  beforeAll(async () => {
    h = await startPlexusHarness();
    conf = h.conf({ kubeconfig: "" });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  describe("no CNI_COMMAND", () => {
    // skel: with CNI_COMMAND unset or empty, the "about" text goes to stderr and nothing to stdout.
    it.each([{}, { CNI_COMMAND: "" }])("%j: the about line and the usage on stderr, nothing on stdout", async (env) => {
      const out = await run(env, "");
      expect(out.stdout).toBe("");
      expect(out.code).toBe(0);
      expect(out.stderr).toMatch(/^plexus \S+: a multi-network CNI meta-plugin for Kubernetes\n/);
      expect(out.stderr).toContain("CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
      expect(out.stderr).toContain("Usage:");
    });
  });

  describe("errors before the configuration is accepted carry a cniVersion", () => {
    const stdin = (v: unknown) =>
      JSON.stringify({ cniVersion: v, name: "edge", type: "plexus", delegates: [{ name: "d", type: "recorder" }] });
    const cases: [string, Record<string, string>, string, number, string][] = [
      ["an unknown command", { CNI_COMMAND: "BOGUS", ...GOOD_ENV }, stdin("0.4.0"), 4, "0.4.0"],
      ["a missing CNI_NETNS", { CNI_COMMAND: "ADD", ...GOOD_ENV, CNI_NETNS: "" }, stdin("1.0.0"), 4, "1.0.0"],
      ["a bad container ID", { CNI_COMMAND: "ADD", ...GOOD_ENV, CNI_CONTAINERID: "_x" }, stdin("0.3.1"), 4, "0.3.1"],
      ["stdin not JSON", { CNI_COMMAND: "ADD", ...GOOD_ENV }, "not json", 6, "1.1.0"],
      ["stdin empty", { CNI_COMMAND: "DEL", ...GOOD_ENV }, "", 6, "1.1.0"],
      ["stdin a JSON array", { CNI_COMMAND: "ADD", ...GOOD_ENV }, "[]", 6, "1.1.0"],
      ["an unsupported version", { CNI_COMMAND: "ADD", ...GOOD_ENV }, stdin("0.9.0"), 1, "1.1.0"],
      ["a version that is not a string", { CNI_COMMAND: "ADD", ...GOOD_ENV }, stdin(7), 7, "1.1.0"],
      ["no cniVersion at all (0.1.0)", { CNI_COMMAND: "ADD", ...GOOD_ENV }, '{"type":"plexus"}', 7, "0.1.0"],
    ];
    it.each(cases)("%s", async (_title, env, input, code, version) => {
      const err = wireError(await runPlexusRaw({ PATH, ...env }, input));
      expect(err.code).toBe(code);
      expect(err.cniVersion).toBe(version);
    });
  });

  describe("paths in the configuration must be absolute", () => {
    let cwd: string;
    beforeAll(async () => {
      cwd = await mkdtemp(join(tmpdir(), "plexus-cwd-"));
    });
    afterAll(async () => {
      if (cwd) await rm(cwd, { recursive: true, force: true });
    });

    const cases: [string, string][] = [
      ["cniDir", "state"],
      ["cniDir", "./var/lib/cni/plexus"],
      ["binDir", "bin"],
      ["confDir", "net.d"],
      ["deviceInfoDir", "devinfo"],
      ["logFile", "plexus.log"],
      ["readinessindicatorfile", "ready"],
      ["kubeconfig", "kubeconfig"],
    ];
    it.each(cases)("%s %j: code 7 naming the key, nothing written in the working directory", async (key, value) => {
      for (const command of ["ADD", "DEL"]) {
        const out = await run(
          { CNI_COMMAND: command, ...GOOD_ENV, CNI_CONTAINERID: `rel${command}` },
          JSON.stringify({ ...conf, [key]: value }),
          { cwd },
        );
        const err = wireError(out);
        expect(err.code).toBe(7);
        expect(err.cniVersion).toBe("1.0.0");
        expect(err.msg).toContain(`field "${key}"`);
        expect(err.msg).toContain("absolute path");
      }
      expect(await readdir(cwd)).toEqual([]);
    });
  });

  describe("container IDs", () => {
    it.each([
      ["5,000 characters", "a".repeat(5000)],
      ["256 characters", "b".repeat(256)],
    ])("%s: code 4 saying it is too long, for every command", async (_title, id) => {
      for (const command of ["ADD", "DEL", "CHECK"]) {
        const err = wireError(
          await runPlexusRaw({ PATH, CNI_COMMAND: command, ...GOOD_ENV, CNI_CONTAINERID: id }, JSON.stringify(conf)),
        );
        expect(err.code).toBe(4);
        expect(err.msg).toBe(`containerID is too long (${id.length} characters; at most 128)`);
      }
    });

    it("128 characters (the most) is fine", async () => {
      const out = await runPlexusRaw(
        { PATH, CNI_COMMAND: "ADD", ...GOOD_ENV, CNI_CONTAINERID: "c".repeat(128) },
        JSON.stringify(conf),
      );
      expect(out.code, out.stdout).toBe(0);
    });
  });

  it.each([10, 32])("a pod with %i secondaries: no warning on stderr", async (count) => {
    const names = Array.from({ length: count }, (_, i) => `sec-${count}-${i}`);
    for (const name of names) h.createNad("many", name, { cniVersion: "1.0.0", type: "recorder" });
    const pod = h.createPod("many", `pod-${count}`, { [NETWORKS]: names.join(",") });
    for (const command of ["ADD", "CHECK", "DEL"]) {
      const out = await h.call(command, pod);
      expect(out.code, out.stdout).toBe(0);
      expect(out.stderr).not.toMatch(/Warning|MaxListeners/);
    }
  });

  it("DEL with no state and the API down tears down the cluster network, then says what it could not", async () => {
    const pod = h.createPod("down", "pod-down", { [NETWORKS]: "some-net" });
    await h.resetCalls();
    const out = await h.call("DEL", pod, {
      conf: h.conf({ kubeconfig: join(h.dir, "down.kubeconfig"), kubernetes: { requestTimeoutMs: 500, retries: 0 } }),
    });
    const err = wireError(out);
    expect(err.code).toBe(11);
    expect(err.msg).toContain(`pod down/pod-down`);
    expect(err.msg).toContain("the cluster network was torn down");
    const dels = callsOf(h.calls(), "DEL");
    expect(dels.map((c) => c.env["CNI_IFNAME"])).toEqual(["eth0"]);
    expect(dels[0]?.stdin["prevResult"]).toBeUndefined();
  });
  describe("a state dir that cannot be written", () => {
    // A tmpfs over the state dir in a private mount namespace: gone with the process.
    const cases: [string, string, string, RegExp][] = [
      ["full", "size=4k", "dd if=/dev/zero of=$D/fill bs=4k count=8 2>/dev/null; true", /no space left on the device/],
      ["out of inodes", "nr_inodes=3", "touch $D/a $D/b $D/c 2>/dev/null; true", /no space left on the device/],
      ["read-only", "ro", "true", /read-only file system/],
    ];
    it.each(cases)(
      "%s: code 5 naming the state dir for ADD and DEL; DEL succeeds once it is usable",
      async (_title, opts, fill, why) => {
        const state = join(h.dir, `state-${opts.replace(/[^a-z0-9]/g, "")}`);
        await mkdir(state, { recursive: true });
        const prefix = [
          "unshare",
          "--mount",
          "--propagation",
          "private",
          "sh",
          "-c",
          `D=${state}; mount -t tmpfs -o ${opts} plexus-test $D && ${fill} && exec "$0" "$@"`,
        ];
        const pod = h.createPod("full", `pod-${opts.replace(/[^a-z0-9]/g, "")}`);
        const env = {
          CNI_COMMAND: "ADD",
          CNI_CONTAINERID: pod.containerId,
          CNI_NETNS: pod.netns,
          CNI_IFNAME: "eth0",
          CNI_PATH: fakePluginDir,
          CNI_ARGS: podArgs(pod.namespace, pod.name, pod.uid),
          RECORDER_FILE: h.recordFile,
        };
        await h.resetCalls();
        const stdin = JSON.stringify(h.conf({ cniDir: state }));
        const err = wireError(await run(env, stdin, { prefix }));
        expect(err.code).toBe(5);
        expect(err.cniVersion).toBe("1.0.0");
        expect(err.msg).toContain(state);
        expect(err.msg).toMatch(why);
        // It failed before any side effect: no delegate ran, so nothing can be left behind.
        expect(callsOf(h.calls(), "ADD")).toEqual([]);
        // DEL cannot work there either, and says so the same way (the runtime retries) ...
        const del = wireError(await run({ ...env, CNI_COMMAND: "DEL" }, stdin, { prefix }));
        expect([del.code, del.cniVersion]).toEqual([5, "1.0.0"]);
        expect(del.msg).toContain(state);
        expect(del.msg).toMatch(why);
        // ... and once the file system is usable again (here: without the tmpfs), it succeeds.
        const after = await run({ ...env, CNI_COMMAND: "DEL" }, stdin);
        expect(after.code, after.stdout).toBe(0);
      },
    );
  });
});
