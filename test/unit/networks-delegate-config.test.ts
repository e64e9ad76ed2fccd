// cni-args injection and capability args per selection (multi-net spec §4.1.2.1;
// CNI CONVENTIONS.md).
import { describe, expect, it } from "vitest";
import { parseNetworkConfig, type JsonObject } from "../../src/cni/conf.js";
import { ErrorCode } from "../../src/cni/error.js";
import type { Namespace } from "../../src/cni/ids.js";
import type { Result100 } from "../../src/cni/result.js";
import {
  argsOnlyRequests,
  capabilityArgsFor,
  checkArgsOnlyRequests,
  injectCniArgs,
  selectionCniArgs,
} from "../../src/networks/delegate-config.js";
import type { NetworkSelection } from "../../src/networks/selection.js";
import { thrown } from "../support/cni-error.js";

const ctx = { pod: "team-a/web-0", network: "team-a/net-b" };
const sel = (extra: Partial<NetworkSelection> = {}): NetworkSelection => ({
  name: "net-b",
  namespace: "team-a" as Namespace,
  ...extra,
});
const conflist = (...plugins: JsonObject[]) => parseNetworkConfig({ cniVersion: "1.0.0", name: "net-b", plugins });
const macvlan = { type: "macvlan", master: "eth1", ipam: { type: "host-local", subnet: "198.18.0.0/24" } };

describe("injectCniArgs", () => {
  it("the annotation wins over the NAD's args.cni, other keys kept", () => {
    const list = parseNetworkConfig({
      cniVersion: "0.3.1",
      name: "net-b",
      type: "macvlan",
      args: { cni: { spoofchk: "off", vlan: 5 }, other: 1 },
    });
    const out = injectCniArgs(list, { spoofchk: "on" });
    expect(out.plugins[0]!.raw["args"]).toEqual({ cni: { spoofchk: "on", vlan: 5 }, other: 1 });
    expect((out.raw["plugins"] as JsonObject[])[0]!["args"]).toEqual({ cni: { spoofchk: "on", vlan: 5 }, other: 1 });
  });

  it("applies to every plugin of a conflist, creating args where missing", () => {
    const list = conflist(macvlan, { type: "tuning", args: { cni: { mtu: 1400 } } });
    const out = injectCniArgs(list, { a: "b" });
    expect(out.plugins.map((p) => p.raw["args"])).toEqual([{ cni: { a: "b" } }, { cni: { mtu: 1400, a: "b" } }]);
    expect(out.plugins.map((p) => p.type)).toEqual(["macvlan", "tuning"]);
    expect(out.name).toBe("net-b");
  });

  it("does not mutate the input list", () => {
    const list = conflist({ type: "tuning", args: { cni: { x: 1 } } });
    const before = JSON.stringify(list);
    injectCniArgs(list, { x: 2 });
    expect(JSON.stringify(list)).toBe(before);
  });

  it("empty cni-args return the list itself", () => {
    const list = conflist(macvlan);
    expect(injectCniArgs(list, {})).toBe(list);
  });

  it("an args that is not an object is an error naming the plugin", () => {
    const err = thrown(() => injectCniArgs(conflist({ type: "tuning", args: "x" }), { a: 1 }, ctx));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toContain(
      'pod team-a/web-0: network team-a/net-b: cannot apply cni-args: plugin 0 (type "tuning")',
    );
    expect(thrown(() => injectCniArgs(conflist({ type: "tuning", args: { cni: [] } }), { a: 1 })).msg).toContain(
      '"args.cni"',
    );
  });
});

describe("capabilityArgsFor", () => {
  it("a selection without requests gives nothing, whatever the plugins declare", () => {
    expect(capabilityArgsFor(sel(), conflist(macvlan), ctx)).toEqual({});
  });

  it("as Multus: mac or ips with no plugin declaring the capability travel as CNI_ARGS only, checked after ADD", () => {
    const list = conflist(macvlan, { type: "tuning", capabilities: { mac: false } });
    const s = sel({ mac: "02:23:45:67:89:01", ips: ["198.18.1.50/24", "fd00::50"] });
    expect(capabilityArgsFor(s, list, ctx)).toEqual({ mac: "02:23:45:67:89:01", ips: ["198.18.1.50/24", "fd00::50"] });
    expect(argsOnlyRequests(s, list)).toEqual({ mac: "02:23:45:67:89:01", ips: ["198.18.1.50/24", "fd00::50"] });
    // A declared capability means runtimeConfig carries it: nothing left to check.
    const withCaps = conflist(
      { ...macvlan, capabilities: { ips: true } },
      { type: "tuning", capabilities: { mac: true } },
    );
    expect(argsOnlyRequests(s, withCaps)).toBeUndefined();
    expect(argsOnlyRequests(sel(), list)).toBeUndefined();
  });

  it("CNI_ARGS of a selection as Multus appends them: MAC= then IP= comma-joined; none without mac/ips", () => {
    expect(selectionCniArgs(sel({ ips: ["198.18.1.50/24", "fd00::50/64"], mac: "02:00:00:00:00:50" }))).toEqual([
      ["MAC", "02:00:00:00:00:50"],
      ["IP", "198.18.1.50/24,fd00::50/64"],
    ]);
    expect(selectionCniArgs(sel({ ips: ["198.18.1.50"] }))).toEqual([["IP", "198.18.1.50"]]);
    expect(selectionCniArgs(sel())).toEqual([]);
  });

  it("the result must show what only CNI_ARGS carried: addresses (prefix compared when given) and the MAC", () => {
    const result = {
      cniVersion: "1.0.0",
      interfaces: [
        { name: "host0", mac: "0a:00:00:00:00:01" },
        { name: "net1", mac: "02:00:00:00:00:50", sandbox: "/run/netns/x" },
      ],
      ips: [
        { address: "198.18.1.50/24", interface: 1 },
        { address: "FD00::50/64", interface: 1 },
      ],
    } as Result100;
    const ok = { ips: ["198.18.1.50/24", "fd00::50"], mac: "02:00:00:00:00:50" };
    expect(() => checkArgsOnlyRequests(ok, result, "net1", ctx)).not.toThrow();
    const err = thrown(() =>
      checkArgsOnlyRequests({ ips: ["198.18.1.50/25", "198.18.1.51"], mac: "02:00:00:00:00:51" }, result, "net1", ctx),
    );
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toBe(
      'pod team-a/web-0: network team-a/net-b (net1): the selection requests ips 198.18.1.50/25, 198.18.1.51 (no plugin declares "capabilities": {"ips": true}, and none applied CNI_ARGS IP=, as static IPAM does) ' +
        'and mac 02:00:00:00:00:51 (no plugin declares "capabilities": {"mac": true}, and none applied CNI_ARGS MAC=, as tuning does; the interface has 02:00:00:00:00:50), but the network\'s result does not have it',
    );
    // The MAC of a host-side interface of the same name does not count.
    expect(() => checkArgsOnlyRequests({ mac: "0a:00:00:00:00:01" }, result, "host0", ctx)).toThrow(
      /no MAC in the result/,
    );
  });

  it("tuning declaring mac gets it", () => {
    const list = conflist(macvlan, { type: "tuning", capabilities: { mac: true } });
    expect(capabilityArgsFor(sel({ mac: "02:23:45:67:89:01" }), list, ctx)).toEqual({ mac: "02:23:45:67:89:01" });
  });

  it("ips, portMappings, bandwidth, infinibandGUID (name differs from the key)", () => {
    const list = conflist(
      { ...macvlan, capabilities: { ips: true, infinibandGUID: true } },
      { type: "portmap", capabilities: { portMappings: true } },
      { type: "bandwidth", capabilities: { bandwidth: true } },
    );
    const s = sel({
      ips: ["10.2.2.42/24", "2001:db8::5/64"],
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
      bandwidth: { ingressRate: 2048, ingressBurst: 300, egressRate: 8000, egressBurst: 200 },
      infinibandGuid: "24:8a:07:03:00:8d:ae:2f",
    });
    expect(capabilityArgsFor(s, list, ctx)).toEqual({
      ips: ["10.2.2.42/24", "2001:db8::5/64"],
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
      bandwidth: { ingressRate: 2048, ingressBurst: 300, egressRate: 8000, egressBurst: 200 },
      infinibandGUID: "24:8a:07:03:00:8d:ae:2f",
    });
  });

  it("a capability set to false does not count", () => {
    expect(() =>
      capabilityArgsFor(
        sel({ bandwidth: { ingressRate: 1, ingressBurst: 1 } }),
        conflist({ type: "bandwidth", capabilities: { bandwidth: false } }),
        ctx,
      ),
    ).toThrow(/requests bandwidth/);
  });

  it("every missing capability is named at once (those only runtimeConfig can carry)", () => {
    const s = sel({
      ips: ["10.0.0.1"],
      portMappings: [{ hostPort: 1, containerPort: 1, protocol: "udp" }],
      infinibandGuid: "24:8a:07:03:00:8d:ae:2f",
    });
    const msg = thrown(() => capabilityArgsFor(s, conflist(macvlan), ctx)).msg;
    expect(msg).toContain("requests portMappings, infiniband-guid,");
    expect(msg).toContain('{"infinibandGUID": true}');
  });

  it("deviceID and CNIDeviceInfoFile are offered without any declared capability; the allocated device wins", () => {
    const list = conflist(macvlan);
    expect(capabilityArgsFor(sel({ deviceId: "0000:18:02.5" }), list, ctx)).toEqual({ deviceID: "0000:18:02.5" });
    expect(
      capabilityArgsFor(sel({ deviceId: "0000:18:02.5" }), list, ctx, {
        deviceId: "0000:18:02.6",
        deviceInfoFile: "/run/x",
      }),
    ).toEqual({ deviceID: "0000:18:02.6", CNIDeviceInfoFile: "/run/x" });
  });
});
