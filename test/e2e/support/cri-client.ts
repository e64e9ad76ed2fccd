// A small CRI v1 client: the RuntimeService calls a kubelet makes to run a pod's sandbox and
// its network (plus ImageService.ImageStatus), over @grpc/grpc-js to the runtime's unix
// socket, with the message definitions of test/e2e/fixtures/cri/runtime-v1-sandbox.proto
// (upstream's names and field numbers).
// Responses pass zod schemas (cri-schemas.ts) into readonly types.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { z } from "zod";
import {
  imageStatusResponse,
  listPodSandboxResponse,
  podSandboxStatusResponse,
  runPodSandboxResponse,
  statusResponse,
  versionResponse,
  type ImageInfo,
  type PodSandbox,
  type PodSandboxStatusResult,
  type RuntimeStatus,
  type SandboxState,
  type VersionInfo,
  containerStatusResponse,
  type ContainerStatusResult,
} from "./cri-schemas.js";
import { fixturePath } from "./static-binary.js";

export type {
  ContainerStatusResult,
  ImageInfo,
  PodSandbox,
  PodSandboxStatusResult,
  RuntimeStatus,
  SandboxState,
  VersionInfo,
} from "./cri-schemas.js";

export interface PortMapping {
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  readonly containerPort: number;
  readonly hostPort?: number;
  readonly hostIp?: string;
}

export interface SecurityProfile {
  readonly profileType: "RuntimeDefault" | "Unconfined" | "Localhost";
  readonly localhostRef?: string;
}

export interface LinuxSandboxSecurityContext {
  readonly namespaceOptions?: {
    readonly network?: "POD" | "NODE";
    readonly pid?: "POD" | "CONTAINER" | "NODE";
    readonly ipc?: "POD" | "NODE";
  };
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly readonlyRootfs?: boolean;
  readonly supplementalGroups?: readonly number[];
  readonly privileged?: boolean;
  readonly seccomp?: SecurityProfile;
  readonly apparmor?: SecurityProfile;
}

/** What a kubelet puts in PodSandboxConfig, in camelCase. Only metadata is required. */
export interface PodSandboxSpec {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly attempt?: number;
  readonly hostname?: string;
  readonly logDirectory?: string;
  readonly dnsConfig?: {
    readonly servers?: readonly string[];
    readonly searches?: readonly string[];
    readonly options?: readonly string[];
  };
  readonly portMappings?: readonly PortMapping[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly linux?: {
    readonly cgroupParent?: string;
    readonly securityContext?: LinuxSandboxSecurityContext;
    readonly sysctls?: Readonly<Record<string, string>>;
  };
  readonly runtimeHandler?: string;
}

export interface ContainerMount {
  readonly containerPath: string;
  readonly hostPath: string;
  readonly readonly?: boolean;
  readonly propagation?: "PROPAGATION_PRIVATE" | "PROPAGATION_HOST_TO_CONTAINER" | "PROPAGATION_BIDIRECTIONAL";
}

export interface LinuxContainerSecurityContext {
  readonly capabilities?: { readonly add?: readonly string[]; readonly drop?: readonly string[] };
  readonly privileged?: boolean;
  readonly namespaceOptions?: LinuxSandboxSecurityContext["namespaceOptions"];
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly readonlyRootfs?: boolean;
  readonly noNewPrivs?: boolean;
  readonly seccomp?: SecurityProfile;
  readonly apparmor?: SecurityProfile;
}

/** What a kubelet puts in ContainerConfig, in camelCase. */
export interface ContainerSpec {
  readonly name: string;
  readonly attempt?: number;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly envs?: readonly (readonly [string, string])[];
  readonly mounts?: readonly ContainerMount[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Relative to the sandbox's logDirectory. */
  readonly logPath?: string;
  readonly memoryLimitBytes?: number;
  readonly securityContext?: LinuxContainerSecurityContext;
}

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ListPodSandboxFilter {
  readonly id?: string;
  readonly state?: SandboxState;
  readonly labelSelector?: Readonly<Record<string, string>>;
}

/** A failed CRI call: the gRPC status code (grpc.status) and the runtime's message. */
export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
    options?: ErrorOptions,
  ) {
    super(`CRI ${method} failed (${grpc.status[code] ?? code}): ${details}`, options);
    this.name = "CriError";
  }
}

export interface CriClient {
  version(): Promise<VersionInfo>;
  runPodSandbox(spec: PodSandboxSpec): Promise<string>;
  podSandboxStatus(id: string, options?: { readonly verbose?: boolean }): Promise<PodSandboxStatusResult>;
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;
  listPodSandbox(filter?: ListPodSandboxFilter): Promise<readonly PodSandbox[]>;
  /** The runtime's conditions (RuntimeReady, NetworkReady) and, verbose, its info map. */
  status(options?: { readonly verbose?: boolean }): Promise<RuntimeStatus>;
  /** The image the runtime has under `ref`, or null (ImageService.ImageStatus). */
  imageStatus(ref: string): Promise<ImageInfo | null>;
  /** CreateContainer in a sandbox; `sandbox` is the PodSandboxConfig it was run with. */
  createContainer(sandboxId: string, spec: ContainerSpec, sandbox: PodSandboxSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after `timeoutSeconds` (the pod's grace period). */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  containerStatus(id: string): Promise<ContainerStatusResult>;
  /** A command in the running container (exec probes); `timeoutSeconds` 0 means none. */
  execSync(id: string, cmd: readonly string[], timeoutSeconds: number): Promise<ExecResult>;
  close(): void;
}

export interface CriClientOptions {
  /** Deadline of each call. Default 120 s (RunPodSandbox runs the whole CNI ADD). */
  readonly timeoutMs?: number;
}

const PROTO = fixturePath("cri", "runtime-v1-sandbox.proto");
const RUNTIME = "runtime.v1.RuntimeService";
const IMAGE = "runtime.v1.ImageService";

export function connectCri(socketPath: string, options: CriClientOptions = {}): CriClient {
  const definition = protoLoader.loadSync(PROTO, { keepCase: false, longs: String, enums: String, defaults: true });
  const client = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure());
  const timeoutMs = options.timeoutMs ?? 120_000;

  async function call<S extends z.ZodType>(
    serviceName: string,
    method: string,
    request: object,
    schema: S,
  ): Promise<z.output<S>> {
    const service = definition[serviceName];
    const def = service !== undefined && isService(service) ? service[method] : undefined;
    if (def === undefined) throw new Error(`${PROTO} defines no ${serviceName}/${method}`);
    const raw = await new Promise<unknown>((resolve, reject) => {
      client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, value) => {
          if (err) reject(new CriError(method, err.code, err.details, { cause: err }));
          else resolve(value);
        },
      );
    });
    return schema.parse(raw);
  }
  const runtime = <S extends z.ZodType>(method: string, request: object, schema: S) =>
    call(RUNTIME, method, request, schema);

  return {
    version: () => runtime("Version", { version: "v1" }, versionResponse),
    runPodSandbox: async (spec) =>
      (
        await runtime(
          "RunPodSandbox",
          { config: sandboxConfig(spec), runtimeHandler: spec.runtimeHandler ?? "" },
          runPodSandboxResponse,
        )
      ).podSandboxId,
    podSandboxStatus: (id, opts) =>
      runtime("PodSandboxStatus", { podSandboxId: id, verbose: opts?.verbose ?? false }, podSandboxStatusResponse),
    stopPodSandbox: async (id) => {
      await runtime("StopPodSandbox", { podSandboxId: id }, emptyResponse);
    },
    removePodSandbox: async (id) => {
      await runtime("RemovePodSandbox", { podSandboxId: id }, emptyResponse);
    },
    listPodSandbox: async (filter) =>
      (await runtime("ListPodSandbox", { filter: listFilter(filter) }, listPodSandboxResponse)).items,
    status: (opts) => runtime("Status", { verbose: opts?.verbose ?? false }, statusResponse),
    imageStatus: async (ref) =>
      (await call(IMAGE, "ImageStatus", { image: { image: ref } }, imageStatusResponse)).image,
    createContainer: async (sandboxId, spec, sandbox) =>
      (
        await runtime(
          "CreateContainer",
          { podSandboxId: sandboxId, config: containerConfig(spec), sandboxConfig: sandboxConfig(sandbox) },
          z.object({ containerId: z.string().min(1) }),
        )
      ).containerId,
    startContainer: async (id) => {
      await runtime("StartContainer", { containerId: id }, emptyResponse);
    },
    stopContainer: async (id, timeoutSeconds) => {
      await runtime("StopContainer", { containerId: id, timeout: String(timeoutSeconds) }, emptyResponse);
    },
    removeContainer: async (id) => {
      await runtime("RemoveContainer", { containerId: id }, emptyResponse);
    },
    containerStatus: async (id) =>
      (await runtime("ContainerStatus", { containerId: id }, containerStatusResponse)).status,
    execSync: async (id, cmd, timeoutSeconds) => {
      const r = await runtime(
        "ExecSync",
        { containerId: id, cmd: [...cmd], timeout: String(timeoutSeconds) },
        z.object({ stdout: z.instanceof(Buffer), stderr: z.instanceof(Buffer), exitCode: z.number() }),
      );
      return { exitCode: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    },
    close: () => client.close(),
  };
}

function sandboxConfig(spec: PodSandboxSpec): object {
  const sc = spec.linux?.securityContext;
  return {
    metadata: { name: spec.name, namespace: spec.namespace, uid: spec.uid, attempt: spec.attempt ?? 0 },
    hostname: spec.hostname ?? spec.name,
    logDirectory: spec.logDirectory ?? "",
    dnsConfig: spec.dnsConfig,
    portMappings: (spec.portMappings ?? []).map((p) => ({
      protocol: p.protocol ?? "TCP",
      containerPort: p.containerPort,
      hostPort: p.hostPort ?? 0,
      hostIp: p.hostIp ?? "",
    })),
    labels: spec.labels ?? {},
    annotations: spec.annotations ?? {},
    linux: {
      cgroupParent: spec.linux?.cgroupParent ?? "",
      sysctls: spec.linux?.sysctls ?? {},
      securityContext:
        sc === undefined
          ? undefined
          : {
              namespaceOptions: sc.namespaceOptions,
              runAsUser: sc.runAsUser === undefined ? undefined : { value: String(sc.runAsUser) },
              runAsGroup: sc.runAsGroup === undefined ? undefined : { value: String(sc.runAsGroup) },
              readonlyRootfs: sc.readonlyRootfs ?? false,
              supplementalGroups: (sc.supplementalGroups ?? []).map(String),
              privileged: sc.privileged ?? false,
              seccomp: sc.seccomp,
              apparmor: sc.apparmor,
            },
    },
  };
}

function containerConfig(spec: ContainerSpec): object {
  const sc = spec.securityContext;
  return {
    metadata: { name: spec.name, attempt: spec.attempt ?? 0 },
    image: { image: spec.image },
    command: [...(spec.command ?? [])],
    args: [...(spec.args ?? [])],
    envs: (spec.envs ?? []).map(([key, value]) => ({ key, value })),
    mounts: (spec.mounts ?? []).map((m) => ({
      containerPath: m.containerPath,
      hostPath: m.hostPath,
      readonly: m.readonly ?? false,
      propagation: m.propagation ?? "PROPAGATION_PRIVATE",
    })),
    labels: spec.labels ?? {},
    logPath: spec.logPath ?? "",
    linux: {
      resources:
        spec.memoryLimitBytes === undefined ? undefined : { memoryLimitInBytes: String(spec.memoryLimitBytes) },
      securityContext:
        sc === undefined
          ? undefined
          : {
              capabilities: sc.capabilities
                ? {
                    addCapabilities: [...(sc.capabilities.add ?? [])],
                    dropCapabilities: [...(sc.capabilities.drop ?? [])],
                  }
                : undefined,
              privileged: sc.privileged ?? false,
              namespaceOptions: sc.namespaceOptions,
              runAsUser: sc.runAsUser === undefined ? undefined : { value: String(sc.runAsUser) },
              runAsGroup: sc.runAsGroup === undefined ? undefined : { value: String(sc.runAsGroup) },
              readonlyRootfs: sc.readonlyRootfs ?? false,
              noNewPrivs: sc.noNewPrivs ?? false,
              seccomp: sc.seccomp,
              apparmor: sc.apparmor,
            },
    },
  };
}

function listFilter(filter: ListPodSandboxFilter | undefined): object | undefined {
  if (filter === undefined) return undefined;
  return {
    id: filter.id ?? "",
    state: filter.state === undefined ? undefined : { state: filter.state },
    labelSelector: filter.labelSelector ?? {},
  };
}

const emptyResponse = z.unknown();

function isService(value: protoLoader.AnyDefinition): value is protoLoader.ServiceDefinition {
  // Message and enum definitions carry a `format`; a service is a plain map of methods.
  return !("format" in value);
}
