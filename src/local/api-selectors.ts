// Label and field selectors as the API server reads them from `?labelSelector=` and
// `?fieldSelector=` (k8s.io/apimachinery labels.Parse / fields.ParseSelector).
import { badRequest } from "./api-errors.js";
import type { KubeObject } from "./api-types.js";
import { isJsonObject } from "./api-types.js";

export type ObjectPredicate = (object: KubeObject) => boolean;

type Requirement =
  | { readonly op: "exists" | "!exists"; readonly key: string }
  | { readonly op: "=" | "!="; readonly key: string; readonly value: string }
  | { readonly op: "in" | "notin"; readonly key: string; readonly values: readonly string[] };

/** Splits on commas that are not inside parentheses (`a in (x,y),b=c`). */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of selector) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      terms.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== "");
}

function parseRequirement(term: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(term);
  if (set) {
    const values = (set[3] ?? "").split(",").map((v) => v.trim());
    return { op: set[2] === "in" ? "in" : "notin", key: set[1] ?? "", values };
  }
  const cmp = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (cmp) return { op: cmp[2] === "!=" ? "!=" : "=", key: cmp[1] ?? "", value: cmp[3] ?? "" };
  if (/^![^!=\s(),]+$/.test(term)) return { op: "!exists", key: term.slice(1) };
  if (/^[^!=\s(),]+$/.test(term)) return { op: "exists", key: term };
  throw badRequest(`unable to parse requirement: ${JSON.stringify(term)}`);
}

function matches(req: Requirement, value: string | undefined): boolean {
  switch (req.op) {
    case "exists":
      return value !== undefined;
    case "!exists":
      return value === undefined;
    case "=":
      return value === req.value;
    case "!=":
      return value !== req.value;
    case "in":
      return value !== undefined && req.values.includes(value);
    case "notin":
      return value === undefined || !req.values.includes(value);
  }
}

export function parseLabelSelector(selector: string | undefined): ObjectPredicate {
  if (selector === undefined || selector.trim() === "") return () => true;
  const reqs = splitTerms(selector).map(parseRequirement);
  return (object) => reqs.every((r) => matches(r, object.metadata.labels?.[r.key]));
}

/** The string form of a field, as field selectors compare it; "" when absent (like Kubernetes). */
export function fieldValue(object: KubeObject, path: string): string {
  let current: unknown = object;
  for (const part of path.split(".")) {
    if (!isJsonObject(current)) return "";
    current = current[part];
  }
  if (current === undefined || current === null) return "";
  return typeof current === "string" ? current : JSON.stringify(current);
}

/**
 * Equality-based field selectors on any dotted path: metadata.name, metadata.namespace,
 * spec.nodeName, status.phase, involvedObject.uid (what `kubectl describe` sends), ...
 * Kubernetes allows only a fixed list per resource; accepting any path is a superset.
 */
export function parseFieldSelector(selector: string | undefined): ObjectPredicate {
  if (selector === undefined || selector.trim() === "") return () => true;
  const reqs = splitTerms(selector).map((term) => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    return { path: m[1] ?? "", negate: m[2] === "!=", value: m[3] ?? "" };
  });
  return (object) => reqs.every((r) => (fieldValue(object, r.path) === r.value) !== r.negate);
}

export function allOf(...predicates: readonly ObjectPredicate[]): ObjectPredicate {
  return (object) => predicates.every((p) => p(object));
}
