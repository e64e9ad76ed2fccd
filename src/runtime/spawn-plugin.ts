// Running one plugin process: the only place Plexus starts delegates (execa's one owner is
// src/runtime), itself or, in the daemon, through its process starter (spawn-server.ts). A
// deadline kills the whole process group; ETXTBSY is retried like libcni does.

import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { CniError, ErrorCode } from "../cni/error.js";
import type { PluginRun } from "./plugin-output.js";
import type { ServedOutcome, SpawnServer } from "./spawn-server.js";

export interface SpawnRequest {
  /** The command line: the plugin's path, possibly behind a wrapper (RuntimeOptions.wrap). */
  readonly argv: readonly string[];
  /** The complete environment of the process (nothing else is inherited). */
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: string;
  readonly timeoutMs: number;
  /** Pause between attempts while the binary is busy being written (ETXTBSY). */
  readonly retryDelayMs: number;
  /** Starts the process instead of this one (the daemon's); the path in argv[0] is absolute. */
  readonly server?: SpawnServer | undefined;
}

// libcni pkg/invoke/raw_exec.go: "text file busy" is retried up to 5 times, 1 s apart. It
// happens when a plugin binary is being replaced while the runtime executes it.
export const ETXTBSY_RETRIES = 5;
// A CNI result is a few KiB; a plugin printing megabytes is broken, and is stopped.
const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

const SPAWN_ERRORS: Readonly<Record<string, string>> = {
  ETXTBSY: "text file busy",
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  ENOEXEC: "exec format error",
};

/** Runs the process to its end; throws on a spawn failure or when the deadline passes. */
export async function spawnPlugin(req: SpawnRequest, signal: AbortSignal): Promise<PluginRun> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await spawnOnce(req, signal);
    if (outcome.kind === "run") return outcome.run;
    const busy = outcome.code === "ETXTBSY";
    if (!busy || attempt === ETXTBSY_RETRIES) throw spawnError(req.argv, outcome.code, busy ? attempt : 0);
    try {
      await sleep(req.retryDelayMs, undefined, { signal });
    } catch {
      throw cancelled(signal, "while waiting to retry a busy binary");
    }
  }
}

type Outcome = { kind: "run"; run: PluginRun } | { kind: "spawn-failed"; code: string };

async function spawnOnce(req: SpawnRequest, signal: AbortSignal): Promise<Outcome> {
  if (signal.aborted) throw cancelled(signal, "before it started");
  const [file, ...args] = req.argv;
  if (file === undefined) throw new CniError(ErrorCode.Internal, "empty command line");
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), req.timeoutMs);
  let pid: number | undefined;
  const kill = (): void => killGroup(pid);
  const onCallerAbort = (): void => deadline.abort();
  signal.addEventListener("abort", onCallerAbort, { once: true });
  deadline.signal.addEventListener("abort", kill, { once: true });
  try {
    const server = servedBy(req, file);
    const r = server
      ? await server.run(req.argv, req.env, req.stdin, (p) => {
          pid = p;
          if (deadline.signal.aborted) kill();
        })
      : await runItself(file, args, req, (p) => (pid = p));
    if (r.kind === "spawn-failed") return r;
    if (r.exitCode !== 0 && deadline.signal.aborted) {
      throw signal.aborted ? cancelled(signal, "and the plugin was killed") : timedOut(req.timeoutMs);
    }
    if (r.overflow) {
      throw new CniError(ErrorCode.Internal, `printed more than ${MAX_OUTPUT_BYTES} bytes and was stopped`);
    }
    return { kind: "run", run: { exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr } };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onCallerAbort);
    deadline.signal.removeEventListener("abort", kill);
  }
}

/**
 * The daemon's process starter, for what it can start: an absolute path (it does no PATH lookup)
 * and no NUL in the strings (its request separates them with NUL; execa refuses them).
 */
function servedBy(req: SpawnRequest, file: string): SpawnServer | undefined {
  if (!req.server || !file.startsWith("/")) return undefined;
  const nul = (s: string): boolean => s.includes("\0");
  if (req.argv.some(nul) || Object.entries(req.env).some(([k, v]) => nul(k) || nul(v))) return undefined;
  return req.server;
}

/** The process started by this process (execa). */
async function runItself(
  file: string,
  args: readonly string[],
  req: SpawnRequest,
  onStart: (pid: number | undefined) => void,
): Promise<ServedOutcome> {
  const child = execa(file, args, {
    input: req.stdin,
    env: req.env,
    extendEnv: false,
    reject: false,
    // Its own process group, so that the deadline also kills what the plugin started
    // (a shell script's children would otherwise keep stdout open and the run alive).
    detached: true,
    maxBuffer: MAX_OUTPUT_BYTES,
  });
  onStart(child.pid);
  const r = await child;
  if (r.failed && r.exitCode === undefined && r.signal === undefined && r.code !== undefined) {
    return { kind: "spawn-failed", code: r.code };
  }
  return {
    kind: "exited",
    exitCode: r.exitCode,
    signal: r.signal,
    overflow: r.isMaxBuffer,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
  };
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone: nothing to kill.
  }
}

function timedOut(timeoutMs: number): CniError {
  return new CniError(ErrorCode.Timeout, `timed out after ${timeoutMs} ms; the plugin was killed`);
}

function cancelled(signal: AbortSignal, when: string): CniError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return new CniError(ErrorCode.Timeout, `cancelled by the caller (${reason}) ${when}`, { cause: signal.reason });
}

function spawnError(argv: readonly string[], code: string, retries: number): CniError {
  const what = SPAWN_ERRORS[code] ?? "spawn failed";
  const after = retries > 0 ? `, still busy after ${retries} retries` : "";
  return new CniError(ErrorCode.Internal, `cannot execute ${argv.join(" ")}: ${what} (${code})${after}`);
}
