// Interface names inside the pod: which name each attachment gets, and which names a pod may ask
// for. Multus names secondaries positionally, net<index in the full list> (Multus getIfname,
// docs/compatibility.md#interface-names); Plexus keeps that, so pods moving from Multus see the
// same names, but resolves the collisions Multus leaves to a late "interface already exists" from
// the kernel.

import { CniError, ErrorCode } from "../cni/error.js";
import { ifNameProblem, parseIfName, type IfName } from "../cni/ids.js";

const SAFE_IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * Why a name requested in an annotation is unusable, or undefined. On top of the kernel rules
 * (1-15 bytes, no `/`, `:`, whitespace, not `.`/`..`), only letters, digits, `_`, `.` and `-`
 * are allowed, not first `-`: `%` makes the kernel pick a name itself (`net%d` is a template),
 * `;` and `=` are CNI_ARGS separators, and shell metacharacters turn a debugging session's
 * copy-paste into a command. Every real interface naming scheme fits in this set.
 */
export function requestedIfNameProblem(v: string): string | undefined {
  const kernel = ifNameProblem(v);
  if (kernel) return kernel;
  if (!SAFE_IFNAME.test(v)) {
    return "interface name may only contain letters, digits, '_', '.' and '-', and may not start with '-'";
  }
  return undefined;
}

export interface InterfaceNamingContext {
  /** "ns/name" of the pod, for messages. */
  readonly pod?: string;
  /** One label per attachment for messages, e.g. "cluster network cbr0", "team-a/macvlan-a". */
  readonly labels?: readonly string[];
}

/**
 * The interface name of every attachment, in plan order, each paired with its attachment.
 * Index 0 is the cluster network: its request, else `primary` (CNI_IFNAME). Index i > 0: its
 * request, else `net<i>`; when another attachment asked for that name, the next `net<j>`
 * (j > i) nobody uses. Two attachments asking for the same name is an error (multi-net spec
 * §4.1.2.1.5). A pure function of its input, so DEL re-resolving the annotation gets the names
 * ADD used.
 */
export function assignInterfaceNames<T>(
  attachments: readonly T[],
  requestOf: (attachment: T) => IfName | undefined,
  primary: IfName,
  ctx: InterfaceNamingContext = {},
): { readonly attachment: T; readonly ifName: IfName }[] {
  const explicit = explicitNames(attachments.map(requestOf), primary, ctx);
  const used = new Set<string>(explicit.keys());
  return attachments.map((attachment, i) => {
    const request = requestOf(attachment);
    if (i === 0) return { attachment, ifName: request ?? primary };
    if (request !== undefined) return { attachment, ifName: request };
    let j = i;
    while (used.has(`net${j}`)) j++;
    const name = parseIfName(`net${j}`);
    used.add(name);
    return { attachment, ifName: name };
  });
}

/** Names fixed before any is generated (requests and the cluster network's), each owned once. */
function explicitNames(
  requests: readonly (IfName | undefined)[],
  primary: IfName,
  ctx: InterfaceNamingContext,
): Map<string, number> {
  const owner = new Map<string, number>();
  requests.forEach((request, i) => {
    const name = i === 0 ? (request ?? primary) : request;
    if (name === undefined) return;
    const first = owner.get(name);
    if (first !== undefined) throw duplicateName(name, first, i, ctx);
    owner.set(name, i);
  });
  return owner;
}

function duplicateName(name: string, first: number, second: number, ctx: InterfaceNamingContext): CniError {
  const label = (i: number): string => {
    const text = ctx.labels?.[i];
    const what = i === 0 ? "attachment 0 (the cluster network)" : `attachment ${i}`;
    return text ? `${what} ${text}` : what;
  };
  const prefix = ctx.pod ? `pod ${ctx.pod}: ` : "";
  return new CniError(
    ErrorCode.InvalidNetworkConfig,
    `${prefix}interface name ${JSON.stringify(name)} is used by both ${label(first)} and ${label(second)}; ` +
      "every attachment needs its own interface name",
  );
}
