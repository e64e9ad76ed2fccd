// The handle startContainerd() returns: CRI with the harness's defaults, commands inside the
// node, readiness of the CNI config, port forwarding, and a stop() that leaves nothing behind.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { removeCgroupTree } from "./cgroups.js";
import type { ContainerdHandle, ContainerdPaths, ContainerdTimings, StopReport } from "./containerd.js";
import type { CriClient, PodSandboxSpec } from "./cri-client.js";
import type { NodeNamespaces } from "./node-namespaces.js";
import { forwardToHost, type PortForward } from "./port-forward.js";
import { releaseHostMountPoints, RUN_DIR_PREFIX } from "./run-registry.js";

export interface HandleParts {
  readonly runId: string;
  readonly paths: ContainerdPaths;
  readonly pauseImage: string;
  readonly cgroupParent: string;
  readonly cri: CriClient;
  readonly node: NodeNamespaces;
  readonly timings: ContainerdTimings;
  readonly logs: () => Promise<string>;
}

export function makeHandle(parts: HandleParts): ContainerdHandle {
  const { cri: raw, cgroupParent, node, paths } = parts;
  const forwards: PortForward[] = [];
  let stopped: Promise<StopReport> | undefined;

  async function stop(
    opts: { readonly removeSandboxes?: boolean; readonly keepRunDir?: boolean } = {},
  ): Promise<StopReport> {
    stopped ??= (async () => {
      const sandboxErrors = opts.removeSandboxes === false || !node.isRunning() ? [] : await removeAllSandboxes(raw);
      raw.close();
      await Promise.all(forwards.map((f) => f.close()));
      await node.terminate(10_000);
      const leftoverCgroups = await cleanupRun(paths.runDir, cgroupParent, opts.keepRunDir ?? false);
      return { sandboxErrors, leftoverCgroups };
    })();
    return stopped;
  }

  return {
    runId: parts.runId,
    prefix: `px${parts.runId.slice(RUN_DIR_PREFIX.length)}`,
    paths,
    pauseImage: parts.pauseImage,
    cgroupParent,
    cri: { ...raw, runPodSandbox: (spec) => raw.runPodSandbox(withDefaults(spec, cgroupParent)) },
    node,
    timings: parts.timings,
    execInNode: (argv, options) => node.exec(argv, options),
    logs: parts.logs,
    waitForNetworkReady: (opts) => waitForNetworkReady(raw, opts),
    forwardToHost: async (hostPort, nodePort) => {
      const forward = await forwardToHost(node, join(paths.runDir, `forward-${hostPort}.sock`), hostPort, nodePort);
      forwards.push(forward);
      return forward.nodePort;
    },
    stop,
  };
}

/** Removes what outlives the node's namespaces: cgroups, the run dir, host mount-point dirs. */
export async function cleanupRun(runDir: string, cgroupParent: string, keepRunDir: boolean): Promise<string[]> {
  const leftovers = await removeCgroupTree(cgroupParent);
  if (!keepRunDir) await rm(runDir, { recursive: true, force: true });
  await releaseHostMountPoints(runDir);
  return leftovers;
}

function withDefaults(spec: PodSandboxSpec, cgroupParent: string): PodSandboxSpec {
  return {
    ...spec,
    // Without dns_config containerd copies the host's /etc/resolv.conf into the sandbox; a
    // fixed one keeps sandboxes independent of the machine.
    dnsConfig: spec.dnsConfig ?? { servers: ["198.18.0.53"], searches: [], options: [] },
    linux: { ...spec.linux, cgroupParent: spec.linux?.cgroupParent ?? cgroupParent },
  };
}

async function waitForNetworkReady(
  cri: CriClient,
  opts: { readonly networkName?: string; readonly timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const status = await cri.status({ verbose: true });
    const ready = status.conditions.find((c) => c.type === "NetworkReady")?.status === true;
    const names = loadedNetworkNames(status.info["cniconfig"] ?? "");
    if (ready && (opts.networkName === undefined || names.includes(opts.networkName))) return;
    if (Date.now() > deadline) {
      throw new Error(
        `CNI network ${opts.networkName ?? ""} not ready: conditions ${JSON.stringify(status.conditions)}, ` +
          `loaded networks ${JSON.stringify(names)}, lastCNILoadStatus ${status.info["lastCNILoadStatus"] ?? "?"}`,
      );
    }
    await sleep(25);
  }
}

const cniConfigInfo = z.object({ Networks: z.array(z.object({ Config: z.object({ Name: z.string() }) })).nullable() });

/** Names of the networks in containerd's verbose "cniconfig" (go-cni's loaded config). */
function loadedNetworkNames(cniconfig: string): string[] {
  try {
    return (cniConfigInfo.parse(JSON.parse(cniconfig)).Networks ?? []).map((n) => n.Config.Name);
  } catch {
    return [];
  }
}

/** What kubelet does before it forgets a pod: stop (CNI DEL) then remove, each sandbox. */
async function removeAllSandboxes(cri: CriClient): Promise<string[]> {
  const errors: string[] = [];
  let sandboxes;
  try {
    sandboxes = await cri.listPodSandbox();
  } catch (err) {
    return [`ListPodSandbox: ${(err as Error).message}`];
  }
  for (const s of sandboxes) {
    for (const step of [() => cri.stopPodSandbox(s.id), () => cri.removePodSandbox(s.id)]) {
      try {
        await step();
      } catch (err) {
        errors.push(`${s.id}: ${(err as Error).message}`);
      }
    }
  }
  return errors;
}
