// Structural-schema checks for custom resources (a small part of apiextensions' validation):
// types, required, enum, and pruning of fields the schema does not declare. Enough to reject a
// NetworkAttachmentDefinition whose spec.config is not a string with 422 Invalid.
import type { StatusCause } from "./api-errors.js";
import type { JsonObject, JsonSchema } from "./api-types.js";
import { isJsonObject } from "./api-types.js";

export interface SchemaReport {
  readonly causes: StatusCause[];
  /** Dotted paths of fields removed because the schema does not declare them. */
  readonly unknownFields: string[];
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function typeMatches(schema: JsonSchema, value: unknown): boolean {
  const actual = jsonType(value);
  if (schema["x-kubernetes-int-or-string"]) return actual === "integer" || actual === "string";
  if (schema.type === undefined) return true;
  if (actual === "null") return schema.nullable === true;
  if (schema.type === "number") return actual === "number" || actual === "integer";
  return schema.type === actual;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function walk(schema: JsonSchema, value: unknown, path: string, report: SchemaReport): void {
  if (!typeMatches(schema, value)) {
    const actual = jsonType(value);
    report.causes.push({
      reason: "FieldValueTypeInvalid",
      field: path,
      message:
        `Invalid value: "${actual}": ${path} in body must be of ` +
        `type ${schema.type ?? "int-or-string"}: "${actual}"`,
    });
    return;
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    const allowed = schema.enum.map((e) => JSON.stringify(e)).join(", ");
    report.causes.push({
      reason: "FieldValueNotSupported",
      field: path,
      message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed}`,
    });
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => walk(schema.items as JsonSchema, item, `${path}[${i}]`, report));
  }
  if (isJsonObject(value)) walkObject(schema, value, path, report);
}

function walkObject(schema: JsonSchema, value: JsonObject, path: string, report: SchemaReport): void {
  for (const key of schema.required ?? []) {
    if (!(key in value))
      report.causes.push({ reason: "FieldValueRequired", field: join(path, key), message: "Required value" });
  }
  const properties = schema.properties;
  const additional = schema.additionalProperties;
  for (const [key, child] of Object.entries(value)) {
    const declared = properties?.[key];
    if (declared) walk(declared, child, join(path, key), report);
    else if (isJsonObject(additional)) walk(additional as JsonSchema, child, join(path, key), report);
    else if (properties !== undefined && additional !== true && !schema["x-kubernetes-preserve-unknown-fields"]) {
      // Structural pruning: undeclared fields are dropped (apiextensions "pruning").
      delete value[key];
      report.unknownFields.push(join(path, key));
    }
  }
}

/**
 * Validates a custom resource against its openAPIV3Schema, pruning undeclared fields in place.
 * apiVersion, kind and metadata are the server's business and always allowed.
 */
export function validateAgainstSchema(schema: JsonSchema, object: JsonObject): SchemaReport {
  const report: SchemaReport = { causes: [], unknownFields: [] };
  const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = schema.properties ?? {};
  const body: JsonObject = {};
  for (const [key, value] of Object.entries(object))
    if (!["apiVersion", "kind", "metadata"].includes(key)) body[key] = value;
  const required = (schema.required ?? []).filter((k) => !["apiVersion", "kind", "metadata"].includes(k));
  walk(
    schema.properties === undefined ? { ...schema, required } : { ...schema, required, properties: rest },
    body,
    "",
    report,
  );
  for (const key of Object.keys(object)) {
    if (!["apiVersion", "kind", "metadata"].includes(key) && !(key in body)) delete object[key];
    else if (key in body) object[key] = body[key];
  }
  return report;
}
