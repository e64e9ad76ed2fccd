// Every row of docs/compatibility.md's "Input tolerance" table (input, Multus v4, Plexus, why),
// each asserting Plexus's documented behaviour. The table and this file name the same rows: a
// row added to one and not the other fails the first test.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseCniArgs, formatCniArgs } from "../../src/cni/args.js";
import { parseNetworkConfig } from "../../src/cni/conf.js";
import { ErrorCode } from "../../src/cni/error.js";
import type { Namespace } from "../../src/cni/ids.js";
import type { Result100 } from "../../src/cni/result.js";
import { parsePlexusNetConf } from "../../src/config/netconf.js";
import { DEFAULT_NETWORK_ANNOTATION, MAX_SELECTIONS } from "../../src/networks/annotations.js";
import {
  argsOnlyRequests,
  capabilityArgsFor,
  checkArgsOnlyRequests,
  selectionCniArgs,
} from "../../src/networks/delegate-config.js";
import { createPodResourcesClient } from "../../src/kubelet/pod-resources.js";
import { requestedIfNameProblem } from "../../src/networks/interface-names.js";
import { assignResourceDevices } from "../../src/networks/resource-devices.js";
import { checkNamespaceIsolation } from "../../src/networks/isolation.js";
import { delegateConfigFromNad } from "../../src/networks/nad-config.js";
import { findConfByName, type ConfDirReader } from "../../src/runtime/conf-files.js";
import { DEFAULT_BANDWIDTH_BURST } from "../../src/networks/selection-schema.js";
import { parseDefaultNetworkSelection, parseNetworkSelections } from "../../src/networks/selection.js";
import { thrown } from "../support/cni-error.js";
import { POD, elementError, one, parseError, parseStrict } from "../support/selection.js";

const ns = "team-a" as Namespace;
const json = (element: object) => JSON.stringify([{ name: "net-a", ...element }]);
/** The warnings of one element: [key, suggestion?] pairs. */
const warned = (element: object) =>
  parseNetworkSelections(json(element), { podNamespace: ns, pod: POD }).warnings.map((w) =>
    w.suggestion ? [w.key, w.suggestion] : [w.key],
  );
const strictError = (element: object) => thrown(() => parseStrict(json(element))).msg;
const list = (...plugins: object[]) => parseNetworkConfig({ cniVersion: "1.0.0", name: "net-a", plugins });
const ctx = { pod: POD, network: "team-a/net-a" };
const nad = (config: string) => ({ metadata: { name: "net-a", namespace: "team-a" }, spec: { config } });
const noConf = (name: string) => findConfByName("/none", name, { list: async () => [], read: async () => "" });
const confOf = (extra: object) =>
  parsePlexusNetConf({ cniVersion: "1.0.0", name: "p", clusterNetwork: "/c", ...extra });

const rows: Record<string, () => unknown> = {
  "selection: unknown key without a `.` (`ipRequest`, `macRequest`, a typo)": () => {
    expect(one({ ipRequest: "198.18.1.50", macRequest: "02:00:00:00:00:50", interace: "x" })).toEqual({
      name: "net-a",
      namespace: "team-a",
    });
    expect(warned({ ipRequest: "198.18.1.50", macRequest: "02:00:00:00:00:50", interace: "x" })).toEqual([
      ["ipRequest", "ips"],
      ["macRequest", "mac"],
      ["interace", "interface"],
    ]);
    expect(warned({ zzz: 1 })).toEqual([["zzz"]]);
    expect(strictError({ ipRequest: "198.18.1.50" })).toContain('unknown key "ipRequest" (did you mean "ips"?)');
  },
  "selection: unknown key inside `portMappings` or `bandwidth`": () => {
    const element = {
      portMappings: [{ hostPort: 80, containerPort: 80, name: "http" }],
      bandwidth: { ingressRate: 5, ingresBurst: 1 },
    };
    expect(one(element).portMappings).toEqual([{ hostPort: 80, containerPort: 80, protocol: "tcp" }]);
    expect(warned(element)).toEqual([["portMappings[0].name"], ["bandwidth.ingresBurst", "bandwidth.ingressBurst"]]);
    expect(strictError(element)).toContain('unknown key "portMappings[0].name"');
  },
  "selection: key with a `.`": () => {
    expect(one({ "org.example.color": "blue" })).toEqual({ name: "net-a", namespace: "team-a" });
    expect(warned({ "org.example.color": "blue" })).toEqual([]);
  },
  "selection: `interfaceRequest` alone": () => {
    expect(one({ interfaceRequest: "data0" }).interface).toBe("data0");
    expect(warned({ interfaceRequest: "data0" })).toEqual([]);
  },
  "selection: `interface` and a different `interfaceRequest`": () => {
    expect(one({ interface: "data0", interfaceRequest: "data1" }).interface).toBe("data0");
    expect(warned({ interface: "data0", interfaceRequest: "data1" })).toEqual([["interfaceRequest"]]);
    expect(strictError({ interface: "data0", interfaceRequest: "data1" })).toContain("interfaceRequest:");
  },
  "selection: an address twice in `ips`": () => {
    expect(one({ ips: ["198.18.1.5/24", "198.18.1.5/24", "FD00::5"] }).ips).toEqual(["198.18.1.5/24", "fd00::5"]);
    expect(warned({ ips: ["fd00::5", "FD00::5"] })).toEqual([["ips"]]);
    expect(strictError({ ips: ["fd00::5", "fd00::5"] })).toContain('ips: "fd00::5" is listed twice');
  },
  "selection: `ips` entry that is not an IP or CIDR": () => {
    expect(elementError({ ips: ["10.0.0.300"] }).msg).toContain('ips[0]: "10.0.0.300" is not an IP address');
  },
  "selection: `mac` as `02-00-00-00-00-50` or `0200.0000.0050`": () => {
    expect(one({ mac: "02-00-00-00-00-50" }).mac).toBe("02:00:00:00:00:50");
    expect(one({ mac: "0200.0000.0050" }).mac).toBe("02:00:00:00:00:50");
    expect(warned({ mac: "02-00-00-00-00-50" })).toEqual([]);
  },
  "selection: multicast or all-zero `mac`": () => {
    expect(elementError({ mac: "01:00:5e:00:00:01" }).msg).toContain("multicast");
    expect(elementError({ mac: "00-00-00-00-00-00" }).msg).toContain("all-zero");
  },
  "selection: 8- or 20-byte `mac`": () => {
    expect(elementError({ mac: "02:00:00:00:00:00:00:01" }).msg).toContain("not a 6-byte MAC address");
  },
  "selection: `infiniband-guid` that is not 8 bytes": () => {
    expect(elementError({ "infiniband-guid": "02:00:00:00:00:01" }).msg).toContain("not an 8-byte InfiniBand GUID");
  },
  "selection: `ips` or `mac` and no plugin declaring the capability": () => {
    const sel = one({ ips: ["198.18.1.50/24"], mac: "02:00:00:00:00:50" });
    const plain = list({ type: "macvlan" }, { type: "tuning" });
    expect(() => capabilityArgsFor(sel, plain, ctx)).not.toThrow();
    expect(selectionCniArgs(sel)).toEqual([
      ["MAC", "02:00:00:00:00:50"],
      ["IP", "198.18.1.50/24"],
    ]);
    const requests = argsOnlyRequests(sel, plain)!;
    const result = (mac: string, address: string) =>
      ({
        cniVersion: "1.0.0",
        interfaces: [{ name: "net1", mac, sandbox: "/x" }],
        ips: [{ address, interface: 0 }],
      }) as Result100;
    expect(() =>
      checkArgsOnlyRequests(requests, result("02:00:00:00:00:50", "198.18.1.50/24"), "net1", ctx),
    ).not.toThrow();
    const err = thrown(() =>
      checkArgsOnlyRequests(requests, result("02:00:00:00:00:51", "198.18.1.7/24"), "net1", ctx),
    );
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
  },
  "selection: `portMappings`, `bandwidth` or `infiniband-guid` and no plugin declaring the capability": () => {
    for (const element of [
      { portMappings: [{ hostPort: 8080, containerPort: 80 }] },
      { bandwidth: { ingressRate: 1000 } },
      { "infiniband-guid": "24:8a:07:03:00:8d:ae:2f" },
    ]) {
      expect(thrown(() => capabilityArgsFor(one(element), list({ type: "macvlan" }), ctx)).msg).toContain(
        "no plugin in CNI config",
      );
    }
  },
  "selection: `bandwidth` rate 0": () => {
    expect(one({ bandwidth: { ingressRate: 0, egressRate: 5 } }).bandwidth).toEqual({
      egressRate: 5,
      egressBurst: DEFAULT_BANDWIDTH_BURST,
    });
    expect(one({ bandwidth: { ingressRate: 0, ingressBurst: 0 } }).bandwidth).toBeUndefined();
    expect(warned({ bandwidth: { ingressRate: 0 } })).toEqual([["bandwidth.ingressRate"]]);
    expect(strictError({ bandwidth: { ingressRate: 0 } })).toContain(
      "bandwidth.ingressRate: must be a positive integer",
    );
  },
  "selection: `bandwidth` rate without a burst": () => {
    expect(one({ bandwidth: { egressRate: 5 } }).bandwidth).toEqual({
      egressRate: 5,
      egressBurst: DEFAULT_BANDWIDTH_BURST,
    });
  },
  "selection: `bandwidth` burst without a rate, negative or fractional values": () => {
    expect(elementError({ bandwidth: { ingressBurst: 5 } }).msg).toContain("requires ingressRate");
    expect(elementError({ bandwidth: { ingressRate: -1 } }).msg).toContain("non-negative integer");
    expect(elementError({ bandwidth: { ingressRate: 1.5 } }).msg).toContain("non-negative integer");
  },
  "selection: `portMappings` port outside 1-65535, protocol not TCP/UDP/SCTP, `hostIP` not an IP": () => {
    expect(elementError({ portMappings: [{ hostPort: 0, containerPort: 80 }] }).msg).toContain("1 to 65535");
    expect(elementError({ portMappings: [{ hostPort: 1, containerPort: 80, protocol: "icmp" }] }).msg).toContain(
      "not one of TCP, UDP, SCTP",
    );
    expect(elementError({ portMappings: [{ hostPort: 1, containerPort: 80, hostIP: "x" }] }).msg).toContain(
      "not an IP address",
    );
  },
  "selection: `ips` and `ipam-claim-reference` together": () => {
    expect(elementError({ ips: ["198.18.1.5"], "ipam-claim-reference": "claim-1" }).msg).toContain(
      "cannot be combined with ips",
    );
  },
  'selection: a key set to `null`, or `mac`, `infiniband-guid`, `deviceID` or `ipam-claim-reference` set to `""`':
    () => {
      const unset = {
        namespace: null,
        interface: null,
        ips: null,
        mac: "",
        "infiniband-guid": "",
        portMappings: null,
        bandwidth: null,
        "cni-args": null,
        "default-route": null,
        deviceID: "",
        "ipam-claim-reference": "",
      };
      expect(one(unset)).toEqual({ name: "net-a", namespace: "team-a" });
      expect(warned(unset)).toEqual(Object.keys(unset).map((k) => [k]));
      expect(one({ mac: null, ips: ["198.18.1.5"] })).toEqual({
        name: "net-a",
        namespace: "team-a",
        ips: ["198.18.1.5"],
      });
      expect(strictError({ mac: "" })).toContain('mac: "" is not a value (leave the key out)');
      expect(strictError({ "default-route": null })).toContain("default-route: null is not a value");
      expect(parseError('[{"name":null}]').msg).toContain("name: must be a string");
    },
  "selection: `deviceID` with spaces or control characters, or over 253 characters": () => {
    for (const deviceID of ["a b", "a\u0001", "x".repeat(254)]) {
      expect(elementError({ deviceID }).msg).toContain("deviceID");
    }
  },
  "selection: `name` or `namespace` not a DNS-1123 name": () => {
    expect(parseError('[{"name":"Net_A"}]').msg).toContain('item 1 ("Net_A"): name:');
    expect(elementError({ namespace: "Team_A" }).msg).toContain("namespace:");
  },
  "selection: two `default-route` gateways of one family": () => {
    expect(
      parseError('[{"name":"a","default-route":["198.18.0.1"]},{"name":"b","default-route":["198.18.1.1"]}]').msg,
    ).toContain("ECMP");
  },
  "selection: `default-route: []` on one item and a gateway on another": () => {
    expect(parseError('[{"name":"a","default-route":[]},{"name":"b","default-route":["198.18.1.1"]}]').msg).toContain(
      'item 1 has "default-route": []',
    );
  },
  "selection: requested interface name with `%`": () => {
    expect(requestedIfNameProblem("net%d")).toBeTypeOf("string");
    expect(elementError({ interface: "net%d" }).msg).toContain("interface");
  },
  "selection: requested interface name with other characters than letters, digits, `_`, `.`, `-`": () => {
    for (const name of ["a$b", "eth+1", "x;y"]) expect(requestedIfNameProblem(name)).toBeTypeOf("string");
    for (const name of ["net1", "ens1f0", "vlan.100", "br_ext", "sriov-1"])
      expect(requestedIfNameProblem(name)).toBeUndefined();
  },
  "selection: more than 32 items, over 64 KiB, JSON nesting over 32": () => {
    expect(parseError(Array.from({ length: MAX_SELECTIONS + 1 }, (_, i) => `n${i}`).join(",")).msg).toContain(
      `at most ${MAX_SELECTIONS}`,
    );
    expect(parseError(json({ "cni-args": { x: "y".repeat(70_000) } })).code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(parseError(json({ "cni-args": JSON.parse("[".repeat(40) + "]".repeat(40)) })).code).toBe(
      ErrorCode.InvalidNetworkConfig,
    );
  },
  "selection shorthand: empty item (`a,,b`, `a,`)": () => {
    expect(parseError("a,,b").msg).toContain("item 2");
    expect(parseError("a,").msg).toContain("is empty");
  },
  "default-network annotation: a NAD outside the pod's namespace, the global ones and `multusNamespace`, with `namespaceIsolation`":
    () => {
      const { selection } = parseDefaultNetworkSelection("team-b/calico", {
        defaultNamespace: "kube-system" as Namespace,
        pod: POD,
      });
      const policy = { namespaceIsolation: true, globalNamespaces: ["default", "kube-system"] };
      const where = { pod: POD, annotation: DEFAULT_NETWORK_ANNOTATION };
      expect(thrown(() => checkNamespaceIsolation(selection, "team-a", policy, where)).msg).toContain("team-b");
      expect(() =>
        checkNamespaceIsolation({ name: "calico", namespace: "kube-system" as Namespace }, "team-a", policy, where),
      ).not.toThrow();
    },
  "default-network annotation: empty, or more than one network": () => {
    for (const value of ["", "a,b"]) {
      expect(
        thrown(() => parseDefaultNetworkSelection(value, { defaultNamespace: "kube-system" as Namespace, pod: POD }))
          .msg,
      ).toContain(DEFAULT_NETWORK_ANNOTATION);
    }
  },
  "NAD `spec.config`: over 1 MiB or JSON nesting over 64": async () => {
    const big = JSON.stringify({ cniVersion: "1.0.0", type: "macvlan", pad: "x".repeat(1024 * 1024) });
    await expect(delegateConfigFromNad(nad(big), noConf, { pod: POD })).rejects.toThrow(/spec.config/);
    const deep = `{"cniVersion":"1.0.0","type":"macvlan","x":${"[".repeat(70)}${"]".repeat(70)}}`;
    await expect(delegateConfigFromNad(nad(deep), noConf, { pod: POD })).rejects.toThrow(/spec.config/);
  },
  "NAD `spec.config`: a plugin `type` that is a path (`../../bin/sh`)": async () => {
    await expect(
      delegateConfigFromNad(nad('{"cniVersion":"1.0.0","type":"../../bin/sh"}'), noConf, { pod: POD }),
    ).rejects.toThrow(/not a path/);
  },
  'NAD `spec.config`: `"capabilities": null`, or a capability set to `null`': async () => {
    const list = await delegateConfigFromNad(
      nad(
        '{"cniVersion":"1.0.0","plugins":[{"type":"macvlan","capabilities":null},{"type":"tuning","capabilities":{"mac":null,"ips":true}}]}',
      ),
      noConf,
      { pod: POD },
    );
    expect(list.plugins.map((p) => p.capabilities)).toEqual([[], ["ips"]]);
  },
  'NAD `spec.config`: `{"plugins": []}`': async () => {
    await expect(
      delegateConfigFromNad(nad('{"cniVersion":"1.0.0","plugins":[]}'), noConf, { pod: POD }),
    ).rejects.toThrow(/no plugins in list/);
  },
  "NAD with `k8s.v1.cni.cncf.io/resourceName`: fewer devices of it allocated to the pod than attachments using it":
    () => {
      const two = [
        { resourceName: "intel.com/sriov", label: "a" },
        { resourceName: "intel.com/sriov", label: "b" },
      ];
      const allocated = new Map([["intel.com/sriov", ["0000:18:02.5"]]]);
      expect(assignResourceDevices(two, allocated).shortages).toEqual([expect.stringContaining('"intel.com/sriov"')]);
      const own = [two[0]!, { ...two[1]!, selectionDeviceId: "0000:18:02.6" }];
      expect(assignResourceDevices(own, allocated)).toEqual({
        devices: ["0000:18:02.5", "0000:18:02.6"],
        shortages: [],
      });
    },
  "NAD with `k8s.v1.cni.cncf.io/resourceName`: no kubelet pod-resources socket": async () => {
    const client = createPodResourcesClient({
      podResourcesSocket: "/nonexistent/kubelet.sock",
      requestTimeoutMs: 1000,
      retries: 0,
      retryBackoffMs: 0,
    });
    const err = await client
      .podDevices({ namespace: "a", name: "p" }, AbortSignal.timeout(5000))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: ErrorCode.TryAgainLater,
      msg: expect.stringContaining("/nonexistent/kubelet.sock"),
    });
    expect(
      assignResourceDevices([{ resourceName: "r", selectionDeviceId: "d", label: "a" }], undefined).devices,
    ).toEqual(["d"]);
  },
  "conf dir: a broken file other than the one looked for": async () => {
    const files: Record<string, string> = {
      "/d/10-broken.conf": "{ not json",
      "/d/20-net-a.conf": '{"cniVersion":"1.0.0","name":"net-a","type":"macvlan"}',
    };
    const reader: ConfDirReader = {
      list: async () => Object.keys(files).map((f) => f.slice(3)),
      read: async (path) => files[path] ?? "",
    };
    expect((await findConfByName("/d", "net-a", reader)).plugins[0]?.type).toBe("macvlan");
    await expect(findConfByName("/d", "net-b", reader)).rejects.toThrow(/10-broken\.conf/);
  },
  "CNI_ARGS: unknown key without `IgnoreUnknown`": () => {
    expect(thrown(() => parseCniArgs("FOO=bar")).msg).toBe('CNI_ARGS: unknown args ["FOO=bar"]');
    expect(parseCniArgs("IgnoreUnknown=1;FOO=bar").pairs).toContainEqual(["FOO", "bar"]);
  },
  "CNI_ARGS: `K8S_POD_NAMESPACE`, `K8S_POD_NAME` or `K8S_POD_UID` not a valid Kubernetes name or UID": () => {
    expect(thrown(() => parseCniArgs("K8S_POD_NAMESPACE=Team_A")).msg).toContain("K8S_POD_NAMESPACE");
    expect(thrown(() => parseCniArgs("K8S_POD_NAME=web/0")).msg).toContain("K8S_POD_NAME");
  },
  "CNI_ARGS: a key twice": () => {
    expect(
      formatCniArgs([
        ["K8S_POD_NAME", "a"],
        ["K8S_POD_NAME", "b"],
      ]),
    ).toBe("IgnoreUnknown=1;K8S_POD_NAME=a");
  },
  "Plexus configuration: unknown top-level key": () => {
    expect(confOf({ colour: "blue" }).unknownKeys).toEqual(["colour"]);
  },
  "Plexus configuration: unknown `logLevel`": () => {
    const loaded = confOf({ logLevel: "trace" });
    expect(loaded.conf.logLevel).toBe("warn");
    expect(loaded.replaced).toEqual([expect.stringContaining('logLevel "trace"')]);
    expect(confOf({ logLevel: "VERBOSE" }).conf.logLevel).toBe("verbose");
  },
  'Plexus configuration: a key of the wrong JSON type (`"namespaceIsolation": "true"`)': () => {
    expect(thrown(() => confOf({ namespaceIsolation: "true" })).msg).toContain('field "namespaceIsolation"');
  },
  'Plexus configuration: a key set to `null`, or `confDir`, `cniDir` or `binDir` set to `""`': () => {
    const loaded = confOf({
      namespaceIsolation: null,
      logFile: null,
      kubelet: null,
      confDir: "",
      cniDir: "",
      binDir: "",
    });
    expect(loaded.conf).toEqual(confOf({}).conf);
    expect(loaded.replaced).toEqual([
      "namespaceIsolation: null is read as the default, as Multus reads it",
      "logFile: null is read as the default, as Multus reads it",
      "kubelet: null is read as the default, as Multus reads it",
      'confDir: "" is read as the default, as Multus reads it',
      'cniDir: "" is read as the default, as Multus reads it',
      'binDir: "" is read as the default, as Multus reads it',
    ]);
    expect(loaded.unknownKeys).toEqual([]);
  },
  "Plexus configuration: a relative path (`cniDir`, `binDir`, `confDir`, `kubeconfig`, `logFile`, `readinessindicatorfile`)":
    () => {
      for (const key of ["cniDir", "binDir", "confDir", "kubeconfig", "logFile", "readinessindicatorfile"]) {
        expect(thrown(() => confOf({ [key]: "var/lib/x" })).msg).toContain(`field "${key}": must be an absolute path`);
      }
    },
  "Plexus configuration: `globalNamespaces` as a list": () => {
    expect(confOf({ globalNamespaces: ["a", "b"] }).conf.globalNamespaces).toEqual(["a", "b"]);
    expect(confOf({ globalNamespaces: " a, b" }).conf.globalNamespaces).toEqual(["a", "b"]);
  },
};

function documentedRows(): string[] {
  const doc = readFileSync(new URL("../../docs/compatibility.md", import.meta.url), "utf8");
  const section = doc.split("\n## Input tolerance\n")[1]?.split("\n## ")[0] ?? "";
  return section
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| input |"))
    .map((l) => (l.slice(2).split(" | ")[0] ?? "").trim());
}

describe("Input tolerance (docs/compatibility.md)", () => {
  it("the table and this test name the same rows", () => {
    expect(documentedRows().sort()).toEqual(Object.keys(rows).sort());
  });

  it.each(Object.keys(rows))("%s", async (row) => {
    await rows[row]!();
  });
});
