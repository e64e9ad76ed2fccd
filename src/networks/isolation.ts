// Which namespaces a pod may take networks from (multi-net spec §7.4 leaves the policy to the
// implementation; this is Multus's namespaceIsolation, docs/compatibility.md#namespace-isolation).
// It applies to what a pod's author chooses: the networks annotation and (with multusNamespace
// allowed as well) the default-network annotation; clusterNetwork and defaultNetworks are the
// administrator's.

import { CniError, ErrorCode } from "../cni/error.js";
import { NETWORKS_ANNOTATION } from "./annotations.js";
import type { NetworkSelection } from "./selection.js";

export interface IsolationPolicy {
  readonly namespaceIsolation: boolean;
  /**
   * Namespaces any pod may use networks from. Callers pass the effective list: Multus uses
   * ["default"] when globalNamespaces is not configured.
   */
  readonly globalNamespaces: readonly string[];
}

/**
 * Throws ErrorCode.Forbidden when isolation is on and the selection names a network in another
 * namespace that is not global.
 */
export function checkNamespaceIsolation(
  selection: Pick<NetworkSelection, "name" | "namespace">,
  podNamespace: string,
  policy: IsolationPolicy,
  ctx: { readonly pod: string; readonly annotation?: string },
): void {
  if (!policy.namespaceIsolation) return;
  if (selection.namespace === podNamespace) return;
  if (policy.globalNamespaces.includes(selection.namespace)) return;
  const global =
    policy.globalNamespaces.length > 0 ? policy.globalNamespaces.map((n) => JSON.stringify(n)).join(", ") : "none";
  throw new CniError(
    ErrorCode.Forbidden,
    `pod ${ctx.pod}: annotation ${ctx.annotation ?? NETWORKS_ANNOTATION}: ` +
      `network ${selection.namespace}/${selection.name} ` +
      `is in namespace ${JSON.stringify(selection.namespace)}, which this pod may not use: namespaceIsolation ` +
      `allows only ` +
      `the pod's own namespace ${JSON.stringify(podNamespace)} and the global namespaces (${global})`,
  );
}

/**
 * True when `namespace` is one of `systemNamespaces`. Compares the pod's NAMESPACE: Multus
 * passes the pod name to CheckSystemNamespaces by mistake (docs/compatibility.md#network-status), so
 * it never matches there.
 */
export function isSystemNamespace(namespace: string, systemNamespaces: readonly string[]): boolean {
  return systemNamespaces.includes(namespace);
}
