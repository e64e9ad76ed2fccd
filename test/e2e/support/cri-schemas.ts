// The CRI responses the harness reads, as zod schemas over what @grpc/proto-loader decodes
// (camelCase fields, enums as names, int64 as decimal strings, every field present).
import { z } from "zod";

const stringMap = z.record(z.string(), z.string());

export const sandboxState = z.enum(["SANDBOX_READY", "SANDBOX_NOTREADY"]);
export type SandboxState = z.infer<typeof sandboxState>;

const metadata = z.object({ name: z.string(), uid: z.string(), namespace: z.string(), attempt: z.number() });

export const versionResponse = z
  .object({ version: z.string(), runtimeName: z.string(), runtimeVersion: z.string(), runtimeApiVersion: z.string() })
  .readonly();
export type VersionInfo = z.infer<typeof versionResponse>;

export const runPodSandboxResponse = z.object({ podSandboxId: z.string().min(1) });

const podSandboxStatus = z
  .object({
    id: z.string(),
    metadata,
    state: sandboxState,
    createdAt: z.string(),
    // Absent (null) when the sandbox has no network status, e.g. host network.
    network: z
      .object({ ip: z.string(), additionalIps: z.array(z.object({ ip: z.string() }).transform((p) => p.ip)) })
      .nullable(),
    labels: stringMap,
    annotations: stringMap,
    runtimeHandler: z.string(),
  })
  .readonly();

/**
 * containerd's verbose sandbox info (the JSON under info["info"]): the sandbox process's pid
 * as containerd sees it (in the harness's node PID namespace), the netns path from the OCI
 * spec, and the CNI result it kept. Keys containerd adds later are kept as they come.
 */
export const sandboxVerboseInfo = z
  .looseObject({
    pid: z.number(),
    netNamespaceClosed: z.boolean().optional(),
    runtimeSpec: z
      .looseObject({
        linux: z
          .looseObject({ namespaces: z.array(z.object({ type: z.string(), path: z.string().optional() })).optional() })
          .optional(),
      })
      .optional(),
    cniResult: z.unknown().optional(),
  })
  .transform((info) => ({
    ...info,
    netnsPath: info.runtimeSpec?.linux?.namespaces?.find((n) => n.type === "network")?.path,
  }));
export type SandboxVerboseInfo = z.infer<typeof sandboxVerboseInfo>;

export const podSandboxStatusResponse = z
  .object({ status: podSandboxStatus, info: stringMap })
  .transform(({ status, info }) => {
    const raw = info["info"];
    return { status, info, verbose: raw === undefined ? undefined : sandboxVerboseInfo.parse(JSON.parse(raw)) };
  });
export type PodSandboxStatusResult = z.infer<typeof podSandboxStatusResponse>;

const podSandbox = z
  .object({
    id: z.string(),
    metadata,
    state: sandboxState,
    createdAt: z.string(),
    labels: stringMap,
    annotations: stringMap,
    runtimeHandler: z.string(),
  })
  .readonly();
export type PodSandbox = z.infer<typeof podSandbox>;

export const listPodSandboxResponse = z.object({ items: z.array(podSandbox).readonly() });

const condition = z
  .object({ type: z.string(), status: z.boolean(), reason: z.string(), message: z.string() })
  .readonly();

export const statusResponse = z
  .object({ status: z.object({ conditions: z.array(condition).readonly() }), info: stringMap })
  .transform(({ status, info }) => ({ conditions: status.conditions, info }));
export type RuntimeStatus = z.infer<typeof statusResponse>;

const image = z
  .object({
    id: z.string(),
    repoTags: z.array(z.string()).readonly(),
    repoDigests: z.array(z.string()).readonly(),
    size: z.string(),
  })
  .readonly();
export type ImageInfo = z.infer<typeof image>;

export const imageStatusResponse = z.object({ image: image.nullable() });

export const containerState = z.enum([
  "CONTAINER_CREATED",
  "CONTAINER_RUNNING",
  "CONTAINER_EXITED",
  "CONTAINER_UNKNOWN",
]);

export const containerStatusResponse = z.object({
  status: z
    .object({
      id: z.string(),
      state: containerState,
      exitCode: z.number(),
      reason: z.string(),
      message: z.string(),
      logPath: z.string(),
    })
    .readonly(),
});
export type ContainerStatusResult = z.infer<typeof containerStatusResponse>["status"];
