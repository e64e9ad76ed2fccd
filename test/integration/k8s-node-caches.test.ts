// The daemon's watch-backed caches (src/k8s/node-caches.ts) over real HTTPS against the local
// API server (src/local), through the real client transport: LIST then WATCH, 410 Gone and a
// re-LIST, the API server stopped and started again on the same address, the live reads a
// cache cannot answer, and the API requests each costs, counted by the server's request log.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Namespace, PodName, PodUid } from "../../src/cni/ids.js";
import { startNodeKubeCaches, type NodeKubeCaches } from "../../src/k8s/client.js";
import type { KubeMetricsSink } from "../../src/k8s/metrics.js";
import type { PodRef } from "../../src/k8s/port.js";
import type { KubeClientSettings } from "../../src/k8s/retry.js";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { ApiStore } from "../../src/local/api-store.js";
import { createLogger, type Logger } from "../../src/log/logger.js";

const CRD_DIR = new URL("../../crds", import.meta.url).pathname;
const PODS = { resource: "pods" } as const;
const NADS = { group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" } as const;
const NODE = "node-1";
const FAST: KubeClientSettings = { requestTimeoutMs: 5_000, retries: 2, retryBackoffMs: 20 };
const WATCH = { backoffMs: 50, maxBackoffMs: 400, timeoutSeconds: 60 };

let server: LocalApiServer;
let dir: string;
let kubeconfig: string;
let log: Logger;
const running: NodeKubeCaches[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "plexus-node-caches-"));
  server = await startLocalApiServer({ crdDir: CRD_DIR });
  kubeconfig = join(dir, "kubeconfig");
  await server.writeKubeconfig(kubeconfig);
  log = createLogger({ level: "debug", file: join(dir, "caches.log"), toStderr: false });
  for (const ns of ["team-a", "team-b"]) server.store.ensureNamespace(ns);
});

afterEach(async () => {
  for (const c of running.splice(0)) await c.stop(AbortSignal.timeout(2_000));
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A metrics sink that keeps what it is told. */
function recordingSink(): KubeMetricsSink & { requests: string[]; dropped: string[] } {
  const requests: string[] = [];
  const dropped: string[] = [];
  return {
    requests,
    dropped,
    apiRequest: (verb, resource, outcome) => requests.push(`${verb} ${resource} ${outcome}`),
    eventDropped: (reason) => dropped.push(reason),
  };
}

function start(
  overrides: { kubeconfigPath?: string; metrics?: KubeMetricsSink; events?: object } = {},
): NodeKubeCaches {
  const caches = startNodeKubeCaches({
    access: { kubeconfigPath: overrides.kubeconfigPath ?? kubeconfig },
    nodeName: NODE,
    settings: FAST,
    log,
    watch: WATCH,
    ...(overrides.metrics ? { metrics: overrides.metrics } : {}),
    ...(overrides.events ? { events: overrides.events } : {}),
  });
  running.push(caches);
  return caches;
}

/** Listed, and both watches open: from now on the caches follow the server. */
async function synced(caches: NodeKubeCaches): Promise<void> {
  expect(await caches.whenSynced(AbortSignal.timeout(20_000))).toBe(true);
  await eventually(() => caches.cacheState().every((c) => c.lastSyncAgeSeconds === 0));
}

function createPod(
  namespace: string,
  name: string,
  node = NODE,
  annotations: Record<string, string> = {},
  target: LocalApiServer = server,
): string {
  const pod = target.store.create(
    PODS,
    {
      metadata: { name, annotations, labels: { app: name } },
      spec: { nodeName: node, containers: [{ name: "app", image: "busybox", command: ["sleep", "1d"] }] },
    },
    { namespace },
  );
  return pod.metadata.uid ?? "";
}

function createNad(namespace: string, name: string, config: object, target: LocalApiServer = server): void {
  target.store.create(
    NADS,
    {
      metadata: { name, annotations: { "k8s.v1.cni.cncf.io/resourceName": "example.com/sriov", other: "x" } },
      spec: { config: JSON.stringify(config) },
    },
    { namespace },
  );
}

function ref(namespace: string, name: string, uid?: string): PodRef {
  return { namespace: namespace as Namespace, name: name as PodName, ...(uid ? { uid: uid as PodUid } : {}) };
}

const signal = (): AbortSignal => AbortSignal.timeout(20_000);

/** Polls `check` (a cache read, which costs no request) until it holds; fails after 10 s. */
async function eventually(check: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("condition not met within 10 s");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("list and watch", () => {
  it("lists the node's pods and every NAD, then watches from the list's resourceVersion", async () => {
    const uid = createPod("team-a", "lw-mine", NODE, {
      "k8s.v1.cni.cncf.io/networks": "net-a",
      "example.com/big": "x".repeat(4096),
    });
    createPod("team-a", "lw-other-node", "node-2");
    createNad("team-b", "lw-net", { cniVersion: "1.0.0", type: "bridge" });
    server.requestLog.reset();
    const caches = start();
    await synced(caches);
    await eventually(() => server.requestLog.entries().filter((e) => e.verb === "watch").length === 2);
    const byVerb = server.requestLog.countsByVerb();
    expect(byVerb).toMatchObject({ "list pods": 1, "watch pods": 1 });
    const listPods = server.requestLog.entries().find((e) => e.verb === "list" && e.resource === "pods");
    expect(new URLSearchParams(listPods?.query).get("fieldSelector")).toBe(`spec.nodeName=${NODE}`);
    const watchPods = server.requestLog.entries().find((e) => e.verb === "watch" && e.resource === "pods");
    const q = new URLSearchParams(watchPods?.query);
    expect(q.get("allowWatchBookmarks")).toBe("true");
    expect(Number(q.get("resourceVersion"))).toBeGreaterThan(0);

    server.requestLog.reset();
    const pod = await caches.client.getPod(ref("team-a", "lw-mine", uid), signal());
    // Trimmed: only what the engine reads.
    expect(pod).toEqual({
      metadata: {
        name: "lw-mine",
        namespace: "team-a",
        uid,
        resourceVersion: expect.stringMatching(/^\d+$/),
        annotations: { "k8s.v1.cni.cncf.io/networks": "net-a" },
      },
      spec: { nodeName: NODE },
      status: { phase: "Pending" },
    });
    const nad = await caches.client.getNetworkAttachmentDefinition("team-b", "lw-net", signal());
    expect(nad.metadata.annotations).toEqual({ "k8s.v1.cni.cncf.io/resourceName": "example.com/sriov" });
    expect(JSON.parse(nad.spec?.config ?? "")).toEqual({ cniVersion: "1.0.0", type: "bridge" });
    expect(server.requestLog.total).toBe(0);
    const state = caches.cacheState();
    expect(state).toEqual([
      { resource: "pods", synced: true, objects: 1, lastSyncAgeSeconds: 0 },
      { resource: "network-attachment-definitions", synced: true, objects: expect.any(Number), lastSyncAgeSeconds: 0 },
    ]);
  });
});

describe("reads the caches cannot answer", () => {
  it("follows changes through the watch, at no request per read", async () => {
    const caches = start();
    await synced(caches);
    const uid = createPod("team-a", "follow-0");
    await eventually(() => caches.cacheState()[0]?.objects === 2);
    server.requestLog.reset();
    expect((await caches.client.getPod(ref("team-a", "follow-0", uid), signal())).metadata.uid).toBe(uid);
    const current = server.store.get(PODS, "team-a", "follow-0");
    server.store.update(
      PODS,
      { ...current, metadata: { ...current.metadata, annotations: { "k8s.v1.cni.cncf.io/networks": "net-b" } } },
      { namespace: "team-a" },
    );
    await eventually(
      async () =>
        (await caches.client.getPod(ref("team-a", "follow-0", uid), signal())).metadata.annotations?.[
          "k8s.v1.cni.cncf.io/networks"
        ] === "net-b",
    );
    server.store.delete(PODS, "team-a", "follow-0");
    await eventually(() => caches.cacheState()[0]?.objects === 1);
    expect(server.requestLog.countsByVerb()).toEqual({});
  });

  it("a pod created a moment before its ADD is read from the API at once, with one request", async () => {
    const caches = start();
    await synced(caches);
    server.requestLog.reset();
    const uid = createPod("team-a", "just-created");
    const pod = await caches.client.getPod(ref("team-a", "just-created", uid), signal());
    expect(pod.metadata.uid).toBe(uid);
    expect(server.requestLog.countsByVerb()).toEqual({ "get pods": 1 });
  });

  it("a cached pod with another UID than the runtime's is read from the API (the cache may be behind)", async () => {
    const caches = start();
    const oldUid = createPod("team-a", "recreated-0");
    await synced(caches);
    await eventually(
      async () => (await caches.client.getPod(ref("team-a", "recreated-0"), signal())).metadata.uid === oldUid,
    );
    server.requestLog.reset();
    server.store.delete(PODS, "team-a", "recreated-0");
    const newUid = createPod("team-a", "recreated-0");
    // The runtime sets up the new pod before the cache heard of it.
    const pod = await caches.client.getPod(ref("team-a", "recreated-0", newUid), signal());
    expect(pod.metadata.uid).toBe(newUid);
    expect(server.requestLog.countsByVerb()).toEqual({ "get pods": 1 });
  });

  it("a NAD changed between two pods is seen by the second, from the cache", async () => {
    const caches = start();
    createNad("team-a", "changing", { cniVersion: "1.0.0", type: "macvlan", mode: "bridge" });
    await synced(caches);
    await eventually(
      async () => (await caches.client.getNetworkAttachmentDefinition("team-a", "changing", signal())) !== undefined,
    );
    server.requestLog.reset();
    const first = await caches.client.getNetworkAttachmentDefinition("team-a", "changing", signal());
    expect(JSON.parse(first.spec?.config ?? "")).toMatchObject({ mode: "bridge" });
    const current = server.store.get(NADS, "team-a", "changing");
    server.store.update(
      NADS,
      { ...current, spec: { config: JSON.stringify({ cniVersion: "1.0.0", type: "macvlan", mode: "private" }) } },
      { namespace: "team-a" },
    );
    await eventually(
      async () =>
        JSON.parse(
          (await caches.client.getNetworkAttachmentDefinition("team-a", "changing", signal())).spec?.config ?? "",
        ).mode === "private",
    );
    expect(server.requestLog.total).toBe(0);
  });

  it("a NAD created a moment ago is read from the API", async () => {
    const caches = start();
    await synced(caches);
    server.requestLog.reset();
    createNad("team-b", "brand-new", { cniVersion: "1.0.0", type: "bridge" });
    const nad = await caches.client.getNetworkAttachmentDefinition("team-b", "brand-new", signal());
    expect(nad.metadata.name).toBe("brand-new");
    expect(server.requestLog.countsByVerb()).toEqual({ "get network-attachment-definitions.k8s.cni.cncf.io": 1 });
    const missing = await caches.client
      .getNetworkAttachmentDefinition("team-b", "no-such-nad", signal())
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({ kind: "not-found" });
  });
});

describe("recovering", () => {
  it("410 Gone: the server forgot the watch's resourceVersion, so the cache lists again and catches up", async () => {
    const caches = start();
    createPod("team-a", "gone-keep");
    createPod("team-a", "gone-delete");
    createPod("team-a", "gone-delete-too");
    await synced(caches);
    server.requestLog.reset();
    // In one synchronous block, before the client can watch again: the watch ends, changes
    // happen, and the history they are in is compacted away.
    server.endWatches();
    server.store.delete(PODS, "team-a", "gone-delete");
    server.store.delete(PODS, "team-a", "gone-delete-too");
    const uid = createPod("team-a", "gone-new");
    server.store.compact();
    await eventually(
      () => server.requestLog.entries().filter((e) => e.verb === "list" && e.resource === "pods").length === 1,
    );
    const relist = server.requestLog.entries().find((e) => e.verb === "list" && e.resource === "pods");
    // After a 410 the list is at the latest version, not from the watch cache (resourceVersion=0).
    expect(new URLSearchParams(relist?.query).get("resourceVersion")).toBeNull();
    // One fewer pod than before: a count only the new list can give.
    const onNode = server.store.list(PODS, { fieldSelector: `spec.nodeName=${NODE}` }).items.length;
    await eventually(async () => (await podCount(caches)) === onNode);
    server.requestLog.reset();
    expect((await caches.client.getPod(ref("team-a", "gone-new", uid), signal())).metadata.uid).toBe(uid);
    expect(server.requestLog.total).toBe(0);
  });

  it("the API server restarted mid-watch: the caches reconnect and catch up on what changed while it was down", async () => {
    const stateFile = join(dir, "restart-state.json");
    const first = await startLocalApiServer({ crdDir: CRD_DIR, stateFile });
    const path = join(dir, "restart.kubeconfig");
    await first.writeKubeconfig(path);
    first.store.ensureNamespace("team-a");
    createPod("team-a", "r-stays", NODE, {}, first);
    createPod("team-a", "r-goes", NODE, {}, first);
    createNad("team-a", "r-net", { cniVersion: "1.0.0", type: "bridge", v: 1 }, first);
    const caches = start({ kubeconfigPath: path });
    await synced(caches);
    await first.stop();
    await eventually(() => caches.cacheState().every((c) => c.lastSyncAgeSeconds > 0));
    // What changes while the server is down: written into its state file, as another API
    // server instance (or etcd) would have it when this one comes back.
    const offline = new ApiStore();
    offline.load(JSON.parse(await readFile(stateFile, "utf8")));
    offline.delete(PODS, "team-a", "r-goes");
    const uid = offline.create(
      PODS,
      { metadata: { name: "r-new" }, spec: { nodeName: NODE, containers: [{ name: "a", image: "b" }] } },
      { namespace: "team-a" },
    ).metadata.uid;
    const nad = offline.get(NADS, "team-a", "r-net");
    offline.update(NADS, { ...nad, spec: { config: JSON.stringify({ cniVersion: "1.0.0", type: "bridge", v: 2 }) } });
    await writeFile(stateFile, JSON.stringify(offline.dump()));
    const second = await startLocalApiServer({
      crdDir: CRD_DIR,
      stateFile,
      port: first.port,
      token: first.token,
      ...(first.tlsMaterial ? { tlsMaterial: first.tlsMaterial } : {}),
    });
    try {
      await eventually(async () => {
        const n = await caches.client.getNetworkAttachmentDefinition("team-a", "r-net", signal());
        return JSON.parse(n.spec?.config ?? "{}").v === 2 && caches.cacheState()[0]?.lastSyncAgeSeconds === 0;
      });
      second.requestLog.reset();
      expect((await caches.client.getPod(ref("team-a", "r-new", uid), signal())).metadata.uid).toBe(uid);
      expect(await podCount(caches)).toBe(2);
      expect(second.requestLog.total).toBe(0);
    } finally {
      await caches.stop(AbortSignal.timeout(2_000));
      await second.stop();
    }
  });
});

/** Pods in the cache (read from cacheState, which costs no request). */
async function podCount(caches: NodeKubeCaches): Promise<number> {
  return caches.cacheState().find((c) => c.resource === "pods")?.objects ?? -1;
}

describe("metrics", () => {
  it("counts every request the server saw, by verb and resource, errors included", async () => {
    server.requestLog.reset();
    const metrics = recordingSink();
    const caches = start({ metrics });
    await synced(caches);
    await caches.client.getPod(ref("team-a", "no-such-pod"), signal()).catch(() => undefined);
    await caches.client.getNetworkAttachmentDefinition("team-b", "lw-net", signal());
    await caches.stop(AbortSignal.timeout(2_000));
    // Each watch is counted when it ends (stop ends them).
    const seen = server.requestLog.entries().map((e) => `${e.verb} ${e.resource?.replace(".k8s.cni.cncf.io", "")}`);
    expect(metrics.requests.map((r) => r.replace(/ (ok|error)$/, "")).sort()).toEqual(seen.sort());
    expect(metrics.requests).toContain("get pods error");
    expect(metrics.requests).toContain("list pods ok");
    expect(metrics.requests).toContain("watch network-attachment-definitions ok");
  });
});
