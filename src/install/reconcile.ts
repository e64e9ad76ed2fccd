// One pass of the agent: make the node's files what they should be, from what is on disk now.
// Idempotent, so the watch loop simply runs it on every change and on every poll tick.
//   kubeconfig current (token rotation) → binary present → [first install only: readiness]
//   → primary found and readable → 00-plexus.conflist generated, compared, (re)written
//   → ours still first in the runtime's order.
// Until the first install, nothing is written into the conf dir before the primary (and the
// readiness indicator, when configured) are there: no pod may start against a half-installed
// node (multi-net spec §6.1).

import { readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { CniError } from "../cni/error.js";
import type { Logger } from "../log/logger.js";
import type { Outcome, ReconcileContext } from "./agent-context.js";
import { writeFileAtomic } from "./atomic-file.js";
import { executablesPresent, installExecutables } from "./binary.js";
import { guardOurConf, type GuardState } from "./conf-guard.js";
import { apiServerUrl, buildKubeconfig, readServiceAccount } from "./plugin-kubeconfig.js";
import { PLEXUS_CONF_FILE } from "./layout.js";
import { findDesiredConf } from "./desired-conf.js";
import { REPLACED_SUFFIX, type MultusTakeover } from "./multus-takeover.js";

export interface AgentState extends GuardState {
  kubeconfigWritten?: boolean;
  primaryFile?: string;
  /** The last problem logged, and when: a problem is logged when it changes, then once a minute. */
  lastProblem?: string;
  lastProblemAt?: number;
  readinessMissingSaid?: boolean;
}

const REPEAT_PROBLEM_MS = 60_000;

export function newAgentState(): AgentState {
  return { removals: 0 };
}

export async function reconcile(ctx: ReconcileContext, state: AgentState): Promise<Outcome> {
  try {
    const outcome = await reconcileSteps(ctx, state);
    if (outcome.phase === "installed") delete state.lastProblem;
    else problem(ctx, state, outcome);
    return outcome;
  } catch (err) {
    const outcome: Outcome = { phase: "blocked", message: err instanceof CniError ? err.message : String(err) };
    problem(ctx, state, outcome);
    return outcome;
  }
}

async function reconcileSteps(ctx: ReconcileContext, state: AgentState): Promise<Outcome> {
  const { layout, options } = ctx;
  await syncKubeconfig(ctx, state);
  if (ctx.executables !== undefined && !(await executablesPresent(ctx.executables, layout))) {
    const { copied } = await installExecutables(ctx.executables, layout);
    ctx.log.warn({ copied }, "a plexus executable was missing from the CNI bin dir; reinstalled it");
  }
  const readiness = await readinessState(ctx, state);
  if (readiness && state.installed === undefined) return readiness;

  const found = await findDesiredConf(options, layout, ctx.reader);
  switch (found.kind) {
    case "missing":
      await dropOursWithoutPrimary(ctx, state);
      return {
        phase: "waiting",
        message: options.primaryConfFile
          ? `waiting for the primary network config ${layout.confDir.host}/${options.primaryConfFile}`
          : `waiting for a primary network config (.conf, .conflist, .json) in ${layout.confDir.host}`,
      };
    case "invalid":
      // Often a primary caught mid-write by a non-atomic installer: keep what we have, retry.
      return {
        phase: state.installed === undefined ? "waiting" : "installed",
        message: `the primary network config ${found.file} is not usable yet (${found.problem}); retrying`,
      };
    case "refused":
      return { phase: "blocked", message: found.problem };
    case "found":
      break;
  }
  const firstInstall = state.installed === undefined;
  if (found.takeover && found.takeover.active.length > 0) await replaceMultus(ctx, found.takeover, found.desired.text);
  const guarded = await guardOurConf(ctx, state, found.desired.text);
  if (guarded) return guarded;
  if (state.primaryFile !== found.primary || firstInstall) {
    ctx.log.info(
      { primary: found.primary, conf: layout.confFile.host },
      found.networkName !== undefined
        ? `Plexus wraps the primary network ${found.networkName} (${found.primary})`
        : `Plexus wraps the cluster network ${found.primary} (Multus's clusterNetwork)`,
    );
  }
  state.primaryFile = found.primary;
  return { phase: "installed", message: `${PLEXUS_CONF_FILE} wraps ${found.primary}` };
}

/**
 * Ours first, then Multus's files out of the runtime's view: at every moment the runtime loads a
 * meta-plugin (docs/migration.md). Renamed, not removed: the way back, and the settings' source.
 */
async function replaceMultus(ctx: ReconcileContext, takeover: MultusTakeover, desired: string): Promise<void> {
  const { layout } = ctx;
  if ((await readFile(layout.confFile.agent, "utf8").catch(() => undefined)) !== desired)
    await writeFileAtomic(layout.confFile.agent, desired, 0o644);
  for (const file of takeover.active) {
    await rename(join(layout.confDir.agent, file), join(layout.confDir.agent, `${file}${REPLACED_SUFFIX}`));
  }
  const adopted = Object.keys(takeover.plugin).sort();
  const message =
    `took over from Multus: ${takeover.active.join(", ")} renamed to *${REPLACED_SUFFIX}; ` +
    `adopted ${adopted.join(", ")}`;
  ctx.log.info({ conf: layout.confFile.host, multus: takeover.active, adopted }, message);
  ctx.events.emit("Normal", "MultusReplaced", message);
}

async function syncKubeconfig(ctx: ReconcileContext, state: AgentState): Promise<void> {
  const { kubeconfig, token } = ctx.layout;
  if (!kubeconfig || !token) return;
  const sa = await readServiceAccount(ctx.options.serviceAccountDir);
  const tokenChanged = await writeIfChanged(token.agent, sa.token);
  const configChanged = await writeIfChanged(
    kubeconfig.agent,
    buildKubeconfig(apiServerUrl(ctx.env), sa.ca, token.host),
  );
  if (!state.kubeconfigWritten) {
    ctx.log.info({ kubeconfig: kubeconfig.host }, "kubeconfig for the plugin in place");
    state.kubeconfigWritten = true;
  } else if (tokenChanged || configChanged) {
    ctx.log.info(
      { kubeconfig: kubeconfig.host, tokenChanged, configChanged },
      "service account credentials rotated; the plugin's copy is updated",
    );
  }
}

/** Both files are credentials: 0600. Returns whether the file was (re)written. */
async function writeIfChanged(path: string, text: string): Promise<boolean> {
  const onDisk = await readFile(path, "utf8").catch(() => undefined);
  if (onDisk === text) return false;
  await writeFileAtomic(path, text, 0o600);
  return true;
}

/** undefined when ready (or no indicator is configured). */
async function readinessState(ctx: ReconcileContext, state: AgentState): Promise<Outcome | undefined> {
  const file = ctx.layout.readinessFile;
  if (!file) return undefined;
  const present = await readFile(file.agent).then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code === "EISDIR",
  );
  if (present) {
    state.readinessMissingSaid = false;
    return undefined;
  }
  if (state.installed !== undefined && !state.readinessMissingSaid) {
    // Once installed, ours stays: removing it would let the runtime attach new pods to the
    // primary alone (Multus #1387). The plugin itself holds ADDs until the file is back.
    ctx.log.warn(
      { readinessIndicatorFile: file.host },
      "the readiness indicator file disappeared; the plugin holds new pods until it is back",
    );
    state.readinessMissingSaid = true;
  }
  return { phase: "waiting", message: `waiting for the readiness indicator file ${file.host}` };
}

/**
 * No primary at all: the node has no cluster network. Ours would point at a missing file and
 * let the runtime report the network ready while every pod fails; without it the runtime
 * reports NetworkReady=false, which is the truth.
 */
async function dropOursWithoutPrimary(ctx: ReconcileContext, state: AgentState): Promise<void> {
  if (state.installed === undefined) return;
  await rm(ctx.layout.confFile.agent, { force: true });
  ctx.log.error(
    { conf: ctx.layout.confFile.host },
    `the primary network config is gone from ${ctx.layout.confDir.host}; removed ${PLEXUS_CONF_FILE} until one is back`,
  );
  ctx.events.emit(
    "Warning",
    "PrimaryNetworkRemoved",
    `no primary network config in ${ctx.layout.confDir.host}: removed ${PLEXUS_CONF_FILE} until one is back`,
  );
  delete state.installed;
}

function problem(ctx: ReconcileContext, state: AgentState, outcome: Outcome): void {
  const now = ctx.now();
  const repeat = state.lastProblemAt !== undefined && now - state.lastProblemAt >= REPEAT_PROBLEM_MS;
  if (outcome.message === state.lastProblem && !repeat) return;
  const log: Logger = ctx.log;
  (outcome.phase === "blocked" ? log.error.bind(log) : log.warn.bind(log))({ phase: outcome.phase }, outcome.message);
  state.lastProblem = outcome.message;
  state.lastProblemAt = now;
}
