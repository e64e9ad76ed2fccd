// Keeping 00-plexus.conflist in place, and saying so loudly when someone else does not.
// Cilium's cni.exclusive renames every other config to *.cilium_bak (Multus #972); other
// installers delete or overwrite files they do not own. Either way pods on the node silently
// lose their secondary networks. The agent logs an error and emits a Warning Event naming what
// happened, then restores its file; when the file keeps disappearing it backs off (2 s, 4 s,
// ... 5 min) instead of fighting the other agent in a tight loop.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runtimeConfFiles } from "../runtime/conf-files.js";
import { PLEXUS_CONF_FILE } from "./layout.js";
import { writeFileAtomic } from "./atomic-file.js";
import type { Outcome, ReconcileContext } from "./agent-context.js";

export interface GuardState {
  /** Our file's content as last written or confirmed; undefined before the first install. */
  installed?: string;
  /** Removals seen in a row (reset after STABLE_MS without one). */
  removals: number;
  removalPending?: boolean;
  restoreAt?: number;
  lastRestoreAt?: number;
  /** The file last reported as sorting before ours. */
  shadowReported?: string;
}

const MAX_BACKOFF_MS = 5 * 60_000;
const STABLE_MS = 10 * 60_000;
/**
 * World-readable on purpose: it holds paths and options, no secret (the token lives in the
 * 0600 kubeconfig), and primaries are installed 0644 too, so node tools can read the chain.
 */
const CONF_MODE = 0o644;

function restoreBackoffMs(removals: number): number {
  return removals <= 1 ? 0 : Math.min(1000 * 2 ** (removals - 1), MAX_BACKOFF_MS);
}

/** Writes `desired` if needed; returns an outcome when the pass must stop here. */
export async function guardOurConf(
  ctx: ReconcileContext,
  state: GuardState,
  desired: string,
): Promise<Outcome | undefined> {
  const { layout, log } = ctx;
  const current = await readFile(layout.confFile.agent, "utf8").catch(() => undefined);
  if (state.installed !== undefined && current !== state.installed) {
    if (current === undefined) {
      const pending = await onRemoved(ctx, state, state.installed);
      if (pending) return pending;
    } else {
      log.warn(
        { conf: layout.confFile.host },
        `${PLEXUS_CONF_FILE} was changed by someone else; rewriting it (the agent owns this file)`,
      );
      ctx.events.emit(
        "Warning",
        "PlexusConfigModified",
        `${layout.confFile.host} was modified by another process; Plexus rewrote it`,
      );
    }
  }
  if (current !== desired) {
    const previous = state.installed;
    await writeFileAtomic(layout.confFile.agent, desired, CONF_MODE);
    if (previous === undefined) {
      ctx.events.emit("Normal", "PlexusConfigInstalled", `installed ${layout.confFile.host}`);
    } else if (previous !== desired) {
      log.info({ conf: layout.confFile.host }, `regenerated ${PLEXUS_CONF_FILE}: the primary network config changed`);
    }
  }
  state.installed = desired;
  if (state.removals > 0 && state.lastRestoreAt !== undefined && ctx.now() - state.lastRestoreAt > STABLE_MS)
    state.removals = 0;
  return shadowedBy(ctx, state);
}

async function onRemoved(ctx: ReconcileContext, state: GuardState, ours: string): Promise<Outcome | undefined> {
  const { layout } = ctx;
  if (!state.removalPending) {
    state.removals += 1;
    state.removalPending = true;
    state.restoreAt = ctx.now() + restoreBackoffMs(state.removals);
    const renamedTo = await findCopy(ctx, ours);
    const what = renamedTo
      ? `${PLEXUS_CONF_FILE} was renamed to ${renamedTo} by another process`
      : `${PLEXUS_CONF_FILE} was removed by another process`;
    const hint = renamedTo?.endsWith(".cilium_bak")
      ? " (Cilium with cni.exclusive=true does this: set cni.exclusive=false)"
      : "";
    const message = `${what}${hint}: new pods on this node would get only the primary network`;
    ctx.log.error({ conf: layout.confFile.host, renamedTo, removals: state.removals }, message);
    ctx.events.emit("Warning", "PlexusConfigRemoved", message);
  }
  const wait = (state.restoreAt ?? 0) - ctx.now();
  if (wait > 0) {
    return {
      phase: "blocked",
      message:
        `${PLEXUS_CONF_FILE} keeps being removed (${state.removals} times in a row); restoring it ` +
        `in ${Math.ceil(wait / 1000)} s`,
    };
  }
  state.removalPending = false;
  state.lastRestoreAt = ctx.now();
  ctx.log.warn({ conf: layout.confFile.host }, `restoring ${PLEXUS_CONF_FILE}`);
  return undefined;
}

/** A file in the conf dir with exactly our content: where ours was renamed to. */
async function findCopy(ctx: ReconcileContext, ours: string): Promise<string | undefined> {
  const dir = ctx.layout.confDir.agent;
  for (const name of [...(await ctx.reader.list(dir))].sort()) {
    if (name === PLEXUS_CONF_FILE) continue;
    const text = await readFile(join(dir, name), "utf8").catch(() => undefined);
    if (text === ours) return name;
  }
  return undefined;
}

/**
 * Runtimes load only the first file (docs/compatibility.md#container-runtimes): one sorting before
 * ours bypasses Plexus.
 */
async function shadowedBy(ctx: ReconcileContext, state: GuardState): Promise<Outcome | undefined> {
  const first = runtimeConfFiles(await ctx.reader.list(ctx.layout.confDir.agent))[0];
  if (first === undefined || first === PLEXUS_CONF_FILE) {
    delete state.shadowReported;
    return undefined;
  }
  const message =
    `${first} sorts before ${PLEXUS_CONF_FILE} in ${ctx.layout.confDir.host}: the runtime loads ` +
    `it and bypasses Plexus (rename or remove it)`;
  if (state.shadowReported !== first) {
    ctx.events.emit("Warning", "PlexusConfigShadowed", message);
    state.shadowReported = first;
  }
  return { phase: "blocked", message };
}
