// Devices from the kubelet for NADs annotated k8s.v1.cni.cncf.io/resourceName, through the plexus
// executable (thin) and the daemon, with the stand-in kubelet serving the real pod-resources v1
// service over gRPC and recording delegates asserting what they were given: each attachment gets
// its own device (deviceID and pciBusID in the config, runtimeConfig.deviceID only for plugins
// declaring the capability, as Multus), network-status carries the device plugin's device-info,
// a pod with fewer devices than attachments fails naming the resource and runs no delegate.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubeletStandin, type KubeletStandin } from "../support/kubelet-standin.js";
import { networkStatusIn } from "../support/network-status.js";
import { startPlexusDaemon, type TestDaemon } from "../support/plexus-daemon.js";
import {
  callsOf,
  NETWORKS,
  netResult,
  recorderNad,
  startPlexusHarness,
  wireError,
  type PlexusHarness,
} from "./plexus-harness.js";

const SRIOV = "intel.com/sriov";
const VF = ["0000:18:02.3", "0000:18:02.5"] as const;
const info = (pci: string) => ({ type: "pci", version: "1.1.0", pci: { "pci-address": pci } });

describe.each(["thin", "daemon"] as const)("devices from the kubelet (%s mode)", (mode) => {
  let h: PlexusHarness;
  let kubelet: KubeletStandin;
  let daemon: TestDaemon | undefined;
  let root: string;
  const conf = (extra: Record<string, unknown> = {}) =>
    h.conf({
      deviceInfoDir: root,
      kubelet: { podResourcesSocket: kubelet.socket, retryBackoffMs: 10 },
      ...extra,
    });
  const via = () => (daemon ? { daemonSocket: daemon.socket } : {});

  beforeAll(async () => {
    h = await startPlexusHarness();
    root = join(h.dir, "devinfo");
    mkdirSync(join(root, "dp"), { recursive: true });
    // What the SR-IOV device plugin writes for each device it manages (Device Information spec).
    for (const id of VF) writeFileSync(join(root, "dp", `intel.com-sriov-${id}-device.json`), JSON.stringify(info(id)));
    kubelet = await startKubeletStandin(join(h.dir, "kubelet.sock"));
    h.createNad(
      "team-a",
      "sriov-a",
      {
        cniVersion: "1.0.0",
        plugins: [
          // Like SR-IOV CNI: reads deviceID from its config and from runtimeConfig.
          { type: "recorder", capabilities: { deviceID: true }, result: netResult("x", "198.18.3.4/24") },
          // Chained, declaring nothing: the device in its config only.
          { type: "recorder", marker: "chained" },
        ],
      },
      { "k8s.v1.cni.cncf.io/resourceName": SRIOV },
    );
    h.createNad("team-a", "plain-b", recorderNad({ result: netResult("net3", "198.18.4.4/24") }));
    if (mode === "daemon") daemon = await startPlexusDaemon({ dir: h.dir, kubeconfig: h.kubeconfig });
  });
  afterAll(async () => {
    await daemon?.stop();
    await kubelet?.stop();
    await h?.cleanup();
  });

  it("two attachments of one resource get distinct devices; network-status has each one's device-info", async () => {
    const pod = h.createPod("team-a", "vf-0", {
      [NETWORKS]: JSON.stringify([
        { name: "sriov-a" },
        // A selection's own deviceID yields to the kubelet's allocation (Multus).
        { name: "sriov-a", deviceID: "0000:99:00.0" },
        { name: "plain-b" },
      ]),
    });
    // Reverse order from the kubelet: Plexus sorts, as Multus does.
    kubelet.setPod("team-a", "vf-0", [{ container: "app", resource: SRIOV, ids: [...VF].reverse() }]);
    await h.resetCalls();
    const add = await h.call("ADD", pod, { conf: conf(), ...via() });
    expect(add.code, add.stdout).toBe(0);
    const adds = callsOf(h.calls(), "ADD");
    for (const [ifName, device] of [
      ["net1", VF[0]],
      ["net2", VF[1]],
    ] as const) {
      const [first, chained] = callsOf(adds, "ADD", ifName).map((c) => c.stdin);
      const file = join(root, "cni", `team-a-sriov-a-${pod.containerId}_${ifName}`);
      expect(first).toMatchObject({ deviceID: device, pciBusID: device, runtimeConfig: { deviceID: device } });
      expect(first?.["runtimeConfig"]).toEqual({ deviceID: device });
      expect(chained).toMatchObject({ marker: "chained", deviceID: device, pciBusID: device });
      expect(chained).not.toHaveProperty("runtimeConfig");
      // The device plugin's file, copied for the attachment (Device Information spec §4.2).
      expect(existsSync(file)).toBe(true);
    }
    expect(callsOf(adds, "ADD", "net3")[0]?.stdin).not.toHaveProperty("deviceID");
    const statuses = networkStatusIn(h.getPod(pod), "pod vf-0");
    expect(statuses.map((s) => [s.name, s["device-info"]])).toEqual([
      ["cluster", undefined],
      ["team-a/sriov-a", info(VF[0] as string)],
      ["team-a/sriov-a", info(VF[1] as string)],
      ["team-a/plain-b", undefined],
    ]);
    expect((await h.call("DEL", pod, { conf: conf(), ...via() })).code).toBe(0);
    expect(existsSync(join(root, "cni", `team-a-sriov-a-${pod.containerId}_net1`))).toBe(false);
  });

  it("more attachments than devices: ADD fails naming the resource, and no delegate ran", async () => {
    const pod = h.createPod("team-a", "vf-1", { [NETWORKS]: "sriov-a, sriov-a" });
    kubelet.setPod("team-a", "vf-1", [{ container: "app", resource: SRIOV, ids: [VF[0] as string] }]);
    await h.resetCalls();
    const err = wireError(await h.call("ADD", pod, { conf: conf(), ...via() }));
    expect(err.code).toBe(7);
    expect(err.msg).toBe(
      `pod team-a/vf-1: 2 attachments use resource "intel.com/sriov" (network "team-a/sriov-a" (net1), network "team-a/sriov-a" (net2)), ` +
        `but the kubelet allocated 1 device of it to the pod (${VF[0]}): the pod must request one intel.com/sriov per attachment`,
    );
    expect(callsOf(h.calls(), "ADD")).toEqual([]);
    expect((await h.call("DEL", pod, { conf: conf(), ...via() })).code).toBe(0);
  });

  it("the kubelet's rate limit (RESOURCE_EXHAUSTED) is waited out", async () => {
    const pod = h.createPod("team-a", "vf-2", { [NETWORKS]: "sriov-a" });
    kubelet.setPod("team-a", "vf-2", [{ container: "app", resource: SRIOV, ids: [VF[1] as string] }]);
    kubelet.calls.length = 0;
    kubelet.exhaust = 2;
    const add = await h.call("ADD", pod, { conf: conf(), ...via() });
    expect(add.code, add.stdout).toBe(0);
    expect(kubelet.calls).toEqual(["Get", "Get", "Get"]);
    expect((await h.call("DEL", pod, { conf: conf(), ...via() })).code).toBe(0);
  });

  it("no kubelet socket: ADD fails with code 11 naming the socket and the resource", async () => {
    const pod = h.createPod("team-a", "vf-3", { [NETWORKS]: "sriov-a" });
    await h.resetCalls();
    const missing = join(h.dir, "no-kubelet.sock");
    const err = wireError(
      await h.call("ADD", pod, { conf: conf({ kubelet: { podResourcesSocket: missing } }), ...via() }),
    );
    expect(err.code, err.msg).toBe(11);
    expect(err.msg).toBe(
      `pod team-a/vf-3: network "team-a/sriov-a" (net1) needs a device of resource "intel.com/sriov" (k8s.v1.cni.cncf.io/resourceName): ` +
        `kubelet pod-resources API: no socket at ${missing} (kubelet.podResourcesSocket in the Plexus configuration)`,
    );
    expect(callsOf(h.calls(), "ADD")).toEqual([]);
  });

  it("a retried ADD: the thin executable asks the kubelet each time, the daemon once per pod", async () => {
    const pod = h.createPod("team-a", "vf-4", { [NETWORKS]: "sriov-a, sriov-a" });
    kubelet.setPod("team-a", "vf-4", [{ container: "app", resource: SRIOV, ids: [VF[0] as string] }]);
    kubelet.calls.length = 0;
    for (let i = 0; i < 3; i++) expect((await h.call("ADD", pod, { conf: conf(), ...via() })).code).toBe(1);
    expect(kubelet.calls).toEqual(mode === "daemon" ? ["Get"] : ["Get", "Get", "Get"]);
  });
});
