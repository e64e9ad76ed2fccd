// Decoding of the Kubernetes protobuf envelope for the few built-in kinds kubectl writes that
// way: `kubectl create namespace|configmap|serviceaccount` use a typed client that sends
// application/vnd.kubernetes.protobuf. Everything else kubectl and client-node send is JSON.
// Wire format: "k8s\0" + runtime.Unknown{typeMeta=1{apiVersion=1,kind=2}, raw=2, ...}; raw is
// the object in k8s.io/api generated.proto field numbers.
import { unsupportedMediaType } from "./api-errors.js";
import type { JsonObject } from "./api-types.js";

export const PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf";

type Field =
  | {
      readonly name: string;
      readonly type: "string" | "bytes" | "bool" | "int64" | "time" | "string-map" | "bytes-map";
    }
  | { readonly name: string; readonly type: "message"; readonly message: Message };
interface Message {
  readonly [field: number]: Field & { readonly repeated?: boolean };
}

const TYPE_META: Message = { 1: { name: "apiVersion", type: "string" }, 2: { name: "kind", type: "string" } };
const UNKNOWN: Message = {
  1: { name: "typeMeta", type: "message", message: TYPE_META },
  2: { name: "raw", type: "bytes" },
};
const OBJECT_REFERENCE: Message = {
  1: { name: "kind", type: "string" },
  2: { name: "namespace", type: "string" },
  3: { name: "name", type: "string" },
  4: { name: "uid", type: "string" },
  5: { name: "apiVersion", type: "string" },
  6: { name: "resourceVersion", type: "string" },
  7: { name: "fieldPath", type: "string" },
};
const OBJECT_META: Message = {
  1: { name: "name", type: "string" },
  2: { name: "generateName", type: "string" },
  3: { name: "namespace", type: "string" },
  5: { name: "uid", type: "string" },
  6: { name: "resourceVersion", type: "string" },
  7: { name: "generation", type: "int64" },
  8: { name: "creationTimestamp", type: "time" },
  11: { name: "labels", type: "string-map" },
  12: { name: "annotations", type: "string-map" },
  14: { name: "finalizers", type: "string", repeated: true },
};
const KINDS: Readonly<Record<string, Message>> = {
  Namespace: {
    1: { name: "metadata", type: "message", message: OBJECT_META },
    2: { name: "spec", type: "message", message: { 1: { name: "finalizers", type: "string", repeated: true } } },
  },
  ConfigMap: {
    1: { name: "metadata", type: "message", message: OBJECT_META },
    2: { name: "data", type: "string-map" },
    3: { name: "binaryData", type: "bytes-map" },
    4: { name: "immutable", type: "bool" },
  },
  ServiceAccount: {
    1: { name: "metadata", type: "message", message: OBJECT_META },
    2: { name: "secrets", type: "message", message: OBJECT_REFERENCE, repeated: true },
    3: { name: "imagePullSecrets", type: "message", message: { 1: { name: "name", type: "string" } }, repeated: true },
    4: { name: "automountServiceAccountToken", type: "bool" },
  },
};

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = this.buf[this.pos++];
      if (byte === undefined || shift > 63n) throw new SyntaxError("truncated protobuf varint");
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
  }
  bytes(): Buffer {
    const length = Number(this.varint());
    if (this.pos + length > this.buf.length) throw new SyntaxError("truncated protobuf field");
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw new SyntaxError(`unsupported protobuf wire type ${wireType}`);
  }
}

function decodeMessage(buf: Buffer, message: Message): JsonObject {
  const out: JsonObject = {};
  const reader = new Reader(buf);
  while (!reader.done) {
    const tag = Number(reader.varint());
    const field = message[tag >> 3];
    if (field === undefined) {
      reader.skip(tag & 7);
      continue;
    }
    const value = decodeField(reader, field);
    // Go's generated code writes empty optional strings; JSON would have omitted them.
    if (value === "" && field.type === "string" && !field.repeated) continue;
    if (field.type === "string-map" || field.type === "bytes-map") {
      const [k, v] = value as [string, unknown];
      out[field.name] = { ...(out[field.name] as JsonObject | undefined), [k]: v };
    } else if (field.repeated) {
      out[field.name] = [...((out[field.name] as unknown[] | undefined) ?? []), value];
    } else {
      out[field.name] = value;
    }
  }
  return out;
}

function decodeField(reader: Reader, field: Field): unknown {
  switch (field.type) {
    case "bool":
      return reader.varint() !== 0n;
    case "int64":
      return Number(reader.varint());
    case "string":
      return reader.bytes().toString("utf8");
    case "bytes":
      return reader.bytes();
    case "time": {
      const seconds = Number(decodeMessage(reader.bytes(), { 1: { name: "s", type: "int64" } })["s"] ?? 0);
      return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    }
    case "string-map":
    case "bytes-map": {
      const entry = decodeMessage(reader.bytes(), {
        1: { name: "k", type: "string" },
        2: { name: "v", type: field.type === "string-map" ? "string" : "bytes" },
      });
      const v = entry["v"];
      return [entry["k"] ?? "", Buffer.isBuffer(v) ? v.toString("base64") : (v ?? "")];
    }
    case "message":
      return decodeMessage(reader.bytes(), field.message);
  }
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** A protobuf-encoded object as the JSON object it stands for; 415 for kinds not listed above. */
export function decodeKubernetesProtobuf(body: Buffer): JsonObject {
  if (!body.subarray(0, 4).equals(MAGIC)) throw new SyntaxError("missing the k8s protobuf prefix");
  const unknown = decodeMessage(body.subarray(4), UNKNOWN);
  const typeMeta = (unknown["typeMeta"] ?? {}) as JsonObject;
  const kind = String(typeMeta["kind"] ?? "");
  const message = KINDS[kind];
  if (message === undefined || !Buffer.isBuffer(unknown["raw"]))
    throw unsupportedMediaType(`${PROTOBUF_MEDIA_TYPE} (${kind || "unknown kind"})`);
  return { apiVersion: typeMeta["apiVersion"], kind, ...decodeMessage(unknown["raw"], message) };
}
