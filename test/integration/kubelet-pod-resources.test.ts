// The pod-resources client (src/kubelet/pod-resources.ts, real gRPC over a unix socket) against
// the stand-in kubelet serving the real v1 service: Get where served, List where not (and from
// then on), RESOURCE_EXHAUSTED retried with backoff, failures as CniErrors naming the socket.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/cni/error.js";
import { createPodResourcesClient, type PodResourcesClient } from "../../src/kubelet/pod-resources.js";
import { cniFailure } from "../support/cni-plugins.js";
import { startKubeletStandin, type KubeletStandin } from "../support/kubelet-standin.js";

const SRIOV = "intel.com/sriov";
const signal = () => AbortSignal.timeout(20_000);

describe("kubelet pod-resources client", () => {
  let dir: string;
  let kubelet: KubeletStandin;
  let client: PodResourcesClient;
  const sleeps: number[] = [];
  const settings = (socket: string, retries = 3) => ({
    podResourcesSocket: socket,
    requestTimeoutMs: 5_000,
    retries,
    retryBackoffMs: 100,
  });
  const open = (retries?: number) =>
    createPodResourcesClient(settings(kubelet.socket, retries), {
      // Backoff is recorded, not waited for: a test asserts behaviour, never timing.
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "plexus-kubelet-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    kubelet = await startKubeletStandin(join(dir, `kubelet-${Math.random().toString(36).slice(2)}.sock`));
    kubelet.setPod("team-a", "vf-0", [
      { container: "app", resource: SRIOV, ids: ["0000:18:02.5", "0000:18:02.3"] },
      { container: "side", resource: SRIOV, ids: ["0000:18:02.4"] },
      { container: "side", resource: "nvidia.com/gpu", ids: ["GPU-1"] },
    ]);
    kubelet.setPod("team-b", "vf-0", [{ container: "app", resource: SRIOV, ids: ["0000:18:03.1"] }]);
    sleeps.length = 0;
  });
  afterEach(async () => {
    client?.close();
    await kubelet.stop();
  });

  const expected = new Map([
    [SRIOV, ["0000:18:02.3", "0000:18:02.4", "0000:18:02.5"]],
    ["nvidia.com/gpu", ["GPU-1"]],
  ]);

  it("Get: the pod's devices by resource, merged over its containers and sorted", async () => {
    client = open();
    expect(await client.podDevices({ namespace: "team-a", name: "vf-0" }, signal())).toEqual(expected);
    expect(kubelet.calls).toEqual(["Get"]);
  });

  it.each(["unimplemented", "disabled"] as const)(
    "Get %s: List, matched by namespace and name, and List from then on",
    async (mode) => {
      kubelet.get = mode;
      client = open();
      expect(await client.podDevices({ namespace: "team-a", name: "vf-0" }, signal())).toEqual(expected);
      expect(await client.podDevices({ namespace: "team-b", name: "vf-0" }, signal())).toEqual(
        new Map([[SRIOV, ["0000:18:03.1"]]]),
      );
      expect(kubelet.calls).toEqual(["Get", "List", "List"]);
    },
  );

  it("a pod the kubelet does not know has no devices", async () => {
    client = open();
    expect(await client.podDevices({ namespace: "team-a", name: "nope" }, signal())).toEqual(new Map());
  });

  it("RESOURCE_EXHAUSTED (the kubelet's rate limit) is retried with a doubling backoff", async () => {
    kubelet.exhaust = 3;
    client = open(3);
    expect(await client.podDevices({ namespace: "team-a", name: "vf-0" }, signal())).toEqual(expected);
    expect(kubelet.calls).toEqual(["Get", "Get", "Get", "Get"]);
    expect(sleeps).toHaveLength(3);
    sleeps.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(50 * 2 ** i);
      expect(ms).toBeLessThan(150 * 2 ** i);
    });
  });

  it("still exhausted after the retries: code 11 (try again later) naming the socket and the status", async () => {
    kubelet.exhaust = 10;
    client = open(2);
    const err = await cniFailure(client.podDevices({ namespace: "team-a", name: "vf-0" }, signal()));
    expect(err.code).toBe(ErrorCode.TryAgainLater);
    expect(err.msg).toBe(`kubelet pod-resources API at ${kubelet.socket}: rejected by rate limit (RESOURCE_EXHAUSTED)`);
    expect(kubelet.calls).toHaveLength(3);
  });

  it("no socket: code 11 naming the path and the setting, without loading a channel", async () => {
    client = createPodResourcesClient(settings(join(dir, "missing.sock")));
    const err = await cniFailure(client.podDevices({ namespace: "team-a", name: "vf-0" }, signal()));
    expect([err.code, err.msg]).toEqual([
      ErrorCode.TryAgainLater,
      `kubelet pod-resources API: no socket at ${join(dir, "missing.sock")} (kubelet.podResourcesSocket in the Plexus configuration)`,
    ]);
  });

  it("an aborted call stops", async () => {
    client = open();
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(client.podDevices({ namespace: "team-a", name: "vf-0" }, controller.signal)).rejects.toThrow();
  });
});
