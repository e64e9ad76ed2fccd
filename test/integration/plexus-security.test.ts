// docs/architecture.md#security through dist/plexus: a NAD's `type` never reaches outside the bin
// dirs, requested interface names are checked, annotation size and depth are bounded,
// namespaceIsolation holds, and the API token never reaches a log line.

import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakePluginDir } from "../support/cni-plugins.js";
import {
  callsOf,
  NETWORKS,
  PODS,
  startPlexusHarness,
  wireError,
  type HarnessPod,
  type PlexusHarness,
} from "./plexus-harness.js";
import { isJsonObject, type JsonObject, type KubeObject } from "../../src/local/api-types.js";

describe("plexus security", () => {
  let h: PlexusHarness;
  let binDir: string;
  let marker: string;

  beforeAll(async () => {
    h = await startPlexusHarness();
    // bin dir <dir>/a/b/bin with the recorder; scripts that would leave a marker sit around it.
    binDir = join(h.dir, "a", "b", "bin");
    marker = join(h.dir, "executed");
    await mkdir(join(binDir, "x"), { recursive: true });
    await copyFile(join(fakePluginDir, "recorder"), join(binDir, "recorder"));
    await chmod(join(binDir, "recorder"), 0o755);
    const evil = `#!/bin/sh\necho "$0" >> ${marker}\necho '{"cniVersion":"1.0.0"}'\n`;
    for (const path of [join(h.dir, "a", "evil"), join(h.dir, "evil-abs"), join(binDir, "x", "evil")]) {
      await writeFile(path, evil, { mode: 0o755 });
    }
    h.createNad("sec", "ok", { cniVersion: "1.0.0", type: "recorder" });
    h.createNad("other", "remote", { cniVersion: "1.0.0", type: "recorder" });
    h.createNad("default", "shared", { cniVersion: "1.0.0", type: "recorder" });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  const conf = (extra: Record<string, unknown> = {}) => h.conf({ binDir, ...extra });
  const add = (pod: HarnessPod, extra: Record<string, unknown> = {}) => h.call("ADD", pod, { conf: conf(extra) });

  describe("a NAD's type is a file name in the bin dirs, never a path", () => {
    const types = ["../../evil", "ABS", "x/evil", "..", "../../../../../../bin/sh", "/bin/sh", "x\\evil"];
    it.each(types)("type %j is refused before anything runs", async (type) => {
      const t = type === "ABS" ? join(h.dir, "evil-abs") : type;
      const name = `t-${types.indexOf(type)}`;
      h.createNad("sec", name, { cniVersion: "1.0.0", plugins: [{ type: "recorder" }, { type: t }] });
      const pod = h.createPod("sec", `pod-${name}`, { [NETWORKS]: `ok,${name}` });
      await h.resetCalls();
      const err = wireError(await add(pod));
      expect(err.code).toBe(7);
      expect(err.msg).toContain(
        `plugin 1 has type ${JSON.stringify(t)}; a type is a plugin binary's file name, not a path`,
      );
      expect(err.msg).toContain(`sec/${name}`);
      expect(existsSync(marker)).toBe(false);
      // Refused while planning: not even the cluster network was attached.
      expect(callsOf(h.calls(), "ADD")).toEqual([]);
    });
  });

  describe("interface names requested in the annotation", () => {
    const names = ["net1;rm -rf", "$(x)", "a b", "../x", "0123456789abcdef", "-x", "a%d", "x=y"];
    it.each(names)("JSON interface %j is refused with code 7 naming the pod and the item", async (ifName) => {
      const pod = h.createPod("sec", `if-${names.indexOf(ifName)}`, {
        [NETWORKS]: JSON.stringify([{ name: "ok" }, { name: "ok", interface: ifName }]),
      });
      await h.resetCalls();
      const err = wireError(await add(pod));
      expect(err.code).toBe(7);
      expect(err.msg).toContain(`pod sec/${pod.name}: annotation k8s.v1.cni.cncf.io/networks, item 2 ("ok")`);
      expect(callsOf(h.calls(), "ADD")).toEqual([]);
    });

    it.each(["ok@a;b", "ok@$(x)", "ok@../x", "ok@0123456789abcdef"])(
      "shorthand %j is refused the same way",
      async (value) => {
        const pod = h.createPod("sec", `sh-${value.length}-${value.charCodeAt(3)}`, { [NETWORKS]: value });
        const err = wireError(await add(pod));
        expect(err.code).toBe(7);
        expect(err.msg).toContain(`pod sec/${pod.name}: annotation k8s.v1.cni.cncf.io/networks, item 1 (`);
      },
    );

    it("eth0 on a secondary collides with the cluster network: code 7 naming the pod and both networks", async () => {
      const pod = h.createPod("sec", "if-eth0", { [NETWORKS]: "ok@eth0" });
      await h.resetCalls();
      const err = wireError(await add(pod));
      expect(err.code).toBe(7);
      expect(err.msg).toBe(
        'pod sec/if-eth0: interface name "eth0" is used by both attachment 0 (the cluster network) network "cluster" and attachment 1 network "sec/ok"; every attachment needs its own interface name',
      );
      expect(callsOf(h.calls(), "ADD")).toEqual([]);
    });
  });

  describe("annotation bounds", () => {
    it("a 200 KiB annotation (the API allows 256 KiB) is refused by one size check", async () => {
      const value = JSON.stringify([{ name: "ok", "cni-args": { pad: "x".repeat(200 * 1024) } }]);
      const pod = h.createPod("sec", "big-200k", { [NETWORKS]: value });
      const out = await add(pod);
      const err = wireError(out);
      expect(err.code).toBe(7);
      expect(err.msg).toMatch(/pod sec\/big-200k: annotation k8s.v1.cni.cncf.io\/networks.*65536 bytes/);
      expect(out.stdout.length).toBeLessThan(2048);
    });

    it("a 1 MiB annotation the API server should never have served is refused the same way", async () => {
      const pod = h.createPod("sec", "big-1m", { [NETWORKS]: "ok" });
      setAnnotation(h, pod, NETWORKS, JSON.stringify([{ name: "ok", "cni-args": { pad: "y".repeat(1024 * 1024) } }]));
      const out = await add(pod);
      expect(wireError(out).code).toBe(7);
      expect(out.stdout.length).toBeLessThan(2048);
      expect(out.stdout).not.toContain("yyyyyyyy");
    });

    it("a deeply nested annotation is refused without parsing it", async () => {
      const depth = 20_000;
      const value = `[{"name":"ok","cni-args":{"x":${"[".repeat(depth)}${"]".repeat(depth)}}}]`;
      const pod = h.createPod("sec", "deep", { [NETWORKS]: value });
      const out = await add(pod);
      const err = wireError(out);
      expect(err.code).toBe(7);
      expect(err.msg).toMatch(/pod sec\/deep: annotation k8s.v1.cni.cncf.io\/networks.*nest/);
      expect(out.stderr).not.toMatch(/RangeError|Maximum call stack/);
    });
  });

  describe("namespaceIsolation", () => {
    it("refuses a network of another namespace with code 101 naming both namespaces", async () => {
      const pod = h.createPod("sec", "iso-other", { [NETWORKS]: "ok,other/remote" });
      await h.resetCalls();
      const err = wireError(await add(pod, { namespaceIsolation: true }));
      expect(err.code).toBe(101);
      expect(err.msg).toContain(
        'pod sec/iso-other: annotation k8s.v1.cni.cncf.io/networks: network other/remote is in namespace "other"',
      );
      expect(err.msg).toContain('the pod\'s own namespace "sec"');
      expect(callsOf(h.calls(), "ADD")).toEqual([]);
    });

    it("allows the pod's own namespace and the global namespaces", async () => {
      const pod = h.createPod("sec", "iso-global", { [NETWORKS]: "ok,default/shared,other/remote" });
      const out = await add(pod, { namespaceIsolation: true, globalNamespaces: "default,other" });
      expect(out.code, out.stdout).toBe(0);
      const dflt = h.createPod("sec", "iso-default", { [NETWORKS]: "default/shared" });
      expect((await add(dflt, { namespaceIsolation: true })).code).toBe(0);
    });
  });

  it("a DEL without cache still tears down what a policy changed since ADD would now refuse", async () => {
    const pod = h.createPod("sec", "iso-later", {
      [NETWORKS]: "ok,other/remote",
      "v1.multus-cni.io/default-network": "other/remote",
    });
    expect((await add(pod)).code).toBe(0);
    await rm(join(h.stateDir, pod.containerId), { recursive: true });
    await h.resetCalls();
    const out = await h.call("DEL", pod, { conf: conf({ namespaceIsolation: true }) });
    expect([out.code, out.stdout]).toEqual([0, ""]);
    expect(callsOf(h.calls(), "DEL").map((c) => [c.env["CNI_IFNAME"], c.stdin["name"]])).toEqual([
      ["net2", "remote"],
      ["net1", "ok"],
      ["eth0", "remote"],
    ]);
  });

  it("state files are 0600 in 0700 directories, the log file 0600", async () => {
    const pod = h.createPod("sec", "modes", { [NETWORKS]: "ok" });
    const logFile = join(h.dir, "modes.log");
    expect((await add(pod, { logFile })).code).toBe(0);
    const mode = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);
    const dir = join(h.stateDir, pod.containerId);
    expect([await mode(h.stateDir), await mode(dir)]).toEqual(["700", "700"]);
    for (const f of await readdir(dir)) expect([f, await mode(join(dir, f))]).toEqual([f, "600"]);
    expect(await mode(logFile)).toBe("600");
    expect((await h.call("DEL", pod, { conf: conf() })).code).toBe(0);
    // The tombstone: an empty 0600 file in 0700 directories (.tombstones/<bucket>/).
    const tombstones = join(h.stateDir, ".tombstones");
    expect(await mode(tombstones)).toBe("700");
    const files: string[] = [];
    for (const b of await readdir(tombstones)) {
      expect([b, await mode(join(tombstones, b))]).toEqual([b, "700"]);
      for (const f of await readdir(join(tombstones, b))) {
        files.push(f);
        expect([f, await mode(join(tombstones, b, f))]).toEqual([f, "600"]);
      }
    }
    expect(files).toContain(`${pod.containerId}.deleted`);
  });

  describe("namespaceIsolation and the default-network annotation", () => {
    const DEFAULT_NETWORK = "v1.multus-cni.io/default-network";
    it("refuses another team's NAD as the pod's cluster network", async () => {
      const pod = h.createPod("sec", "dn-other", { [DEFAULT_NETWORK]: "other/remote" });
      await h.resetCalls();
      const err = wireError(await add(pod, { namespaceIsolation: true }));
      expect(err.code).toBe(101);
      expect(err.msg).toContain(
        'pod sec/dn-other: annotation v1.multus-cni.io/default-network: network other/remote is in namespace "other"',
      );
      expect(callsOf(h.calls(), "ADD")).toEqual([]);
    });

    it("allows the pod's own namespace, the global namespaces and the Plexus namespace (kube-system)", async () => {
      h.createNad("kube-system", "alt-cluster", { cniVersion: "1.0.0", type: "recorder" });
      for (const [name, value] of [
        ["dn-own", "sec/ok"],
        ["dn-global", "default/shared"],
        ["dn-system", "alt-cluster"],
      ] as const) {
        const pod = h.createPod("sec", name, { [DEFAULT_NETWORK]: value });
        await h.resetCalls();
        const out = await add(pod, { namespaceIsolation: true });
        expect(out.code, out.stdout).toBe(0);
        expect(callsOf(h.calls(), "ADD").map((c) => [c.env["CNI_IFNAME"], c.stdin["name"]])).toEqual([
          ["eth0", value.split("/").pop()],
        ]);
      }
    });
  });

  describe("the API token never reaches a log line", () => {
    const cases: [string, (pod: HarnessPod) => Promise<string>][] = [
      ["a successful ADD", async () => h.kubeconfig],
      ["a missing NAD (404)", async (pod) => (setAnnotation(h, pod, NETWORKS, "nope"), h.kubeconfig)],
      ["a rejected token (401)", () => kubeconfigWithToken(h, "wrong-token-0123456789abcdef")],
      ["an API server nobody listens on", () => kubeconfigWithToken(h, h.api.token, "https://127.0.0.1:1")],
    ];
    it.each(cases)("%s, at debug level, in the log file and on stderr", async (title, prepare) => {
      const pod = h.createPod("sec", `tok-${cases.findIndex((c) => c[0] === title)}`, { [NETWORKS]: "ok" });
      const kubeconfig = await prepare(pod);
      const token = (await readFile(kubeconfig, "utf8")).match(/token"?: *"?([^"\n]+)/)?.[1] ?? "";
      expect(token.length).toBeGreaterThan(16);
      const logFile = join(h.dir, `token-${pod.name}.log`);
      const cfg = {
        logLevel: "debug",
        logFile,
        kubeconfig,
        kubernetes: { requestTimeoutMs: 2000, retries: 1, retryBackoffMs: 10 },
      };
      const out = await add(pod, cfg);
      await h.call("DEL", pod, { conf: conf(cfg) });
      const log = await readFile(logFile, "utf8");
      expect(log).toMatch(/"level":20/);
      for (const text of [log, out.stderr, out.stdout]) {
        expect(text).not.toContain(token);
        expect(text).not.toContain(Buffer.from(token).toString("base64"));
      }
    });
  });
});

const isKubeObject = (v: KubeObject | JsonObject): v is KubeObject => "metadata" in v && isJsonObject(v["metadata"]);

/** Changes a stored pod's annotation without the API's validation (which caps annotations at 256 KiB). */
function setAnnotation(h: PlexusHarness, pod: HarnessPod, key: string, value: string): void {
  const dump = h.api.store.dump();
  const entry = dump.objects.find((o) => isKubeObject(o.object) && o.object.metadata.uid === pod.uid);
  if (!entry || !isKubeObject(entry.object)) throw new Error(`pod ${pod.name} is not in the store`);
  entry.object.metadata.annotations = { ...entry.object.metadata.annotations, [key]: value };
  h.api.store.load(dump);
  if (h.api.store.get(PODS, pod.namespace, pod.name).metadata.annotations?.[key] !== value)
    throw new Error("annotation not set");
}

async function kubeconfigWithToken(h: PlexusHarness, token: string, server?: string): Promise<string> {
  const path = join(h.dir, `kubeconfig-${token.slice(0, 6)}-${server ? "down" : "up"}`);
  const doc = h.api.kubeconfig();
  const users = doc.users.map((u) => ({ ...u, user: { ...u.user, token } }));
  const clusters = doc.clusters.map((c) => (server ? { ...c, cluster: { ...c.cluster, server } } : c));
  await writeFile(path, JSON.stringify({ ...doc, users, clusters }), { mode: 0o600 });
  return path;
}
