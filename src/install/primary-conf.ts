// The primary (cluster) network: the config the runtime would load if Plexus were not there.
// containerd and CRI-O take the first .conf/.conflist/.json in the conf dir, in byte order
// (src/runtime/conf-files.ts, docs/compatibility.md#container-runtimes); Plexus's own file sorts
// first, so it is left out, as are hidden files and temp files. The primary is read with the
// checks the plugin applies when it loads clusterNetwork, so a config the agent accepts is one
// the plugin can run.

import { join } from "node:path";
import type { NetworkConfigList } from "../cni/conf.js";
import { CniError } from "../cni/error.js";
import { isJsonObject, parseConfJson, validateDelegateConfig } from "../cni/untrusted-conf.js";
import { candidateConfFiles, type ConfDirReader } from "../runtime/conf-files.js";

/** Meta-plugins that must never be wrapped: wrapping ourselves (or Multus) recurses on every ADD. */
const META_PLUGIN_TYPES = new Set(["plexus", "multus", "multus-shim"]);

export type PrimaryLookup =
  | { readonly kind: "found"; readonly file: string; readonly text: string; readonly list: NetworkConfigList }
  | { readonly kind: "missing" }
  /** Unreadable or not a valid config: often a file caught mid-write (`cp`); worth a retry. */
  | { readonly kind: "invalid"; readonly file: string; readonly problem: string }
  /** A meta-plugin config: never wrapped, whatever happens. */
  | { readonly kind: "refused"; readonly file: string; readonly problem: string };

/**
 * Finds and reads the primary in the agent-side `dir`. `explicit` names the file to use instead
 * of the first one (Multus's --multus-master-cni-file-name); `skip` are files not to consider
 * (Multus's, on a node being taken over).
 */
export async function findPrimaryConf(
  dir: string,
  reader: ConfDirReader,
  explicit = "",
  skip: ReadonlySet<string> = new Set(),
): Promise<PrimaryLookup> {
  const names = await reader.list(dir);
  const file =
    explicit !== ""
      ? names.includes(explicit)
        ? explicit
        : undefined
      : candidateConfFiles(names).filter((n) => !skip.has(n))[0];
  if (file === undefined) return { kind: "missing" };
  let text: string;
  try {
    text = await reader.read(join(dir, file));
  } catch (err) {
    // Gone between list and read (a rename in progress): the next pass sees the new state.
    return { kind: "invalid", file, problem: err instanceof CniError ? err.msg : (err as Error).message };
  }
  return readPrimary(file, text);
}

function readPrimary(file: string, text: string): PrimaryLookup {
  const parsed = parseConfJson(text);
  if (!parsed.ok) return { kind: "invalid", file, problem: parsed.problem };
  const value = parsed.value;
  if (!isJsonObject(value))
    return { kind: "invalid", file, problem: "not a JSON object (a CNI config or config list)" };
  let list: NetworkConfigList;
  try {
    list = validateDelegateConfig(value, file);
  } catch (err) {
    return { kind: "invalid", file, problem: err instanceof CniError ? err.msg : (err as Error).message };
  }
  const meta = list.plugins.find((p) => META_PLUGIN_TYPES.has(p.type));
  if (meta) {
    return {
      kind: "refused",
      file,
      problem:
        meta.type === "plexus"
          ? `${file} is a plexus configuration, not a cluster network: Plexus never wraps a meta-plugin ` +
            `(remove the stray Plexus file, or name the primary with --primary-conf)`
          : `${file} is Multus's configuration (${meta.type}): set takeOverMultus (--take-over-multus) to ` +
            `replace it and adopt its settings (docs/migration.md), or remove Multus first`,
    };
  }
  if (list.cniVersion === "") return { kind: "invalid", file, problem: `${file} has no cniVersion` };
  return { kind: "found", file, text, list };
}
