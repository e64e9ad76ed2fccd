// Plexus installed on the harness's containerd node the way a cluster has it: the Flannel
// stand-in as the cluster network (its real conflist, a subnet.env as flanneld writes it), the
// reference plugins, and the real node agent (`dist/plexus install --once`, run as a process
// with a pod's in-cluster environment and a service account for the local API server) writing
// 00-plexus.conflist in front of the primary and copying itself into containerd's bin dir.
//
// Paths: everything lives in the harness's run dir (removed by h.stop()). Inside the node,
// /var/lib/cni is the run dir's var-lib-cni, so the stand-in's and host-local's node defaults
// (/var/lib/cni/flannel, /var/lib/cni/networks) land there too. Plexus's state dir is given
// as the host path of that same dir, which is valid on both sides.
//
// The API: plexus runs as containerd's child, in the node's network namespace, where the
// harness forwards 127.0.0.1:<api.port> to the local API server; the kubeconfig names
// https://127.0.0.1:<api.port>, right on both sides (the serving certificate covers 127.0.0.1).
//
// Daemon mode (installPlexus(..., { mode: "daemon" }), the tier's default): the installer puts
// the shim in the bin dir as `plexus` and the executable beside it as `plexus-thin`, and
// startDaemonInNode() runs `dist/plexus daemon` inside the node (its PID, mount and network
// namespaces, so it dies with the node) on a socket containerd's environment names
// (PLEXUS_SOCKET, given to startContainerd). Its log is the plugin log, at debug level.
import { spawn } from "node:child_process";
import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import type { LocalApiServer } from "../../../src/local/api-server.js";
import { plexusBin, repoRoot, requireBuiltPlexus } from "../../support/plexus.js";
import type { ContainerdHandle } from "./containerd.js";
import { runCommand } from "./run-command.js";

/** The Flannel conflist's network name (and so the cluster entry's name in network-status). */
export const FLANNEL_NETWORK = "cbr0";
/** The bridge the Flannel stand-in's delegate creates (flannel's default), in the node's netns. */
export const FLANNEL_BRIDGE = "cni0";
/** What flanneld would write for this node; only 198.18.0.0/15 addresses. */
export const FLANNEL_SUBNET = { network: "198.18.0.0/16", subnet: "198.18.7.1/24", mtu: 1450 } as const;
/** The name the installer gives the generated network (its default). */
export const PLEXUS_NETWORK = "plexus-cni-network";

const NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface PlexusPaths {
  /** <runDir>/plexus: kubeconfig, token copy, service account, install options, logs. */
  readonly dir: string;
  /** Plexus's cniDir (state dir): `<this>/<container id>/<ifName>.json`, `.tombstones/`, `.locks/` (docs/state.md). */
  readonly stateDir: string;
  /** host-local dataDir for the NADs the tests create. */
  readonly ipamDir: string;
  /** host-local's node default (/var/lib/cni/networks in the node): the Flannel delegate's leases. */
  readonly clusterIpamDir: string;
  /** The Flannel stand-in's saved delegate confs (/var/lib/cni/flannel in the node). */
  readonly flannelDataDir: string;
  /** libcni's result cache containerd keeps (/var/lib/cni/results in the node). */
  readonly libcniCacheDir: string;
  /** The plugin's log file (logFile in 00-plexus.conflist). */
  readonly pluginLog: string;
  readonly subnetEnv: string;
}

export function plexusPaths(h: ContainerdHandle): PlexusPaths {
  const dir = join(h.paths.runDir, "plexus");
  return {
    dir,
    stateDir: join(h.paths.varLibCni, "plexus"),
    ipamDir: join(dir, "ipam"),
    clusterIpamDir: join(h.paths.varLibCni, "networks"),
    flannelDataDir: join(h.paths.varLibCni, "flannel"),
    libcniCacheDir: join(h.paths.varLibCni, "results"),
    pluginLog: join(dir, "plexus.log"),
    subnetEnv: join(dir, "subnet.env"),
  };
}

/**
 * The Flannel stand-in as the node's primary network: the plugin in the bin dir, subnet.env,
 * and 10-flannel.conflist from test/fixtures/primaries with `subnetFile` pointing at our
 * subnet.env (the real plugin's conf key; its default is /run/flannel/subnet.env).
 */
export async function installFlannelPrimary(h: ContainerdHandle, paths: PlexusPaths): Promise<void> {
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  // `#!/usr/bin/env node` finds no node on containerd's PATH where node lives elsewhere (a CI
  // runner's tool cache): the copy names the node running the tests.
  const standin = await readFile(join(repoRoot, "test/fixtures/standins/flannel"), "utf8");
  await writeFile(join(h.paths.cniBinDir, "flannel"), standin.replace(/^#!.*\n/, `#!${process.execPath}\n`), {
    mode: 0o755,
  });
  const s = FLANNEL_SUBNET;
  await writeFile(
    paths.subnetEnv,
    `FLANNEL_NETWORK=${s.network}\nFLANNEL_SUBNET=${s.subnet}\nFLANNEL_MTU=${s.mtu}\nFLANNEL_IPMASQ=true\n`,
  );
  const conflist = JSON.parse(
    await readFile(join(repoRoot, "test/fixtures/primaries/10-flannel.conflist"), "utf8"),
  ) as {
    name: string;
    plugins: Record<string, unknown>[];
  };
  const [flannel, ...rest] = conflist.plugins;
  const adjusted = { ...conflist, plugins: [{ ...flannel, subnetFile: paths.subnetEnv }, ...rest] };
  await writeConfAtomically(join(h.paths.cniConfDir, "10-flannel.conflist"), adjusted);
}

/** A conf file as an installer writes one: temp file, then rename (containerd watches the dir). */
export async function writeConfAtomically(path: string, conf: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(conf, null, 2));
  await runCommand(["mv", `${path}.tmp`, path]);
}

export async function removeConf(h: ContainerdHandle, file: string): Promise<void> {
  await rm(join(h.paths.cniConfDir, file), { force: true });
}

export interface PlexusInstall {
  /** Wall time of `plexus install --once`. */
  readonly ms: number;
}

/**
 * `dist/plexus install --once` with a fake service account for the local API server (as
 * src/local/local-node.ts does), then a VERSION call of the installed copy inside the node:
 * a torn or missing executable fails here with a clear message, not in the first sandbox.
 */
export async function installPlexus(
  h: ContainerdHandle,
  api: LocalApiServer,
  paths: PlexusPaths,
  options: { readonly mode?: PlexusMode } = {},
): Promise<PlexusInstall> {
  requireBuiltPlexus();
  const nodePort = await h.forwardToHost(api.port);
  const serviceAccount = join(paths.dir, "serviceaccount");
  await mkdir(serviceAccount, { recursive: true, mode: 0o700 });
  await writeFile(join(serviceAccount, "token"), api.token, { mode: 0o600 });
  await writeFile(join(serviceAccount, "ca.crt"), api.caCertPem ?? "");
  await writeFile(join(serviceAccount, "namespace"), "kube-system");
  const optionsFile = join(paths.dir, "install.json");
  await writeFile(
    optionsFile,
    JSON.stringify({ plugin: { logLevel: "debug", logFile: paths.pluginLog, logToStderr: false } }),
  );
  const t0 = performance.now();
  // prettier-ignore
  await runCommand([
    plexusBin, "install", "--once",
    "--config", optionsFile,
    "--mode", options.mode ?? "thin",
    "--cni-conf-dir", h.paths.cniConfDir,
    "--cni-bin-dir", h.paths.cniBinDir,
    "--state-dir", paths.stateDir,
    "--kubeconfig", join(paths.dir, "plexus.kubeconfig"),
    "--service-account-dir", serviceAccount,
    "--plexus-binary", plexusBin,
    "--log-level", "warn",
  ], { env: { PATH: NODE_PATH, KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(nodePort) }, timeoutMs: 120_000 });
  const ms = performance.now() - t0;
  const version = await h.execInNode(
    ["env", "-i", `PATH=${NODE_PATH}`, "CNI_COMMAND=VERSION", join(h.paths.cniBinDir, "plexus")],
    {
      input: "{}",
      allowFailure: true,
    },
  );
  if (version.code !== 0 || !version.stdout.includes("supportedVersions")) {
    throw new Error(
      `the installed plexus does not answer VERSION in the node ` +
        `(exit ${version.code}): ${version.stdout}${version.stderr}`,
    );
  }
  return { ms };
}

export type PlexusMode = "thin" | "daemon";

/**
 * `dist/plexus daemon` inside the node, as the DaemonSet's daemon container runs on a node: the
 * plugin's kubeconfig, the pods of `nodeName`, its log appended to the plugin log. Resolves once
 * its socket accepts.
 */
export async function startDaemonInNode(
  h: ContainerdHandle,
  paths: PlexusPaths,
  socket: string,
  nodeName: string,
): Promise<void> {
  const log = await open(paths.pluginLog, "a", 0o600);
  // prettier-ignore
  const child = spawn("nsenter", [
    "-t", String(h.node.initPid), "-m", "-n", "-p", "--",
    plexusBin, "daemon",
    "--socket", socket,
    "--kubeconfig", join(paths.dir, "plexus.kubeconfig"),
    "--node-name", nodeName,
    "--log-level", "debug",
  ], { stdio: ["ignore", log.fd, log.fd], env: { PATH: NODE_PATH } });
  await log.close();
  for (let waited = 0; !(await accepts(socket)); waited += 50) {
    if (child.exitCode !== null || waited > 30_000)
      throw new Error(`plexus daemon did not start in the node:\n${await pluginLogTail(paths)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** The plugin's log so far (for failure messages). */
export async function pluginLogTail(paths: PlexusPaths, lines = 40): Promise<string> {
  const text = await readFile(paths.pluginLog, "utf8").catch(() => "(no plugin log)");
  return text.split("\n").slice(-lines).join("\n");
}

export interface PluginLogLine {
  readonly msg?: string;
  readonly command?: string;
  readonly containerId?: string;
  readonly level?: number;
  readonly [key: string]: unknown;
}

/** The plugin's log as JSON lines (pino), for asserting what each call did. */
export async function pluginLogLines(paths: PlexusPaths): Promise<PluginLogLine[]> {
  const text = await readFile(paths.pluginLog, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as PluginLogLine);
}
