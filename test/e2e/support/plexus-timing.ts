// Running sandboxes for Plexus e2e tests, timed: RunPodSandbox wall time as a kubelet sees it
// (the whole CNI ADD included), and the baselines a Plexus number is read against: the same
// sandbox on a plain bridge + host-local conflist (what the harness test runs) and on the
// Flannel stand-in alone. Numbers are reported, never asserted (docs/architecture.md#tests).
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { ContainerdHandle } from "./containerd.js";
import type { PodSandboxSpec } from "./cri-client.js";
import { sandboxSpec, type ApiPod } from "./plexus-cluster.js";
import {
  FLANNEL_NETWORK,
  pluginLogTail,
  removeConf,
  writeConfAtomically,
  type PlexusPaths,
  type PluginLogLine,
} from "./plexus-install.js";

export interface Timings {
  plainBridge: number[];
  flannel: number[];
  plexusPlain: number[];
  plexusTwoSecondaries: number[];
  installMs: number;
}

export interface TimedSandbox {
  readonly id: string;
  readonly ms: number;
}

/** RunPodSandbox for the pod, timed; a failure carries the plugin's log tail. */
export async function runSandbox(
  h: ContainerdHandle,
  paths: PlexusPaths,
  pod: ApiPod,
  extra: Partial<PodSandboxSpec> = {},
): Promise<TimedSandbox> {
  return timedRun(h, sandboxSpec(pod, extra), paths);
}

async function timedRun(h: ContainerdHandle, spec: PodSandboxSpec, paths?: PlexusPaths): Promise<TimedSandbox> {
  const t0 = performance.now();
  try {
    const id = await h.cri.runPodSandbox(spec);
    return { id, ms: performance.now() - t0 };
  } catch (err) {
    const log = paths === undefined ? "" : `\n--- plexus log (tail) ---\n${await pluginLogTail(paths)}`;
    throw new Error(`RunPodSandbox ${spec.namespace}/${spec.name}: ${(err as Error).message}${log}`, { cause: err });
  }
}

/** What a kubelet does when a pod goes away: stop (CNI DEL), then remove. */
export async function stopAndRemove(h: ContainerdHandle, id: string): Promise<void> {
  await h.cri.stopPodSandbox(id);
  await h.cri.removePodSandbox(id);
}

/**
 * `runs` sandboxes each on a plain bridge (05-plain.conflist, sorting first, removed after) and
 * on Flannel alone (10-flannel.conflist, which must be loaded when this is called). Leaves
 * Flannel loaded. Pods need no API object: no Plexus is involved yet.
 */
export async function measureBaselines(
  h: ContainerdHandle,
  paths: PlexusPaths,
  runs = 3,
): Promise<Pick<Timings, "plainBridge" | "flannel">> {
  const flannel = await timeRuns(h, "flannel", runs);
  const plainName = `${h.prefix}-plain`;
  await writeConfAtomically(join(h.paths.cniConfDir, "05-plain.conflist"), {
    cniVersion: "1.0.0",
    name: plainName,
    plugins: [
      {
        type: "bridge",
        bridge: `${h.prefix}pb`,
        isGateway: true,
        ipMasq: false,
        ipam: {
          type: "host-local",
          dataDir: paths.ipamDir,
          ranges: [[{ subnet: "198.19.9.0/24" }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
    ],
  });
  await h.waitForNetworkReady({ networkName: plainName });
  const plainBridge = await timeRuns(h, "plain", runs);
  await removeConf(h, "05-plain.conflist");
  await h.waitForNetworkReady({ networkName: FLANNEL_NETWORK });
  return { plainBridge, flannel };
}

async function timeRuns(h: ContainerdHandle, tag: string, runs: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const run = await timedRun(h, { name: `${tag}-${i}`, namespace: "baseline", uid: randomUUID() });
    ms.push(run.ms);
    await stopAndRemove(h, run.id);
  }
  return ms;
}

export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Where a Plexus ADD's time goes, from its debug log (medians over the given containers):
 * process start to the plan resolved (startup, API client, pod and NAD reads), the cluster
 * network's delegate, and process start to ADD done. "?" when the log has no such lines.
 */
export function addPhases(lines: readonly PluginLogLine[], containerIds: readonly string[]): string {
  const adds = lines.filter((l) => l.command === "ADD" && containerIds.includes(l.containerId ?? ""));
  const pick = (msg: string, key: string, filter: (l: PluginLogLine) => boolean = () => true) =>
    adds.filter((l) => l.msg === msg && filter(l) && typeof l[key] === "number").map((l) => l[key] as number);
  const show = (xs: number[]) => (xs.length === 0 ? "?" : `${Math.round(median(xs))} ms`);
  return (
    `start to plan ${show(pick("plan resolved", "uptimeMs"))}, ` +
    `eth0 delegate ${show(pick("attachment added", "ms", (l) => l["ifName"] === "eth0"))}, ` +
    `start to ADD done ${show(pick("ADD done", "uptimeMs"))}`
  );
}
