// Subcommands of the plexus command-line tool.

import { SUPPORTED_VERSIONS } from "../cni/version.js";

export const PLEXUS_VERSION = "0.1.0";

const USAGE = `plexus ${PLEXUS_VERSION}: a multi-network CNI meta-plugin for Kubernetes

Usage:
  plexus version            print the version and the CNI versions spoken
  plexus help               this text

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
    default:
      process.stderr.write(`plexus: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}
