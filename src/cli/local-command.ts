// `plexus local`: run a one-node Kubernetes here (src/local/local-node.ts) until interrupted.

import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSea } from "node:sea";
import { isDns1123Subdomain } from "../cni/ids.js";
import { createLogger } from "../log/logger.js";
import { parseEndpoint, startForwarder, type Endpoint } from "../local/forward.js";
import { findCrdDir, startLocalNode } from "../local/local-node.js";
import { nonEmptyValue, parseCommandLine, portValue, UsageError, type FlagSpecs } from "./args.js";
import { importKubeClient } from "./k8s-loader.js";

const LOCAL_USAGE = `Usage: plexus local [flags]

Runs a one-node Kubernetes on this machine for Plexus, as root: the local API server, a node
network namespace (the node's links live there, never in this machine's namespace), and a node
simulator that networks pods like kubelet + containerd would, through the CNI config that
\`plexus install\` generates around the primary network in the conf dir. Use it with kubectl:
  export KUBECONFIG=<state dir>/kubeconfig
Stops (and tears down every pod network) on SIGINT or SIGTERM.

Flags:
  --state-dir DIR          kubeconfig, API state, CNI dirs, logs (default /var/lib/plexus-local)
  --port N                 API server port on 127.0.0.1 (default 0: any free port)
  --node-name NAME         the node's name (default local)
  --cni-conf-dir DIR       primary network config (default <state dir>/net.d; when it holds no
                           config, a bridge + host-local one in 198.18.0.0/24 is written)
  --cni-bin-dir DIR        plugins (default <state dir>/bin; the reference plugins are linked in)
  --reference-plugins DIR  where the reference CNI plugins are (default /usr/lib/cni or /opt/cni/bin)
  --crd-dir DIR            the NetworkAttachmentDefinition CRD (default <exe>/../crds, ./crds)
  --mode daemon|thin       daemon (default): the shim is the CNI plugin and \`plexus daemon\` runs
                           in the node namespace (socket <state dir>/run/plexus.sock, log
                           <state dir>/daemon.log); thin: the plexus executable per call
  -h, --help               this text

plexus local forward --help: the forwarder the node namespace reaches the API server through.
`;

const FLAGS = {
  "state-dir": { type: "string" },
  port: { type: "string" },
  "node-name": { type: "string" },
  "cni-conf-dir": { type: "string" },
  "cni-bin-dir": { type: "string" },
  "reference-plugins": { type: "string" },
  "crd-dir": { type: "string" },
  mode: { type: "string" },
} as const satisfies FlagSpecs;

/** `plexus local [flags]` and `plexus local forward ...`. */
export async function runLocal(argv: readonly string[]): Promise<number> {
  if (argv[0] === "forward") return runForward(argv.slice(1));
  if (argv[0] === "help" && argv.length === 1) return runLocalNode(["--help"], selfInvocation());
  return runLocalNode(argv, selfInvocation());
}

async function runLocalNode(
  argv: readonly string[],
  self: { executable: string | undefined; argv: readonly string[] },
): Promise<number> {
  const line = parseCommandLine(argv, FLAGS);
  if (line.help) {
    process.stdout.write(LOCAL_USAGE);
    return 0;
  }
  // Every value is checked before anything is created: a bad flag leaves nothing behind.
  const { flags } = line;
  const dir = (name: keyof typeof FLAGS) => {
    const value = flags[name];
    return value === undefined ? undefined : nonEmptyValue(name, value);
  };
  const values = {
    stateDir: dir("state-dir") ?? "/var/lib/plexus-local",
    port: portValue("port", flags.port ?? "0"),
    nodeName: nodeNameValue(flags["node-name"] ?? "local"),
    confDir: dir("cni-conf-dir"),
    binDir: dir("cni-bin-dir"),
    referencePlugins: dir("reference-plugins"),
    crdDir: dir("crd-dir"),
    mode: modeValue(flags.mode ?? "daemon"),
  };
  if (process.getuid?.() !== 0) {
    process.stderr.write("plexus local: run as root (it creates network namespaces)\n");
    return 1;
  }
  const log = createLogger({ level: "info", toStderr: true }).child({ component: "local" });
  const { stateDir } = values;
  const reference =
    values.referencePlugins ?? ["/usr/lib/cni", "/opt/cni/bin"].find((d) => existsSync(join(d, "bridge")));
  if (!reference) {
    process.stderr.write(
      "plexus local: no reference CNI plugins found (install containernetworking-plugins or pass " +
        "--reference-plugins)\n",
    );
    return 1;
  }
  const node = await startLocalNode({
    stateDir,
    port: values.port,
    nodeName: values.nodeName,
    ...(values.confDir ? { confDir: values.confDir } : {}),
    ...(values.binDir ? { binDir: values.binDir } : {}),
    referencePluginDir: reference,
    crdDir: await findCrdDir(self.argv.at(-1) ?? process.execPath, values.crdDir),
    self,
    importKubeClient,
    log,
    mode: values.mode,
  });
  const ready = join(stateDir, "ready");
  await writeFile(ready, `${node.api.url}\n`);
  process.stdout.write(
    `plexus local is running (${node.mode} mode): API ${node.api.url}, node namespace ${node.nodeNetns}\n  ` +
      `export KUBECONFIG=${node.kubeconfig}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  log.info({}, "stopping: tearing down pod networks");
  await rm(ready, { force: true });
  await node.stop();
  return 0;
}

function modeValue(text: string): "daemon" | "thin" {
  if (text !== "daemon" && text !== "thin")
    throw new UsageError(`--mode must be daemon or thin, not ${JSON.stringify(text)}`);
  return text;
}

const FORWARD_USAGE = `Usage: plexus local forward --listen HOST:PORT|PATH --to HOST:PORT|PATH

Accepts connections on --listen and pipes each to --to, until SIGINT or SIGTERM: how the
simulated node's network namespace reaches the local API server (a unix socket crosses
namespaces, TCP does not). HOST:PORT is an IPv4 address or [IPv6]:PORT; PATH is absolute.

Flags:
  --listen ENDPOINT   where to accept (a unix socket is created 0600)
  --to ENDPOINT       where to connect
  -h, --help          this text
`;

async function runForward(argv: readonly string[]): Promise<number> {
  const line = parseCommandLine(argv, { listen: { type: "string" }, to: { type: "string" } });
  if (line.help) {
    process.stdout.write(FORWARD_USAGE);
    return 0;
  }
  const { listen, to } = line.flags;
  if (listen === undefined) throw new UsageError("--listen is required");
  if (to === undefined) throw new UsageError("--to is required");
  const forwarder = await startForwarder(endpointValue("listen", listen), endpointValue("to", to));
  process.stdout.write(`forwarding ${listen} -> ${to}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await forwarder.close();
  return 0;
}

function endpointValue(flag: string, text: string): Endpoint {
  let endpoint: Endpoint;
  try {
    endpoint = parseEndpoint(text);
  } catch {
    throw new UsageError(`--${flag}: ${JSON.stringify(text)} is not HOST:PORT or an absolute PATH`);
  }
  if ("port" in endpoint) portValue(flag, String(endpoint.port));
  return endpoint;
}

/** A Kubernetes node name: a DNS-1123 subdomain. */
function nodeNameValue(text: string): string {
  if (!isDns1123Subdomain(text))
    throw new UsageError(`--node-name: ${JSON.stringify(text)} is not a Kubernetes node name (a DNS-1123 subdomain)`);
  return text;
}

/**
 * How to run this executable again: a single executable is itself; a bundle needs node. (A
 * static import: dynamic import() is not available to a single executable's main script.)
 */
export function selfInvocation(): { executable: string | undefined; argv: readonly string[] } {
  if (isSea()) return { executable: process.execPath, argv: [process.execPath] };
  return { executable: undefined, argv: [process.execPath, process.argv[1] ?? ""] };
}
