// The manifests with the real kubectl (/usr/bin/kubectl): the examples applied to Plexus's local
// API server (which serves the NAD CRD from crds/ and validates NADs against its schema, with
// kubectl's strict field validation), deploy/ built by kubectl's own kustomize, and the install
// and uninstall commands of deploy/README.md run as written against a server that starts
// without the CRD.

import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { parseYamlDocuments } from "../../src/local/yaml.js";
import { parseInstallFlags } from "../../src/cli/install-command.js";
import { resolveInstallOptions } from "../../src/config/install-options.js";
import { loadManifests, repoRoot } from "../unit/manifests-models.js";

let server: LocalApiServer;

/** deploy/configmap.yaml's install.json (the agent's --config file). */
async function installJson(): Promise<string> {
  const cm = (await loadManifests("deploy", { skip: ["kustomization.yaml", "uninstall/"] })).find(
    (m) => m.doc.kind === "ConfigMap",
  );
  return (cm?.doc["data"] as Record<string, string>)["install.json"] ?? "";
}
let dir: string;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function kubectl(first: string | { stdin: string }, ...rest: string[]): Promise<Run> {
  return kubectlWith(join(dir, "kubeconfig"), first, ...rest);
}

function kubectlWith(kubeconfig: string, first: string | { stdin: string }, ...rest: string[]): Promise<Run> {
  const args = typeof first === "string" ? [first, ...rest] : rest;
  const argv = [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dir, "cache")}`, ...args];
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
    const files = await loadManifests("deploy", { skip: ["kustomization.yaml", "uninstall/"] });
    expect(built.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(
      files.map((m) => `${m.doc.kind}/${m.doc.metadata.name}`).sort(),
    );
  });
});

describe("install and uninstall with kubectl, as deploy/README.md says", () => {
  let bare: LocalApiServer;
  let kubeconfig: string;
  const k = (first: string | { stdin: string }, ...rest: string[]) => kubectlWith(kubeconfig, first, ...rest);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await k(...(args as [string, ...string[]]));
    expect(r.code, `kubectl ${args.join(" ")}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const nad = {
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: { name: "users-data", namespace: "default" },
    spec: { config: JSON.stringify({ cniVersion: "1.0.0", type: "macvlan", master: "eth1" }) },
  };

  beforeAll(async () => {
    // No crdDir: the CRD arrives through kubectl, as on a cluster.
    bare = await startLocalApiServer({});
    kubeconfig = join(dir, "bare-kubeconfig");
    await bare.writeKubeconfig(kubeconfig);
    const namespaces = bare.store.list({ resource: "namespaces" }).items.map((n) => n.metadata.name);
    for (const name of ["default", "kube-system"].filter((n) => !namespaces.includes(n)))
      bare.store.create({ resource: "namespaces" }, { metadata: { name } });
  });
  afterAll(async () => {
    await bare?.stop();
  });

  it("kubectl apply -k crds/, then -k deploy/, then a NAD: `kubectl get nad` finds it by the short name", async () => {
    await ok("apply", "-k", join(repoRoot, "crds"));
    await ok("apply", "-k", join(repoRoot, "deploy"));
    await ok("get", "daemonset", "plexus", "-n", "kube-system");
    const applied = await k({ stdin: JSON.stringify(nad) }, "apply", "-f", "-");
    expect(applied.code, applied.stderr).toBe(0);
    expect(await ok("get", "nad", "-A", "-o", "name")).toContain(
      "networkattachmentdefinition.k8s.cni.cncf.io/users-data",
    );
    expect(await ok("get", "net-attach-def", "users-data", "-o", "jsonpath={.metadata.name}")).toBe("users-data");
  });

  it("the uninstall patch turns the DaemonSet's container into `plexus uninstall --wait` with the agent's options", async () => {
    const before = JSON.parse(await ok("get", "daemonset", "plexus", "-n", "kube-system", "-o", "json"));
    await ok(
      "-n",
      "kube-system",
      "patch",
      "daemonset",
      "plexus",
      "--patch-file",
      join(repoRoot, "deploy/uninstall/daemonset-patch.yaml"),
    );
    const ds = JSON.parse(await ok("get", "daemonset", "plexus", "-n", "kube-system", "-o", "json"));
    const spec = ds.spec.template.spec;
    const agent = before.spec.template.spec.containers[0];
    expect(spec.initContainers).toBeUndefined();
    expect(spec.containers).toHaveLength(1);
    const c = spec.containers[0];
    expect(c.image).toBe(agent.image);
    expect(c.securityContext).toEqual(agent.securityContext);
    expect(c.volumeMounts).toEqual(agent.volumeMounts);
    expect(c.livenessProbe).toBeUndefined();
    expect(c.command).toEqual(["/usr/local/bin/plexus", "uninstall"]);
    // The same options as the agent's (they say where Plexus's files are), as uninstall parses them.
    const json = await installJson();
    const uninstallOptions = resolveInstallOptions(parseInstallFlags("uninstall", c.args) ?? {}, json);
    const agentOptions = resolveInstallOptions(parseInstallFlags("install", agent.args) ?? {}, json);
    expect(uninstallOptions).toMatchObject({
      wait: true,
      hostRoot: agentOptions.hostRoot,
      cniConfDir: agentOptions.cniConfDir,
    });
    const probe: string[] = c.readinessProbe.exec.command;
    expect(probe.slice(0, 2)).toEqual(["/usr/local/bin/plexus", "uninstall"]);
    expect(resolveInstallOptions(parseInstallFlags("uninstall", probe.slice(2)) ?? {}, json)).toMatchObject({
      check: true,
      hostRoot: agentOptions.hostRoot,
      kubeconfig: agentOptions.kubeconfig,
    });
  });

  it("kubectl delete -k deploy/ removes Plexus and leaves the CRD and the NADs", async () => {
    const out = await ok("delete", "-k", join(repoRoot, "deploy"));
    expect(out).toContain('daemonset.apps "plexus" deleted');
    expect(out).not.toContain("customresourcedefinition");
    expect((await k("get", "daemonset", "plexus", "-n", "kube-system")).code).not.toBe(0);
    await ok("get", "crd", "network-attachment-definitions.k8s.cni.cncf.io");
    expect(await ok("get", "nad", "users-data", "-o", "jsonpath={.spec.config}")).toBe(nad.spec.config);
  });

  it("kubectl delete -k crds/ is the deliberate step that removes the CRD, and every NAD with it", async () => {
    await ok("delete", "-k", join(repoRoot, "crds"));
    expect((await k("get", "crd", "network-attachment-definitions.k8s.cni.cncf.io")).code).not.toBe(0);
    expect((await k("get", "nad", "-A")).code).not.toBe(0);
    // Installed again, the CRD comes back empty.
    await ok("apply", "-k", join(repoRoot, "crds"));
    expect(await ok("get", "nad", "-A", "-o", "name")).toBe("");
  });
});
