// The PATCH flavours of the Kubernetes API: JSON merge patch (RFC 7386), JSON patch (RFC 6902)
// and strategic merge patch, approximated with the merge keys of the lists kubectl patches.
import { ApiError, badRequest } from "./api-errors.js";
import type { JsonObject } from "./api-types.js";
import { isJsonObject, jsonEqual } from "./api-types.js";

export const PatchType = {
  Json: "application/json-patch+json",
  Merge: "application/merge-patch+json",
  Strategic: "application/strategic-merge-patch+json",
  Apply: "application/apply-patch+yaml",
} as const;
export type PatchType = (typeof PatchType)[keyof typeof PatchType];

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return structuredClone(patch);
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

// Merge keys of the Kubernetes list fields that kubectl's strategic merge patches address
// (`patchMergeKey` tags in k8s.io/api). Other lists are replaced whole, as atomic lists are.
const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  volumes: "name",
  env: "name",
  imagePullSecrets: "name",
  resourceClaims: "name",
  ports: "containerPort",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  conditions: "type",
  ownerReferences: "uid",
  hostAliases: "ip",
};
// Primitive lists with patchStrategy "merge": a patch adds to them instead of replacing.
const MERGED_PRIMITIVE_LISTS = new Set(["finalizers"]);

export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return structuredClone(patch);
  if (patch["$patch"] === "replace") return withoutDirectives(patch);
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  const orders: [string, unknown][] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key === "$patch" || key === "$retainKeys") continue;
    if (key.startsWith("$setElementOrder/")) {
      orders.push([key.slice("$setElementOrder/".length), value]);
    } else if (key.startsWith("$deleteFromPrimitiveList/")) {
      const field = key.slice("$deleteFromPrimitiveList/".length);
      const drop = Array.isArray(value) ? value : [];
      const current = result[field];
      if (Array.isArray(current)) result[field] = current.filter((v) => !drop.includes(v));
    } else if (value === null || (isJsonObject(value) && value["$patch"] === "delete")) {
      delete result[key];
    } else if (Array.isArray(value)) {
      result[key] = mergeList(key, result[key], value);
    } else {
      result[key] = applyStrategicMergePatch(result[key], value);
    }
  }
  const retain = patch["$retainKeys"];
  if (Array.isArray(retain)) {
    for (const key of Object.keys(result)) if (!retain.includes(key) && !(key in patch)) delete result[key];
  }
  for (const [field, order] of orders) reorder(result, field, order);
  return result;
}

function withoutDirectives(value: JsonObject): JsonObject {
  const { $patch: _drop, ...rest } = value;
  return structuredClone(rest);
}

function mergeList(field: string, current: unknown, patch: readonly unknown[]): unknown[] {
  const replace = patch.find((e) => isJsonObject(e) && e["$patch"] === "replace");
  if (replace !== undefined) return patch.filter((e) => e !== replace).map((e) => structuredClone(e));
  const base = Array.isArray(current) ? [...current] : [];
  if (MERGED_PRIMITIVE_LISTS.has(field)) return [...base, ...patch.filter((v) => !base.includes(v))];
  const key = MERGE_KEYS[field];
  if (key === undefined || !patch.every(isJsonObject)) return structuredClone([...patch]);
  const out = base;
  for (const element of patch) {
    const index = out.findIndex((e) => isJsonObject(e) && e[key] === element[key]);
    if (element["$patch"] === "delete") {
      if (index >= 0) out.splice(index, 1);
    } else if (index >= 0) {
      out[index] = applyStrategicMergePatch(out[index], element);
    } else {
      out.push(applyStrategicMergePatch({}, element));
    }
  }
  return out;
}

/** `$setElementOrder/<field>`: the patched list follows the order the client gave. */
function reorder(result: JsonObject, field: string, order: unknown): void {
  const list = result[field];
  const key = MERGE_KEYS[field];
  if (!Array.isArray(list) || !Array.isArray(order)) return;
  const rank = (e: unknown): number => {
    const i = order.findIndex((o) =>
      key !== undefined && isJsonObject(o) && isJsonObject(e) ? o[key] === e[key] : o === e,
    );
    return i < 0 ? order.length : i;
  };
  result[field] = [...list].sort((a, b) => rank(a) - rank(b));
}

// ---- RFC 6902 JSON patch ----

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw badRequest(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function failed(message: string): ApiError {
  return new ApiError(422, "Invalid", `the server rejected our request due to an error in our request: ${message}`);
}

function resolveParent(
  doc: unknown,
  path: readonly string[],
  pointer: string,
): { parent: JsonObject | unknown[]; last: string } {
  let current: unknown = doc;
  for (const part of path.slice(0, -1)) {
    if (Array.isArray(current)) current = current[Number(part)];
    else if (isJsonObject(current)) current = current[part];
    else current = undefined;
    if (current === undefined) throw failed(`path ${JSON.stringify(pointer)} does not exist`);
  }
  if (!Array.isArray(current) && !isJsonObject(current)) throw failed(`path ${JSON.stringify(pointer)} does not exist`);
  return { parent: current, last: path[path.length - 1] ?? "" };
}

function readAt(doc: unknown, pointer: string): unknown {
  const path = parsePointer(pointer);
  if (path.length === 0) return doc;
  const { parent, last } = resolveParent(doc, path, pointer);
  const value = Array.isArray(parent) ? parent[Number(last)] : parent[last];
  if (value === undefined) throw failed(`path ${JSON.stringify(pointer)} does not exist`);
  return value;
}

function removeAt(doc: unknown, pointer: string): unknown {
  const path = parsePointer(pointer);
  const { parent, last } = resolveParent(doc, path, pointer);
  const value = readAt(doc, pointer);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete parent[last];
  return value;
}

function addAt(doc: unknown, pointer: string, value: unknown, replace: boolean): unknown {
  const path = parsePointer(pointer);
  if (path.length === 0) return value;
  if (replace) readAt(doc, pointer);
  const { parent, last } = resolveParent(doc, path, pointer);
  if (Array.isArray(parent)) {
    const index = last === "-" ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length)
      throw failed(`index ${last} out of bounds in ${JSON.stringify(pointer)}`);
    parent.splice(index, replace ? 1 : 0, value);
  } else {
    parent[last] = value;
  }
  return doc;
}

export function applyJsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest("a JSON patch must be an array of operations");
  let doc: unknown = structuredClone(target);
  for (const raw of operations) {
    if (!isJsonObject(raw) || typeof raw["op"] !== "string" || typeof raw["path"] !== "string") {
      throw badRequest(`invalid JSON patch operation: ${JSON.stringify(raw)}`);
    }
    const path = raw["path"];
    const from = typeof raw["from"] === "string" ? raw["from"] : "";
    switch (raw["op"]) {
      case "add":
        doc = addAt(doc, path, structuredClone(raw["value"]), false);
        break;
      case "replace":
        doc = addAt(doc, path, structuredClone(raw["value"]), true);
        break;
      case "remove":
        removeAt(doc, path);
        break;
      case "move":
        doc = addAt(doc, path, removeAt(doc, from), false);
        break;
      case "copy":
        doc = addAt(doc, path, structuredClone(readAt(doc, from)), false);
        break;
      case "test":
        if (!jsonEqual(readAt(doc, path), raw["value"])) throw failed(`testing value ${path} failed`);
        break;
      default:
        throw badRequest(`unknown JSON patch operation ${JSON.stringify(raw["op"])}`);
    }
  }
  return doc;
}
