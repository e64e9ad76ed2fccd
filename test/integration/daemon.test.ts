// Daemon mode over a real socket: dist/plexus daemon serving dist/plexus-shim, with fake
// delegates (real executables) and the local API server. What the protocol, the scheduler and
// the lifecycle promise: the same answers as thin mode, a root-only socket, a concurrency limit
// with per-container order, a queue deadline, a graceful SIGTERM, a crash that costs nothing but
// a retry, and the thin fallback while no daemon runs. (Real delegates in namespaces:
// test/netns/plexus-daemon.test.ts and the acceptance tests in both modes.)

import { spawn } from "node:child_process";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callPlexus, errorOf, podArgs, resultOf, shimBin } from "../support/plexus.js";
import { startPlexusDaemon, metricValue, type TestDaemon } from "../support/plexus-daemon.js";
import { isRoot } from "../support/root.js";
import { containerEntries } from "../support/state-dir.js";
import { NETWORK_STATUS, startPlexusHarness, type HarnessPod, type PlexusHarness } from "./plexus-harness.js";

// A delegate that logs when it starts and ends (nanoseconds), sleeps $TIMED_SLEEP seconds in
// between, and answers ADD with one interface: it shows how many pods' delegates ran at once.
const TIMED = `#!/bin/sh
echo "start $CNI_COMMAND $CNI_CONTAINERID $(date +%s%N)" >> "$TIMED_LOG"
cat > /dev/null
sleep "\${TIMED_SLEEP:-0.3}"
echo "end $CNI_COMMAND $CNI_CONTAINERID $(date +%s%N)" >> "$TIMED_LOG"
if [ "$CNI_COMMAND" = ADD ]; then
  printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"address":"198.18.0.2/24","interface":0}]}' "$CNI_IFNAME" "$CNI_NETNS"
fi
`;

interface Span {
  command: string;
  id: string;
  start: number;
  end: number;
}

async function spans(file: string): Promise<Span[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  const open = new Map<string, { command: string; id: string; start: number }>();
  const out: Span[] = [];
  for (const line of text.split("\n").filter(Boolean)) {
    const [what, command, id, ns] = line.split(" ") as [string, string, string, string];
    const key = `${command} ${id}`;
    if (what === "start") open.set(key, { command, id, start: Number(BigInt(ns) / 1000n) });
    else {
      const s = open.get(key);
      if (s) out.push({ ...s, end: Number(BigInt(ns) / 1000n) });
      open.delete(key);
    }
  }
  return out;
}

/** The most spans open at one instant. */
function maxOverlap(list: readonly Span[]): number {
  const points = list.flatMap((s) => [
    [s.start, 1],
    [s.end, -1],
  ]) as [number, number][];
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of points) max = Math.max(max, (now += d));
  return max;
}

describe.skipIf(!isRoot)("plexus daemon over its socket", () => {
  let h: PlexusHarness;
  let bin: string;
  let timedLog: string;
  let seq = 0;
  const daemons: TestDaemon[] = [];

  beforeAll(async () => {
    h = await startPlexusHarness();
    bin = join(h.dir, "bin");
    timedLog = join(h.dir, "timed.log");
    await mkdir(bin);
    await writeFile(join(bin, "timed"), TIMED);
    await chmod(join(bin, "timed"), 0o755);
    await writeFile(
      join(h.dir, "timed.conflist"),
      JSON.stringify({ cniVersion: "1.0.0", name: "cluster", plugins: [{ type: "timed" }] }),
    );
  });
  afterEach(() => {
    for (const d of daemons.splice(0)) d.kill("SIGKILL");
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  async function daemon(args: string[] = []): Promise<TestDaemon> {
    const d = await startPlexusDaemon({ dir: join(h.dir, `d${++seq}`), kubeconfig: h.kubeconfig, args });
    daemons.push(d);
    return d;
  }

  function timedConf() {
    return h.conf({ clusterNetwork: join(h.dir, "timed.conflist"), binDir: bin });
  }

  function call(
    command: string,
    pod: HarnessPod,
    o: { socket?: string; conf?: Record<string, unknown>; env?: Record<string, string> } = {},
  ) {
    return callPlexus({
      command,
      containerId: pod.containerId,
      netns: pod.netns,
      ifName: "eth0",
      cniArgs: podArgs(pod.namespace, pod.name, pod.uid, pod.containerId),
      cniPath: [bin],
      stdin: o.conf ?? h.conf(),
      env: { RECORDER_FILE: h.recordFile, TIMED_LOG: timedLog, ...o.env },
      ...(o.socket !== undefined ? { daemonSocket: o.socket } : {}),
    });
  }

  const pod = (annotations: Record<string, string> = {}) => h.createPod("team-a", `p-${++seq}`, annotations);

  it("answers ADD and DEL through the shim exactly as the thin plexus does", async () => {
    const d = await daemon();
    const [viaDaemon, viaThin] = [pod(), pod()];
    const a = await call("ADD", viaDaemon, { socket: d.socket });
    const b = await call("ADD", viaThin);
    expect(a.code, a.stdout).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(h.getPod(viaDaemon).metadata.annotations?.[NETWORK_STATUS]).toBe(
      h.getPod(viaThin).metadata.annotations?.[NETWORK_STATUS],
    );
    const del = await call("DEL", viaDaemon, { socket: d.socket });
    expect([del.code, del.stdout]).toEqual([0, ""]);
    // An error is the thin plexus's error, byte for byte, with its exit code.
    const bad = { ...h.conf(), cniVersion: "9.9.9" };
    const e1 = await call("ADD", viaDaemon, { socket: d.socket, conf: bad });
    const e2 = await call("ADD", viaThin, { conf: bad });
    expect([e1.code, e1.stdout]).toEqual([e2.code, e2.stdout]);
    expect(errorOf(e1).code).toBe(1);
    await call("DEL", viaThin);
    expect(d.log()).toContain('"command":"ADD"');
  });

  it("keeps its socket root-only: a 0700 directory, a 0600 socket, a non-root caller refused", async () => {
    const d = await daemon();
    expect((await stat(join(d.socket, ".."))).mode & 0o777).toBe(0o700);
    expect((await stat(d.socket)).mode & 0o777).toBe(0o600);
    // setpriv drops to nobody before the shim runs: connect() is refused by the file modes.
    const nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"];
    const out = await run([...nobody, "env", "-i", `PLEXUS_SOCKET=${d.socket}`, "CNI_COMMAND=VERSION", shimBin], "");
    expect(out.code).toBe(1);
    // No configuration on stdin: the newest version, as the thin plexus answers.
    expect(JSON.parse(out.stdout)).toEqual({
      cniVersion: "1.1.0",
      code: 5,
      msg:
        `plexus-shim: connecting to the daemon at ${d.socket}: Permission denied (the socket is root-only: ` +
        `the runtime must run CNI plugins as root)`,
    });
    const curl = await run([...nobody, "curl", "-s", "--unix-socket", d.socket, "http://plexus/v1/cni"], "");
    expect(curl.code).toBe(7); // curl: could not connect
  });

  it("is debuggable with curl --unix-socket (JSON body), and names its version to others", async () => {
    const d = await daemon();
    const body = JSON.stringify({ env: { CNI_COMMAND: "VERSION" }, stdin: "" });
    const ok = await run(
      [
        "curl",
        "-s",
        "-i",
        "--unix-socket",
        d.socket,
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        body,
        "http://plexus/v1/cni",
      ],
      "",
    );
    expect(ok.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(ok.stdout).toMatch(/\r\nplexus-exit-code: 0\r\n/i);
    expect(ok.stdout).toMatch(/"supportedVersions":\["0\.1\.0"/);
    const v2 = await run(
      ["curl", "-s", "-i", "--unix-socket", d.socket, "--data-binary", "x", "http://plexus/v2/cni"],
      "",
    );
    expect(v2.stdout).toMatch(/^HTTP\/1\.1 404/);
    expect(v2.stdout).toContain('unsupported protocol version "v2": this daemon speaks v1 (POST /v1/cni)');
  });

  it("runs at most --max-parallel pods at once, and one container's calls one after the other", async () => {
    const d = await daemon(["--max-parallel", "2"]);
    await writeFile(timedLog, "");
    const pods = Array.from({ length: 6 }, () => pod());
    const conf = timedConf();
    const outs = await Promise.all(pods.map((p) => call("ADD", p, { socket: d.socket, conf })));
    expect(outs.map((o) => o.code)).toEqual(pods.map(() => 0));
    const adds = await spans(timedLog);
    expect(adds).toHaveLength(6);
    expect(maxOverlap(adds)).toBe(2);
    // ADD then DEL of one container sent together: the DEL starts after the ADD ended.
    await writeFile(timedLog, "");
    const q = pod();
    const [add, del] = await Promise.all([
      call("ADD", q, { socket: d.socket, conf }),
      new Promise((r) => setTimeout(r, 50)).then(() => call("DEL", q, { socket: d.socket, conf })),
    ]);
    expect([add.code, del.code]).toEqual([0, 0]);
    const [s1, s2] = (await spans(timedLog)).sort((x, y) => x.start - y.start);
    expect([s1?.command, s2?.command]).toEqual(["ADD", "DEL"]);
    expect(s2!.start).toBeGreaterThanOrEqual(s1!.end);
    const metrics = (await d.http("/metrics")).body;
    expect(metricValue(metrics, "plexus_cni_requests_total", { command: "ADD", outcome: "ok" })).toBe(7);
    expect(metricValue(metrics, "plexus_delegate_duration_seconds_count", { type: "timed", command: "ADD" })).toBe(7);
    await Promise.all(pods.map((p) => call("DEL", p, { socket: d.socket, conf })));
  });

  it("answers CNI error 11 (try again later) to a call that waited past --queue-timeout", async () => {
    const d = await daemon(["--max-parallel", "1", "--queue-timeout", "1"]);
    const conf = timedConf();
    const [slow, late] = [pod(), pod()];
    const first = call("ADD", slow, { socket: d.socket, conf, env: { TIMED_SLEEP: "3" } });
    await new Promise((r) => setTimeout(r, 300));
    const second = await call("ADD", late, { socket: d.socket, conf });
    expect(second.code).toBe(1);
    expect(second.json).toMatchObject({ cniVersion: "1.0.0", code: 11 });
    expect(errorOf(second).msg).toMatch(/waited 1\.\d s in the queue .*try again later/);
    expect((await first).code).toBe(0);
    const metrics = (await d.http("/metrics")).body;
    expect(metricValue(metrics, "plexus_cni_requests_total", { command: "ADD", outcome: "rejected" })).toBe(1);
    await call("DEL", slow, { socket: d.socket, conf });
  });

  it("on SIGTERM: not ready, finishes the call in flight, refuses new ones (the shim falls back), exits 0", async () => {
    const d = await daemon();
    const conf = timedConf();
    const [inFlight, later] = [pod(), pod()];
    await writeFile(timedLog, "");
    const pending = call("ADD", inFlight, { socket: d.socket, conf, env: { TIMED_SLEEP: "2" } });
    while (!(await readFile(timedLog, "utf8")).includes("start ADD")) await new Promise((r) => setTimeout(r, 50));
    d.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    expect((await d.http("/readyz")).status).toBe(503);
    const fallback = await call("ADD", later, { socket: d.socket, conf });
    expect(fallback.code, fallback.stdout).toBe(0);
    expect((await pending).code).toBe(0);
    expect(await d.exited).toBe(0);
    await expect(stat(d.socket)).rejects.toThrow(/ENOENT/);
    expect(d.log()).toContain('"msg":"stopped"');
    for (const p of [inFlight, later]) expect((await call("DEL", p, { socket: d.socket, conf })).code).toBe(0);
  });

  it("killed -9 mid-ADD: the shim answers 11; the restarted daemon serves the DEL and leaves no state", async () => {
    const dir = join(h.dir, "crash");
    const conf = timedConf();
    const p = pod();
    await writeFile(timedLog, "");
    let d = await startPlexusDaemon({ dir, kubeconfig: h.kubeconfig });
    daemons.push(d);
    const pending = call("ADD", p, { socket: d.socket, conf, env: { TIMED_SLEEP: "2" } });
    while (!(await readFile(timedLog, "utf8")).includes("start ADD")) await new Promise((r) => setTimeout(r, 50));
    d.kill("SIGKILL");
    const crashed = await pending;
    expect(crashed.code).toBe(1);
    expect(errorOf(crashed).code).toBe(11);
    expect(errorOf(crashed).msg).toMatch(/^plexus-shim: .*(closed the connection|stopped mid-call).*try again later/);
    expect(errorOf(crashed).cniVersion).toBe(conf["cniVersion"]);
    // The stale socket is still there: the restarted daemon takes it over.
    d = await startPlexusDaemon({ dir, kubeconfig: h.kubeconfig });
    daemons.push(d);
    const del = await call("DEL", p, { socket: d.socket, conf });
    expect(del.code, del.stdout).toBe(0);
    expect(await stateLeft(h, p)).toEqual(["tombstone"]);
    const again = pod();
    expect((await call("ADD", again, { socket: d.socket, conf })).code).toBe(0);
    expect((await call("DEL", again, { socket: d.socket, conf })).code).toBe(0);
  });

  it("with no daemon, the shim runs the thin plexus with the same environment and stdin", async () => {
    const socket = join(h.dir, "nobody-home", "plexus.sock");
    const p = pod();
    await h.resetCalls();
    const add = await call("ADD", p, { socket });
    expect(add.code, add.stdout).toBe(0);
    expect(resultOf(add).interfaces?.[0]?.name).toBe("eth0");
    const recorded = h.calls();
    expect(recorded[0]?.env["PLEXUS_SOCKET"]).toBe(socket);
    expect((await call("DEL", p, { socket })).code).toBe(0);
    expect(await stateLeft(h, p)).toEqual(["tombstone"]);
  });
});

/** What Plexus keeps about the container after DEL: only the tombstone that makes a repeated DEL a no-op. */
async function stateLeft(h: PlexusHarness, p: HarnessPod): Promise<string[]> {
  return containerEntries(h.stateDir, p.containerId);
}

function run(argv: readonly string[], stdin: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0] as string, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    c.on("error", reject);
    c.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    c.stdin.end(stdin);
  });
}
