// The daemon's per-pod cache in front of the kubelet's pod-resources API. The kubelet allocates a
// pod's devices once, at admission, before its sandbox is created, so they do not change while
// the pod lives; the kubelet rate-limits the API (RESOURCE_EXHAUSTED, Multus #1545), and a burst
// of pods, or a runtime retrying a pod's sandbox, would otherwise ask again and again. Keyed by
// namespace, name AND UID: a pod deleted and recreated under the same name is another pod with
// other devices. Concurrent asks for one pod share one call; failures are not cached.

export interface PodKey {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export type PodDevices = ReadonlyMap<string, readonly string[]>;

export interface PodDevicesSource {
  podDevices(pod: PodKey, signal: AbortSignal): Promise<PodDevices>;
}

export interface PodDevicesCacheOptions {
  /** How long an answer is reused. */
  readonly ttlMs?: number;
  /** At most this many pods are remembered (a node runs ~110); the oldest go first. */
  readonly maxPods?: number;
  readonly now?: () => number;
}

const DEFAULT_TTL_MS = 5 * 60_000;
const DEFAULT_MAX_PODS = 1024;

export function cachePodDevices(
  source: PodDevicesSource,
  options: PodDevicesCacheOptions = {},
): PodDevicesSource & { readonly size: () => number } {
  const ttl = options.ttlMs ?? DEFAULT_TTL_MS;
  const max = options.maxPods ?? DEFAULT_MAX_PODS;
  const now = options.now ?? Date.now;
  const answers = new Map<string, { readonly at: number; readonly devices: PodDevices }>();
  const pending = new Map<string, Promise<PodDevices>>();

  const remember = (key: string, devices: PodDevices) => {
    answers.delete(key);
    answers.set(key, { at: now(), devices });
    for (const [k, v] of answers) {
      if (answers.size <= max && now() - v.at < ttl) break;
      answers.delete(k); // Map order is insertion order: the oldest first
    }
  };

  return {
    size: () => answers.size,
    async podDevices(pod, signal) {
      const key = `${pod.namespace}/${pod.name}/${pod.uid ?? ""}`;
      const hit = answers.get(key);
      if (hit && now() - hit.at < ttl) return hit.devices;
      const inFlight = pending.get(key);
      if (inFlight) return inFlight;
      const call = source.podDevices(pod, signal).then(
        (devices) => {
          pending.delete(key);
          remember(key, devices);
          return devices;
        },
        (err: unknown) => {
          pending.delete(key);
          throw err;
        },
      );
      pending.set(key, call);
      return call;
    },
  };
}
