// What an ADD costs the API server, and the Events it leaves, through the real client transport
// against the local API server: the engine with the daemon's warm caches (in this process, the
// runtime's side played by runPlugin with fake delegates), the thin plexus executable, and the
// event recorder's aggregation, rate limit and bounded queue.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPlugin } from "../../src/cli/plugin.js";
import type { Namespace, PodName, PodUid } from "../../src/cni/ids.js";
import { createKubeClient, startNodeKubeCaches, type NodeKubeCaches } from "../../src/k8s/client.js";
import type { KubeEvent } from "../../src/k8s/port.js";
import { defaultSleep } from "../../src/k8s/retry.js";
import { createLogger, silentLogger, type Logger } from "../../src/log/logger.js";
import { duplicateKeys } from "../support/log-lines.js";
import { fakePluginDir } from "../support/cni-plugins.js";
import { podArgs } from "../support/plexus.js";
import { netResult, recorderNad, startPlexusHarness, type HarnessPod, type PlexusHarness } from "./plexus-harness.js";
import { eventsIn, type RecordedEvent } from "../support/events.js";

const FAST = { requestTimeoutMs: 5_000, retries: 1, retryBackoffMs: 20 };
let h: PlexusHarness;

beforeAll(async () => {
  h = await startPlexusHarness();
  h.createNad("team-a", "net-a", recorderNad({ result: netResult("net1", "198.18.1.2/24") }));
  h.createNad("team-a", "broken", { cniVersion: "1.0.0", type: "fail" });
});

afterAll(async () => {
  await h?.cleanup();
});

function eventsOf(pod: HarnessPod): RecordedEvent[] {
  return eventsIn(h.api.store, pod.namespace, { fieldSelector: `involvedObject.uid=${pod.uid}` });
}

/** Polls `check` until it holds; fails after 10 s. */
async function eventually(check: () => boolean): Promise<void> {
  const until = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met within 10 s");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function eventuallyAsync(check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("condition not met within 10 s");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One CNI call through the plugin edge in this process, with the daemon's client. */
async function callWith(
  caches: NodeKubeCaches,
  command: string,
  pod: HarnessPod,
  logger: () => Logger = () => silentLogger(),
): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await runPlugin(
    {
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: pod.containerId,
        CNI_NETNS: pod.netns,
        CNI_IFNAME: "eth0",
        CNI_ARGS: podArgs(pod.namespace, pod.name, pod.uid, pod.containerId),
        CNI_PATH: fakePluginDir,
        RECORDER_FILE: h.recordFile,
      },
      readStdin: async () => JSON.stringify(h.conf()),
      writeStdout: (text) => (out += text),
      signal: AbortSignal.timeout(30_000),
    },
    { kube: async () => caches.client, logger },
  );
  return { code, out };
}

describe("the API cost of a pod, with the daemon's warm caches", () => {
  let caches: NodeKubeCaches;
  beforeAll(async () => {
    caches = startNodeKubeCaches({
      access: { kubeconfigPath: h.kubeconfig },
      nodeName: "node",
      settings: FAST,
      log: silentLogger(),
      watch: { backoffMs: 50, maxBackoffMs: 400 },
    });
    expect(await caches.whenSynced(AbortSignal.timeout(20_000))).toBe(true);
  });
  afterAll(async () => {
    await caches?.stop(AbortSignal.timeout(2_000));
  });

  it("ADD: one request, the status PATCH (plus its Events, written asynchronously); DEL: none", async () => {
    const pod = h.createPod("team-a", "cost-0", { "k8s.v1.cni.cncf.io/networks": "net-a" });
    // Warm: the pod has reached the cache through the watch.
    const pods = (): number => caches.cacheState().find((c) => c.resource === "pods")?.objects ?? 0;
    await eventually(
      () => pods() === h.api.store.list({ resource: "pods" }, { fieldSelector: "spec.nodeName=node" }).items.length,
    );
    h.api.requestLog.reset();
    const add = await callWith(caches, "ADD", pod);
    expect(add.code, add.out).toBe(0);
    await caches.client.flushEvents(AbortSignal.timeout(10_000));
    expect(h.api.requestLog.countsByVerb()).toEqual({ "patch pods/status": 1, "create events": 2 });
    expect(h.getPod(pod).metadata.annotations?.["k8s.v1.cni.cncf.io/network-status"]).toContain("198.18.1.2");

    h.api.requestLog.reset();
    const del = await callWith(caches, "DEL", pod);
    expect(del.code, del.out).toBe(0);
    expect(h.api.requestLog.total).toBe(0);
  });

  it("a repeated ADD of the same sandbox writes the same status again: nothing to write", async () => {
    const pod = h.createPod("team-a", "cost-1", { "k8s.v1.cni.cncf.io/networks": "net-a" });
    expect((await callWith(caches, "ADD", pod)).code).toBe(0);
    await caches.client.flushEvents(AbortSignal.timeout(10_000));
    // The watch brings the status the ADD wrote into the cache (a cache read costs no request).
    const ref = { namespace: pod.namespace as Namespace, name: pod.name as PodName, uid: pod.uid as PodUid };
    const cachedStatus = async (): Promise<string | undefined> =>
      (await caches.client.getPod(ref, AbortSignal.timeout(5_000))).metadata.annotations?.[
        "k8s.v1.cni.cncf.io/network-status"
      ];
    await eventuallyAsync(async () => (await cachedStatus()) !== undefined);
    h.api.requestLog.reset();
    expect((await callWith(caches, "ADD", pod)).code).toBe(0);
    await caches.client.flushEvents(AbortSignal.timeout(10_000));
    // Events of a repeat add to the first ones' counts (2 PATCHes); no status write, no read.
    expect(h.api.requestLog.countsByVerb()).toEqual({ "patch events": 2 });
    expect(eventsOf(pod).map((e) => e.count)).toEqual([2, 2]);
  });
});

describe("events aggregated per pod and reason, with the node recorded", () => {
  it("thin mode: 10 identical failures of 10 plexus processes make ONE Event with count 10", async () => {
    const pod = h.createPod("team-a", "failing-0", { "k8s.v1.cni.cncf.io/networks": "broken" });
    for (let i = 0; i < 10; i++) {
      // The runtime retries with a new sandbox each time.
      const out = await h.call("ADD", { ...pod, containerId: randomUUID().replaceAll("-", "") });
      expect(out.code).toBe(1);
    }
    const events = eventsOf(pod);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: "Warning",
      reason: "NetworkSetupFailed",
      count: 10,
      source: { component: "plexus", host: "node" },
      reportingInstance: "node",
    });
    expect(events[0]?.message).toContain("team-a/broken");
  });

  it("daemon: 10 identical events make one Event with count 10, in at most two writes", async () => {
    const pod = h.createPod("team-a", "noisy-0");
    const client = createKubeClient({
      kubeconfigPath: h.kubeconfig,
      settings: FAST,
      log: silentLogger(),
      nodeName: "node",
    });
    h.api.requestLog.reset();
    const event: KubeEvent = {
      pod: { namespace: pod.namespace as Namespace, name: pod.name as PodName, uid: pod.uid as PodUid },
      type: "Warning",
      reason: "NetworkSetupFailed",
      message: "the same failure",
    };
    for (let i = 0; i < 10; i++) client.recordEvent(event);
    await client.flushEvents(AbortSignal.timeout(10_000));
    expect(eventsOf(pod).map((e) => [e.reason, e.count])).toEqual([["NetworkSetupFailed", 10]]);
    expect(h.api.requestLog.total).toBeLessThanOrEqual(2);
    // Another message is another Event.
    client.recordEvent({ ...event, message: "another failure" });
    await client.flushEvents(AbortSignal.timeout(10_000));
    expect(eventsOf(pod)).toHaveLength(2);
  });

  it("rate-limited by a token bucket: the burst goes at once, then writes wait their turn", async () => {
    const pod = h.createPod("team-a", "burst-0");
    const waits: number[] = [];
    // The recorder waits through `sleep`: record what it asks for, wait a little for real.
    const sleep = async (ms: number, s: AbortSignal): Promise<void> => {
      waits.push(ms);
      await defaultSleep(Math.min(ms, 5), s);
    };
    const client = createKubeClient({
      kubeconfigPath: h.kubeconfig,
      settings: FAST,
      log: silentLogger(),
      sleep,
      events: { burst: 2, perSecond: 1 },
    });
    const ref = { namespace: pod.namespace as Namespace, name: pod.name as PodName, uid: pod.uid as PodUid };
    for (let i = 0; i < 4; i++) client.recordEvent({ pod: ref, type: "Normal", reason: "Test", message: `m${i}` });
    await client.flushEvents(AbortSignal.timeout(10_000));
    expect(eventsOf(pod)).toHaveLength(4);
    expect(waits.slice(0, 2)).toEqual([0, 0]);
    // 1 per second once the burst is spent: the 3rd owes ~1 s, the 4th ~2 s.
    expect(waits[2]).toBeGreaterThan(900);
    expect(waits[3]).toBeGreaterThan(1_900);
  });

  it("a full queue drops events and counts them; flushEvents' deadline drops the rest and counts them", async () => {
    const pod = h.createPod("team-a", "drop-0");
    const dropped: string[] = [];
    const caches = startNodeKubeCaches({
      access: { kubeconfigPath: h.kubeconfig },
      nodeName: "node",
      settings: FAST,
      log: silentLogger(),
      metrics: { apiRequest: () => undefined, eventDropped: (reason) => dropped.push(reason) },
      events: { burst: 1, perSecond: 0.001, queueLimit: 3 },
    });
    try {
      const ref = { namespace: pod.namespace as Namespace, name: pod.name as PodName, uid: pod.uid as PodUid };
      for (let i = 0; i < 5; i++)
        caches.client.recordEvent({ pod: ref, type: "Normal", reason: "Test", message: `m${i}` });
      // A repeat of a queued event adds to its count: no slot, no drop.
      caches.client.recordEvent({ pod: ref, type: "Normal", reason: "Test", message: "m2" });
      expect(dropped).toEqual(["queue-full", "queue-full"]);
      // One token: one event goes, the others wait ~1000 s, past this deadline.
      await caches.client.flushEvents(AbortSignal.timeout(500));
      expect(eventsOf(pod).map((e) => e.message)).toEqual(["m0"]);
      // m1, and m2 twice.
      expect(dropped).toEqual(["queue-full", "queue-full", "stopped", "stopped", "stopped"]);
    } finally {
      await caches.stop(AbortSignal.timeout(2_000));
    }
  });
});

describe("log lines of real runs", () => {
  it("never repeat a key: thin plexus processes and the daemon's engine and caches, at debug", async () => {
    const logFile = join(h.dir, "keys.log");
    const conf = h.conf({ logLevel: "debug", logFile });
    const ok = h.createPod("team-a", "keys-ok", { "k8s.v1.cni.cncf.io/networks": "net-a" });
    const bad = h.createPod("team-a", "keys-bad", { "k8s.v1.cni.cncf.io/networks": "broken" });
    const missing = h.createPod("team-a", "keys-missing", { "k8s.v1.cni.cncf.io/networks": "no-such-net" });
    expect((await h.call("ADD", ok, { conf })).code).toBe(0);
    expect((await h.call("CHECK", ok, { conf })).code).toBe(0);
    expect((await h.call("ADD", bad, { conf })).code).toBe(1);
    expect((await h.call("ADD", missing, { conf })).code).toBe(1);
    h.deletePod(ok);
    expect((await h.call("DEL", ok, { conf })).code).toBe(0);
    // DEL without a cache: the pod is re-resolved from the API, and it is gone.
    expect((await h.call("DEL", { ...ok, containerId: "no-cache-0" }, { conf })).code).toBe(0);

    // The daemon: one root logger for the process, children per component and per call.
    const root = createLogger({ level: "debug", file: logFile, toStderr: false }).child({ component: "daemon" });
    const caches = startNodeKubeCaches({
      access: { kubeconfigPath: h.kubeconfig },
      nodeName: "node",
      settings: FAST,
      log: root.child({ component: "k8s" }),
      watch: { backoffMs: 50, maxBackoffMs: 400 },
    });
    try {
      await caches.whenSynced(AbortSignal.timeout(20_000));
      const fresh = h.createPod("team-a", "keys-daemon", { "k8s.v1.cni.cncf.io/networks": "net-a" });
      expect((await callWith(caches, "ADD", fresh, () => root)).code).toBe(0);
      expect((await callWith(caches, "ADD", { ...bad, containerId: "daemon-bad" }, () => root)).code).toBe(1);
      expect((await callWith(caches, "DEL", fresh, () => root)).code).toBe(0);
      await caches.client.flushEvents(AbortSignal.timeout(10_000));
    } finally {
      await caches.stop(AbortSignal.timeout(2_000));
    }
    const lines = (await readFile(logFile, "utf8")).trim().split("\n");
    expect(lines.length).toBeGreaterThan(20);
    const repeated = lines.map((l) => ({ l, keys: duplicateKeys(l) })).filter((x) => x.keys.length > 0);
    expect(repeated).toEqual([]);
    // The lines do carry the keys a repeat would be made of.
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.some((p) => p["pod"] === "team-a/keys-bad" && p["component"] === "k8s")).toBe(true);
    expect(parsed.some((p) => p["pod"] === "team-a/keys-daemon" && p["component"] === "daemon")).toBe(true);
  });
});
