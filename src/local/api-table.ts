// Server-side printing (meta.k8s.io/v1 Table), which kubectl asks for on `get`: the columns a
// real server sends for pods, namespaces, nodes and events, printer columns for custom
// resources, and Name/Age for the rest.
import type { JsonObject, KubeObject, PrinterColumn, ResourceDefinition } from "./api-types.js";
import { isJsonObject } from "./api-types.js";
import { fieldValue } from "./api-selectors.js";

export type IncludeObject = "None" | "Metadata" | "Object";

interface Column {
  readonly name: string;
  readonly type: string;
  readonly format: string;
  readonly description: string;
  readonly priority: number;
}

type Cells = (now: Date, object: KubeObject) => unknown[];

function col(name: string, type = "string", priority = 0, format = ""): Column {
  return { name, type, format, description: name, priority };
}

const NAME = col("Name", "string", 0, "name");

/** Kubernetes' duration.HumanDuration, as in the AGE column. */
function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  if (h < 24 * 365 * 8) return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
  return `${y}y`;
}

function age(now: Date, timestamp: string): string {
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? "<unknown>" : humanDuration(now.getTime() - t);
}

function list(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isJsonObject) : [];
}

function podCells(now: Date, pod: KubeObject): unknown[] {
  const statuses = list(fieldObject(pod, "status")["containerStatuses"]);
  const containers = list(fieldObject(pod, "spec")["containers"]);
  let reason = fieldValue(pod, "status.reason") || fieldValue(pod, "status.phase") || "Unknown";
  for (const cs of statuses) {
    const state = isJsonObject(cs["state"]) ? cs["state"] : {};
    const waiting = isJsonObject(state["waiting"]) ? state["waiting"]["reason"] : undefined;
    const terminated = isJsonObject(state["terminated"]) ? state["terminated"]["reason"] : undefined;
    if (typeof waiting === "string" && waiting !== "") reason = waiting;
    else if (typeof terminated === "string" && terminated !== "") reason = terminated;
  }
  if (pod.metadata.deletionTimestamp) reason = "Terminating";
  const ready = statuses.filter((cs) => cs["ready"] === true).length;
  const restarts = statuses.reduce((n, cs) => n + (typeof cs["restartCount"] === "number" ? cs["restartCount"] : 0), 0);
  return [
    pod.metadata.name,
    `${ready}/${containers.length}`,
    reason,
    String(restarts),
    age(now, pod.metadata.creationTimestamp ?? ""),
    fieldValue(pod, "status.podIP") || "<none>",
    fieldValue(pod, "spec.nodeName") || "<none>",
    fieldValue(pod, "status.nominatedNodeName") || "<none>",
    "<none>",
  ];
}

function fieldObject(object: KubeObject, key: string): JsonObject {
  const value = object[key];
  return isJsonObject(value) ? value : {};
}

function nodeStatus(node: KubeObject): string {
  const ready = list(fieldObject(node, "status")["conditions"]).find((c) => c["type"] === "Ready");
  return ready === undefined ? "Unknown" : ready["status"] === "True" ? "Ready" : "NotReady";
}

function eventCells(now: Date, ev: KubeObject): unknown[] {
  const last = fieldValue(ev, "lastTimestamp") || fieldValue(ev, "eventTime") || (ev.metadata.creationTimestamp ?? "");
  const object = `${fieldValue(ev, "involvedObject.kind").toLowerCase()}/${fieldValue(ev, "involvedObject.name")}`;
  return [age(now, last), fieldValue(ev, "type"), fieldValue(ev, "reason"), object, fieldValue(ev, "message")];
}

/** `.a.b[0].c` JSONPath as printer columns use them; "" when missing. */
function jsonPathValue(object: KubeObject, path: string): unknown {
  let current: unknown = object;
  for (const part of path
    .replace(/^\{?\./, "")
    .replace(/\}$/, "")
    .split(/\.|\[(\d+)\]/)
    .filter((p) => p !== undefined && p !== "")) {
    if (Array.isArray(current)) current = current[Number(part)];
    else if (isJsonObject(current)) current = current[part];
    else return undefined;
  }
  return current;
}

function printerCells(columns: readonly PrinterColumn[]): Cells {
  return (now, object) =>
    columns.map((c) => {
      const value = jsonPathValue(object, c.jsonPath);
      if (c.type === "date") return typeof value === "string" ? age(now, value) : "<unknown>";
      return value ?? null;
    });
}

function layout(def: ResourceDefinition): { columns: Column[]; cells: Cells } {
  const ageOf: Cells = (now, o) => [o.metadata.name, age(now, o.metadata.creationTimestamp ?? "")];
  if (def.crdName !== undefined) {
    const columns = [
      NAME,
      ...def.printerColumns.map((c) =>
        col(c.name, c.type === "date" ? "string" : c.type, c.priority ?? 0, c.format ?? ""),
      ),
    ];
    const cells = printerCells(def.printerColumns);
    return { columns, cells: (now, o) => [o.metadata.name, ...cells(now, o)] };
  }
  if (def.group !== "") {
    return {
      columns: [NAME, col("Created At", "date")],
      cells: (_now, o) => [o.metadata.name, o.metadata.creationTimestamp ?? ""],
    };
  }
  switch (def.plural) {
    case "pods":
      return {
        columns: [
          NAME,
          col("Ready"),
          col("Status"),
          col("Restarts"),
          col("Age"),
          col("IP", "string", 1),
          col("Node", "string", 1),
          col("Nominated Node", "string", 1),
          col("Readiness Gates", "string", 1),
        ],
        cells: podCells,
      };
    case "namespaces":
      return {
        columns: [NAME, col("Status"), col("Age")],
        cells: (now, o) => [
          o.metadata.name,
          fieldValue(o, "status.phase"),
          age(now, o.metadata.creationTimestamp ?? ""),
        ],
      };
    case "nodes":
      return {
        columns: [NAME, col("Status"), col("Roles"), col("Age"), col("Version")],
        cells: (now, o) => [
          o.metadata.name,
          nodeStatus(o),
          "<none>",
          age(now, o.metadata.creationTimestamp ?? ""),
          fieldValue(o, "status.nodeInfo.kubeletVersion"),
        ],
      };
    case "events":
      return {
        columns: [col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message")],
        cells: eventCells,
      };
    default:
      return { columns: [NAME, col("Age")], cells: ageOf };
  }
}

function rowObject(object: KubeObject, include: IncludeObject): unknown {
  if (include === "None") return undefined;
  if (include === "Object") return object;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata };
}

export interface TableOptions {
  readonly include: IncludeObject;
  readonly now: Date;
  readonly resourceVersion?: string;
  readonly continueToken?: string;
  /** Watch events after the first omit the column definitions, as the real server does. */
  readonly withColumns?: boolean;
}

export function toTable(
  def: ResourceDefinition,
  objects: readonly KubeObject[],
  options: TableOptions,
): Record<string, unknown> {
  const { columns, cells } = layout(def);
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: {
      ...(options.resourceVersion !== undefined ? { resourceVersion: options.resourceVersion } : {}),
      ...(options.continueToken !== undefined ? { continue: options.continueToken } : {}),
    },
    columnDefinitions: options.withColumns === false ? [] : columns,
    rows: objects.map((o) => ({ cells: cells(options.now, o), object: rowObject(o, options.include) })),
  };
}
