// The throwaway "node" containerd runs on: new PID, mount and network namespaces, with
// node-init (test/e2e/fixtures/node-init) as PID 1.
//
// Why: everything containerd leaves behind then belongs to namespaces that die with it.
//   - PID: shims and pause processes daemonize away from containerd; PID 1's exit makes the
//     kernel SIGKILL all of them.
//   - mount: overlay rootfs mounts, the pod netns bind mounts, and the private bind mounts over
//     /run/containerd (shim sockets, runc state) and /var/lib/cni (libcni's result cache) are
//     never visible on the host and vanish with the last process.
//   - network: the bridge plugin creates its bridge and veth host ends in the namespace
//     containerd runs in; here that is the node's, gone with it.
// Lifetime is tied to the test process: `setpriv --pdeathsig KILL` kills unshare when the test
// process dies (even by SIGKILL), and `unshare --kill-child` kills PID 1 when unshare dies.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { runCommand, type CommandResult, type RunOptions } from "./run-command.js";

export interface NodeExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface NodeNamespaces {
  /** Host pid of unshare, our child. */
  readonly unsharePid: number;
  /** Host pid of PID 1 in the node (node-init). `nsenter -t <initPid> -m -n` enters the node. */
  readonly initPid: number;
  /** Settles when the node is gone (unshare exited). */
  readonly exited: Promise<NodeExit>;
  isRunning(): boolean;
  /** Runs a command in the node's mount, network and PID namespaces (so /proc is the node's). */
  exec(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** SIGTERM to the node's main process (via PID 1), then SIGKILL after `graceMs`. */
  terminate(graceMs: number): Promise<NodeExit>;
}

export interface SpawnNodeOptions {
  readonly initBinary: string;
  /** argv run by PID 1 inside the namespaces (typically `/bin/sh <script>`). */
  readonly command: readonly string[];
  /** fd (opened for append) receiving the node's stdout and stderr. */
  readonly logFd: number;
  readonly env: NodeJS.ProcessEnv;
}

export async function spawnNode(options: SpawnNodeOptions): Promise<NodeNamespaces> {
  const argv = [
    "--pdeathsig",
    "KILL",
    "unshare",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount",
    "--net",
    "--propagation",
    "private",
    "--mount-proc",
    "--",
    options.initBinary,
    ...options.command,
  ];
  // cwd "/" as under a service manager: plugins inherit containerd's cwd (and PWD).
  const child = spawn("setpriv", argv, { cwd: "/", stdio: ["ignore", options.logFd, options.logFd], env: options.env });
  let running = true;
  const exited = new Promise<NodeExit>((resolve) => {
    child.on("exit", (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
    child.on("error", () => {
      running = false;
      resolve({ code: null, signal: null });
    });
  });
  const unsharePid = child.pid;
  if (unsharePid === undefined) throw new Error(`cannot spawn setpriv ${argv.join(" ")}`);
  const initPid = await firstChild(unsharePid, () => running);

  const exec = (cmd: readonly string[], opts?: RunOptions) =>
    runCommand(["nsenter", "-t", String(initPid), "-m", "-n", "-p", "--", ...cmd], opts);

  async function terminate(graceMs: number): Promise<NodeExit> {
    if (running) {
      try {
        process.kill(initPid, "SIGTERM");
      } catch {
        // PID 1 already gone; unshare follows.
      }
      const done = await Promise.race([exited, sleep(graceMs).then(() => undefined)]);
      if (done !== undefined) return done;
      // unshare dies, --kill-child kills PID 1, the kernel kills the rest of the node.
      child.kill("SIGKILL");
    }
    return exited;
  }

  return { unsharePid, initPid, exited, isRunning: () => running, exec, terminate };
}

/** unshare --fork's only child is PID 1 of the new namespace. */
async function firstChild(pid: number, alive: () => boolean): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && alive()) {
    try {
      const first = (await readFile(`/proc/${pid}/task/${pid}/children`, "utf8")).trim().split(" ")[0];
      if (first !== undefined && first !== "") return Number(first);
    } catch {
      // unshare not there yet, or gone (alive() says which)
    }
    await sleep(5);
  }
  throw new Error(`unshare (pid ${pid}) ${alive() ? "forked no child within 10 s" : "exited before forking the node"}`);
}
