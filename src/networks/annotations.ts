// Annotation keys and the bounds Plexus puts on what it reads from them.
// Keys: multi-net spec v1.3 §4.1 and §5 (NPWG), Multus (default-network), Device Info spec.

/** Pod annotation selecting secondary networks (multi-net spec §4.1). */
export const NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks";
/** Pod annotation Plexus writes with one entry per attachment (multi-net spec §5). */
export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";
/** Pod annotation replacing the cluster network for one pod (a Multus extension). */
export const DEFAULT_NETWORK_ANNOTATION = "v1.multus-cni.io/default-network";
/**
 * Pod annotation: "false" keeps the daemon from changing the pod's networks while it runs
 * (hot-plug, docs/architecture.md#hot-plug); its networks stay those of its sandbox's ADD.
 */
export const HOTPLUG_ANNOTATION = "plexus.dev/hotplug";
/** NetworkAttachmentDefinition annotation naming the device-plugin resource it uses. */
export const RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName";

/**
 * Largest selection annotation value read, in UTF-8 bytes. Kubernetes allows 256 KiB for all
 * annotations of an object together; 64 KiB holds hundreds of fully specified selections.
 * Checked before any parsing, so a huge value costs one length check.
 */
export const MAX_ANNOTATION_BYTES = 64 * 1024;

/** Most attachments one annotation may request: far beyond real pods, well below abuse. */
export const MAX_SELECTIONS = 32;

/**
 * Deepest JSON nesting accepted in an annotation. A selection needs 3 levels (array, element,
 * cni-args); 32 leaves room for structured cni-args. V8's JSON.stringify recurses, so an
 * unbounded depth would overflow the stack later, when the delegate config is written.
 */
export const MAX_ANNOTATION_JSON_DEPTH = 32;
