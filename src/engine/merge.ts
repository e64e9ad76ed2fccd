// One result for the runtime from every attachment's result (docs/architecture.md#merge).
// containerd takes the pod IP only from IPs on the interface named CNI_IFNAME and counts an IP
// without an interface index as eth0's (docs/compatibility.md#container-runtimes), so: the cluster
// network's interfaces and IPs come first, every secondary's are appended with their indexes
// rebased, and every IP ends up indexed to an interface of its own attachment.

import type { IfName } from "../cni/ids.js";
import type { Dns, Interface, IpConfig, Result100, Route } from "../cni/result.js";

export interface AttachmentResult {
  readonly ifName: IfName;
  readonly netns: string;
  readonly result: Result100;
}

/** Gives every IP an interface index, adding the attachment's sandbox interface when missing. */
export function indexAddresses(a: AttachmentResult): Result100 {
  const interfaces: Interface[] = [...(a.result.interfaces ?? [])];
  const ips = a.result.ips ?? [];
  if (ips.every((ip) => ip.interface !== undefined && interfaces[ip.interface] !== undefined)) return a.result;
  let own = interfaces.findIndex((i) => i.name === a.ifName && i.sandbox);
  if (own < 0) {
    interfaces.push({ name: a.ifName, ...(a.netns ? { sandbox: a.netns } : {}) });
    own = interfaces.length - 1;
  }
  const indexed: IpConfig[] = ips.map((ip) =>
    ip.interface !== undefined && interfaces[ip.interface] !== undefined ? ip : { ...ip, interface: own },
  );
  return { ...a.result, interfaces, ips: indexed };
}

/** The merged result, in 1.1.0 form; the cluster attachment must be first. */
export function mergeResults(attachments: readonly AttachmentResult[]): Result100 {
  const interfaces: Interface[] = [];
  const ips: IpConfig[] = [];
  const routes: Route[] = [];
  for (const a of attachments) {
    const r = indexAddresses(a);
    const base = interfaces.length;
    interfaces.push(...(r.interfaces ?? []));
    ips.push(
      ...(r.ips ?? []).map((ip) => (ip.interface === undefined ? ip : { ...ip, interface: ip.interface + base })),
    );
    routes.push(...(r.routes ?? []));
  }
  const dns: Dns | undefined = attachments[0]?.result.dns;
  return {
    cniVersion: "1.1.0",
    ...(interfaces.length ? { interfaces } : {}),
    ...(ips.length ? { ips } : {}),
    ...(routes.length ? { routes } : {}),
    ...(dns ? { dns } : {}),
  };
}
