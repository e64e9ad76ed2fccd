// The hand-written codec of the kubelet's pod-resources messages against protobufjs (through
// @grpc/proto-loader) with Kubernetes' own api.proto: what the real encoder writes, Plexus reads,
// including fields it skips (cpu_ids, memory, topology, dynamic_resources) and fields the proto
// may gain later.

import { fileURLToPath } from "node:url";
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import {
  decodeGetResponse,
  decodeListResponse,
  encodeGetRequest,
  encodeListRequest,
  ProtobufError,
} from "../../src/kubelet/pod-resources-proto.js";

const PROTO = fileURLToPath(new URL("../fixtures/kubelet/podresources-v1.proto", import.meta.url));
const service = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, defaults: true })[
  "v1.PodResourcesLister"
] as unknown as Record<string, protoLoader.MethodDefinition<object, object, GetRequest>>;

interface GetRequest {
  readonly pod_name: string;
  readonly pod_namespace: string;
}
const list = service["List"]!;
const get = service["Get"]!;

const POD = {
  name: "vf-0",
  namespace: "team-a",
  containers: [
    {
      name: "app",
      devices: [
        {
          resource_name: "intel.com/sriov",
          device_ids: ["0000:18:02.5", "0000:18:02.3"],
          topology: { nodes: [{ ID: "1" }] },
        },
        { resource_name: "nvidia.com/gpu", device_ids: ["GPU-1"] },
      ],
      cpu_ids: ["2", "3", "-1"],
      memory: [{ memory_type: "hugepages-1Gi", size: "1073741824", topology: { nodes: [{ ID: "0" }] } }],
      dynamic_resources: [
        {
          claim_name: "c",
          claim_namespace: "team-a",
          claim_resources: [{ cdi_devices: [{ name: "v/gpu=1" }], driver_name: "d" }],
        },
      ],
    },
    { name: "sidecar", devices: [{ resource_name: "intel.com/sriov", device_ids: ["0000:18:02.7"] }] },
  ],
};

const EXPECTED = {
  name: "vf-0",
  namespace: "team-a",
  containers: [
    {
      name: "app",
      devices: [
        { resourceName: "intel.com/sriov", deviceIds: ["0000:18:02.5", "0000:18:02.3"] },
        { resourceName: "nvidia.com/gpu", deviceIds: ["GPU-1"] },
      ],
    },
    { name: "sidecar", devices: [{ resourceName: "intel.com/sriov", deviceIds: ["0000:18:02.7"] }] },
  ],
};

describe("pod-resources v1 messages", () => {
  it("reads a ListPodResourcesResponse protobufjs wrote, skipping the fields it does not use", () => {
    const wire = list.responseSerialize({ pod_resources: [POD, { name: "other", namespace: "x", containers: [] }] });
    expect(decodeListResponse(wire)).toEqual([EXPECTED, { name: "other", namespace: "x", containers: [] }]);
    expect(decodeListResponse(list.responseSerialize({ pod_resources: [] }))).toEqual([]);
  });

  it("reads a GetPodResourcesResponse; an empty one has no pod", () => {
    expect(decodeGetResponse(get.responseSerialize({ pod_resources: POD }))).toEqual(EXPECTED);
    expect(decodeGetResponse(Buffer.alloc(0))).toBeUndefined();
  });

  it("writes requests protobufjs reads", () => {
    expect(get.requestDeserialize(encodeGetRequest({ name: "vf-0", namespace: "team-a" }))).toMatchObject({
      pod_name: "vf-0",
      pod_namespace: "team-a",
    });
    expect(get.requestDeserialize(encodeGetRequest({ name: "ü".repeat(200), namespace: "n" })).pod_name).toBe(
      "ü".repeat(200),
    );
    expect(encodeListRequest()).toEqual(Buffer.alloc(0));
  });

  it("skips fields of every wire type it does not know (a newer kubelet)", () => {
    const known = get.responseSerialize({ pod_resources: POD });
    // field 9 varint, field 10 fixed64, field 11 bytes, field 12 fixed32, before the known field
    const unknown = Buffer.from([
      0x48,
      0x96,
      0x01,
      0x51,
      ...Array(8).fill(7),
      0x5a,
      0x02,
      0x61,
      0x62,
      0x65,
      1,
      2,
      3,
      4,
    ]);
    expect(decodeGetResponse(Buffer.concat([unknown, known]))).toEqual(EXPECTED);
  });

  it.each([
    ["a truncated length", Buffer.from([0x0a, 0x05, 0x01])],
    ["a truncated varint", Buffer.from([0x0a, 0x80])],
    ["field number 0", Buffer.from([0x02, 0x00])],
    ["a group (wire type 3)", Buffer.from([0x0b])],
  ])("refuses %s", (_, wire) => {
    expect(() => decodeListResponse(wire)).toThrow(ProtobufError);
  });
});
