// Writing to the API through the Kubernetes client (src/k8s/client.ts) over real HTTPS against
// the local API server: the network-status annotation (one merge patch of pods/status with the
// pod's UID) and Events, checked through the server's store, its request log and real kubectl.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENTS, failure, PODS, ref, signal, startK8sHarness, STATUS_KEY, type K8sHarness } from "./k8s-harness.js";

const run = promisify(execFile);

let h: K8sHarness;
beforeAll(async () => {
  h = await startK8sHarness();
});
afterAll(async () => {
  await h?.cleanup();
});

/** Another writer changes the pod (a label), as the kubelet or a controller would. */
function touchPod(h: K8sHarness, namespace: string, name: string, label: string): void {
  const current = h.server.store.get(PODS, namespace, name);
  h.server.store.update(
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
    const uid = h.createPod("team-a", "pub-0", { keep: "me" });
    // Status fields a typed client model might not know must survive the write.
    const current = h.server.store.get(PODS, "team-a", "pub-0");
    const status = { phase: "Running", podIP: "198.18.0.10", futureField: { from: "a newer Kubernetes" } };
    h.server.store.update(PODS, { ...current, status }, { namespace: "team-a", subresource: "status" });
    h.server.requestLog.reset();
    await h.kube.publishNetworkStatus(ref("team-a", "pub-0", uid), value, signal());
    expect(h.annotationsOf("team-a", "pub-0")).toEqual({ keep: "me", [STATUS_KEY]: value });
    expect(h.server.store.get(PODS, "team-a", "pub-0")["status"]).toEqual(status);
    expect(h.server.requestLog.countsByVerb()).toEqual({ "patch pods/status": 1 });
  });

  it("writes nothing when the pod this client read already holds the value (a repeated ADD)", async () => {
    const uid = h.server.store.get(PODS, "team-a", "pub-0").metadata.uid ?? "";
    const c = h.client();
    await c.getPod(ref("team-a", "pub-0", uid), signal());
    h.server.requestLog.reset();
    await c.publishNetworkStatus(ref("team-a", "pub-0", uid), value, signal());
    expect(h.server.requestLog.total).toBe(0);
  });

  it("is last-writer-wins for the annotation: a concurrent change of the pod is neither a conflict nor lost", async () => {
    const uid = h.createPod("team-a", "pub-race");
    const c = h.client();
    await c.getPod(ref("team-a", "pub-race", uid), signal());
    touchPod(h, "team-a", "pub-race", "changed-after-the-read");
    h.server.requestLog.reset();
    await c.publishNetworkStatus(ref("team-a", "pub-race", uid), value, signal());
    expect(h.server.requestLog.entries().map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
      `PATCH ${path("pub-race")} 200`,
    ]);
    const pod = h.server.store.get(PODS, "team-a", "pub-race");
    expect(pod.metadata.annotations?.[STATUS_KEY]).toBe(value);
    expect(pod.metadata.labels).toEqual({ "changed-after-the-read": "yes" });
  });

  it("says not-found for a pod that is gone, after one request", async () => {
    h.server.requestLog.reset();
    const err = await failure(h.kube.publishNetworkStatus(ref("team-a", "gone-0", "uid-1"), value, signal()));
    expect(err).toMatchObject({ kind: "not-found", message: "pod team-a/gone-0: status: not found" });
    expect(h.server.requestLog.countsByVerb()).toEqual({ "patch pods/status": 1 });
  });

  it("does not write to a newer pod of the same name: the server refuses the UID (422), one GET tells why", async () => {
    h.createPod("team-a", "pub-new");
    h.server.requestLog.reset();
    const err = await failure(
      h.kube.publishNetworkStatus(ref("team-a", "pub-new", "uid-of-the-old-pod"), value, signal()),
    );
    expect(err.kind).toBe("not-found");
    expect(err.message).toContain("the pod was deleted and recreated");
    expect(h.server.requestLog.entries().map((e) => `${e.verb} ${e.resource} ${e.status}`)).toEqual([
      "patch pods/status 422",
      "get pods 200",
    ]);
    expect(h.annotationsOf("team-a", "pub-new")?.[STATUS_KEY]).toBeUndefined();
  });

  it("a known newer pod costs the PATCH alone", async () => {
    const uid = h.createPod("team-a", "pub-known");
    const c = h.client();
    await c.getPod(ref("team-a", "pub-known", uid), signal());
    h.server.requestLog.reset();
    const err = await failure(
      c.publishNetworkStatus(ref("team-a", "pub-known", "uid-of-the-old-pod"), value, signal()),
    );
    expect(err.kind).toBe("not-found");
    expect(h.annotationsOf("team-a", "pub-known")?.[STATUS_KEY]).toBeUndefined();
  });

  it("writes a static pod's mirror with the mirror's UID (the runtime knows another one)", async () => {
    const mirrorUid = h.createPod("team-a", "kube-proxy-node-1", { "kubernetes.io/config.source": "file" });
    h.server.requestLog.reset();
    await h.kube.publishNetworkStatus(ref("team-a", "kube-proxy-node-1", "static-uid-from-kubelet"), value, signal());
    expect(h.annotationsOf("team-a", "kube-proxy-node-1")?.[STATUS_KEY]).toBe(value);
    expect(h.server.requestLog.entries().map((e) => `${e.verb} ${e.resource} ${e.status}`)).toEqual([
      "patch pods/status 422",
      "get pods 200",
      "patch pods/status 200",
    ]);
    expect(h.server.store.get(PODS, "team-a", "kube-proxy-node-1").metadata.uid).toBe(mirrorUid);
  });
});

describe("recordEvent", () => {
  it("writes an Event after flushEvents that a LIST by involvedObject finds and kubectl describe shows", async () => {
    const uid = h.createPod("team-a", "ev-0");
    const message = "Add net1 [198.18.0.5/24] from team-b/bridge-b";
    const c = h.client();
    // The node is learned from the pod this client read.
    await c.getPod(ref("team-a", "ev-0", uid), signal());
    c.recordEvent({ pod: ref("team-a", "ev-0", uid), type: "Normal", reason: "AddedInterface", message });
    await c.flushEvents(signal());
    const listed = h.server.store.list(EVENTS, {
      namespace: "team-a",
      fieldSelector: `involvedObject.uid=${uid}`,
    }).items;
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
      h.kubeconfig,
      "--cache-dir",
      join(h.dir, "kubectl-cache"),
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
    h.server.requestLog.reset();
    const event = {
      pod: ref("no-such-namespace", "x"),
      type: "Warning",
      reason: "NetworkSetupFailed",
      message: "m",
    } as const;
    const c = h.client();
    expect(c.recordEvent(event)).toBeUndefined();
    await c.flushEvents(signal());
    expect(h.count("POST", "/api/v1/namespaces/no-such-namespace/events")).toBe(1);
    expect(h.server.requestLog.total).toBe(1);
  });
});

describe("logging", () => {
  it("never logs a token", async () => {
    const text = await h.logText();
    for (const secret of h.secrets) expect(text).not.toContain(secret);
  });
});
