// The default-route selection key, applied in the pod's namespace after every delegate ran.
// Planning is pure (src/networks/default-route-plan.ts); this runs the kernel changes with `ip`.

import { CniError, ErrorCode } from "../cni/error.js";
import type { Result100 } from "../cni/result.js";
import { planDefaultRoutes, type RouteAction, type RoutedAttachment } from "../networks/default-route-plan.js";
import type { EngineDeps } from "./deps.js";

/** Returns the results as they are after the change (the routes reflect what the kernel has). */
export async function applyDefaultRoutes(
  netns: string,
  attachments: readonly RoutedAttachment[],
  deps: EngineDeps,
  ctx: { readonly pod?: string } = {},
): Promise<Result100[]> {
  if (!attachments.some((a) => a.defaultRoute !== undefined)) return attachments.map((a) => a.result);
  const plan = planDefaultRoutes(attachments, ctx);
  for (const action of plan.actions) await applyAction(netns, action, deps);
  return [...plan.results];
}

async function applyAction(netns: string, action: RouteAction, deps: EngineDeps): Promise<void> {
  const family = action.family === 4 ? "-4" : "-6";
  const argv =
    action.kind === "delete-default"
      ? ["ip", family, "route", "flush", "exact", action.family === 4 ? "0.0.0.0/0" : "::/0", "dev", action.ifName]
      : ["ip", family, "route", "replace", "default", "via", action.gateway, "dev", action.ifName];
  try {
    await deps.runInNetns(netns, argv, deps.signal);
  } catch (err) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `default-route: cannot run "${argv.join(" ")}" in ${netns}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
