// CustomResourceDefinitions (apiextensions.k8s.io/v1): parse one, default it as the real API
// server does, derive the served resources, and report it established at once.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { invalid } from "./api-errors.js";
import type { StatusCause } from "./api-errors.js";
import type { JsonSchema, KubeObject, PrinterColumn, ResourceDefinition } from "./api-types.js";
import { ALL_VERBS, isJsonObject } from "./api-types.js";
import { CRD_GROUP } from "./api-builtin-resources.js";
import { parseYamlDocuments } from "./yaml.js";

const PrinterColumnSchema = z.object({
  name: z.string().min(1),
  type: z.string().min(1),
  jsonPath: z.string().min(1),
  description: z.string().optional(),
  priority: z.number().int().optional(),
  format: z.string().optional(),
});

const CrdVersionSchema = z.looseObject({
  name: z.string().min(1),
  served: z.boolean(),
  storage: z.boolean(),
  schema: z.looseObject({ openAPIV3Schema: z.record(z.string(), z.unknown()).optional() }).optional(),
  subresources: z.looseObject({ status: z.record(z.string(), z.unknown()).optional() }).optional(),
  additionalPrinterColumns: z.array(PrinterColumnSchema).optional(),
});

const CrdSpecSchema = z.looseObject({
  group: z.string().min(1),
  scope: z.enum(["Namespaced", "Cluster"]),
  names: z.looseObject({
    plural: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
    singular: z.string().optional(),
    kind: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/),
    listKind: z.string().optional(),
    shortNames: z.array(z.string()).optional(),
    categories: z.array(z.string()).optional(),
  }),
  versions: z.array(CrdVersionSchema).min(1),
});

export type CrdSpec = z.infer<typeof CrdSpecSchema>;

const CRD_TYPE = { group: CRD_GROUP, kind: "CustomResourceDefinition" };

/** Validates a CRD's spec (422 Invalid like the real server) and returns it with defaults filled in. */
export function parseCrdSpec(crd: KubeObject): CrdSpec {
  const name = crd.metadata.name ?? "";
  const parsed = CrdSpecSchema.safeParse(crd["spec"]);
  if (!parsed.success) {
    const causes: StatusCause[] = parsed.error.issues.map((i) => ({
      reason: "FieldValueInvalid",
      field: ["spec", ...i.path.map(String)].join("."),
      message: `Invalid value: ${i.message}`,
    }));
    throw invalid(CRD_TYPE, name, causes);
  }
  const spec = parsed.data;
  const causes: StatusCause[] = [];
  if (name !== `${spec.names.plural}.${spec.group}`) {
    causes.push({
      reason: "FieldValueInvalid",
      field: "metadata.name",
      message: `Invalid value: "${name}": must be spec.names.plural+"."+spec.group`,
    });
  }
  if (spec.versions.filter((v) => v.storage).length !== 1) {
    causes.push({
      reason: "FieldValueInvalid",
      field: "spec.versions",
      message: "Invalid value: must have exactly one version marked as storage version",
    });
  }
  if (causes.length > 0) throw invalid(CRD_TYPE, name, causes);
  return {
    ...spec,
    names: {
      ...spec.names,
      singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
      listKind: spec.names.listKind ?? `${spec.names.kind}List`,
    },
  };
}

const AGE_COLUMN: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

/** One ResourceDefinition per served version, storage version first. */
export function crdResources(crdName: string, spec: CrdSpec): ResourceDefinition[] {
  const served = spec.versions.filter((v) => v.served).sort((a, b) => Number(b.storage) - Number(a.storage));
  return served.map((v) => {
    const schema = v.schema?.openAPIV3Schema;
    return {
      group: spec.group,
      version: v.name,
      plural: spec.names.plural,
      singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
      kind: spec.names.kind,
      listKind: spec.names.listKind ?? `${spec.names.kind}List`,
      namespaced: spec.scope === "Namespaced",
      shortNames: spec.names.shortNames ?? [],
      categories: spec.names.categories ?? [],
      verbs: ALL_VERBS,
      statusSubresource: v.subresources?.status !== undefined,
      // The schema was checked to be an object; its keywords are read defensively.
      schema: isJsonObject(schema) ? (schema as JsonSchema) : undefined,
      printerColumns:
        v.additionalPrinterColumns && v.additionalPrinterColumns.length > 0 ? v.additionalPrinterColumns : [AGE_COLUMN],
      crdName,
    };
  });
}

/** The status the real server reaches within milliseconds: names accepted, established. */
export function crdStatus(spec: CrdSpec, now: string): Record<string, unknown> {
  const storage = spec.versions.find((v) => v.storage)?.name;
  return {
    conditions: [
      {
        type: "NamesAccepted",
        status: "True",
        lastTransitionTime: now,
        reason: "NoConflicts",
        message: "no conflicts found",
      },
      {
        type: "Established",
        status: "True",
        lastTransitionTime: now,
        reason: "InitialNamesAccepted",
        message: "the initial names have been accepted",
      },
    ],
    acceptedNames: spec.names,
    storedVersions: storage === undefined ? [] : [storage],
  };
}

/** Every CustomResourceDefinition document in *.yaml / *.yml / *.json files of a directory. */
export async function readCrdManifests(dir: string): Promise<KubeObject[]> {
  const files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  const out: KubeObject[] = [];
  for (const file of files) {
    const docs = parseYamlDocuments(await readFile(join(dir, file), "utf8"));
    for (const doc of docs) {
      if (isJsonObject(doc) && doc["kind"] === "CustomResourceDefinition" && isJsonObject(doc["metadata"])) {
        out.push(doc as KubeObject);
      }
    }
  }
  return out;
}
