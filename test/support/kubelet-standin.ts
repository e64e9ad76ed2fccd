// A STAND-IN for the kubelet's pod-resources API (no kubelet can run here): the real v1
// PodResourcesLister service (test/fixtures/kubelet/podresources-v1.proto, Kubernetes' own
// file) served with real gRPC (@grpc/grpc-js, messages encoded by protobufjs through
// @grpc/proto-loader) on a unix socket, with what a device plugin would have allocated.
//
//   const kubelet = await startKubeletStandin(join(dir, "kubelet.sock"));
//   kubelet.setPod("team-a", "vf-0", [{ container: "c", resource: "intel.com/sriov", ids: ["0000:18:02.5"] }]);
//   kubelet.get = "disabled";        // Get as a kubelet with KubeletPodResourcesGet off answers
//   kubelet.exhaust = 2;             // the next 2 calls answer RESOURCE_EXHAUSTED (rate limit)
//   kubelet.calls                    // ["Get", "List", ...]
//   await kubelet.stop();

import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO = fileURLToPath(new URL("../fixtures/kubelet/podresources-v1.proto", import.meta.url));

export interface Allocation {
  readonly container: string;
  readonly resource: string;
  readonly ids: readonly string[];
}

export interface KubeletStandin {
  readonly socket: string;
  /** How Get answers: served; UNIMPLEMENTED (a kubelet before 1.27); UNKNOWN "disabled" (the gate off). */
  get: "served" | "unimplemented" | "disabled";
  /** How many of the next calls answer RESOURCE_EXHAUSTED (the kubelet's rate limit). */
  exhaust: number;
  /** Every call's method, in order. */
  readonly calls: string[];
  setPod(namespace: string, name: string, allocations: readonly Allocation[]): void;
  stop(): Promise<void>;
}

interface Topology {
  nodes: { ID: string }[];
}

interface PodMessage {
  name: string;
  namespace: string;
  containers: {
    name: string;
    devices: { resource_name: string; device_ids: string[]; topology: Topology }[];
    cpu_ids: string[];
    memory: { memory_type: string; size: string; topology: Topology }[];
    dynamic_resources: {
      claim_name: string;
      claim_namespace: string;
      claim_resources: {
        cdi_devices: { name: string }[];
        driver_name: string;
        pool_name: string;
        device_name: string;
      }[];
    }[];
  }[];
}

export async function startKubeletStandin(socket: string): Promise<KubeletStandin> {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, defaults: true });
  const v1 = grpc.loadPackageDefinition(definition)["v1"] as grpc.GrpcObject;
  const lister = v1["PodResourcesLister"] as grpc.ServiceClientConstructor;
  const pods = new Map<string, PodMessage>();
  const server = new grpc.Server();
  const self: KubeletStandin = {
    socket,
    get: "served",
    exhaust: 0,
    calls: [],
    setPod(namespace, name, allocations) {
      const numa0 = { nodes: [{ ID: "0" }] };
      const byContainer = new Map<string, PodMessage["containers"][number]["devices"]>();
      for (const a of allocations) {
        byContainer.set(a.container, [
          ...(byContainer.get(a.container) ?? []),
          // With the NUMA node a topology-aware device plugin (SR-IOV's) reports.
          { resource_name: a.resource, device_ids: [...a.ids], topology: numa0 },
        ]);
      }
      pods.set(`${namespace}/${name}`, {
        name,
        namespace,
        // The fields Plexus must skip, as a kubelet fills them: cpu_ids with the static CPU
        // manager, memory with the static memory manager, dynamic_resources for a DRA claim.
        containers: [...byContainer].map(([c, devices]) => ({
          name: c,
          devices,
          cpu_ids: ["2", "3"],
          memory: [{ memory_type: "hugepages-1Gi", size: "1073741824", topology: numa0 }],
          dynamic_resources: [
            {
              claim_name: `${name}-gpu`,
              claim_namespace: namespace,
              claim_resources: [
                {
                  cdi_devices: [{ name: "example.com/gpu=gpu-0" }],
                  driver_name: "gpu.example.com",
                  pool_name: "node",
                  device_name: "gpu-0",
                },
              ],
            },
          ],
        })),
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
  /** RESOURCE_EXHAUSTED while `exhaust` lasts, as the kubelet's rate limiter answers. */
  const limited = (method: string, callback: grpc.sendUnaryData<unknown>): boolean => {
    self.calls.push(method);
    if (self.exhaust <= 0) return false;
    self.exhaust--;
    callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: "rejected by rate limit" });
    return true;
  };
  const handlers: Record<string, grpc.UntypedHandleCall> = {
    List: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
      if (limited("List", callback)) return;
      callback(null, { pod_resources: [...pods.values()] });
    },
    GetAllocatableResources: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
      self.calls.push("GetAllocatableResources");
      callback(null, { devices: [] });
    },
    Get: (
      call: grpc.ServerUnaryCall<{ pod_name: string; pod_namespace: string }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      if (self.get === "unimplemented") {
        self.calls.push("Get");
        callback({ code: grpc.status.UNIMPLEMENTED, details: "unknown method Get for service v1.PodResourcesLister" });
        return;
      }
      if (self.get === "disabled") {
        self.calls.push("Get");
        // What the kubelet returns with KubeletPodResourcesGet off: a plain Go error, code Unknown.
        callback({ code: grpc.status.UNKNOWN, details: "PodResources API Get method disabled" });
        return;
      }
      if (limited("Get", callback)) return;
      const pod = pods.get(`${call.request.pod_namespace}/${call.request.pod_name}`);
      if (!pod) {
        callback({
          code: grpc.status.UNKNOWN,
          details: `pod ${call.request.pod_name} in namespace ${call.request.pod_namespace} not found`,
        });
        return;
      }
      callback(null, { pod_resources: pod });
    },
  };
  server.addService(lister.service, handlers);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return self;
}
