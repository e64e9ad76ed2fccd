// The DaemonSet's pod on the e2e node, run the way a kubelet runs it: deploy/ built by kubectl's
// own kustomize (the `images:` rewrite included), its pod spec turned into CRI calls, nothing
// copied by hand. What a kubelet adds is added the same way: the downward-API env, $(VAR)
// expansion in command and args, KUBERNETES_SERVICE_HOST/PORT, the service account token
// mount, hostPath dirs created per their type, ConfigMap and emptyDir volumes as files, the
// security context, memory limits, and the probes (exec through CRI ExecSync, httpGet from the
// node). The node must have been started with `hostCniPaths` (the hostPath volumes name the
// paths a real node has).
//
//   const ds = await loadDaemonSet(repoRoot);                       // kubectl kustomize deploy/
//   const pod = await runDaemonSetPod(h, ds, { api, serviceAccountDir, uid });
//   await pod.waitReady();  pod.containerLog("daemon");  await pod.stop();

import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { z } from "zod";
import { parseYamlDocuments } from "../../../src/local/yaml.js";
import type { ContainerdHandle } from "./containerd.js";
import type {
  ContainerMount,
  ContainerSpec,
  ExecResult,
  LinuxContainerSecurityContext,
  PodSandboxSpec,
} from "./cri-client.js";

const exec = promisify(execFile);

const EnvVar = z.object({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z.object({ fieldRef: z.object({ fieldPath: z.string() }) }).optional(),
});
const Probe = z.object({
  exec: z.object({ command: z.array(z.string()) }).optional(),
  httpGet: z.object({ path: z.string(), port: z.union([z.number(), z.string()]) }).optional(),
  periodSeconds: z.number().default(10),
  timeoutSeconds: z.number().default(1),
  initialDelaySeconds: z.number().default(0),
  failureThreshold: z.number().default(3),
});
const Container = z.object({
  name: z.string(),
  image: z.string(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).default([]),
  env: z.array(EnvVar).default([]),
  ports: z.array(z.object({ name: z.string().optional(), containerPort: z.number() })).default([]),
  resources: z.object({ limits: z.record(z.string(), z.string()).optional() }).default({}),
  readinessProbe: Probe.optional(),
  livenessProbe: Probe.optional(),
  securityContext: z
    .object({
      runAsUser: z.number().optional(),
      runAsGroup: z.number().optional(),
      privileged: z.boolean().optional(),
      allowPrivilegeEscalation: z.boolean().optional(),
      readOnlyRootFilesystem: z.boolean().optional(),
      capabilities: z.object({ add: z.array(z.string()).optional(), drop: z.array(z.string()).optional() }).optional(),
      seccompProfile: z.object({ type: z.string() }).optional(),
    })
    .default({}),
  volumeMounts: z
    .array(
      z.object({
        name: z.string(),
        mountPath: z.string(),
        readOnly: z.boolean().optional(),
        mountPropagation: z.enum(["None", "HostToContainer", "Bidirectional"]).optional(),
        subPath: z.string().optional(),
      }),
    )
    .default([]),
});
export type DaemonSetContainer = z.infer<typeof Container>;
const Volume = z.object({
  name: z.string(),
  hostPath: z.object({ path: z.string(), type: z.string().optional() }).optional(),
  configMap: z.object({ name: z.string() }).optional(),
  emptyDir: z.object({ medium: z.string().optional() }).optional(),
});
const DaemonSet = z.object({
  kind: z.literal("DaemonSet"),
  metadata: z.object({ name: z.string(), namespace: z.string() }),
  spec: z.object({
    template: z.object({
      spec: z.object({
        hostNetwork: z.boolean().default(false),
        hostPID: z.boolean().default(false),
        terminationGracePeriodSeconds: z.number().default(30),
        initContainers: z.array(Container).default([]),
        containers: z.array(Container),
        volumes: z.array(Volume).default([]),
        securityContext: z.object({ seccompProfile: z.object({ type: z.string() }).optional() }).default({}),
      }),
    }),
  }),
});
export type DaemonSetManifest = z.infer<typeof DaemonSet>;

export interface DeployManifests {
  readonly daemonSet: DaemonSetManifest;
  /** ConfigMaps by name: their data. */
  readonly configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/** deploy/ as `kubectl kustomize` builds it (what `kubectl apply -k deploy/` would send). */
export async function loadDeployManifests(repoRoot: string, kubectl = "/usr/bin/kubectl"): Promise<DeployManifests> {
  const { stdout } = await exec(kubectl, ["kustomize", join(repoRoot, "deploy")], { maxBuffer: 8 << 20 });
  const docs = parseYamlDocuments(stdout) as {
    kind?: string;
    metadata?: { name?: string };
    data?: Record<string, string>;
  }[];
  const daemonSet = DaemonSet.parse(docs.find((d) => d.kind === "DaemonSet"));
  const configMaps = new Map(
    docs.filter((d) => d.kind === "ConfigMap").map((d) => [d.metadata?.name ?? "", d.data ?? {}] as const),
  );
  return { daemonSet, configMaps };
}

export interface RunOptions {
  /** The pod's identity (the object must exist in the API for the agent's events). */
  readonly podName: string;
  readonly podUid: string;
  readonly nodeName: string;
  /** The node's address: status.hostIP, and the pod's IP with hostNetwork. */
  readonly hostIp: string;
  /** KUBERNETES_SERVICE_HOST / _PORT as the node reaches the API server. */
  readonly apiHost: string;
  readonly apiPort: number;
  /** token, ca.crt, namespace: mounted where a kubelet mounts the service account. */
  readonly serviceAccountDir: string;
}

export interface DaemonSetPod {
  readonly sandboxId: string;
  readonly containers: ReadonlyMap<string, string>;
  /** Until every container's readiness probe passes (and no container exited). */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Each liveness probe once; the failures. */
  liveness(): Promise<string[]>;
  /** What the container wrote to stdout and stderr (CRI log format). */
  containerLog(name: string): Promise<string>;
  /** A command in a running container, as `kubectl exec` runs it (CRI ExecSync). */
  exec(name: string, cmd: readonly string[]): Promise<ExecResult>;
  /** StopContainer with the pod's grace period, for each container, then the sandbox. */
  stop(): Promise<void>;
}

const SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

export async function runDaemonSetPod(
  h: ContainerdHandle,
  manifests: DeployManifests,
  o: RunOptions,
): Promise<DaemonSetPod> {
  const ds = manifests.daemonSet;
  const spec = ds.spec.template.spec;
  const dir = join(h.paths.runDir, "daemonset-pod");
  const logDirectory = join(dir, "logs");
  await mkdir(logDirectory, { recursive: true });
  const volumes = await prepareVolumes(h, manifests, spec.volumes, dir);
  const network = spec.hostNetwork ? "NODE" : "POD";
  // A kubelet gives v1 pods a PID namespace per container unless hostPID.
  const pid = spec.hostPID ? "NODE" : "CONTAINER";
  const podSeccomp = spec.securityContext.seccompProfile?.type;
  const sandbox: PodSandboxSpec = {
    name: o.podName,
    namespace: ds.metadata.namespace,
    uid: o.podUid,
    // A kubelet sets a hostname only for pods with a network namespace of their own.
    hostname: spec.hostNetwork ? "" : o.podName,
    logDirectory,
    labels: { "io.kubernetes.pod.name": o.podName },
    linux: {
      cgroupParent: h.cgroupParent,
      securityContext: {
        namespaceOptions: { network, pid, ipc: "POD" },
        privileged: [...spec.initContainers, ...spec.containers].some((c) => c.securityContext.privileged),
        ...(podSeccomp ? { seccomp: { profileType: profileType(podSeccomp) } } : {}),
      },
    },
  };
  const sandboxId = await h.cri.runPodSandbox(sandbox);
  const ids = new Map<string, string>();
  const start = async (c: DaemonSetContainer): Promise<string> => {
    const id = await h.cri.createContainer(sandboxId, containerSpec(c, volumes, o, network, pid), sandbox);
    await h.cri.startContainer(id);
    ids.set(c.name, id);
    return id;
  };
  const logOf = async (name: string): Promise<string> =>
    readFile(join(logDirectory, `${name}.log`), "utf8").catch(() => "(no log)");
  // Init containers run to completion, one after the other, before the others start.
  for (const c of spec.initContainers) {
    const id = await start(c);
    const status = await waitFor(`init container ${c.name} to finish`, 120_000, async () => {
      const s = await h.cri.containerStatus(id);
      return s.state === "CONTAINER_EXITED" ? s : undefined;
    });
    if (status.exitCode !== 0)
      throw new Error(`init container ${c.name} exited ${status.exitCode}:\n${await logOf(c.name)}`);
  }
  for (const c of spec.containers) await start(c);

  const probe = async (c: DaemonSetContainer, p: z.infer<typeof Probe>): Promise<string | undefined> => {
    const id = ids.get(c.name) as string;
    if (p.exec) {
      const r = await h.cri.execSync(id, p.exec.command, p.timeoutSeconds);
      return r.exitCode === 0 ? undefined : `exec ${p.exec.command.join(" ")}: exit ${r.exitCode}: ${r.stderr.trim()}`;
    }
    if (p.httpGet) {
      const port =
        typeof p.httpGet.port === "number"
          ? p.httpGet.port
          : c.ports.find((x) => x.name === p.httpGet?.port)?.containerPort;
      const url = `http://${o.hostIp}:${port}${p.httpGet.path}`;
      const r = await h.execInNode(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", String(p.timeoutSeconds), url],
        { allowFailure: true },
      );
      const code = Number(r.stdout.trim());
      return code >= 200 && code < 400 ? undefined : `GET ${url}: ${r.stdout.trim() || r.stderr.trim()}`;
    }
    return "a probe with neither exec nor httpGet";
  };
  return {
    sandboxId,
    containers: ids,
    waitReady: async (timeoutMs = 120_000) => {
      let last = "";
      await waitFor("the DaemonSet's pod to be ready", timeoutMs, async () => {
        const problems: string[] = [];
        for (const c of spec.containers) {
          const s = await h.cri.containerStatus(ids.get(c.name) as string);
          if (s.state !== "CONTAINER_RUNNING")
            throw new Error(`container ${c.name} is ${s.state} (exit ${s.exitCode}):\n${await logOf(c.name)}`);
          if (c.readinessProbe) {
            const problem = await probe(c, c.readinessProbe);
            if (problem) problems.push(`${c.name}: ${problem}`);
          }
        }
        last = problems.join("; ");
        return problems.length === 0 ? true : undefined;
      }).catch(async (err: unknown) => {
        const logs = await Promise.all(spec.containers.map(async (c) => `--- ${c.name} ---\n${await logOf(c.name)}`));
        throw new Error(`${(err as Error).message} (${last})\n${logs.join("\n")}`);
      });
    },
    liveness: async () => {
      const failures: string[] = [];
      for (const c of spec.containers) {
        const problem = c.livenessProbe ? await probe(c, c.livenessProbe) : undefined;
        if (problem) failures.push(`${c.name}: ${problem}`);
      }
      return failures;
    },
    containerLog: logOf,
    exec: (name, cmd) => h.cri.execSync(ids.get(name) as string, cmd, 30),
    stop: async () => {
      for (const id of ids.values()) await h.cri.stopContainer(id, spec.terminationGracePeriodSeconds);
      await h.cri.stopPodSandbox(sandboxId);
      await h.cri.removePodSandbox(sandboxId);
    },
  };
}

interface PreparedVolume {
  readonly hostPath: string;
}

/** Each volume as a path on the node: hostPath as is (created per its type), the others as files in `dir`. */
async function prepareVolumes(
  h: ContainerdHandle,
  manifests: DeployManifests,
  volumes: readonly z.infer<typeof Volume>[],
  dir: string,
): Promise<Map<string, PreparedVolume>> {
  const out = new Map<string, PreparedVolume>();
  for (const v of volumes) {
    if (v.hostPath) {
      const type = v.hostPath.type ?? "";
      if (type === "DirectoryOrCreate" || type === "") await h.execInNode(["mkdir", "-p", v.hostPath.path]);
      else if (type === "Directory") {
        const r = await h.execInNode(["test", "-d", v.hostPath.path], { allowFailure: true });
        if (r.code !== 0) throw new Error(`hostPath ${v.hostPath.path} (type Directory) does not exist on the node`);
      } else throw new Error(`hostPath type ${type} is not handled here`);
      out.set(v.name, { hostPath: v.hostPath.path });
    } else if (v.configMap) {
      const data = manifests.configMaps.get(v.configMap.name);
      if (!data) throw new Error(`ConfigMap ${v.configMap.name} is not in deploy/`);
      const path = join(dir, "configmaps", v.name);
      await mkdir(path, { recursive: true });
      for (const [key, value] of Object.entries(data)) await writeFile(join(path, key), value);
      out.set(v.name, { hostPath: path });
    } else if (v.emptyDir) {
      const path = join(dir, "emptydirs", v.name);
      await mkdir(path, { recursive: true });
      out.set(v.name, { hostPath: path });
    } else {
      throw new Error(`volume ${v.name}: only hostPath, configMap and emptyDir are handled here`);
    }
  }
  return out;
}

function containerSpec(
  c: DaemonSetContainer,
  volumes: ReadonlyMap<string, PreparedVolume>,
  o: RunOptions,
  network: "NODE" | "POD",
  pid: "NODE" | "CONTAINER",
): ContainerSpec {
  const env = new Map<string, string>();
  const field: Record<string, string> = {
    "metadata.name": o.podName,
    "metadata.namespace": "kube-system",
    "metadata.uid": o.podUid,
    "spec.nodeName": o.nodeName,
    "status.hostIP": o.hostIp,
    "status.podIP": o.hostIp,
  };
  for (const e of c.env) {
    const value = e.valueFrom ? field[e.valueFrom.fieldRef.fieldPath] : expand(e.value ?? "", env);
    if (value === undefined)
      throw new Error(`env ${e.name}: fieldRef ${e.valueFrom?.fieldRef.fieldPath} is not handled here`);
    env.set(e.name, value);
  }
  // What a kubelet adds (service environment variables of the default/kubernetes service).
  env.set("KUBERNETES_SERVICE_HOST", o.apiHost);
  env.set("KUBERNETES_SERVICE_PORT", String(o.apiPort));
  const mounts: ContainerMount[] = c.volumeMounts.map((m) => {
    if (m.subPath !== undefined)
      throw new Error(`container ${c.name}: volumeMount ${m.name}: subPath is not handled here`);
    const v = volumes.get(m.name);
    if (!v) throw new Error(`container ${c.name}: volumeMount ${m.name} names no volume`);
    return {
      containerPath: m.mountPath,
      hostPath: v.hostPath,
      readonly: m.readOnly ?? false,
      propagation:
        m.mountPropagation === "HostToContainer"
          ? "PROPAGATION_HOST_TO_CONTAINER"
          : m.mountPropagation === "Bidirectional"
            ? "PROPAGATION_BIDIRECTIONAL"
            : "PROPAGATION_PRIVATE",
    };
  });
  mounts.push({ containerPath: SA_MOUNT, hostPath: o.serviceAccountDir, readonly: true });
  const sc = c.securityContext;
  const securityContext: LinuxContainerSecurityContext = {
    namespaceOptions: { network, pid, ipc: "POD" },
    ...(sc.privileged !== undefined ? { privileged: sc.privileged } : {}),
    ...(sc.runAsUser !== undefined ? { runAsUser: sc.runAsUser } : {}),
    ...(sc.runAsGroup !== undefined ? { runAsGroup: sc.runAsGroup } : {}),
    ...(sc.readOnlyRootFilesystem !== undefined ? { readonlyRootfs: sc.readOnlyRootFilesystem } : {}),
    // Kubernetes: allowPrivilegeEscalation false is no_new_privs.
    ...(sc.allowPrivilegeEscalation === false ? { noNewPrivs: true } : {}),
    ...(sc.capabilities ? { capabilities: { add: sc.capabilities.add ?? [], drop: sc.capabilities.drop ?? [] } } : {}),
    ...(sc.seccompProfile ? { seccomp: { profileType: profileType(sc.seccompProfile.type) } } : {}),
  };
  const memory = c.resources.limits?.["memory"];
  return {
    name: c.name,
    image: c.image,
    ...(c.command ? { command: c.command.map((a) => expand(a, env)) } : {}),
    args: c.args.map((a) => expand(a, env)),
    envs: [...env.entries()],
    mounts,
    logPath: `${c.name}.log`,
    ...(memory ? { memoryLimitBytes: quantityBytes(memory) } : {}),
    securityContext,
  };
}

/** Kubernetes's $(VAR) expansion in command, args and env values; $$ is a literal $. */
export function expand(text: string, env: ReadonlyMap<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string | undefined) =>
    name === undefined ? "$" : (env.get(name) ?? all),
  );
}

function quantityBytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`memory quantity ${q} is not handled here`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit;
}

function profileType(type: string): "RuntimeDefault" | "Unconfined" | "Localhost" {
  if (type === "RuntimeDefault" || type === "Unconfined" || type === "Localhost") return type;
  throw new Error(`seccomp profile type ${type} is not handled here`);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
