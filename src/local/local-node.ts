// `plexus local`: a one-node Kubernetes on any Linux box, so Plexus runs without a cluster
// (the demo, experiments, debugging). It starts the local API server, a node network namespace
// (node-netns.ts), an API forwarder into it (forward.ts), installs Plexus into the node's CNI
// dirs with the real installer (`plexus install --once`) around whatever primary network is
// there, and runs the node simulator (node-simulator.ts). Use it with the real kubectl. In daemon
// mode (the default) it installs the shim and runs `plexus daemon` in the node namespace, as a
// node of the DaemonSet in deploy/ would.

import { access, mkdir, open, readdir, symlink, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { resolveInstallOptions } from "../config/install-options.js";
import { installNode, type ImportKubeClient } from "../install/node-commands.js";
import { candidateConfFiles, nodeConfDirReader } from "../runtime/conf-files.js";
import type { Logger } from "../log/logger.js";
import { createRuntime } from "../runtime/runtime.js";
import { startLocalApiServer, type LocalApiServer } from "./api-server.js";
import { startForwarder, type Forwarder } from "./forward.js";
import { createNodeNetns, deleteNetnsWithPrefix, deleteNodeNetns } from "./node-netns.js";
import { startNodeSimulator, type NodeSimulator } from "./node-simulator.js";

export interface LocalNodeOptions {
  readonly stateDir: string;
  readonly port: number;
  readonly nodeName: string;
  /**
   * Default <stateDir>/net.d. A primary network config is expected there (a default one is written
   * when it is empty).
   */
  readonly confDir?: string;
  /** Default <stateDir>/bin, filled with the reference plugins and plexus. */
  readonly binDir?: string;
  readonly referencePluginDir: string;
  readonly crdDir: string;
  /** The plexus executable and the argv prefix that runs it (SEA: [execPath]; dev: [node, plexus.cjs]). */
  readonly self: { readonly executable: string | undefined; readonly argv: readonly string[] };
  /** How the installer loads the Kubernetes client (the executable carries it as an asset). */
  readonly importKubeClient: ImportKubeClient;
  readonly log: Logger;
  /** daemon (default): the shim and `plexus daemon`; thin: the plexus executable per call. */
  readonly mode?: "daemon" | "thin";
}

export interface LocalNode {
  readonly api: LocalApiServer;
  readonly kubeconfig: string;
  readonly confDir: string;
  readonly binDir: string;
  readonly nodeNetns: string;
  readonly simulator: NodeSimulator;
  readonly mode: "daemon" | "thin";
  /** The daemon's socket in daemon mode. */
  readonly socket: string | undefined;
  stop(): Promise<void>;
}

/** A primary for a bare `plexus local`: bridge + host-local in 198.18.0.0/24, and portmap. */
function defaultPrimary(stateDir: string): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    name: "local-bridge",
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipMasq: false,
        ipam: {
          type: "host-local",
          dataDir: join(stateDir, "ipam"),
          ranges: [[{ subnet: "198.18.0.0/24" }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

export async function startLocalNode(o: LocalNodeOptions): Promise<LocalNode> {
  const stateDir = resolve(o.stateDir);
  const confDir = resolve(o.confDir ?? join(stateDir, "net.d"));
  const binDir = resolve(o.binDir ?? join(stateDir, "bin"));
  const kubeconfig = join(stateDir, "kubeconfig");
  const nodeNetns = `plexus-${o.nodeName}`;
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse())
      await c().catch((err: unknown) => o.log.warn({ err: String(err) }, "cleanup step failed"));
    cleanups.length = 0;
  };
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await deleteNetnsWithPrefix(nodeNetns);
    const api = await startLocalApiServer({
      port: o.port,
      crdDir: o.crdDir,
      stateFile: join(stateDir, "api-state.json"),
    });
    cleanups.push(() => api.stop());
    await api.writeKubeconfig(kubeconfig);
    await createNodeNetns(nodeNetns);
    cleanups.push(() => deleteNodeNetns(nodeNetns));
    const apiSocket = join(stateDir, "api.sock");
    const hostSide: Forwarder = await startForwarder({ path: apiSocket }, { host: "127.0.0.1", port: api.port });
    cleanups.push(() => hostSide.close());
    const nodeSide = await startNetnsForwarder({
      netns: nodeNetns,
      self: o.self.argv,
      port: api.port,
      socket: apiSocket,
    });
    cleanups.push(async () => void nodeSide.kill("SIGTERM"));
    await prepareBinDir(binDir, o.referencePluginDir);
    await prepareConfDir(confDir, stateDir);
    const mode = o.mode ?? "daemon";
    await installPlexus(o, api, { confDir, binDir, stateDir, mode });
    let socket: string | undefined;
    if (mode === "daemon") {
      socket = join(stateDir, "run", "plexus.sock");
      const daemon = await superviseNodeDaemon({ o, nodeNetns, stateDir, socket });
      cleanups.push(() => daemon.stop());
    }
    const runtime = createRuntime({
      binDirs: [binDir],
      // What the runtime gives its plugins; the shim finds the daemon's socket by PLEXUS_SOCKET.
      env: {
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ...(socket ? { PLEXUS_SOCKET: socket } : {}),
      },
      wrap: (argv) => ["ip", "netns", "exec", nodeNetns, ...argv],
      onStderr: (type, text) => o.log.debug({ plugin: type, stderr: text.slice(0, 2000) }, "plugin stderr"),
    });
    const simulator = startNodeSimulator({
      store: api.store,
      runtime,
      nodeName: o.nodeName,
      confDir,
      netnsPrefix: `${nodeNetns}-pod`,
      log: o.log,
    });
    cleanups.push(() => simulator.stop());
    cleanups.push(() => deleteNetnsWithPrefix(`${nodeNetns}-pod`));
    return { api, kubeconfig, confDir, binDir, nodeNetns, simulator, mode, socket, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * `plexus local forward` inside a network namespace: 127.0.0.1:port there reaches the unix
 * socket (and through it the API server listening here). Resolves once it listens.
 */
export async function startNetnsForwarder(o: {
  netns: string;
  self: readonly string[];
  port: number;
  socket: string;
}): Promise<ChildProcess> {
  const argv = [
    "netns",
    "exec",
    o.netns,
    ...o.self,
    "local",
    "forward",
    "--listen",
    `127.0.0.1:${o.port}`,
    "--to",
    o.socket,
  ];
  const child = spawn("ip", argv, { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("the node namespace's API forwarder did not start in 10 s")), 10_000);
    child.stdout?.once("data", () => {
      clearTimeout(timer);
      ok();
    });
    child.once("exit", (code) => fail(new Error(`the node namespace's API forwarder exited (${code})`)));
  });
  return child;
}

/** The reference plugins (linked) plus whatever is already there (a stand-in primary, say). */
async function prepareBinDir(binDir: string, referenceDir: string): Promise<void> {
  await mkdir(binDir, { recursive: true });
  const have = new Set(await readdir(binDir));
  for (const name of await readdir(referenceDir)) {
    if (!have.has(name)) await symlink(join(referenceDir, name), join(binDir, name));
  }
}

async function prepareConfDir(confDir: string, stateDir: string): Promise<void> {
  await mkdir(confDir, { recursive: true });
  if (candidateConfFiles(await nodeConfDirReader.list(confDir)).length === 0)
    await writeFile(
      join(confDir, "10-local-bridge.conflist"),
      `${JSON.stringify(defaultPrimary(stateDir), null, 2)}\n`,
    );
}

/**
 * The real installer, once, as the DaemonSet runs it: the node's paths, and a service account
 * (token, CA and the API address in the environment, as a pod has them) for the local API.
 */
async function installPlexus(
  o: LocalNodeOptions,
  api: LocalApiServer,
  dirs: { confDir: string; binDir: string; stateDir: string; mode: "daemon" | "thin" },
): Promise<void> {
  const serviceAccount = join(dirs.stateDir, "serviceaccount");
  await mkdir(serviceAccount, { recursive: true, mode: 0o700 });
  await writeFile(join(serviceAccount, "token"), api.token, { mode: 0o600 });
  await writeFile(join(serviceAccount, "ca.crt"), api.caCertPem ?? "");
  await writeFile(join(serviceAccount, "namespace"), "kube-system");
  const optionsFile = join(dirs.stateDir, "install.json");
  const optionsText = JSON.stringify({
    plugin: { logLevel: "info", logFile: join(dirs.stateDir, "plexus.log"), logToStderr: false },
  });
  await writeFile(optionsFile, optionsText);
  const options = resolveInstallOptions(
    {
      once: true,
      config: optionsFile,
      "cni-conf-dir": dirs.confDir,
      "cni-bin-dir": dirs.binDir,
      "state-dir": join(dirs.stateDir, "cni"),
      kubeconfig: join(dirs.stateDir, "plexus.kubeconfig"),
      "service-account-dir": serviceAccount,
      "log-level": "warn",
      mode: dirs.mode,
      ...(o.self.executable ? { "plexus-binary": o.self.executable } : { "skip-binary-copy": true }),
    },
    optionsText,
  );
  const out: string[] = [];
  const code = await installNode(options, {
    env: { KUBERNETES_SERVICE_HOST: api.host, KUBERNETES_SERVICE_PORT: String(api.port) },
    stdout: (t) => out.push(t),
    stderr: (t) => out.push(t),
    ownExecutable: o.self.executable,
    signal: new AbortController().signal,
    importKubeClient: o.importKubeClient,
  }).catch((err: unknown) => {
    out.push(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  });
  if (code !== 0) throw new Error(`installing Plexus into ${dirs.confDir} failed:\n${out.join("")}`);
  if (!o.self.executable)
    await access(join(dirs.binDir, "plexus")).catch(() => {
      throw new Error(
        `${join(dirs.binDir, "plexus")} is missing: run plexus local from the built executable (dist/plexus)`,
      );
    });
}

/**
 * The daemon, restarted when it exits, as the kubelet restarts a DaemonSet's container: one
 * second after it died, for as long as the node runs. Its pid is in <stateDir>/run/daemon.pid
 * (tests stop and kill it to see what a restart does, e.g. hot-plug converging).
 */
async function superviseNodeDaemon(p: {
  o: LocalNodeOptions;
  nodeNetns: string;
  stateDir: string;
  socket: string;
}): Promise<{ stop(): Promise<void> }> {
  const pidFile = join(p.stateDir, "run", "daemon.pid");
  let stopping = false;
  let child = await startNodeDaemon(p);
  let restart: NodeJS.Timeout | undefined;
  const watch = (c: ChildProcess): void => {
    void writeFile(pidFile, `${c.pid ?? ""}\n`).catch(() => undefined);
    c.once("exit", (code, signal) => {
      if (stopping) return;
      p.o.log.warn({ code, signal }, "plexus daemon exited: restarting it in 1 s");
      restart = setTimeout(() => {
        if (stopping) return;
        startNodeDaemon(p).then(
          (next) => {
            child = next;
            if (stopping) void stopProcess(next);
            else watch(next);
          },
          (err: unknown) => p.o.log.error({ err: String(err) }, "plexus daemon did not restart"),
        );
      }, 1000);
    });
  };
  watch(child);
  return {
    async stop() {
      stopping = true;
      clearTimeout(restart);
      await stopProcess(child);
    },
  };
}

/**
 * `plexus daemon` in the node namespace, with the plugin's kubeconfig (the API is reachable there
 * through the forwarder) and its log in <stateDir>/daemon.log. Resolves once it serves.
 */
async function startNodeDaemon(p: {
  o: LocalNodeOptions;
  nodeNetns: string;
  stateDir: string;
  socket: string;
}): Promise<ChildProcess> {
  const logFile = await open(join(p.stateDir, "daemon.log"), "a", 0o600);
  const argv = [
    "netns",
    "exec",
    p.nodeNetns,
    ...p.o.self.argv,
    "daemon",
    "--socket",
    p.socket,
    "--kubeconfig",
    join(p.stateDir, "plexus.kubeconfig"),
    "--node-name",
    p.o.nodeName,
    // Where `plexus install` pointed the conflist's cniDir: the sandboxes hot-plug looks after.
    "--state-dir",
    join(p.stateDir, "cni"),
  ];
  const child = spawn("ip", argv, { stdio: ["ignore", logFile.fd, logFile.fd] });
  await logFile.close();
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  for (let waited = 0; ; waited += 50) {
    if (await connects(p.socket)) return child;
    if (child.exitCode !== null || waited > 20_000) {
      child.kill("SIGKILL");
      throw new Error(`plexus daemon did not start (exit ${await exited}): see ${join(p.stateDir, "daemon.log")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function connects(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** SIGTERM (the daemon finishes what it runs, then exits), SIGKILL after 10 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The CRD directory: next to the executable (<repo>/dist/plexus -> <repo>/crds), or the working directory's. */
export async function findCrdDir(executable: string, explicit?: string): Promise<string> {
  const candidates = [explicit, resolve(dirname(executable), "../crds"), resolve("crds")].filter((c): c is string =>
    Boolean(c),
  );
  for (const c of candidates)
    if (
      await access(c).then(
        () => true,
        () => false,
      )
    )
      return c;
  throw new Error(`no crds/ directory found (tried ${candidates.join(", ")}): pass --crd-dir`);
}
