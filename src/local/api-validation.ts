// Validation of an object about to be stored: shared metadata rules, then the CRD schema of a
// custom resource (with pruning and the fieldValidation=Strict|Warn|Ignore directive).
import { badRequest, invalid } from "./api-errors.js";
import type { StatusCause } from "./api-errors.js";
import { validateMetadata } from "./api-object-meta.js";
import { validateAgainstSchema } from "./api-schema.js";
import type { KubeObject, ResourceDefinition } from "./api-types.js";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface ValidationOptions {
  /** Undeclared fields of a custom resource: Strict fails, Warn (default) warns, both prune. */
  readonly fieldValidation?: FieldValidation | undefined;
  /** Receives warnings (HTTP `Warning` headers). */
  readonly warnings?: string[] | undefined;
}

/** Throws 422 Invalid (or 400 for Strict unknown fields); prunes undeclared fields in place. */
export function validateObject(def: ResourceDefinition, object: KubeObject, options: ValidationOptions): void {
  const causes: StatusCause[] = validateMetadata(def, object);
  if (def.schema) {
    const report = validateAgainstSchema(def.schema, object);
    causes.push(...report.causes);
    if (report.unknownFields.length > 0 && options.fieldValidation === "Strict") {
      throw badRequest(`strict decoding error: ${report.unknownFields.map((f) => `unknown field "${f}"`).join(", ")}`);
    }
    if (options.fieldValidation !== "Ignore")
      options.warnings?.push(...report.unknownFields.map((f) => `unknown field "${f}"`));
  }
  if (causes.length > 0) throw invalid(def, object.metadata.name ?? "", causes);
}
