// The plexus command line, through the built executable (dist/plexus): every subcommand answers a
// bad flag or value with exactly one line on stderr naming it, nothing on stdout and exit code 2
// (a state dir that is not there: exit code 1), before it changes anything; --help works
// everywhere; `version --json` is JSON. Every path a command is given lies in a directory this
// test created, so a check that failed to stop a command cannot touch the machine.

import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SUPPORTED_VERSIONS } from "../../src/cni/version.js";
import { plexusBin, requireBuiltPlexus } from "../support/plexus.js";

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** dist/plexus ARGS with a small environment (no CNI_COMMAND: the command-line tool). */
function plexus(args: readonly string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(plexusBin, [...args], {
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? -1 : -2),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
  });
}

let root: string;
let run = 0;

beforeAll(async () => {
  requireBuiltPlexus();
  root = await mkdtemp(join(tmpdir(), "plexus-cli-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh, empty directory for one case; `$W` in a case's arguments stands for it. */
async function workDir(): Promise<string> {
  const dir = join(root, `case-${++run}`);
  await mkdir(dir);
  return dir;
}

// Each command is pointed into the work dir ($W), so "nothing left behind" is "the work dir is
// still empty". Arguments are split on spaces.
const LOCAL = "local --state-dir $W/local --cni-conf-dir $W/net.d --cni-bin-dir $W/bin";
const INSTALL = "install --host-root $W --skip-kubeconfig --skip-binary-copy --once";
const UNINSTALL = "uninstall --host-root $W";
const DAEMON = "daemon --socket $W/plexus.sock --metrics-address off";

const USAGE_ERRORS: readonly { readonly line: string; readonly names: string }[] = [
  { line: "bogus", names: '"bogus"' },
  { line: "--bogus", names: '"--bogus"' },
  { line: "help bogus", names: '"bogus"' },
  { line: "version --bogus", names: "--bogus" },
  { line: "version extra", names: '"extra"' },
  { line: "version --json=yes", names: "--json" },
  { line: "inspect --bogus", names: "--bogus" },
  { line: "inspect -x", names: "-x" },
  { line: "inspect --state-dir", names: "--state-dir" },
  { line: "inspect --state-dir --json", names: "--state-dir" },
  { line: "inspect --state-dir=", names: "--state-dir" },
  { line: "inspect --json=1", names: "--json" },
  { line: "inspect --pod web-0", names: "--pod" },
  { line: "inspect extra", names: '"extra"' },
  { line: `${LOCAL} --bogus`, names: "--bogus" },
  { line: `${LOCAL} --port abc`, names: "--port" },
  { line: `${LOCAL} --port 99999`, names: "--port" },
  { line: `${LOCAL} --port=-1`, names: "--port" },
  { line: `${LOCAL} --port 1.5`, names: "--port" },
  { line: `${LOCAL} --port`, names: "--port" },
  { line: `${LOCAL} --node-name Not_A_Node`, names: "--node-name" },
  { line: `${LOCAL} --reference-plugins=`, names: "--reference-plugins" },
  { line: `${LOCAL} extra`, names: '"extra"' },
  { line: "local forward --bogus", names: "--bogus" },
  { line: "local forward --to $W/api.sock", names: "--listen" },
  { line: "local forward --listen 127.0.0.1:0", names: "--to" },
  { line: "local forward --listen nowhere --to $W/api.sock", names: "--listen" },
  { line: "local forward --listen 127.0.0.1:70000 --to $W/api.sock", names: "--listen" },
  { line: "local forward --listen $W/in.sock --to relative.sock", names: "--to" },
  { line: `${INSTALL} --bogus`, names: "--bogus" },
  { line: `${INSTALL} --remove-binary`, names: "--remove-binary" },
  { line: `${INSTALL} --wait-timeout soon`, names: "--wait-timeout" },
  { line: `${INSTALL} --poll-interval`, names: "--poll-interval" },
  { line: `${INSTALL} --log-level loud`, names: "--log-level" },
  { line: `${INSTALL} --cni-conf-dir etc/cni`, names: "--cni-conf-dir" },
  { line: `${INSTALL} --network-name bad/name`, names: "--network-name" },
  { line: `${INSTALL} --cleanup-on-exit --no-cleanup-on-exit`, names: "--cleanup-on-exit" },
  { line: `${INSTALL} --config $W/missing.json`, names: "--config" },
  { line: `${INSTALL} extra`, names: '"extra"' },
  { line: `${DAEMON} --bogus`, names: "--bogus" },
  { line: `${DAEMON} --max-parallel 0`, names: "--max-parallel" },
  { line: `${DAEMON} --max-parallel many`, names: "--max-parallel" },
  { line: `${DAEMON} --queue-timeout 0`, names: "--queue-timeout" },
  { line: `${DAEMON} --log-level loud`, names: "--log-level" },
  { line: "daemon --socket $W/plexus.sock --metrics-address nowhere", names: "--metrics-address" },
  { line: `${DAEMON} --host-root $W/host --host-mount-ns /proc/1/ns/mnt`, names: "--host-root" },
  { line: "daemon --socket= --metrics-address off", names: "--socket" },
  { line: `${DAEMON} extra`, names: '"extra"' },
  { line: `${UNINSTALL} --once`, names: "--once" },
  { line: `${UNINSTALL} --bogus`, names: "--bogus" },
];

describe("a bad command line", () => {
  it.each(USAGE_ERRORS)("plexus $line: exit 2, one line naming $names, nothing done", async ({ line, names }) => {
    const work = await workDir();
    const out = await plexus(line.replaceAll("$W", work).split(" "));
    expect(out.stdout).toBe("");
    expect(out.stderr.split("\n")).toEqual([expect.stringMatching(/^plexus( [a-z]+)*: /), ""]);
    expect(out.stderr).toContain(names);
    expect(out.code).toBe(2);
    expect(await readdir(work)).toEqual([]);
  });
});

describe("plexus inspect", () => {
  it("a state dir that does not exist is an error (exit 1) naming it, not an empty node", async () => {
    const work = await workDir();
    const missing = join(work, "state");
    const out = await plexus(["inspect", "--state-dir", missing]);
    expect(out).toMatchObject({ code: 1, stdout: "" });
    expect(out.stderr).toBe(
      `plexus inspect: --state-dir ${missing}: no such directory (Plexus's cniDir; default /var/lib/cni/plexus)\n`,
    );
    expect(await readdir(work)).toEqual([]);
  });

  it("an existing, empty state dir has no attachments (exit 0)", async () => {
    const work = await workDir();
    const out = await plexus(["inspect", "--state-dir", work]);
    expect(out).toEqual({ code: 0, stdout: `no attachments in ${work}\n`, stderr: "" });
    expect(JSON.parse((await plexus(["inspect", "--state-dir", work, "--json"])).stdout)).toEqual([]);
  });
});

describe("help", () => {
  const commands = ["version", "install", "uninstall", "inspect", "daemon", "local", "local forward"];

  it.each(commands.flatMap((c) => [`${c} --help`, `${c} -h`]))("plexus %s prints its usage (exit 0)", async (line) => {
    const out = await plexus(line.split(" "));
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`Usage: plexus ${line.replace(/ (--help|-h)$/, "")}`);
  });

  it("plexus help lists every command; plexus help COMMAND is that command's usage", async () => {
    const all = await plexus(["help"]);
    expect(all.code).toBe(0);
    for (const c of commands) expect(all.stdout).toContain(`plexus ${c}`);
    // Without arguments (and without CNI_COMMAND), as skel: nothing on stdout, what it is on stderr.
    const bare = await plexus([]);
    expect([bare.code, bare.stdout]).toEqual([0, ""]);
    expect(bare.stderr).toContain(all.stdout.slice(all.stdout.indexOf("Usage:")));
    const inspect = await plexus(["help", "inspect"]);
    expect(inspect).toEqual({ code: 0, stdout: (await plexus(["inspect", "--help"])).stdout, stderr: "" });
  });

  it("--help wins over a bad flag beside it", async () => {
    const out = await plexus(["inspect", "--bogus", "--help"]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("Usage: plexus inspect");
  });
});

describe("plexus version", () => {
  it("--json is one JSON object: the version, the CNI versions and how it was built", async () => {
    const out = await plexus(["version", "--json"]);
    expect(out.code).toBe(0);
    expect(out.stderr).toBe("");
    expect(out.stdout.endsWith("}\n")).toBe(true);
    const info = JSON.parse(out.stdout);
    expect(info).toEqual({
      version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      cniVersions: [...SUPPORTED_VERSIONS],
      build: {
        commit: expect.stringMatching(/^([0-9a-f]{12}(\+dirty)?|unknown)$/),
        node: expect.stringMatching(/^v\d+\./),
        platform: "linux",
        arch: process.arch,
        executable: "single-executable",
      },
    });
  });

  it("the text form names the same version and CNI versions", async () => {
    const info = JSON.parse((await plexus(["version", "--json"])).stdout);
    const out = await plexus(["version"]);
    expect(out).toEqual({
      code: 0,
      stdout: `plexus ${info.version}\nCNI versions: ${SUPPORTED_VERSIONS.join(", ")}\n`,
      stderr: "",
    });
  });
});
