// Devices from the kubelet in real network namespaces, in thin and daemon mode: a NAD annotated
// k8s.v1.cni.cncf.io/resourceName of the SR-IOV CNI stand-in (test/fixtures/standins/sriov: no SR-IOV
// hardware here; it refuses a config without the VF's address and moves that VF's netdev into the
// pod with the real host-device plugin), the stand-in kubelet serving the real pod-resources v1
// service over gRPC on a socket of the test's own (kubelet.podResourcesSocket). Each attachment
// gets the VF the kubelet allocated, in the kernel, and network-status carries the device plugin's
// device-info (Device Information spec §6.1); a pod with fewer VFs than attachments fails naming
// the resource and leaves nothing behind (docs/compatibility.md#devices-from-the-kubelet).

import { existsSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { referencePluginDir } from "../support/cni-plugins.js";
import { eventsOnceIn, type RecordedEvent } from "../support/events.js";
import { startKubeletStandin, type KubeletStandin } from "../support/kubelet-standin.js";
import { addressesOf, execIn, link, links } from "../support/netns.js";
import { MODES, startTestNode, type TestNode, type TestPod } from "../support/plexus-node.js";
import { errorOf, repoRoot } from "../support/plexus.js";
import { isRoot } from "../support/root.js";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const SRIOV = "intel.com/sriov_netdevice";
/** The VFs: PCI address -> the netdev a node's /sys/bus/pci/devices/<address>/net/ names, and its MAC. */
const VFS = [
  { pci: "0000:18:02.3", netdev: "ens1f0v3", mac: "02:00:00:18:02:03" },
  { pci: "0000:18:02.5", netdev: "ens1f0v5", mac: "02:00:00:18:02:05" },
] as const;
const info = (pci: string) => ({ type: "pci", version: "1.1.0", pci: { "pci-address": pci } });

describe.skipIf(!isRoot).each(MODES)("devices from the kubelet with the SR-IOV CNI stand-in (%s mode)", (mode) => {
  let n: TestNode;
  let kubelet: KubeletStandin;
  let devinfo: string;
  let cniPath: string[];
  let nodeLinksBefore: string[];
  const conf = () =>
    n.conf({ deviceInfoDir: devinfo, kubelet: { podResourcesSocket: kubelet.socket, retryBackoffMs: 10 } });

  beforeAll(async () => {
    n = await startTestNode(`dev-${mode}`, { mode });
    kubelet = await startKubeletStandin(join(n.dir, "pod-resources.sock"));
    devinfo = join(n.dir, "devinfo");
    cniPath = [referencePluginDir(), join(repoRoot, "test/fixtures/standins")];
    await mkdir(join(devinfo, "dp"), { recursive: true });
    for (const vf of VFS) {
      // A veth end stands for the VF's netdev (this kernel has no dummy links); its peer stays here.
      await execIn(n.node, [
        "ip",
        "link",
        "add",
        vf.netdev,
        "address",
        vf.mac,
        "type",
        "veth",
        "peer",
        "name",
        `${vf.netdev}p`,
      ]);
      // What the SR-IOV device plugin writes for each VF it manages (Device Information spec §4.1).
      await writeFile(
        join(devinfo, "dp", `intel.com-sriov_netdevice-${vf.pci}-device.json`),
        JSON.stringify(info(vf.pci)),
      );
    }
    // As an SR-IOV network operator writes it: no capabilities, the VF comes in "deviceID".
    n.createNad(
      "team-a",
      "sriov-a",
      {
        cniVersion: "1.0.0",
        name: "sriov-a",
        type: "sriov",
        standInVfs: Object.fromEntries(VFS.map((vf) => [vf.pci, vf.netdev])),
        standInDataDir: join(n.dir, "sriov"),
        ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.5.0/24" }]] },
      },
      { "k8s.v1.cni.cncf.io/resourceName": SRIOV },
    );
    const primer = await n.createPod("team-a", "primer");
    expect((await n.add(primer, { cniPath })).code).toBe(0);
    expect((await n.del(primer, { cniPath })).code).toBe(0);
    nodeLinksBefore = (await links(n.node)).map((l) => l.ifname).sort();
  });
  afterAll(async () => {
    await kubelet?.stop();
    await n?.cleanup();
  });

  async function expectNothingLeft(pod: TestPod): Promise<void> {
    expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
    expect((await links(n.node)).map((l) => l.ifname).sort()).toEqual(nodeLinksBefore);
    for (const vf of VFS) expect((await link(n.node, vf.netdev))?.address).toBe(vf.mac);
    expect(await n.leases()).toEqual([]);
    expect(await readdir(join(devinfo, "cni")).catch(() => [])).toEqual([]);
    expect(await readdir(join(n.dir, "sriov")).catch(() => [])).toEqual([]);
  }

  it("two attachments of the resource get the kubelet's two VFs, in the kernel and in network-status; DEL gives them back", async () => {
    const pod = await n.createPod("team-a", "vf-0", { [NETWORKS]: "sriov-a, sriov-a" });
    // Reverse order from the kubelet, and rate-limited once: Plexus sorts (as Multus) and waits it out.
    kubelet.setPod("team-a", "vf-0", [{ container: "app", resource: SRIOV, ids: VFS.map((vf) => vf.pci).reverse() }]);
    kubelet.calls.length = 0;
    kubelet.exhaust = 1;
    const add = await n.add(pod, { conf: conf(), cniPath });
    expect(add.code, add.stdout + add.stderr).toBe(0);
    expect(kubelet.calls).toEqual(["Get", "Get"]);
    expect((await links(pod.netns)).map((l) => l.ifname).sort()).toEqual(["eth0", "lo", "net1", "net2"]);
    // net1 is the first VF, net2 the second: the stand-in moved the netdev of the deviceID it got.
    expect((await link(pod.netns, "net1"))?.address).toBe(VFS[0].mac);
    expect((await link(pod.netns, "net2"))?.address).toBe(VFS[1].mac);
    for (const vf of VFS) expect(await link(n.node, vf.netdev)).toBeUndefined();
    for (const ifName of ["net1", "net2"]) {
      expect(await addressesOf(pod.netns, ifName)).toContainEqual(expect.stringMatching(/^198\.18\.5\.\d+\/24$/));
    }
    const statuses = n.networkStatusOf("team-a", "vf-0");
    expect(statuses.map((s) => [s.interface, s.mac, s["device-info"]])).toEqual([
      ["eth0", expect.any(String), undefined],
      ["net1", VFS[0].mac, info(VFS[0].pci)],
      ["net2", VFS[1].mac, info(VFS[1].pci)],
    ]);
    const check = await n.call("CHECK", pod, { conf: conf(), cniPath });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const del = await n.del(pod, { conf: conf(), cniPath });
    expect(del.code, del.stdout + del.stderr).toBe(0);
    await expectNothingLeft(pod);
  });

  it("more attachments than VFs: ADD fails naming the resource, and nothing is left behind", async () => {
    const pod = await n.createPod("team-a", "vf-1", { [NETWORKS]: "sriov-a, sriov-a" });
    kubelet.setPod("team-a", "vf-1", [{ container: "app", resource: SRIOV, ids: [VFS[0].pci] }]);
    const add = await n.add(pod, { conf: conf(), cniPath });
    expect(add.code).toBe(1);
    expect(add.stdout.trim().split("\n")).toHaveLength(1);
    expect(add.json).toMatchObject({ cniVersion: "1.0.0", code: 7 });
    expect(errorOf(add).msg).toBe(
      `pod team-a/vf-1: 2 attachments use resource "${SRIOV}" (network "team-a/sriov-a" (net1), network "team-a/sriov-a" (net2)), ` +
        `but the kubelet allocated 1 device of it to the pod (${VFS[0].pci}): the pod must request one ${SRIOV} per attachment`,
    );
    await expectNothingLeft(pod);
    // The daemon writes Events after answering.
    const ofPod = (events: RecordedEvent[]) => events.filter((e) => e.involvedObject.name === "vf-1");
    const failed = ofPod(await eventsOnceIn(n.api.store, "team-a", (events) => ofPod(events).length > 0));
    expect(failed.map((e) => [e.type, e.reason])).toEqual([["Warning", "NetworkSetupFailed"]]);
    expect(failed[0]?.message).toContain(SRIOV);
    const del = await n.del(pod, { conf: conf(), cniPath });
    expect(del.code, del.stdout).toBe(0);
    await expectNothingLeft(pod);
    expect(existsSync(join(n.stateDir, pod.containerId))).toBe(false);
  });
});
