// Which device each attachment gets, for NADs annotated k8s.v1.cni.cncf.io/resourceName
// (docs/compatibility.md#devices-from-the-kubelet). Multus (pkg/k8sclient getKubernetesDelegate)
// hands the kubelet's device IDs for a resource out in sorted order, one per attachment, across
// the cluster network, defaultNetworks and the selections; a selection's own deviceID is used
// only when the resource gave none. Where Multus then runs an attachment without a device (its
// plugin fails later, or silently uses none), Plexus refuses the pod naming the resource.

/** One attachment: the NAD's resourceName, if any, and the selection's deviceID, if any. */
export interface DeviceRequest {
  readonly resourceName?: string;
  readonly selectionDeviceId?: string;
  /** For messages: `network "team-a/sriov-a" (net1)`. */
  readonly label: string;
}

export interface DeviceAssignment {
  /** The device of each attachment, in request order (undefined: none). */
  readonly devices: readonly (string | undefined)[];
  /** One sentence per resource with fewer devices than attachments. */
  readonly shortages: readonly string[];
}

/**
 * Deals out `allocated` (the kubelet's device IDs by resource, sorted) to the requests in order.
 * `allocated` undefined means the kubelet was not asked or could not answer: then the
 * selections' deviceIDs are all there is.
 */
export function assignResourceDevices(
  requests: readonly DeviceRequest[],
  allocated: ReadonlyMap<string, readonly string[]> | undefined,
): DeviceAssignment {
  const used = new Map<string, number>();
  const wanting = new Map<string, string[]>();
  const devices = requests.map((r) => {
    if (r.resourceName === undefined || allocated === undefined) return r.selectionDeviceId;
    const ids = allocated.get(r.resourceName) ?? [];
    const k = used.get(r.resourceName) ?? 0;
    used.set(r.resourceName, k + 1);
    wanting.set(r.resourceName, [...(wanting.get(r.resourceName) ?? []), r.label]);
    return ids[k] ?? r.selectionDeviceId;
  });
  const shortages: string[] = [];
  for (const [resource, labels] of wanting) {
    const ids = allocated?.get(resource) ?? [];
    const short = labels.filter((_, k) => ids[k] === undefined && !hasOwnDevice(requests, resource, k));
    if (short.length === 0) continue;
    shortages.push(
      `${labels.length} attachment${labels.length === 1 ? "" : "s"} use${labels.length === 1 ? "s" : ""} resource ` +
        `${JSON.stringify(resource)} (${labels.join(", ")}), but the kubelet allocated ${ids.length} ` +
        `device${ids.length === 1 ? "" : "s"} ` +
        `of it to the pod${ids.length > 0 ? ` (${ids.join(", ")})` : ""}: the pod must request one ${resource} ` +
        `per attachment`,
    );
  }
  return { devices, shortages };
}

/** Whether the k-th request for `resource` brought its own deviceID (a selection's deviceID). */
function hasOwnDevice(requests: readonly DeviceRequest[], resource: string, k: number): boolean {
  const mine = requests.filter((r) => r.resourceName === resource);
  return mine[k]?.selectionDeviceId !== undefined;
}
