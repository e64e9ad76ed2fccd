// Turning network references into delegate configuration lists: the cluster network and
// defaultNetworks from Plexus's config, NADs named by the pod's selections.
// docs/compatibility.md#multus-behaviour-kept (clusterNetwork resolution, NAD configuration).

import { dirname, join } from "node:path";
import { parseNetworkConfig, type JsonObject, type NetworkConfigList } from "../cni/conf.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { isValidNetworkName } from "../cni/ids.js";
import type { PlexusNetConf } from "../config/netconf.js";
import { isKubeError, type KubeClient, type NetworkAttachmentDefinition } from "../k8s/port.js";
import { RESOURCE_NAME_ANNOTATION } from "../networks/annotations.js";
import { delegateConfigFromNad } from "../networks/nad-config.js";
import { validateDelegateConfig } from "../cni/untrusted-conf.js";
import { findConfByName, loadChainedPluginConfs, loadNetworkFromPath } from "../runtime/conf-files.js";
import type { EngineDeps } from "./deps.js";
import { kubeFailure } from "./pod.js";

export interface ResolvedNetwork {
  readonly list: NetworkConfigList;
  /** What network-status and events call it: "namespace/name" for NADs, else the CNI name. */
  readonly networkRef: string;
  /** The NAD's k8s.v1.cni.cncf.io/resourceName (a device plugin's resource), if any. */
  readonly resourceName?: string;
}

/**
 * clusterNetwork / defaultNetworks entries: an absolute path (file or directory), a
 * "namespace/name" NAD, or a bare name: the NAD of that name in multusNamespace, else the CNI
 * config of that name in confDir (so a node without API access still finds file-based ones).
 */
export async function resolveConfiguredNetwork(
  ref: string,
  conf: PlexusNetConf,
  deps: EngineDeps,
  pod: string,
): Promise<ResolvedNetwork> {
  if (ref.startsWith("/")) {
    const list = await loadNetworkFromPath(ref, deps.confFiles);
    return { list, networkRef: list.name };
  }
  const [namespace, name] = ref.includes("/") ? (ref.split("/", 2) as [string, string]) : [conf.multusNamespace, ref];
  const kube = await deps.kube();
  if (kube) {
    const nad = await getNad(kube, namespace, name, deps, pod).catch((err: unknown) => {
      if (err instanceof CniError && err.code === ErrorCode.NotFound && !ref.includes("/")) return undefined;
      throw err;
    });
    if (nad) return fromNad(nad, conf, deps, pod);
  }
  if (ref.includes("/")) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network ${ref}: a namespace/name reference needs Kubernetes API access (set kubeconfig)`,
    );
  }
  const list = await findConfByName(conf.confDir, name, deps.confFiles);
  return { list, networkRef: list.name };
}

/**
 * The auxiliaryCNIChainName chain, as Multus builds it: a list named after the chain, in
 * Plexus's cniVersion, of the plugin confs in `<dir of clusterNetwork>/<chain>/*.conf` (libcni's
 * sub-directory chaining); undefined when that directory has none (Multus then adds nothing).
 * Multus puts a pass-through plugin first, which returns an empty result; Plexus starts the chain
 * from that empty result itself (no passthru binary needed). clusterNetwork must be a path.
 */
export async function resolveAuxiliaryChain(
  conf: PlexusNetConf,
  deps: EngineDeps,
): Promise<ResolvedNetwork | undefined> {
  const chain = conf.auxiliaryCNIChainName;
  if (!chain) return undefined;
  if (!conf.clusterNetwork.startsWith("/")) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `auxiliaryCNIChainName ${JSON.stringify(chain)} is set, but clusterNetwork must be a path, and it ` +
        `is not a path: ${JSON.stringify(conf.clusterNetwork)}`,
    );
  }
  if (!isValidNetworkName(chain)) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `auxiliaryCNIChainName ${JSON.stringify(chain)} is not a valid CNI network name ` +
        `([a-zA-Z0-9][a-zA-Z0-9_.-]*): it names the chain and its directory`,
    );
  }
  const dir = join(dirname(conf.clusterNetwork), chain);
  const plugins = await loadChainedPluginConfs(dir, deps.confFiles);
  if (plugins.length === 0) {
    deps.log.debug({ dir }, "auxiliaryCNIChainName: no plugin configuration in the chain's directory");
    return undefined;
  }
  const raw = { cniVersion: conf.cniVersion || "0.1.0", name: chain, plugins };
  return {
    list: validateDelegateConfig(raw, `auxiliaryCNIChainName ${JSON.stringify(chain)} (${dir})`),
    networkRef: chain,
  };
}

/** Inline `delegates` entries of the config (a conf or a conflist each). */
export function resolveInlineDelegate(raw: JsonObject, index: number): ResolvedNetwork {
  try {
    const list = parseNetworkConfig(raw);
    return { list, networkRef: list.name };
  } catch (err) {
    throw err instanceof CniError ? err.withContext(`invalid delegates[${index}] in the Plexus configuration`) : err;
  }
}

export async function getNad(
  kube: KubeClient,
  namespace: string,
  name: string,
  deps: EngineDeps,
  pod: string,
): Promise<NetworkAttachmentDefinition> {
  try {
    return await kube.getNetworkAttachmentDefinition(namespace, name, deps.signal);
  } catch (err) {
    if (isKubeError(err, "not-found")) {
      throw new CniError(
        ErrorCode.NotFound,
        `network-attachment-definition "${name}" not found in namespace "${namespace}" (pod ${pod})`,
        { cause: err },
      );
    }
    throw kubeFailure(err, `pod ${pod}: cannot read network-attachment-definition ${namespace}/${name}`);
  }
}

export async function fromNad(
  nad: NetworkAttachmentDefinition,
  conf: PlexusNetConf,
  deps: EngineDeps,
  pod: string,
): Promise<ResolvedNetwork> {
  const byName = (name: string) => findConfByName(conf.confDir, name, deps.confFiles);
  const list = await delegateConfigFromNad(nad, byName, { pod });
  const resourceName = nad.metadata.annotations?.[RESOURCE_NAME_ANNOTATION];
  return {
    list,
    networkRef: `${nad.metadata.namespace}/${nad.metadata.name}`,
    ...(resourceName ? { resourceName } : {}),
  };
}
