// Which device each attachment of a pod gets from the kubelet's allocation (Multus's order:
// sorted IDs dealt out one per attachment in plan order), and the shortage message.

import { describe, expect, it } from "vitest";
import { assignResourceDevices } from "../../src/networks/resource-devices.js";

const SRIOV = "intel.com/sriov";
const req = (label: string, resourceName?: string, selectionDeviceId?: string) => ({
  label,
  ...(resourceName ? { resourceName } : {}),
  ...(selectionDeviceId ? { selectionDeviceId } : {}),
});

describe("assignResourceDevices", () => {
  it("deals distinct devices to the attachments of one resource, in order; others keep their selection's", () => {
    const allocated = new Map([[SRIOV, ["0000:18:02.3", "0000:18:02.5"]]]);
    const { devices, shortages } = assignResourceDevices(
      [req("eth0"), req("a", SRIOV), req("b", undefined, "own-1"), req("c", SRIOV, "ignored")],
      allocated,
    );
    expect(devices).toEqual([undefined, "0000:18:02.3", "own-1", "0000:18:02.5"]);
    expect(shortages).toEqual([]);
  });

  it("more attachments than devices: a shortage naming the resource, the attachments and the devices", () => {
    const { shortages } = assignResourceDevices(
      [req('network "team-a/sriov-a" (net1)', SRIOV), req('network "team-a/sriov-a" (net2)', SRIOV)],
      new Map([[SRIOV, ["0000:18:02.5"]]]),
    );
    expect(shortages).toEqual([
      '2 attachments use resource "intel.com/sriov" (network "team-a/sriov-a" (net1), network "team-a/sriov-a" (net2)), ' +
        "but the kubelet allocated 1 device of it to the pod (0000:18:02.5): the pod must request one intel.com/sriov per attachment",
    ]);
  });

  it("no device of the resource at all is a shortage too, unless the selection names its own", () => {
    expect(assignResourceDevices([req("a", SRIOV)], new Map()).shortages).toHaveLength(1);
    expect(assignResourceDevices([req("a", SRIOV, "own")], new Map())).toEqual({ devices: ["own"], shortages: [] });
  });

  it("without the kubelet's answer, the selections' deviceIDs are all there is", () => {
    expect(assignResourceDevices([req("a", SRIOV, "own"), req("b", SRIOV)], undefined)).toEqual({
      devices: ["own", undefined],
      shortages: [],
    });
  });
});
