// Shared by the install-*.test.ts files: a throwaway "host" (a directory standing for the
// node's /, mounted as the agent's --host-root, as the DaemonSet mounts the node at /host), the
// service-account files a pod gets, and the agent as a real process.
//
// The agent runs from a bundle of the plexus command line (src/cli/commands.ts) built here with
// esbuild (the same bundler and settings as `npm run build`, without the single executable), so
// these tests exercise the agent's entry points (argv, signals, exit codes) from sources.

import { spawn, type ChildProcess } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const primariesDir = join(repoRoot, "test/fixtures/primaries");
export const standinsDir = join(repoRoot, "test/fixtures/standins");
export const plexusSea = join(repoRoot, "dist/plexus");

/** Bundles a CLI entry: `[install] ARGS` runs plexus install, `uninstall ARGS` plexus uninstall; returns the .cjs path. */
export async function buildAgentBundle(dir: string): Promise<string> {
  const entry = join(dir, "agent-entry.ts");
  const cli = join(repoRoot, "src/cli/commands.ts");
  await writeFile(
    entry,
    `import { runCommand } from ${JSON.stringify(cli)};
const args = process.argv.slice(2);
const run = runCommand(args[0] === "uninstall" || args[0] === "install" ? args : ["install", ...args]);
run.then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(String(err && err.stack || err) + "\\n"); process.exitCode = 1; },
);
`,
  );
  const outfile = join(dir, "plexus-agent.cjs");
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    outfile,
    logLevel: "error",
  });
  return outfile;
}

export interface FakeHost {
  /** The directory standing for the node's "/" (--host-root). */
  readonly root: string;
  /** Host paths (what files on the node must name). */
  readonly confDirHost: "/etc/cni/net.d";
  /** Agent-side paths. */
  readonly confDir: string;
  readonly binDir: string;
  readonly stateDir: string;
  /** The pod's service account directory (token, ca.crt, namespace). */
  readonly saDir: string;
  /** A stand-in executable to install as "plexus" (the real one is dist/plexus, built by npm run build). */
  readonly fakeBinary: string;
  /** The flags that point the agent at this host. */
  readonly flags: readonly string[];
  /** The environment the kubelet gives the agent pod. */
  readonly env: Record<string, string>;
  seed(file: string, as?: string): Promise<void>;
  read(agentPath: string): Promise<string>;
  cleanup(): Promise<void>;
}

export async function createFakeHost(tag: string): Promise<FakeHost> {
  const base = await mkdtemp(join(tmpdir(), `plexus-install-${tag}-`));
  const root = join(base, "host");
  const confDir = join(root, "etc/cni/net.d");
  const binDir = join(root, "opt/cni/bin");
  const stateDir = join(root, "var/lib/cni/plexus");
  const saDir = join(base, "serviceaccount");
  await Promise.all([
    mkdir(confDir, { recursive: true }),
    mkdir(binDir, { recursive: true }),
    mkdir(saDir, { recursive: true }),
  ]);
  await writeFile(join(saDir, "token"), "token-1");
  await writeFile(join(saDir, "ca.crt"), "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n");
  await writeFile(join(saDir, "namespace"), "kube-system");
  const fakeBinary = join(base, "plexus-build");
  await writeFile(fakeBinary, "#!/bin/sh\necho plexus stand-in build\n", { mode: 0o755 });
  return {
    root,
    confDirHost: "/etc/cni/net.d",
    confDir,
    binDir,
    stateDir,
    saDir,
    fakeBinary,
    flags: [
      "--host-root",
      root,
      "--service-account-dir",
      saDir,
      "--plexus-binary",
      fakeBinary,
      "--poll-interval",
      "0.2",
      "--log-level",
      "debug",
    ],
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      KUBERNETES_SERVICE_HOST: "fd00::1",
      KUBERNETES_SERVICE_PORT: "6443",
    },
    seed: (file, as) => copyFile(join(primariesDir, file), join(confDir, as ?? file)),
    read: (path) => readFile(path, "utf8"),
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface AgentProcess {
  readonly child: ChildProcess;
  /** stderr so far (the agent's log, JSON lines). */
  stderr(): string;
  readonly exited: Promise<RunResult>;
}

export function startAgent(bundle: string, args: readonly string[], env: Record<string, string>): AgentProcess {
  const child = spawn(process.execPath, [bundle, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<RunResult>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, stderr: () => stderr, exited };
}

export async function runAgent(
  bundle: string,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<RunResult> {
  const agent = startAgent(bundle, args, env);
  const timer = setTimeout(() => agent.child.kill("SIGKILL"), timeoutMs);
  try {
    return await agent.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns a value other than undefined (or throws after `timeoutMs`). */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The agent's log lines (pino JSON on stderr). */
export function logLines(stderr: string): { level: number; msg: string; [k: string]: unknown }[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
}

export async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
}
