// examples/ (not examples/demo/, which has its own tests): every manifest valid for its kind,
// NADs valid against the CRD's schema with a spec.config Plexus accepts, every pod annotation
// parsed by Plexus's selection parser and naming NADs the examples define.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseNetworkConfig, type JsonObject, type NetworkConfigList } from "../../src/cni/conf.js";
import type { Namespace } from "../../src/cni/ids.js";
import { validateAgainstSchema } from "../../src/local/api-schema.js";
import type { JsonSchema } from "../../src/local/api-types.js";
import { parseYamlDocuments } from "../../src/local/yaml.js";
import { NETWORKS_ANNOTATION } from "../../src/networks/annotations.js";
import { delegateConfigFromNad } from "../../src/networks/nad-config.js";
import { findConfByName, nodeConfDirReader } from "../../src/runtime/conf-files.js";
import { parseNetworkSelections } from "../../src/networks/selection.js";
import { hasReferencePlugin } from "../support/cni-plugins.js";
import { isBuiltin, loadManifests, repoRoot, validateBuiltin, type Manifest } from "./manifests-models.js";

interface Crd {
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; schema: { openAPIV3Schema: JsonSchema } }[];
  };
}

let manifests: Manifest[];
let crd: Crd;
const nads = (): Manifest[] => manifests.filter((m) => m.doc.kind === "NetworkAttachmentDefinition");
const pods = (): Manifest[] => manifests.filter((m) => m.doc.kind === "Pod");
const configOf = (m: Manifest): string => (m.doc["spec"] as { config: string }).config;

beforeAll(async () => {
  manifests = await loadManifests("examples", { skip: ["demo/"] });
  crd = parseYamlDocuments(await readFile(join(repoRoot, "crds/network-attachment-definition.yaml"), "utf8")).find(
    Boolean,
  ) as Crd;
});

async function delegateList(m: Manifest): Promise<NetworkConfigList> {
  const nad = {
    metadata: { name: m.doc.metadata.name, namespace: m.doc.metadata.namespace ?? "default" },
    spec: { config: configOf(m) },
  };
  const confDir = (name: string) => findConfByName("/nonexistent", name, nodeConfDirReader);
  return delegateConfigFromNad(nad, confDir, { pod: "examples" });
}

describe("the examples", () => {
  it("cover the networks and pods the README lists", async () => {
    expect(
      nads()
        .map((m) => m.doc.metadata.name)
        .sort(),
    ).toEqual(
      [
        "bridge",
        "dual-stack",
        "host-device",
        "ipvlan-l2",
        "ipvlan-l3",
        "macvlan-host-local",
        "macvlan-static",
        "macvlan-tuned",
        "vlan-100",
      ].sort(),
    );
    const readme = await readFile(join(repoRoot, "examples/README.md"), "utf8");
    for (const { file } of manifests)
      if (file !== "examples/namespace.yaml")
        expect(readme, file).toContain(file.replace(/^examples\/(networks|pods)\//, ""));
  });

  it("built-in kinds are valid against the Kubernetes schemas", () => {
    const builtins = manifests.filter((m) => isBuiltin(m.doc));
    expect(builtins.map((m) => m.doc.kind).sort()).toEqual(["Namespace", "Pod", "Pod", "Pod", "Pod"]);
    for (const { file, doc } of builtins) expect(() => validateBuiltin(doc), file).not.toThrow();
  });

  it("everything lives in the examples namespace", () => {
    const ns = manifests.find((m) => m.doc.kind === "Namespace")?.doc.metadata.name;
    expect(ns).toBe("plexus-examples");
    for (const { file, doc } of manifests) if (doc.kind !== "Namespace") expect(doc.metadata.namespace, file).toBe(ns);
  });
});

describe("NetworkAttachmentDefinitions", () => {
  it("are valid against the CRD's openAPIV3Schema (no unknown field)", () => {
    const version = crd.spec.versions[0]!;
    for (const { file, doc } of nads()) {
      expect(doc.apiVersion, file).toBe(`${crd.spec.group}/${version.name}`);
      expect(doc.kind).toBe(crd.spec.names.kind);
      const report = validateAgainstSchema(version.schema.openAPIV3Schema, structuredClone(doc) as never);
      expect(report, file).toEqual({ causes: [], unknownFields: [] });
    }
  });

  it("the CRD check can fail: a config that is not a string, an unknown spec field", () => {
    const schema = crd.spec.versions[0]!.schema.openAPIV3Schema;
    const bad = {
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: { name: "x" },
      spec: { config: { type: "macvlan" }, confg: "" },
    };
    const report = validateAgainstSchema(schema, bad as never);
    expect(report.causes.map((c) => c.field)).toEqual(["spec.config"]);
    expect(report.unknownFields).toEqual(["spec.confg"]);
  });

  it("spec.config parses as a CNI config (with the NAD's name when it has none) and as Plexus reads it", async () => {
    for (const m of nads()) {
      const raw = JSON.parse(configOf(m)) as JsonObject;
      const list = parseNetworkConfig({ ...raw, name: raw["name"] ?? m.doc.metadata.name });
      expect(list.cniVersion, m.file).toBe("1.0.0");
      const plexus = await delegateList(m);
      expect(plexus.name, m.file).toBe(m.doc.metadata.name);
      expect(plexus.plugins.map((p) => p.type)).toEqual(list.plugins.map((p) => p.type));
    }
  });

  it("names only real reference plugins (a typo in `type` would fail every pod)", async () => {
    for (const m of nads()) {
      for (const plugin of (await delegateList(m)).plugins) {
        expect(hasReferencePlugin(plugin.type), `${m.file}: ${plugin.type}`).toBe(true);
        const ipam = plugin.raw["ipam"] as { type?: string } | undefined;
        if (ipam?.type) expect(hasReferencePlugin(ipam.type), `${m.file}: ipam ${ipam.type}`).toBe(true);
      }
    }
  });

  it("the conflist example chains macvlan then tuning, and dual-stack has one range per family", async () => {
    const tuned = await delegateList(nads().find((m) => m.doc.metadata.name === "macvlan-tuned")!);
    expect(tuned.plugins.map((p) => p.type)).toEqual(["macvlan", "tuning"]);
    const dual = JSON.parse(configOf(nads().find((m) => m.doc.metadata.name === "dual-stack")!)) as {
      ipam: { ranges: { subnet: string }[][] };
    };
    expect(dual.ipam.ranges.map((r) => (r[0]!.subnet.includes(":") ? 6 : 4))).toEqual([4, 6]);
  });
});

describe("pods", () => {
  it("their network annotations parse, name defined NADs, and ask only for what those NADs accept", async () => {
    const lists = new Map<string, NetworkConfigList>();
    for (const m of nads()) lists.set(`${m.doc.metadata.namespace}/${m.doc.metadata.name}`, await delegateList(m));
    const seen = new Set<string>();
    for (const { file, doc } of pods()) {
      const value = (doc.metadata as { annotations?: Record<string, string> }).annotations?.[NETWORKS_ANNOTATION];
      expect(value, file).toBeDefined();
      // Strict: an example users copy from must not carry anything Plexus would only warn about.
      const { selections } = parseNetworkSelections(value ?? "", {
        podNamespace: doc.metadata.namespace as Namespace,
        pod: `${doc.metadata.namespace}/${doc.metadata.name}`,
        strict: true,
      });
      expect(selections.length, file).toBeGreaterThan(0);
      const ifnames = selections.map((s) => s.interface).filter(Boolean);
      expect(new Set(ifnames).size, `${file}: interface names`).toBe(ifnames.length);
      for (const s of selections) {
        const list = lists.get(`${s.namespace}/${s.name}`);
        expect(list, `${file}: ${s.namespace}/${s.name}`).toBeDefined();
        const caps = new Set(list?.plugins.flatMap((p) => p.capabilities));
        if (s.ips) expect(caps.has("ips"), `${file}: ips need the ips capability`).toBe(true);
        if (s.mac) expect(caps.has("mac"), `${file}: mac needs the mac capability`).toBe(true);
        seen.add(s.defaultRoute ? "default-route" : s.ips ? "static-ips" : "plain");
      }
      seen.add(value?.trim().startsWith("[") ? "json" : "shorthand");
    }
    expect([...seen].sort()).toEqual(["default-route", "json", "plain", "shorthand", "static-ips"]);
  });
});
