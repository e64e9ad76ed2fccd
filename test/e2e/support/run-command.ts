// Runs a command to completion and says everything about it when it fails. The e2e harness
// drives real tools (gcc, ctr, ip, nsenter, mount); execa belongs to src/runtime/, so this
// small runner sits on node:child_process.
import { spawn } from "node:child_process";

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code, or null when a signal ended the command. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RunOptions {
  readonly input?: string | Buffer;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Kills the command (SIGKILL) after this long. Default 60 s. */
  readonly timeoutMs?: number;
  /** Resolve with the result instead of throwing when the command does not exit 0. */
  readonly allowFailure?: boolean;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: CommandResult,
    options?: ErrorOptions,
  ) {
    const how = result.signal === null ? `exit code ${result.code}` : `signal ${result.signal}`;
    super(`${argv.join(" ")} failed with ${how}: ${result.stderr.trim() || result.stdout.trim()}`, options);
    this.name = "CommandError";
  }
}

export function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error("runCommand: empty argv"));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 60_000,
      killSignal: "SIGKILL",
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (cause) => reject(new Error(`cannot run ${argv.join(" ")}: ${cause.message}`, { cause })));
    child.on("close", (code, signal) => {
      const result: CommandResult = {
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        code,
        signal,
      };
      if (code === 0 || options.allowFailure === true) resolve(result);
      else reject(new CommandError(argv, result));
    });
    // A command that does not read stdin may close it before we write: not an error.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}
