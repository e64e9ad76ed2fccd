// Installing over a plexus that a runtime is executing right now (a pod being set up while the
// DaemonSet rolls): Multus #1221 is this case failing with "text file busy". Uses the real
// single executable (dist/plexus, from `npm run build`).

import { spawn } from "node:child_process";
import { appendFile, copyFile, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildAgentBundle, createFakeHost, plexusSea, repoRoot, runAgent, type FakeHost } from "./install-harness.js";

let work: string;
let bundle: string;
let h: FakeHost;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "plexus-install-binary-"));
  bundle = await buildAgentBundle(work);
  h = await createFakeHost("binary");
  await h.seed("10-flannel.conflist");
});
afterAll(async () => {
  await h.cleanup();
  await rm(work, { recursive: true, force: true });
});

const flagsWith = (binary: string): string[] => [
  ...h.flags.filter((f, i, all) => f !== "--plexus-binary" && all[i - 1] !== "--plexus-binary"),
  "--plexus-binary",
  binary,
];

it("a second install over a running copy of the binary succeeds and leaves the running plugin unaffected", async () => {
  await stat(plexusSea).catch(() => {
    throw new Error(`${plexusSea} is missing: run npm run build first`);
  });
  const installed = join(h.binDir, "plexus");
  expect((await runAgent(bundle, ["--once", ...flagsWith(plexusSea)], h.env)).code).toBe(0);

  // The runtime executes the installed plugin: an ADD that is still reading its config on stdin.
  const env = {
    PATH: "/usr/bin:/bin",
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "busy",
    CNI_NETNS: "/run/netns/none",
    CNI_IFNAME: "eth0",
    CNI_PATH: h.binDir,
  };
  const running = spawn(installed, [], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  running.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => running.on("close", (code) => resolve(code)));
  await new Promise((r) => setTimeout(r, 300)); // let it start and block on stdin

  // Writing into the busy executable is what fails on a node (ETXTBSY): the test can fail.
  await expect(copyFile(plexusSea, installed)).rejects.toMatchObject({ code: "ETXTBSY" });

  // A new build (different bytes) installed over it.
  const v2 = join(work, "plexus-v2");
  await copyFile(plexusSea, v2);
  await appendFile(v2, "\n# build 2\n");
  const inodeBefore = (await stat(installed)).ino;
  const second = await runAgent(bundle, ["--once", ...flagsWith(v2)], h.env);
  expect(second.code).toBe(0);
  expect(second.stderr).toContain("installed the plexus executable");
  expect((await stat(installed)).ino).not.toBe(inodeBefore);
  expect(Buffer.compare(await readFile(installed), await readFile(v2))).toBe(0);

  // The running plugin still has its own inode and finishes its command normally.
  expect(running.exitCode).toBe(null);
  running.stdin.end(JSON.stringify({ cniVersion: "1.0.0", name: "x", type: "plexus" }));
  expect(await exited).toBe(1);
  const answer = JSON.parse(stdout) as { code: number; msg: string };
  expect(answer).toMatchObject({ code: 7 });
  expect(answer.msg).toContain("clusterNetwork");

  // Installing the same build again is a no-op (no churn in the bin dir on every restart).
  const inode = (await stat(installed)).ino;
  const third = await runAgent(bundle, ["--once", ...flagsWith(v2)], h.env);
  expect(third.stderr).toContain("the plexus executable is up to date");
  expect((await stat(installed)).ino).toBe(inode);
});

it("--mode daemon installs the shim as plexus and plexus-thin beside it; --mode thin switches back, no hand edit", async () => {
  const host = await createFakeHost("mode");
  try {
    await host.seed("10-flannel.conflist");
    const shim = join(repoRoot, "dist/plexus-shim");
    const plexus = join(host.binDir, "plexus");
    const thin = join(host.binDir, "plexus-thin");
    const same = async (a: string, b: string) => Buffer.compare(await readFile(a), await readFile(b)) === 0;
    const install = (mode: string) =>
      runAgent(bundle, ["--once", ...host.flags, "--mode", mode, "--shim-binary", shim], host.env);
    const check = (mode: string) => runAgent(bundle, ["--check", ...host.flags, "--mode", mode], host.env);

    expect((await install("thin")).code).toBe(0);
    expect(await same(plexus, host.fakeBinary)).toBe(true);
    await expect(stat(thin)).rejects.toMatchObject({ code: "ENOENT" });

    const daemon = await install("daemon");
    expect(daemon.code, daemon.stderr).toBe(0);
    expect(await same(plexus, shim)).toBe(true);
    expect(await same(thin, host.fakeBinary)).toBe(true);
    expect((await check("daemon")).code).toBe(0);
    // The conflist does not change with the mode: the runtime keeps executing "plexus".
    const conflist = await host.read(join(host.confDir, "00-plexus.conflist"));
    expect(JSON.parse(conflist).plugins[0].type).toBe("plexus");

    // Back to thin over a shim that a runtime is executing right now (blocked reading stdin).
    const running = spawn(plexus, [], { env: { PLEXUS_SOCKET: join(host.root, "none.sock") }, stdio: "pipe" });
    const exited = new Promise<number | null>((resolve) => running.on("close", (code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 100));
    const back = await install("thin");
    expect(back.code, back.stderr).toBe(0);
    expect(await same(plexus, host.fakeBinary)).toBe(true);
    await expect(stat(thin)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await host.read(join(host.confDir, "00-plexus.conflist"))).toBe(conflist);
    expect((await check("thin")).code).toBe(0);
    running.stdin.end("{}");
    expect(await exited).not.toBeNull();
  } finally {
    await host.cleanup();
  }
});
