// Reading pods and NADs through the Kubernetes client (src/k8s/client.ts) over real HTTPS
// against the local API server: the objects as written, Status errors as error kinds, and
// retries of transient server errors, each request counted by the server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forbidden, internalError } from "../../src/local/api-errors.js";
import { failure, NADS, ref, signal, startK8sHarness, type K8sHarness } from "./k8s-harness.js";

let h: K8sHarness;
beforeAll(async () => {
  h = await startK8sHarness();
});
afterAll(async () => {
  await h?.cleanup();
});

describe("getPod", () => {
  it("returns the pod's metadata and node", async () => {
    const uid = h.createPod("team-a", "web-0", { "k8s.v1.cni.cncf.io/networks": "bridge-b" });
    const pod = await h.kube.getPod(ref("team-a", "web-0", uid), signal());
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
    h.server.requestLog.reset();
    const err = await failure(h.kube.getPod(ref("team-a", "nope"), signal()));
    expect(err).toMatchObject({ kind: "not-found", status: 404, message: "pod team-a/nope: not found" });
    expect(h.server.requestLog.total).toBe(1);
  });

  it("returns the pod of that name whatever its UID: the caller compares (a newer pod is not no pod)", async () => {
    const uid = h.createPod("team-a", "recreated", { "kubernetes.io/config.source": "api" });
    h.server.requestLog.reset();
    const pod = await h.kube.getPod(ref("team-a", "recreated", "0b7e3c6e-old"), signal());
    expect(pod.metadata.uid).toBe(uid);
    expect(h.server.requestLog.total).toBe(1);
  });

  it("tolerates a static pod's mirror, whose UID differs from the runtime's", async () => {
    const uid = h.createPod("team-a", "etcd-node-1", {
      "kubernetes.io/config.source": "file",
      "kubernetes.io/config.mirror": "abc",
    });
    const pod = await h.kube.getPod(ref("team-a", "etcd-node-1", "static-uid-from-kubelet"), signal());
    expect(pod.metadata.uid).toBe(uid);
  });
});

describe("getNetworkAttachmentDefinition", () => {
  const config = JSON.stringify({ cniVersion: "1.0.0", type: "bridge", bridge: "br-b" });

  it("returns spec.config as written", async () => {
    h.server.store.create(
      NADS,
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name: "bridge-b" },
        spec: { config },
      },
      { namespace: "team-b" },
    );
    const nad = await h.kube.getNetworkAttachmentDefinition("team-b", "bridge-b", signal());
    expect(nad.metadata).toMatchObject({ name: "bridge-b", namespace: "team-b" });
    expect(nad.spec).toEqual({ config });
  });

  it("says not-found, naming the NAD", async () => {
    const err = await failure(h.kube.getNetworkAttachmentDefinition("team-b", "missing", signal()));
    expect(err).toMatchObject({
      kind: "not-found",
      status: 404,
      message: "network-attachment-definition team-b/missing: not found",
    });
  });

  it("passes the server's reason on for forbidden, without retrying", async () => {
    h.server.requestLog.reset();
    const restore = failGets(h, "secret-net", () =>
      forbidden(
        { group: "k8s.cni.cncf.io", plural: "network-attachment-definitions" },
        "secret-net",
        'User "plexus" cannot get resource',
      ),
    );
    try {
      const err = await failure(h.kube.getNetworkAttachmentDefinition("team-b", "secret-net", signal()));
      expect(err.kind).toBe("forbidden");
      expect(err.status).toBe(403);
      expect(err.message).toMatch(
        /^network-attachment-definition team-b\/secret-net: forbidden: .*cannot get resource/,
      );
      expect(h.server.requestLog.total).toBe(1);
    } finally {
      restore();
    }
  });
});

/** Makes the server's store throw for GETs of objects named `name` (a real Status over HTTP). */
function failGets(h: K8sHarness, name: string, error: (attempt: number) => Error | undefined): () => void {
  const store = h.server.store;
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
    h.createPod("team-a", "flaky-0");
    h.server.requestLog.reset();
    const restore = failGets(h, "flaky-0", (attempt) =>
      attempt <= 2 ? internalError("etcd leader changed") : undefined,
    );
    try {
      const pod = await h.kube.getPod(ref("team-a", "flaky-0"), signal());
      expect(pod.metadata.name).toBe("flaky-0");
      expect(h.count("GET", "/api/v1/namespaces/team-a/pods/flaky-0")).toBe(3);
    } finally {
      restore();
    }
  });

  it("gives up with unavailable after the configured retries, each counted by the server", async () => {
    h.createPod("team-a", "broken-0");
    h.server.requestLog.reset();
    const restore = failGets(h, "broken-0", () => internalError("etcd is down"));
    const settings = { requestTimeoutMs: 5_000, retries: 3, retryBackoffMs: 10 };
    try {
      const err = await failure(h.client({ settings }).getPod(ref("team-a", "broken-0"), signal()));
      expect(err.kind).toBe("unavailable");
      expect(err.status).toBe(500);
      expect(err.message).toBe(
        "pod team-a/broken-0: unavailable: the API server answered 500: Internal error occurred: etcd is down (4 attempts)",
      );
      expect(h.count("GET", "/api/v1/namespaces/team-a/pods/broken-0")).toBe(settings.retries + 1);
    } finally {
      restore();
    }
  });
});

describe("logging", () => {
  it("logs requests and retries at debug, and never a token", async () => {
    const text = await h.logText();
    expect(text).toContain('"msg":"API request"');
    expect(text).toContain('"msg":"API request failed, retrying"');
    for (const secret of h.secrets) expect(text).not.toContain(secret);
  });
});
