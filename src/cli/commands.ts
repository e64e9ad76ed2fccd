// Subcommands of the plexus command-line tool.

import { isSea } from "node:sea";
import { SUPPORTED_VERSIONS } from "../cni/version.js";
import { runInstallCommand, runUninstallCommand } from "../install/cli.js";
import { parseEndpoint, startForwarder } from "../local/forward.js";
import { runInspect } from "./inspect-command.js";
import { importKubeClient } from "./k8s-loader.js";
import { LOCAL_USAGE, runLocalNode } from "./local-command.js";

export const PLEXUS_VERSION = "0.1.0";

const USAGE = `plexus ${PLEXUS_VERSION}: a multi-network CNI meta-plugin for Kubernetes

Usage:
  plexus version            print the version and the CNI versions spoken
  plexus help               this text
  plexus install [flags]    the node agent: install Plexus around the primary network and keep
                            it installed (plexus install --help)
  plexus uninstall [flags]  remove Plexus from this node (our config first)
  plexus inspect [flags]    what Plexus knows on this node: pods, attachments, IPs (from the cache)
  plexus daemon [flags]     serve CNI calls for this node on a unix socket (plexus daemon --help)
  plexus local [flags]      a one-node Kubernetes on this machine (plexus local --help)
  plexus local forward --listen HOST:PORT|PATH --to HOST:PORT|PATH
                            pipe connections between a TCP address and a unix socket (how
                            the simulated node's namespace reaches the local API server)

As a CNI plugin, plexus is executed by the container runtime with CNI_COMMAND set.
`;

export async function runCommand(argv: readonly string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case "version":
    case "--version":
      process.stdout.write(`plexus ${PLEXUS_VERSION}\nCNI versions: ${SUPPORTED_VERSIONS.join(", ")}\n`);
      return 0;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return 0;
    case "install":
      return runInstallCommand(argv.slice(1), { importKubeClient });
    case "uninstall":
      return runUninstallCommand(argv.slice(1), { importKubeClient });
    case "inspect":
      return runInspect(argv.slice(1));
    case "local":
      return runLocal(argv.slice(1));
    case "daemon": {
      // Loaded only here: the daemon's modules (prom-client, the HTTP servers) stay out of every
      // CNI call's start.
      const { runDaemonCommand } = await import("./daemon-command.js");
      return runDaemonCommand(argv.slice(1), { importKubeClient, executable: selfInvocation().argv.at(-1) ?? "" });
    }
    default:
      process.stderr.write(`plexus: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

async function runLocal(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "forward") {
    const listen = flag(rest, "--listen");
    const to = flag(rest, "--to");
    if (!listen || !to) {
      process.stderr.write("plexus local forward: --listen and --to are required\n");
      return 2;
    }
    const forwarder = await startForwarder(parseEndpoint(listen), parseEndpoint(to));
    process.stdout.write(`forwarding ${listen} -> ${to}\n`);
    await new Promise<void>((resolve) => {
      process.once("SIGTERM", resolve);
      process.once("SIGINT", resolve);
    });
    await forwarder.close();
    return 0;
  }
  if (sub === "help" || sub === "--help" || sub === "-h") {
    process.stdout.write(LOCAL_USAGE);
    return 0;
  }
  return runLocalNode(argv, selfInvocation());
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const inline = argv.find((a) => a.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
}

/**
 * How to run this executable again: a single executable is itself; a bundle needs node. (A
 * static import: dynamic import() is not available to a single executable's main script.)
 */
function selfInvocation(): { executable: string | undefined; argv: readonly string[] } {
  if (isSea()) return { executable: process.execPath, argv: [process.execPath] };
  return { executable: undefined, argv: [process.execPath, process.argv[1] ?? ""] };
}
