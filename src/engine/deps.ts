// What the engine needs from the world, passed in (docs/architecture.md#transport-agnostic-engine:
// the engine is transport-agnostic; thin mode builds these in the plugin process, a daemon could
// build them once).

import type { JsonObject } from "../cni/conf.js";
import type { CniEnv, ContainerEnv } from "../cni/env.js";
import type { MultusCache } from "../cache/multus-cache.js";
import type { CacheStore } from "../cache/store.js";
import type { PlexusNetConf } from "../config/netconf.js";
import type { KubeClient, PodRef } from "../k8s/port.js";
import type { Logger } from "../log/logger.js";
import type { ConfDirReader } from "../runtime/conf-files.js";
import type { CniRuntime } from "../runtime/types.js";

export interface EngineDeps {
  readonly runtime: CniRuntime;
  readonly cache: CacheStore;
  /** Multus's cache on a node Plexus took over (multusCniDir): DEL of the pods Multus set up. */
  readonly multus?: MultusCache | undefined;
  /**
   * The Kubernetes client, created on first use (loading the client library costs ~100 ms, and
   * a DEL served from the cache never needs it). Undefined when no API access is configured.
   */
  readonly kube: () => Promise<KubeClient | undefined>;
  readonly confFiles: ConfDirReader;
  /** Runs a command inside the network namespace at `netnsPath` (default-route changes). */
  readonly runInNetns: (netnsPath: string, argv: readonly string[], signal: AbortSignal) => Promise<void>;
  readonly fileExists: (path: string) => Promise<boolean>;
  /**
   * The kubelet's device allocations (pod-resources API), created on first use: only a plan with
   * a NAD that names a resourceName asks (loading the gRPC client costs tens of ms).
   */
  readonly podResources: () => Promise<PodResourcesSource>;
  /** Device Information Specification files (outside Plexus's state dir). */
  readonly deviceInfo: DeviceInfoFiles;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Bound by the edge to the call's command, containerId and pod: the engine never logs those keys again. */
  readonly log: Logger;
  readonly now: () => Date;
  readonly signal: AbortSignal;
}

/** What the engine needs from the kubelet (src/kubelet implements it). */
export interface PodResourcesSource {
  /**
   * The device IDs the kubelet allocated to the pod's containers, by resource name, each list
   * sorted; an empty map when it gave the pod none. Rejects with a CniError naming the socket.
   */
  podDevices(pod: PodRef, signal: AbortSignal): Promise<ReadonlyMap<string, readonly string[]>>;
}

export interface DeviceInfoFiles {
  /** Copies the device plugin's file to the attachment's (creating its directory); false when there is none. */
  seed(from: string, to: string): Promise<boolean>;
  /** The file's text, or undefined when it does not exist. */
  read(path: string): Promise<string | undefined>;
  /** Removes the file; a missing file is fine. */
  remove(path: string): Promise<void>;
}

/** One CNI invocation of Plexus, parsed at the edge. */
export interface PluginRequest<Env extends CniEnv = CniEnv> {
  readonly env: Env;
  readonly conf: PlexusNetConf;
  /** Plexus's stdin as received (GC reads cni.dev/valid-attachments from it). */
  readonly raw: JsonObject;
}

/** ADD, DEL or CHECK: a request about one container's interface. */
export type ContainerRequest = PluginRequest<ContainerEnv>;
