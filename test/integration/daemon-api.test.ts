// The daemon's Kubernetes side seen through CNI calls (the caches themselves:
// test/integration/k8s-node-caches.test.ts): a pod created a moment before its ADD, a NAD
// changed between two pods, and the API server restarted mid-watch, each through the shim and
// a real `plexus daemon` against the local API server, with fake delegates.

import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiStore } from "../../src/local/api-store.js";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import { fakePluginDir } from "../support/cni-plugins.js";
import { callPlexus, podArgs, repoRoot, resultOf, type PlexusOutcome } from "../support/plexus.js";
import { metricValue, startPlexusDaemon, type TestDaemon } from "../support/plexus-daemon.js";
import { isRoot } from "../support/root.js";
import { CLUSTER_RESULT, NADS, NETWORK_STATUS, PODS, netResult, recorderNad } from "./plexus-harness.js";

interface Pod {
  readonly name: string;
  readonly uid: string;
  readonly containerId: string;
}

describe.skipIf(!isRoot)("plexus daemon and the API: fresh pods, changed NADs, a restarted API server", () => {
  let dir: string;
  let api: LocalApiServer;
  let d: TestDaemon;
  const stateFile = () => join(dir, "api-state.json");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "plexus-daemon-api-"));
    api = await startLocalApiServer({ crdDir: join(repoRoot, "crds"), stateFile: stateFile() });
    await api.writeKubeconfig(join(dir, "kubeconfig"));
    api.store.ensureNamespace("team-a");
    api.store.create(
      NADS,
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name: "net-a", namespace: "team-a" },
        spec: { config: JSON.stringify(recorderNad({ result: netResult("net1", "198.18.1.2/24") })) },
      },
      { namespace: "team-a" },
    );
    await writeFile(
      join(dir, "cluster.conflist"),
      JSON.stringify({ cniVersion: "1.0.0", name: "cluster", plugins: [{ type: "recorder", result: CLUSTER_RESULT }] }),
    );
    d = await startPlexusDaemon({ dir: join(dir, "d"), kubeconfig: join(dir, "kubeconfig") });
    await until(async () => (await d.http("/readyz")).status === 200);
  });
  afterAll(async () => {
    d?.kill("SIGKILL");
    await api?.stop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function createPod(name: string, store: ApiStore = api.store): Pod {
    const obj = store.create(
      PODS,
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, annotations: { "k8s.v1.cni.cncf.io/networks": "net-a" } },
        spec: { nodeName: "node", containers: [{ name: "c", image: "pause" }] },
      },
      { namespace: "team-a" },
    );
    return { name, uid: String(obj.metadata.uid), containerId: randomUUID().replaceAll("-", "") };
  }

  function call(command: string, pod: Pod) {
    return callPlexus({
      command,
      containerId: pod.containerId,
      netns: `/var/run/netns/fake-${pod.containerId.slice(0, 8)}`,
      ifName: "eth0",
      cniArgs: podArgs("team-a", pod.name, pod.uid, pod.containerId),
      cniPath: [fakePluginDir],
      stdin: {
        cniVersion: "1.0.0",
        name: "plexus-it",
        type: "plexus",
        clusterNetwork: join(dir, "cluster.conflist"),
        cniDir: join(dir, "state"),
        binDir: fakePluginDir,
      },
      daemonSocket: d.socket,
      env: { PLEXUS_THIN: "/nonexistent" },
    });
  }

  const net1 = (out: PlexusOutcome): string | undefined => {
    const r = resultOf(out);
    return r.ips?.find((ip) => r.interfaces?.[ip.interface ?? -1]?.name === "net1")?.address;
  };

  it("a pod created a moment before its ADD: served at once, one live read at most besides the status write", async () => {
    api.requestLog.reset();
    const pod = createPod("fresh-0");
    const add = await call("ADD", pod);
    expect(add.code, add.stdout).toBe(0);
    expect(net1(add)).toBe("198.18.1.2/24");
    const counts = api.requestLog.countsByVerb();
    expect(counts["patch pods/status"]).toBe(1);
    expect(counts["get pods"] ?? 0).toBeLessThanOrEqual(1);
    expect(api.store.get(PODS, "team-a", "fresh-0").metadata.annotations?.[NETWORK_STATUS]).toContain("198.18.1.2");
    expect((await call("DEL", pod)).code).toBe(0);
  });

  it("a NAD changed between two pods: the next pod gets the new config, from the cache", async () => {
    const before = createPod("nad-0");
    expect(net1(await call("ADD", before))).toBe("198.18.1.2/24");
    const nad = api.store.get(NADS, "team-a", "net-a");
    api.store.update(
      NADS,
      { ...nad, spec: { config: JSON.stringify(recorderNad({ result: netResult("net1", "198.18.1.3/24") })) } },
      { namespace: "team-a" },
    );
    let seq = 0;
    const pods: Pod[] = [before];
    // The watch delivers the change within moments; every ADD meanwhile is a whole, valid pod.
    await until(async () => {
      const pod = createPod(`nad-${++seq}`);
      pods.push(pod);
      const out = await call("ADD", pod);
      return out.code === 0 && net1(out) === "198.18.1.3/24";
    });
    for (const p of pods) expect((await call("DEL", p)).code).toBe(0);
  });

  it("the API server restarted mid-watch: DEL works while it is down, and the caches catch up after", async () => {
    const kept = createPod("restart-0");
    expect((await call("ADD", kept)).code).toBe(0);
    const { port, token, tlsMaterial } = api;
    await api.stop();
    // While the API is down: DEL needs nothing of it.
    expect((await call("DEL", kept)).code).toBe(0);
    // A pod created meanwhile (in the state the next server starts from, as etcd would keep it).
    const offline = new ApiStore();
    offline.load(JSON.parse(await readFile(stateFile(), "utf8")));
    const late = createPod("restart-1", offline);
    await writeFile(stateFile(), JSON.stringify(offline.dump()));
    api = await startLocalApiServer({
      crdDir: join(repoRoot, "crds"),
      stateFile: stateFile(),
      port,
      token,
      ...(tlsMaterial ? { tlsMaterial } : {}),
    });
    // The watches reconnect with backoff; the cache lists what changed meanwhile.
    await until(async () => {
      const m = (await d.http("/metrics")).body;
      return (
        metricValue(m, "plexus_cache_synced", { resource: "pods" }) === 1 && (await d.http("/readyz")).status === 200
      );
    });
    api.requestLog.reset();
    const add = await call("ADD", late);
    expect(add.code, add.stdout).toBe(0);
    const counts = api.requestLog.countsByVerb();
    expect(counts["patch pods/status"]).toBe(1);
    expect(counts["get pods"] ?? 0).toBeLessThanOrEqual(1);
    expect(api.store.get(PODS, "team-a", "restart-1").metadata.annotations?.[NETWORK_STATUS]).toContain("198.18.1");
    expect((await d.http("/readyz")).status).toBe(200);
    expect((await call("DEL", late)).code).toBe(0);
  });
});

async function until(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}
