// Shared by the manifests-*.test.ts files: reading the YAML manifests of deploy/ and examples/
// and validating built-in kinds against the Kubernetes OpenAPI schemas, offline, through
// kubernetes-models (generated from the Kubernetes OpenAPI spec; each model's validate()
// checks types, required fields, enums and formats).

import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ClusterRole, ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1";
import { DaemonSet } from "kubernetes-models/apps/v1";
import { ConfigMap, Namespace, Pod, ServiceAccount } from "kubernetes-models/v1";
import { parseYamlDocuments } from "../../src/local/yaml.js";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface Manifest {
  /** Path relative to the repository root. */
  readonly file: string;
  readonly doc: Record<string, unknown> & {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
  };
}

/** Every YAML document of every .yaml file under `dir` (recursively), in path order. */
export async function loadManifests(dir: string, options: { skip?: readonly string[] } = {}): Promise<Manifest[]> {
  const files = (await readdir(join(repoRoot, dir), { recursive: true }))
    .filter((f) => f.endsWith(".yaml") && !(options.skip ?? []).some((s) => f.startsWith(s)))
    .sort();
  const out: Manifest[] = [];
  for (const f of files) {
    const path = join(repoRoot, dir, f);
    for (const doc of parseYamlDocuments(await readFile(path, "utf8"))) {
      if (doc === null || doc === undefined) continue;
      out.push({ file: relative(repoRoot, path), doc: doc as Manifest["doc"] });
    }
  }
  return out;
}

interface Validating {
  validate(): void;
}
type ModelClass = new (data: never) => Validating;

const MODELS: Readonly<Record<string, ModelClass>> = {
  "v1/Namespace": Namespace as unknown as ModelClass,
  "v1/Pod": Pod as unknown as ModelClass,
  "v1/ConfigMap": ConfigMap as unknown as ModelClass,
  "v1/ServiceAccount": ServiceAccount as unknown as ModelClass,
  "apps/v1/DaemonSet": DaemonSet as unknown as ModelClass,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole as unknown as ModelClass,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding as unknown as ModelClass,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition as unknown as ModelClass,
};

export function isBuiltin(doc: Manifest["doc"]): boolean {
  return `${doc.apiVersion}/${doc.kind}` in MODELS;
}

/** Throws with the schema's complaint when `doc` is not a valid object of its built-in kind. */
export function validateBuiltin(doc: Manifest["doc"]): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc as never).validate();
}
