// What Plexus remembers about one attachment: enough to DEL it when the pod, the NAD and the
// API server are all gone. One file per attachment; the schema is versioned.

import { z } from "zod";
import { ContainerIdSchema, IfNameSchema, NamespaceSchema, PodNameSchema, PodUidSchema } from "../cni/ids.js";

export const ATTACHMENT_RECORD_KIND = "plexus.attachment";
export const ATTACHMENT_RECORD_VERSION = 1;

/** auxiliary: the auxiliaryCNIChainName chain, run last (docs/compatibility.md#auxiliary-chain). */
const AttachmentRoleSchema = z.enum(["cluster", "default", "selected", "auxiliary"]);
export type AttachmentRole = z.infer<typeof AttachmentRoleSchema>;

const PodRefSchema = z.object({ namespace: NamespaceSchema, name: PodNameSchema, uid: PodUidSchema.optional() });

export const AttachmentRecordSchema = z.object({
  kind: z.literal(ATTACHMENT_RECORD_KIND),
  version: z.literal(ATTACHMENT_RECORD_VERSION),
  containerId: ContainerIdSchema,
  /** The runtime's CNI_IFNAME for the pod (eth0): identifies the runtime's attachment in GC. */
  primaryIfName: IfNameSchema,
  ifName: IfNameSchema,
  /** Position in the plan: ADD runs ascending, DEL descending. */
  index: z.number().int().nonnegative(),
  role: AttachmentRoleSchema,
  /** The name network-status and events use: "namespace/nad" or the CNI network name. */
  networkRef: z.string(),
  pod: PodRefSchema.optional(),
  netns: z.string(),
  cniArgs: z.array(z.tuple([z.string(), z.string()])),
  capabilityArgs: z.record(z.string(), z.unknown()),
  /** The delegate configuration list exactly as executed (foreign keys included). */
  config: z.record(z.string(), z.unknown()),
  defaultRoute: z.array(z.string()).optional(),
  /** The CNIDeviceInfoFile of this attachment: removed on DEL (Device Information spec §4.2.1). */
  deviceInfoFile: z.string().optional(),
  /**
   * On the cluster network's record: what the runtime's ADD brought (Plexus's configuration from
   * stdin, CNI_PATH, CNI_ARGS), so that the daemon can attach more networks to the running pod
   * later with the same settings (docs/architecture.md#hot-plug). DEL does not need it.
   */
  sandbox: z.object({ conf: z.record(z.string(), z.unknown()), cniPath: z.string(), cniArgs: z.string() }).optional(),
  /** "planned" until the delegate's ADD succeeded; DEL treats both the same. */
  state: z.enum(["planned", "added"]),
  /** The delegate's result (1.1.0 form, after default-route adjustment), once added. */
  result: z.record(z.string(), z.unknown()).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AttachmentRecord = z.infer<typeof AttachmentRecordSchema>;

/**
 * Left after a container's attachments are gone (docs/state.md "Tombstones"): the runtime's
 * repeated DELs find it and do nothing. Kept as an empty file; `at` is its modification time.
 */
export interface Tombstone {
  readonly containerId: string;
  readonly reason: "deleted" | "rolled-back";
  readonly at: string;
}
