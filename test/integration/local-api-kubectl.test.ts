// The local API server through the real kubectl (/usr/bin/kubectl, v1.32): plain `kubectl apply`
// (client-side apply, server-side field validation), get, describe, delete, wait and create.
// Each run gets its own --cache-dir so kubectl's discovery cache never leaks between runs.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalApiServer } from "../../src/local/api-server.js";
import type { LocalApiServer } from "../../src/local/api-server.js";
import { parseYamlDocuments } from "../../src/local/yaml.js";

const KUBECTL = "/usr/bin/kubectl";
const CRD_FILE = new URL("../../crds/network-attachment-definition.yaml", import.meta.url).pathname;

let server: LocalApiServer;
let dir: string;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function kubectl(...args: string[]): Promise<Run> {
  const argv = [`--kubeconfig=${join(dir, "kubeconfig")}`, `--cache-dir=${join(dir, "cache")}`, ...args];
  return new Promise((resolve) => {
    execFile(
      KUBECTL,
      argv,
      { env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function ok(...args: string[]): Promise<string> {
  const run = await kubectl(...args);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return run.stdout;
}

/** A request to the server over TLS with its CA, as any client would send it. */
function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${server.url}${path}`,
      {
        method,
        ca: server.caCertPem,
        headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const nadYaml = (master: string): string => `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-conf
spec:
  config: '{"cniVersion":"1.0.0","type":"macvlan","master":"${master}","ipam":{"type":"host-local","subnet":"198.18.0.0/24"}}'
`;

const podYaml = `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    k8s.v1.cni.cncf.io/networks: macvlan-conf
spec:
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "plexus-kubectl-"));
  // No crdDir: the CRD arrives through `kubectl apply`, as on a fresh cluster.
  server = await startLocalApiServer();
  await server.writeKubeconfig(join(dir, "kubeconfig"));
  await writeFile(join(dir, "nad.yaml"), nadYaml("eth0"));
  await writeFile(join(dir, "pod.yaml"), podYaml);
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("kubectl against the local API server", () => {
  it("applies the NAD CRD, a NAD and an annotated pod", async () => {
    expect(await ok("apply", "-f", CRD_FILE)).toBe(
      "customresourcedefinition.apiextensions.k8s.io/network-attachment-definitions.k8s.cni.cncf.io created\n",
    );
    expect(await ok("apply", "-f", join(dir, "nad.yaml"))).toBe(
      "networkattachmentdefinition.k8s.cni.cncf.io/macvlan-conf created\n",
    );
    expect(await ok("apply", "-f", join(dir, "pod.yaml"))).toBe("pod/web created\n");
  });

  it("lists pods and NADs as tables", async () => {
    const pods = (await ok("get", "pods")).split("\n");
    expect(pods[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(pods[1]).toMatch(/^web\s+0\/1\s+Pending\s+0\s+\d+s$/);
    const nads = (await ok("get", "net-attach-def")).split("\n");
    expect(nads[0]).toMatch(/^NAME\s+AGE$/);
    expect(nads[1]).toMatch(/^macvlan-conf\s+\d+s$/);
  });

  it("shows the pod's annotations in -o yaml", async () => {
    const [doc] = parseYamlDocuments(await ok("get", "pod", "web", "-o", "yaml")) as {
      metadata: { annotations: Record<string, string> };
    }[];
    expect(doc?.metadata.annotations["k8s.v1.cni.cncf.io/networks"]).toBe("macvlan-conf");
    expect(doc?.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]).toContain('"name":"web"');
  });

  it("describes the pod with the events created through the API", async () => {
    const pod = server.store.get({ resource: "pods" }, "default", "web");
    const created = await api("POST", "/api/v1/namespaces/default/events", {
      metadata: { generateName: "web." },
      involvedObject: { apiVersion: "v1", kind: "Pod", namespace: "default", name: "web", uid: pod.metadata.uid },
      reason: "AddedInterface",
      message: "Add net1 [198.18.0.5/24] from default/macvlan-conf",
      type: "Normal",
      source: { component: "plexus" },
      firstTimestamp: new Date().toISOString(),
      lastTimestamp: new Date().toISOString(),
      count: 1,
    });
    expect(created.status).toBe(201);
    const out = await ok("describe", "pod", "web");
    expect(out).toMatch(/^Annotations:\s+k8s\.v1\.cni\.cncf\.io\/networks: macvlan-conf$/m);
    expect(out).toMatch(/^Status:\s+Pending$/m);
    expect(out).toMatch(
      /Normal\s+AddedInterface\s+\S+\s+plexus\s+Add net1 \[198\.18\.0\.5\/24\] from default\/macvlan-conf/,
    );
  });

  it("applies a modified NAD as a merge patch, and an unchanged one as nothing", async () => {
    await writeFile(join(dir, "nad.yaml"), nadYaml("eth1"));
    server.requestLog.reset();
    expect(await ok("apply", "-f", join(dir, "nad.yaml"))).toBe(
      "networkattachmentdefinition.k8s.cni.cncf.io/macvlan-conf configured\n",
    );
    expect(server.requestLog.countsByVerb()["patch network-attachment-definitions.k8s.cni.cncf.io"]).toBe(1);
    const config = await ok("get", "net-attach-def", "macvlan-conf", "-o", "jsonpath={.spec.config}");
    expect(JSON.parse(config)).toMatchObject({ type: "macvlan", master: "eth1" });
    expect(await ok("apply", "-f", join(dir, "nad.yaml"))).toBe(
      "networkattachmentdefinition.k8s.cni.cncf.io/macvlan-conf unchanged\n",
    );
  });

  it("waits on a pod through a watch", async () => {
    const waiting = kubectl("wait", "--for=jsonpath={.status.phase}=Running", "pod/web", "--timeout=20s");
    // Meanwhile a (simulated) kubelet reports the pod running through the in-process store.
    await new Promise((r) => setTimeout(r, 300));
    const pod = server.store.get({ resource: "pods" }, "default", "web");
    server.store.update({ resource: "pods" }, { ...pod, status: { phase: "Running" } }, { subresource: "status" });
    const run = await waiting;
    expect(run).toMatchObject({ code: 0, stdout: "pod/web condition met\n" });
  });

  it("deletes what a manifest created", async () => {
    expect(await ok("delete", "-f", join(dir, "pod.yaml"))).toBe('pod "web" deleted\n');
    expect(await ok("delete", "-f", join(dir, "nad.yaml"))).toBe(
      'networkattachmentdefinition.k8s.cni.cncf.io "macvlan-conf" deleted\n',
    );
    expect(server.store.find({ resource: "pods" }, "default", "web")).toBeUndefined();
  });

  it("prints the usual NotFound message and exits 1 for a missing pod", async () => {
    const run = await kubectl("get", "pod", "missing");
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe('Error from server (NotFound): pods "missing" not found\n');
  });

  it("creates namespaces and configmaps, which kubectl sends as protobuf", async () => {
    expect(await ok("create", "namespace", "team-a")).toBe("namespace/team-a created\n");
    expect(await ok("-n", "team-a", "create", "configmap", "settings", "--from-literal=mtu=1400")).toBe(
      "configmap/settings created\n",
    );
    const cm = server.store.get({ resource: "configmaps" }, "team-a", "settings");
    expect(cm["data"]).toEqual({ mtu: "1400" });
    expect(server.store.get({ resource: "namespaces" }, undefined, "team-a").metadata.labels).toEqual({
      "kubernetes.io/metadata.name": "team-a",
    });
    expect(await ok("delete", "namespace", "team-a")).toBe('namespace "team-a" deleted\n');
    expect(server.store.find({ resource: "configmaps" }, "team-a", "settings")).toBeUndefined();
  });
});
