// startContainerd(): a real containerd (1.6 + runc) with the CRI plugin, on a throwaway node
// (node-namespaces.ts), configured so a test can install CNI plugins and configs into dirs it
// controls, run pod sandboxes through CRI and look at the result. stop() leaves nothing behind.
import { copyFile, mkdir, mkdtemp, open, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { renderContainerdConfig } from "./containerd-config.js";
import { cleanupRun, makeHandle } from "./containerd-handle.js";
import { connectCri, type CriClient } from "./cri-client.js";
import { spawnNode, type NodeNamespaces } from "./node-namespaces.js";
import { buildPauseImage, type PauseImage } from "./pause-image.js";
import { runCommand, type CommandResult, type RunOptions } from "./run-command.js";
import { ensureHostMountPoint, RUN_DIR_PREFIX, sweepStaleRuns, writeOwner } from "./run-registry.js";
import { buildStaticBinary, fixturePath } from "./static-binary.js";

export interface ContainerdOptions {
  /** CNI bin_dir. Default: `<runDir>/cni/bin`. `loopback` is copied in when missing. */
  readonly cniBinDir?: string;
  /** CNI conf_dir; may start empty, containerd watches it. Default: `<runDir>/cni/net.d`. */
  readonly cniConfDir?: string;
  /** Plugins to copy from `cniPluginSource` into the bin dir before start. Default: none. */
  readonly cniPlugins?: readonly string[];
  /** Default: /usr/lib/cni (Debian's containernetworking-plugins). */
  readonly cniPluginSource?: string;
  /** containerd's CNI max_conf_num. Default 1, containerd's own default. */
  readonly cniMaxConfNum?: number;
  readonly snapshotter?: "overlayfs" | "native";
  readonly logLevel?: "debug" | "info" | "warn" | "error";
  /**
   * Extra environment for containerd, and so for every CNI plugin it runs. The base is the
   * small env a service manager gives containerd (PATH only), not the test's env.
   */
  readonly env?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
  /**
   * The node sees the paths a real node has: the CNI dirs at /etc/cni/net.d and /opt/cni/bin
   * (bind mounts of cniConfDir and cniBinDir), its own /run, and a shared root mount, so that a
   * DaemonSet's hostPath volumes work as written (mount propagation included). All node-private:
   * an overlay over /etc and tmpfs over /opt and /run inside the node's mount namespace; the
   * host's own dirs are never written.
   */
  readonly hostCniPaths?: boolean;
}

export interface ContainerdPaths {
  readonly runDir: string;
  readonly root: string;
  readonly state: string;
  readonly socket: string;
  readonly config: string;
  readonly log: string;
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  /** Host dir mounted over /var/lib/cni in the node: libcni's cache is `<this>/results`. */
  readonly varLibCni: string;
  /** Host dir mounted over /run/containerd in the node: shim sockets are `<this>/s`. */
  readonly runContainerd: string;
  /** Where containerd pins pod network namespaces (a path inside the node's mount namespace). */
  readonly netnsDir: string;
}

export interface ContainerdTimings {
  /** From spawning the node to the CRI socket answering Version. */
  readonly startMs: number;
  /** Importing the pause image and seeing it through CRI ImageStatus. */
  readonly imageImportMs: number;
}

export interface ContainerdHandle {
  /** Unique per run (also the run dir's name and the cgroup parent), e.g. "pxe2e-Ab3xYz". */
  readonly runId: string;
  /** A short per-run prefix for names the kernel limits to 15 bytes (bridges), e.g. "pxAb3xYz". */
  readonly prefix: string;
  readonly paths: ContainerdPaths;
  readonly pauseImage: string;
  /** cgroup_parent given to every sandbox run through `cri` (removed at stop). */
  readonly cgroupParent: string;
  /** CRI client whose runPodSandbox fills in the harness's cgroup parent and DNS defaults. */
  readonly cri: CriClient;
  readonly node: NodeNamespaces;
  readonly timings: ContainerdTimings;
  /** Runs a command inside the node (its mount, network and PID namespaces). */
  execInNode(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** containerd's log so far (stdout and stderr). */
  logs(): Promise<string>;
  /**
   * Polls CRI Status until NetworkReady and, if given, `networkName` is among the loaded
   * networks. containerd 1.6 watches conf_dir (fsnotify) and reloads on every change, a few
   * ms later: call this after writing a conf file and before RunPodSandbox.
   */
  waitForNetworkReady(options?: { readonly networkName?: string; readonly timeoutMs?: number }): Promise<void>;
  /**
   * Makes 127.0.0.1:<nodePort> inside the node (default: the same port number) reach
   * 127.0.0.1:<hostPort> of the test process's network namespace. Returns the node port.
   * Closed by stop().
   */
  forwardToHost(hostPort: number, nodePort?: number): Promise<number>;
  /**
   * Stops and removes every sandbox (so CNI DEL runs), stops containerd, kills what is left in
   * the node, removes the run's cgroups and run dir. Idempotent; never throws for cleanup
   * trouble it can work around, but reports what it could not remove.
   */
  stop(options?: { readonly removeSandboxes?: boolean; readonly keepRunDir?: boolean }): Promise<StopReport>;
}

export interface StopReport {
  readonly sandboxErrors: readonly string[];
  readonly leftoverCgroups: readonly string[];
}

const NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export async function startContainerd(options: ContainerdOptions = {}): Promise<ContainerdHandle> {
  await sweepStaleRuns();
  const [image, initBinary] = await Promise.all([
    buildPauseImage(),
    buildStaticBinary(fixturePath("node-init", "node-init.c"), "node-init"),
  ]);
  const runDir = await mkdtemp(join(tmpdir(), RUN_DIR_PREFIX));
  const runId = basename(runDir);
  const cgroupParent = `/${runId}`;
  let node: NodeNamespaces | undefined;
  let cri: CriClient | undefined;
  try {
    await writeOwner(runDir, cgroupParent);
    const paths = await prepareRun(runDir, image, options);
    const t0 = performance.now();
    node = await spawnContainerdNode(paths, initBinary, options);
    await waitForCri(paths.socket, node, options.startTimeoutMs ?? 30_000);
    const startMs = performance.now() - t0;
    cri = connectCri(paths.socket);
    const t1 = performance.now();
    await importImage(paths.socket, image, cri);
    const timings = { startMs, imageImportMs: performance.now() - t1 };
    const logs = () => readFile(paths.log, "utf8").catch(() => "");
    return makeHandle({ runId, paths, pauseImage: image.name, cgroupParent, cri, node, timings, logs });
  } catch (err) {
    cri?.close();
    await node?.terminate(2_000);
    const log = await readFile(join(runDir, "containerd.log"), "utf8").catch(() => "(no log)");
    await cleanupRun(runDir, cgroupParent, false);
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`containerd did not start: ${message}\n--- containerd log (tail) ---\n${tail(log, 60)}`, {
      cause: err,
    });
  }
}

async function prepareRun(runDir: string, image: PauseImage, options: ContainerdOptions): Promise<ContainerdPaths> {
  const paths = await prepareDirs(runDir, options);
  await installCniPlugins(paths.cniBinDir, ["loopback", ...(options.cniPlugins ?? [])], options.cniPluginSource, false);
  // One after the other: both update the same marker file.
  for (const dir of ["/run/containerd", "/var/lib/cni"]) await ensureHostMountPoint(dir);
  const config = renderContainerdConfig({
    root: paths.root,
    state: paths.state,
    temp: join(runDir, "tmp"),
    socket: paths.socket,
    sandboxImage: image.name,
    cniBinDir: paths.cniBinDir,
    cniConfDir: paths.cniConfDir,
    cniMaxConfNum: options.cniMaxConfNum ?? 1,
    snapshotter: options.snapshotter ?? "overlayfs",
    logLevel: options.logLevel ?? "info",
  });
  await writeFile(paths.config, config);
  if (options.hostCniPaths) {
    for (const dir of ["etc-upper", "etc-work"]) await mkdir(join(runDir, dir));
  }
  await writeFile(join(runDir, "node.sh"), nodeScript(paths, options.hostCniPaths ?? false));
  return paths;
}

async function spawnContainerdNode(
  paths: ContainerdPaths,
  initBinary: string,
  options: ContainerdOptions,
): Promise<NodeNamespaces> {
  const log = await open(paths.log, "a");
  try {
    return await spawnNode({
      initBinary,
      command: ["/bin/sh", join(paths.runDir, "node.sh")],
      logFd: log.fd,
      env: { PATH: NODE_PATH, ...options.env },
    });
  } finally {
    // The child has its own copy of the fd.
    await log.close();
  }
}

/** Copies CNI plugin binaries into `binDir` (from /usr/lib/cni by default). */
export async function installCniPlugins(
  binDir: string,
  names: readonly string[],
  source = "/usr/lib/cni",
  overwrite = true,
): Promise<void> {
  await mkdir(binDir, { recursive: true });
  for (const name of names) {
    const target = join(binDir, name);
    if (!overwrite && (await exists(target))) continue;
    await copyFile(join(source, name), target);
  }
}

async function prepareDirs(runDir: string, options: ContainerdOptions): Promise<ContainerdPaths> {
  const state = join(runDir, "state");
  const paths: ContainerdPaths = {
    runDir,
    root: join(runDir, "root"),
    state,
    socket: join(runDir, "containerd.sock"),
    config: join(runDir, "config.toml"),
    log: join(runDir, "containerd.log"),
    cniBinDir: options.cniBinDir ?? join(runDir, "cni", "bin"),
    cniConfDir: options.cniConfDir ?? join(runDir, "cni", "net.d"),
    varLibCni: join(runDir, "var-lib-cni"),
    runContainerd: join(runDir, "run-containerd"),
    netnsDir: join(state, "io.containerd.grpc.v1.cri", "netns"),
  };
  for (const dir of [
    paths.root,
    paths.state,
    paths.cniBinDir,
    paths.cniConfDir,
    paths.varLibCni,
    paths.runContainerd,
    join(runDir, "tmp"),
  ]) {
    await mkdir(dir, { recursive: true });
  }
  return paths;
}

/** PID 2 of the node: private mounts over the host paths containerd 1.6 hard-codes, then containerd. */
function nodeScript(paths: ContainerdPaths, hostCniPaths: boolean): string {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  // A real node's root is shared (systemd makes it so): HostToContainer mounts need it. These
  // peer groups are the node's own (unshare made every mount private first).
  const hostPaths = `mount --make-rshared /
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/containerd
mount -t overlay overlay -o ${q(`lowerdir=/etc,upperdir=${paths.runDir}/etc-upper,workdir=${paths.runDir}/etc-work`)} /etc
mkdir -p /etc/cni/net.d
mount --bind ${q(paths.cniConfDir)} /etc/cni/net.d
mount -t tmpfs -o mode=0755 tmpfs /opt
mkdir -p /opt/cni/bin
mount --bind ${q(paths.cniBinDir)} /opt/cni/bin
`;
  return `set -eu
${hostCniPaths ? hostPaths : ""}mount --bind ${q(paths.runContainerd)} /run/containerd
mount --bind ${q(paths.varLibCni)} /var/lib/cni
ip link set lo up
exec containerd --config ${q(paths.config)}
`;
}

async function waitForCri(socket: string, node: NodeNamespaces, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (!node.isRunning()) throw new Error(`containerd exited: ${JSON.stringify(await node.exited)}`);
    if (await exists(socket)) {
      // A fresh client per probe: grpc-js backs off for a second after a refused connect.
      const probe = connectCri(socket, { timeoutMs: 2_000 });
      try {
        await probe.version();
        return;
      } catch (err) {
        last = err;
      } finally {
        probe.close();
      }
    }
    await sleep(10);
  }
  throw new Error(
    `CRI did not answer Version within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ""}`,
  );
}

async function importImage(socket: string, image: PauseImage, cri: CriClient): Promise<void> {
  const { name, tarPath } = image;
  await runCommand(["ctr", "--address", socket, "--namespace", "k8s.io", "images", "import", tarPath]);
  // The CRI plugin learns about images from containerd events, asynchronously; RunPodSandbox
  // would try to pull (and fail: no registry) if it ran first.
  const deadline = Date.now() + 10_000;
  while ((await cri.imageStatus(name)) === null) {
    if (Date.now() > deadline) throw new Error(`CRI does not see the imported image ${name}`);
    await sleep(10);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}
