// What a hot-plug must do to a running pod (docs/architecture.md#hot-plug): compare the
// selections the k8s.v1.cni.cncf.io/networks annotation asks for now with the attachments the
// pod has, and say which to keep, which to detach and which to attach under which name.
//
// The identity of an attachment is its network (the NAD's "namespace/name") and its interface
// name. A selection that names its interface keeps exactly that attachment; one that does not
// keeps any attachment of its network that no selection claims by name (the lowest first), so
// reordering the annotation, or dropping an `@name` that was already in place, changes nothing.
// Existing interfaces are never renamed or renumbered: a new name-less selection gets the lowest
// `net<N>` that no attachment has and no selection asks for (Multus's names are positional,
// docs/compatibility.md#interface-names; positions move when the annotation changes, names
// must not). Pure.

import type { IfName } from "../cni/ids.js";
import type { NetworkSelection } from "./selection.js";

/** An attachment the pod has that a selection made (the cluster network and defaultNetworks are not here). */
export interface CurrentAttachment {
  readonly ifName: string;
  readonly networkRef: string;
  /** Position in the pod's attachment order. */
  readonly index: number;
  /** False when its ADD never finished (the daemon was killed mid-attach): always detached. */
  readonly added: boolean;
}

export interface PlannedAttach {
  readonly selection: NetworkSelection;
  /** 0-based position of the selection in the annotation (for messages). */
  readonly item: number;
  readonly ifName: IfName;
}

export interface RefusedSelection {
  readonly selection: NetworkSelection;
  readonly item: number;
  readonly reason: string;
}

export interface HotplugDiff {
  readonly keep: readonly CurrentAttachment[];
  /** In reverse attachment order (the order DEL runs in). */
  readonly detach: readonly CurrentAttachment[];
  /** In annotation order. */
  readonly attach: readonly PlannedAttach[];
  /** Selections that cannot be attached as asked (an interface name another attachment holds). */
  readonly refused: readonly RefusedSelection[];
}

export function selectionRef(sel: Pick<NetworkSelection, "namespace" | "name">): string {
  return `${sel.namespace}/${sel.name}`;
}

/**
 * @param current   the pod's attachments made from selections
 * @param reserved  interface names the pod has that no selection may take (CNI_IFNAME, defaultNetworks')
 * @param wanted    the annotation's selections, in order
 */
export function diffSelections(
  current: readonly CurrentAttachment[],
  reserved: ReadonlySet<string>,
  wanted: readonly NetworkSelection[],
): HotplugDiff {
  const live = current.filter((a) => a.added);
  const claimed = new Set<CurrentAttachment>();
  const requested = new Set(wanted.flatMap((s) => (s.interface ? [s.interface as string] : [])));
  const keep: CurrentAttachment[] = [];
  const refused: RefusedSelection[] = [];
  const slots: ({ item: number; selection: NetworkSelection; ifName?: IfName } | undefined)[] = [];
  const namedBy = new Map<string, number>();

  // Selections that name their interface first: the name is theirs.
  wanted.forEach((selection, item) => {
    const name = selection.interface;
    if (name === undefined) return;
    const ref = selectionRef(selection);
    if (reserved.has(name)) {
      refused.push({
        selection,
        item,
        reason: `interface name "${name}" belongs to an attachment that is not hot-plugged`,
      });
      return;
    }
    const first = namedBy.get(name);
    if (first !== undefined) {
      refused.push({ selection, item, reason: `interface name "${name}" is also requested by item ${first + 1}` });
      return;
    }
    namedBy.set(name, item);
    const same = live.find((a) => !claimed.has(a) && a.ifName === name && a.networkRef === ref);
    if (same) {
      claimed.add(same);
      keep.push(same);
    } else slots[item] = { item, selection, ifName: name };
  });
  // Then the others, in annotation order: any unclaimed attachment of their network whose name
  // no selection asks for.
  wanted.forEach((selection, item) => {
    if (selection.interface !== undefined) return;
    const ref = selectionRef(selection);
    const same = live
      .filter((a) => !claimed.has(a) && a.networkRef === ref && !requested.has(a.ifName))
      .sort((a, b) => a.index - b.index)[0];
    if (same) {
      claimed.add(same);
      keep.push(same);
    } else slots[item] = { item, selection };
  });

  const detach = current.filter((a) => !claimed.has(a)).sort((a, b) => b.index - a.index);
  // A new name is one no attachment has now (detached ones included: their DEL may fail), no
  // selection asks for, and nothing reserved has.
  const taken = new Set<string>([...reserved, ...current.map((a) => a.ifName), ...requested]);
  const attach: PlannedAttach[] = [];
  for (const slot of slots) {
    if (!slot) continue;
    if (slot.ifName !== undefined) {
      attach.push({ selection: slot.selection, item: slot.item, ifName: slot.ifName });
      continue;
    }
    let n = 1;
    while (taken.has(`net${n}`)) n++;
    const ifName = `net${n}` as IfName;
    taken.add(ifName);
    attach.push({ selection: slot.selection, item: slot.item, ifName });
  }
  return { keep: keep.sort((a, b) => a.index - b.index), detach, attach, refused };
}
