// The daemon's hot-plug (docs/architecture.md#hot-plug), wired: the controller of src/daemon over
// the daemon's pod cache and scheduler, and each reconcile run by the engine with the adapters
// of a CNI call, built from the configuration the sandbox's ADD brought (kept on disk with the
// cluster network's record), exactly as that ADD had them.

import { createCacheStore } from "../cache/store.js";
import { createHotplugController, type HotplugController, type PodSource } from "../daemon/hotplug-controller.js";
import type { HotplugMetricsSink } from "../daemon/metrics.js";
import { reconcileHotplug, sandboxRequest, type HotplugOutcome } from "../engine/hotplug.js";
import type { Logger } from "../log/logger.js";
import { buildEngineDeps } from "./engine-deps.js";
import type { PluginHost } from "./plugin.js";

export interface DaemonHotplugOptions {
  readonly stateDirs: readonly string[];
  readonly pods: PodSource;
  readonly host: PluginHost;
  readonly schedule: <T>(containerId: string, signal: AbortSignal, task: () => Promise<T>) => Promise<T>;
  readonly metrics: HotplugMetricsSink;
  readonly log: Logger;
}

const NOTHING = { attached: [], detached: [], failures: [], cancelled: false } as const;

export function createDaemonHotplug(o: DaemonHotplugOptions): HotplugController {
  return createHotplugController({
    stateDirs: o.stateDirs,
    pods: o.pods,
    schedule: o.schedule,
    metrics: o.metrics,
    log: o.log,
    async reconcile(target, signal): Promise<HotplugOutcome> {
      const state = await createCacheStore(target.stateDir).loadContainer(target.containerId);
      const sandbox = sandboxRequest(state.attachments);
      if (!sandbox) return { ...NOTHING, skipped: "no sandbox settings on disk (set up before hot-plug, or gone)" };
      const { req } = sandbox;
      const log = o.log.child({
        command: "HOTPLUG",
        containerId: target.containerId,
        pod: `${target.pod.metadata.namespace}/${target.pod.metadata.name}`,
      });
      // The delegates get the CNI variables of the sandbox's ADD and the daemon's PATH (a
      // runtime gives its plugins a small environment; the daemon's own has nothing they need).
      const env = { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...sandbox.env };
      const deps = buildEngineDeps({
        conf: req.conf,
        env,
        log,
        signal,
        kube: o.host.kube,
        wrap: o.host.wrap,
        onExec: o.host.onExec,
      });
      return reconcileHotplug(req, target.pod, deps);
    },
  });
}
