// The Kubernetes client (src/k8s/client.ts) over real HTTPS against the local API server
// (src/local): TLS verified with the kubeconfig's CA, bearer tokens, Status errors, conflicts.
// Failures are real too: a stopped server, a server answering 5xx, a TCP listener that never
// answers. Every log line the client writes goes to a real pino file logger, checked at the end.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Namespace, PodName, PodUid } from "../../src/cni/ids.js";
import { kubeconfigAvailable } from "../../src/k8s/api-access.js";
import { createKubeClient, type CreateKubeClientOptions } from "../../src/k8s/client.js";
import { KubeError, type KubeClient, type PodRef } from "../../src/k8s/port.js";
import { defaultSleep, maxRequestDurationMs, type KubeClientSettings } from "../../src/k8s/retry.js";
import { forbidden, internalError } from "../../src/local/api-errors.js";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { createLogger, type Logger } from "../../src/log/logger.js";

const CRD_DIR = new URL("../../crds", import.meta.url).pathname;
const PODS = { resource: "pods" } as const;
const NADS = { group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" } as const;
const EVENTS = { resource: "events" } as const;
const STATUS_KEY = "k8s.v1.cni.cncf.io/network-status";
const FAST: KubeClientSettings = { requestTimeoutMs: 5_000, retries: 2, retryBackoffMs: 20 };
const run = promisify(execFile);

let server: LocalApiServer;
let dir: string;
let kubeconfig: string;
let logFile: string;
let log: Logger;
let kube: KubeClient;
/** Every token any client in this file was given: none may reach a log line. */
const secrets: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "plexus-k8s-client-"));
  server = await startLocalApiServer({ crdDir: CRD_DIR });
  secrets.push(server.token);
  kubeconfig = join(dir, "kubeconfig");
  await server.writeKubeconfig(kubeconfig);
  logFile = join(dir, "client.log");
  log = createLogger({ level: "debug", file: logFile, toStderr: false });
  kube = client();
  for (const ns of ["team-a", "team-b"]) server.store.ensureNamespace(ns);
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function client(overrides: Partial<CreateKubeClientOptions> = {}): KubeClient {
  return createKubeClient({ kubeconfigPath: kubeconfig, settings: FAST, log, ...overrides });
}

function ref(namespace: string, name: string, uid?: string): PodRef {
  return {
    namespace: namespace as Namespace,
    name: name as PodName,
    ...(uid !== undefined ? { uid: uid as PodUid } : {}),
  };
}

function createPod(namespace: string, name: string, annotations: Record<string, string> = {}): string {
  const pod = server.store.create(
    PODS,
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, annotations },
      spec: { nodeName: "node-1", containers: [{ name: "app", image: "busybox" }] },
    },
    { namespace },
  );
  return pod.metadata.uid ?? "";
}

function annotationsOf(namespace: string, name: string): Record<string, string> | undefined {
  return server.store.get(PODS, namespace, name).metadata.annotations;
}

/** The error a promise rejects with (the test fails if it resolves). */
async function failure(promise: Promise<unknown>): Promise<KubeError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(KubeError);
  return outcome.error as KubeError;
}

function count(method: string, path: string): number {
  return server.requestLog.entries().filter((e) => e.method === method && e.path === path).length;
}

const signal = (): AbortSignal => AbortSignal.timeout(30_000);

describe("getPod", () => {
  it("returns the pod's metadata and node", async () => {
    const uid = createPod("team-a", "web-0", { "k8s.v1.cni.cncf.io/networks": "bridge-b" });
    const pod = await kube.getPod(ref("team-a", "web-0", uid), signal());
    expect(pod.metadata).toMatchObject({
      name: "web-0",
      namespace: "team-a",
      uid,
      annotations: { "k8s.v1.cni.cncf.io/networks": "bridge-b" },
    });
    expect(pod.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(pod.spec).toEqual({ nodeName: "node-1" });
  });

  it("says not-found for a pod that does not exist, after one request", async () => {
    server.requestLog.reset();
    const err = await failure(kube.getPod(ref("team-a", "nope"), signal()));
    expect(err).toMatchObject({ kind: "not-found", status: 404, message: "pod team-a/nope: not found" });
    expect(server.requestLog.total).toBe(1);
  });

  it("returns the pod of that name whatever its UID: the caller compares (a newer pod is not no pod)", async () => {
    const uid = createPod("team-a", "recreated", { "kubernetes.io/config.source": "api" });
    server.requestLog.reset();
    const pod = await kube.getPod(ref("team-a", "recreated", "0b7e3c6e-old"), signal());
    expect(pod.metadata.uid).toBe(uid);
    expect(server.requestLog.total).toBe(1);
  });

  it("tolerates a static pod's mirror, whose UID differs from the runtime's", async () => {
    const uid = createPod("team-a", "etcd-node-1", {
      "kubernetes.io/config.source": "file",
      "kubernetes.io/config.mirror": "abc",
    });
    const pod = await kube.getPod(ref("team-a", "etcd-node-1", "static-uid-from-kubelet"), signal());
    expect(pod.metadata.uid).toBe(uid);
  });
});

describe("getNetworkAttachmentDefinition", () => {
  const config = JSON.stringify({ cniVersion: "1.0.0", type: "bridge", bridge: "br-b" });

  it("returns spec.config as written", async () => {
    server.store.create(
      NADS,
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name: "bridge-b" },
        spec: { config },
      },
      { namespace: "team-b" },
    );
    const nad = await kube.getNetworkAttachmentDefinition("team-b", "bridge-b", signal());
    expect(nad.metadata).toMatchObject({ name: "bridge-b", namespace: "team-b" });
    expect(nad.spec).toEqual({ config });
  });

  it("says not-found, naming the NAD", async () => {
    const err = await failure(kube.getNetworkAttachmentDefinition("team-b", "missing", signal()));
    expect(err).toMatchObject({
      kind: "not-found",
      status: 404,
      message: "network-attachment-definition team-b/missing: not found",
    });
  });

  it("passes the server's reason on for forbidden, without retrying", async () => {
    server.requestLog.reset();
    const restore = failGets("secret-net", () =>
      forbidden(
        { group: "k8s.cni.cncf.io", plural: "network-attachment-definitions" },
        "secret-net",
        'User "plexus" cannot get resource',
      ),
    );
    try {
      const err = await failure(kube.getNetworkAttachmentDefinition("team-b", "secret-net", signal()));
      expect(err.kind).toBe("forbidden");
      expect(err.status).toBe(403);
      expect(err.message).toMatch(
        /^network-attachment-definition team-b\/secret-net: forbidden: .*cannot get resource/,
      );
      expect(server.requestLog.total).toBe(1);
    } finally {
      restore();
    }
  });
});

/** Makes the server's store throw for GETs of objects named `name` (a real Status over HTTP). */
function failGets(name: string, error: (attempt: number) => Error | undefined): () => void {
  const store = server.store;
  const original = store.get.bind(store);
  let attempt = 0;
  store.get = (r, ns, n) => {
    if (n === name) {
      const err = error(++attempt);
      if (err) throw err;
    }
    return original(r, ns, n);
  };
  return () => {
    store.get = original;
  };
}

describe("transient server errors", () => {
  it("retries a 500 and succeeds when the server recovers", async () => {
    createPod("team-a", "flaky-0");
    server.requestLog.reset();
    const restore = failGets("flaky-0", (attempt) => (attempt <= 2 ? internalError("etcd leader changed") : undefined));
    try {
      const pod = await kube.getPod(ref("team-a", "flaky-0"), signal());
      expect(pod.metadata.name).toBe("flaky-0");
      expect(count("GET", "/api/v1/namespaces/team-a/pods/flaky-0")).toBe(3);
    } finally {
      restore();
    }
  });

  it("gives up with unavailable after the configured retries, each counted by the server", async () => {
    createPod("team-a", "broken-0");
    server.requestLog.reset();
    const restore = failGets("broken-0", () => internalError("etcd is down"));
    const settings = { requestTimeoutMs: 5_000, retries: 3, retryBackoffMs: 10 };
    try {
      const err = await failure(client({ settings }).getPod(ref("team-a", "broken-0"), signal()));
      expect(err.kind).toBe("unavailable");
      expect(err.status).toBe(500);
      expect(err.message).toBe(
        "pod team-a/broken-0: unavailable: the API server answered 500: Internal error occurred: etcd is down (4 attempts)",
      );
      expect(count("GET", "/api/v1/namespaces/team-a/pods/broken-0")).toBe(settings.retries + 1);
    } finally {
      restore();
    }
  });
});

/** Another writer changes the pod (a label), as the kubelet or a controller would. */
function touchPod(namespace: string, name: string, label: string): void {
  const current = server.store.get(PODS, namespace, name);
  server.store.update(
    PODS,
    { ...current, metadata: { ...current.metadata, labels: { ...current.metadata.labels, [label]: "yes" } } },
    { namespace },
  );
}

describe("publishNetworkStatus", () => {
  const value = JSON.stringify(
    [{ name: "cbr0", interface: "eth0", ips: ["198.18.0.10"], default: true, dns: {} }],
    null,
    4,
  );
  const path = (name: string): string => `/api/v1/namespaces/team-a/pods/${name}/status`;

  it("is ONE merge patch of pods/status carrying the UID, and keeps every other field of the pod", async () => {
    const uid = createPod("team-a", "pub-0", { keep: "me" });
    // Status fields a typed client model might not know must survive the write.
    const current = server.store.get(PODS, "team-a", "pub-0");
    const status = { phase: "Running", podIP: "198.18.0.10", futureField: { from: "a newer Kubernetes" } };
    server.store.update(PODS, { ...current, status }, { namespace: "team-a", subresource: "status" });
    server.requestLog.reset();
    await kube.publishNetworkStatus(ref("team-a", "pub-0", uid), value, signal());
    expect(annotationsOf("team-a", "pub-0")).toEqual({ keep: "me", [STATUS_KEY]: value });
    expect(server.store.get(PODS, "team-a", "pub-0")["status"]).toEqual(status);
    expect(server.requestLog.countsByVerb()).toEqual({ "patch pods/status": 1 });
  });

  it("writes nothing when the pod this client read already holds the value (a repeated ADD)", async () => {
    const uid = server.store.get(PODS, "team-a", "pub-0").metadata.uid ?? "";
    const c = client();
    await c.getPod(ref("team-a", "pub-0", uid), signal());
    server.requestLog.reset();
    await c.publishNetworkStatus(ref("team-a", "pub-0", uid), value, signal());
    expect(server.requestLog.total).toBe(0);
  });

  it("is last-writer-wins for the annotation: a concurrent change of the pod is neither a conflict nor lost", async () => {
    const uid = createPod("team-a", "pub-race");
    const c = client();
    await c.getPod(ref("team-a", "pub-race", uid), signal());
    touchPod("team-a", "pub-race", "changed-after-the-read");
    server.requestLog.reset();
    await c.publishNetworkStatus(ref("team-a", "pub-race", uid), value, signal());
    expect(server.requestLog.entries().map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
      `PATCH ${path("pub-race")} 200`,
    ]);
    const pod = server.store.get(PODS, "team-a", "pub-race");
    expect(pod.metadata.annotations?.[STATUS_KEY]).toBe(value);
    expect(pod.metadata.labels).toEqual({ "changed-after-the-read": "yes" });
  });

  it("says not-found for a pod that is gone, after one request", async () => {
    server.requestLog.reset();
    const err = await failure(kube.publishNetworkStatus(ref("team-a", "gone-0", "uid-1"), value, signal()));
    expect(err).toMatchObject({ kind: "not-found", message: "pod team-a/gone-0: status: not found" });
    expect(server.requestLog.countsByVerb()).toEqual({ "patch pods/status": 1 });
  });

  it("does not write to a newer pod of the same name: the server refuses the UID (422), one GET tells why", async () => {
    createPod("team-a", "pub-new");
    server.requestLog.reset();
    const err = await failure(
      kube.publishNetworkStatus(ref("team-a", "pub-new", "uid-of-the-old-pod"), value, signal()),
    );
    expect(err.kind).toBe("not-found");
    expect(err.message).toContain("the pod was deleted and recreated");
    expect(server.requestLog.entries().map((e) => `${e.verb} ${e.resource} ${e.status}`)).toEqual([
      "patch pods/status 422",
      "get pods 200",
    ]);
    expect(annotationsOf("team-a", "pub-new")?.[STATUS_KEY]).toBeUndefined();
  });

  it("a known newer pod costs the PATCH alone", async () => {
    const uid = createPod("team-a", "pub-known");
    const c = client();
    await c.getPod(ref("team-a", "pub-known", uid), signal());
    server.requestLog.reset();
    const err = await failure(
      c.publishNetworkStatus(ref("team-a", "pub-known", "uid-of-the-old-pod"), value, signal()),
    );
    expect(err.kind).toBe("not-found");
    expect(annotationsOf("team-a", "pub-known")?.[STATUS_KEY]).toBeUndefined();
  });

  it("writes a static pod's mirror with the mirror's UID (the runtime knows another one)", async () => {
    const mirrorUid = createPod("team-a", "kube-proxy-node-1", { "kubernetes.io/config.source": "file" });
    server.requestLog.reset();
    await kube.publishNetworkStatus(ref("team-a", "kube-proxy-node-1", "static-uid-from-kubelet"), value, signal());
    expect(annotationsOf("team-a", "kube-proxy-node-1")?.[STATUS_KEY]).toBe(value);
    expect(server.requestLog.entries().map((e) => `${e.verb} ${e.resource} ${e.status}`)).toEqual([
      "patch pods/status 422",
      "get pods 200",
      "patch pods/status 200",
    ]);
    expect(server.store.get(PODS, "team-a", "kube-proxy-node-1").metadata.uid).toBe(mirrorUid);
  });
});

describe("recordEvent", () => {
  it("writes an Event after flushEvents that a LIST by involvedObject finds and kubectl describe shows", async () => {
    const uid = createPod("team-a", "ev-0");
    const message = "Add net1 [198.18.0.5/24] from team-b/bridge-b";
    const c = client();
    // The node is learned from the pod this client read.
    await c.getPod(ref("team-a", "ev-0", uid), signal());
    c.recordEvent({ pod: ref("team-a", "ev-0", uid), type: "Normal", reason: "AddedInterface", message });
    await c.flushEvents(signal());
    const listed = server.store.list(EVENTS, { namespace: "team-a", fieldSelector: `involvedObject.uid=${uid}` }).items;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      involvedObject: { apiVersion: "v1", kind: "Pod", name: "ev-0", namespace: "team-a", uid },
      reason: "AddedInterface",
      message,
      type: "Normal",
      source: { component: "plexus", host: "node-1" },
      reportingComponent: "plexus",
      reportingInstance: "node-1",
      count: 1,
    });
    expect(listed[0]?.["lastTimestamp"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const kubectl = [
      "--kubeconfig",
      kubeconfig,
      "--cache-dir",
      join(dir, "kubectl-cache"),
      "describe",
      "pod",
      "ev-0",
      "-n",
      "team-a",
    ];
    const { stdout } = await run("kubectl", kubectl, { timeout: 30_000 });
    // describe shows source.component; the node is in source.host (`kubectl get events -o wide`).
    expect(stdout).toMatch(
      /Normal\s+AddedInterface\s+\S+\s+plexus\s+Add net1 \[198\.18\.0\.5\/24\] from team-b\/bridge-b/,
    );
  });

  it("swallows a failure after one attempt", async () => {
    server.requestLog.reset();
    const event = {
      pod: ref("no-such-namespace", "x"),
      type: "Warning",
      reason: "NetworkSetupFailed",
      message: "m",
    } as const;
    const c = client();
    expect(c.recordEvent(event)).toBeUndefined();
    await c.flushEvents(signal());
    expect(count("POST", "/api/v1/namespaces/no-such-namespace/events")).toBe(1);
    expect(server.requestLog.total).toBe(1);
  });
});

/** The server's own kubeconfig with some fields changed, written as JSON (which is YAML). */
async function variantKubeconfig(
  name: string,
  change: { server?: string; user?: Record<string, unknown> },
): Promise<string> {
  const doc = server.kubeconfig();
  const path = join(dir, name);
  const clusters = doc.clusters.map((c) => ({
    ...c,
    cluster: { ...c.cluster, ...(change.server !== undefined ? { server: change.server } : {}) },
  }));
  const users = doc.users.map((u) => ({ ...u, user: change.user ?? u.user }));
  await writeFile(path, JSON.stringify({ ...doc, clusters, users }), { mode: 0o600 });
  return path;
}

describe("credentials and TLS", () => {
  it("says unauthorized for a wrong token, after one request", async () => {
    const wrong = `wrong-${Math.random().toString(36).slice(2)}`;
    secrets.push(wrong);
    const path = await variantKubeconfig("wrong-token.kubeconfig", { user: { token: wrong } });
    server.requestLog.reset();
    const err = await failure(client({ kubeconfigPath: path }).getPod(ref("team-a", "web-0"), signal()));
    expect(err).toMatchObject({ kind: "unauthorized", status: 401 });
    expect(err.message).toBe(
      "pod team-a/web-0: unauthorized: the API server rejected the credentials (expired or revoked token?)",
    );
    expect(server.requestLog.total).toBe(1);
  });

  it("honours client-go's tokenFile, relative to the kubeconfig, re-read on every request", async () => {
    const tokenFile = join(dir, "rotating-token");
    await writeFile(tokenFile, "expired-token\n");
    secrets.push("expired-token");
    const c = client({
      kubeconfigPath: await variantKubeconfig("token-file.kubeconfig", { user: { tokenFile: "rotating-token" } }),
    });
    expect((await failure(c.getPod(ref("team-a", "web-0"), signal()))).kind).toBe("unauthorized");
    // The kubelet rotates the projected token in place; `kubectl create token > file` adds a newline.
    await writeFile(tokenFile, `${server.token}\n`);
    expect((await c.getPod(ref("team-a", "web-0"), signal())).metadata.name).toBe("web-0");
  });

  it("reaches the API in-cluster, from KUBERNETES_SERVICE_HOST/PORT and the service-account files", async () => {
    const saDir = join(dir, "serviceaccount");
    await mkdir(saDir);
    await writeFile(join(saDir, "token"), server.token);
    await writeFile(join(saDir, "ca.crt"), server.caCertPem ?? "");
    const env = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(server.port) };
    expect(kubeconfigAvailable({ inCluster: true, env, serviceAccountDir: saDir })).toBe(true);
    const c = createKubeClient({ inCluster: true, env, serviceAccountDir: saDir, settings: FAST, log });
    expect((await c.getPod(ref("team-a", "web-0"), signal())).metadata.name).toBe("web-0");
  });

  it("says unauthorized, naming the file, when the service-account token cannot be read", async () => {
    const saDir = join(dir, "serviceaccount-without-token");
    await mkdir(saDir);
    await writeFile(join(saDir, "ca.crt"), server.caCertPem ?? "");
    const env = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(server.port) };
    expect(kubeconfigAvailable({ inCluster: true, env, serviceAccountDir: saDir })).toBe(false);
    server.requestLog.reset();
    const c = createKubeClient({ inCluster: true, env, serviceAccountDir: saDir, settings: FAST, log });
    const err = await failure(c.getPod(ref("team-a", "web-0"), signal()));
    expect(err.kind).toBe("unauthorized");
    expect(err.message).toBe(`pod team-a/web-0: cannot read the bearer token file ${join(saDir, "token")}: ENOENT`);
    expect(server.requestLog.total).toBe(0);
  });

  it("refuses a server certificate the kubeconfig's CA did not sign, without retrying", async () => {
    const other = await startLocalApiServer();
    secrets.push(other.token);
    let sleeps = 0;
    try {
      const path = await variantKubeconfig("other-ca.kubeconfig", { server: other.url });
      const sleep = (ms: number, s: AbortSignal): Promise<void> => {
        sleeps++;
        return defaultSleep(ms, s);
      };
      const err = await failure(client({ kubeconfigPath: path, sleep }).getPod(ref("team-a", "web-0"), signal()));
      expect(err.kind).toBe("unavailable");
      expect(err.message).toMatch(
        /^pod team-a\/web-0: TLS verification of the API server .* failed .*check the certificate authority in the kubeconfig$/,
      );
      expect(sleeps).toBe(0);
      expect(other.requestLog.total).toBe(0);
    } finally {
      await other.stop();
    }
  });
});

interface HungServer {
  readonly port: number;
  readonly sockets: Socket[];
  close(): Promise<void>;
}

/** A TCP listener that accepts and never says a word: an API server hung mid-handshake. */
async function startHungServer(): Promise<HungServer> {
  const sockets: Socket[] = [];
  const listener: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => undefined);
    // Reads (and drops) what arrives, so it sees the client's FIN when the client gives up.
    socket.resume();
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const address = listener.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => listener.close(() => resolve()));
    },
  };
}

async function eventually(check: () => boolean, ms = 2_000): Promise<boolean> {
  const until = performance.now() + ms;
  while (!check() && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
  return check();
}

describe("an API server that is down or hung", () => {
  it("stopped: unavailable after the configured retries, within the bound the settings give", async () => {
    const gone = await startLocalApiServer();
    secrets.push(gone.token);
    const path = join(dir, "stopped.kubeconfig");
    await gone.writeKubeconfig(path);
    await gone.stop();
    const sleeps: number[] = [];
    const settings = { requestTimeoutMs: 2_000, retries: 3, retryBackoffMs: 40 };
    const sleep = (ms: number, s: AbortSignal): Promise<void> => {
      sleeps.push(ms);
      return defaultSleep(ms, s);
    };
    const c = client({ kubeconfigPath: path, settings, sleep });
    const started = performance.now();
    const err = await failure(c.getPod(ref("team-a", "web-0"), signal()));
    const elapsed = performance.now() - started;
    expect(err.kind).toBe("unavailable");
    expect(err.message).toMatch(
      new RegExp(
        `^pod team-a/web-0: API server https://127\\.0\\.0\\.1:${gone.port} unreachable: .*ECONNREFUSED.* \\(4 attempts\\)$`,
      ),
    );
    // One sleep between attempts, each in the upper half of its doubling backoff.
    expect(sleeps).toHaveLength(settings.retries);
    sleeps.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual((settings.retryBackoffMs * 2 ** i) / 2);
      expect(ms).toBeLessThanOrEqual(settings.retryBackoffMs * 2 ** i);
    });
    expect(elapsed).toBeLessThan(maxRequestDurationMs(settings));
    // Events are best effort: one attempt (the recorder's only waits are its rate limit's, 0 ms
    // within the burst), no error.
    sleeps.length = 0;
    c.recordEvent({ pod: ref("team-a", "web-0"), type: "Normal", reason: "AddedInterface", message: "m" });
    await c.flushEvents(signal());
    expect(sleeps).toEqual([0]);
  });

  it("stopped: the caller's deadline ends the backoff, and the error says what the last attempt hit", async () => {
    const gone = await startLocalApiServer();
    secrets.push(gone.token);
    const path = join(dir, "stopped-deadline.kubeconfig");
    await gone.writeKubeconfig(path);
    await gone.stop();
    const settings = { requestTimeoutMs: 2_000, retries: 3, retryBackoffMs: 10_000 };
    const started = performance.now();
    const err = await failure(
      client({ kubeconfigPath: path, settings }).getPod(ref("team-a", "web-0"), AbortSignal.timeout(300)),
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(err.kind).toBe("timeout");
    expect(err.message).toMatch(
      /the caller's deadline passed; the last attempt failed with: API server .* unreachable: .*ECONNREFUSED/,
    );
  });

  it("restarting: a request retried while the server comes back succeeds", async () => {
    const first = await startLocalApiServer({ tls: false });
    secrets.push(first.token);
    const path = join(dir, "restart.kubeconfig");
    await first.writeKubeconfig(path);
    const { port, token } = first;
    await first.stop();
    let second: LocalApiServer | undefined;
    const sleep = async (ms: number, s: AbortSignal): Promise<void> => {
      if (!second) {
        second = await startLocalApiServer({ tls: false, port, token });
        second.store.ensureNamespace("team-a");
        second.store.create(
          PODS,
          { metadata: { name: "web-0" }, spec: { containers: [{ name: "a", image: "b" }] } },
          { namespace: "team-a" },
        );
      }
      await defaultSleep(ms, s);
    };
    try {
      const pod = await client({
        kubeconfigPath: path,
        settings: { requestTimeoutMs: 2_000, retries: 3, retryBackoffMs: 20 },
        sleep,
      }).getPod(ref("team-a", "web-0"), signal());
      expect(pod.metadata.name).toBe("web-0");
      expect(second?.requestLog.total).toBe(1);
    } finally {
      await second?.stop();
    }
  });

  it("hung: each attempt ends at requestTimeoutMs, and the abandoned sockets are closed", async () => {
    const hung = await startHungServer();
    try {
      const path = await variantKubeconfig("hung.kubeconfig", { server: `https://127.0.0.1:${hung.port}` });
      const settings = { requestTimeoutMs: 300, retries: 1, retryBackoffMs: 10 };
      const started = performance.now();
      const err = await failure(client({ kubeconfigPath: path, settings }).getPod(ref("team-a", "web-0"), signal()));
      const elapsed = performance.now() - started;
      expect(err.kind).toBe("timeout");
      expect(err.message).toBe(
        `pod team-a/web-0: no answer from the API server https://127.0.0.1:${hung.port} within 300 ms (2 attempts)`,
      );
      expect(elapsed).toBeGreaterThanOrEqual(2 * 300 - 5);
      // The bound from the settings, plus scheduling slack on a busy machine.
      expect(elapsed).toBeLessThan(maxRequestDurationMs(settings) + 1_000);
      expect(hung.sockets).toHaveLength(2);
      expect(await eventually(() => hung.sockets.every((s) => s.closed))).toBe(true);
    } finally {
      await hung.close();
    }
  });

  it("hung: the caller's deadline ends the call, however long the per-attempt timeout", async () => {
    const hung = await startHungServer();
    try {
      const path = await variantKubeconfig("hung-caller.kubeconfig", { server: `https://127.0.0.1:${hung.port}` });
      const settings = { requestTimeoutMs: 60_000, retries: 5, retryBackoffMs: 1_000 };
      const started = performance.now();
      const err = await failure(
        client({ kubeconfigPath: path, settings }).getPod(ref("team-a", "web-0"), AbortSignal.timeout(400)),
      );
      const elapsed = performance.now() - started;
      expect(err.kind).toBe("timeout");
      expect(err.message).toBe(
        `pod team-a/web-0: gave up waiting for the API server https://127.0.0.1:${hung.port}: the caller's deadline passed`,
      );
      expect(elapsed).toBeGreaterThanOrEqual(395);
      expect(elapsed).toBeLessThan(2_000);
      expect(hung.sockets).toHaveLength(1);
      expect(await eventually(() => hung.sockets.every((s) => s.closed))).toBe(true);
    } finally {
      await hung.close();
    }
  });
});

describe("in a plugin process", () => {
  // The CLI bundles the client with esbuild into one CommonJS file; the plugin process must exit
  // as soon as its work is done, whatever connections the client pooled or gave up on.
  it("an esbuild CJS bundle works and leaves no handle that keeps the process alive", async () => {
    createPod("team-a", "exit-0");
    const hung = await startHungServer();
    try {
      const hungPath = await variantKubeconfig("hung-exit.kubeconfig", { server: `https://127.0.0.1:${hung.port}` });
      const entry = join(dir, "exit-check.ts");
      const clientModule = new URL("../../src/k8s/client.ts", import.meta.url).pathname;
      const loggerModule = new URL("../../src/log/logger.ts", import.meta.url).pathname;
      await writeFile(
        entry,
        `import { createKubeClient } from ${JSON.stringify(clientModule)};
import { silentLogger } from ${JSON.stringify(loggerModule)};
async function main() {
  const [kubeconfig, hungKubeconfig] = process.argv.slice(2);
  const pod = { namespace: "team-a", name: "exit-0" } as never;
  const ok = createKubeClient({ kubeconfigPath: kubeconfig, settings: { requestTimeoutMs: 20000, retries: 0, retryBackoffMs: 10 }, log: silentLogger() });
  const found = await ok.getPod(pod, AbortSignal.timeout(20000));
  const hung = createKubeClient({ kubeconfigPath: hungKubeconfig, settings: { requestTimeoutMs: 300, retries: 0, retryBackoffMs: 10 }, log: silentLogger() });
  const kind = await hung.getPod(pod, AbortSignal.timeout(20000)).then(() => "ok", (e: { kind: string }) => e.kind);
  // Nothing is left to do: how long the process lingers is what the sockets cost.
  const done = performance.now();
  process.on("exit", () => process.stdout.write(JSON.stringify({ name: found.metadata.name, kind, lingerMs: performance.now() - done })));
}
void main();
`,
      );
      const { build } = await import("esbuild");
      const bundle = join(dir, "exit-check.cjs");
      await build({
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node20",
        outfile: bundle,
        logLevel: "silent",
      });
      const { stdout } = await run(process.execPath, [bundle, kubeconfig, hungPath], { timeout: 30_000 });
      const out = JSON.parse(stdout) as { name: string; kind: string; lingerMs: number };
      expect(out).toMatchObject({ name: "exit-0", kind: "timeout" });
      // The pooled keep-alive socket is unref'd (the server would keep it open 5 s) and the hung
      // one was destroyed at the deadline (the hung server would keep it open forever).
      expect(out.lingerMs).toBeLessThan(1_000);
    } finally {
      await hung.close();
    }
  });
});

describe("logging", () => {
  it("logs requests at debug, and never a token", async () => {
    const text = await readFile(logFile, "utf8");
    expect(text).toContain('"msg":"API request"');
    expect(text).toContain('"msg":"API request failed, retrying"');
    expect(secrets.length).toBeGreaterThan(3);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
