// deploy/: every manifest valid for its kind, and consistent with the agent it runs (the flags
// and the options file parse, the host mounts are where the options say, the probes call real
// flags), RBAC exactly what the code uses, the image build file sound.

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseCommandLine as parseFlags } from "../../src/cli/args.js";
import { DAEMON_FLAGS } from "../../src/cli/daemon-command.js";
import { parseInstallFlags as parseCommandLine } from "../../src/cli/install-command.js";
import { DEFAULT_SOCKET } from "../../src/daemon/socket.js";
import { resolveInstallOptions, type InstallFlags } from "../../src/config/install-options.js";
import { parseYamlDocuments } from "../../src/local/yaml.js";
import { isBuiltin, loadManifests, repoRoot, validateBuiltin, type Manifest } from "./manifests-models.js";

/** `plexus install ARGS` as the executable parses them. */
function parseInstallFlags(args: readonly string[]): InstallFlags {
  const flags = parseCommandLine("install", args);
  if (flags === undefined) throw new Error("--help in the manifest's args");
  return flags;
}

let manifests: Manifest[];
const byKind = (kind: string): Manifest["doc"] => {
  const found = manifests.find((m) => m.doc.kind === kind);
  if (!found) throw new Error(`no ${kind} in deploy/`);
  return found.doc;
};

beforeAll(async () => {
  manifests = await loadManifests("deploy", { skip: ["kustomization.yaml", "uninstall/"] });
});

interface Container {
  name: string;
  image: string;
  command?: string[];
  args: string[];
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  readinessProbe: { exec: { command: string[] }; httpGet?: { path: string; port: string } };
  livenessProbe: { exec: { command: string[] }; httpGet?: { path: string; port: string } };
  ports?: { name: string; containerPort: number }[];
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string }[];
}
interface PodSpec {
  hostNetwork: boolean;
  priorityClassName: string;
  serviceAccountName: string;
  tolerations: Record<string, unknown>[];
  containers: Container[];
  volumes: {
    name: string;
    hostPath?: { path: string; type: string };
    configMap?: { name: string };
    emptyDir?: unknown;
  }[];
}
function podSpec(): PodSpec {
  return (byKind("DaemonSet") as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}
function installJson(): string {
  return (byKind("ConfigMap") as unknown as { data: Record<string, string> }).data["install.json"] ?? "";
}

describe("every manifest", () => {
  it("is a built-in kind valid against the Kubernetes schemas", () => {
    expect(manifests.map((m) => m.doc.kind).sort()).toEqual([
      "ClusterRole",
      "ClusterRoleBinding",
      "ConfigMap",
      "DaemonSet",
      "ServiceAccount",
    ]);
    for (const { file, doc } of manifests) {
      expect(isBuiltin(doc), file).toBe(true);
      expect(() => validateBuiltin(doc), file).not.toThrow();
    }
  });

  it("the schema check can fail: a DaemonSet without a selector, a container name that is not a string", () => {
    const ds = structuredClone(byKind("DaemonSet")) as Record<string, { selector?: unknown }>;
    delete ds["spec"]!.selector;
    expect(() => validateBuiltin(ds as Manifest["doc"])).toThrow(/selector/);
    const pod = structuredClone(byKind("DaemonSet")) as unknown as {
      spec: { template: { spec: { containers: { name: unknown }[] } } };
    };
    pod.spec.template.spec.containers[0]!.name = 5;
    expect(() => validateBuiltin(pod as unknown as Manifest["doc"])).toThrow(/name must be string/);
  });

  it("namespaced objects live in kube-system", () => {
    for (const { file, doc } of manifests) {
      if (["ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"].includes(doc.kind))
        expect(doc.metadata.namespace, file).toBeUndefined();
      else expect(doc.metadata.namespace, file).toBe("kube-system");
    }
  });
});

describe("kustomization", () => {
  it("lists every manifest file, so kubectl apply -k deploy/ is the whole install", async () => {
    const kustomization = parseYamlDocuments(
      await readFile(join(repoRoot, "deploy/kustomization.yaml"), "utf8"),
    )[0] as { resources: string[] };
    const files = (await readdir(join(repoRoot, "deploy")))
      .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
      .sort();
    expect([...kustomization.resources].sort()).toEqual(files);
  });

  it("leaves the CRD out: kubectl delete -k deploy/ must not delete every NetworkAttachmentDefinition", () => {
    expect(manifests.filter((m) => m.doc.kind === "CustomResourceDefinition")).toEqual([]);
  });

  it("crds/ has a kustomization of its own that lists the CRD", async () => {
    const kustomization = parseYamlDocuments(await readFile(join(repoRoot, "crds/kustomization.yaml"), "utf8"))[0] as {
      resources: string[];
    };
    const files = (await readdir(join(repoRoot, "crds"))).filter(
      (f) => f.endsWith(".yaml") && f !== "kustomization.yaml",
    );
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });
});

describe("RBAC", () => {
  it("grants exactly what the plugin and the agent use, nothing else", () => {
    const rules = (
      byKind("ClusterRole") as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }
    ).rules;
    const grants = rules
      .flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || "core"}/${res}:${v}`))),
      )
      .sort();
    expect(grants).toEqual([
      "core/events:create",
      "core/events:get",
      "core/events:patch",
      "core/pods/status:patch",
      "core/pods:get",
      "core/pods:list",
      "core/pods:watch",
      "k8s.cni.cncf.io/network-attachment-definitions:get",
      "k8s.cni.cncf.io/network-attachment-definitions:list",
      "k8s.cni.cncf.io/network-attachment-definitions:watch",
    ]);
  });

  it("every rule says which feature needs it", async () => {
    const text = await readFile(join(repoRoot, "deploy/clusterrole.yaml"), "utf8");
    const blocks = text.split(/\n  - apiGroups:/).slice(1);
    expect(blocks).toHaveLength(4);
    const lines = text.split("\n");
    lines.forEach((line, i) => {
      if (line.startsWith("  - apiGroups:")) expect(lines[i - 1], `comment above line ${i + 1}`).toMatch(/^\s+#/);
    });
  });

  it("binds the role to the agent's service account, which the DaemonSet runs as", () => {
    const binding = byKind("ClusterRoleBinding") as unknown as {
      roleRef: { name: string };
      subjects: { kind: string; name: string; namespace: string }[];
    };
    expect(binding.roleRef.name).toBe(byKind("ClusterRole").metadata.name);
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: byKind("ServiceAccount").metadata.name, namespace: "kube-system" },
    ]);
    expect(podSpec().serviceAccountName).toBe(byKind("ServiceAccount").metadata.name);
  });
});

describe("the DaemonSet and the agent's options", () => {
  it("runs on every node, before pod networking exists, as a critical pod", () => {
    const spec = podSpec();
    expect(spec.tolerations).toEqual([{ operator: "Exists" }]);
    expect(spec.priorityClassName).toBe("system-node-critical");
    expect(spec.hostNetwork).toBe(true);
  });

  it("its args and the ConfigMap's install.json parse as the agent's options", () => {
    const c = podSpec().containers[0]!;
    const options = resolveInstallOptions(parseInstallFlags(c.args), installJson());
    expect(options).toMatchObject({
      hostRoot: "/host",
      cniConfDir: "/etc/cni/net.d",
      cniBinDir: "/opt/cni/bin",
      stateDir: "/var/lib/cni/plexus",
      cleanupOnExit: false,
    });
    expect(options.plugin).toMatchObject({ logLevel: "warn", namespaceIsolation: false });
  });

  it("mounts each host dir the options name at <hostRoot><path>, from that host path", () => {
    const spec = podSpec();
    const c = spec.containers[0]!;
    const options = resolveInstallOptions(parseInstallFlags(c.args), installJson());
    for (const hostPath of [options.cniConfDir, options.cniBinDir, options.stateDir]) {
      const volume = spec.volumes.find((v) => v.hostPath?.path === hostPath);
      expect(volume, hostPath).toBeDefined();
      const mount = c.volumeMounts.find((m) => m.name === volume?.name);
      expect(mount?.mountPath, hostPath).toBe(`${options.hostRoot}${hostPath}`);
    }
    // No other host path for the agent: least privilege.
    const hostPathOf = (name: string) => spec.volumes.find((v) => v.name === name)?.hostPath?.path;
    expect(
      c.volumeMounts
        .map((m) => hostPathOf(m.name))
        .filter(Boolean)
        .sort(),
    ).toEqual([options.cniBinDir, options.cniConfDir, options.stateDir].sort());
    const config = spec.volumes.find((v) => v.configMap?.name === byKind("ConfigMap").metadata.name);
    expect(c.volumeMounts.find((m) => m.name === config?.name)?.mountPath).toBe("/etc/plexus");
  });

  it("probes run real agent flags: --check for readiness, --alive on the status file the agent writes", () => {
    const c = podSpec().containers[0]!;
    const [bin, sub, ...readyArgs] = c.readinessProbe.exec.command;
    expect([bin, sub]).toEqual(["/usr/local/bin/plexus", "install"]);
    expect(resolveInstallOptions(parseInstallFlags(readyArgs), installJson()).check).toBe(true);
    const [, , ...aliveArgs] = c.livenessProbe.exec.command;
    const alive = resolveInstallOptions(parseInstallFlags(aliveArgs), installJson());
    expect(alive.alive).toBe(true);
    const agent = resolveInstallOptions(parseInstallFlags(c.args), installJson());
    expect(alive.statusFile).toBe(agent.statusFile);
    expect(c.volumeMounts.some((m) => agent.statusFile.startsWith(`${m.mountPath}/`))).toBe(true);
  });

  it("is least-privilege: root for file ownership only, no privilege, no capability, read-only image", () => {
    expect(podSpec().containers[0]!.securityContext).toMatchObject({
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("has requests and limits, the downward-API pod identity for Events, and the image placeholder", () => {
    const c = podSpec().containers[0]!;
    expect(Object.keys(c.resources.requests).sort()).toEqual(["cpu", "memory"]);
    expect(Object.keys(c.resources.limits).sort()).toEqual(["cpu", "memory"]);
    expect(Object.fromEntries(c.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]))).toEqual({
      POD_NAME: "metadata.name",
      POD_NAMESPACE: "metadata.namespace",
      POD_UID: "metadata.uid",
    });
    expect(c.image).toBe("ghcr.io/plexus-cni/plexus:0.1.0");
  });
});

describe("the daemon container (daemon mode)", () => {
  const daemon = () => {
    const c = podSpec().containers.find((x) => x.name === "daemon");
    if (!c) throw new Error("no daemon container");
    return c;
  };
  const flags = () => {
    const line = parseFlags(daemon().args, DAEMON_FLAGS);
    return line.flags;
  };

  it("the agent installs daemon mode, and the container runs plexus daemon with flags it accepts", () => {
    expect(resolveInstallOptions(parseInstallFlags(podSpec().containers[0]!.args), installJson()).mode).toBe("daemon");
    expect(daemon().command).toEqual(["/usr/local/bin/plexus", "daemon"]);
    expect(daemon().image).toBe(podSpec().containers[0]!.image);
    expect(flags()).toMatchObject({ socket: DEFAULT_SOCKET, "node-name": "$(NODE_NAME)", "host-root": "/host" });
  });

  it("serves the socket where the shim looks, in a host directory", () => {
    const spec = podSpec();
    const mount = daemon().volumeMounts.find((m) => m.mountPath === "/run/plexus");
    expect(spec.volumes.find((v) => v.name === mount?.name)?.hostPath?.path).toBe("/run/plexus");
    expect(DEFAULT_SOCKET.startsWith("/run/plexus/")).toBe(true);
  });

  it("probes /readyz and /healthz on the metrics port it listens on", () => {
    const c = daemon();
    const port = c.ports?.find((p) => p.name === "metrics")?.containerPort;
    expect(flags()["metrics-address"]).toBe(`$(HOST_IP):${port}`);
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(Object.fromEntries(c.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]))).toEqual({
      NODE_NAME: "spec.nodeName",
      HOST_IP: "status.hostIP",
    });
  });

  it("mounts the host root for --host-root with HostToContainer propagation, and the host paths at their own paths", () => {
    const spec = podSpec();
    const c = daemon();
    const root = c.volumeMounts.find((m) => m.mountPath === flags()["host-root"]);
    expect(root?.mountPropagation).toBe("HostToContainer");
    expect(spec.volumes.find((v) => v.name === root?.name)?.hostPath?.path).toBe("/");
    const options = resolveInstallOptions(parseInstallFlags(podSpec().containers[0]!.args), installJson());
    for (const path of [options.cniBinDir, options.cniConfDir, options.stateDir]) {
      const m = c.volumeMounts.find((x) => x.mountPath === path);
      expect(spec.volumes.find((v) => v.name === m?.name)?.hostPath?.path, path).toBe(path);
    }
  });

  it("has a memory request and limit (children count against it)", () => {
    const c = daemon();
    expect(c.resources.requests["memory"]).toMatch(/^\d+Mi$/);
    expect(c.resources.limits["memory"]).toMatch(/^\d+Mi$/);
  });
});

describe("Containerfile (built by npm run image; the e2e tier runs the image)", () => {
  let lines: string[];
  let script: string;
  beforeAll(async () => {
    lines = (await readFile(join(repoRoot, "deploy/Containerfile"), "utf8"))
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    script = await readFile(join(repoRoot, "deploy/build-image.sh"), "utf8");
  });

  it("starts from scratch: nothing is pulled", () => {
    expect(lines.filter((l) => /^FROM\s/i.test(l))).toEqual(["FROM scratch"]);
  });

  it("copies only what build-image.sh stages: the executables and the libraries they need", () => {
    const sources = lines.filter((l) => l.startsWith("COPY ")).map((l) => l.split(/\s+/)[1] ?? "");
    expect(sources).toEqual(["usr/local/bin/", "lib/x86_64-linux-gnu/", "lib64/"]);
    for (const dir of sources) expect(script).toContain(`$CONTEXT/${dir.replace(/\/$/, "")}`);
    for (const exe of ["dist/plexus", "dist/plexus-shim", "dist/plexus-hostexec"]) expect(script).toContain(exe);
  });

  it("runs as root with `plexus install` as its entrypoint, at the path the DaemonSet's probes call", () => {
    expect(lines).toContain("USER 0:0");
    expect(lines).toContain('ENTRYPOINT ["/usr/local/bin/plexus", "install"]');
    expect(podSpec().containers[0]!.readinessProbe.exec.command[0]).toBe("/usr/local/bin/plexus");
  });

  it("is the image deploy/kustomization.yaml names, so one `images:` line repoints it", async () => {
    const kustomization = parseYamlDocuments(
      await readFile(join(repoRoot, "deploy/kustomization.yaml"), "utf8"),
    )[0] as {
      images: { name: string; newName: string; newTag: string }[];
    };
    const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as {
      version: string;
      scripts: Record<string, string>;
    };
    expect(pkg.scripts["image"]).toBe("bash deploy/build-image.sh");
    expect(kustomization.images).toEqual([
      { name: "ghcr.io/plexus-cni/plexus", newName: "ghcr.io/plexus-cni/plexus", newTag: pkg.version },
    ]);
    expect(script).toContain('IMAGE="${PLEXUS_IMAGE:-ghcr.io/plexus-cni/plexus}"');
    for (const c of podSpec().containers) expect(c.image.split(":")[0]).toBe("ghcr.io/plexus-cni/plexus");
  });
});
