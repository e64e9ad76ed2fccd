// The cluster network is ready when its readiness indicator file exists (Multus's
// readinessindicatorfile; multi-net spec §6.1.2: block attachments until the default network is).

import { CniError, ErrorCode } from "../cni/error.js";
import type { PlexusNetConf } from "../config/netconf.js";
import type { EngineDeps } from "./deps.js";

const POLL_MS = 250;

export async function isReady(conf: PlexusNetConf, deps: EngineDeps): Promise<boolean> {
  return conf.readinessindicatorfile === "" || deps.fileExists(conf.readinessindicatorfile);
}

export async function waitForReadiness(conf: PlexusNetConf, deps: EngineDeps): Promise<void> {
  const deadline = deps.now().getTime() + conf.readinessTimeoutSeconds * 1000;
  while (!(await isReady(conf, deps))) {
    if (deps.now().getTime() >= deadline) {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `the cluster network is not ready: readiness indicator file ${conf.readinessindicatorfile} does ` +
          `not exist after ${conf.readinessTimeoutSeconds}s`,
      );
    }
    await deps.sleep(POLL_MS, deps.signal);
  }
}
