// Identifiers that must never be swapped get distinct types; only these parsers make them.
// Rules: CNI SPEC §2 (container ID), libcni pkg/utils/utils.go (names), Kubernetes DNS-1123.

import { z } from "zod";
import { CniError, ErrorCode } from "./error.js";

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type ContainerId = Brand<string, "ContainerId">;
export type IfName = Brand<string, "IfName">;
export type NetworkName = Brand<string, "NetworkName">;
export type Namespace = Brand<string, "Namespace">;
export type PodName = Brand<string, "PodName">;
export type PodUid = Brand<string, "PodUid">;

const CNI_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const POD_UID = /^[A-Za-z0-9-]{1,64}$/;
/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_IFNAME_BYTES = 15;

/**
 * The longest container ID accepted. libcni only checks the characters; the runtimes make far
 * shorter ones (containerd and CRI-O: 64 hex digits; containerd's identifiers allow 76), and
 * Plexus names a directory and device-info files after it (NAME_MAX is 255 bytes).
 */
const MAX_CONTAINER_ID = 128;

export function parseContainerId(v: string): ContainerId {
  if (v === "") throw new CniError(ErrorCode.UnknownContainer, "missing containerID");
  if (v.length > MAX_CONTAINER_ID) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `containerID is too long (${v.length} characters; at most ${MAX_CONTAINER_ID})`,
    );
  }
  if (!CNI_NAME.test(v)) {
    throw new CniError(ErrorCode.InvalidEnvironment, "invalid characters in containerID", { details: v });
  }
  return v as ContainerId;
}

/** Why an interface name is unusable, or undefined when it is fine (Linux dev_valid_name). */
export function ifNameProblem(v: string): string | undefined {
  if (v === "") return "interface name is empty";
  if (Buffer.byteLength(v) > MAX_IFNAME_BYTES) return `interface name is too long (at most ${MAX_IFNAME_BYTES} bytes)`;
  if (v === "." || v === "..") return "interface name is . or ..";
  if (/[/:\s]/.test(v)) return "interface name contains / or : or whitespace characters";
  // Control characters and non-ASCII are legal to the kernel but invite trouble in logs and tools.
  if (!/^[\x21-\x7e]+$/.test(v)) return "interface name contains non-printable or non-ASCII characters";
  return undefined;
}

export function parseIfName(v: string): IfName {
  const problem = ifNameProblem(v);
  if (problem) throw new CniError(ErrorCode.InvalidEnvironment, problem, { details: JSON.stringify(v) });
  return v as IfName;
}

export function isValidNetworkName(v: string): boolean {
  return CNI_NAME.test(v);
}

export function parseNetworkName(v: string): NetworkName {
  if (v === "") throw new CniError(ErrorCode.InvalidNetworkConfig, "missing network name");
  if (!CNI_NAME.test(v)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, "invalid characters found in network name", { details: v });
  }
  return v as NetworkName;
}

/**
 * Why a plugin `type` is not a bare file name, or undefined when it is one. A NAD is namespaced
 * user input and its types name binaries: `"type": "../../bin/sh"` must never run. Any name a
 * file in a directory can have is fine (`a..b`, `.hidden`); `.`, `..`, a path separator (`/`,
 * or `\` as libcni on Windows reads it) and NUL are not. libcni refuses only the separator
 * (pkg/invoke/find.go). The NAD check and the plugin lookup both ask this one question.
 */
export function pluginTypeProblem(type: string): string | undefined {
  if (type === "") return "the plugin type is empty";
  if (type.includes("\0")) return "the plugin type contains a NUL byte";
  if (type.includes("/") || type.includes("\\")) return "the plugin type contains a path separator";
  if (type === "." || type === "..") return `the plugin type is ${type}`;
  return undefined;
}

/**
 * The names Plexus is installed under in a CNI bin dir: `plexus` (thin mode, or the daemon
 * mode's shim) and `plexus-thin` (the thin executable beside the shim). A delegate of one of
 * these names would be Plexus running itself (src/runtime/self-delegate.ts).
 */
export const SELF_PLUGIN_TYPES: readonly string[] = ["plexus", "plexus-thin"];

export function isDns1123Label(v: string): boolean {
  return v.length <= 63 && DNS1123_LABEL.test(v);
}

export function isDns1123Subdomain(v: string): boolean {
  return v.length <= 253 && DNS1123_SUBDOMAIN.test(v);
}

export function parseNamespace(v: string): Namespace {
  if (!isDns1123Label(v)) throw new CniError(ErrorCode.InvalidEnvironment, `invalid namespace ${JSON.stringify(v)}`);
  return v as Namespace;
}

export function parsePodName(v: string): PodName {
  if (!isDns1123Subdomain(v)) throw new CniError(ErrorCode.InvalidEnvironment, `invalid pod name ${JSON.stringify(v)}`);
  return v as PodName;
}

export function parsePodUid(v: string): PodUid {
  if (!POD_UID.test(v)) throw new CniError(ErrorCode.InvalidEnvironment, `invalid pod UID ${JSON.stringify(v)}`);
  return v as PodUid;
}

// The same rules as schemas, for what Plexus reads back from its own files (the cache): the
// values keep their types through a round trip, so nothing downstream casts them back.
const stringThat = <T extends string>(ok: (v: string) => boolean, what: string) =>
  z.custom<T>((v) => typeof v === "string" && ok(v), { error: `must be ${what}` });

export const ContainerIdSchema = stringThat<ContainerId>((v) => CNI_NAME.test(v), "a container ID");
export const IfNameSchema = stringThat<IfName>((v) => ifNameProblem(v) === undefined, "an interface name");
export const NamespaceSchema = stringThat<Namespace>(isDns1123Label, "a namespace (a DNS-1123 label)");
export const PodNameSchema = stringThat<PodName>(isDns1123Subdomain, "a pod name (a DNS-1123 subdomain)");
export const PodUidSchema = stringThat<PodUid>((v) => POD_UID.test(v), "a pod UID");
