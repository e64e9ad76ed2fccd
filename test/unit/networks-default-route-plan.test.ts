// default-route planning per family (multi-net spec v1.1 §4.1.2.1;
// docs/compatibility.md#default-route).
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/cni/error.js";
import type { IfName } from "../../src/cni/ids.js";
import type { Result100 } from "../../src/cni/result.js";
import { planDefaultRoutes, type RoutedAttachment } from "../../src/networks/default-route-plan.js";
import { thrown } from "../support/cni-error.js";

const n = (v: string) => v as IfName;
/** eth0: dual-stack cluster network with default routes in both families. */
const eth0Result: Result100 = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "eth0", sandbox: "/var/run/netns/p" }],
  ips: [
    { address: "198.18.0.5/24", gateway: "198.18.0.1", interface: 0 },
    { address: "fd00::5/64", gateway: "fd00::1", interface: 0 },
  ],
  routes: [
    { dst: "0.0.0.0/0", gw: "198.18.0.1" },
    { dst: "::/0", gw: "fd00::1" },
    { dst: "198.19.0.0/16", gw: "198.18.0.1" },
  ],
};
/** net1: IPv4-only secondary with a host-side interface listed first. */
const net1Result: Result100 = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "veth1" }, { name: "net1", sandbox: "/var/run/netns/p" }],
  ips: [
    { address: "198.18.1.5/24", gateway: "198.18.1.1", interface: 1 },
    { address: "fd01::1/64", interface: 0 },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "198.18.1.1" }],
};
const cluster = (extra: Partial<RoutedAttachment> = {}): RoutedAttachment => ({
  ifName: n("eth0"),
  isCluster: true,
  result: eth0Result,
  ...extra,
});
const net1 = (extra: Partial<RoutedAttachment> = {}): RoutedAttachment => ({
  ifName: n("net1"),
  isCluster: false,
  result: net1Result,
  ...extra,
});

describe("planDefaultRoutes", () => {
  it("no default-route anywhere: results untouched, no actions", () => {
    const plan = planDefaultRoutes([cluster(), net1()]);
    expect(plan.actions).toEqual([]);
    expect(plan.results).toEqual([eth0Result, net1Result]);
  });

  it("an IPv4 gateway on net1 moves only the IPv4 default route (Multus also deletes IPv6)", () => {
    const plan = planDefaultRoutes([cluster(), net1({ defaultRoute: ["198.18.1.254"] })]);
    expect(plan.actions).toEqual([
      { kind: "delete-default", ifName: "eth0", family: 4 },
      { kind: "delete-default", ifName: "net1", family: 4 },
      { kind: "replace-default", ifName: "net1", family: 4, gateway: "198.18.1.254" },
    ]);
    expect(plan.results[0]!.routes).toEqual([
      { dst: "::/0", gw: "fd00::1" },
      { dst: "198.19.0.0/16", gw: "198.18.0.1" },
    ]);
    expect(plan.results[1]!.routes).toEqual([{ dst: "0.0.0.0/0", gw: "198.18.1.254" }]);
    // Everything else in the results is kept.
    expect(plan.results[0]!.ips).toEqual(eth0Result.ips);
  });

  it("an IPv6 gateway on the cluster network and IPv4 on net1 each touch their own family", () => {
    const v6net1: Result100 = {
      ...net1Result,
      ips: [
        { address: "fd02::5/64", interface: 1 },
        { address: "198.18.1.5/24", interface: 1 },
      ],
      routes: [{ dst: "::/0", gw: "fd02::1" }],
    };
    const plan = planDefaultRoutes([
      cluster({ defaultRoute: ["fd00::9"] }),
      net1({ result: v6net1, defaultRoute: ["198.18.1.1"] }),
    ]);
    expect(plan.actions).toEqual([
      { kind: "delete-default", ifName: "eth0", family: 6 },
      { kind: "delete-default", ifName: "net1", family: 6 },
      { kind: "replace-default", ifName: "eth0", family: 6, gateway: "fd00::9" },
      { kind: "delete-default", ifName: "eth0", family: 4 },
      { kind: "delete-default", ifName: "net1", family: 4 },
      { kind: "replace-default", ifName: "net1", family: 4, gateway: "198.18.1.1" },
    ]);
    expect(plan.results[0]!.routes).toEqual([
      { dst: "198.19.0.0/16", gw: "198.18.0.1" },
      { dst: "::/0", gw: "fd00::9" },
    ]);
    expect(plan.results[1]!.routes).toEqual([{ dst: "0.0.0.0/0", gw: "198.18.1.1" }]);
  });

  it("default-route: [] takes each family through the attachment's own gateway (Multus strips all)", () => {
    const { routes: _r, ...bare } = net1Result;
    const plan = planDefaultRoutes([cluster(), net1({ result: bare, defaultRoute: [] })]);
    expect(plan.actions.filter((a) => a.kind === "replace-default")).toEqual([
      { kind: "replace-default", ifName: "net1", family: 4, gateway: "198.18.1.1" },
    ]);
    // fd01::1 is on the host-side veth (index 0): it gives net1 no IPv6 gateway, IPv6 stays on eth0.
    expect(plan.results[0]!.routes).toEqual([
      { dst: "::/0", gw: "fd00::1" },
      { dst: "198.19.0.0/16", gw: "198.18.0.1" },
    ]);
    expect(plan.results[1]!.routes).toEqual([{ dst: "0.0.0.0/0", gw: "198.18.1.1" }]);
  });

  it("default-route: [] prefers the gw of the result's own default route", () => {
    const r: Result100 = { ...net1Result, routes: [{ dst: "0.0.0.0/0", gw: "198.18.1.9" }] };
    const plan = planDefaultRoutes([cluster(), net1({ result: r, defaultRoute: [] })]);
    expect(plan.actions.at(-1)).toEqual({ kind: "replace-default", ifName: "net1", family: 4, gateway: "198.18.1.9" });
  });

  it("a result whose routes all go away loses the routes key", () => {
    const plan = planDefaultRoutes([cluster({ defaultRoute: ["198.18.0.1"] }), net1()]);
    expect(plan.results[1]).not.toHaveProperty("routes");
  });

  it.each([
    [
      "a gateway of a family the attachment has no address in",
      [cluster(), net1({ defaultRoute: ["fd00::1"] })],
      "gateway fd00::1 is IPv6, but net1 has no IPv6 address",
    ],
    [
      "[] with no gateway in the result",
      [cluster(), net1({ result: { cniVersion: "1.0.0", ips: [{ address: "198.18.1.5/24" }] }, defaultRoute: [] })],
      "reports no gateway",
    ],
    [
      "two claims of one family (ECMP)",
      [cluster({ defaultRoute: ["198.18.0.1"] }), net1({ defaultRoute: ["198.18.1.1"] })],
      "ECMP",
    ],
    ["a gateway that is not an IP", [cluster(), net1({ defaultRoute: ["x"] })], 'gateway "x" is not an IP address'],
  ])("%s is an error", (_, attachments, text) => {
    const err = thrown(() => planDefaultRoutes(attachments, { pod: "team-a/web-0" }));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toMatch(/^pod team-a\/web-0: default-route of /);
    expect(err.msg).toContain(text);
  });
});
