// STATUS (CNI 1.1): can Plexus service an ADD now? The cluster network must be ready (its
// readiness indicator file, Multus's readinessindicatorfile) and its delegates (>= 1.1.0) too.

import { CniError, ErrorCode, toCniError } from "../cni/error.js";
import type { EngineDeps, PluginRequest } from "./deps.js";
import { resolveConfiguredNetwork, resolveInlineDelegate } from "./networks.js";
import { isReady } from "./readiness.js";

export async function cmdStatus(req: PluginRequest, deps: EngineDeps): Promise<void> {
  const { conf } = req;
  if (!(await isReady(conf, deps))) {
    throw new CniError(
      ErrorCode.PluginNotAvailable,
      `the cluster network is not ready: readiness indicator file ${conf.readinessindicatorfile} does not exist`,
    );
  }
  let network;
  try {
    network = conf.clusterNetwork
      ? await resolveConfiguredNetwork(conf.clusterNetwork, conf, deps, "(STATUS)")
      : resolveInlineDelegate(conf.delegates[0] ?? {}, 0);
  } catch (err) {
    throw new CniError(
      ErrorCode.PluginNotAvailable,
      `the cluster network cannot be loaded: ${toCniError(err).message}`,
      { cause: err },
    );
  }
  // A delegate's own STATUS error (50/51) is passed on unchanged, as Multus does.
  await deps.runtime.statusNetworkList(network.list, deps.signal);
}
