// docs/operator-guide.md says what operators will type and see; this keeps the parts that can
// drift from the code true: the k3s kustomization it shows builds with kubectl's kustomize over
// deploy/ and mounts every directory the agent's options name where each container needs it
// (and changes nothing else of install.json), every metric it lists is one the daemon
// defines, and its command that raises the daemon's log level, run as written with kubectl against
// deploy/ applied to the local API server, leaves the daemon flags that parse at debug.

import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCommandLine } from "../../src/cli/args.js";
import { DAEMON_FLAGS } from "../../src/cli/daemon-command.js";
import { parseInstallFlags } from "../../src/cli/install-command.js";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { resolveInstallOptions } from "../../src/config/install-options.js";
import { parseYamlDocuments } from "../../src/local/yaml.js";
import { repoRoot } from "../unit/manifests-models.js";

const exec = promisify(execFile);
let guide: string;
let dir: string;

beforeAll(async () => {
  guide = await readFile(join(repoRoot, "docs/operator-guide.md"), "utf8");
  dir = await mkdtemp(join(tmpdir(), "plexus-guide-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The fenced yaml block whose first line is `# <name>`. */
function block(name: string): string {
  const found = [...guide.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1] ?? "")
    .find((b) => b.startsWith(`# ${name}\n`));
  if (found === undefined) throw new Error(`docs/operator-guide.md has no yaml block starting with "# ${name}"`);
  return found;
}

interface Mount {
  name: string;
  mountPath: string;
}
interface Container {
  name: string;
  args?: string[];
  volumeMounts: Mount[];
}
interface DaemonSetDoc {
  kind: "DaemonSet";
  spec: { template: { spec: { containers: Container[]; volumes: { name: string; hostPath?: { path: string } }[] } } };
}

describe("the k3s kustomization of docs/operator-guide.md", () => {
  let ds: DaemonSetDoc;
  let installJson: string;

  beforeAll(async () => {
    // The layout the guide assumes: a checkout of Plexus beside the kustomization.
    await cp(join(repoRoot, "deploy"), join(dir, "plexus", "deploy"), { recursive: true });
    await mkdir(join(dir, "plexus-k3s"));
    await writeFile(join(dir, "plexus-k3s", "kustomization.yaml"), block("plexus-k3s/kustomization.yaml"));
    await writeFile(join(dir, "plexus-k3s", "paths.yaml"), block("plexus-k3s/paths.yaml"));
    const { stdout } = await exec("/usr/bin/kubectl", ["kustomize", join(dir, "plexus-k3s")]);
    const docs = parseYamlDocuments(stdout) as { kind: string; data?: Record<string, string> }[];
    ds = docs.find((d) => d.kind === "DaemonSet") as unknown as DaemonSetDoc;
    installJson = docs.find((d) => d.kind === "ConfigMap")?.data?.["install.json"] ?? "";
  });

  it("changes only the CNI dirs of install.json", async () => {
    const shipped = parseYamlDocuments(await readFile(join(repoRoot, "deploy/configmap.yaml"), "utf8")).find(
      (d) => (d as { kind?: string } | null)?.kind === "ConfigMap",
    ) as { data: Record<string, string> };
    const ours = JSON.parse(installJson) as Record<string, unknown>;
    const theirs = JSON.parse(shipped.data["install.json"] ?? "{}") as Record<string, unknown>;
    const strip = (o: Record<string, unknown>) => {
      const { cniConfDir: _c, cniBinDir: _b, ...rest } = o;
      return rest;
    };
    expect(strip(ours)).toEqual(strip(theirs));
    expect(ours).toMatchObject({
      cniConfDir: "/var/lib/rancher/k3s/agent/etc/cni/net.d",
      cniBinDir: "/var/lib/rancher/k3s/data/current/bin",
    });
  });

  it("the agent mounts each dir of its options at <host root><path>, the daemon at the path itself, from that host path", () => {
    const spec = ds.spec.template.spec;
    const agent = spec.containers.find((c) => c.name === "plexus") as Container;
    const daemon = spec.containers.find((c) => c.name === "daemon") as Container;
    const options = resolveInstallOptions(parseInstallFlags("install", agent.args ?? []) ?? {}, installJson);
    for (const path of [options.cniConfDir, options.cniBinDir, options.stateDir]) {
      const volume = spec.volumes.find((v) => v.hostPath?.path === path);
      expect(volume, path).toBeDefined();
      expect(agent.volumeMounts.find((m) => m.name === volume?.name)?.mountPath, path).toBe(
        `${options.hostRoot}${path}`,
      );
      expect(daemon.volumeMounts.find((m) => m.name === volume?.name)?.mountPath, path).toBe(path);
    }
    const all = [...agent.volumeMounts, ...daemon.volumeMounts].map((m) => m.mountPath);
    for (const gone of ["/host/opt/cni/bin", "/host/etc/cni/net.d", "/opt/cni/bin", "/etc/cni/net.d"])
      expect(all, gone).not.toContain(gone);
  });
});

describe("the metrics table of docs/operator-guide.md", () => {
  it("names only metrics the daemon defines, and every one it defines", async () => {
    const source = await readFile(join(repoRoot, "src/daemon/metrics.ts"), "utf8");
    const defined = new Set([...source.matchAll(/name: "(plexus_[a-z_]+)"/g)].map((m) => m[1]));
    const section = guide.slice(guide.indexOf("## Metrics"), guide.indexOf("## On a node"));
    const named = new Set([...section.matchAll(/`(plexus_[a-z_]+)`/g)].map((m) => m[1]));
    named.delete("plexus_daemon_nodejs_");
    named.delete("plexus_daemon_process_");
    expect([...named].filter((n) => !defined.has(n))).toEqual([]);
    expect([...defined].filter((n) => !named.has(n))).toEqual([]);
  });
});

/** The fenced sh block holding `needle`, its continuation lines joined. */
function shBlock(needle: string): string {
  const found = [...guide.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "").find((b) => b.includes(needle));
  if (found === undefined) throw new Error(`docs/operator-guide.md has no sh block with "${needle}"`);
  return found.replace(/\\\n\s*/g, "");
}

describe("the log level command of docs/operator-guide.md", () => {
  let api: LocalApiServer;
  const env = () => ({ PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir, KUBECONFIG: join(dir, "kubeconfig") });

  beforeAll(async () => {
    api = await startLocalApiServer({ crdDir: join(repoRoot, "crds") });
    await api.writeKubeconfig(join(dir, "kubeconfig"));
    api.store.ensureNamespace("kube-system");
    await exec("/usr/bin/kubectl", ["apply", "-k", join(repoRoot, "deploy")], { env: env() });
  });
  afterAll(async () => {
    await api?.stop();
  });

  it("run as written, it adds --log-level=debug to the daemon container, whose flags then parse", async () => {
    const command = shBlock("patch daemonset plexus");
    await exec("/bin/bash", ["-euo", "pipefail", "-c", command], { env: env() });
    const { stdout } = await exec(
      "/usr/bin/kubectl",
      ["-n", "kube-system", "get", "daemonset", "plexus", "-o", "json"],
      {
        env: env(),
      },
    );
    const containers = (JSON.parse(stdout) as DaemonSetDoc).spec.template.spec.containers;
    const daemon = containers.find((c) => c.name === "daemon");
    expect(daemon?.args?.at(-1)).toBe("--log-level=debug");
    expect(parseCommandLine(daemon?.args ?? [], DAEMON_FLAGS).flags["log-level"]).toBe("debug");
    // The agent's container is untouched.
    expect(containers.find((c) => c.name === "plexus")?.args ?? []).not.toContain("--log-level=debug");
  });
});
