// Device Information Specification 1.1.0 through dist/plexus: a selection's deviceID reaches the
// delegate config (deviceID, pciBusID, as Multus writes them) and runtimeConfig; a plugin that
// declares CNIDeviceInfoFile gets a per-attachment file seeded from the device plugin's file
// for the NAD's resourceName; network-status carries it as device-info; DEL removes the file.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { netResult, recorderNad, startPlexusHarness, type PlexusHarness } from "./plexus-harness.js";
import { errorOf } from "../support/plexus.js";

const DEVICE = "0000:18:02.5";
const INFO = { type: "pci", version: "1.1.0", pci: { "pci-address": DEVICE, "pf-pci-address": "0000:18:00.0" } };

describe("device info", () => {
  let h: PlexusHarness;
  let root: string;

  beforeAll(async () => {
    h = await startPlexusHarness();
    root = join(h.dir, "devinfo");
    mkdirSync(join(root, "dp"), { recursive: true });
    // What an SR-IOV device plugin writes for the device it allocated (DIS §3.2).
    writeFileSync(join(root, "dp", `intel.com-sriov-${DEVICE}-device.json`), JSON.stringify(INFO));
    h.createNad(
      "team-a",
      "sriov-a",
      recorderNad({
        capabilities: { deviceID: true, CNIDeviceInfoFile: true },
        result: netResult("net1", "198.18.3.4/24"),
      }),
      { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov" },
    );
    h.createNad("team-a", "plain-b", recorderNad({ result: netResult("net2", "198.18.4.4/24") }));
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it("ADD: the delegate gets the device and its info file; network-status has device-info; DEL removes the file", async () => {
    const pod = h.createPod("team-a", "vf-0", {
      "k8s.v1.cni.cncf.io/networks": JSON.stringify([
        { name: "sriov-a", deviceID: DEVICE },
        { name: "plain-b", deviceID: DEVICE },
      ]),
    });
    const add = await h.call("ADD", pod, { conf: h.conf({ deviceInfoDir: root }) });
    expect(add.code, add.stdout).toBe(0);
    const sriov = h.calls().find((c) => c.command === "ADD" && c.stdin["name"] === "sriov-a");
    const file = join(root, "cni", `team-a-sriov-a-${pod.containerId}_net1`);
    expect(sriov?.stdin).toMatchObject({
      deviceID: DEVICE,
      pciBusID: DEVICE,
      runtimeConfig: { deviceID: DEVICE, CNIDeviceInfoFile: file },
    });
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(INFO);
    // A plugin without the CNIDeviceInfoFile capability gets the device in its config only.
    const plain = h.calls().find((c) => c.command === "ADD" && c.stdin["name"] === "plain-b");
    expect(plain?.stdin).toMatchObject({ deviceID: DEVICE, pciBusID: DEVICE });
    expect(plain?.stdin).not.toHaveProperty("runtimeConfig");
    const statuses = h.networkStatusOf(pod);
    expect(statuses.find((s) => s.name === "team-a/sriov-a")?.["device-info"]).toEqual(INFO);
    expect(statuses.find((s) => s.name === "team-a/plain-b")).not.toHaveProperty("device-info");
    const del = await h.call("DEL", pod, { conf: h.conf({ deviceInfoDir: root }) });
    expect(del.code, del.stdout).toBe(0);
    expect(existsSync(file)).toBe(false);
  });

  it("a device-info file the plugin left invalid fails ADD with a clear error and rolls back", async () => {
    writeFileSync(
      join(root, "dp", `intel.com-sriov-0000:18:02.6-device.json`),
      JSON.stringify({ type: "pci", version: "1.1.0" }),
    );
    const pod = h.createPod("team-a", "vf-1", {
      "k8s.v1.cni.cncf.io/networks": JSON.stringify([{ name: "sriov-a", deviceID: "0000:18:02.6" }]),
    });
    const add = await h.call("ADD", pod, { conf: h.conf({ deviceInfoDir: root }) });
    expect(add.code).toBe(1);
    expect(errorOf(add).msg).toMatch(/device info .*cni\/team-a-sriov-a-.*_net1 is not valid/);
    expect(existsSync(join(root, "cni", `team-a-sriov-a-${pod.containerId}_net1`))).toBe(false);
    expect((await h.call("DEL", pod, { conf: h.conf({ deviceInfoDir: root }) })).code).toBe(0);
  });
});
