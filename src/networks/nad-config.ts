// Where a NAD's delegate configuration comes from: its spec.config, or, without one, the file
// in confDir whose CNI name matches (multi-net spec §3.4), which the caller looks up
// (src/runtime/conf-files.ts owns the conf dir). Either way the config is bounded and checked
// (src/cni/untrusted-conf.ts).

import type { NetworkConfigList } from "../cni/conf.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { isJsonObject, parseConfJson, validateDelegateConfig } from "../cni/untrusted-conf.js";

/** The part of a NetworkAttachmentDefinition its configuration comes from. */
export interface NadConfigSource {
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly spec?: { readonly config?: string };
}

/** The CNI config named `name` in the conf dir, or a NotFound CniError. */
export type ConfByName = (name: string) => Promise<NetworkConfigList>;

/**
 * The delegate list of a NAD. spec.config (a conf or a conflist) gets the NAD's name when its
 * own is missing or "" (spec §3.4.2; top level, so a conflist's list name); foreign keys are
 * kept. No spec.config: the conf-dir file named like the NAD.
 */
export async function delegateConfigFromNad(
  nad: NadConfigSource,
  confByName: ConfByName,
  ctx: { readonly pod: string },
): Promise<NetworkConfigList> {
  const where = `pod ${ctx.pod}: NetworkAttachmentDefinition ${nad.metadata.namespace}/${nad.metadata.name}`;
  const config = nad.spec?.config;
  if (config === undefined || config.trim() === "") {
    try {
      return await confByName(nad.metadata.name);
    } catch (err) {
      throw err instanceof CniError ? err.withContext(`${where} has no spec.config`) : err;
    }
  }
  const parsed = parseConfJson(config);
  if (!parsed.ok) invalid(`${where}: spec.config: ${parsed.problem}`);
  if (!isJsonObject(parsed.value)) invalid(`${where}: spec.config must be a JSON object (a CNI config or config list)`);
  const name = parsed.value["name"];
  const withName = name === undefined || name === "" ? { ...parsed.value, name: nad.metadata.name } : parsed.value;
  return validateDelegateConfig(withName, `${where}: spec.config`);
}

function invalid(msg: string): never {
  throw new CniError(ErrorCode.InvalidNetworkConfig, msg);
}
