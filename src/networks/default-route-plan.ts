// Planning the default-route selection key (multi-net spec v1.1+, §4.1.2.1): which default
// routes to delete and add in the pod, and the results rewritten to say so. Pure; the engine
// applies the actions in order.
//
// Differences from Multus (docs/compatibility.md#default-route), on purpose:
// - only the families that were requested are touched: a v4 gateway leaves every IPv6 default
//   route alone (Multus deletes both families on an interface);
// - the results (and so the ADD result and network-status) show the routes the pod really has
//   (Multus leaves the old routes in them);
// - `default-route: []` means "the default route goes via this attachment, through the gateway
//   its own result reports" for each family it has one (a default route's gw, else an address's
//   gateway); a result with no gateway at all is an error. Multus strips every default route
//   from every interface instead, leaving the pod with none.

import { CniError, ErrorCode } from "../cni/error.js";
import type { IfName } from "../cni/ids.js";
import { defaultDst, ipFamily, isDefaultDst, parseCidr, type IpFamily } from "../cni/ip.js";
import type { Result100 } from "../cni/result.js";

export interface RoutedAttachment {
  readonly ifName: IfName;
  readonly isCluster: boolean;
  /** The selection's default-route; undefined when the key was not given. */
  readonly defaultRoute?: readonly string[];
  readonly result: Result100;
}

export type RouteAction =
  /** Delete every default route of `family` through `ifName` (`ip route flush exact <default> dev`). */
  | { readonly kind: "delete-default"; readonly ifName: IfName; readonly family: IpFamily }
  /** Add (or replace) `default via gateway dev ifName`. */
  | { readonly kind: "replace-default"; readonly ifName: IfName; readonly family: IpFamily; readonly gateway: string };

export interface DefaultRoutePlan {
  /** One per input attachment, same order: the routes as they are after the actions. */
  readonly results: readonly Result100[];
  /** To apply in this order: for each family, the deletions, then the new default route. */
  readonly actions: readonly RouteAction[];
}

interface Claim {
  readonly index: number;
  readonly gateway: string;
}

export function planDefaultRoutes(
  attachments: readonly RoutedAttachment[],
  ctx: { readonly pod?: string } = {},
): DefaultRoutePlan {
  const claims = claimFamilies(attachments, ctx);
  if (claims.size === 0) return { results: attachments.map((a) => a.result), actions: [] };
  const actions: RouteAction[] = [];
  for (const [family, claim] of claims) {
    for (const a of attachments) actions.push({ kind: "delete-default", ifName: a.ifName, family });
    const owner = attachments[claim.index] as RoutedAttachment;
    actions.push({ kind: "replace-default", ifName: owner.ifName, family, gateway: claim.gateway });
  }
  const results = attachments.map((a, i) => {
    let routes = (a.result.routes ?? []).filter((r) => !(isDefaultDst(r.dst) && claims.has(familyOfDst(r.dst))));
    for (const [family, claim] of claims) {
      if (claim.index === i) routes = [...routes, { dst: defaultDst(family), gw: claim.gateway }];
    }
    const { routes: _old, ...rest } = a.result;
    return routes.length > 0 ? { ...rest, routes } : rest;
  });
  return { results, actions };
}

/** Family -> the attachment that takes its default route, and through which gateway. */
function claimFamilies(attachments: readonly RoutedAttachment[], ctx: { readonly pod?: string }): Map<IpFamily, Claim> {
  const claims = new Map<IpFamily, Claim>();
  attachments.forEach((a, index) => {
    if (a.defaultRoute === undefined) return;
    const gateways = a.defaultRoute.length > 0 ? a.defaultRoute : ownGateways(a);
    if (gateways.length === 0) {
      fail(
        ctx,
        a,
        `is [] (take the default route through this attachment's own gateway), but the result of ${label(a)} ` +
          `reports no gateway`,
      );
    }
    for (const gateway of gateways) {
      const family = ipFamily(gateway);
      if (family === undefined) fail(ctx, a, `gateway ${JSON.stringify(gateway)} is not an IP address`);
      if (!podAddressFamilies(a).has(family)) {
        fail(ctx, a, `gateway ${gateway} is IPv${family}, but ${label(a)} has no IPv${family} address`);
      }
      const other = claims.get(family);
      if (other) {
        const first = attachments[other.index] as RoutedAttachment;
        fail(
          ctx,
          a,
          `gateway ${gateway} and gateway ${other.gateway} of ${label(first)} are both IPv${family} default ` +
            `routes; ECMP default routes are not supported`,
        );
      }
      claims.set(family, { index, gateway });
    }
  });
  return claims;
}

/** Per family: the gw of the result's default route, else the gateway of a pod-side address. */
function ownGateways(a: RoutedAttachment): string[] {
  const out: string[] = [];
  for (const family of [4, 6] as const) {
    const viaRoute = (a.result.routes ?? []).find(
      (r) => r.gw !== undefined && isDefaultDst(r.dst) && familyOfDst(r.dst) === family,
    )?.gw;
    const viaAddress = podIps(a).find(
      (ip) => ip.gateway !== undefined && parseCidr(ip.address)?.family === family,
    )?.gateway;
    const gw = viaRoute ?? viaAddress;
    if (gw !== undefined) out.push(gw);
  }
  return out;
}

function podAddressFamilies(a: RoutedAttachment): Set<IpFamily> {
  return new Set(podIps(a).flatMap((ip) => parseCidr(ip.address)?.family ?? []));
}

/** Addresses on the attachment's own interface, or not tied to any (0.2.0-style results). */
function podIps(a: RoutedAttachment): NonNullable<Result100["ips"]> {
  const ifaces = a.result.interfaces ?? [];
  return (a.result.ips ?? []).filter(
    (ip) => ip.interface === undefined || ip.interface < 0 || ifaces[ip.interface]?.name === a.ifName,
  );
}

function familyOfDst(dst: string): IpFamily {
  return parseCidr(dst)?.family ?? 4;
}

function label(a: RoutedAttachment): string {
  return a.isCluster ? `${a.ifName} (the cluster network)` : a.ifName;
}

function fail(ctx: { readonly pod?: string }, a: RoutedAttachment, text: string): never {
  const prefix = ctx.pod ? `pod ${ctx.pod}: ` : "";
  throw new CniError(ErrorCode.InvalidNetworkConfig, `${prefix}default-route of ${label(a)}: ${text}`);
}
