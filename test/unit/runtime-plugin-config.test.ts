// What each plugin of a list receives on stdin (CNI SPEC §3; libcni/api.go).
import { describe, expect, it } from "vitest";
import { parseNetworkConfig } from "../../src/cni/conf.js";
import { parseResult } from "../../src/cni/result.js";
import { SUPPORTED_VERSIONS } from "../../src/cni/version.js";
import {
  buildGcConfig,
  buildPluginConfig,
  buildStatusConfig,
  selectRuntimeConfig,
} from "../../src/runtime/plugin-config.js";

const dbnet = parseNetworkConfig({
  cniVersion: "1.1.0",
  name: "dbnet",
  plugins: [
    { type: "bridge", name: "ignored", cniVersion: "0.1.0", bridge: "cni0" },
    { type: "tuning", capabilities: { mac: true, ips: false }, runtimeConfig: { stale: 1 } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
});
const [bridge, tuning, portmap] = dbnet.plugins;
const capabilityArgs = { mac: "00:11:22:33:44:66", ips: ["10.0.0.2/24"] };
const r1 = parseResult({ cniVersion: "1.1.0", ips: [{ address: "198.18.0.2/24" }] });

describe("buildPluginConfig", () => {
  it("the list's name and cniVersion override the plugin's; no prevResult, no runtimeConfig", () => {
    expect(buildPluginConfig(dbnet, bridge!, undefined, capabilityArgs)).toEqual({
      bridge: "cni0",
      cniVersion: "1.1.0",
      name: "dbnet",
      type: "bridge",
    });
  });

  it("runtimeConfig is the enabled capabilities the runtime has args for, replacing the written one", () => {
    const conf = buildPluginConfig(dbnet, tuning!, r1, capabilityArgs);
    expect(conf["runtimeConfig"]).toEqual({ mac: "00:11:22:33:44:66" });
    expect(conf["capabilities"]).toEqual({ mac: true, ips: false }); // libcni keeps it
    expect(conf["prevResult"]).toEqual({ cniVersion: "1.1.0", ips: [{ address: "198.18.0.2/24" }] });
  });

  it("no runtimeConfig key when no declared capability has an argument", () => {
    const conf = buildPluginConfig(dbnet, portmap!, r1, capabilityArgs);
    expect(conf).not.toHaveProperty("runtimeConfig");
    expect(Object.keys(conf).sort()).toEqual(["capabilities", "cniVersion", "name", "prevResult", "type"]);
  });

  it("keeps a written runtimeConfig when nothing replaces it (libcni injects only a non-empty one)", () => {
    expect(buildPluginConfig(dbnet, tuning!, undefined, {})["runtimeConfig"]).toEqual({ stale: 1 });
  });

  it("keeps every unknown key of the plugin exactly, nested values included", () => {
    const list = parseNetworkConfig({
      cniVersion: "1.0.0",
      name: "n",
      plugins: [
        {
          type: "x",
          "vendor.io/knob": { deep: [1, { two: null }] },
          mtu: 9000,
          ipam: { type: "host-local", ranges: [[{ subnet: "198.18.0.0/24" }]] },
        },
      ],
    });
    const conf = buildPluginConfig(list, list.plugins[0]!, undefined, {});
    expect(conf).toEqual({ ...list.plugins[0]!.raw, name: "n", cniVersion: "1.0.0" });
  });

  it.each(SUPPORTED_VERSIONS)(
    "prevResult keeps its own version %s inside a 1.1.0 list (no conversion between plugins)",
    (v) => {
      const prev = parseResult(
        v < "0.3.0"
          ? { cniVersion: v, ip4: { ip: "198.18.0.2/24" } }
          : { cniVersion: v, ips: [{ address: "198.18.0.2/24", ...(v < "1.0.0" ? { version: "4" } : {}) }] },
      );
      const conf = buildPluginConfig(dbnet, portmap!, prev, {});
      expect((conf["prevResult"] as { cniVersion: string }).cniVersion).toBe(v);
    },
  );
});

describe("selectRuntimeConfig", () => {
  it.each([
    { caps: ["mac"], args: { mac: "m" }, want: { mac: "m" } },
    { caps: ["mac", "ips"], args: { mac: "m", ips: ["a"], bandwidth: {} }, want: { mac: "m", ips: ["a"] } },
    { caps: ["portMappings"], args: { mac: "m" }, want: undefined },
    { caps: [], args: { mac: "m" }, want: undefined },
    { caps: ["mac"], args: { mac: undefined }, want: undefined },
    { caps: ["toString"], args: {}, want: undefined }, // not an own key: prototype names never match
  ])("$caps with $args -> $want", ({ caps, args, want }) => {
    expect(selectRuntimeConfig(caps, args)).toEqual(want);
  });
});

describe("STATUS and GC configs", () => {
  it("STATUS: the plugin object with name and cniVersion only", () => {
    expect(buildStatusConfig(dbnet, bridge!)).toEqual({
      type: "bridge",
      name: "dbnet",
      cniVersion: "1.1.0",
      bridge: "cni0",
    });
  });

  it("GC carries cni.dev/valid-attachments and cni.dev/attachments, no runtimeConfig or prevResult", () => {
    const conf = buildGcConfig(dbnet, portmap!, [{ containerID: "c1", ifname: "net1" }]);
    expect(conf).toEqual({
      type: "portmap",
      capabilities: { portMappings: true },
      name: "dbnet",
      cniVersion: "1.1.0",
      "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "net1" }],
      "cni.dev/attachments": [{ containerID: "c1", ifname: "net1" }],
    });
  });
});
