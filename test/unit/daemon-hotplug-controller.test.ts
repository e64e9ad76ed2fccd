// When the daemon's hot-plug controller reconciles a pod (src/daemon/hotplug-controller.ts):
// the sandboxes come from a real state directory; the pod cache, the scheduler and the reconcile
// itself are plain objects (the reconcile is tested for real in test/netns/plexus-hotplug.test.ts).

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCacheStore } from "../../src/cache/store.js";
import { AttachmentRecordSchema } from "../../src/cache/record.js";
import type { CacheChange, NodeCacheListener } from "../../src/k8s/node-caches.js";
import type { NetworkAttachmentDefinition, Pod } from "../../src/k8s/port.js";
import { createHotplugController, type HotplugTarget } from "../../src/daemon/hotplug-controller.js";
import type { HotplugOutcome } from "../../src/engine/hotplug.js";
import { createLogger } from "../../src/log/logger.js";

const CID = "c0ffee00c0ffee00";
const UID = "0b0e1c5e-0000-4000-8000-000000000001";
const OK: HotplugOutcome = { attached: [], detached: [], failures: [], cancelled: false };

const pod = (annotations: Record<string, string>, extra: Partial<Pod["metadata"]> = {}): Pod => ({
  metadata: { namespace: "default", name: "web-0", uid: UID, annotations, ...extra },
});

describe("hot-plug controller", () => {
  let dir: string;
  let current: Pod | undefined;
  let listener: NodeCacheListener | undefined;
  let calls: { target: HotplugTarget; signal: AbortSignal }[];
  let answer: (t: HotplugTarget, s: AbortSignal) => Promise<HotplugOutcome>;
  const metrics: string[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "plexus-hotplug-unit-"));
    await createCacheStore(dir).saveAttachment(
      AttachmentRecordSchema.parse({
        kind: "plexus.attachment",
        version: 1,
        containerId: CID,
        primaryIfName: "eth0",
        ifName: "eth0",
        index: 0,
        role: "cluster",
        networkRef: "cbr0",
        pod: { namespace: "default", name: "web-0", uid: UID },
        netns: "/run/netns/x",
        cniArgs: [],
        capabilityArgs: {},
        config: { cniVersion: "1.0.0", name: "cbr0", plugins: [{ type: "bridge" }] },
        sandbox: { conf: { cniVersion: "1.0.0", name: "plexus" }, cniPath: "/opt/cni/bin", cniArgs: "" },
        state: "added",
        createdAt: "2026-01-01T00:00:00Z",
        updatedAt: "2026-01-01T00:00:00Z",
      }),
    );
    current = pod({ "k8s.v1.cni.cncf.io/networks": "a" });
    listener = undefined;
    calls = [];
    answer = async () => OK;
    metrics.length = 0;
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const start = async () => {
    const c = createHotplugController({
      stateDirs: [dir],
      pods: {
        cachedPod: () => current,
        subscribe: (l) => {
          listener = l;
          return () => (listener = undefined);
        },
      },
      reconcile: (target, signal) => {
        calls.push({ target, signal });
        return answer(target, signal);
      },
      schedule: (_id, _signal, task) => task(),
      metrics: {
        hotplugOperation: (op, outcome) => metrics.push(`${op}:${outcome}`),
        hotplugReconcile: (outcome) => metrics.push(`reconcile:${outcome}`),
        hotplugRetrying: () => undefined,
      },
      log: createLogger({ level: "error", toStderr: true }),
      backoffMs: 20,
    });
    await c.start();
    await c.idle();
    return c;
  };
  const podChanged = (p: Pod) => {
    current = p;
    listener?.pod?.({ type: "upsert", key: "default/web-0", object: p } as CacheChange<Pod>);
  };

  it("reconciles every sandbox on disk at start (a restarted daemon converges), then only on a change that matters", async () => {
    const c = await start();
    expect(calls.map((x) => [x.target.containerId, x.target.stateDir])).toEqual([[CID, dir]]);
    podChanged(pod({ "k8s.v1.cni.cncf.io/networks": "a" })); // nothing it reads changed
    await c.idle();
    expect(calls).toHaveLength(1);
    podChanged(pod({ "k8s.v1.cni.cncf.io/networks": "a,b" }));
    await c.idle();
    expect(calls).toHaveLength(2);
    expect(metrics).toEqual(["reconcile:converged", "reconcile:converged"]);
    await c.stop();
  });

  it("never touches a terminating pod, a pod that opted out, or another pod of the same name", async () => {
    current = pod({ "k8s.v1.cni.cncf.io/networks": "a,b" }, { deletionTimestamp: "2026-01-01T00:00:00Z" });
    const c = await start();
    podChanged(pod({ "k8s.v1.cni.cncf.io/networks": "a,b", "plexus.dev/hotplug": "false" }));
    await c.idle();
    podChanged({ ...pod({ "k8s.v1.cni.cncf.io/networks": "c" }), metadata: { ...pod({}).metadata, uid: "other" } });
    await c.idle();
    expect(calls).toEqual([]);
    await c.stop();
  });

  it("a DEL of the container cancels the reconcile in progress, which is not retried", async () => {
    let release: () => void = () => undefined;
    answer = (_t, signal) =>
      new Promise((resolve) => {
        release = () => resolve({ ...OK, cancelled: signal.aborted });
        signal.addEventListener("abort", () => release());
      });
    const c = await (async () => {
      const ctl = createHotplugController({
        stateDirs: [dir],
        pods: { cachedPod: () => current, subscribe: (l) => ((listener = l), () => undefined) },
        reconcile: (target, signal) => (calls.push({ target, signal }), answer(target, signal)),
        schedule: (_id, _s, task) => task(),
        metrics: {
          hotplugOperation: () => undefined,
          hotplugReconcile: (o) => metrics.push(o),
          hotplugRetrying: () => undefined,
        },
        log: createLogger({ level: "error", toStderr: true }),
        backoffMs: 20,
      });
      await ctl.start();
      return ctl;
    })();
    expect(calls).toHaveLength(1);
    c.beforeCall({ CNI_COMMAND: "DEL", CNI_CONTAINERID: CID }, "");
    expect(calls[0]?.signal.aborted).toBe(true);
    await c.idle();
    podChanged(pod({ "k8s.v1.cni.cncf.io/networks": "x" }));
    await new Promise((r) => setTimeout(r, 60));
    await c.idle();
    expect(calls).toHaveLength(1);
    expect(metrics).toEqual(["cancelled"]);
    await c.stop();
  });

  it("a failure is retried with backoff; the creation of the NAD it waits for retries at once", async () => {
    let failing = true;
    answer = async () =>
      failing
        ? {
            ...OK,
            failures: [{ operation: "attach", network: "default/late", missingNad: "default/late", message: "no NAD" }],
          }
        : OK;
    const c = await start();
    // Retried after 20 ms, then 40 ms, ... with nothing else happening.
    for (let i = 0; i < 200 && calls.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(calls.length).toBeGreaterThanOrEqual(3);
    failing = false;
    const before = calls.length;
    listener?.nad?.({
      type: "upsert",
      key: "default/late",
      object: { metadata: { namespace: "default", name: "late" } },
    } as CacheChange<NetworkAttachmentDefinition>);
    await c.idle();
    expect(calls.length).toBe(before + 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls.length).toBe(before + 1); // converged: no more retries
    await c.stop();
  });
});
