// The selection annotations (multi-net spec §4.1, docs/compatibility.md), every NetworkSelectionElement
// key, the size/depth bounds and interface-name injection attempts.
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/cni/error.js";
import type { Namespace } from "../../src/cni/ids.js";
import { MAX_SELECTIONS } from "../../src/networks/annotations.js";
import { parseDefaultNetworkSelection } from "../../src/networks/selection.js";
import { thrown } from "../support/cni-error.js";
import { POD, parse, one, parseError, elementError, parseStrict } from "../support/selection.js";

describe("shorthand form", () => {
  it("net-a,net-b,other-ns/net-c selects three networks in order", () => {
    expect(parse("net-a,net-b,other-ns/net-c", "my-namespace")).toEqual([
      { name: "net-a", namespace: "my-namespace" },
      { name: "net-b", namespace: "my-namespace" },
      { name: "net-c", namespace: "other-ns" },
    ]);
  });

  it("whitespace is trimmed and @ifname requests an interface", () => {
    expect(parse(" net-a , other-ns/net-b@eth9 ", "ns1")).toEqual([
      { name: "net-a", namespace: "ns1" },
      { name: "net-b", namespace: "other-ns", interface: "eth9" },
    ]);
  });

  it("the same network twice is two selections", () => {
    expect(parse("net-a,net-a")).toEqual([
      { name: "net-a", namespace: "team-a" },
      { name: "net-a", namespace: "team-a" },
    ]);
  });

  it("an empty namespace before / and an empty @ are the pod namespace and no request (Multus)", () => {
    expect(parse("/net-a,net-b@")).toEqual([
      { name: "net-a", namespace: "team-a" },
      { name: "net-b", namespace: "team-a" },
    ]);
  });

  it("a missing or blank annotation selects nothing", () => {
    expect(parse("")).toEqual([]);
    expect(parse("   ")).toEqual([]);
  });

  it.each([
    ["upper case and _", "net-a,Net_A", 'item 2 ("Net_A"): name "Net_A" must be a lower-case DNS-1123 label'],
    ["two namespaces", "a/b/c", `item 1 ("a/b/c"): has more than one '/'`],
    ["@ twice", "net-a@x@y", "has more than one '@'"],
    ["empty item (differs from Multus: not a later not-found)", "a,,b", 'item 2 (""): is empty'],
    ["trailing comma", "a,", 'item 2 (""): is empty'],
    ["no name", "ns/", "has no network name"],
    ["bad namespace", "Team/net-a", 'namespace "Team" must be a lower-case DNS-1123 label'],
    ["dots are not in a label", "net.a", "must be a lower-case DNS-1123 label"],
  ])("%s: %s is rejected naming the pod, annotation and item", (_, value, text) => {
    const err = parseError(value);
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toContain(`pod ${POD}: annotation k8s.v1.cni.cncf.io/networks, `);
    expect(err.msg).toContain(text);
  });

  it("more than MAX_SELECTIONS items fail before any item is parsed", () => {
    const value = Array.from({ length: MAX_SELECTIONS + 1 }, () => "NOT VALID").join(",");
    expect(parseError(value).msg).toContain(`selects ${MAX_SELECTIONS + 1} networks; at most ${MAX_SELECTIONS}`);
    expect(parse(Array.from({ length: MAX_SELECTIONS }, () => "n").join(","))).toHaveLength(MAX_SELECTIONS);
  });
});

describe("interface names requested in either form", () => {
  it.each([
    ["net1;rm", "may only contain letters, digits"],
    ["../x", "contains / or : or whitespace"],
    ["a b", "contains / or : or whitespace"],
    ["abcdefghijklmnop", "too long"],
    ["eth0:1", "contains / or : or whitespace"],
    ["net%d", "may only contain letters, digits"],
    ["-x", "may not start with '-'"],
    ["..", "is . or .."],
    ["ethé", "non-ASCII"],
    ["$(reboot)", "may only contain"],
  ])("%j is refused", (name, text) => {
    expect(elementError({ interface: name }).msg).toContain(text);
    if (!/[,@/]/.test(name) && name !== "a b") expect(parseError(`net-a@${name}`).msg).toContain(text);
  });

  it.each(["net1", "eth1", "ens1f0", "vlan.100", "br_ext", "sriov-1", "abcdefghijklmno"])("%j is accepted", (name) => {
    expect(one({ interface: name }).interface).toBe(name);
    expect(parse(`net-a@${name}`)[0]!.interface).toBe(name);
  });

  it("the deprecated interfaceRequest is read when interface is absent; interface wins over a conflicting one", () => {
    expect(one({ interfaceRequest: "eth5" }).interface).toBe("eth5");
    expect(one({ interface: "eth5", interfaceRequest: "eth5" }).interface).toBe("eth5");
    expect(one({ interface: "eth5", interfaceRequest: "eth6" }).interface).toBe("eth5");
    expect(elementError({ interfaceRequest: "a/b" }).msg).toContain("interfaceRequest");
  });
});

describe("JSON form", () => {
  it("three elements, namespaces defaulted to the pod's", () => {
    const value =
      '[{"name":"net-a"},{"name":"net-b","ips":["1.2.3.4"],"mac":"aa:bb:cc:dd:ee:fe"},{"name":"net-c","namespace":"other-ns"}]';
    expect(parse(value, "my-namespace")).toEqual([
      { name: "net-a", namespace: "my-namespace" },
      { name: "net-b", namespace: "my-namespace", ips: ["1.2.3.4"], mac: "aa:bb:cc:dd:ee:fe" },
      { name: "net-c", namespace: "other-ns" },
    ]);
  });

  it('an empty "namespace" means the pod namespace (spec §4.1.2.1)', () => {
    expect(one({ namespace: "" }).namespace).toBe("team-a");
  });

  it("an object instead of a list is an error", () => {
    expect(parseError('{"name":"net-a"}').msg).toContain(
      "must be a JSON array of network selection objects (got an object)",
    );
  });

  it("truncated JSON is an error naming the JSON problem", () => {
    const err = parseError('[{"name":"net-a"');
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toMatch(/^pod team-a\/web-0: annotation k8s.v1.cni.cncf.io\/networks: invalid JSON: /);
  });

  it("an element that is not an object names the item", () => {
    expect(parseError('["net-a"]').msg).toContain("item 1: must be a JSON object");
  });

  it("name is required, a DNS-1123 subdomain (Kubernetes object names may contain dots)", () => {
    expect(parseError('[{"namespace":"x"}]').msg).toContain("item 1: name: is required");
    expect(parseError('[{"name":5}]').msg).toContain("name: must be a string");
    expect(parseError('[{"name":"Net_A"}]').msg).toContain(
      'item 1 ("Net_A"): name: "Net_A" is not a valid NetworkAttachmentDefinition name',
    );
    expect(parse('[{"name":"net.a"}]')[0]!.name).toBe("net.a");
    expect(parseError('[{"name":"net-a","namespace":"a.b"}]').msg).toContain(
      'namespace: "a.b" is not a valid namespace name',
    );
  });

  it("unknown keys without a dot are ignored with a warning; strict, they are errors with a hint; reverse-domain keys are ignored", () => {
    expect(one({ interace: "net5" })).toEqual({ name: "net-a", namespace: "team-a" });
    const err = thrown(() => parseStrict(JSON.stringify([{ name: "net-a", interace: "net5" }])));
    expect(err.msg).toContain('item 1 ("net-a"): unknown key "interace" (did you mean "interface"?)');
    expect(one({ "org.example.color": "blue" })).toEqual({ name: "net-a", namespace: "team-a" });
    expect(parseStrict('[{"name":"net-a","org.example.color":"blue"}]')).toHaveLength(1);
  });

  it("several problems in one element are all reported", () => {
    const msg = elementError({ ips: ["x"], mac: "y" }).msg;
    expect(msg).toContain('ips[0]: "x" is not an IP address');
    expect(msg).toContain('mac: "y" is not a 6-byte MAC address');
  });

  it("item numbers and names point at the bad element", () => {
    const msg = parseError('[{"name":"net-a"},{"name":"net-b","ips":["10.0.0.300"]}]').msg;
    expect(msg).toBe(
      'pod team-a/web-0: annotation k8s.v1.cni.cncf.io/networks, item 2 ("net-b"): ips[0]: "10.0.0.300" is not ' +
        "an IP address (with an optional /prefix)",
    );
  });
});

describe("default-route across elements", () => {
  it("two IPv4 gateways on two elements are ECMP, an error (as Multus; the spec would ignore the annotation)", () => {
    const err = parseError('[{"name":"a","default-route":["10.0.0.1"]},{"name":"b","default-route":["10.1.0.1"]}]');
    expect(err.msg).toContain("default-route has 2 IPv4 gateways: 10.0.0.1 (item 1), 10.1.0.1 (item 2)");
    expect(err.msg).toContain("ECMP");
  });

  it("two gateways of one family in one element are ECMP too", () => {
    expect(elementError({ "default-route": ["fd00::1", "fd00::2"] }).msg).toContain("2 IPv6 gateways");
  });

  it("an IPv4 gateway on one element and an IPv6 gateway on another are fine", () => {
    const s = parse('[{"name":"a","default-route":["10.0.0.1"]},{"name":"b","default-route":["fd00::1"]}]');
    expect(s.map((x) => x.defaultRoute)).toEqual([["10.0.0.1"], ["fd00::1"]]);
  });

  it("default-route: [] must be the only element with the key", () => {
    expect(parseError('[{"name":"a","default-route":[]},{"name":"b","default-route":["fd00::1"]}]').msg).toContain(
      'item 1 has "default-route": []',
    );
  });
});

describe("v1.multus-cni.io/default-network", () => {
  const parseDefault = (value: string) =>
    parseDefaultNetworkSelection(value, { defaultNamespace: "kube-system" as Namespace, pod: POD }).selection;

  it("one network, namespace defaulting to the configured one", () => {
    expect(parseDefault("calico")).toEqual({ name: "calico", namespace: "kube-system" });
    expect(parseDefault("net-ns/calico@eth0")).toEqual({ name: "calico", namespace: "net-ns", interface: "eth0" });
    expect(parseDefault('[{"name":"calico","namespace":"x"}]')).toEqual({ name: "calico", namespace: "x" });
  });

  it("an empty value or more than one network is an error naming this annotation", () => {
    for (const value of ["", "  ", "a,b", "[]"]) {
      const err = thrown(() => parseDefault(value));
      expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
      expect(err.msg).toContain(`pod ${POD}: annotation v1.multus-cni.io/default-network`);
    }
    expect(thrown(() => parseDefault("Bad")).msg).toContain("v1.multus-cni.io/default-network, item 1");
  });
});
