// One plugin execution against real executables (test/fixtures/plugins): environment, stdin,
// output decoding, the deadline, ETXTBSY and the refusal of path traversal (libcni pkg/invoke/raw_exec.go,
// find.go). All of it twice: started by this process (thin mode) and by the daemon's process
// starter, plexus-hostexec --serve (src/runtime/spawn-server.ts), which must behave the same.
import { spawn, type ChildProcess } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CniCommand } from "../../src/cni/env.js";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { execPlugin } from "../../src/runtime/exec-plugin.js";
import { execOptions, type RuntimeOptions } from "../../src/runtime/runtime.js";
import { ETXTBSY_RETRIES } from "../../src/runtime/spawn-plugin.js";
import { createSpawnServer, type SpawnServer } from "../../src/runtime/spawn-server.js";
import { cniFailure, fakePluginDir, fakePluginEnv, readRecords } from "../support/cni-plugins.js";
import { repoRoot } from "../support/plexus.js";

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "plexus-exec-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const never = new AbortController().signal;
const server = createSpawnServer(join(repoRoot, "dist/plexus-hostexec"), () => undefined);
afterAll(() => server.close());
/** Who starts the plugin processes in the tests running now. */
const starter: { server: SpawnServer | undefined } = { server: undefined };
let seq = 0;
const recordFile = (): string => join(tmp, `record-${++seq}.jsonl`);

function options(extra: Partial<RuntimeOptions> & { envExtra?: Record<string, string> } = {}) {
  const { envExtra, ...rest } = extra;
  return execOptions({
    binDirs: [fakePluginDir, "/nonexistent"],
    env: fakePluginEnv(envExtra),
    retryDelayMs: 50,
    spawnServer: starter.server,
    ...rest,
  });
}

const VERBS: [CniCommand, string][] = [
  ["ADD", "add"],
  ["DEL", "delete"],
  ["CHECK", "check"],
  ["STATUS", "status"],
  ["GC", "gc"],
  ["VERSION", "version"],
];

describe.each([
  { who: "this process", spawnServer: undefined },
  { who: "plexus-hostexec --serve", spawnServer: server },
])("started by $who", ({ spawnServer }) => {
  beforeAll(() => {
    starter.server = spawnServer;
  });
  describe("environment and stdin", () => {
    it.each(VERBS)("%s: all six CNI_* variables, the base env, the config on stdin", async (command) => {
      const file = recordFile();
      const stdin = {
        cniVersion: "1.1.0",
        name: "n",
        type: "recorder",
        record: file,
        "x-unknown": { keep: [1, null] },
      };
      const opts = options({ envExtra: { PLEXUS_MARK: "kept", CNI_COMMAND: "STALE", CNI_NETNS: "/stale" } });
      const out = await execPlugin(
        { type: "recorder" },
        {
          command,
          containerId: "c1",
          ...(command === "ADD" ? { netns: "/run/netns/p" } : {}),
          ifName: "net1",
          args: "IgnoreUnknown=1;K8S_POD_NAME=p",
          stdin,
        },
        opts,
        never,
      );
      const [call, ...more] = readRecords(file);
      expect(more).toEqual([]);
      expect(call?.env).toMatchObject({
        CNI_COMMAND: command,
        CNI_CONTAINERID: "c1",
        CNI_NETNS: command === "ADD" ? "/run/netns/p" : "",
        CNI_IFNAME: "net1",
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p",
        CNI_PATH: `${fakePluginDir}:/nonexistent`,
        PLEXUS_MARK: "kept",
      });
      expect(call?.stdin).toEqual(stdin);
      // ADD and VERSION print JSON; the other commands' stdout is not read.
      expect(out === undefined).toBe(command !== "ADD" && command !== "VERSION");
    });

    it("sets the variables that do not apply to the empty string, and nothing else is inherited", async () => {
      const file = recordFile();
      await execPlugin(
        { type: "recorder" },
        { command: "GC", stdin: { record: file } },
        options({ env: { PATH: process.env["PATH"], DROPPED: undefined } }),
        never,
      );
      const env = readRecords(file)[0]?.env ?? {};
      expect(
        Object.keys(env)
          .filter((k) => k.startsWith("CNI_"))
          .sort(),
      ).toEqual(["CNI_ARGS", "CNI_COMMAND", "CNI_CONTAINERID", "CNI_IFNAME", "CNI_NETNS", "CNI_PATH"]);
      expect([env["CNI_CONTAINERID"], env["CNI_NETNS"], env["CNI_IFNAME"], env["CNI_ARGS"]]).toEqual(["", "", "", ""]);
      expect(env).not.toHaveProperty("DROPPED");
      expect(env).not.toHaveProperty("HOME");
    });

    it("wrap puts a prefix in front of the plugin's command line", async () => {
      const file = recordFile();
      const opts = options({ wrap: (argv) => ["env", "WRAPPED=yes", ...argv] });
      await execPlugin({ type: "recorder" }, { command: "DEL", stdin: { record: file } }, opts, never);
      expect(readRecords(file)[0]?.env["WRAPPED"]).toBe("yes");
    });

    it("hands stderr to onStderr, on success too", async () => {
      const seen: [string, string][] = [];
      const opts = options({ onStderr: (type, text) => seen.push([type, text]) });
      await execPlugin(
        { type: "recorder" },
        { command: "ADD", stdin: { cniVersion: "1.0.0", stderr: "debug: hello" } },
        opts,
        never,
      );
      expect(seen).toEqual([["recorder", "debug: hello"]]);
    });
  });

  describe("failures name the plugin and the command and keep the delegate's code", () => {
    it.each(VERBS)("%s: a CNI error on stdout", async (command, verb) => {
      const opts = options({ envExtra: { FAIL_STDOUT: '{"code":11,"msg":"try again","details":"x"}' } });
      const err = await cniFailure(execPlugin({ type: "fail", name: "f1" }, { command, stdin: {} }, opts, never));
      expect({ code: err.code, msg: err.msg, details: err.details }).toEqual({
        code: 11,
        msg: `plugin type="fail" name="f1" failed (${verb}): try again`,
        details: "x",
      });
      expect((err.cause as CniError).message).toBe("try again; x");
    });

    it.each([
      { name: "stderr only", env: { FAIL_STDERR: "boom" }, msg: 'netplugin failed: "boom": exit status 1' },
      {
        name: "no output at all, exit 3",
        env: { FAIL_EXIT: "3" },
        msg: "netplugin failed with no error message: exit status 3",
      },
    ])("$name", async ({ env, msg }) => {
      const err = await cniFailure(
        execPlugin({ type: "fail" }, { command: "ADD", stdin: {} }, options({ envExtra: env }), never),
      );
      expect(err.code).toBe(ErrorCode.Unknown);
      expect(err.msg).toBe(`plugin type="fail" failed (add): ${msg}`);
    });

    it("garbage on stdout is quoted", async () => {
      const err = await cniFailure(execPlugin({ type: "garbage" }, { command: "DEL", stdin: {} }, options(), never));
      expect(err.msg).toMatch(
        /^plugin type="garbage" failed \(delete\): netplugin failed but error parsing its diagnostic message "garbage": .+/,
      );
    });

    it("a long garbage output is quoted truncated", async () => {
      const opts = options({ envExtra: { GARBAGE_TEXT: "<html>".repeat(2000) } });
      const err = await cniFailure(execPlugin({ type: "garbage" }, { command: "ADD", stdin: {} }, opts, never));
      expect(err.msg).toContain("truncated, 12000 characters in all");
      expect(err.msg.length).toBeLessThan(1000);
    });

    it("ADD exiting 0 with garbage is a decoding error quoting it", async () => {
      const opts = options({ envExtra: { GARBAGE_EXIT: "0" } });
      const err = await cniFailure(execPlugin({ type: "garbage" }, { command: "ADD", stdin: {} }, opts, never));
      expect(err.code).toBe(ErrorCode.DecodingFailure);
      expect(err.msg).toMatch(/^plugin type="garbage" failed \(add\): failed to unmarshal raw result: /);
      expect(err.details).toBe('stdout: "garbage"');
    });

    it("ADD printing nothing is an error; DEL printing nothing is success", async () => {
      const err = await cniFailure(execPlugin({ type: "silent" }, { command: "ADD", stdin: {} }, options(), never));
      expect(err.msg).toBe(
        'plugin type="silent" failed (add): failed to unmarshal raw result: unexpected end of JSON input',
      );
      await expect(
        execPlugin({ type: "silent" }, { command: "DEL", stdin: {} }, options(), never),
      ).resolves.toBeUndefined();
    });

    it("ADD printing null returns an empty object", async () => {
      const out = await execPlugin(
        { type: "recorder" },
        { command: "ADD", stdin: { stdout: "null" } },
        options(),
        never,
      );
      expect(out).toEqual({});
    });
  });

  describe("a plugin type is a bare name: a path is never executed", () => {
    let root: string;
    let marker: string;
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), "plexus-evil-"));
      marker = join(root, "pwned");
      await writeFile(join(root, "evil"), `#!/bin/sh\necho "$0" >> ${marker}\necho '{"cniVersion":"1.0.0"}'\n`, {
        mode: 0o755,
      });
      await mkdir(join(root, "bin"));
      await copyFile(join(root, "evil"), join(root, "bin", "allowed"));
    });
    afterAll(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it("control: the script leaves its marker when it is executed as a plugin in the bin dir", async () => {
      const opts = execOptions({ spawnServer: starter.server, binDirs: [join(root, "bin")], env: fakePluginEnv() });
      await execPlugin({ type: "allowed" }, { command: "ADD", stdin: {} }, opts, never);
      expect(readFileSync(marker, "utf8")).toContain("allowed");
      await rm(marker);
    });

    it.each(["../evil", "../../evil", "bin/../../evil", "/tmp/../evil", "..\\evil", "evil\0", ""])(
      "%j is refused",
      async (type) => {
        const opts = execOptions({ spawnServer: starter.server, binDirs: [join(root, "bin")], env: fakePluginEnv() });
        const err = await cniFailure(execPlugin({ type }, { command: "ADD", stdin: {} }, opts, never));
        expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
        expect(err.msg).toBe(`plugin type=${JSON.stringify(type)} failed (add): invalid plugin name: ${type}`);
        expect(existsSync(marker)).toBe(false);
      },
    );

    it(`an absolute path is refused too`, async () => {
      const opts = execOptions({ spawnServer: starter.server, binDirs: [join(root, "bin")], env: fakePluginEnv() });
      await expect(
        execPlugin({ type: join(root, "evil") }, { command: "ADD", stdin: {} }, opts, never),
      ).rejects.toThrow("invalid plugin name");
      expect(existsSync(marker)).toBe(false);
    });
  });

  describe("the deadline", () => {
    it("kills a hanging plugin and its children, and says so with code 103", async () => {
      const pidFile = join(tmp, "sleeper.pids");
      const opts = options({ timeoutMs: 400, envExtra: { SLEEPER_PIDS: pidFile } });
      const err = await cniFailure(execPlugin({ type: "sleeper" }, { command: "ADD", stdin: {} }, opts, never));
      expect(err.code).toBe(ErrorCode.Timeout);
      expect(err.msg).toBe('plugin type="sleeper" failed (add): timed out after 400 ms; the plugin was killed');
      const pids = (await readFile(pidFile, "utf8")).trim().split(" ").map(Number);
      expect(pids).toHaveLength(2);
      for (const pid of pids) await expect.poll(() => isAlive(pid), { timeout: 2_000 }).toBe(false);
    });

    it("the caller's signal ends it the same way", async () => {
      const pidFile = join(tmp, "sleeper2.pids");
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error("pod deleted")), 300);
      const err = await cniFailure(
        execPlugin(
          { type: "sleeper" },
          { command: "DEL", stdin: {} },
          options({ envExtra: { SLEEPER_PIDS: pidFile } }),
          ac.signal,
        ),
      );
      expect(err.code).toBe(ErrorCode.Timeout);
      expect(err.msg).toBe(
        'plugin type="sleeper" failed (delete): cancelled by the caller (pod deleted) and the plugin was killed',
      );
      const pids = (await readFile(pidFile, "utf8")).trim().split(" ").map(Number);
      for (const pid of pids) await expect.poll(() => isAlive(pid), { timeout: 2_000 }).toBe(false);
    });

    it("an already aborted signal starts nothing", async () => {
      const file = recordFile();
      const err = await cniFailure(
        execPlugin(
          { type: "recorder" },
          { command: "ADD", stdin: { record: file } },
          options(),
          AbortSignal.abort(new Error("late")),
        ),
      );
      expect(err.code).toBe(ErrorCode.Timeout);
      expect(err.msg).toContain("cancelled by the caller (late) before it started");
      expect(readRecords(file)).toEqual([]);
    });
  });

  describe("ETXTBSY: a binary being written is retried", () => {
    // Another process holds the file open for writing, which makes execve fail with ETXTBSY.
    async function holdOpenForWriting(path: string, seconds: number): Promise<ChildProcess> {
      const holder = spawn("sh", ["-c", `exec 3>>"$0"; echo ready; exec sleep ${seconds}`, path], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      await new Promise((resolve) => holder.stdout.once("data", resolve));
      return holder;
    }

    it("succeeds once the writer is done", async () => {
      const dir = await mkdtemp(join(tmpdir(), "plexus-busy-"));
      await copyFile(join(fakePluginDir, "fixed-result"), join(dir, "busy"));
      await holdOpenForWriting(join(dir, "busy"), 0.3);
      const opts = execOptions({
        spawnServer: starter.server,
        binDirs: [dir],
        env: fakePluginEnv(),
        retryDelayMs: 150,
      });
      const out = await execPlugin({ type: "busy" }, { command: "ADD", stdin: {} }, opts, never);
      expect(out).toHaveProperty("ips");
      await rm(dir, { recursive: true });
    });

    it(`gives up after ${ETXTBSY_RETRIES} retries with a clear error`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "plexus-busy-"));
      await copyFile(join(fakePluginDir, "fixed-result"), join(dir, "busy"));
      const holder = await holdOpenForWriting(join(dir, "busy"), 5);
      const opts = execOptions({ spawnServer: starter.server, binDirs: [dir], env: fakePluginEnv(), retryDelayMs: 20 });
      const err = await cniFailure(execPlugin({ type: "busy" }, { command: "ADD", stdin: {} }, opts, never));
      holder.kill();
      expect(err.msg).toBe(
        `plugin type="busy" failed (add): cannot execute ${join(dir, "busy")}: text file busy (ETXTBSY), still ` +
          `busy after ${ETXTBSY_RETRIES} retries`,
      );
      await rm(dir, { recursive: true });
    });
  });
});

describe("the daemon's process starter itself", () => {
  it("a starter that dies fails the runs in flight naming it, and the next run starts a new one", async () => {
    const errors: string[] = [];
    const others = new Set(starterPids());
    const own = createSpawnServer(join(repoRoot, "dist/plexus-hostexec"), (m) => errors.push(m));
    try {
      const opts = execOptions({ spawnServer: own, binDirs: [fakePluginDir], env: fakePluginEnv(), retryDelayMs: 50 });
      const pidFile = join(tmp, "orphan.pids");
      const run = execPlugin(
        { type: "sleeper" },
        { command: "ADD", stdin: {} },
        execOptions({ spawnServer: own, binDirs: [fakePluginDir], env: fakePluginEnv({ SLEEPER_PIDS: pidFile }) }),
        never,
      );
      await expect.poll(() => existsSync(pidFile), { timeout: 10_000 }).toBe(true);
      const helper = starterPids().filter((pid) => !others.has(pid));
      expect(helper).toHaveLength(1);
      process.kill(helper[0] as number, "SIGKILL");
      const err = await cniFailure(run);
      expect(err.msg).toMatch(/^plugin type="sleeper" failed \(add\): the process starter .*plexus-hostexec ended/);
      expect(errors).toHaveLength(1);
      // What it had started is not waited for; the test ends it.
      for (const pid of (await readFile(pidFile, "utf8")).trim().split(" ").map(Number)) process.kill(pid, "SIGKILL");
      const out = await execPlugin({ type: "fixed-result" }, { command: "ADD", stdin: {} }, opts, never);
      expect(out).toHaveProperty("ips");
    } finally {
      own.close();
    }
  });
});

/** The plexus-hostexec --serve processes this process started and that are still running. */
function starterPids(): number[] {
  const kids = readdirSync("/proc/self/task").flatMap((t) =>
    readFileSync(`/proc/self/task/${t}/children`, "utf8").split(" ").filter(Boolean).map(Number),
  );
  return kids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("--serve") && isAlive(pid);
    } catch {
      return false;
    }
  });
}

/** Alive = has a /proc entry that is not a zombie (an orphan may wait for its reaper). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
