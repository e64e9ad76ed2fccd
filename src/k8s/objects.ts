// API objects parsed at the boundary into the port's types. The raw object is kept next to the
// parsed one where Plexus writes it back, so fields this code does not know survive the PUT.

import { z } from "zod";
import type { NetworkAttachmentDefinition, ObjectMeta, Pod } from "./port.js";

export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";
/** Set by the kubelet: "api" for pods from the API server, "file"/"http" for static pods. */
const CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source";

export type JsonObject = { [key: string]: unknown };

const MetaSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  annotations: z.record(z.string(), z.string()).nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
  deletionTimestamp: z.string().nullish(),
});

const PodSchema = z.object({
  metadata: MetaSchema,
  spec: z.object({ nodeName: z.string().optional() }).nullish(),
  status: z.object({ phase: z.string().optional() }).nullish(),
});

const NadSchema = z.object({
  metadata: MetaSchema,
  spec: z.object({ config: z.string().optional() }).nullish(),
});

export interface ParsedPod {
  readonly pod: Pod;
  readonly raw: JsonObject;
}

/** Why the body is not a pod, or the pod. */
export function parsePod(body: unknown): ParsedPod | string {
  const parsed = PodSchema.safeParse(body);
  if (!parsed.success || !isJsonObject(body))
    return `the API server answered with something that is not a Pod (${issueText(parsed.error)})`;
  return { pod: podOf(parsed.data, toMeta(parsed.data.metadata)), raw: body };
}

function podOf(parsed: z.infer<typeof PodSchema>, metadata: ObjectMeta): Pod {
  const nodeName = parsed.spec?.nodeName;
  const phase = parsed.status?.phase;
  return {
    metadata,
    ...(nodeName !== undefined ? { spec: { nodeName } } : {}),
    ...(phase !== undefined ? { status: { phase } } : {}),
  };
}

/**
 * The pod annotations a cached pod keeps: the selection and status annotations (multi-net spec
 * §4.1, §5), Multus's default-network, the kubelet's config.source (static pods), and Plexus's
 * own (plexus.dev and its subdomains). Everything else on a pod (labels, other tools'
 * annotations, the whole spec and status) is dropped at the cache's door: a node has up to 110
 * pods and the daemon needs a few hundred bytes of each.
 */
function isRetainedPodAnnotation(key: string): boolean {
  const slash = key.indexOf("/");
  const prefix = slash < 0 ? "" : key.slice(0, slash);
  return (
    prefix === "k8s.v1.cni.cncf.io" ||
    prefix === "v1.multus-cni.io" ||
    key === CONFIG_SOURCE_ANNOTATION ||
    prefix === "plexus.dev" ||
    prefix.endsWith(".plexus.dev")
  );
}

/** NAD annotations a cached NAD keeps: k8s.v1.cni.cncf.io/resourceName and its siblings. */
function isRetainedNadAnnotation(key: string): boolean {
  return key.startsWith("k8s.v1.cni.cncf.io/");
}

/** A pod as the watch cache keeps it: what the engine reads, nothing else. */
export function trimPod(body: unknown): Pod | string {
  const parsed = PodSchema.safeParse(body);
  if (!parsed.success) return `not a Pod (${issueText(parsed.error)})`;
  return podOf(parsed.data, toMeta(parsed.data.metadata, isRetainedPodAnnotation, false));
}

/** A NetworkAttachmentDefinition as the watch cache keeps it: metadata, spec.config, its own annotations. */
export function trimNetworkAttachmentDefinition(body: unknown): NetworkAttachmentDefinition | string {
  const parsed = NadSchema.safeParse(body);
  if (!parsed.success) return `not a NetworkAttachmentDefinition (${issueText(parsed.error)})`;
  const config = parsed.data.spec?.config;
  return {
    metadata: toMeta(parsed.data.metadata, isRetainedNadAnnotation, false),
    ...(config !== undefined ? { spec: { config } } : {}),
  };
}

export function parseNetworkAttachmentDefinition(body: unknown): NetworkAttachmentDefinition | string {
  const parsed = NadSchema.safeParse(body);
  if (!parsed.success)
    return (
      `the API server answered with something that is not a ` +
      `NetworkAttachmentDefinition (${issueText(parsed.error)})`
    );
  const config = parsed.data.spec?.config;
  return { metadata: toMeta(parsed.data.metadata), ...(config !== undefined ? { spec: { config } } : {}) };
}

/** A static pod's mirror has a UID of its own, different from the one the runtime passes. */
export function isStaticPod(pod: Pod): boolean {
  const source = pod.metadata.annotations?.[CONFIG_SOURCE_ANNOTATION];
  return source !== undefined && source !== "api";
}

function toMeta(
  m: z.infer<typeof MetaSchema>,
  keepAnnotation: (key: string) => boolean = () => true,
  keepLabels = true,
): ObjectMeta {
  const annotations = m.annotations ? pick(m.annotations, keepAnnotation) : undefined;
  return {
    name: m.name,
    namespace: m.namespace,
    ...(m.uid !== undefined ? { uid: m.uid } : {}),
    ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
    ...(annotations ? { annotations } : {}),
    ...(m.labels && keepLabels ? { labels: m.labels } : {}),
    ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
  };
}

/** The entries whose key passes; undefined when none does (no empty objects kept in a cache). */
function pick(map: Record<string, string>, keep: (key: string) => boolean): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [key, value] of Object.entries(map)) {
    if (!keep(key)) continue;
    (out ??= {})[key] = value;
  }
  return out;
}

function issueText(error: z.ZodError | undefined): string {
  const issue = error?.issues[0];
  return issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "not a JSON object";
}

function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
