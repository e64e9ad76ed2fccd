// The per-container lock: the commands for one container (ADD, DEL, CHECK, and GC's teardown of
// it) run one at a time, across every process that uses the same state directory: thin-mode
// plexus processes and the daemon alike. Without it a DEL that arrives while ADD runs finds no
// state yet, and ADD then adds what nobody will ever delete (docs/state.md "Locks").
//
// The lock is a Linux abstract unix socket, bound under a name made of the state directory's
// identity (device and inode: the same whatever path a process reaches it by) and the container
// ID. Binding is exclusive and the kernel releases the name when its holder exits, however it
// exits (SIGKILL included): no lock outlives a dead holder, and nobody has to decide that a
// holder is dead in order to break its lock (with an O_EXCL lock file two breakers can each
// remove the other's fresh lock). Waiters connect to the holder's socket and wake up when it
// closes. Abstract names belong to a network namespace: every Plexus process of a node runs in
// the node's own namespace, as it must anyway (delegates create host-side links there, CNI SPEC
// §2 "the runtime's network namespace").
//
// Beside the socket, the holder keeps a record, <state>/.locks/<containerId> (its pid and process
// start time), for as long as it holds the lock. Finding that record when taking the lock means
// the previous holder died holding it: delegates it started may still be running (they run in
// process groups of their own), and the caller must stop them first (`interrupted`). A record
// whose process is alive belongs to a holder in another network namespace (a misconfiguration):
// it is waited for like the lock itself.

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { CniError, ErrorCode } from "../cni/error.js";
import { createExclusive, ensureDir, overwriteFile, readStateFile, removeFile } from "./state-files.js";

export interface ContainerLock {
  /**
   * Identifies this command's processes: delegates started under the lock carry it in their
   * environment (PLEXUS_OWNER), so that a later command can find the ones a killed holder left.
   */
  readonly owner: string;
  /** The previous holder died holding the lock: its delegates may still be running. */
  readonly interrupted: LockHolder | undefined;
  /** Idempotent. */
  release(): Promise<void>;
}

export interface LockHolder {
  readonly pid: number;
  /** /proc/<pid>/stat field 22: tells a process from a later one that reuses its pid. */
  readonly startTime: string;
  readonly since: string;
}

export interface LockOptions {
  readonly signal: AbortSignal;
  /** How long to wait for another command's lock before failing with code 11 (try again). */
  readonly timeoutMs: number;
  /** Called once when the lock is busy, with its holder when known (for the log). */
  readonly onWait?: ((holder: LockHolder | undefined) => void) | undefined;
}

const HolderSchema = z.object({ pid: z.number().int().positive(), startTime: z.string(), since: z.string() });
const MAX_RECORD_BYTES = 4096;
/** Upper bound between two attempts when no wake-up comes (e.g. a holder in another namespace). */
const MAX_WAIT_SLICE_MS = 1000;
const RECORD_POLL_MS = 50;

/** The owner token of a container in a state directory (`stateIdentity`: its device and inode). */
export function lockOwner(stateIdentity: string, containerId: string): string {
  return createHash("sha256").update(`plexus-lock\0${stateIdentity}\0${containerId}`).digest("hex").slice(0, 32);
}

export interface LockRequest {
  readonly locksDir: string;
  readonly stateIdentity: string;
  readonly containerId: string;
  readonly now: () => Date;
}

/** Takes the container's lock, waiting up to `timeoutMs`. */
export async function lockContainer(req: LockRequest, options: LockOptions): Promise<ContainerLock> {
  const owner = lockOwner(req.stateIdentity, req.containerId);
  const deadline = Date.now() + options.timeoutMs;
  const record = join(req.locksDir, req.containerId);
  let reported = false;
  for (;;) {
    if (options.signal.aborted) throw cancelled(req.containerId, options.signal);
    const server = await bindName(socketName(owner));
    if (server) {
      try {
        const taken = await takeRecord(req, record, deadline, options.signal);
        if (taken) return held(owner, server, record, taken.interrupted);
      } catch (err) {
        closeServer(server);
        throw err;
      }
      closeServer(server); // the record's holder (another namespace) outlived the deadline
      throw busy(req.containerId, await readHolder(record), options.timeoutMs);
    }
    if (!reported) {
      reported = true;
      options.onWait?.(await readHolder(record));
    }
    const left = deadline - Date.now();
    if (left <= 0) throw busy(req.containerId, await readHolder(record), options.timeoutMs);
    await waitForRelease(socketName(owner), Math.min(left, MAX_WAIT_SLICE_MS), options.signal, req.containerId);
  }
}

/** One attempt, for GC: undefined when another command holds the lock. */
export async function tryLockContainer(req: LockRequest): Promise<ContainerLock | undefined> {
  const owner = lockOwner(req.stateIdentity, req.containerId);
  const server = await bindName(socketName(owner));
  if (!server) return undefined;
  const record = join(req.locksDir, req.containerId);
  try {
    const taken = await takeRecord(req, record, Date.now(), new AbortController().signal);
    if (taken) return held(owner, server, record, taken.interrupted);
  } catch (err) {
    closeServer(server);
    throw err;
  }
  closeServer(server);
  return undefined;
}

function socketName(owner: string): string {
  return `\0plexus-lock/${owner}`;
}

/** A bound name and the waiters connected to it. */
interface Bound {
  readonly server: Server;
  readonly waiters: Set<Socket>;
}

/** Binds the abstract name; undefined when another process (or this one) has it. */
function bindName(name: string): Promise<Bound | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    const waiters = new Set<Socket>();
    server.on("connection", (s) => {
      waiters.add(s);
      s.on("error", () => undefined);
      s.on("close", () => waiters.delete(s));
      s.unref();
    });
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") resolve(undefined);
      else reject(err);
    });
    server.listen({ path: name }, () => {
      server.unref();
      resolve({ server, waiters });
    });
  });
}

function closeServer(bound: Bound): void {
  bound.server.close();
  // Closing the waiters' connections is what wakes them up.
  for (const s of bound.waiters) s.destroy();
}

/** Resolves when the holder's socket closes (or refuses us: released meanwhile), or after `ms`. */
function waitForRelease(name: string, ms: number, signal: AbortSignal, containerId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: name });
    const finish = (err?: Error) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(cancelled(containerId, signal));
    const timer = setTimeout(() => finish(), ms);
    socket.on("error", () => finish());
    socket.on("close", () => finish());
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * With the socket bound: writes this process's record. An existing record means the previous
 * holder died holding the lock (interrupted), unless its process is alive (a holder in another
 * network namespace): then it is waited for until `deadline`, and undefined means it outlived it.
 */
async function takeRecord(
  req: LockRequest,
  record: string,
  deadline: number,
  signal: AbortSignal,
): Promise<{ interrupted: LockHolder | undefined } | undefined> {
  await ensureDir(req.locksDir);
  const mine = JSON.stringify({
    pid: process.pid,
    startTime: (await processStartTime(process.pid)) ?? "",
    since: req.now().toISOString(),
  } satisfies LockHolder);
  for (;;) {
    if (await createExclusive(record, mine)) return { interrupted: undefined };
    const previous = await readHolder(record);
    if (!previous || previous.pid === process.pid || !(await isAlive(previous))) {
      await overwriteFile(record, mine).catch(async () => {
        await removeFile(record);
        if (!(await createExclusive(record, mine))) throw new Error(`cannot take over ${record}`);
      });
      return { interrupted: previous ?? { pid: 0, startTime: "", since: "" } };
    }
    if (Date.now() >= deadline) return undefined;
    if (signal.aborted) throw cancelled(req.containerId, signal);
    await sleep(RECORD_POLL_MS);
  }
}

function held(owner: string, server: Bound, record: string, interrupted: LockHolder | undefined): ContainerLock {
  let released = false;
  return {
    owner,
    interrupted,
    async release() {
      if (released) return;
      released = true;
      // The record goes first: a holder that dies between the two leaves no record, which is right
      // (its command had finished).
      try {
        await removeFile(record);
      } finally {
        closeServer(server);
      }
    },
  };
}

async function readHolder(record: string): Promise<LockHolder | undefined> {
  const read = await readStateFile(record, MAX_RECORD_BYTES).catch(() => undefined);
  if (!read?.ok) return undefined;
  try {
    const parsed = HolderSchema.safeParse(JSON.parse(read.text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function isAlive(holder: LockHolder): Promise<boolean> {
  const start = await processStartTime(holder.pid);
  return start !== undefined && start === holder.startTime;
}

/** Field 22 of /proc/<pid>/stat (after the command name, which may contain spaces and parentheses). */
async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): a zombie has ended.
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

function busy(containerId: string, holder: LockHolder | undefined, timeoutMs: number): CniError {
  const who = holder ? ` (pid ${holder.pid}, since ${holder.since})` : "";
  return new CniError(
    ErrorCode.TryAgainLater,
    `container ${containerId} is busy: another Plexus command for it${who} still runs ` +
      `after ${Math.round(timeoutMs / 1000)} s; try again`,
  );
}

function cancelled(containerId: string, signal: AbortSignal): CniError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return new CniError(
    ErrorCode.Timeout,
    `cancelled (${reason}) while waiting for the lock of container ${containerId}`,
    {
      cause: signal.reason,
    },
  );
}
