// Every NetworkSelectionElement key shows its effect in what the delegates received (their env
// and stdin, recorded by the `recorder` fixture), through dist/plexus and the local API server.
// Multi-net spec §4.1.2.1; docs/compatibility.md#multus-behaviour-kept (capability arguments).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordedCall } from "../support/cni-plugins.js";
import {
  callsOf,
  CLUSTER_RESULT,
  NETWORKS,
  netResult,
  recorderNad,
  startPlexusHarness,
  wireError,
  type HarnessPod,
  type PlexusHarness,
} from "./plexus-harness.js";
import { Result100Schema, type Result100 } from "../../src/cni/result.js";
import { resultOf } from "../support/plexus.js";

const FOREIGN = { "x-vendor": { deep: [1, "two", null, true, { n: -0.5 }], ünï: '✓ \u0000 "q"' }, vlan: 7 };
const RUNTIME_PORTS = [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }];

const SELECTIONS = [
  {
    name: "full",
    interface: "data0",
    ips: ["198.18.5.9/24"],
    mac: "02:AA:bb:cc:dd:01",
    "infiniband-guid": "24:8A:07:03:00:8d:ae:2f",
    portMappings: [{ hostPort: 9090, containerPort: 90, protocol: "UDP" }],
    bandwidth: { ingressRate: 1000 },
    "cni-args": { a: "ann", added: 1 },
    deviceID: "0000:18:02.5",
  },
  { name: "remote", namespace: "other", "ipam-claim-reference": "claim-1", "cni-args": { from: "annotation" } },
  { name: "named" },
];

describe("selection keys reach the delegates", () => {
  let h: PlexusHarness;
  let pod: HarnessPod;
  let calls: RecordedCall[];
  let added: Result100;

  beforeAll(async () => {
    h = await startPlexusHarness();
    h.createNad("sel", "full", {
      cniVersion: "1.0.0",
      plugins: [
        {
          type: "recorder",
          capabilities: { ips: true, mac: true, infinibandGUID: true, deviceID: true },
          result: netResult("data0", "198.18.5.9/24"),
          args: { cni: { a: "nad", keep: "nad" } },
        },
        {
          type: "recorder",
          cniVersion: "0.3.1",
          name: "overridden",
          capabilities: { portMappings: true, bandwidth: true },
          ...FOREIGN,
        },
      ],
    });
    // Declares portMappings but is not asked for any: the runtime's must not reach it (spec §7.5).
    h.createNad("other", "remote", {
      cniVersion: "0.4.0",
      type: "recorder",
      capabilities: { portMappings: true },
      marker: "other/remote",
      result: { cniVersion: "0.4.0", ips: [{ version: "4", address: "198.18.6.2/24" }] },
    });
    h.createNad("sel", "named", {
      cniVersion: "1.1.0",
      name: "custom-net",
      type: "recorder",
      result: netResult("net3", "198.18.7.2/24"),
    });
    pod = h.createPod("sel", "web-0", { [NETWORKS]: JSON.stringify(SELECTIONS) });
    const out = await h.call("ADD", pod, {
      conf: h.conf({
        runtimeConfig: { portMappings: RUNTIME_PORTS },
        clusterNetwork: "",
        delegates: [clusterWithPortmap()],
      }),
      cniArgs: `IgnoreUnknown=1;K8S_POD_NAMESPACE=sel;K8S_POD_NAME=web-0;K8S_POD_UID=${pod.uid};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId};FOO=bar=baz`,
    });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    added = resultOf(out);
    calls = callsOf(h.calls(), "ADD");
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  const stdinOf = (ifName: string, i = 0): Record<string, unknown> => callsOf(calls, "ADD", ifName)[i]?.stdin ?? {};

  it("runs the attachments in order with the interface names the selection asks for", () => {
    expect(calls.map((c) => c.env["CNI_IFNAME"])).toEqual(["eth0", "data0", "data0", "net2", "net3"]);
    expect(added.interfaces?.map((i) => i.name)).toEqual(["eth0", "data0", "net2", "net3"]);
  });

  it("name and namespace: the NAD of the other namespace is the one executed, under its own name", () => {
    const s = stdinOf("net2");
    expect([s["marker"], s["name"], s["cniVersion"]]).toEqual(["other/remote", "remote", "0.4.0"]);
  });

  it("ips, mac, infiniband-guid and deviceID go to the plugin declaring them, canonical", () => {
    expect(stdinOf("data0", 0)["runtimeConfig"]).toEqual({
      ips: ["198.18.5.9/24"],
      mac: "02:aa:bb:cc:dd:01",
      infinibandGUID: "24:8a:07:03:00:8d:ae:2f",
      deviceID: "0000:18:02.5",
    });
  });

  it("portMappings and bandwidth go to the plugin declaring them; a rate gets the default burst", () => {
    expect(stdinOf("data0", 1)["runtimeConfig"]).toEqual({
      portMappings: [{ hostPort: 9090, containerPort: 90, protocol: "udp" }],
      bandwidth: { ingressRate: 1000, ingressBurst: 2147483647 },
    });
  });

  it("the runtime's own runtimeConfig reaches only the cluster network's delegates", () => {
    expect(stdinOf("eth0")["runtimeConfig"]).toEqual({ portMappings: RUNTIME_PORTS });
    expect(stdinOf("net2")).not.toHaveProperty("runtimeConfig");
    expect(stdinOf("net3")).not.toHaveProperty("runtimeConfig");
    expect(JSON.stringify(stdinOf("data0", 1)["runtimeConfig"])).not.toContain("8080");
  });

  it("cni-args merge over the NAD's args.cni in every plugin (the annotation wins); ipam-claim-reference joins them", () => {
    expect(stdinOf("data0", 0)["args"]).toEqual({ cni: { a: "ann", keep: "nad", added: 1 } });
    expect(stdinOf("data0", 1)["args"]).toEqual({ cni: { a: "ann", added: 1 } });
    expect(stdinOf("net2")["args"]).toEqual({ cni: { from: "annotation", "ipam-claim-reference": "claim-1" } });
    expect(stdinOf("net3")).not.toHaveProperty("args");
  });

  it("name and cniVersion are the list's in every plugin; a NAD's own name is kept; foreign keys are verbatim", () => {
    expect([stdinOf("data0", 0)["name"], stdinOf("data0", 1)["name"], stdinOf("data0", 1)["cniVersion"]]).toEqual([
      "full",
      "full",
      "1.0.0",
    ]);
    expect(stdinOf("net3")["name"]).toBe("custom-net");
    const second = stdinOf("data0", 1);
    expect({ "x-vendor": second["x-vendor"], vlan: second["vlan"] }).toEqual(FOREIGN);
    // The chained plugin got the first one's result as prevResult.
    expect(Result100Schema.parse(second["prevResult"]).ips?.[0]?.address).toBe("198.18.5.9/24");
  });

  it("CNI_ARGS: IgnoreUnknown=1 first, the pod's identity, the runtime's extra pairs, no key twice; mac/ips as MAC=, IP= (Multus)", () => {
    for (const c of calls) {
      const pairs = (c.env["CNI_ARGS"] ?? "").split(";");
      const keys = pairs.map((p) => p.slice(0, p.indexOf("=")));
      expect(pairs[0]).toBe("IgnoreUnknown=1");
      expect(new Set(keys).size).toBe(keys.length);
      expect(pairs).toEqual(
        expect.arrayContaining([
          "K8S_POD_NAMESPACE=sel",
          "K8S_POD_NAME=web-0",
          `K8S_POD_UID=${pod.uid}`,
          `K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
          "FOO=bar=baz",
        ]),
      );
      const own = c.env["CNI_IFNAME"] === "data0" ? ["MAC=02:aa:bb:cc:dd:01", "IP=198.18.5.9/24"] : [];
      expect(pairs.slice(6)).toEqual(own);
    }
  });

  it("network-status names every attachment by namespace/NAD", () => {
    const status = h.networkStatusOf(pod);
    expect(status.map((s) => [s.name, s.interface])).toEqual([
      ["cluster", "eth0"],
      ["sel/full", "data0"],
      ["other/remote", "net2"],
      ["sel/named", "net3"],
    ]);
  });

  it("DEL sends every delegate its cached config again, runtimeConfig and cni-args included", async () => {
    await h.resetCalls();
    const out = await h.call("DEL", pod, { conf: h.conf({ clusterNetwork: "", delegates: [clusterWithPortmap()] }) });
    expect([out.code, out.stdout]).toEqual([0, ""]);
    const dels = callsOf(h.calls(), "DEL");
    expect(dels.map((c) => c.env["CNI_IFNAME"])).toEqual(["net3", "net2", "data0", "data0", "eth0"]);
    expect(dels[2]?.stdin["runtimeConfig"]).toEqual(stdinOf("data0", 1)["runtimeConfig"]);
    expect(dels[1]?.stdin["args"]).toEqual(stdinOf("net2")["args"]);
  });
});

describe("a requested capability no plugin declares", () => {
  let h: PlexusHarness;
  beforeAll(async () => {
    h = await startPlexusHarness();
    h.createNad("sel", "plain", { cniVersion: "1.0.0", type: "recorder" });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ["portMappings", { portMappings: [{ hostPort: 1, containerPort: 2 }] }, "portMappings"],
    ["bandwidth", { bandwidth: { egressRate: 5, egressBurst: 5 } }, "bandwidth"],
    ["infiniband-guid", { "infiniband-guid": "00:11:22:33:44:55:66:77" }, "infinibandGUID"],
  ];
  it.each(cases)(
    "%s: ADD fails naming the field and the capability, and runs no delegate",
    async (key, extra, capability) => {
      const pod = h.createPod("sel", `cap-${key.toLowerCase()}`, {
        [NETWORKS]: JSON.stringify([{ name: "plain", ...extra }]),
      });
      await h.resetCalls();
      const err = wireError(await h.call("ADD", pod));
      expect(err.code).toBe(7);
      expect(err.msg).toContain(`pod sel/${pod.name}: network sel/plain: the selection requests ${key},`);
      expect(err.msg).toContain(`"capabilities": {"${capability}": true}`);
      expect(callsOf(h.calls(), "ADD")).toEqual([]);
    },
  );
});

describe("mac and ips with no plugin declaring their capability (carried by CNI_ARGS only, as in Multus)", () => {
  let h: PlexusHarness;
  beforeAll(async () => {
    h = await startPlexusHarness();
    // Applies nothing: its result has an address and a MAC of its own.
    h.createNad("sel", "ignores-args", recorderNad({ result: netResult("net1", "198.18.9.2/24") }));
    // Returns what was asked for (as static IPAM and tuning do with IP= and MAC=).
    h.createNad(
      "sel",
      "applies-args",
      recorderNad({
        result: {
          interfaces: [{ name: "net1", mac: "02:00:00:00:00:09", sandbox: "/var/run/netns/fake" }],
          ips: [{ address: "198.18.9.9/24", interface: 0 }],
        },
      }),
    );
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  const annotation = (name: string) => JSON.stringify([{ name, ips: ["198.18.9.9/24"], mac: "02:00:00:00:00:09" }]);

  it("the delegate gets MAC= and IP=, no runtimeConfig, and the pod starts when its result shows them", async () => {
    const pod = h.createPod("sel", "args-ok", { [NETWORKS]: annotation("applies-args") });
    await h.resetCalls();
    const out = await h.call("ADD", pod);
    expect(out.code, out.stdout).toBe(0);
    const [call] = callsOf(h.calls(), "ADD", "net1");
    expect(call?.env["CNI_ARGS"]).toMatch(/;MAC=02:00:00:00:00:09;IP=198\.18\.9\.9\/24$/);
    expect(call?.stdin).not.toHaveProperty("runtimeConfig");
    // DEL and CHECK get the ADD's CNI_ARGS (CNI SPEC §3).
    await h.resetCalls();
    expect((await h.call("DEL", pod)).code).toBe(0);
    expect(callsOf(h.calls(), "DEL", "net1")[0]?.env["CNI_ARGS"]).toBe(call?.env["CNI_ARGS"]);
  });

  it("a result without them fails ADD naming both and how to fix it, and rolls the attachment back", async () => {
    const pod = h.createPod("sel", "args-ignored", { [NETWORKS]: annotation("ignores-args") });
    await h.resetCalls();
    const err = wireError(await h.call("ADD", pod));
    expect(err.code).toBe(7);
    expect(err.msg).toContain(
      "pod sel/args-ignored: network sel/ignores-args (net1): the selection requests ips 198.18.9.9/24 (no " +
        'plugin declares "capabilities": {"ips": true}, and none applied CNI_ARGS IP=, as static IPAM does) and ' +
        "mac 02:00:00:00:00:09",
    );
    expect(callsOf(h.calls(), "DEL").map((c) => c.env["CNI_IFNAME"])).toEqual(["net1", "eth0"]);
  });
});

function clusterWithPortmap(): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    name: "cluster",
    plugins: [{ type: "recorder", capabilities: { portMappings: true }, result: CLUSTER_RESULT }],
  };
}
