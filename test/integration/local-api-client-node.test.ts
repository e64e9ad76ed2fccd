// The local API server through @kubernetes/client-node 1.4.0, as Plexus's k8s adapter will use
// it: a kubeconfig file with the CA (real TLS verification) and a bearer token.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  makeInformer,
  setHeaderOptions,
} from "@kubernetes/client-node";
import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalApiServer } from "../../src/local/api-server.js";
import type { LocalApiServer } from "../../src/local/api-server.js";

const NAD = { group: "k8s.cni.cncf.io", version: "v1", plural: "network-attachment-definitions" } as const;
const CRD_DIR = new URL("../../crds", import.meta.url).pathname;

let server: LocalApiServer;
let dir: string;
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "plexus-local-api-"));
  server = await startLocalApiServer({ crdDir: CRD_DIR });
  await server.writeKubeconfig(join(dir, "kubeconfig"));
  kc = new KubeConfig();
  kc.loadFromFile(join(dir, "kubeconfig"));
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function pod(name: string, extra: Partial<V1Pod["metadata"]> = {}): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, ...extra },
    spec: { containers: [{ name: "app", image: "busybox" }] },
  };
}

function nad(name: string, config: unknown): Record<string, unknown> {
  return {
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: { name },
    spec: { config },
  };
}

/** The Status object an ApiException carries. */
async function statusOf(
  promise: Promise<unknown>,
): Promise<{ code: number; kind: string; reason: string; message: string; details?: Record<string, string> }> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiException);
    const e = err as ApiException<string>;
    return { ...(JSON.parse(e.body) as { kind: string; reason: string; message: string }), code: e.code };
  }
  throw new Error("expected the call to fail");
}

describe("pods through CoreV1Api", () => {
  it("creates, reads, lists, patches, replaces and deletes a pod", async () => {
    const created = await core.createNamespacedPod({
      namespace: "default",
      body: pod("web-0", { labels: { app: "web" } }),
    });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.status?.phase).toBe("Pending");

    const read = await core.readNamespacedPod({ name: "web-0", namespace: "default" });
    expect(read.metadata?.uid).toBe(created.metadata?.uid);

    await core.createNamespacedPod({ namespace: "default", body: pod("db-0", { labels: { app: "db" } }) });
    const webs = await core.listNamespacedPod({ namespace: "default", labelSelector: "app=web" });
    expect(webs.items.map((p) => p.metadata?.name)).toEqual(["web-0"]);
    const notWeb = await core.listNamespacedPod({ namespace: "default", labelSelector: "app!=web" });
    expect(notWeb.items.map((p) => p.metadata?.name)).toEqual(["db-0"]);
    const byName = await core.listPodForAllNamespaces({ fieldSelector: "metadata.name=db-0" });
    expect(byName.items.map((p) => p.metadata?.name)).toEqual(["db-0"]);

    const merged = await core.patchNamespacedPod(
      {
        name: "web-0",
        namespace: "default",
        body: { metadata: { annotations: { "k8s.v1.cni.cncf.io/networks": "macvlan-conf" } } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(merged.metadata?.annotations?.["k8s.v1.cni.cncf.io/networks"]).toBe("macvlan-conf");
    expect(Number(merged.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));

    // client-node's default patch type is a JSON patch.
    const jsonPatched = await core.patchNamespacedPod({
      name: "web-0",
      namespace: "default",
      body: [{ op: "add", path: "/metadata/labels/tier", value: "front" }],
    });
    expect(jsonPatched.metadata?.labels).toEqual({ app: "web", tier: "front" });

    // Strategic merge: containers merge by name instead of being replaced.
    const strategic = await core.patchNamespacedPod(
      {
        name: "web-0",
        namespace: "default",
        body: {
          spec: {
            containers: [
              { name: "app", image: "busybox:1.36" },
              { name: "side", image: "pause" },
            ],
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    expect(strategic.spec?.containers.map((c) => `${c.name}=${c.image}`)).toEqual(["app=busybox:1.36", "side=pause"]);

    const replaced = await core.replaceNamespacedPod({
      name: "web-0",
      namespace: "default",
      body: { ...strategic, metadata: { ...strategic.metadata, labels: { app: "web2" } } },
    });
    expect(replaced.metadata?.labels).toEqual({ app: "web2" });
    expect(replaced.metadata?.uid).toBe(created.metadata?.uid);

    const deleted = await core.deleteNamespacedPod({ name: "web-0", namespace: "default" });
    expect(deleted.metadata?.name).toBe("web-0");
    const gone = await statusOf(core.readNamespacedPod({ name: "web-0", namespace: "default" }));
    expect(gone).toMatchObject({
      code: 404,
      kind: "Status",
      reason: "NotFound",
      message: 'pods "web-0" not found',
      details: { name: "web-0", kind: "pods" },
    });
    await core.deleteNamespacedPod({ name: "db-0", namespace: "default" });
  });

  it("rejects a PUT carrying a stale resourceVersion with 409 Conflict", async () => {
    const created = await core.createNamespacedPod({ namespace: "default", body: pod("stale") });
    await core.patchNamespacedPod(
      { name: "stale", namespace: "default", body: { metadata: { labels: { v: "2" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const status = await statusOf(core.replaceNamespacedPod({ name: "stale", namespace: "default", body: created }));
    expect(status).toMatchObject({ code: 409, reason: "Conflict" });
    expect(status.message).toContain("the object has been modified");
    await core.deleteNamespacedPod({ name: "stale", namespace: "default" });
  });

  it("answers AlreadyExists, missing namespace and generateName like Kubernetes", async () => {
    await core.createNamespacedPod({ namespace: "default", body: pod("twice") });
    expect(await statusOf(core.createNamespacedPod({ namespace: "default", body: pod("twice") }))).toMatchObject({
      code: 409,
      reason: "AlreadyExists",
    });
    expect(await statusOf(core.createNamespacedPod({ namespace: "nowhere", body: pod("x") }))).toMatchObject({
      code: 404,
      reason: "NotFound",
      message: 'namespaces "nowhere" not found',
    });
    const generated = await core.createNamespacedPod({
      namespace: "default",
      body: { ...pod(""), metadata: { generateName: "gen-" } },
    });
    expect(generated.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);
    await core.deleteNamespacedPod({ name: "twice", namespace: "default" });
  });

  it("writes status (and annotations) through pods/status, not spec", async () => {
    const created = await core.createNamespacedPod({ namespace: "default", body: pod("status-0") });
    const body: V1Pod = {
      ...created,
      metadata: { ...created.metadata, annotations: { "k8s.v1.cni.cncf.io/network-status": "[]" } },
      spec: { containers: [{ name: "ignored", image: "ignored" }] },
      status: { phase: "Running", podIP: "198.18.0.10", podIPs: [{ ip: "198.18.0.10" }] },
    };
    const updated = await core.replaceNamespacedPodStatus({ name: "status-0", namespace: "default", body });
    expect(updated.status?.phase).toBe("Running");
    expect(updated.status?.podIP).toBe("198.18.0.10");
    expect(updated.metadata?.annotations?.["k8s.v1.cni.cncf.io/network-status"]).toBe("[]");
    expect(updated.spec?.containers.map((c) => c.name)).toEqual(["app"]);

    const patched = await core.patchNamespacedPodStatus(
      { name: "status-0", namespace: "default", body: { status: { phase: "Succeeded" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(patched.status?.phase).toBe("Succeeded");
    // The main endpoint does not write status.
    const viaMain = await core.replaceNamespacedPod({
      name: "status-0",
      namespace: "default",
      body: { ...patched, status: { phase: "Failed" } },
    });
    expect(viaMain.status?.phase).toBe("Succeeded");
    await core.deleteNamespacedPod({ name: "status-0", namespace: "default" });
  });

  it("refuses a wrong token with 401 Unauthorized", async () => {
    const bad = new KubeConfig();
    bad.loadFromString(
      JSON.stringify({ ...server.kubeconfig(), users: [{ name: "plexus-local", user: { token: "wrong" } }] }),
    );
    const err = await bad
      .makeApiClient(CoreV1Api)
      .listNamespace()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(401);
  });
});

describe("NetworkAttachmentDefinitions through CustomObjectsApi", () => {
  it("creates, gets, lists, patches, replaces and deletes a NAD", async () => {
    const config = JSON.stringify({ cniVersion: "1.0.0", type: "macvlan", master: "eth0" });
    const created = (await custom.createNamespacedCustomObject({
      ...NAD,
      namespace: "default",
      body: nad("macvlan-conf", config),
    })) as { metadata: { uid: string } };
    expect(created.metadata.uid).toBeTruthy();
    const got = (await custom.getNamespacedCustomObject({ ...NAD, namespace: "default", name: "macvlan-conf" })) as {
      spec: { config: string };
    };
    expect(JSON.parse(got.spec.config)).toMatchObject({ type: "macvlan" });
    const list = (await custom.listNamespacedCustomObject({ ...NAD, namespace: "default" })) as {
      kind: string;
      items: unknown[];
    };
    expect(list.kind).toBe("NetworkAttachmentDefinitionList");
    expect(list.items).toHaveLength(1);

    const patched = (await custom.patchNamespacedCustomObject(
      { ...NAD, namespace: "default", name: "macvlan-conf", body: { metadata: { labels: { team: "a" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    )) as { metadata: { labels: Record<string, string>; resourceVersion: string } };
    expect(patched.metadata.labels).toEqual({ team: "a" });

    const replaced = (await custom.replaceNamespacedCustomObject({
      ...NAD,
      namespace: "default",
      name: "macvlan-conf",
      body: {
        ...nad("macvlan-conf", "{}"),
        metadata: { name: "macvlan-conf", resourceVersion: patched.metadata.resourceVersion },
      },
    })) as { spec: { config: string } };
    expect(replaced.spec.config).toBe("{}");

    const deleted = (await custom.deleteNamespacedCustomObject({
      ...NAD,
      namespace: "default",
      name: "macvlan-conf",
    })) as { kind: string; status: string };
    expect(deleted).toMatchObject({ kind: "Status", status: "Success" });
    const gone = await statusOf(
      custom.getNamespacedCustomObject({ ...NAD, namespace: "default", name: "macvlan-conf" }),
    );
    expect(gone).toMatchObject({
      code: 404,
      reason: "NotFound",
      details: { group: "k8s.cni.cncf.io", kind: "network-attachment-definitions" },
    });
  });

  it("rejects a NAD whose spec.config is not a string with 422 Invalid", async () => {
    const status = await statusOf(
      custom.createNamespacedCustomObject({ ...NAD, namespace: "default", body: nad("bad", { type: "bridge" }) }),
    );
    expect(status).toMatchObject({ code: 422, reason: "Invalid" });
    expect(status.message).toContain("spec.config");
  });
});

describe("watching", () => {
  it("streams ADDED, MODIFIED and DELETED to client-node's Watch", async () => {
    const events: string[] = [];
    const seen = new Promise<void>((resolve, reject) => {
      void new Watch(kc)
        .watch(
          "/api/v1/namespaces/default/pods",
          { labelSelector: "watch=me" },
          (type: string, obj: V1Pod) => {
            events.push(`${type} ${obj.metadata?.name} ${obj.metadata?.labels?.["step"] ?? ""}`.trim());
            if (type === "DELETED") resolve();
          },
          (err: unknown) => (err ? reject(err as Error) : undefined),
        )
        .then(async (controller) => {
          await core.createNamespacedPod({ namespace: "default", body: pod("watched", { labels: { watch: "me" } }) });
          await core.patchNamespacedPod(
            { name: "watched", namespace: "default", body: { metadata: { labels: { step: "2" } } } },
            setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
          );
          await core.deleteNamespacedPod({ name: "watched", namespace: "default" });
          await seen;
          controller.abort();
        }, reject);
    });
    await seen;
    expect(events).toEqual(["ADDED watched", "MODIFIED watched 2", "DELETED watched 2"]);
  });

  it("feeds an informer (list, then watch from the list's resourceVersion)", async () => {
    const path = "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions";
    const informer = makeInformer(
      kc,
      path,
      () => custom.listNamespacedCustomObject({ ...NAD, namespace: "default" }) as never,
    );
    const added: string[] = [];
    const deleted: string[] = [];
    informer.on("add", (o: { metadata?: { name?: string } }) => added.push(o.metadata?.name ?? ""));
    informer.on("delete", (o: { metadata?: { name?: string } }) => deleted.push(o.metadata?.name ?? ""));
    await custom.createNamespacedCustomObject({ ...NAD, namespace: "default", body: nad("before", "{}") });
    await informer.start();
    await custom.createNamespacedCustomObject({ ...NAD, namespace: "default", body: nad("after", "{}") });
    await custom.deleteNamespacedCustomObject({ ...NAD, namespace: "default", name: "before" });
    await expect.poll(() => deleted, { timeout: 5000 }).toEqual(["before"]);
    expect(added).toEqual(["before", "after"]);
    expect(informer.list().map((o: { metadata?: { name?: string } }) => o.metadata?.name)).toEqual(["after"]);
    await informer.stop();
    await custom.deleteNamespacedCustomObject({ ...NAD, namespace: "default", name: "after" });
  });
});
