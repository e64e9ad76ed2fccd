// The kubelet PodResourcesLister v1 messages Plexus uses, in protocol buffers wire format
// (k8s.io/kubelet/pkg/apis/podresources/v1/api.proto; encoding: protobuf.dev/programming-guides/encoding).
// Hand-written rather than generated: four tiny messages, and a generated codec would bring
// protobufjs into the executable. Decoding keeps only what Plexus reads (pod name, namespace,
// each container's devices by resource) and skips every other field by its wire type, as any
// protobuf parser does, so fields the kubelet adds later are harmless.

/** One pod as the kubelet reports it: devices per container (ContainerDevices). */
export interface PodResources {
  readonly name: string;
  readonly namespace: string;
  readonly containers: readonly ContainerResources[];
}

export interface ContainerResources {
  readonly name: string;
  readonly devices: readonly ContainerDevices[];
}

export interface ContainerDevices {
  readonly resourceName: string;
  readonly deviceIds: readonly string[];
}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** A message that is not valid protobuf, or not the message expected. */
export class ProtobufError extends Error {
  override readonly name = "ProtobufError";
}

/** ListPodResourcesRequest {}: no fields. */
export function encodeListRequest(): Buffer {
  return Buffer.alloc(0);
}

/** GetPodResourcesRequest { string pod_name = 1; string pod_namespace = 2; } */
export function encodeGetRequest(pod: { readonly name: string; readonly namespace: string }): Buffer {
  return Buffer.concat([stringField(1, pod.name), stringField(2, pod.namespace)]);
}

/** ListPodResourcesResponse { repeated PodResources pod_resources = 1; } */
export function decodeListResponse(buf: Buffer): PodResources[] {
  const pods: PodResources[] = [];
  for (const f of fields(buf)) if (f.number === 1 && f.bytes) pods.push(decodePodResources(f.bytes));
  return pods;
}

/** GetPodResourcesResponse { PodResources pod_resources = 1; } (absent: undefined) */
export function decodeGetResponse(buf: Buffer): PodResources | undefined {
  let pod: PodResources | undefined;
  for (const f of fields(buf)) if (f.number === 1 && f.bytes) pod = decodePodResources(f.bytes);
  return pod;
}

/** PodResources { string name = 1; string namespace = 2; repeated ContainerResources containers = 3; } */
function decodePodResources(buf: Buffer): PodResources {
  let name = "";
  let namespace = "";
  const containers: ContainerResources[] = [];
  for (const f of fields(buf)) {
    if (f.number === 1) name = text(f);
    else if (f.number === 2) namespace = text(f);
    else if (f.number === 3 && f.bytes) containers.push(decodeContainer(f.bytes));
  }
  return { name, namespace, containers };
}

/** ContainerResources { string name = 1; repeated ContainerDevices devices = 2; ... } */
function decodeContainer(buf: Buffer): ContainerResources {
  let name = "";
  const devices: ContainerDevices[] = [];
  for (const f of fields(buf)) {
    if (f.number === 1) name = text(f);
    else if (f.number === 2 && f.bytes) devices.push(decodeDevices(f.bytes));
  }
  return { name, devices };
}

/** ContainerDevices { string resource_name = 1; repeated string device_ids = 2; TopologyInfo topology = 3; } */
function decodeDevices(buf: Buffer): ContainerDevices {
  let resourceName = "";
  const deviceIds: string[] = [];
  for (const f of fields(buf)) {
    if (f.number === 1) resourceName = text(f);
    else if (f.number === 2) deviceIds.push(text(f));
  }
  return { resourceName, deviceIds };
}

interface Field {
  readonly number: number;
  /** The payload of a length-delimited field; undefined for the other wire types. */
  readonly bytes?: Buffer;
}

/** The fields of one message, in order; other wire types are read past. */
function* fields(buf: Buffer): Generator<Field> {
  let at = 0;
  while (at < buf.length) {
    const [key, afterKey] = varint(buf, at);
    const number = Math.floor(key / 8);
    const wire = key % 8;
    if (number === 0) throw new ProtobufError(`field number 0 at byte ${at}`);
    at = afterKey;
    if (wire === VARINT) {
      at = varint(buf, at)[1];
      yield { number };
    } else if (wire === I64 || wire === I32) {
      at += wire === I64 ? 8 : 4;
      if (at > buf.length) throw new ProtobufError(`field ${number} runs past the end of the message`);
      yield { number };
    } else if (wire === LEN) {
      const [length, start] = varint(buf, at);
      at = start + length;
      if (at > buf.length) throw new ProtobufError(`field ${number} runs past the end of the message`);
      yield { number, bytes: buf.subarray(start, at) };
    } else {
      throw new ProtobufError(`field ${number} has wire type ${wire}, which proto3 messages do not use`);
    }
  }
}

/** A varint at `at`: its value (up to 2^53, enough for lengths and keys) and where the next byte is. */
function varint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const byte = buf[i] as number;
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return [value, i + 1];
  }
  throw new ProtobufError(`truncated or overlong varint at byte ${at}`);
}

function text(f: Field): string {
  if (!f.bytes) throw new ProtobufError(`field ${f.number} should be a string`);
  return f.bytes.toString("utf8");
}

function stringField(number: number, value: string): Buffer {
  if (value === "") return Buffer.alloc(0); // proto3 leaves default values out
  const bytes = Buffer.from(value, "utf8");
  return Buffer.concat([encodeVarint(number * 8 + LEN), encodeVarint(bytes.length), bytes]);
}

function encodeVarint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}
