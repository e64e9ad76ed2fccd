// The local API server's HTTP surface, spoken to directly over TLS: certificates, auth,
// discovery, CRDs, watch resumption, persistence, limits, and the in-process store API.
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalApiServer } from "../../src/local/api-server.js";
import type { LocalApiServer } from "../../src/local/api-server.js";
import { type WatchEvent, type KubeObject } from "../../src/local/api-types.js";
import { parseYamlDocuments } from "../../src/local/yaml.js";

const CRD_DIR = new URL("../../crds", import.meta.url).pathname;

let server: LocalApiServer;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "plexus-api-server-"));
  server = await startLocalApiServer({ crdDir: CRD_DIR, bodyLimit: 64 * 1024 });
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Reply {
  readonly status: number;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

interface CallOptions {
  readonly body?: unknown;
  readonly contentType?: string;
  readonly token?: string | null;
  readonly accept?: string;
  readonly target?: LocalApiServer;
}

function open(method: string, path: string, options: CallOptions = {}): Promise<IncomingMessage> {
  const target = options.target ?? server;
  const payload =
    options.body === undefined
      ? undefined
      : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string> = { "Content-Type": options.contentType ?? "application/json" };
  const token = options.token === undefined ? target.token : options.token;
  if (token !== null) headers["Authorization"] = `Bearer ${token}`;
  if (options.accept) headers["Accept"] = options.accept;
  return new Promise((resolve, reject) => {
    const req = target.caCertPem
      ? httpsRequest(`${target.url}${path}`, { method, headers, ca: target.caCertPem }, resolve)
      : httpRequest(`${target.url}${path}`, { method, headers }, resolve);
    req.on("error", reject);
    req.end(payload);
  });
}

async function call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const res = await open(method, path, options);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString("utf8");
  return { status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T };
}

/** Reads a watch stream until `count` events arrived, then closes it. */
async function watchEvents(path: string, count: number, during?: () => Promise<void>): Promise<WatchEvent[]> {
  const res = await open("GET", path);
  expect(res.statusCode).toBe(200);
  const events: WatchEvent[] = [];
  let buffered = "";
  const done = new Promise<void>((resolve) => {
    res.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        events.push(JSON.parse(buffered.slice(0, nl)) as WatchEvent);
        buffered = buffered.slice(nl + 1);
        if (events.length >= count) resolve();
      }
    });
    res.on("end", () => resolve());
  });
  await during?.();
  await done;
  res.destroy();
  return events;
}

const pod = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels },
  spec: { containers: [{ name: "c", image: "i" }] },
});
const name = (e: WatchEvent): string => `${e.type} ${(e.object as { metadata: { name: string } }).metadata.name}`;

describe("TLS, kubeconfig and auth", () => {
  it("serves a certificate for 127.0.0.1 and localhost signed by the advertised CA", () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = new X509Certificate(server.caCertPem ?? "");
    expect(ca.ca).toBe(true);
    // The serving certificate is what the TLS handshake presents; the CA must have signed it.
    return new Promise<void>((resolve, reject) => {
      const req = httpsRequest(`${server.url}/healthz`, { ca: server.caCertPem }, (res) => {
        const cert = new X509Certificate(
          (res.socket as import("node:tls").TLSSocket).getPeerX509Certificate()?.raw ?? Buffer.alloc(0),
        );
        expect(cert.verify(ca.publicKey)).toBe(true);
        expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
        expect(cert.checkHost("localhost")).toBe("localhost");
        res.resume();
        res.on("end", resolve);
      });
      req.on("error", reject);
      req.end();
    });
  });

  it("is refused by a client that does not trust the CA", async () => {
    const err = await new Promise<Error>((resolve) => {
      const req = httpsRequest(`${server.url}/healthz`, {}, () => resolve(new Error("connected")));
      req.on("error", resolve);
      req.end();
    });
    expect((err as NodeJS.ErrnoException).code).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  it("writes a 0600 kubeconfig with the CA data and the token", async () => {
    const path = join(dir, "kubeconfig");
    await server.writeKubeconfig(path, { namespace: "team-a" });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const [doc] = parseYamlDocuments(await readFile(path, "utf8")) as Record<string, unknown>[];
    expect(doc).toMatchObject({
      "current-context": "plexus-local",
      clusters: [
        {
          name: "plexus-local",
          cluster: {
            server: server.url,
            "certificate-authority-data": Buffer.from(server.caCertPem ?? "").toString("base64"),
          },
        },
      ],
      users: [{ name: "plexus-local", user: { token: server.token } }],
      contexts: [
        { name: "plexus-local", context: { cluster: "plexus-local", user: "plexus-local", namespace: "team-a" } },
      ],
    });
  });

  it("answers 401 with a Status without a valid bearer token, but keeps health public", async () => {
    for (const token of [null, "nope"]) {
      const reply = await call("GET", "/api/v1/namespaces", { token });
      expect(reply.status).toBe(401);
      expect(reply.json()).toEqual({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "Unauthorized",
        reason: "Unauthorized",
        code: 401,
      });
    }
    expect((await call("GET", "/readyz", { token: null })).body).toBe("ok");
  });
});

describe("discovery", () => {
  it("lists core resources with verbs, short names and subresources", async () => {
    expect((await call("GET", "/api")).json()).toMatchObject({ kind: "APIVersions", versions: ["v1"] });
    const core = (await call("GET", "/api/v1")).json<{
      resources: { name: string; kind: string; namespaced: boolean; verbs: string[]; shortNames?: string[] }[];
    }>();
    const byName = new Map(core.resources.map((r) => [r.name, r]));
    expect(byName.get("pods")).toMatchObject({
      kind: "Pod",
      namespaced: true,
      shortNames: ["po"],
      verbs: expect.arrayContaining(["watch", "patch"]),
    });
    expect(byName.get("pods/status")).toMatchObject({ kind: "Pod", verbs: ["get", "patch", "update"] });
    expect(byName.get("nodes")).toMatchObject({ namespaced: false });
    for (const r of ["namespaces", "events", "configmaps", "serviceaccounts"]) expect(byName.has(r)).toBe(true);
  });

  it("serves the NAD group registered from crdDir", async () => {
    const groups = (await call("GET", "/apis")).json<{
      groups: { name: string; preferredVersion: { groupVersion: string } }[];
    }>();
    expect(groups.groups.map((g) => g.name)).toEqual([
      "apps",
      "rbac.authorization.k8s.io",
      "apiextensions.k8s.io",
      "k8s.cni.cncf.io",
    ]);
    const nad = (await call("GET", "/apis/k8s.cni.cncf.io/v1")).json();
    expect(nad).toMatchObject({
      kind: "APIResourceList",
      groupVersion: "k8s.cni.cncf.io/v1",
      resources: [
        {
          name: "network-attachment-definitions",
          singularName: "network-attachment-definition",
          namespaced: true,
          kind: "NetworkAttachmentDefinition",
          shortNames: ["net-attach-def", "nad"],
        },
      ],
    });
    expect((await call("GET", "/apis/nothing.example.com/v1")).status).toBe(404);
  });

  it("advertises server-side field validation in OpenAPI v3", async () => {
    const index = (await call("GET", "/openapi/v3")).json<{ paths: Record<string, { serverRelativeURL: string }> }>();
    const url = index.paths["apis/k8s.cni.cncf.io/v1"]?.serverRelativeURL ?? "";
    const doc = (await call("GET", url)).json<{
      paths: Record<string, { patch?: { parameters: { name: string }[] } }>;
    }>();
    const item = doc.paths["/apis/k8s.cni.cncf.io/v1/namespaces/{namespace}/network-attachment-definitions/{name}"];
    expect(item?.patch?.parameters.map((p) => p.name)).toContain("fieldValidation");
  });
});

describe("custom resources", () => {
  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "widgets.example.com" },
    spec: {
      group: "example.com",
      scope: "Cluster",
      names: { plural: "widgets", kind: "Widget" },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: {
                spec: { type: "object", properties: { size: { type: "integer" } } },
                status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
              },
            },
          },
        },
      ],
    },
  };

  it("serves a cluster-scoped resource as soon as its CRD is created, and drops it with the CRD", async () => {
    const created = await call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", { body: crd });
    expect(created.status).toBe(201);
    expect(created.json()).toMatchObject({
      status: {
        conditions: expect.arrayContaining([expect.objectContaining({ type: "Established", status: "True" })]),
      },
    });
    const list = (await call("GET", "/apis/example.com/v1")).json();
    expect(list).toMatchObject({
      resources: [{ name: "widgets", namespaced: false, kind: "Widget" }, { name: "widgets/status" }],
    });

    const widget = await call("POST", "/apis/example.com/v1/widgets", {
      body: {
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name: "w1" },
        spec: { size: 3 },
        status: { x: 1 },
      },
    });
    expect(widget.status).toBe(201);
    expect(widget.json()).not.toHaveProperty("status");
    const status = await call("PATCH", "/apis/example.com/v1/widgets/w1/status", {
      body: { status: { ready: true }, spec: { size: 9 } },
      contentType: "application/merge-patch+json",
    });
    expect(status.json()).toMatchObject({ spec: { size: 3 }, status: { ready: true }, metadata: { generation: 1 } });
    const resized = await call("PATCH", "/apis/example.com/v1/widgets/w1", {
      body: { spec: { size: 4 } },
      contentType: "application/merge-patch+json",
    });
    expect(resized.json()).toMatchObject({ spec: { size: 4 }, status: { ready: true }, metadata: { generation: 2 } });

    expect(
      (await call("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")).status,
    ).toBe(200);
    expect((await call("GET", "/apis/example.com/v1/widgets/w1")).status).toBe(404);
    expect((await call("GET", "/apis/example.com/v1")).status).toBe(404);
  });

  it("rejects a CRD whose name is not <plural>.<group> with 422", async () => {
    const reply = await call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
      body: { ...crd, metadata: { name: "wrong" } },
    });
    expect(reply.status).toBe(422);
    expect(reply.json()).toMatchObject({
      reason: "Invalid",
      details: { kind: "CustomResourceDefinition", causes: [{ field: "metadata.name" }] },
    });
  });

  it("prunes undeclared NAD fields: a warning by default, 400 with fieldValidation=Strict", async () => {
    const nad = {
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: { name: "extra" },
      spec: { config: "{}", bogus: 1 },
    };
    const strict = await call(
      "POST",
      "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions?fieldValidation=Strict",
      { body: nad },
    );
    expect(strict.status).toBe(400);
    expect(strict.json()).toMatchObject({
      reason: "BadRequest",
      message: 'strict decoding error: unknown field "spec.bogus"',
    });
    const warned = await call("POST", "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions", {
      body: nad,
    });
    expect(warned.status).toBe(201);
    expect(warned.headers["warning"]).toBe('299 - "unknown field \\"spec.bogus\\""');
    expect(warned.json()).toMatchObject({ spec: { config: "{}" } });
    expect(warned.json<{ spec: object }>().spec).not.toHaveProperty("bogus");
  });
});

describe("lists and watches", () => {
  it("selects with set-based label selectors and pages with limit/continue", async () => {
    for (const [n, tier] of [
      ["p1", "a"],
      ["p2", "b"],
      ["p3", "c"],
    ] as const)
      await call("POST", "/api/v1/namespaces/default/pods", { body: pod(n, { tier }) });
    const selected = (
      await call("GET", `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent("tier in (a,c)")}`)
    ).json<{ items: { metadata: { name: string } }[] }>();
    expect(selected.items.map((p) => p.metadata.name)).toEqual(["p1", "p3"]);
    const first = (await call("GET", "/api/v1/namespaces/default/pods?limit=2")).json<{
      metadata: { continue: string; remainingItemCount: number };
      items: unknown[];
    }>();
    expect(first.items).toHaveLength(2);
    expect(first.metadata.remainingItemCount).toBe(1);
    const rest = (
      await call("GET", `/api/v1/namespaces/default/pods?limit=2&continue=${first.metadata.continue}`)
    ).json<{ metadata: object; items: { metadata: { name: string } }[] }>();
    expect(rest.items.map((p) => p.metadata.name)).toEqual(["p3"]);
    expect(rest.metadata).not.toHaveProperty("continue");
    await call("DELETE", "/api/v1/namespaces/default/pods?labelSelector=tier");
    expect((await call("GET", "/api/v1/namespaces/default/pods")).json<{ items: unknown[] }>().items).toEqual([]);
  });

  it("resumes a watch after a resourceVersion, and reports a selector leaving as DELETED", async () => {
    const a = (await call("POST", "/api/v1/namespaces/default/pods", { body: pod("w-a", { watch: "yes" }) })).json<{
      metadata: { resourceVersion: string };
    }>();
    await call("POST", "/api/v1/namespaces/default/pods", { body: pod("w-b", { watch: "yes" }) });
    const events = await watchEvents(
      `/api/v1/namespaces/default/pods?watch=true&labelSelector=watch%3Dyes&resourceVersion=${a.metadata.resourceVersion}`,
      3,
      async () => {
        await call("PATCH", "/api/v1/namespaces/default/pods/w-a", {
          body: { metadata: { labels: { watch: "no" } } },
          contentType: "application/merge-patch+json",
        });
        await call("DELETE", "/api/v1/namespaces/default/pods/w-b");
      },
    );
    expect(events.map(name)).toEqual(["ADDED w-b", "DELETED w-a", "DELETED w-b"]);
    await call("DELETE", "/api/v1/namespaces/default/pods/w-a");
  });

  it("answers 405 to a watch on a single object URL and 415 to an unknown patch type", async () => {
    await call("POST", "/api/v1/namespaces/default/pods", { body: pod("misc") });
    expect((await call("GET", "/api/v1/namespaces/default/pods/misc?watch=true")).json()).toMatchObject({
      code: 405,
      reason: "MethodNotAllowed",
    });
    expect(
      (await call("PATCH", "/api/v1/namespaces/default/pods/misc", { body: "{}", contentType: "text/plain" })).json(),
    ).toMatchObject({ code: 415, reason: "UnsupportedMediaType" });
    expect((await call("GET", "/apis/apps/v1/namespaces/default/deployments")).json()).toMatchObject({
      code: 404,
      reason: "NotFound",
    });
    await call("DELETE", "/api/v1/namespaces/default/pods/misc");
  });

  it("refuses bodies over the limit with 413", async () => {
    const big = pod("big");
    const reply = await call("POST", "/api/v1/namespaces/default/pods", {
      body: { ...big, metadata: { name: "big", annotations: { a: "x".repeat(70 * 1024) } } },
    });
    expect(reply.status).toBe(413);
    expect(reply.json()).toMatchObject({ kind: "Status", reason: "RequestEntityTooLarge", code: 413 });
  });

  it("counts requests by verb and resource, and resets", async () => {
    server.requestLog.reset();
    await call("GET", "/api/v1/namespaces/default/pods");
    await call("GET", "/api/v1/namespaces/default/pods/nope");
    await call("GET", "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions");
    expect(server.requestLog.total).toBe(3);
    expect(server.requestLog.countsByVerb()).toEqual({
      "list pods": 1,
      "get pods": 1,
      "list network-attachment-definitions.k8s.cni.cncf.io": 1,
    });
    expect(server.requestLog.entries().map((e) => e.status)).toEqual([200, 404, 200]);
    server.requestLog.reset();
    expect(server.requestLog.total).toBe(0);
  });
});

describe("UIDs in writes, as a real API server treats them", () => {
  it("a PATCH naming another UID is 422 on metadata.uid (the UID is immutable), the same UID applies", async () => {
    const created = await call("POST", "/api/v1/namespaces/default/pods", { body: pod("uid-patch") });
    const uid = created.json<{ metadata: { uid: string } }>().metadata.uid;
    const path = "/api/v1/namespaces/default/pods/uid-patch/status";
    const patch = (u: string) =>
      call("PATCH", path, {
        contentType: "application/merge-patch+json",
        body: { metadata: { uid: u, annotations: { "k8s.v1.cni.cncf.io/network-status": "[]" } } },
      });
    const refused = await patch("0b7e3c6e-0000-4000-8000-000000000000");
    expect(refused.status).toBe(422);
    expect(refused.json()).toMatchObject({
      kind: "Status",
      reason: "Invalid",
      details: { name: "uid-patch", kind: "Pod", causes: [{ reason: "FieldValueInvalid", field: "metadata.uid" }] },
    });
    expect(refused.json<{ message: string }>().message).toBe(
      'Pod "uid-patch" is invalid: metadata.uid: Invalid value: "0b7e3c6e-0000-4000-8000-000000000000": field ' +
        "is immutable",
    );
    const applied = await patch(uid);
    expect(applied.status).toBe(200);
    expect(applied.json<{ metadata: { annotations: Record<string, string> } }>().metadata.annotations).toEqual({
      "k8s.v1.cni.cncf.io/network-status": "[]",
    });
  });

  it("a PUT naming another UID fails its precondition: 409", async () => {
    const current = (await call("GET", "/api/v1/namespaces/default/pods/uid-patch")).json<KubeObject>();
    const put = await call("PUT", "/api/v1/namespaces/default/pods/uid-patch", {
      body: { ...current, metadata: { ...current.metadata, uid: "0b7e3c6e-0000-4000-8000-000000000000" } },
    });
    expect(put.status).toBe(409);
    expect(put.json<{ message: string }>().message).toContain(
      "Precondition failed: UID in precondition: 0b7e3c6e-0000-4000-8000-000000000000, UID in object meta: ",
    );
  });
});

describe("in-process store", () => {
  it("delivers watch events in order even when a callback writes to the store", async () => {
    const store = server.store;
    const seen: string[] = [];
    const handle = store.watch(
      { resource: "pods" },
      { namespace: "default", labelSelector: "sim=1" },
      {
        onEvent(e) {
          seen.push(name(e));
          const object = e.object as { metadata: { name: string }; status?: { phase?: string } };
          // A simulated kubelet marks every new pod Running, from inside the callback.
          if (e.type === "ADDED")
            store.patch(
              { resource: "pods" },
              "default",
              object.metadata.name,
              "application/merge-patch+json",
              { status: { phase: "Running" } },
              { subresource: "status" },
            );
        },
      },
    );
    store.create({ resource: "pods" }, pod("sim-1", { sim: "1" }), { namespace: "default" });
    store.create({ resource: "pods" }, pod("sim-2", { sim: "1" }), { namespace: "default" });
    await expect.poll(() => seen.length).toBe(4);
    handle.stop();
    expect(seen).toEqual(["ADDED sim-1", "ADDED sim-2", "MODIFIED sim-1", "MODIFIED sim-2"]);
    expect(store.get({ resource: "pods" }, "default", "sim-2")["status"]).toEqual({ phase: "Running" });
    store.deleteCollection({ resource: "pods" }, { namespace: "default", labelSelector: "sim=1" });
  });
});

describe("persistence and plain HTTP", () => {
  it("keeps objects across a restart; a watch from before the restart gets 410 Expired", async () => {
    const stateFile = join(dir, "state.json");
    const first = await startLocalApiServer({ tls: false, stateFile });
    expect(first.url).toMatch(/^http:\/\//);
    expect(first.kubeconfig().clusters[0]?.cluster).toMatchObject({ "insecure-skip-tls-verify": true });
    const created = (await call("POST", "/api/v1/namespaces/default/pods", { body: pod("kept"), target: first })).json<{
      metadata: { uid: string; resourceVersion: string };
    }>();
    await first.stop();
    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);

    const second = await startLocalApiServer({ tls: false, stateFile });
    try {
      const kept = (await call("GET", "/api/v1/namespaces/default/pods/kept", { target: second })).json<{
        metadata: { uid: string; resourceVersion: string };
      }>();
      expect(kept.metadata).toMatchObject({
        uid: created.metadata.uid,
        resourceVersion: created.metadata.resourceVersion,
      });
      const res = await open("GET", `/api/v1/namespaces/default/pods?watch=1&resourceVersion=1`, { target: second });
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      expect(JSON.parse(Buffer.concat(chunks).toString("utf8"))).toMatchObject({
        type: "ERROR",
        object: { kind: "Status", code: 410, reason: "Expired" },
      });
      const next = (await call("POST", "/api/v1/namespaces/default/pods", { body: pod("new"), target: second })).json<{
        metadata: { resourceVersion: string };
      }>();
      expect(Number(next.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    } finally {
      await second.stop();
    }
  });
});
