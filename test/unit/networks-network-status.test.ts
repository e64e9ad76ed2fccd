// network-status in the NAD client format (multi-net spec §5; docs/compatibility.md#network-status).
// Where Plexus differs from the NAD client's CreateNetworkStatuses ("the reference"), the test
// name says so.
import { describe, expect, it } from "vitest";
import { CniError } from "../../src/cni/error.js";
import type { IfName } from "../../src/cni/ids.js";
import { parseResult, type Result100 } from "../../src/cni/result.js";
import { convertResult } from "../../src/cni/convert.js";
import { cniDeviceInfoPath, dpDeviceInfoPath, parseDeviceInfo } from "../../src/networks/device-info.js";
import {
  buildNetworkStatus,
  eventMessage,
  formatNetworkStatusAnnotation,
  parseNetworkStatusAnnotation,
  type NetworkStatus,
} from "../../src/networks/network-status.js";

const n = (v: string) => v as IfName;
/** Any result, as the engine hands it over: converted to 1.1.0. */
const r100 = (raw: object): Result100 => convertResult(parseResult(raw), "1.1.0") as Result100;

const R_BRIDGE = {
  cniVersion: "1.0.0",
  interfaces: [
    { name: "cni0", mac: "00:11:22:33:44:55" },
    { name: "veth3243", mac: "55:44:33:22:11:11" },
    { name: "eth0", mac: "99:88:77:66:55:44", sandbox: "/var/run/netns/blue" },
  ],
  ips: [{ address: "10.1.0.5/16", gateway: "10.1.0.1", interface: 2 }],
  routes: [{ dst: "0.0.0.0/0" }],
  dns: { nameservers: ["10.1.0.1"] },
};

describe("buildNetworkStatus", () => {
  it('cluster network from a bridge result; bare IP; a gw-less default route is via the IP\'s gateway (the reference writes "<nil>")', () => {
    expect(buildNetworkStatus({ name: "cbr0", ifName: n("eth0"), isDefault: true, result: r100(R_BRIDGE) })).toEqual({
      name: "cbr0",
      interface: "eth0",
      ips: ["10.1.0.5"],
      mac: "99:88:77:66:55:44",
      default: true,
      dns: { nameservers: ["10.1.0.1"] },
      gateway: ["10.1.0.1"],
    });
  });

  it("a gw-less default route with no gateway on the interface's IPs gives no gateway key", () => {
    const noGw = { ...R_BRIDGE, ips: [{ address: "10.1.0.5/16", interface: 2 }] };
    expect(
      buildNetworkStatus({ name: "cbr0", ifName: n("eth0"), isDefault: true, result: r100(noGw) }),
    ).not.toHaveProperty("gateway");
  });

  it("a 0.3.1 macvlan secondary: as the reference (no default key, dns {}, gateway)", () => {
    const result = r100({
      cniVersion: "0.3.1",
      interfaces: [{ name: "net1", mac: "0a:00:00:00:00:01", sandbox: "/var/run/netns/blue" }],
      ips: [{ version: "4", interface: 0, address: "192.168.1.200/24", gateway: "192.168.1.1" }],
      routes: [{ dst: "0.0.0.0/0", gw: "192.168.1.1" }],
      dns: {},
    });
    const s = buildNetworkStatus({ name: "default/macvlan-conf", ifName: n("net1"), isDefault: false, result });
    expect(JSON.stringify(s)).toBe(
      '{"name":"default/macvlan-conf","interface":"net1","ips":["192.168.1.200"],"mac":"0a:00:00:00:00:01","dns":{},"gateway":["192.168.1.1"]}',
    );
  });

  it("host-side addresses never appear (as CreateNetworkStatuses; older CreateNetworkStatus listed them)", () => {
    const result = r100({
      cniVersion: "1.0.0",
      interfaces: [{ name: "veth0" }, { name: "net1", sandbox: "/x" }],
      ips: [
        { address: "192.168.0.1/24", interface: 0 },
        { address: "10.0.0.2/24", interface: 1 },
      ],
    });
    expect(buildNetworkStatus({ name: "ns/a", ifName: n("net1"), isDefault: false, result }).ips).toEqual(["10.0.0.2"]);
  });

  it("two sandbox interfaces give ONE entry (differs from the reference's two): the one named ifName, plus unindexed IPs", () => {
    const result = r100({
      cniVersion: "1.0.0",
      interfaces: [
        { name: "eth0", sandbox: "/x" },
        { name: "eth1", sandbox: "/x" },
      ],
      ips: [
        { address: "10.0.0.2/24", interface: 0 },
        { address: "10.0.1.2/24", interface: 1 },
        { address: "10.0.2.2/24" },
      ],
    });
    const first = buildNetworkStatus({ name: "ns/two", ifName: n("net1"), isDefault: false, result });
    expect(first).toMatchObject({ interface: "eth0", ips: ["10.0.0.2", "10.0.2.2"] });
    const named = buildNetworkStatus({ name: "ns/two", ifName: n("eth1"), isDefault: false, result });
    expect(named).toMatchObject({ interface: "eth1", ips: ["10.0.1.2", "10.0.2.2"] });
  });

  it("no sandbox interface: no interface/mac, the unindexed IP", () => {
    const result = r100({
      cniVersion: "0.3.1",
      interfaces: [{ name: "x", mac: "02:00:00:00:00:01" }],
      ips: [{ version: "4", address: "10.9.0.2/24" }],
    });
    expect(buildNetworkStatus({ name: "ns/a", ifName: n("net1"), isDefault: false, result })).toEqual({
      name: "ns/a",
      ips: ["10.9.0.2"],
      dns: {},
    });
  });

  it("a 0.2.0 result gets an entry (the reference writes none), interface = CNI_IFNAME as the spec allows", () => {
    const result = r100({
      cniVersion: "0.2.0",
      ip4: { ip: "10.1.0.23/24", gateway: "10.1.0.1" },
      ip6: { ip: "fd00::17/64" },
    });
    expect(buildNetworkStatus({ name: "ns/old", ifName: n("net1"), isDefault: false, result })).toEqual({
      name: "ns/old",
      interface: "net1",
      ips: ["10.1.0.23", "fd00::17"],
      dns: {},
    });
  });

  it("an empty result gets a minimal entry (the reference writes none)", () => {
    expect(
      buildNetworkStatus({ name: "ns/x", ifName: n("net1"), isDefault: false, result: r100({ cniVersion: "1.0.0" }) }),
    ).toEqual({
      name: "ns/x",
      dns: {},
    });
  });

  it("mtu, dual stack, dns with search", () => {
    const result = r100({
      cniVersion: "1.1.0",
      interfaces: [{ name: "net1", mac: "02:00:00:00:00:02", mtu: 9000, sandbox: "/x" }],
      ips: [
        { address: "10.0.0.2/24", interface: 0 },
        { address: "fd00::2/64", interface: 0 },
      ],
      dns: { nameservers: ["10.0.0.53"], search: ["svc.local"] },
    });
    expect(JSON.stringify(buildNetworkStatus({ name: "ns/n", ifName: n("net1"), isDefault: true, result }))).toBe(
      '{"name":"ns/n","interface":"net1","ips":["10.0.0.2","fd00::2"],"mac":"02:00:00:00:00:02","mtu":9000,"default":true,"dns":{"nameservers":["10.0.0.53"],"search":["svc.local"]}}',
    );
  });

  it("default-route reflected through the result's routes as `gateway` (NAD client key, not the spec's default-route)", () => {
    const result = r100({
      cniVersion: "1.0.0",
      interfaces: [{ name: "net1", sandbox: "/x" }],
      ips: [{ address: "10.0.0.2/24", interface: 0 }],
      routes: [
        { dst: "0.0.0.0/0", gw: "10.0.0.1" },
        { dst: "::/0", gw: "fd00::1" },
        { dst: "10.9.0.0/16", gw: "10.0.0.9" },
      ],
    });
    expect(buildNetworkStatus({ name: "ns/b", ifName: n("net1"), isDefault: false, result }).gateway).toEqual([
      "10.0.0.1",
      "fd00::1",
    ]);
  });

  it("device-info is copied into the entry", () => {
    const info = parseDeviceInfo('{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:18:02.5"}}', "f");
    const s = buildNetworkStatus({
      name: "ns/sriov",
      ifName: n("net1"),
      isDefault: false,
      result: r100({ cniVersion: "1.0.0" }),
      deviceInfo: info,
    });
    expect(s["device-info"]).toEqual({ type: "pci", version: "1.1.0", pci: { "pci-address": "0000:18:02.5" } });
  });
});

describe("the annotation value", () => {
  const statuses: NetworkStatus[] = [
    {
      name: "cbr0",
      interface: "eth0",
      ips: ["10.244.1.73"],
      mac: "92:79:27:01:7c:ce",
      default: true,
      dns: {},
      gateway: ["10.244.1.1"],
    },
    { name: "default/macvlan-conf", interface: "net1", ips: ["192.168.1.205"], mac: "86:1d:96:ff:55:0d", dns: {} },
  ];

  it("is byte for byte what the NAD client's SetNetworkStatus writes", () => {
    expect(formatNetworkStatusAnnotation(statuses)).toBe(`[{
    "name": "cbr0",
    "interface": "eth0",
    "ips": [
        "10.244.1.73"
    ],
    "mac": "92:79:27:01:7c:ce",
    "default": true,
    "dns": {},
    "gateway": [
        "10.244.1.1"
    ]
},{
    "name": "default/macvlan-conf",
    "interface": "net1",
    "ips": [
        "192.168.1.205"
    ],
    "mac": "86:1d:96:ff:55:0d",
    "dns": {}
}]`);
    expect(formatNetworkStatusAnnotation([])).toBe("[]");
  });

  it("escapes <, >, & like Go's encoder", () => {
    expect(formatNetworkStatusAnnotation([{ name: "a<b>&c", dns: {} }])).toContain(
      '"name": "a\\u003cb\\u003e\\u0026c"',
    );
    expect(parseNetworkStatusAnnotation(formatNetworkStatusAnnotation([{ name: "a<b>&c", dns: {} }]))[0]!.name).toBe(
      "a<b>&c",
    );
  });

  it("default + net-a twice parses back to 3 entries, one default, distinct interfaces", () => {
    const all = [
      buildNetworkStatus({ name: "cbr0", ifName: n("eth0"), isDefault: true, result: r100(R_BRIDGE) }),
      ...["net1", "net2"].map((ifName, i) =>
        buildNetworkStatus({
          name: "team-a/net-a",
          ifName: n(ifName),
          isDefault: false,
          result: r100({
            cniVersion: "1.0.0",
            interfaces: [{ name: ifName, mac: `02:00:00:00:00:0${i}`, sandbox: "/x" }],
            ips: [{ address: `198.18.0.${i + 2}/24`, interface: 0 }],
          }),
        }),
      ),
    ];
    const back = parseNetworkStatusAnnotation(formatNetworkStatusAnnotation(all));
    expect(back).toEqual(all);
    expect(back.filter((s) => s.default)).toHaveLength(1);
    expect(back.map((s) => s.interface)).toEqual(["eth0", "net1", "net2"]);
    for (const s of back) {
      expect(s.name).toBeTruthy();
      if (s.mac) expect(s.interface).toBeTruthy();
    }
  });

  it("reads spec-style entries: default false dropped, missing dns becomes {}", () => {
    expect(parseNetworkStatusAnnotation('[{"name":"x","default":false,"ips":["192.0.2.2/24"]}]')).toEqual([
      { name: "x", ips: ["192.0.2.2/24"], dns: {} },
    ]);
  });

  it("rejects what is not a status list", () => {
    for (const bad of ['{"name":"x"}', "[{}]", "nope", "[".repeat(100)]) {
      expect(() => parseNetworkStatusAnnotation(bad)).toThrow(CniError);
    }
  });
});

describe("eventMessage", () => {
  it("is Multus's AddedInterface text", () => {
    expect(eventMessage("net1", ["198.18.0.5/24"], "team-a/macvlan-a")).toBe(
      "Add net1 [198.18.0.5/24] from team-a/macvlan-a",
    );
    expect(eventMessage("eth0", ["1.1.1.2/24", "fd00::2/64"], "weave1")).toBe(
      "Add eth0 [1.1.1.2/24 fd00::2/64] from weave1",
    );
    expect(eventMessage("net1", [], "")).toBe("Add net1 []");
  });
});

describe("device info (DIS 1.1.0)", () => {
  it("file paths as the device plugin and Multus name them", () => {
    expect(dpDeviceInfoPath("intel.com/sriov", "0000:18:02.5")).toBe(
      "/var/run/k8s.cni.cncf.io/devinfo/dp/intel.com-sriov-0000:18:02.5-device.json",
    );
    expect(cniDeviceInfoPath("team-a/sriov-net", "c1", "net1")).toBe(
      "/var/run/k8s.cni.cncf.io/devinfo/cni/team-a-sriov-net-c1_net1",
    );
    expect(cniDeviceInfoPath("../../etc", "c1", "net1")).not.toContain("/../");
  });

  it("a device-info file must carry type, version and the map of its type", () => {
    expect(() => parseDeviceInfo('{"type":"pci","version":"1.1.0"}', "f")).toThrow(CniError);
    expect(() => parseDeviceInfo('{"type":"usb","version":"1.1.0"}', "f")).toThrow(CniError);
    expect(
      parseDeviceInfo('{"type":"vhost-user","version":"1.1.0","vhost-user":{"mode":"client","path":"/s"},"x":1}', "f"),
    ).toHaveProperty("x", 1);
  });
});
