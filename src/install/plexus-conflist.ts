// 00-plexus.conflist: Plexus as the only plugin of a list wrapped around the primary network.
// - cniVersion: the primary's, so the runtime speaks to Plexus what it spoke to the primary;
// - capabilities: the union of what the primary's plugins enable, so the runtime keeps sending
//   portMappings, bandwidth, ... (it only sends runtimeConfig keys a plugin declares);
// - clusterNetwork: the primary's HOST path (the plugin runs on the host, not in our container).
// The plugin entry is checked with the schema the plugin reads it with (so the installer cannot
// write what the plugin would refuse), and must contain no key the plugin would ignore.

import type { JsonObject, NetworkConfigList } from "../cni/conf.js";
import { parseNetworkConfig } from "../cni/conf.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { checkVersionSupported } from "../cni/version-info.js";
import type { InstallOptions } from "../config/install-options.js";
import { parsePlexusNetConf } from "../config/netconf.js";
import type { InstallLayout } from "./layout.js";

export interface PlexusConflist {
  /** The file's exact content (deterministic: same inputs, same bytes). */
  readonly text: string;
  readonly conflist: JsonObject;
}

export interface ConflistInputs {
  /** The primary: a file of the conf dir, or (taken over from Multus) a clusterNetwork as Multus had it. */
  readonly primary:
    | { readonly file: string; readonly list: NetworkConfigList }
    | {
        readonly clusterNetwork: string;
        readonly cniVersion: string;
        readonly capabilities: Readonly<Record<string, true>>;
      };
  readonly layout: InstallLayout;
  readonly options: Pick<InstallOptions, "networkName" | "plugin">;
  /** Plugin keys adopted from a Multus config (src/install/multus-takeover.ts); the options' own win. */
  readonly adopted?: Readonly<Record<string, unknown>> | undefined;
}

/** Capabilities any plugin of the primary enables, in first-seen order (`false` ones are not offered). */
function unionCapabilities(list: NetworkConfigList): Record<string, true> {
  const caps: Record<string, true> = {};
  for (const plugin of list.plugins) for (const cap of plugin.capabilities) caps[cap] = true;
  return caps;
}

export function buildPlexusConflist({ primary, layout, options, adopted }: ConflistInputs): PlexusConflist {
  const fromFile = "file" in primary;
  const cniVersion = fromFile ? primary.list.cniVersion : primary.cniVersion;
  try {
    checkVersionSupported(cniVersion);
  } catch (err) {
    throw (err as CniError).withContext(
      fromFile
        ? `the primary network config ${primary.file} has cniVersion ${JSON.stringify(cniVersion)}`
        : `Multus's config has cniVersion ${JSON.stringify(cniVersion)}`,
    );
  }
  const capabilities = fromFile ? unionCapabilities(primary.list) : primary.capabilities;
  const plugin: Record<string, unknown> = {
    type: "plexus",
    ...(Object.keys(capabilities).length > 0 ? { capabilities } : {}),
    clusterNetwork: fromFile ? `${layout.confDir.host}/${primary.file}` : primary.clusterNetwork,
    kubeconfig: layout.kubeconfig?.host ?? "",
    binDir: layout.binDir.host,
    cniDir: layout.stateDir.host,
    ...(layout.readinessFile ? { readinessindicatorfile: layout.readinessFile.host } : {}),
    ...adopted,
    ...options.plugin,
  };
  const conflist = { cniVersion, name: options.networkName, plugins: [plugin] };
  checkReadable(conflist, plugin);
  return { conflist, text: `${JSON.stringify(conflist, null, 2)}\n` };
}

/** What the runtime and the plugin will do with the file, done now: a file we cannot read back is a bug. */
function checkReadable(
  conflist: { cniVersion: string; name: string; plugins: JsonObject[] },
  plugin: JsonObject,
): void {
  parseNetworkConfig(conflist);
  // The runtime injects name and cniVersion into each plugin's config (CNI SPEC §3).
  const { unknownKeys } = parsePlexusNetConf({ ...plugin, cniVersion: conflist.cniVersion, name: conflist.name });
  if (unknownKeys.length > 0) {
    throw new CniError(
      ErrorCode.Internal,
      `generated Plexus config has keys the plugin ignores: ${unknownKeys.join(", ")}`,
    );
  }
}
