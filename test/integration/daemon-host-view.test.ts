// A daemon in a container must run its delegates in the HOST's filesystem view (Calico's
// kubeconfig, /var/lib/cni, the plugin binaries...). Here a directory stands in for the host's
// root (--host-root: delegates chrooted into it) and a private mount namespace for the host's
// (--host-mount-ns: delegates enter it), with dist/plexus-hostexec doing it. The delegate is a
// static test plugin that reports which marker file it could read; in the daemon's own view the
// same plugin path holds a script that fails. Also: /healthz, /readyz and /metrics.

import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chmod, copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callPlexus, errorOf, podArgs, repoRoot, resultOf } from "../support/plexus.js";
import { metricValue, startPlexusDaemon, type TestDaemon } from "../support/plexus-daemon.js";
import { isRoot } from "../support/root.js";
import { startPlexusHarness, type PlexusHarness } from "./plexus-harness.js";

describe.skipIf(!isRoot)("plexus daemon: delegates in the host's view, health and metrics", () => {
  let h: PlexusHarness;
  let bin: string;
  let markerDir: string;
  let realPlugin: string;
  let hostRoot: string;
  const daemons: TestDaemon[] = [];
  let holder: ChildProcess | undefined;

  beforeAll(async () => {
    h = await startPlexusHarness();
    bin = join(h.dir, "bin");
    markerDir = join(h.dir, "marker");
    hostRoot = join(h.dir, "hostroot");
    realPlugin = join(h.dir, "hostview");
    execFileSync("gcc", ["-static", "-O2", "-o", realPlugin, join(repoRoot, "test/fixtures/hostview/hostview.c")]);
    await mkdir(bin);
    await mkdir(markerDir);
    // The daemon's own view: the plugin path holds something that must never run.
    await writeFile(
      join(bin, "hostview"),
      `#!/bin/sh\necho '{"code":999,"msg":"ran in the view of the daemon, not of the host"}'; exit 1\n`,
    );
    await chmod(join(bin, "hostview"), 0o755);
    await writeFile(join(markerDir, "marker"), "daemon-view\n");
    // The host root: the same paths, the real plugin and another marker.
    await mkdir(join(hostRoot, bin), { recursive: true });
    await mkdir(join(hostRoot, markerDir), { recursive: true });
    await copyFile(realPlugin, join(hostRoot, bin, "hostview"));
    await writeFile(join(hostRoot, markerDir, "marker"), "host-root\n");
    await writeFile(
      join(h.dir, "hostview.conflist"),
      JSON.stringify({ cniVersion: "1.0.0", name: "cluster", plugins: [{ type: "hostview" }] }),
    );
  });
  afterEach(() => {
    for (const d of daemons.splice(0)) d.kill("SIGKILL");
  });
  afterAll(async () => {
    holder?.kill("SIGKILL");
    await h?.cleanup();
  });

  async function addThrough(d: TestDaemon, name: string) {
    const pod = h.createPod("team-a", name);
    const args = {
      containerId: pod.containerId,
      netns: pod.netns,
      ifName: "eth0",
      cniArgs: podArgs(pod.namespace, pod.name, pod.uid, pod.containerId),
      cniPath: [bin],
      stdin: h.conf({ clusterNetwork: join(h.dir, "hostview.conflist"), binDir: bin }),
      env: { HOSTVIEW_MARKER: join(markerDir, "marker"), PLEXUS_THIN: "/nonexistent" },
      daemonSocket: d.socket,
    };
    const add = await callPlexus({ command: "ADD", ...args });
    const del = await callPlexus({ command: "DEL", ...args });
    return { add, del };
  }

  it("--host-root: delegates run chrooted into the host's root", async () => {
    const d = await startPlexusDaemon({
      dir: join(h.dir, "d1"),
      kubeconfig: h.kubeconfig,
      args: ["--host-root", hostRoot],
    });
    daemons.push(d);
    const { add, del } = await addThrough(d, "root-0");
    expect(add.code, add.stdout).toBe(0);
    expect(resultOf(add).dns).toEqual({ domain: "host-root" });
    expect(del.code, del.stdout).toBe(0);
  });

  it("--host-mount-ns: delegates run in the host's mount namespace", async () => {
    // A private mount namespace where the plugin path and the marker are other files.
    const script = [
      `mount -t tmpfs tmpfs ${bin}`,
      `cp ${realPlugin} ${bin}/hostview`,
      `mount -t tmpfs tmpfs ${markerDir}`,
      `echo mount-ns > ${markerDir}/marker`,
      "echo ready",
      "exec sleep 600",
    ].join(" && ");
    holder = spawn("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      holder!.stdout!.once("data", () => resolve());
      holder!.once("exit", (code) => reject(new Error(`the mount namespace holder exited (${code})`)));
    });
    const d = await startPlexusDaemon({
      dir: join(h.dir, "d2"),
      kubeconfig: h.kubeconfig,
      args: ["--host-mount-ns", `/proc/${holder.pid}/ns/mnt`],
    });
    daemons.push(d);
    const { add, del } = await addThrough(d, "ns-0");
    expect(add.code, add.stdout).toBe(0);
    expect(resultOf(add).dns).toEqual({ domain: "mount-ns" });
    expect(del.code, del.stdout).toBe(0);
  });

  it("without either, delegates run in the daemon's own view (a plain host, plexus local, the tests)", async () => {
    const d = await startPlexusDaemon({ dir: join(h.dir, "d3"), kubeconfig: h.kubeconfig });
    daemons.push(d);
    const { add } = await addThrough(d, "plain-0");
    expect(add.code).toBe(1);
    expect(errorOf(add).msg).toContain("ran in the view of the daemon, not of the host");
  });

  it("serves /healthz, /readyz and /metrics off the socket", async () => {
    const d = await startPlexusDaemon({ dir: join(h.dir, "d4"), kubeconfig: h.kubeconfig });
    daemons.push(d);
    expect(await d.http("/healthz")).toEqual({ status: 200, body: "ok\n" });
    expect(await d.http("/readyz")).toEqual({ status: 200, body: "ok\n" });
    await addThrough(d, "metrics-0");
    const text = (await d.http("/metrics")).body;
    for (const family of [
      "plexus_cni_requests_total",
      "plexus_cni_request_duration_seconds",
      "plexus_delegate_duration_seconds",
      "plexus_cni_requests_in_flight",
      "plexus_cni_requests_queued",
      "plexus_daemon_process_resident_memory_bytes",
    ])
      expect(text).toContain(`# TYPE ${family} `);
    expect(metricValue(text, "plexus_cni_requests_total", { command: "ADD", outcome: "error" })).toBe(1);
    expect(
      metricValue(text, "plexus_delegate_duration_seconds_count", {
        type: "hostview",
        command: "ADD",
        outcome: "error",
      }),
    ).toBe(1);
    expect((await d.http("/nope")).status).toBe(404);
  });
});
