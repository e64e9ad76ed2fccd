// The subcommands of the plexus command-line tool, and how each one's outcome becomes an exit
// code: 0 done, 1 failed while running, 2 a command line that cannot work as written (a usage
// error: one line on stderr, nothing on stdout, nothing changed). How to add a subcommand:
// src/cli/README.md.

import { CniError, ErrorCode } from "../cni/error.js";
import { UsageError } from "./args.js";
import { runInspect } from "./inspect-command.js";
import { runInstallCommand, runUninstallCommand } from "./install-command.js";
import { importKubeClient } from "./k8s-loader.js";
import { runLocal, selfInvocation } from "./local-command.js";
import { SUPPORTED_VERSIONS } from "../cni/version.js";
import { PLEXUS_VERSION, runVersion } from "./version-command.js";

export interface Subcommand {
  /** The line(s) `plexus help` shows for it. */
  readonly summary: string;
  readonly run: (argv: readonly string[]) => Promise<number>;
  /** Words that name a command of their own after this one (`plexus local forward`), for messages. */
  readonly subcommands?: readonly string[];
}

export const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  version: {
    summary: "plexus version [--json]    the version, the CNI versions spoken and how it was built",
    run: runVersion,
  },
  install: {
    summary: `plexus install [flags]    the node agent: install Plexus around the primary network and keep
                            it installed`,
    run: runInstallCommand,
  },
  uninstall: {
    summary: "plexus uninstall [flags]  remove Plexus from this node (our config first)",
    run: runUninstallCommand,
  },
  inspect: {
    summary: "plexus inspect [flags]    what Plexus knows on this node: pods, attachments, IPs (from the cache)",
    run: runInspect,
  },
  daemon: {
    summary: "plexus daemon [flags]     serve CNI calls for this node on a unix socket",
    run: async (argv) => {
      // Loaded only here: the daemon's modules (prom-client, the HTTP servers) stay out of every
      // CNI call's start.
      const { runDaemonCommand } = await import("./daemon-command.js");
      return runDaemonCommand(argv, { importKubeClient, executable: selfInvocation().argv.at(-1) ?? "" });
    },
  },
  local: {
    summary: `plexus local [flags]      a one-node Kubernetes on this machine
  plexus local forward --listen HOST:PORT|PATH --to HOST:PORT|PATH
                            pipe connections between a TCP address and a unix socket (how
                            the simulated node's namespace reaches the local API server)`,
    run: runLocal,
    subcommands: ["forward"],
  },
};

const USAGE = `plexus ${PLEXUS_VERSION}: a multi-network CNI meta-plugin for Kubernetes

Usage:
  plexus help [COMMAND]     this text, or a command's (as plexus COMMAND --help)
${Object.values(SUBCOMMANDS)
  .map((c) => `  ${c.summary}`)
  .join("\n")}

Exit codes: 0 done, 1 failed, 2 a bad command line (one line on stderr says what).
As a CNI plugin, plexus is executed by the container runtime with CNI_COMMAND set.
`;

/** Runs `plexus <argv>` and returns the exit code; never throws. */
export async function runCommand(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name !== undefined && Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  const sub = command?.subcommands?.includes(rest[0] ?? "") ? ` ${rest[0]}` : "";
  const label = command ? `plexus ${name}${sub}` : "plexus";
  try {
    return await dispatch(name, rest);
  } catch (err) {
    return report(label, err);
  }
}

async function dispatch(name: string | undefined, argv: readonly string[]): Promise<number> {
  switch (name) {
    case undefined:
      return about();
    case "--help":
    case "-h":
      return help([]);
    case "help":
      return help(argv);
    case "--version":
      return runVersion(argv);
  }
  const command = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (command === undefined) {
    throw new UsageError(`unknown command ${JSON.stringify(name)}; plexus help lists the commands`);
  }
  return command.run(argv);
}

/**
 * No command and no CNI_COMMAND: what skel does for a plugin run without CNI_COMMAND (its
 * "about" text and the CNI versions, on stderr, exit 0), then the usage. Nothing on stdout: a
 * runtime that lost CNI_COMMAND reads stdout as the plugin's answer.
 */
function about(): number {
  process.stderr.write(
    `${USAGE.split("\n")[0]}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(", ")}\n\n`,
  );
  process.stderr.write(USAGE.slice(USAGE.indexOf("\n") + 1).trimStart());
  return 0;
}

async function help(argv: readonly string[]): Promise<number> {
  const [name, ...extra] = argv;
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  if (name === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  const command = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (command === undefined)
    throw new UsageError(`unknown command ${JSON.stringify(name)}; plexus help lists the commands`);
  return command.run(["--help"]);
}

/**
 * One line on stderr, prefixed with the command. A usage error and an environment the command
 * cannot work in are exit code 2; anything else that went wrong while running is 1. A stack trace
 * is printed only with PLEXUS_DEBUG set: whatever reaches here is reported, never thrown.
 */
export function report(label: string, err: unknown): number {
  const usage = err instanceof UsageError || (err instanceof CniError && err.code === ErrorCode.InvalidEnvironment);
  // A CniError's details (a schema's full report, say) can run to many lines: the debug output has them.
  const message = err instanceof CniError ? err.msg : err instanceof Error ? err.message : String(err);
  const hint = err instanceof UsageError && label !== "plexus" ? `; see ${label} --help` : "";
  process.stderr.write(`${label}: ${message}${hint}\n`);
  if (process.env["PLEXUS_DEBUG"] && err instanceof Error) {
    if (err instanceof CniError && err.details) process.stderr.write(`${err.details}\n`);
    if (err.stack) process.stderr.write(`${err.stack}\n`);
  }
  return usage ? 2 : 1;
}
