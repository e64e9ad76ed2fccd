// plexus install on a node that runs Multus (docs/migration.md): refused unless takeOverMultus
// is set; with it, Multus's settings carry over into 00-plexus.conflist, ours is written before
// Multus's file leaves the runtime's view (renamed, for the way back), and a restarted agent
// writes the same bytes from the renamed file. The Multus configs are the ones its thin
// entrypoint and its thick daemon generate (Multus cmd/thin_entrypoint, pkg/server/config).

import { watch } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgentBundle, createFakeHost, primariesDir, runAgent, waitFor, type FakeHost } from "./install-harness.js";

let work: string;
let bundle: string;
const hosts: FakeHost[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "plexus-install-takeover-"));
  bundle = await buildAgentBundle(work);
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.cleanup()));
  await rm(work, { recursive: true, force: true });
});

async function host(tag: string, primary: string): Promise<FakeHost> {
  const h = await createFakeHost(tag);
  hosts.push(h);
  await h.seed(primary);
  return h;
}

const flannel = async () => JSON.parse(await readFile(join(primariesDir, "10-flannel.conflist"), "utf8"));

/** 00-multus.conf as Multus's thin entrypoint writes it (auto mode, a 0.3.1 primary: the master inline). */
async function thinMultusConf(): Promise<Record<string, unknown>> {
  return {
    cniVersion: "0.3.1",
    name: "multus-cni-network",
    type: "multus",
    capabilities: { portMappings: true },
    namespaceIsolation: true,
    globalNamespaces: "default,shared",
    logLevel: "verbose",
    logFile: "/var/log/multus.log",
    cniConf: "/host/etc/cni/multus/net.d",
    readinessindicatorfile: "/run/flannel/subnet.env",
    kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig",
    delegates: [await flannel()],
  };
}

/** 00-multus.conf as Multus's thick daemon writes it: the shim, clusterNetwork in the daemon's view (/host). */
const thickMultusConf = {
  cniVersion: "0.3.1",
  name: "multus-cni-network",
  type: "multus-shim",
  clusterNetwork: "/host/etc/cni/net.d/10-calico.conflist",
  capabilities: { bandwidth: true, portMappings: true },
  logLevel: "verbose",
  logToStderr: true,
  socketDir: "/host/run/multus/",
};

const plexusPlugin = async (h: FakeHost): Promise<Record<string, unknown>> =>
  (JSON.parse(await readFile(join(h.confDir, "00-plexus.conflist"), "utf8")).plugins as Record<string, unknown>[])[0]!;

describe("a node with Multus's config", () => {
  it("is refused without takeOverMultus, and the message says how to take it over", async () => {
    const h = await host("refused", "10-flannel.conflist");
    await writeFile(join(h.confDir, "00-multus.conf"), JSON.stringify(await thinMultusConf()));
    const out = await runAgent(bundle, ["--once", "--wait-timeout", "1", ...h.flags], h.env);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(
      "00-multus.conf is Multus's configuration (multus): set takeOverMultus (--take-over-multus)",
    );
    expect(await readdir(h.confDir)).not.toContain("00-plexus.conflist");
  });

  it("thin: adopts its settings, writes ours before moving Multus's aside, and a restart writes the same bytes", async () => {
    const h = await host("thin", "10-flannel.conflist");
    const multus = JSON.stringify(await thinMultusConf());
    await writeFile(join(h.confDir, "00-multus.conf"), multus);
    const seen: string[] = [];
    const w = watch(h.confDir, (_e, name) => name && !seen.includes(name) && seen.push(name));
    const out = await runAgent(bundle, ["--once", "--take-over-multus", ...h.flags], h.env);
    await waitFor("both files seen", () => (seen.includes("00-multus.conf.replaced-by-plexus") ? true : undefined));
    w.close();
    expect(out.code, out.stderr).toBe(0);
    // inotify reports one directory's events in order: ours existed before Multus's left.
    expect(seen.indexOf("00-plexus.conflist")).toBeLessThan(seen.indexOf("00-multus.conf.replaced-by-plexus"));
    expect((await readdir(h.confDir)).sort()).toEqual([
      "00-multus.conf.replaced-by-plexus",
      "00-plexus.conflist",
      "10-flannel.conflist",
      "plexus.d",
    ]);
    expect(await readFile(join(h.confDir, "00-multus.conf.replaced-by-plexus"), "utf8")).toBe(multus);
    const p = await plexusPlugin(h);
    expect(p).toMatchObject({
      type: "plexus",
      clusterNetwork: "/etc/cni/net.d/10-flannel.conflist",
      kubeconfig: "/etc/cni/net.d/plexus.d/plexus.kubeconfig",
      namespaceIsolation: true,
      globalNamespaces: "default,shared",
      logLevel: "verbose",
      logFile: "/var/log/multus.log",
      readinessindicatorfile: "/run/flannel/subnet.env",
      multusCniDir: "/var/lib/cni/multus",
    });
    expect(p).not.toHaveProperty("cniConf");
    expect(p).not.toHaveProperty("delegates");
    expect(out.stderr).toContain("took over from Multus: 00-multus.conf renamed to *.replaced-by-plexus");

    const before = await readFile(join(h.confDir, "00-plexus.conflist"), "utf8");
    const again = await runAgent(bundle, ["--once", "--take-over-multus", ...h.flags], h.env);
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(join(h.confDir, "00-plexus.conflist"), "utf8")).toBe(before);
    const check = await runAgent(bundle, ["--check", "--take-over-multus", ...h.flags], h.env);
    expect(check.code, check.stderr).toBe(0);
  });

  it("the ConfigMap's own plugin options win over Multus's", async () => {
    const h = await host("wins", "10-flannel.conflist");
    await writeFile(join(h.confDir, "00-multus.conf"), JSON.stringify(await thinMultusConf()));
    const config = join(h.root, "..", "install.json");
    await writeFile(
      config,
      JSON.stringify({ takeOverMultus: true, plugin: { logLevel: "debug", namespaceIsolation: false } }),
    );
    const out = await runAgent(bundle, ["--once", `--config=${config}`, ...h.flags], h.env);
    expect(out.code, out.stderr).toBe(0);
    expect(await plexusPlugin(h)).toMatchObject({
      logLevel: "debug",
      namespaceIsolation: false,
      globalNamespaces: "default,shared",
    });
  });

  it("thick: the shim's clusterNetwork through the daemon's /host names the primary; its capabilities are the primary's", async () => {
    const h = await host("thick", "10-calico.conflist");
    await writeFile(join(h.confDir, "00-multus.conf"), JSON.stringify(thickMultusConf));
    const out = await runAgent(bundle, ["--once", "--take-over-multus", ...h.flags], h.env);
    expect(out.code, out.stderr).toBe(0);
    const conflist = JSON.parse(await readFile(join(h.confDir, "00-plexus.conflist"), "utf8"));
    const calico = JSON.parse(await readFile(join(h.confDir, "10-calico.conflist"), "utf8"));
    expect(conflist.cniVersion).toBe(calico.cniVersion);
    expect(conflist.plugins[0]).toMatchObject({
      clusterNetwork: "/etc/cni/net.d/10-calico.conflist",
      logLevel: "verbose",
      logToStderr: true,
      multusCniDir: "/var/lib/cni/multus",
    });
    expect(conflist.plugins[0]).not.toHaveProperty("socketDir");
    const union = Object.fromEntries(
      (calico.plugins as { capabilities?: Record<string, boolean> }[]).flatMap((p) =>
        Object.entries(p.capabilities ?? {})
          .filter(([, on]) => on)
          .map(([cap]) => [cap, true]),
      ),
    );
    expect(Object.keys(union).length).toBeGreaterThan(0);
    expect(conflist.plugins[0].capabilities).toEqual(union);
  });

  it("a clusterNetwork given by name (a NAD) is kept as written, with Multus's cniVersion and capabilities", async () => {
    const h = await host("byname", "10-flannel.conflist");
    await writeFile(
      join(h.confDir, "00-multus.conflist"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "multus-cni-network",
        plugins: [
          {
            type: "multus",
            clusterNetwork: "flannel-nad",
            defaultNetworks: ["monitoring"],
            systemNamespaces: ["kube-system", "infra"],
            multusNamespace: "networks",
            cniDir: "/var/lib/cni/multus-alt",
            capabilities: { portMappings: true, bandwidth: false },
            kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig",
          },
        ],
      }),
    );
    const out = await runAgent(bundle, ["--once", "--take-over-multus", ...h.flags], h.env);
    expect(out.code, out.stderr).toBe(0);
    const conflist = JSON.parse(await readFile(join(h.confDir, "00-plexus.conflist"), "utf8"));
    expect(conflist.cniVersion).toBe("1.0.0");
    expect(conflist.plugins[0]).toMatchObject({
      clusterNetwork: "flannel-nad",
      capabilities: { portMappings: true },
      defaultNetworks: ["monitoring"],
      systemNamespaces: ["kube-system", "infra"],
      multusNamespace: "networks",
      multusCniDir: "/var/lib/cni/multus-alt",
    });
    expect(await readdir(h.confDir)).toContain("00-multus.conflist.replaced-by-plexus");
  });
});
