// What a hot-plug keeps, detaches and attaches (src/networks/hotplug-diff.ts): the identity of an
// attachment is its network and interface name; existing interfaces are never renamed.

import { describe, expect, it } from "vitest";
import type { IfName, Namespace } from "../../src/cni/ids.js";
import { diffSelections, type CurrentAttachment } from "../../src/networks/hotplug-diff.js";
import type { NetworkSelection } from "../../src/networks/selection.js";

const sel = (name: string, iface?: string): NetworkSelection => ({
  name,
  namespace: "default" as Namespace,
  ...(iface ? { interface: iface as IfName } : {}),
});
const att = (ifName: string, name: string, index: number, added = true): CurrentAttachment => ({
  ifName,
  networkRef: `default/${name}`,
  index,
  added,
});
const RESERVED = new Set(["eth0"]);
const names = (d: ReturnType<typeof diffSelections>) => ({
  keep: d.keep.map((a) => `${a.ifName}=${a.networkRef}`),
  detach: d.detach.map((a) => `${a.ifName}=${a.networkRef}`),
  attach: d.attach.map((a) => `${a.ifName}=${a.selection.namespace}/${a.selection.name}`),
  refused: d.refused.map((r) => r.reason),
});

describe("diffSelections", () => {
  it("adds a selection at the end under the next free net<N>, keeping the others", () => {
    expect(names(diffSelections([att("net1", "macvlan", 1)], RESERVED, [sel("macvlan"), sel("bridge")]))).toEqual({
      keep: ["net1=default/macvlan"],
      detach: [],
      attach: ["net2=default/bridge"],
      refused: [],
    });
  });

  it("removing the first selection never renames the second", () => {
    const d = diffSelections([att("net1", "a", 1), att("net2", "b", 2)], RESERVED, [sel("b")]);
    expect(names(d)).toEqual({ keep: ["net2=default/b"], detach: ["net1=default/a"], attach: [], refused: [] });
  });

  it("reordering the annotation changes nothing", () => {
    const d = diffSelections([att("net1", "a", 1), att("net2", "b", 2)], RESERVED, [sel("b"), sel("a")]);
    expect(names(d)).toEqual({ keep: ["net1=default/a", "net2=default/b"], detach: [], attach: [], refused: [] });
  });

  it("a new name is one no attachment has, detached ones included, and no selection asks for", () => {
    const d = diffSelections([att("net1", "a", 1), att("net3", "c", 2)], RESERVED, [
      sel("c"),
      sel("x"),
      sel("y", "net2"),
    ]);
    expect(names(d)).toEqual({
      keep: ["net3=default/c"],
      detach: ["net1=default/a"],
      attach: ["net4=default/x", "net2=default/y"],
      refused: [],
    });
  });

  it("the same network twice is two attachments; dropping one keeps the lower", () => {
    expect(names(diffSelections([att("net1", "a", 1)], RESERVED, [sel("a"), sel("a")])).attach).toEqual([
      "net2=default/a",
    ]);
    const d = diffSelections([att("net1", "a", 1), att("net2", "a", 2)], RESERVED, [sel("a")]);
    expect(names(d)).toEqual({ keep: ["net1=default/a"], detach: ["net2=default/a"], attach: [], refused: [] });
  });

  it("an interface name is identity: the same network under another name is a new attachment", () => {
    const d = diffSelections([att("data0", "a", 1)], RESERVED, [sel("a", "data1")]);
    expect(names(d)).toEqual({ keep: [], detach: ["data0=default/a"], attach: ["data1=default/a"], refused: [] });
  });

  it("a name-less selection keeps an attachment of its network whatever its name, unless another selection claims the name", () => {
    expect(names(diffSelections([att("data0", "a", 1)], RESERVED, [sel("a")])).keep).toEqual(["data0=default/a"]);
    const d = diffSelections([att("data0", "a", 1)], RESERVED, [sel("a"), sel("b", "data0")]);
    expect(names(d)).toEqual({
      keep: [],
      detach: ["data0=default/a"],
      attach: ["net1=default/a", "data0=default/b"],
      refused: [],
    });
  });

  it("an unfinished attachment is always detached (and re-attached when still asked for)", () => {
    const d = diffSelections([att("net1", "a", 1, false)], RESERVED, [sel("a")]);
    expect(names(d)).toEqual({ keep: [], detach: ["net1=default/a"], attach: ["net2=default/a"], refused: [] });
  });

  it("refuses a name that belongs to the cluster network or that two selections ask for", () => {
    const d = diffSelections([], RESERVED, [sel("a", "eth0"), sel("b", "x0"), sel("c", "x0")]);
    expect(names(d)).toEqual({
      keep: [],
      detach: [],
      attach: ["x0=default/b"],
      refused: [
        'interface name "eth0" belongs to an attachment that is not hot-plugged',
        'interface name "x0" is also requested by item 2',
      ],
    });
  });

  it("detaches in reverse attachment order; an empty annotation detaches every selection", () => {
    const d = diffSelections([att("net1", "a", 1), att("net2", "b", 2), att("x", "c", 3)], RESERVED, []);
    expect(names(d).detach).toEqual(["x=default/c", "net2=default/b", "net1=default/a"]);
  });
});
