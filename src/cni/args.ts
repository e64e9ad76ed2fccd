// CNI_ARGS: "K1=V1;K2=V2". Kubernetes runtimes put the pod's identity here.
// CNI SPEC §2; libcni pkg/types/args.go LoadArgs (known keys, IgnoreUnknown); values are split
// on the first "=" like Multus and CRI-O do, so a value may itself contain "=".

import { CniError, ErrorCode } from "./error.js";
import { parseNamespace, parsePodName, parsePodUid, type Namespace, type PodName, type PodUid } from "./ids.js";

export interface CniArgs {
  readonly ignoreUnknown: boolean;
  readonly podNamespace?: Namespace;
  readonly podName?: PodName;
  readonly podUid?: PodUid;
  readonly infraContainerId?: string;
  /** Every pair in the order given, known keys included. */
  readonly pairs: readonly (readonly [string, string])[];
}

const KNOWN = new Set([
  "IgnoreUnknown",
  "K8S_POD_NAMESPACE",
  "K8S_POD_NAME",
  "K8S_POD_UID",
  "K8S_POD_INFRA_CONTAINER_ID",
  "IP",
  "MAC",
]);

function invalid(msg: string, details?: string): never {
  throw new CniError(ErrorCode.InvalidEnvironment, `CNI_ARGS: ${msg}`, { details });
}

export function parseCniArgs(text: string): CniArgs {
  const pairs: [string, string][] = [];
  for (const item of text.split(";")) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) invalid(`invalid pair ${JSON.stringify(item)}`);
    pairs.push([item.slice(0, eq), item.slice(eq + 1)]);
  }
  // The first value of a key counts, and an empty value counts as not given (Multus fills in
  // empty values; an empty IgnoreUnknown never means yes).
  const get = (k: string): string | undefined => pairs.find(([key]) => key === k)?.[1] || undefined;
  const ignoreUnknown = parseBool(get("IgnoreUnknown") ?? "false");
  const unknown = pairs.filter(([k]) => !KNOWN.has(k)).map(([k, v]) => `${k}=${v}`);
  if (unknown.length > 0 && !ignoreUnknown) invalid(`unknown args ${JSON.stringify(unknown)}`);
  return withFields(pairs, ignoreUnknown, get);
}

function withFields(
  pairs: [string, string][],
  ignoreUnknown: boolean,
  get: (k: string) => string | undefined,
): CniArgs {
  const field = <T>(key: string, parse: (v: string) => T): T | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    try {
      return parse(v);
    } catch (err) {
      return invalid(`invalid ${key}`, (err as Error).message);
    }
  };
  const podNamespace = field("K8S_POD_NAMESPACE", parseNamespace);
  const podName = field("K8S_POD_NAME", parsePodName);
  const podUid = field("K8S_POD_UID", parsePodUid);
  const infraContainerId = get("K8S_POD_INFRA_CONTAINER_ID");
  return {
    ignoreUnknown,
    pairs,
    ...(podNamespace !== undefined ? { podNamespace } : {}),
    ...(podName !== undefined ? { podName } : {}),
    ...(podUid !== undefined ? { podUid } : {}),
    ...(infraContainerId !== undefined ? { infraContainerId } : {}),
  };
}

function parseBool(v: string): boolean {
  if (/^(1|true)$/i.test(v)) return true;
  if (/^(0|false)$/i.test(v)) return false;
  return invalid(`error parsing value of pair "IgnoreUnknown=${v}": boolean unmarshal error: invalid input ${v}`);
}

/**
 * CNI_ARGS for a delegate: IgnoreUnknown first (skel plugins reject unknown keys without it), then
 * the pairs in order with later duplicates dropped (Multus sends keys twice:
 * docs/compatibility.md#cni_args).
 */
export function formatCniArgs(pairs: readonly (readonly [string, string])[]): string {
  const seen = new Set<string>(["IgnoreUnknown"]);
  const out = ["IgnoreUnknown=1"];
  for (const [k, v] of pairs) {
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(`${k}=${v}`);
  }
  return out.join(";");
}
