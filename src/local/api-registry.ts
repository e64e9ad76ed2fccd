// Which resources are served right now: the built-ins plus one entry per served version of
// every established CRD. Discovery, OpenAPI and routing all read from here.
import { builtinResources } from "./api-builtin-resources.js";
import type { ResourceDefinition, ResourceRef } from "./api-types.js";

export interface GroupVersions {
  readonly group: string;
  /** Served versions, preferred first. */
  readonly versions: readonly string[];
}

export class ResourceRegistry {
  private defs: ResourceDefinition[] = builtinResources();

  all(): readonly ResourceDefinition[] {
    return this.defs;
  }

  find(group: string, version: string, plural: string): ResourceDefinition | undefined {
    return this.defs.find((d) => d.group === group && d.version === version && d.plural === plural);
  }

  /** Resolves a caller's reference; without a version, the first (storage) version wins. */
  resolve(ref: ResourceRef): ResourceDefinition | undefined {
    const group = ref.group ?? "";
    return this.defs.find(
      (d) =>
        d.group === group &&
        (ref.version === undefined || d.version === ref.version) &&
        (d.plural === ref.resource || d.kind === ref.resource),
    );
  }

  /** Replaces every version a CRD defined before with the given ones. */
  registerCrd(crdName: string, defs: readonly ResourceDefinition[]): void {
    this.defs = [...this.defs.filter((d) => d.crdName !== crdName), ...defs];
  }

  unregisterCrd(crdName: string): void {
    this.defs = this.defs.filter((d) => d.crdName !== crdName);
  }

  /** Served groups in registration order (core "" first), each with its versions. */
  groups(): GroupVersions[] {
    const out = new Map<string, string[]>();
    for (const d of this.defs) {
      const versions = out.get(d.group) ?? [];
      if (!versions.includes(d.version)) versions.push(d.version);
      out.set(d.group, versions);
    }
    return [...out].map(([group, versions]) => ({ group, versions }));
  }

  resourcesOf(group: string, version: string): ResourceDefinition[] {
    return this.defs.filter((d) => d.group === group && d.version === version);
  }
}
