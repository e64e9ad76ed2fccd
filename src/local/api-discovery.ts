// Legacy discovery documents (/version, /api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>), built
// from the registry each time so that a new CRD shows up at once. kubectl asks for aggregated
// discovery first and falls back to these when the reply is plain application/json.
import type { ResourceRegistry } from "./api-registry.js";
import type { ResourceDefinition } from "./api-types.js";
import { apiVersionOf } from "./api-types.js";

/** The Kubernetes version the server claims: the minor of the kubectl it was built against. */
export const SERVER_VERSION = { major: "1", minor: "32", gitVersion: "v1.32.0" } as const;

export function versionInfo(): Record<string, string> {
  return {
    ...SERVER_VERSION,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2025-01-01T00:00:00Z",
    goVersion: `node${process.versions.node}`,
    compiler: "plexus-local",
    platform: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
  };
}

export function coreVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groupDocument(group: string, versions: readonly string[]): Record<string, unknown> {
  const entries = versions.map((version) => ({ groupVersion: apiVersionOf(group, version), version }));
  return { name: group, versions: entries, preferredVersion: entries[0] };
}

export function groupList(registry: ResourceRegistry): Record<string, unknown> {
  const groups = registry.groups().filter((g) => g.group !== "");
  return { kind: "APIGroupList", apiVersion: "v1", groups: groups.map((g) => groupDocument(g.group, g.versions)) };
}

export function apiGroup(registry: ResourceRegistry, group: string): Record<string, unknown> | undefined {
  const found = registry.groups().find((g) => g.group === group && group !== "");
  return found && { kind: "APIGroup", apiVersion: "v1", ...groupDocument(found.group, found.versions) };
}

function resourceEntries(def: ResourceDefinition): Record<string, unknown>[] {
  const main: Record<string, unknown> = {
    name: def.plural,
    singularName: def.singular,
    namespaced: def.namespaced,
    kind: def.kind,
    verbs: def.verbs,
    ...(def.shortNames.length > 0 ? { shortNames: def.shortNames } : {}),
    ...(def.categories.length > 0 ? { categories: def.categories } : {}),
  };
  if (!def.statusSubresource) return [main];
  const status = {
    name: `${def.plural}/status`,
    singularName: "",
    namespaced: def.namespaced,
    kind: def.kind,
    verbs: ["get", "patch", "update"],
  };
  return [main, status];
}

export function resourceList(
  registry: ResourceRegistry,
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const defs = registry.resourcesOf(group, version);
  if (defs.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: apiVersionOf(group, version),
    resources: defs.flatMap(resourceEntries),
  };
}
