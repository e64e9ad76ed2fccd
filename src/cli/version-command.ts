// `plexus version`: what this executable is. The JSON form is for tools (an installer comparing
// what is on a node with what it ships, a bug report).

import { isSea } from "node:sea";
import { SUPPORTED_VERSIONS } from "../cni/version.js";
import { parseCommandLine } from "./args.js";

export const PLEXUS_VERSION = "0.1.0";

const VERSION_USAGE = `Usage: plexus version [--json]

Prints the Plexus version and the CNI spec versions it speaks (as a plugin and towards its
delegates); --json adds how this executable was built.

Flags:
  --json       one JSON object: {"version", "cniVersions", "build": {"commit", "node", "platform",
               "arch", "executable"}}
  -h, --help   this text
`;

/** The git commit the bundle was built from (src/cli/sea-build.mjs defines it); absent from sources. */
declare const PLEXUS_BUILD_COMMIT: string | undefined;

export interface VersionInfo {
  readonly version: string;
  readonly cniVersions: readonly string[];
  readonly build: {
    readonly commit: string;
    readonly node: string;
    readonly platform: string;
    readonly arch: string;
    /** "single-executable" (dist/plexus), "bundle" (node dist/plexus.cjs) or "sources" (the tests). */
    readonly executable: "single-executable" | "bundle" | "sources";
  };
}

function versionInfo(): VersionInfo {
  const bundled = typeof PLEXUS_BUILD_COMMIT !== "undefined";
  return {
    version: PLEXUS_VERSION,
    cniVersions: [...SUPPORTED_VERSIONS],
    build: {
      commit: bundled ? PLEXUS_BUILD_COMMIT : "unknown",
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      executable: isSea() ? "single-executable" : bundled ? "bundle" : "sources",
    },
  };
}

export async function runVersion(argv: readonly string[]): Promise<number> {
  const line = parseCommandLine(argv, { json: { type: "boolean" } });
  if (line.help) {
    process.stdout.write(VERSION_USAGE);
    return 0;
  }
  const info = versionInfo();
  if (line.flags.json) {
    process.stdout.write(`${JSON.stringify(info)}\n`);
    return 0;
  }
  process.stdout.write(`plexus ${info.version}\nCNI versions: ${info.cniVersions.join(", ")}\n`);
  return 0;
}
