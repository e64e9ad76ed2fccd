// The k8s.v1.cni.cncf.io/network-status annotation of a pod the local API server holds, read
// with Plexus's own parser (src/networks/network-status.ts).

import type { KubeObject } from "../../src/local/api-types.js";
import { NETWORK_STATUS_ANNOTATION } from "../../src/networks/annotations.js";
import { parseNetworkStatusAnnotation, type NetworkStatus } from "../../src/networks/network-status.js";

/** The pod's network-status; throws (failing the test) when the pod has none. */
export function networkStatusIn(pod: KubeObject, what: string): NetworkStatus[] {
  const value = pod.metadata.annotations?.[NETWORK_STATUS_ANNOTATION];
  if (value === undefined) throw new Error(`${what} has no ${NETWORK_STATUS_ANNOTATION} annotation`);
  return parseNetworkStatusAnnotation(value);
}
