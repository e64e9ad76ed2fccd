// Interface naming: Multus's positional net<i>, collisions resolved or reported.
import { describe, expect, it } from "vitest";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { parseIfName, type IfName } from "../../src/cni/ids.js";
import { assignInterfaceNames, requestedIfNameProblem } from "../../src/networks/interface-names.js";

const eth0 = parseIfName("eth0");
const assign = (requests: (string | undefined)[], labels?: string[]): IfName[] =>
  assignInterfaceNames(
    requests.map((r) => (r === undefined ? undefined : parseIfName(r))),
    (request) => request,
    eth0,
    labels ? { pod: "team-a/web-0", labels } : {},
  ).map((named) => named.ifName);

describe("assignInterfaceNames", () => {
  it.each([
    ["cluster only", [undefined], ["eth0"]],
    ["the same network twice gets net1, net2", [undefined, undefined, undefined], ["eth0", "net1", "net2"]],
    [
      "requests are positional (Multus): a@foo,b gives foo, net2",
      [undefined, "foo", undefined],
      ["eth0", "foo", "net2"],
    ],
    ["a generated name requested later moves on: a,b@net1", [undefined, undefined, "net1"], ["eth0", "net2", "net1"]],
    ["a generated name requested earlier moves on: a@net2,b", [undefined, "net2", undefined], ["eth0", "net2", "net3"]],
    [
      "the next free name skips every requested one",
      [undefined, undefined, "net2", "net1", undefined],
      ["eth0", "net3", "net2", "net1", "net4"],
    ],
    ["the cluster network may request its own name", ["net1", undefined], ["net1", "net2"]],
    ["no attachments", [], []],
  ])("%s", (_, requests, expected) => {
    expect(assign(requests)).toEqual(expected);
  });

  it("is deterministic: the same input gives the same names (DEL re-resolution)", () => {
    const input = [undefined, undefined, "net1", undefined, "net3"];
    expect(assign(input)).toEqual(assign([...input]));
    expect(assign(input)).toEqual(["eth0", "net2", "net1", "net4", "net3"]);
  });

  it("two attachments requesting eth1 is an error naming both", () => {
    try {
      assign([undefined, "eth1", "eth1"], ["cbr0", "team-a/a", "team-a/b"]);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).code).toBe(ErrorCode.InvalidNetworkConfig);
      expect((err as CniError).msg).toBe(
        'pod team-a/web-0: interface name "eth1" is used by both attachment 1 team-a/a and attachment 2 team-a/b; every attachment needs its own interface name',
      );
    }
  });

  it("a secondary asking for eth0 collides with the cluster network", () => {
    expect(() => assign([undefined, "eth0"], ["cbr0", "team-a/a"])).toThrow(
      /attachment 0 \(the cluster network\) cbr0 and attachment 1 team-a\/a/,
    );
  });
});

describe("requestedIfNameProblem", () => {
  it.each(["net1;rm", "../x", "a b", "abcdefghijklmnop", "eth0:1", "net%d", "-x", "", ".", "a=b", "a\tb"])(
    "%j is refused",
    (v) => {
      expect(requestedIfNameProblem(v)).toBeTypeOf("string");
    },
  );
  it.each(["net1", "eth0", "vlan.100", "br_ext", "Net-1", "abcdefghijklmno", "_x"])("%j is accepted", (v) => {
    expect(requestedIfNameProblem(v)).toBeUndefined();
  });
});
