// Daemon mode with real delegates in a node namespace: the concurrency limit under a burst, a
// daemon killed with -9 in the middle of an ADD (the runtime's DEL through the thin fallback
// leaves nothing; a restarted daemon serves again), and a stopped daemon (pods keep being set up
// and torn down through the fallback). The acceptance tests (plexus-pods, plexus-failures) run
// in both modes on their own.

import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { referencePluginDir } from "../support/cni-plugins.js";
import { links } from "../support/netns.js";
import { errorOf, plexusBin, resultOf } from "../support/plexus.js";
import { startPlexusDaemon, metricValue, type TestDaemon } from "../support/plexus-daemon.js";
import { startTestNode, type TestNode, type TestPod } from "../support/plexus-node.js";
import { isRoot } from "../support/root.js";
import { containerEntries } from "../support/state-dir.js";

const LIMIT = 4;

describe.skipIf(!isRoot)("plexus daemon with real delegates", () => {
  let n: TestNode;
  let bin: string;
  let timedLog: string;
  let pausePids: string;
  let nodeLinksBefore: string[];
  const extra: TestDaemon[] = [];

  beforeAll(async () => {
    n = await startTestNode("dmn", { mode: "daemon", daemonArgs: ["--max-parallel", String(LIMIT)] });
    const ref = referencePluginDir();
    bin = join(n.dir, "bin");
    timedLog = join(n.dir, "timed.log");
    pausePids = join(n.dir, "pause.pids");
    await mkdir(bin);
    // The real bridge plugin, recording when each call starts and ends (a recording wrapper).
    await script(
      "tbridge",
      `echo "start $CNI_COMMAND $CNI_CONTAINERID $(date +%s%N)" >> "$TIMED_LOG"
out=$(${ref}/bridge); rc=$?
echo "end $CNI_COMMAND $CNI_CONTAINERID $(date +%s%N)" >> "$TIMED_LOG"
printf '%s' "$out"; exit $rc`,
    );
    // A chained plugin that pauses on ADD ($PAUSE_SECONDS), then is the real tuning plugin.
    await script(
      "pause",
      `if [ "$CNI_COMMAND" = ADD ] && [ -n "$PAUSE_SECONDS" ]; then echo $$ >> "$PAUSE_PIDS"; sleep "$PAUSE_SECONDS"; fi
exec ${ref}/tuning`,
    );
    const bridge = (type: string) => ({
      type,
      bridge: `${n.net.prefix}c`.slice(0, 15),
      isGateway: true,
      ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.0.0/24" }]] },
    });
    await writeFile(
      join(n.dir, "timed.conflist"),
      JSON.stringify({ cniVersion: "1.0.0", name: "cluster", plugins: [bridge("tbridge")] }),
    );
    await writeFile(
      join(n.dir, "paused.conflist"),
      JSON.stringify({ cniVersion: "1.0.0", name: "cluster", plugins: [bridge("bridge"), { type: "pause" }] }),
    );
    // The bridge itself is not a leftover of what follows.
    const primer = await n.createPod("team-a", "primer");
    expect((await call("ADD", primer, "timed")).code).toBe(0);
    expect((await call("DEL", primer, "timed")).code).toBe(0);
    nodeLinksBefore = (await links(n.node)).map((l) => l.ifname).sort();
  });
  afterAll(async () => {
    for (const d of extra) d.kill("SIGKILL");
    await killPaused();
    await n?.cleanup();
  });

  async function script(name: string, body: string): Promise<void> {
    await writeFile(join(bin, name), `#!/bin/sh\n${body}\n`);
    await chmod(join(bin, name), 0o755);
  }

  function call(command: string, pod: TestPod, cluster: "timed" | "paused", env: Record<string, string> = {}) {
    return n.call(command, pod, {
      conf: n.conf({ clusterNetwork: join(n.dir, `${cluster}.conflist`) }),
      cniPath: [...n.cniPath, bin],
      env: { TIMED_LOG: timedLog, PAUSE_PIDS: pausePids, ...env },
    });
  }

  async function killPaused(): Promise<void> {
    const pids = (await readFile(pausePids, "utf8").catch(() => "")).split("\n").filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(-Number(pid), "SIGKILL"); // the delegate's process group (spawnPlugin)
      } catch {
        // already gone
      }
    }
  }

  async function expectNothingLeft(pods: readonly TestPod[]): Promise<void> {
    expect(await n.leases()).toEqual([]);
    expect((await links(n.node)).map((l) => l.ifname).sort()).toEqual(nodeLinksBefore);
    for (const pod of pods) {
      expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
      expect(await containerEntries(n.stateDir, pod.containerId)).toEqual(["tombstone"]);
    }
  }

  it(`60 ADD/DEL of distinct pods at concurrency 16 against a limit of ${LIMIT}: all succeed, never more than ${LIMIT} at once, nothing left`, async () => {
    await writeFile(timedLog, "");
    const pods: TestPod[] = [];
    for (let i = 0; i < 60; i++) pods.push(await n.createPod("team-a", `burst-${i}`));
    const codes: number[] = [];
    let next = 0;
    const worker = async () => {
      for (let pod = pods[next++]; pod; pod = pods[next++]) {
        const add = await call("ADD", pod, "timed");
        const del = await call("DEL", pod, "timed");
        codes.push(add.code, del.code);
        if (add.code !== 0 || del.code !== 0) throw new Error(`${pod.name}: ${add.stdout} ${del.stdout}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(codes).toEqual(Array(120).fill(0));
    const spans = parseSpans(await readFile(timedLog, "utf8"));
    expect(spans).toHaveLength(120);
    const most = maxOverlap(spans);
    expect(most).toBeLessThanOrEqual(LIMIT);
    expect(most).toBeGreaterThan(1);
    const metrics = (await n.daemon!.http("/metrics")).body;
    expect(metricValue(metrics, "plexus_cni_requests_total", { command: "ADD", outcome: "ok" })).toBeGreaterThanOrEqual(
      61,
    );
    expect(metricValue(metrics, "plexus_cni_requests_in_flight")).toBe(0);
    expect(metricValue(metrics, "plexus_cni_requests_queued")).toBe(0);
    await expectNothingLeft(pods);
  });

  it("killed -9 mid-ADD: the runtime's DEL through the fallback leaves no link, lease or state; a restarted daemon serves again", async () => {
    const pod = await n.createPod("team-a", "crash-0");
    await writeFile(pausePids, "");
    const pending = call("ADD", pod, "paused", { PAUSE_SECONDS: "60" });
    while ((await readFile(pausePids, "utf8")) === "") await new Promise((r) => setTimeout(r, 50));
    // The bridge has run: the pod has eth0 and a lease when the daemon dies.
    expect((await links(pod.netns)).map((l) => l.ifname)).toContain("eth0");
    n.daemon!.kill("SIGKILL");
    const add = await pending;
    expect(add.code).toBe(1);
    expect(errorOf(add).code).toBe(11);
    await killPaused();
    // The runtime sends DEL after a failed ADD; no daemon answers, the shim runs the thin plexus.
    const del = await call("DEL", pod, "paused", { PLEXUS_THIN: plexusBin });
    expect(del.code, del.stdout).toBe(0);
    await expectNothingLeft([pod]);
    // The daemon restarts (its old socket file is still there) and serves without anything else.
    const restarted = await startPlexusDaemon({
      dir: join(n.dir, "daemon"),
      kubeconfig: n.kubeconfig,
      inNetns: n.node,
    });
    extra.push(restarted);
    const again = await n.createPod("team-a", "crash-1");
    expect((await call("ADD", again, "timed")).code).toBe(0);
    expect((await links(again.netns)).map((l) => l.ifname)).toContain("eth0");
    expect((await call("DEL", again, "timed")).code).toBe(0);
    await expectNothingLeft([again]);
  });

  it("daemon stopped: ADD and DEL work through the thin fallback", async () => {
    for (const d of extra) expect(await d.stop()).toBe(0);
    const pod = await n.createPod("team-a", "fallback-0");
    const add = await call("ADD", pod, "timed", { PLEXUS_THIN: plexusBin });
    expect(add.code, add.stdout).toBe(0);
    expect(resultOf(add).interfaces?.find((i) => i.sandbox)?.name).toBe("eth0");
    expect(n.getPod("team-a", "fallback-0").metadata.annotations?.["k8s.v1.cni.cncf.io/network-status"]).toContain(
      '"interface": "eth0"',
    );
    expect((await call("DEL", pod, "timed", { PLEXUS_THIN: plexusBin })).code).toBe(0);
    await expectNothingLeft([pod]);
  });
});

interface Span {
  readonly start: number;
  readonly end: number;
}

/** start/end lines per command and container (nanoseconds) into spans (microseconds). */
function parseSpans(text: string): Span[] {
  const open = new Map<string, number>();
  const out: Span[] = [];
  for (const line of text.split("\n").filter(Boolean)) {
    const [what, command, id, ns] = line.split(" ") as [string, string, string, string];
    const at = Number(BigInt(ns) / 1000n);
    if (what === "start") open.set(`${command} ${id}`, at);
    else out.push({ start: open.get(`${command} ${id}`) ?? at, end: at });
  }
  return out;
}

function maxOverlap(spans: readonly Span[]): number {
  const points = spans.flatMap((s): [number, number][] => [
    [s.start, 1],
    [s.end, -1],
  ]);
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of points) max = Math.max(max, (now += d));
  return max;
}
