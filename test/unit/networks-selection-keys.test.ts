// Every NetworkSelectionElement key of the JSON form: its parse and its errors (multi-net spec
// §4.1.2.1; docs/compatibility.md#invalid-selection-annotations).
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/cni/error.js";
import { DEFAULT_BANDWIDTH_BURST } from "../../src/networks/selection-schema.js";
import { elementError, one } from "../support/selection.js";

describe("every NetworkSelectionElement key", () => {
  it("ips: addresses with or without prefix, canonicalised", () => {
    expect(one({ ips: ["10.2.2.42/24", "2001:DB8:0::5/64", "fd00::1"] }).ips).toEqual([
      "10.2.2.42/24",
      "2001:db8::5/64",
      "fd00::1",
    ]);
    expect(one({ ips: [] })).toEqual({ name: "net-a", namespace: "team-a" });
  });

  it.each([
    ["not an IP (differs from the spec: the pod fails, it is not started without its networks)", ["10.0.0.300"]],
    ["bad prefix", ["10.0.0.1/33"]],
    ["not a list", "1.2.3.4"],
  ])("ips %s is an error", (_, ips) => {
    const err = elementError({ ips });
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.msg).toContain("ips");
  });

  it("mac: a unicast 6-byte MAC, lower-cased", () => {
    expect(one({ mac: "02:23:45:67:89:AB" }).mac).toBe("02:23:45:67:89:ab");
    // Go's net.ParseMAC notations (what Multus validates with and tuning applies with).
    expect(one({ mac: "02-23-45-67-89-AB" }).mac).toBe("02:23:45:67:89:ab");
    expect(one({ mac: "0223.4567.89ab" }).mac).toBe("02:23:45:67:89:ab");
    for (const bad of [
      "02:23:45:67:89",
      "02-23:45-67-89-01",
      "0223.4567.89",
      "01:00:5e:00:00:01",
      "00:00:00:00:00:00",
      "02:23:45:67:89:01:02:03",
    ]) {
      expect(elementError({ mac: bad }).msg).toContain("mac:");
    }
  });

  it("infiniband-guid: 8 bytes", () => {
    expect(one({ "infiniband-guid": "24:8A:07:03:00:8d:ae:2f" }).infinibandGuid).toBe("24:8a:07:03:00:8d:ae:2f");
    expect(elementError({ "infiniband-guid": "24:8a:07:03:00:8d" }).msg).toContain("infiniband-guid");
  });

  it("portMappings: ports, protocol case-insensitive defaulting to tcp, optional hostIP", () => {
    const s = one({
      portMappings: [
        { hostPort: 8080, containerPort: 80 },
        { hostPort: 53, containerPort: 53, protocol: "UDP", hostIP: "198.18.0.1" },
        { hostPort: 9, containerPort: 9, protocol: "Sctp", hostIP: "" },
      ],
    });
    expect(s.portMappings).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: "tcp" },
      { hostPort: 53, containerPort: 53, protocol: "udp", hostIP: "198.18.0.1" },
      { hostPort: 9, containerPort: 9, protocol: "sctp" },
    ]);
  });

  it.each([
    ["hostPort 0", { hostPort: 0, containerPort: 80 }, "portMappings[0].hostPort: must be an integer from 1 to 65535"],
    [
      "protocol icmp",
      { hostPort: 1, containerPort: 80, protocol: "icmp" },
      'portMappings[0].protocol: "icmp" is not one of TCP, UDP, SCTP',
    ],
    ["port above 65535", { hostPort: 1, containerPort: 65536 }, "containerPort: must be an integer from 1 to 65535"],
    ["fractional port", { hostPort: 1.5, containerPort: 1 }, "hostPort: must be an integer"],
    ["port as string", { hostPort: "80", containerPort: 1 }, "hostPort: must be an integer"],
    ["missing containerPort", { hostPort: 1 }, "portMappings[0].containerPort: is required"],
    [
      "bad hostIP",
      { hostPort: 1, containerPort: 1, hostIP: "nope" },
      'portMappings[0].hostIP: "nope" is not an IP address',
    ],
    ["not an object", "8080:80", "portMappings[0]: must be a JSON object with hostPort and containerPort"],
  ])("portMappings %s is an error (differs from the spec: not ignored)", (_, mapping, text) => {
    expect(elementError({ portMappings: [mapping] }).msg).toContain(text);
  });

  it("bandwidth: a rate without burst gets DEFAULT_BANDWIDTH_BURST (kubelet's math.MaxInt32)", () => {
    expect(
      one({ bandwidth: { ingressRate: 2048, ingressBurst: 300, egressRate: 8000, egressBurst: 200 } }).bandwidth,
    ).toEqual({
      ingressRate: 2048,
      ingressBurst: 300,
      egressRate: 8000,
      egressBurst: 200,
    });
    expect(one({ bandwidth: { egressRate: 1000000 } }).bandwidth).toEqual({
      egressRate: 1000000,
      egressBurst: DEFAULT_BANDWIDTH_BURST,
    });
    expect(DEFAULT_BANDWIDTH_BURST).toBe(2 ** 31 - 1);
    // A burst of 0 is no burst (the bandwidth plugin would refuse the rate without one).
    expect(one({ bandwidth: { egressRate: 10, egressBurst: 0 } }).bandwidth).toEqual({
      egressRate: 10,
      egressBurst: DEFAULT_BANDWIDTH_BURST,
    });
  });

  it.each([
    [{ ingressBurst: 10 }, "ingressBurst: requires ingressRate"],
    [{ egressBurst: 10, egressRate: 0 }, "egressBurst: requires egressRate"],
    [{ ingressRate: -1 }, "ingressRate: must be a non-negative integer"],
    [{ ingressRate: 1.5 }, "ingressRate: must be a non-negative integer"],
    [{ ingressRate: 1, ingressBurst: 2 ** 35 }, "ingressBurst: must be at most"],
    ["fast", "bandwidth: must be a JSON object"],
  ])("bandwidth %j is an error", (bandwidth, text) => {
    expect(elementError({ bandwidth }).msg).toContain(text);
  });

  it("cni-args: any JSON object, kept as written", () => {
    expect(one({ "cni-args": { spoofchk: "on", nested: { a: [1] } } }).cniArgs).toEqual({
      spoofchk: "on",
      nested: { a: [1] },
    });
    expect(elementError({ "cni-args": ["x"] }).msg).toContain("cni-args: must be a JSON object");
    expect(elementError({ "cni-args": "x" }).msg).toContain("cni-args: must be a JSON object");
  });

  it("default-route: gateway IPs, canonicalised; [] is kept", () => {
    expect(one({ "default-route": ["FD00::1", "198.18.0.1"] }).defaultRoute).toEqual(["fd00::1", "198.18.0.1"]);
    expect(one({ "default-route": [] }).defaultRoute).toEqual([]);
  });

  it("default-route with a non-IP is an error", () => {
    expect(elementError({ "default-route": ["not-an-ip"] }).msg).toContain(
      'default-route[0]: "not-an-ip" is not an IP address',
    );
    expect(elementError({ "default-route": ["10.0.0.1/24"] }).msg).toContain("default-route[0]");
  });

  it("deviceID: a printable string", () => {
    expect(one({ deviceID: "0000:18:02.5" }).deviceId).toBe("0000:18:02.5");
    expect(one({ deviceID: "" })).not.toHaveProperty("deviceId");
    expect(elementError({ deviceID: "a b" }).msg).toContain("deviceID");
  });

  it("ipam-claim-reference: an object name", () => {
    expect(one({ "ipam-claim-reference": "vm-a.net-a.net1" }).ipamClaimReference).toBe("vm-a.net-a.net1");
    expect(elementError({ "ipam-claim-reference": "Claim_1" }).msg).toContain("ipam-claim-reference");
  });

  it("ips and ipam-claim-reference in one element are an error (v1.3)", () => {
    expect(elementError({ ips: ["10.0.0.5/24"], "ipam-claim-reference": "claim1" }).msg).toContain(
      "ipam-claim-reference: cannot be combined with ips",
    );
  });
});
