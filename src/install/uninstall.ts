// `plexus uninstall`: take Plexus out of a node's chain, in the order that never leaves the
// runtime pointing at something missing. The conf file goes first (from then on the runtime
// loads the primary directly), then the plugin's credentials, then, only when asked, the
// executable: a pod created through Plexus and deleted later may still be torn down through
// the config the runtime loaded before, and that DEL needs the binary.

import { access, readdir, rm, rmdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "../log/logger.js";
import type { InstallLayout } from "./layout.js";

export interface UninstallOptions {
  readonly removeBinary: boolean;
}

/** Returns the host paths removed, in order. Missing files are fine (uninstall twice is a no-op). */
export async function uninstall(layout: InstallLayout, options: UninstallOptions, log: Logger): Promise<string[]> {
  const removed: string[] = [];
  const remove = async (path: { host: string; agent: string } | undefined): Promise<void> => {
    if (!path) return;
    await rm(path.agent, { force: true });
    removed.push(path.host);
  };
  await remove(layout.confFile);
  await remove(layout.token);
  await remove(layout.kubeconfig);
  if (layout.kubeconfig) await removeDirIfEmpty(dirname(layout.kubeconfig.agent));
  if (options.removeBinary) {
    await remove(layout.binary);
    await remove(layout.thinBinary);
  }
  log.info({ removed }, "Plexus removed from this node");
  return removed;
}

/** The host paths of Plexus's config and credentials still present (what --check reports). */
export async function leftBehind(layout: InstallLayout): Promise<string[]> {
  const paths = [layout.confFile, layout.token, layout.kubeconfig].filter((p) => p !== undefined);
  const present = await Promise.all(
    paths.map((p) =>
      access(p.agent).then(
        () => true,
        () => false,
      ),
    ),
  );
  return paths.filter((_, i) => present[i]).map((p) => p.host);
}

async function removeDirIfEmpty(dir: string): Promise<void> {
  const entries = await readdir(dir).catch(() => undefined);
  if (entries && entries.length === 0) await rmdir(dir).catch(() => undefined);
}
