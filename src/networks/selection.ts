// The selection annotations: k8s.v1.cni.cncf.io/networks (multi-net spec §4.1, both forms) and
// v1.multus-cni.io/default-network. Parsed into readonly selections or rejected as a whole with a
// message naming the pod, the annotation and the bad item
// (docs/compatibility.md#invalid-selection-annotations: we fail, the spec's "ignore the annotation"
// would start the pod without the networks it asked for). What Multus v4 accepts and still
// networks correctly (unknown keys, duplicates, a conflicting deprecated key) is accepted and
// returned as warnings, data for the engine to log and report on the pod; `strict` refuses it
// as before (docs/compatibility.md#input-tolerance).

import type { z } from "zod";
import type { JsonObject } from "../cni/conf.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { isDns1123Label, type IfName, type Namespace } from "../cni/ids.js";
import { ipFamily } from "../cni/ip.js";
import {
  DEFAULT_NETWORK_ANNOTATION,
  MAX_ANNOTATION_BYTES,
  MAX_ANNOTATION_JSON_DEPTH,
  MAX_SELECTIONS,
  NETWORKS_ANNOTATION,
} from "./annotations.js";
import { parseBoundedJson, sizeProblem } from "../cni/bounded-json.js";
import { requestedIfNameProblem } from "./interface-names.js";
import {
  SelectionElementSchema,
  normalizationNotes,
  quote,
  unknownKeys,
  unsetValues,
  type Bandwidth,
  type ElementNote,
  type PortMapping,
  type SelectionElement,
} from "./selection-schema.js";

export type { Bandwidth, PortMapping } from "./selection-schema.js";

/** One requested attachment. Values are validated and canonical (IPs, lower-case MAC/GUID). */
export interface NetworkSelection {
  /** NetworkAttachmentDefinition name. */
  readonly name: string;
  readonly namespace: Namespace;
  readonly interface?: IfName;
  /** Addresses, each with an optional /prefix, canonical; never empty when present. */
  readonly ips?: readonly string[];
  readonly mac?: string;
  readonly infinibandGuid?: string;
  /** Never empty when present. */
  readonly portMappings?: readonly PortMapping[];
  /** A burst is always set where its rate is (DEFAULT_BANDWIDTH_BURST when not given). */
  readonly bandwidth?: Bandwidth;
  readonly cniArgs?: JsonObject;
  /** Gateways, canonical; may be empty (see default-route.ts for what [] means). */
  readonly defaultRoute?: readonly string[];
  readonly deviceId?: string;
  readonly ipamClaimReference?: string;
}

/**
 * Something in an annotation that was accepted but not applied as written, for the log and the
 * pod's Warning Event: the annotation, the item, the key and (for an unknown key with a close
 * match) the key probably meant.
 */
export interface SelectionWarning {
  readonly annotation: string;
  /** `item 2 ("macvlan-a")` */
  readonly item: string;
  readonly key: string;
  readonly suggestion?: string;
  /** The whole finding, e.g. `unknown key "ipRequest" ignored (did you mean "ips"?)`. */
  readonly message: string;
}

export interface ParsedSelections {
  readonly selections: readonly NetworkSelection[];
  readonly warnings: readonly SelectionWarning[];
}

export interface ParseOptions {
  /** strictSelections: refuse what would otherwise be a warning (unknown keys included). */
  readonly strict?: boolean;
}

/** One line for a log or an Event: `annotation <a>, <item>: <message>`. */
export function describeSelectionWarning(w: SelectionWarning): string {
  return `annotation ${w.annotation}, ${w.item}: ${w.message}`;
}

interface Where {
  readonly pod: string;
  readonly annotation: string;
  readonly namespace: Namespace;
  readonly strict: boolean;
  readonly warnings: SelectionWarning[];
}

/**
 * Parses the networks annotation. No value, or only whitespace, selects no networks. A value
 * containing `[`, `{` or `"` is JSON (as Multus decides), anything else the shorthand
 * `[namespace/]name[@interface]` comma list.
 */
export function parseNetworkSelections(
  value: string,
  ctx: { readonly podNamespace: Namespace; readonly pod: string } & ParseOptions,
): ParsedSelections {
  const where = whereOf(ctx.pod, NETWORKS_ANNOTATION, ctx.podNamespace, ctx);
  return { selections: parseAnnotation(value, where), warnings: where.warnings };
}

function whereOf(pod: string, annotation: string, namespace: Namespace, options: ParseOptions): Where {
  return { pod, annotation, namespace, strict: options.strict === true, warnings: [] };
}

/**
 * Parses v1.multus-cni.io/default-network: exactly one selection; the namespace defaults to
 * `defaultNamespace` (Multus: multusNamespace, kube-system). An empty value is an error (Multus).
 */
export function parseDefaultNetworkSelection(
  value: string,
  ctx: { readonly defaultNamespace: Namespace; readonly pod: string } & ParseOptions,
): { readonly selection: NetworkSelection; readonly warnings: readonly SelectionWarning[] } {
  const where = whereOf(ctx.pod, DEFAULT_NETWORK_ANNOTATION, ctx.defaultNamespace, ctx);
  if (value.trim() === "") fail(where, "", "is empty; it must name one NetworkAttachmentDefinition ([namespace/]name)");
  const all = parseAnnotation(value, where);
  const only = all[0];
  if (all.length !== 1 || only === undefined) {
    fail(where, "", `selects ${all.length} networks; exactly one can replace the cluster network`);
  }
  return { selection: only, warnings: where.warnings };
}

function parseAnnotation(value: string, where: Where): readonly NetworkSelection[] {
  const tooLarge = sizeProblem(value, MAX_ANNOTATION_BYTES);
  if (tooLarge) fail(where, "", tooLarge);
  if (value.trim() === "") return [];
  const selections = /[[{"]/.test(value) ? parseJsonForm(value, where) : parseShorthand(value, where);
  checkDefaultRoutes(selections, where);
  return selections;
}

function parseShorthand(value: string, where: Where): NetworkSelection[] {
  let count = 1;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) === 0x2c) count++;
  if (count > MAX_SELECTIONS) fail(where, "", `selects ${count} networks; at most ${MAX_SELECTIONS} are allowed`);
  return value
    .split(",")
    .map((raw, i) => parseShorthandItem(raw.trim(), `item ${i + 1} (${quote(raw.trim())})`, where));
}

function parseShorthandItem(item: string, label: string, where: Where): NetworkSelection {
  if (item === "") fail(where, label, "is empty (two commas in a row, or a comma at the start or end)");
  const slashParts = item.split("/");
  if (slashParts.length > 2) fail(where, label, "has more than one '/'; the form is [namespace/]name[@interface]");
  const namespace = slashParts.length === 2 ? (slashParts[0] ?? "").trim() : "";
  const atParts = (slashParts[slashParts.length - 1] ?? "").split("@");
  if (atParts.length > 2) fail(where, label, "has more than one '@'; the form is [namespace/]name[@interface]");
  const name = (atParts[0] ?? "").trim();
  const ifName = (atParts[1] ?? "").trim();
  if (name === "") fail(where, label, "has no network name; the form is [namespace/]name[@interface]");
  // The shorthand grammar of the reference parser: each part a DNS-1123 label.
  if (!isDns1123Label(name)) fail(where, label, `name ${quote(name)} must be a lower-case DNS-1123 label`);
  if (namespace !== "" && !isDns1123Label(namespace)) {
    fail(where, label, `namespace ${quote(namespace)} must be a lower-case DNS-1123 label`);
  }
  const ifProblem = ifName === "" ? undefined : requestedIfNameProblem(ifName);
  if (ifProblem) fail(where, label, `interface ${quote(ifName)}: ${ifProblem}`);
  return {
    name,
    namespace: (namespace || where.namespace) as Namespace,
    ...(ifName ? { interface: ifName as IfName } : {}),
  };
}

function parseJsonForm(value: string, where: Where): NetworkSelection[] {
  const parsed = parseBoundedJson(value, { maxBytes: MAX_ANNOTATION_BYTES, maxDepth: MAX_ANNOTATION_JSON_DEPTH });
  if (!parsed.ok) fail(where, "", parsed.problem);
  const list = parsed.value;
  if (!Array.isArray(list)) {
    fail(
      where,
      "",
      `must be a JSON array of network selection objects (got ${jsonKind(list)}), e.g. [{"name":"net-a"}]`,
    );
  }
  if (list.length > MAX_SELECTIONS)
    fail(where, "", `selects ${list.length} networks; at most ${MAX_SELECTIONS} are allowed`);
  return list.map((raw, i) => parseJsonElement(raw, i, where));
}

function parseJsonElement(raw: unknown, index: number, where: Where): NetworkSelection {
  const name = isObject(raw) && typeof raw["name"] === "string" ? ` (${quote(raw["name"])})` : "";
  const label = `item ${index + 1}${name}`;
  const unknown = isObject(raw) ? unknownKeys(raw) : [];
  const unset = isObject(raw) ? unsetValues(raw) : { notes: [], without: raw };
  if (where.strict) refuse([...unknown, ...unset.notes], where, label);
  const result = SelectionElementSchema.safeParse(unset.without);
  if (!result.success) fail(where, label, formatIssues(result.error.issues));
  const notes = [
    ...unknown,
    ...unset.notes,
    ...normalizationNotes(unset.without as Record<string, unknown>, result.data),
  ];
  if (where.strict) refuse(notes, where, label);
  for (const n of notes) {
    where.warnings.push({
      annotation: where.annotation,
      item: label,
      key: n.key,
      ...(n.suggestion ? { suggestion: n.suggestion } : {}),
      message: n.message,
    });
  }
  return toSelection(result.data, where.namespace);
}

function refuse(notes: readonly ElementNote[], where: Where, label: string): void {
  if (notes.length > 0) fail(where, label, notes.map((n) => n.strict).join("; "));
}

function toSelection(e: SelectionElement, podNamespace: Namespace): NetworkSelection {
  // Multus reads the deprecated interfaceRequest only when interface is empty.
  const ifName = e.interface || e.interfaceRequest;
  // Empty lists request nothing; they are read as absent rather than rejected.
  return {
    name: e.name,
    namespace: (e.namespace || podNamespace) as Namespace,
    ...(ifName ? { interface: ifName as IfName } : {}),
    ...(e.ips?.length ? { ips: [...new Set(e.ips)] } : {}),
    ...(e.mac !== undefined ? { mac: e.mac } : {}),
    ...(e["infiniband-guid"] !== undefined ? { infinibandGuid: e["infiniband-guid"] } : {}),
    ...(e.portMappings?.length ? { portMappings: e.portMappings } : {}),
    ...(e.bandwidth !== undefined && Object.keys(e.bandwidth).length > 0 ? { bandwidth: e.bandwidth } : {}),
    ...(e["cni-args"] !== undefined ? { cniArgs: e["cni-args"] } : {}),
    ...(e["default-route"] !== undefined ? { defaultRoute: e["default-route"] } : {}),
    ...(e.deviceID !== undefined ? { deviceId: e.deviceID } : {}),
    ...(e["ipam-claim-reference"] !== undefined ? { ipamClaimReference: e["ipam-claim-reference"] } : {}),
  };
}

/**
 * At most one gateway per family across all elements (Multus: "does not support ECMP for
 * default-route"); v4 on one element and v6 on another is fine. `default-route: []` hands the
 * default route to that element's own gateways, so it must be the only element with the key.
 */
function checkDefaultRoutes(selections: readonly NetworkSelection[], where: Where): void {
  const withKey = selections.flatMap((s, i) => (s.defaultRoute ? [{ i, gws: s.defaultRoute }] : []));
  const empty = withKey.find((e) => e.gws.length === 0);
  if (empty && withKey.length > 1) {
    const others = withKey.filter((e) => e !== empty).map((e) => e.i + 1);
    fail(
      where,
      "",
      `item ${empty.i + 1} has "default-route": [] (the default routes via its own gateways), so no other ` +
        `item may set default-route, but item ${others.join(", ")} does`,
    );
  }
  for (const family of [4, 6] as const) {
    const gws = withKey.flatMap((e) =>
      e.gws.filter((g) => ipFamily(g) === family).map((g) => `${g} (item ${e.i + 1})`),
    );
    if (gws.length > 1) {
      fail(
        where,
        "",
        `default-route has ${gws.length} IPv${family} gateways: ${gws.join(", ")}; ECMP default routes ` +
          `are not supported, give at most one gateway per address family`,
      );
    }
  }
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 5).map((i) => {
    const path = formatPath(i.path);
    return path ? `${path}: ${i.message}` : i.message;
  });
  if (issues.length > shown.length) shown.push(`and ${issues.length - shown.length} more problems`);
  return shown.join("; ");
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    "",
  );
}

function fail(where: Where, label: string, text: string): never {
  const item = label ? `, ${label}` : "";
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    `pod ${where.pod}: annotation ${where.annotation}${item}: ${text}`,
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}
