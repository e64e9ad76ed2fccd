// Just enough OpenAPI for kubectl. A plain `kubectl apply` first asks whether the server
// validates fields itself: it reads /openapi/v3/<gv> and looks for a PATCH operation tagged with
// the object's group/version/kind that takes the `fieldValidation` query parameter. Finding it,
// kubectl skips client-side schema validation and sends fieldValidation=Strict, which the store
// honours. Operations carry no request body schema, so kubectl computes strategic merge patches
// from its compiled-in types (Pods) and JSON merge patches for custom resources.
// /openapi/v2 (protobuf, which kubectl asks for) holds no definitions: kubectl skips what it
// cannot look up.
import { createHash } from "node:crypto";
import type { ResourceRegistry } from "./api-registry.js";
import type { ResourceDefinition } from "./api-types.js";
import { SERVER_VERSION } from "./api-discovery.js";

function gvPath(group: string, version: string): string {
  return group === "" ? `api/${version}` : `apis/${group}/${version}`;
}

function operation(
  def: ResourceDefinition,
  action: string,
  extraParams: readonly string[] = [],
): Record<string, unknown> {
  const gvk = { group: def.group, version: def.version, kind: def.kind };
  return {
    operationId: `${action}${def.kind}`,
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk,
    parameters: extraParams.map((name) => ({ name, in: "query", schema: { type: "string", uniqueItems: true } })),
    responses: { "200": { description: "OK" } },
  };
}

function paths(def: ResourceDefinition): Record<string, unknown> {
  const base = `/${gvPath(def.group, def.version)}${def.namespaced ? "/namespaces/{namespace}" : ""}/${def.plural}`;
  const writeParams = ["dryRun", "fieldManager", "fieldValidation"];
  const item = {
    get: operation(def, "get"),
    put: operation(def, "put", writeParams),
    patch: operation(def, "patch", [...writeParams, "force"]),
    delete: operation(def, "delete"),
  };
  const out: Record<string, unknown> = {
    [base]: { get: operation(def, "list"), post: operation(def, "post", writeParams) },
    [`${base}/{name}`]: item,
  };
  if (def.statusSubresource) {
    out[`${base}/{name}/status`] = {
      get: operation(def, "get"),
      put: operation(def, "put", writeParams),
      patch: operation(def, "patch", [...writeParams, "force"]),
    };
  }
  return out;
}

function schemaName(def: ResourceDefinition): string {
  const reversed = def.group === "" ? "io.k8s.api.core" : def.group.split(".").reverse().join(".");
  return `${reversed}.${def.version}.${def.kind}`;
}

export function openApiV3Document(
  registry: ResourceRegistry,
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const defs = registry.resourcesOf(group, version);
  if (defs.length === 0) return undefined;
  const schemas: Record<string, unknown> = {};
  for (const def of defs) {
    // Custom resources carry their own schema (kubectl explain reads it); built-ins stay opaque.
    schemas[schemaName(def)] = {
      ...(def.schema ?? { type: "object" }),
      "x-kubernetes-group-version-kind": [{ group: def.group, version: def.version, kind: def.kind }],
    };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: SERVER_VERSION.gitVersion },
    paths: Object.assign({}, ...defs.map(paths)) as Record<string, unknown>,
    components: { schemas },
  };
}

function hashOf(doc: unknown): string {
  return createHash("sha512").update(JSON.stringify(doc)).digest("hex").toUpperCase();
}

/** /openapi/v3: one entry per group/version; the hash changes whenever the document does. */
export function openApiV3Index(registry: ResourceRegistry): Record<string, unknown> {
  const entries: Record<string, unknown> = {};
  for (const { group, versions } of registry.groups()) {
    for (const version of versions) {
      const path = gvPath(group, version);
      const doc = openApiV3Document(registry, group, version);
      entries[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hashOf(doc)}` };
    }
  }
  return { paths: entries };
}

export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

export function openApiV2Json(): Record<string, unknown> {
  return {
    swagger: "2.0",
    info: { title: "Kubernetes", version: SERVER_VERSION.gitVersion },
    paths: {},
    definitions: {},
  };
}

/** gnostic openapi_v2.Document with only `swagger: "2.0"` (field 1, length-delimited). */
export function openApiV2Protobuf(): Buffer {
  const swagger = Buffer.from("2.0", "utf8");
  return Buffer.concat([Buffer.from([0x0a, swagger.length]), swagger]);
}
