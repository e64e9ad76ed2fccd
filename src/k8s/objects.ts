// API objects parsed at the boundary into the port's types. The raw object is kept next to the
// parsed one where Plexus writes it back, so fields this code does not know survive the PUT.

import { z } from "zod";
import type { NetworkAttachmentDefinition, ObjectMeta, Pod } from "./port.js";

export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";
/** Set by the kubelet: "api" for pods from the API server, "file"/"http" for static pods. */
export const CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source";

export type JsonObject = { [key: string]: unknown };

const MetaSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  annotations: z.record(z.string(), z.string()).nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
});

const PodSchema = z.object({
  metadata: MetaSchema,
  spec: z.object({ nodeName: z.string().optional() }).nullish(),
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
  const { metadata, spec } = parsed.data;
  const nodeName = spec?.nodeName;
  return { pod: { metadata: toMeta(metadata), ...(nodeName !== undefined ? { spec: { nodeName } } : {}) }, raw: body };
}

export function parseNetworkAttachmentDefinition(body: unknown): NetworkAttachmentDefinition | string {
  const parsed = NadSchema.safeParse(body);
  if (!parsed.success)
    return `the API server answered with something that is not a NetworkAttachmentDefinition (${issueText(parsed.error)})`;
  const config = parsed.data.spec?.config;
  return { metadata: toMeta(parsed.data.metadata), ...(config !== undefined ? { spec: { config } } : {}) };
}

/** A static pod's mirror has a UID of its own, different from the one the runtime passes. */
export function isStaticPod(pod: Pod): boolean {
  const source = pod.metadata.annotations?.[CONFIG_SOURCE_ANNOTATION];
  return source !== undefined && source !== "api";
}

/** The raw pod with one annotation set; everything else is sent back as it came. */
export function withAnnotation(raw: JsonObject, key: string, value: string): JsonObject {
  const metadata = isJsonObject(raw["metadata"]) ? raw["metadata"] : {};
  const annotations = isJsonObject(metadata["annotations"]) ? metadata["annotations"] : {};
  return { ...raw, metadata: { ...metadata, annotations: { ...annotations, [key]: value } } };
}

function toMeta(m: z.infer<typeof MetaSchema>): ObjectMeta {
  return {
    name: m.name,
    namespace: m.namespace,
    ...(m.uid !== undefined ? { uid: m.uid } : {}),
    ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
  };
}

function issueText(error: z.ZodError | undefined): string {
  const issue = error?.issues[0];
  return issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "not a JSON object";
}

function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
