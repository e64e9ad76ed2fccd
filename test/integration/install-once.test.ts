// `plexus install --once` against a throwaway host seeded with the real Calico, Flannel and
// Cilium configs: what lands on the node, and that it is what the plugin reads.

import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNetworkConfig } from "../../src/cni/conf.js";
import { parsePlexusNetConf } from "../../src/config/netconf.js";
import {
  buildAgentBundle,
  createFakeHost,
  primariesDir,
  readJson,
  runAgent,
  startAgent,
  waitFor,
  type FakeHost,
} from "./install-harness.js";

let work: string;
let bundle: string;
const hosts: FakeHost[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "plexus-install-once-"));
  bundle = await buildAgentBundle(work);
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.cleanup()));
  await rm(work, { recursive: true, force: true });
});

async function host(tag: string): Promise<FakeHost> {
  const h = await createFakeHost(tag);
  hosts.push(h);
  return h;
}

const PRIMARIES = [
  {
    file: "10-calico.conflist",
    name: "k8s-pod-network",
    cniVersion: "0.3.1",
    capabilities: { portMappings: true, bandwidth: true },
  },
  { file: "10-flannel.conflist", name: "cbr0", cniVersion: "0.3.1", capabilities: { portMappings: true } },
  { file: "05-cilium.conflist", name: "cilium", cniVersion: "0.3.1", capabilities: undefined },
] as const;

describe.each(PRIMARIES)("over $file", (primary) => {
  let h: FakeHost;
  let result: Awaited<ReturnType<typeof runAgent>>;
  beforeAll(async () => {
    h = await host(primary.file.replace(/\W/g, ""));
    await h.seed(primary.file);
    result = await runAgent(bundle, ["--once", ...h.flags], h.env);
  });

  it("exits 0 having written 00-plexus.conflist, 0644", async () => {
    expect(result.stderr).not.toMatch(/"level":50/);
    expect(result.code).toBe(0);
    expect((await stat(join(h.confDir, "00-plexus.conflist"))).mode & 0o777).toBe(0o644);
  });

  it("passes Plexus's own config schema, with no key the plugin ignores", async () => {
    const conflist = await readJson(join(h.confDir, "00-plexus.conflist"));
    const list = parseNetworkConfig(conflist);
    expect(list.plugins.map((p) => p.type)).toEqual(["plexus"]);
    const entry = { ...list.plugins[0]!.raw, name: list.name, cniVersion: list.cniVersion };
    const { conf, unknownKeys } = parsePlexusNetConf(entry);
    expect(unknownKeys).toEqual([]);
    expect(conf.type).toBe("plexus");
  });

  it("wraps the primary by its HOST path, in the primary's cniVersion, keeping its capabilities", async () => {
    const conflist = await readJson(join(h.confDir, "00-plexus.conflist"));
    expect(conflist["cniVersion"]).toBe(primary.cniVersion);
    expect(conflist["name"]).toBe("plexus-cni-network");
    const plugin = (conflist["plugins"] as Record<string, unknown>[])[0]!;
    expect(plugin["clusterNetwork"]).toBe(`/etc/cni/net.d/${primary.file}`);
    expect(plugin["capabilities"]).toEqual(primary.capabilities);
    expect(plugin).toMatchObject({
      kubeconfig: "/etc/cni/net.d/plexus.d/plexus.kubeconfig",
      binDir: "/opt/cni/bin",
      cniDir: "/var/lib/cni/plexus",
    });
    // Nothing names the agent's view of the host (Multus writes /host/... paths in thick mode).
    expect(JSON.stringify(conflist)).not.toContain(h.root);
  });

  it("installs the executable (0755) and the state dir (0700)", async () => {
    expect(await readFile(join(h.binDir, "plexus"), "utf8")).toBe(await readFile(h.fakeBinary, "utf8"));
    expect((await stat(join(h.binDir, "plexus"))).mode & 0o777).toBe(0o755);
    expect((await stat(h.stateDir)).mode & 0o777).toBe(0o700);
  });

  it("writes a 0600 kubeconfig for the API from the pod's environment, naming a 0600 token copy", async () => {
    const kubeconfigPath = join(h.confDir, "plexus.d/plexus.kubeconfig");
    const kubeconfig = await readJson(kubeconfigPath);
    expect((await stat(kubeconfigPath)).mode & 0o777).toBe(0o600);
    expect(kubeconfig).toMatchObject({
      clusters: [
        {
          cluster: {
            server: "https://[fd00::1]:6443",
            "certificate-authority-data": Buffer.from(await readFile(join(h.saDir, "ca.crt"))).toString("base64"),
          },
        },
      ],
      users: [{ user: { tokenFile: "/etc/cni/net.d/plexus.d/plexus.token" } }],
    });
    expect(JSON.stringify(kubeconfig)).not.toContain("token-1");
    const tokenPath = join(h.confDir, "plexus.d/plexus.token");
    expect(await readFile(tokenPath, "utf8")).toBe("token-1");
    expect((await stat(tokenPath)).mode & 0o777).toBe(0o600);
  });

  it("leaves the primary untouched", async () => {
    expect(await readFile(join(h.confDir, primary.file), "utf8")).toBe(
      await readFile(join(primariesDir, primary.file), "utf8"),
    );
  });
});

describe("choosing the primary", () => {
  it("takes the lexically first config, as runtimes do (05-cilium before 10-calico)", async () => {
    const h = await host("order");
    await h.seed("10-calico.conflist");
    await h.seed("05-cilium.conflist");
    expect((await runAgent(bundle, ["--once", ...h.flags], h.env)).code).toBe(0);
    const plugin = (
      (await readJson(join(h.confDir, "00-plexus.conflist")))["plugins"] as Record<string, unknown>[]
    )[0]!;
    expect(plugin["clusterNetwork"]).toBe("/etc/cni/net.d/05-cilium.conflist");
  });

  it("takes the named file with --primary-conf", async () => {
    const h = await host("named");
    await h.seed("10-calico.conflist");
    await h.seed("05-cilium.conflist");
    expect((await runAgent(bundle, ["--once", "--primary-conf", "10-calico.conflist", ...h.flags], h.env)).code).toBe(
      0,
    );
    const plugin = (
      (await readJson(join(h.confDir, "00-plexus.conflist")))["plugins"] as Record<string, unknown>[]
    )[0]!;
    expect(plugin["clusterNetwork"]).toBe("/etc/cni/net.d/10-calico.conflist");
  });

  it("refuses to wrap a Multus config, naming the file", async () => {
    const h = await host("multus");
    await h.seed("10-calico.conflist");
    await writeFile(
      join(h.confDir, "00-multus.conf"),
      JSON.stringify({
        cniVersion: "0.3.1",
        name: "multus-cni-network",
        type: "multus",
        kubeconfig: "/x",
        clusterNetwork: "/etc/cni/net.d/10-calico.conflist",
      }),
    );
    const r = await runAgent(bundle, ["--once", "--wait-timeout", "1", ...h.flags], h.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("00-multus.conf is Multus's configuration (multus): set takeOverMultus");
    await expect(stat(join(h.confDir, "00-plexus.conflist"))).rejects.toThrow();
  });

  it("keeps only the capabilities a plugin enables (false is not offered)", async () => {
    const h = await host("caps");
    await writeFile(
      join(h.confDir, "10-custom.conflist"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "custom",
        plugins: [
          { type: "bridge", capabilities: { ips: true, mac: false } },
          { type: "portmap", capabilities: { portMappings: true } },
          { type: "bandwidth", capabilities: { bandwidth: false } },
        ],
      }),
    );
    expect((await runAgent(bundle, ["--once", ...h.flags], h.env)).code).toBe(0);
    const conflist = await readJson(join(h.confDir, "00-plexus.conflist"));
    expect(conflist["cniVersion"]).toBe("1.0.0");
    expect((conflist["plugins"] as Record<string, unknown>[])[0]!["capabilities"]).toEqual({
      ips: true,
      portMappings: true,
    });
  });

  it("refuses a primary in a CNI version Plexus does not speak, saying which", async () => {
    const h = await host("version");
    await writeFile(
      join(h.confDir, "10-future.conflist"),
      JSON.stringify({ cniVersion: "2.0.0", name: "future", plugins: [{ type: "bridge" }] }),
    );
    const r = await runAgent(bundle, ["--once", "--wait-timeout", "0.5", ...h.flags], h.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('10-future.conflist has cniVersion \\"2.0.0\\"');
    await expect(stat(join(h.confDir, "00-plexus.conflist"))).rejects.toThrow();
  });

  it("takes the version libcni selects from cniVersions, and --network-name", async () => {
    const h = await host("versions");
    await writeFile(
      join(h.confDir, "10-multi.conflist"),
      JSON.stringify({
        cniVersion: "0.4.0",
        cniVersions: ["0.3.1", "1.0.0", "9.9.9"],
        name: "multi",
        plugins: [{ type: "bridge" }],
      }),
    );
    expect((await runAgent(bundle, ["--once", "--network-name", "multi-net", ...h.flags], h.env)).code).toBe(0);
    const conflist = await readJson(join(h.confDir, "00-plexus.conflist"));
    expect(conflist).toMatchObject({ cniVersion: "1.0.0", name: "multi-net" });
  });

  it("wraps a legacy single-plugin .conf", async () => {
    const h = await host("conf");
    await writeFile(
      join(h.confDir, "10-bridge.conf"),
      JSON.stringify({
        cniVersion: "0.4.0",
        name: "br",
        type: "bridge",
        ipam: { type: "host-local", subnet: "198.18.9.0/24" },
      }),
    );
    expect((await runAgent(bundle, ["--once", ...h.flags], h.env)).code).toBe(0);
    const conflist = await readJson(join(h.confDir, "00-plexus.conflist"));
    expect(conflist["cniVersion"]).toBe("0.4.0");
    expect((conflist["plugins"] as Record<string, unknown>[])[0]!["clusterNetwork"]).toBe(
      "/etc/cni/net.d/10-bridge.conf",
    );
  });
});

describe("waiting, so no pod starts against a half-installed node", () => {
  it("writes nothing until a primary appears, then installs", async () => {
    const h = await host("wait");
    const agent = startAgent(bundle, ["--once", ...h.flags], h.env);
    await waitFor("the agent to say it waits", () =>
      agent.stderr().includes("waiting for a primary network config") ? true : undefined,
    );
    await expect(stat(join(h.confDir, "00-plexus.conflist"))).rejects.toThrow();
    await h.seed("10-flannel.conflist");
    expect((await agent.exited).code).toBe(0);
    expect(await stat(join(h.confDir, "00-plexus.conflist"))).toBeTruthy();
  });

  it("retries a primary that is not valid JSON yet, saying why", async () => {
    const h = await host("partial");
    const text = await readFile(join(primariesDir, "10-flannel.conflist"), "utf8");
    await writeFile(join(h.confDir, "10-flannel.conflist"), text.slice(0, 40)); // a `cp` caught halfway
    const agent = startAgent(bundle, ["--once", ...h.flags], h.env);
    await waitFor("the agent to report the broken primary", () =>
      agent.stderr().includes("10-flannel.conflist is not usable yet") ? true : undefined,
    );
    await expect(stat(join(h.confDir, "00-plexus.conflist"))).rejects.toThrow();
    await writeFile(join(h.confDir, "10-flannel.conflist"), text);
    expect((await agent.exited).code).toBe(0);
  });

  it("waits for the readiness indicator file before writing ours, and names it in the config", async () => {
    const h = await host("ready");
    await h.seed("10-flannel.conflist");
    const agent = startAgent(
      bundle,
      ["--once", "--readiness-indicator-file", "/run/flannel/subnet.env", ...h.flags],
      h.env,
    );
    await waitFor("the agent to wait for readiness", () =>
      agent.stderr().includes("waiting for the readiness indicator file /run/flannel/subnet.env") ? true : undefined,
    );
    await expect(stat(join(h.confDir, "00-plexus.conflist"))).rejects.toThrow();
    await mkdir(join(h.root, "run/flannel"), { recursive: true });
    await copyFile(join(primariesDir, "subnet.env"), join(h.root, "run/flannel/subnet.env"));
    expect((await agent.exited).code).toBe(0);
    const plugin = (
      (await readJson(join(h.confDir, "00-plexus.conflist")))["plugins"] as Record<string, unknown>[]
    )[0]!;
    expect(plugin["readinessindicatorfile"]).toBe("/run/flannel/subnet.env");
  });

  it("gives up after --wait-timeout with exit 1", async () => {
    const h = await host("timeout");
    const r = await runAgent(bundle, ["--once", "--wait-timeout", "0.5", ...h.flags], h.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("gave up");
  });
});

describe("options", () => {
  it("copies the ConfigMap's plugin options into the config, parsed by the plugin's schema", async () => {
    const h = await host("configmap");
    await h.seed("10-calico.conflist");
    const config = join(h.root, "..", "install.json");
    await writeFile(
      config,
      JSON.stringify({
        cleanupOnExit: true,
        plugin: {
          logLevel: "DEBUG",
          namespaceIsolation: true,
          globalNamespaces: "default, shared",
          kubernetes: { requestTimeoutMs: 2000 },
        },
      }),
    );
    expect((await runAgent(bundle, ["--once", "--config", config, ...h.flags], h.env)).code).toBe(0);
    const plugin = (
      (await readJson(join(h.confDir, "00-plexus.conflist")))["plugins"] as Record<string, unknown>[]
    )[0]!;
    expect(plugin).toMatchObject({
      logLevel: "debug",
      namespaceIsolation: true,
      globalNamespaces: ["default", "shared"],
      kubernetes: { requestTimeoutMs: 2000, retries: 3 },
    });
    expect(plugin).not.toHaveProperty("systemNamespaces"); // not set: the plugin's default stays in charge
  });

  it("rejects an unknown plugin option with exit 2, naming it", async () => {
    const h = await host("badopt");
    const config = join(h.root, "..", "install.json");
    await writeFile(config, JSON.stringify({ plugin: { namespaceIsolaton: true } }));
    const r = await runAgent(bundle, ["--once", "--config", config, ...h.flags], h.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("namespaceIsolaton");
  });

  it("refuses to start outside a pod's environment unless --skip-kubeconfig", async () => {
    const h = await host("nokube");
    await h.seed("10-flannel.conflist");
    const env = { PATH: h.env["PATH"] ?? "" };
    const r = await runAgent(bundle, ["--once", ...h.flags], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("KUBERNETES_SERVICE_HOST");
    expect((await runAgent(bundle, ["--once", "--skip-kubeconfig", ...h.flags], env)).code).toBe(0);
    const plugin = (
      (await readJson(join(h.confDir, "00-plexus.conflist")))["plugins"] as Record<string, unknown>[]
    )[0]!;
    expect(plugin["kubeconfig"]).toBe("");
  });

  it("documents its flags in --help", async () => {
    const r = await runAgent(bundle, ["--help"], {});
    expect(r.code).toBe(0);
    for (const flag of ["--cni-conf-dir", "--cni-bin-dir", "--once", "--host-root", "--check", "--cleanup-on-exit"])
      expect(r.stdout).toContain(flag);
    const u = await runAgent(bundle, ["uninstall", "--help"], {});
    expect(u.stdout).toContain("--remove-binary");
  });

  it("needs --plexus-binary when not running as the single executable", async () => {
    const h = await host("nobin");
    await h.seed("10-flannel.conflist");
    const flags = h.flags.filter((f, i, all) => f !== "--plexus-binary" && all[i - 1] !== "--plexus-binary");
    const r = await runAgent(bundle, ["--once", ...flags], h.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--plexus-binary");
  });
});
