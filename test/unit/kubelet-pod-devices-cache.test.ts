// The daemon's per-pod cache of the kubelet's answers: one call per pod (UID included) while
// fresh, concurrent asks shared, failures not kept, bounded.

import { describe, expect, it } from "vitest";
import { cachePodDevices, type PodKey } from "../../src/kubelet/pod-devices-cache.js";

const never = new AbortController().signal;

function counting(fail = false) {
  const asked: string[] = [];
  return {
    asked,
    podDevices: async (pod: PodKey) => {
      asked.push(`${pod.namespace}/${pod.name}/${pod.uid}`);
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error("kubelet said no");
      return new Map([["intel.com/sriov", [`${pod.name}-vf`]]]);
    },
  };
}

describe("cachePodDevices", () => {
  it("asks once per pod while the answer is fresh; concurrent asks share the call", async () => {
    let t = 0;
    const source = counting();
    const cache = cachePodDevices(source, { ttlMs: 1000, now: () => t });
    const pod = { namespace: "a", name: "p", uid: "u1" };
    const [x, y] = await Promise.all([cache.podDevices(pod, never), cache.podDevices(pod, never)]);
    expect(x).toBe(y);
    await cache.podDevices(pod, never);
    expect(source.asked).toEqual(["a/p/u1"]);
    t = 1000;
    await cache.podDevices(pod, never);
    expect(source.asked).toEqual(["a/p/u1", "a/p/u1"]);
  });

  it("a pod recreated under the same name (another UID) is asked about afresh", async () => {
    const source = counting();
    const cache = cachePodDevices(source);
    await cache.podDevices({ namespace: "a", name: "p", uid: "u1" }, never);
    await cache.podDevices({ namespace: "a", name: "p", uid: "u2" }, never);
    expect(source.asked).toEqual(["a/p/u1", "a/p/u2"]);
  });

  it("does not keep failures", async () => {
    const source = counting(true);
    const cache = cachePodDevices(source);
    const pod = { namespace: "a", name: "p", uid: "u1" };
    await expect(cache.podDevices(pod, never)).rejects.toThrow("kubelet said no");
    await expect(cache.podDevices(pod, never)).rejects.toThrow("kubelet said no");
    expect(source.asked).toHaveLength(2);
  });

  it("remembers at most maxPods, the oldest going first", async () => {
    const source = counting();
    const cache = cachePodDevices(source, { maxPods: 2 });
    for (const name of ["p1", "p2", "p3"]) await cache.podDevices({ namespace: "a", name, uid: name }, never);
    expect(cache.size()).toBe(2);
    await cache.podDevices({ namespace: "a", name: "p1", uid: "p1" }, never);
    expect(source.asked).toEqual(["a/p1/p1", "a/p2/p2", "a/p3/p3", "a/p1/p1"]);
  });
});
