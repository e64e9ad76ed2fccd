// The manifests with the real kubectl (/usr/bin/kubectl): the examples applied to Plexus's local
// API server (which serves the NAD CRD from crds/ and validates NADs against its schema, with
// kubectl's strict field validation), and deploy/ built by kubectl's own kustomize.

import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { parseYamlDocuments } from "../../src/local/yaml.js";
import { loadManifests, repoRoot } from "../unit/manifests-models.js";

let server: LocalApiServer;
let dir: string;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function kubectl(first: string | { stdin: string }, ...rest: string[]): Promise<Run> {
  const args = typeof first === "string" ? [first, ...rest] : rest;
  const argv = [`--kubeconfig=${join(dir, "kubeconfig")}`, `--cache-dir=${join(dir, "cache")}`, ...args];
  return new Promise((resolve) => {
    const child = execFile(
      "/usr/bin/kubectl",
      argv,
      { env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir }, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(typeof first === "string" ? "" : first.stdin);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "plexus-manifests-"));
  server = await startLocalApiServer({ crdDir: join(repoRoot, "crds") });
  await server.writeKubeconfig(join(dir, "kubeconfig"));
});
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("examples/ applied with kubectl", () => {
  it("applies the namespace, every NAD and every pod", async () => {
    const ex = (p: string): string => join(repoRoot, "examples", p);
    for (const target of [ex("namespace.yaml"), ex("networks"), ex("pods")]) {
      const r = await kubectl("apply", "-f", target);
      expect(r.stderr, target).toBe("");
      expect(r.code, target).toBe(0);
    }
  });

  it("the API server holds each of them as written", async () => {
    const manifests = await loadManifests("examples", { skip: ["demo/"] });
    const nads = await kubectl("get", "network-attachment-definitions", "-n", "plexus-examples", "-o", "json");
    const items = (JSON.parse(nads.stdout) as { items: { metadata: { name: string }; spec: { config: string } }[] })
      .items;
    const expected = manifests.filter((m) => m.doc.kind === "NetworkAttachmentDefinition");
    expect(items.map((i) => i.metadata.name).sort()).toEqual(expected.map((m) => m.doc.metadata.name).sort());
    for (const m of expected) {
      expect(items.find((i) => i.metadata.name === m.doc.metadata.name)?.spec.config).toBe(
        (m.doc["spec"] as { config: string }).config,
      );
    }
    const pods = await kubectl("get", "pods", "-n", "plexus-examples", "-o", "json");
    const podItems = (
      JSON.parse(pods.stdout) as { items: { metadata: { name: string; annotations: Record<string, string> } }[] }
    ).items;
    for (const m of manifests.filter((x) => x.doc.kind === "Pod")) {
      const annotations = (m.doc.metadata as unknown as { annotations: Record<string, string> }).annotations;
      expect(
        podItems.find((p) => p.metadata.name === m.doc.metadata.name)?.metadata.annotations[
          "k8s.v1.cni.cncf.io/networks"
        ],
      ).toBe(annotations["k8s.v1.cni.cncf.io/networks"]);
    }
  });

  it("the server's CRD validation rejects a broken NAD (the apply above could fail)", async () => {
    const broken = {
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: { name: "broken", namespace: "plexus-examples" },
      spec: { config: { type: "macvlan" } },
    };
    const r = await kubectl({ stdin: JSON.stringify(broken) }, "apply", "-f", "-");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("spec.config");
  });
});

describe("deploy/", () => {
  it("kubectl's kustomize builds it (offline) into the manifests of deploy/", async () => {
    const r = await kubectl("kustomize", join(repoRoot, "deploy"));
    expect(r.code).toBe(0);
    const built = parseYamlDocuments(r.stdout) as { kind: string; metadata: { name: string } }[];
    const files = await loadManifests("deploy", { skip: ["kustomization.yaml"] });
    expect(built.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(
      files.map((m) => `${m.doc.kind}/${m.doc.metadata.name}`).sort(),
    );
  });
});
