// The agent as the DaemonSet runs it (no --once): it follows the primary, keeps the plugin's
// credentials current, notices when someone renames or removes its config, and cleans up.

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import {
  buildAgentBundle,
  createFakeHost,
  logLines,
  readJson,
  runAgent,
  startAgent,
  waitFor,
  type AgentProcess,
  type FakeHost,
} from "./install-harness.js";

let work: string;
let bundle: string;
const hosts: FakeHost[] = [];
const agents: AgentProcess[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "plexus-install-agent-"));
  bundle = await buildAgentBundle(work);
});
afterEach(async () => {
  for (const a of agents.splice(0)) {
    a.child.kill("SIGKILL");
    await a.exited;
  }
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.cleanup()));
  await rm(work, { recursive: true, force: true });
});

async function host(tag: string, primary?: string): Promise<FakeHost> {
  const h = await createFakeHost(tag);
  hosts.push(h);
  if (primary) await h.seed(primary);
  return h;
}

function agent(h: FakeHost, extra: readonly string[] = [], env: Record<string, string> = h.env): AgentProcess {
  const a = startAgent(bundle, [...h.flags, ...extra], env);
  agents.push(a);
  return a;
}

const ours = (h: FakeHost): string => join(h.confDir, "00-plexus.conflist");

async function plugin(h: FakeHost): Promise<Record<string, unknown> | undefined> {
  const conflist = await readJson(ours(h)).catch(() => undefined);
  return (conflist?.["plugins"] as Record<string, unknown>[] | undefined)?.[0];
}

async function installed(h: FakeHost, clusterNetwork: string): Promise<Record<string, unknown>> {
  return waitFor(`00-plexus.conflist wrapping ${clusterNetwork}`, async () => {
    const p = await plugin(h);
    return p?.["clusterNetwork"] === clusterNetwork ? p : undefined;
  });
}

describe("following the primary", () => {
  it("regenerates ours when the primary changes (capabilities follow)", async () => {
    const h = await host("change", "10-flannel.conflist");
    agent(h);
    expect((await installed(h, "/etc/cni/net.d/10-flannel.conflist"))["capabilities"]).toEqual({ portMappings: true });
    const flannel = await readJson(join(h.confDir, "10-flannel.conflist"));
    const plugins = [...(flannel["plugins"] as unknown[]), { type: "bandwidth", capabilities: { bandwidth: true } }];
    await writeFile(join(h.confDir, "10-flannel.conflist"), JSON.stringify({ ...flannel, plugins })); // in place, as `cp` does
    await waitFor(
      "bandwidth in ours",
      async () => ((await plugin(h))?.["capabilities"] as Record<string, boolean> | undefined)?.["bandwidth"],
    );
  });

  it("switches to a new primary that sorts first, and removes ours while there is none", async () => {
    const h = await host("switch", "10-calico.conflist");
    agent(h);
    await installed(h, "/etc/cni/net.d/10-calico.conflist");
    await h.seed("05-cilium.conflist");
    await installed(h, "/etc/cni/net.d/05-cilium.conflist");
    await rm(join(h.confDir, "05-cilium.conflist"));
    await rm(join(h.confDir, "10-calico.conflist"));
    await waitFor("ours gone with the primary", async () =>
      (await stat(ours(h)).catch(() => undefined)) ? undefined : true,
    );
    await h.seed("10-flannel.conflist");
    await installed(h, "/etc/cni/net.d/10-flannel.conflist");
  });

  it("rewrites ours when someone edits it", async () => {
    const h = await host("edit", "10-flannel.conflist");
    const a = agent(h);
    await installed(h, "/etc/cni/net.d/10-flannel.conflist");
    const good = await readFile(ours(h), "utf8");
    await writeFile(ours(h), good.replace("plexus-cni-network", "edited"));
    await waitFor("ours restored", async () => ((await readFile(ours(h), "utf8")) === good ? true : undefined));
    expect(a.stderr()).toContain("was changed by someone else");
  });
});

describe("the plugin's credentials", () => {
  it("refreshes the token copy when the kubelet rotates the projected token (symlink swap), through the directory watch", async () => {
    const h = await host("rotate", "10-flannel.conflist");
    // A projected volume as the kubelet's AtomicWriter lays it out: token -> ..data/token, ..data -> ..<timestamp>.
    const sa = join(h.root, "..", "projected");
    await mkdir(join(sa, "..2024_01_01"), { recursive: true });
    await writeFile(join(sa, "..2024_01_01/token"), "token-A");
    await writeFile(join(sa, "..2024_01_01/ca.crt"), "CA");
    await symlink("..2024_01_01", join(sa, "..data"));
    await symlink("..data/token", join(sa, "token"));
    await symlink("..data/ca.crt", join(sa, "ca.crt"));
    // A poll of 30 s: an update within seconds can only come from the watch.
    agent(h, ["--service-account-dir", sa, "--poll-interval", "30"]);
    const tokenCopy = join(h.confDir, "plexus.d/plexus.token");
    await waitFor("token-A copied", async () =>
      (await readFile(tokenCopy, "utf8").catch(() => "")) === "token-A" ? true : undefined,
    );
    const kubeconfigBefore = await waitFor("the kubeconfig", () =>
      readFile(join(h.confDir, "plexus.d/plexus.kubeconfig"), "utf8").catch(() => undefined),
    );
    await mkdir(join(sa, "..2024_01_02"));
    await writeFile(join(sa, "..2024_01_02/token"), "token-B");
    await writeFile(join(sa, "..2024_01_02/ca.crt"), "CA");
    await symlink("..2024_01_02", join(sa, "..data_tmp"));
    await rename(join(sa, "..data_tmp"), join(sa, "..data"));
    await waitFor(
      "token-B copied",
      async () => ((await readFile(tokenCopy, "utf8")) === "token-B" ? true : undefined),
      5_000,
    );
    // The kubeconfig names the copy; it does not change with the token.
    expect(await readFile(join(h.confDir, "plexus.d/plexus.kubeconfig"), "utf8")).toBe(kubeconfigBefore);
  });

  it("writes a kubeconfig the real kubectl uses against an API server", async () => {
    const server = await startLocalApiServer();
    try {
      const base = await mkdtemp(join(tmpdir(), "plexus-install-kubectl-"));
      const h = await host("kubectl", "10-flannel.conflist");
      await writeFile(join(h.saDir, "token"), server.token);
      await writeFile(join(h.saDir, "ca.crt"), server.caCertPem ?? "");
      // The host is this machine (--host-root /), so the host paths in the kubeconfig are real.
      const confDir = join(base, "net.d");
      await mkdir(confDir);
      await writeFile(join(confDir, "10-flannel.conflist"), await readFile(join(h.confDir, "10-flannel.conflist")));
      const env: Record<string, string> = {
        ...h.env,
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: String(server.port),
      };
      const r = await runAgent(
        bundle,
        [
          "--once",
          ...h.flags,
          "--host-root",
          "/",
          "--cni-conf-dir",
          confDir,
          "--cni-bin-dir",
          join(base, "bin"),
          "--state-dir",
          join(base, "state"),
        ],
        env,
      );
      expect(r.code).toBe(0);
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          "/usr/bin/kubectl",
          [
            `--kubeconfig=${join(confDir, "plexus.d/plexus.kubeconfig")}`,
            `--cache-dir=${join(base, "cache")}`,
            "get",
            "namespaces",
            "-o",
            "name",
          ],
          { env: { PATH: env["PATH"] ?? "/usr/bin:/bin", HOME: base } },
          (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)),
        ),
      );
      expect(out).toContain("namespace/kube-system");
      await rm(base, { recursive: true, force: true });
    } finally {
      await server.stop();
    }
  });
});

describe("when something renames or removes ours (Cilium's cni.exclusive)", () => {
  let server: LocalApiServer;
  beforeAll(async () => {
    server = await startLocalApiServer();
  });
  afterAll(async () => server.stop());

  it("logs an error, emits a Warning Event on the agent's pod, and restores it", async () => {
    const h = await host("cilium", "10-calico.conflist");
    await writeFile(join(h.saDir, "token"), server.token);
    await writeFile(join(h.saDir, "ca.crt"), server.caCertPem ?? "");
    const env = {
      ...h.env,
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: String(server.port),
      POD_NAME: "plexus-x7k2p",
      POD_NAMESPACE: "kube-system",
    };
    const a = agent(h, [], env);
    await installed(h, "/etc/cni/net.d/10-calico.conflist");
    const good = await readFile(ours(h), "utf8");
    await rename(ours(h), `${ours(h)}.cilium_bak`); // what Cilium does to every config but its own
    await waitFor("ours restored", async () =>
      (await readFile(ours(h), "utf8").catch(() => "")) === good ? true : undefined,
    );
    const error = logLines(a.stderr()).find(
      (l) => l.level === 50 && l.msg.includes("renamed to 00-plexus.conflist.cilium_bak"),
    );
    expect(error?.msg).toContain("cni.exclusive=false");
    const event = await waitFor("the Event", () =>
      server.store
        .list({ resource: "events" }, { namespace: "kube-system" })
        .items.find((e) => e["reason"] === "PlexusConfigRemoved"),
    );
    expect(event).toMatchObject({
      type: "Warning",
      involvedObject: { kind: "Pod", name: "plexus-x7k2p", namespace: "kube-system" },
    });
    expect(String(event["message"])).toContain("renamed to 00-plexus.conflist.cilium_bak");
  });

  it("backs off when ours keeps disappearing, instead of fighting in a loop", async () => {
    const h = await host("fight", "10-calico.conflist");
    const a = agent(h);
    await installed(h, "/etc/cni/net.d/10-calico.conflist");
    for (let i = 0; i < 3; i++) {
      await rm(ours(h));
      await waitFor(
        "ours restored",
        async () => ((await stat(ours(h)).catch(() => undefined)) ? true : undefined),
        10_000,
      );
    }
    await rm(ours(h));
    await waitFor("the agent to back off", () =>
      a.stderr().includes("keeps being removed (4 times in a row)") ? true : undefined,
    );
  });
});

describe("stopping and uninstalling", () => {
  it("on SIGTERM with --cleanup-on-exit removes ours, keeps the binary, exits 0", async () => {
    const h = await host("sigterm", "10-flannel.conflist");
    const a = agent(h, ["--cleanup-on-exit"]);
    await installed(h, "/etc/cni/net.d/10-flannel.conflist");
    a.child.kill("SIGTERM");
    expect((await a.exited).code).toBe(0);
    await expect(stat(ours(h))).rejects.toThrow();
    expect((await stat(join(h.binDir, "plexus"))).isFile()).toBe(true);
  });

  it("on SIGTERM without it leaves ours in place (a restart must not open a window without Plexus)", async () => {
    const h = await host("keep", "10-flannel.conflist");
    const a = agent(h);
    await installed(h, "/etc/cni/net.d/10-flannel.conflist");
    a.child.kill("SIGTERM");
    expect((await a.exited).code).toBe(0);
    expect((await stat(ours(h))).isFile()).toBe(true);
  });

  it("plexus uninstall removes ours first, then the credentials; the binary only with --remove-binary", async () => {
    const h = await host("uninstall", "10-flannel.conflist");
    expect((await runAgent(bundle, ["--once", ...h.flags], h.env)).code).toBe(0);
    const seen: string[] = [];
    const { watch } = await import("node:fs");
    const w = watch(h.confDir, (_event, name) => name && !seen.includes(name) && seen.push(name));
    const u = await runAgent(bundle, ["uninstall", "--host-root", h.root], {});
    await waitFor("both removals seen", () => (seen.includes("plexus.d") ? true : undefined));
    w.close();
    expect(u.code).toBe(0);
    // inotify reports one directory's events in order: ours went before the credentials.
    expect(seen.indexOf("00-plexus.conflist")).toBeLessThan(seen.indexOf("plexus.d"));
    await expect(stat(join(h.confDir, "plexus.d"))).rejects.toThrow();
    expect(await readFile(join(h.confDir, "10-flannel.conflist"), "utf8")).toContain("flannel");
    expect((await stat(join(h.binDir, "plexus"))).isFile()).toBe(true);
    expect((await runAgent(bundle, ["uninstall", "--remove-binary", "--host-root", h.root], {})).code).toBe(0);
    await expect(stat(join(h.binDir, "plexus"))).rejects.toThrow();
  });
});

describe("uninstalling from a DaemonSet (deploy/uninstall/daemonset-patch.yaml)", () => {
  it("uninstall --check fails while ours is there; uninstall --wait removes it, stays up, and then --check passes; SIGTERM ends it", async () => {
    const h = await host("uninstall-wait", "10-flannel.conflist");
    expect((await runAgent(bundle, ["--once", ...h.flags], h.env)).code).toBe(0);
    const probe = () => runAgent(bundle, ["uninstall", "--host-root", h.root, "--check"], {});
    const before = await probe();
    expect(before.code).toBe(1);
    expect(before.stderr).toContain("still on this node: /etc/cni/net.d/00-plexus.conflist");
    const u = startAgent(bundle, ["uninstall", "--host-root", h.root, "--wait"], {});
    agents.push(u);
    await waitFor("the uninstall to finish", async () => ((await probe()).code === 0 ? true : undefined));
    expect((await probe()).stdout).toBe("ok\n");
    await expect(stat(ours(h))).rejects.toThrow();
    expect(await readFile(join(h.confDir, "10-flannel.conflist"), "utf8")).toContain("flannel");
    // Still running: a DaemonSet's container must not exit.
    await new Promise((r) => setTimeout(r, 300));
    expect(u.child.exitCode).toBeNull();
    u.child.kill("SIGTERM");
    expect((await u.exited).code).toBe(0);
  });
});

describe("probes", () => {
  it("--check is 0 on a complete installation and 1, saying why, when the primary changed behind the agent's back", async () => {
    const h = await host("check", "10-calico.conflist");
    expect((await runAgent(bundle, ["--once", ...h.flags], h.env)).code).toBe(0);
    const ok = await runAgent(bundle, ["--check", ...h.flags], h.env);
    expect(ok.stdout).toBe("ok\n");
    expect(ok.code).toBe(0);
    await h.seed("10-flannel.conflist", "09-flannel.conflist");
    const stale = await runAgent(bundle, ["--check", ...h.flags], h.env);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("does not match 09-flannel.conflist");
  });

  it("--check fails when a file sorts before ours (the runtime would bypass Plexus)", async () => {
    const h = await host("shadow", "10-calico.conflist");
    expect((await runAgent(bundle, ["--once", ...h.flags], h.env)).code).toBe(0);
    await h.seed("10-flannel.conflist", "00-aaa.conflist");
    const r = await runAgent(bundle, ["--check", ...h.flags], h.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("00-aaa.conflist sorts before 00-plexus.conflist");
  });

  it("--alive follows the agent's heartbeat", async () => {
    const h = await host("alive", "10-flannel.conflist");
    const status = join(h.root, "..", "status.json");
    agent(h, ["--status-file", status]);
    await installed(h, "/etc/cni/net.d/10-flannel.conflist");
    expect((await runAgent(bundle, ["--alive", "--status-file", status], {})).code).toBe(0);
    for (const a of agents.splice(0)) {
      a.child.kill("SIGKILL");
      await a.exited;
    }
    // The heartbeat of an agent whose loop stopped an hour ago.
    await writeFile(
      status,
      JSON.stringify({ time: new Date(Date.now() - 3_600_000).toISOString(), phase: "installed", message: "x" }),
    );
    const dead = await runAgent(bundle, ["--alive", "--status-file", status], {});
    expect(dead.code).toBe(1);
    expect(dead.stderr).toContain("last pass was");
  });
});
