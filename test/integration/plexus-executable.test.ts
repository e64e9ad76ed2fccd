// The shipped executable as built (src/cli/sea-build.mjs): it starts the Kubernetes client and
// the kubelet's gRPC client from the code caches the build appended to it, a NODE_OPTIONS in the runtime's environment does not
// change how it runs, and nothing but the result reaches stdout and nothing about Node.js itself
// (deprecations, experimental features) reaches the runtime's log.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { startKubeletStandin } from "../support/kubelet-standin.js";
import { NETWORKS, netResult, startPlexusHarness, type PlexusHarness } from "./plexus-harness.js";
import { resultOf } from "../support/plexus.js";
import { decodeVersionInfo } from "../../src/cni/version-info.js";

describe("the plexus executable", () => {
  let h: PlexusHarness;

  beforeAll(async () => {
    h = await startPlexusHarness();
    h.createNad("exe", "net-a", { cniVersion: "1.0.0", type: "recorder", result: netResult("net1", "198.18.1.2/24") });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  function debugLines(stderr: string): Record<string, unknown>[] {
    return stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it("loads the Kubernetes client from its own code cache, and Node.js prints nothing of its own", async () => {
    const pod = h.createPod("exe", "cached", { [NETWORKS]: "net-a" });
    const out = await h.call("ADD", pod, { conf: h.conf({ logLevel: "debug", logToStderr: true }) });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(resultOf(out).interfaces?.map((i) => i.name)).toContain("net1");
    const loaded = debugLines(out.stderr).find((l) => l["msg"] === "Kubernetes client loaded");
    expect(loaded, out.stderr).toMatchObject({ codeCache: "accepted" });
    // Every stderr line is the plugin's own JSON log: no "(node:123) Warning: ..." lines.
    expect(out.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("{"))).toEqual([]);
    expect((await h.call("DEL", pod)).code).toBe(0);
  });

  it("loads the kubelet's gRPC client from its own code cache too, only for a NAD with a resourceName", async () => {
    const kubelet = await startKubeletStandin(join(h.dir, "kubelet.sock"));
    try {
      h.createNad(
        "exe",
        "vf",
        { cniVersion: "1.0.0", type: "recorder", result: netResult("net1", "198.18.2.2/24") },
        { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov" },
      );
      const pod = h.createPod("exe", "vf-0", { [NETWORKS]: "vf" });
      kubelet.setPod("exe", "vf-0", [{ container: "c", resource: "intel.com/sriov", ids: ["0000:18:02.5"] }]);
      const conf = h.conf({ logLevel: "debug", logToStderr: true, kubelet: { podResourcesSocket: kubelet.socket } });
      const out = await h.call("ADD", pod, { conf });
      expect(out.code, out.stdout + out.stderr).toBe(0);
      const loaded = debugLines(out.stderr).find((l) => l["msg"] === "kubelet pod-resources client loaded");
      expect(loaded, out.stderr).toMatchObject({ codeCache: "accepted" });
      expect(out.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("{"))).toEqual([]);
      expect((await h.call("DEL", pod, { conf })).code).toBe(0);
      // A pod without such a NAD never loads it.
      const plain = h.createPod("exe", "plain", { [NETWORKS]: "net-a" });
      const other = await h.call("ADD", plain, { conf });
      expect(debugLines(other.stderr).map((l) => l["msg"])).not.toContain("kubelet pod-resources client loaded");
      expect((await h.call("DEL", plain, { conf })).code).toBe(0);
    } finally {
      await kubelet.stop();
    }
  });

  it("ignores NODE_OPTIONS from the runtime's environment", async () => {
    // Node.js refuses to start with this in NODE_OPTIONS. (VERSION runs no delegate: a delegate
    // written in Node.js would inherit the variable, as every delegate inherits the environment.)
    const out = await h.call("VERSION", undefined, {
      stdin: { cniVersion: "1.0.0" },
      env: { NODE_OPTIONS: "--no-such-flag" },
    });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(decodeVersionInfo(out.json).supportedVersions).toContain("1.1.0");
    expect(out.stderr).toBe("");
  });
});
