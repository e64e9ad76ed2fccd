// Finding a plugin binary by its bare `type` in the plugin directories. libcni pkg/invoke/find.go,
// hardened: a NAD is namespaced user input, so a `type` such as "../../bin/sh" must be refused
// before any path is built from it (docs/compatibility.md#plugin-lookup).

import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { CniError, ErrorCode } from "../cni/error.js";
import { pluginTypeProblem } from "../cni/ids.js";

/** Throws unless `type` is a bare file name (libcni: `invalid plugin name: <x>`). */
export function checkPluginType(type: string): void {
  const problem = pluginTypeProblem(type);
  if (problem === undefined) return;
  throw new CniError(ErrorCode.InvalidNetworkConfig, `invalid plugin name: ${type}`, {
    details: `${problem} (${JSON.stringify(type)}); a plugin type must be a file name in the plugin directories`,
  });
}

/**
 * The absolute path of the first regular, executable file named `type` in `dirs`, searched in
 * order. A non-executable file is skipped, as a shell skips it on PATH.
 */
export async function findPlugin(type: string, dirs: readonly string[]): Promise<string> {
  checkPluginType(type);
  for (const dir of dirs) {
    const candidate = resolve(dir, type);
    if (await isExecutableFile(candidate)) return candidate;
  }
  // Go prints a []string as [a b]; the message matches libcni's word for word.
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    `failed to find plugin ${JSON.stringify(type)} in path [${dirs.join(" ")}]`,
  );
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
