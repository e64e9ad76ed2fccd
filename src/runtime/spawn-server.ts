// The daemon's process starter: `plexus-hostexec --serve` (src/shim/plexus-hostexec.c), one
// long-lived child that starts every delegate with posix_spawn and hands back how it ended.
// Starting a process from Node itself blocks the event loop until the child has executed its
// program (libuv forks the daemon and waits for the exec to report its failure), a few ms per
// delegate on a busy node during which no other call of the daemon moves; through this helper
// the daemon only writes a request and reads a reply (docs/architecture.md "Daemon mode").
// Thin mode keeps starting its delegates itself: one more process per call would cost it more.

import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";

/** How a process the helper started ended, or why it could not start. */
export type ServedOutcome =
  | {
      readonly kind: "exited";
      readonly exitCode: number | undefined;
      readonly signal: string | undefined;
      /** stdout or stderr passed OUTPUT_MAX: the helper killed the group. */
      readonly overflow: boolean;
      readonly stdout: string;
      readonly stderr: string;
    }
  | { readonly kind: "spawn-failed"; readonly code: string };

export interface SpawnServer {
  /**
   * Starts argv[0] (an absolute path) with exactly `env` and `stdin`, in its own session and
   * process group; `onStart` gets its pid (the caller kills the group at its deadline).
   */
  run(
    argv: readonly string[],
    env: Readonly<Record<string, string>>,
    stdin: string,
    onStart: (pid: number) => void,
  ): Promise<ServedOutcome>;
  /** Ends the helper (the processes it started keep running). */
  close(): void;
}

interface Pending {
  readonly onStart: (pid: number) => void;
  readonly done: (o: ServedOutcome) => void;
  readonly fail: (e: Error) => void;
}

const KIND_STARTED = 1;
const KIND_FAILED = 2;
const KIND_EXITED = 3;
const NO_EXIT_CODE = 0xffffffff;

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));
const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/**
 * The helper, started at the first run and again after it died (a call in flight then fails
 * with an error naming it; the processes it had started are not waited for).
 */
export function createSpawnServer(helper: string, onError: (message: string) => void): SpawnServer {
  let child: ChildProcess | undefined;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let input: Buffer = Buffer.alloc(0);

  const lost = (why: string): void => {
    child = undefined;
    input = Buffer.alloc(0);
    const calls = [...pending.values()];
    pending.clear();
    if (calls.length) onError(`${helper} --serve ${why}`);
    for (const p of calls) p.fail(new Error(`the process starter ${helper} ${why}`));
  };

  const onData = (chunk: Buffer): void => {
    input = input.length ? Buffer.concat([input, chunk]) : chunk;
    while (input.length >= 4) {
      const len = input.readUInt32LE(0);
      if (input.length < 4 + len) break;
      frame(input.subarray(4, 4 + len));
      input = input.subarray(4 + len);
    }
  };

  const frame = (f: Buffer): void => {
    const id = f.readUInt32LE(0);
    const kind = f.readUInt32LE(4);
    const p = pending.get(id);
    if (!p) return;
    if (kind === KIND_STARTED) return p.onStart(f.readUInt32LE(8));
    pending.delete(id);
    if (child) hold(child);
    if (kind === KIND_FAILED) {
      const errno = f.readUInt32LE(8);
      return p.done({ kind: "spawn-failed", code: ERRNO_NAMES.get(errno) ?? `errno ${errno}` });
    }
    if (kind !== KIND_EXITED) return p.fail(new Error(`the process starter answered an unknown kind ${kind}`));
    const code = f.readUInt32LE(8);
    const signal = f.readUInt32LE(12);
    const outLen = f.readUInt32LE(20);
    const errLen = f.readUInt32LE(24);
    p.done({
      kind: "exited",
      exitCode: code === NO_EXIT_CODE ? undefined : code,
      signal: signal === 0 ? undefined : (SIGNAL_NAMES.get(signal) ?? `signal ${signal}`),
      overflow: f.readUInt32LE(16) !== 0,
      stdout: f.toString("utf8", 28, 28 + outLen),
      stderr: f.toString("utf8", 28 + outLen, 28 + outLen + errLen),
    });
  };

  const ensure = (): ChildProcess => {
    if (child) return child;
    const c = spawn(helper, ["--serve"], { stdio: ["pipe", "pipe", "inherit"] });
    c.stdout?.on("data", onData);
    c.on("error", (err) => {
      if (child === c) lost(`cannot run: ${err.message}`);
    });
    c.on("exit", (code, signal) => {
      if (child === c) lost(`ended (${signal ?? `exit code ${code}`})`);
    });
    c.stdin?.on("error", () => undefined); // its end is reported by "exit"
    child = c;
    return c;
  };

  // An idle helper is no reason for this process to stay alive (it ends with its stdin); a run
  // in flight is, as a child of this process would be.
  const hold = (c: ChildProcess): void => {
    const handles = [c, c.stdout as unknown as { ref(): void; unref(): void }];
    for (const h of handles)
      if (pending.size > 0) h.ref();
      else h.unref();
  };

  return {
    run: (argv, env, stdin, onStart) =>
      new Promise((done, fail) => {
        const c = ensure();
        const id = nextId;
        nextId = nextId === 0xffffffff ? 1 : nextId + 1;
        pending.set(id, { onStart, done, fail });
        hold(c);
        c.stdin?.write(encodeRequest(id, argv, env, stdin));
      }),
    close: () => {
      const c = child;
      child = undefined;
      c?.stdin?.end();
    },
  };
}

function encodeRequest(id: number, argv: readonly string[], env: Readonly<Record<string, string>>, stdin: string) {
  const strings = [...argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].map((s) => `${s}\0`).join("");
  const stringBytes = Buffer.byteLength(strings);
  const stdinBytes = Buffer.byteLength(stdin);
  const out = Buffer.alloc(20 + stringBytes + stdinBytes);
  out.writeUInt32LE(16 + stringBytes + stdinBytes, 0);
  out.writeUInt32LE(id, 4);
  out.writeUInt32LE(argv.length, 8);
  out.writeUInt32LE(Object.keys(env).length, 12);
  out.writeUInt32LE(stdinBytes, 16);
  out.write(strings, 20);
  out.write(stdin, 20 + stringBytes);
  return out;
}
