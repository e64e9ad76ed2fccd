// What 00-plexus.conflist should be, from what is on disk now: the primary (the first config the
// runtime would load that is not Plexus's or Multus's own), or, on a node taken over from
// Multus, the primary and the settings Multus had (multus-takeover.ts). Shared by the agent's
// pass (reconcile.ts) and the readiness probe (install-check.ts), so both want the same bytes.

import type { InstallOptions } from "../config/install-options.js";
import type { ConfDirReader } from "../runtime/conf-files.js";
import type { InstallLayout } from "./layout.js";
import { findMultusTakeover, type MultusTakeover } from "./multus-takeover.js";
import { buildPlexusConflist, type PlexusConflist } from "./plexus-conflist.js";
import { findPrimaryConf } from "./primary-conf.js";

export type DesiredLookup =
  | {
      readonly kind: "found";
      readonly desired: PlexusConflist;
      /** The primary: its file in the conf dir, or the clusterNetwork taken over from Multus. */
      readonly primary: string;
      /** The primary's network name, when it is a file. */
      readonly networkName: string | undefined;
      readonly takeover: MultusTakeover | undefined;
    }
  | { readonly kind: "missing" }
  /** Unreadable or not a valid config: often a file caught mid-write (`cp`); worth a retry. */
  | { readonly kind: "invalid"; readonly file: string; readonly problem: string }
  /** A config Plexus will not wrap (a meta-plugin's) and nothing to do about it. */
  | { readonly kind: "refused"; readonly file: string; readonly problem: string };

export async function findDesiredConf(
  options: InstallOptions,
  layout: InstallLayout,
  reader: ConfDirReader,
): Promise<DesiredLookup> {
  let takeover: MultusTakeover | undefined;
  if (options.takeOverMultus) {
    const found = await findMultusTakeover(layout.confDir.agent, layout.confDir.host, reader);
    if (found.kind === "invalid")
      return { kind: "refused", file: found.file, problem: `${found.file}: ${found.problem}` };
    if (found.kind === "found") takeover = found.takeover;
  }
  const adopted = takeover?.plugin;
  if (takeover?.clusterNetwork !== undefined && options.primaryConfFile === "") {
    const { clusterNetwork, cniVersion, capabilities } = takeover;
    return {
      kind: "found",
      desired: buildPlexusConflist({ primary: { clusterNetwork, cniVersion, capabilities }, layout, options, adopted }),
      primary: clusterNetwork,
      networkName: undefined,
      takeover,
    };
  }
  const explicit = options.primaryConfFile !== "" ? options.primaryConfFile : (takeover?.primaryFile ?? "");
  const primary = await findPrimaryConf(layout.confDir.agent, reader, explicit, new Set(takeover?.active ?? []));
  if (primary.kind !== "found") return primary;
  return {
    kind: "found",
    desired: buildPlexusConflist({ primary: { file: primary.file, list: primary.list }, layout, options, adopted }),
    primary: primary.file,
    networkName: primary.list.name,
    takeover,
  };
}
