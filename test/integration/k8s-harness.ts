// The Kubernetes client (src/k8s/client.ts) over real HTTPS against the local API server
// (src/local), for the k8s-client-*.test.ts files: TLS verified with the kubeconfig's CA,
// bearer tokens, Status errors. Every log line the clients write goes to a real pino file
// logger; each file checks at its end that no token reached it.
//
//   const h = await startK8sHarness();         afterAll(() => h.cleanup());
//   const uid = h.createPod("team-a", "web-0");
//   await h.kube.getPod(ref("team-a", "web-0", uid), signal());

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { parseNamespace, parsePodName, parsePodUid } from "../../src/cni/ids.js";
import { createKubeClient, type CreateKubeClientOptions } from "../../src/k8s/client.js";
import { KubeError, type KubeClient, type PodRef } from "../../src/k8s/port.js";
import type { KubeClientSettings } from "../../src/k8s/retry.js";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { createLogger, type Logger } from "../../src/log/logger.js";

export const CRD_DIR = new URL("../../crds", import.meta.url).pathname;
export const PODS = { resource: "pods" } as const;
export const NADS = { group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" } as const;
export const EVENTS = { resource: "events" } as const;
export const STATUS_KEY = "k8s.v1.cni.cncf.io/network-status";
export const FAST: KubeClientSettings = { requestTimeoutMs: 5_000, retries: 2, retryBackoffMs: 20 };

export interface K8sHarness {
  readonly server: LocalApiServer;
  /** A temp dir for kubeconfigs and the log, removed by cleanup(). */
  readonly dir: string;
  readonly kubeconfig: string;
  readonly log: Logger;
  /** A client with the FAST settings on the server's own kubeconfig. */
  readonly kube: KubeClient;
  client(overrides?: Partial<CreateKubeClientOptions>): KubeClient;
  /** Every token any client of this harness was given: none may reach a log line. */
  readonly secrets: string[];
  /** A pod in `namespace` on node-1; returns its UID. */
  createPod(namespace: string, name: string, annotations?: Record<string, string>): string;
  annotationsOf(namespace: string, name: string): Record<string, string> | undefined;
  /** Requests the server answered with this method and path. */
  count(method: string, path: string): number;
  /** The server's own kubeconfig with some fields changed, written as JSON (which is YAML). */
  variantKubeconfig(name: string, change: { server?: string; user?: Record<string, unknown> }): Promise<string>;
  /** What the clients logged so far. */
  logText(): Promise<string>;
  cleanup(): Promise<void>;
}

export async function startK8sHarness(): Promise<K8sHarness> {
  const dir = await mkdtemp(join(tmpdir(), "plexus-k8s-client-"));
  const server = await startLocalApiServer({ crdDir: CRD_DIR });
  const kubeconfig = join(dir, "kubeconfig");
  await server.writeKubeconfig(kubeconfig);
  const logFile = join(dir, "client.log");
  const log = createLogger({ level: "debug", file: logFile, toStderr: false });
  for (const ns of ["team-a", "team-b"]) server.store.ensureNamespace(ns);
  const client = (overrides: Partial<CreateKubeClientOptions> = {}): KubeClient =>
    createKubeClient({ kubeconfigPath: kubeconfig, settings: FAST, log, ...overrides });
  return {
    server,
    dir,
    kubeconfig,
    log,
    kube: client(),
    client,
    secrets: [server.token],
    createPod(namespace, name, annotations = {}) {
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
    },
    annotationsOf: (namespace, name) => server.store.get(PODS, namespace, name).metadata.annotations,
    count: (method, path) => server.requestLog.entries().filter((e) => e.method === method && e.path === path).length,
    async variantKubeconfig(name, change) {
      const doc = server.kubeconfig();
      const path = join(dir, name);
      const clusters = doc.clusters.map((c) => ({
        ...c,
        cluster: { ...c.cluster, ...(change.server !== undefined ? { server: change.server } : {}) },
      }));
      const users = doc.users.map((u) => ({ ...u, user: change.user ?? u.user }));
      await writeFile(path, JSON.stringify({ ...doc, clusters, users }), { mode: 0o600 });
      return path;
    },
    logText: () => readFile(logFile, "utf8").catch(() => ""),
    async cleanup() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function ref(namespace: string, name: string, uid?: string): PodRef {
  return {
    namespace: parseNamespace(namespace),
    name: parsePodName(name),
    ...(uid !== undefined ? { uid: parsePodUid(uid) } : {}),
  };
}

/** The error a promise rejects with (the test fails if it resolves). */
export async function failure(promise: Promise<unknown>): Promise<KubeError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(KubeError);
  return outcome.error as KubeError;
}

export const signal = (): AbortSignal => AbortSignal.timeout(30_000);

export interface HungServer {
  readonly port: number;
  readonly sockets: Socket[];
  close(): Promise<void>;
}

/** A TCP listener that accepts and never says a word: an API server hung mid-handshake. */
export async function startHungServer(): Promise<HungServer> {
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

/** Whether `check` holds within `ms` (polled). */
export async function eventually(check: () => boolean, ms = 2_000): Promise<boolean> {
  const until = performance.now() + ms;
  while (!check() && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
  return check();
}
