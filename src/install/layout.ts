// Where everything lives, twice: as the host (runtime, kubelet, the plugin) names it, and as
// the agent reaches it through the host root mounted into its container. Files written for the
// host must name HOST paths (a conf that says /host/etc/cni/net.d/10-calico.conflist points
// nowhere on the node); the agent reads and writes the agent paths.

import { dirname, join } from "node:path";
import type { InstallOptions } from "../config/install-options.js";
import { OWN_CONF_PREFIX } from "../runtime/conf-files.js";

/** Lexically first among the usual primaries (05-cilium, 10-calico, 10-flannel, ...), as a meta-plugin must be. */
export const PLEXUS_CONF_FILE = `${OWN_CONF_PREFIX}.conflist`;
const PLEXUS_BINARY = "plexus";
/** Daemon mode: the plexus executable beside the shim, which runs it while no daemon answers. */
const PLEXUS_THIN_BINARY = "plexus-thin";
const TOKEN_FILE = "plexus.token";

export interface HostPath {
  /** As the host sees it: what goes into files the runtime or the plugin read. */
  readonly host: string;
  /** As this process reaches it. */
  readonly agent: string;
}

export interface InstallLayout {
  readonly confDir: HostPath;
  readonly confFile: HostPath;
  readonly binDir: HostPath;
  /** What the runtime executes (the conflist's `type`): the plexus executable, or the shim in daemon mode. */
  readonly binary: HostPath;
  /** The shim's fallback in daemon mode (removed in thin mode). */
  readonly thinBinary: HostPath;
  readonly stateDir: HostPath;
  /** undefined when no kubeconfig is written. */
  readonly kubeconfig: HostPath | undefined;
  /** The copy of the service-account token the kubeconfig names (beside it). */
  readonly token: HostPath | undefined;
  /** undefined when no readiness indicator is configured. */
  readonly readinessFile: HostPath | undefined;
}

function hostPath(hostRoot: string, path: string): HostPath {
  return { host: path, agent: hostRoot === "/" ? path : join(hostRoot, path) };
}

export function installLayout(o: InstallOptions): InstallLayout {
  const at = (p: string): HostPath => hostPath(o.hostRoot, p);
  return {
    confDir: at(o.cniConfDir),
    confFile: at(join(o.cniConfDir, PLEXUS_CONF_FILE)),
    binDir: at(o.cniBinDir),
    binary: at(join(o.cniBinDir, PLEXUS_BINARY)),
    thinBinary: at(join(o.cniBinDir, PLEXUS_THIN_BINARY)),
    stateDir: at(o.stateDir),
    kubeconfig: o.kubeconfig === "" ? undefined : at(o.kubeconfig),
    token: o.kubeconfig === "" ? undefined : at(join(dirname(o.kubeconfig), TOKEN_FILE)),
    readinessFile: o.readinessIndicatorFile === "" ? undefined : at(o.readinessIndicatorFile),
  };
}
