// The node agent the DaemonSet runs: install the executable, then keep 00-plexus.conflist and
// the plugin's kubeconfig right until told to stop (reconcile.ts does one pass; this loop
// decides when). With --once it stops after the first successful install.

import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomic } from "./atomic-file.js";
import { installExecutables } from "./binary.js";
import { apiServerUrl } from "./plugin-kubeconfig.js";
import type { Outcome, ReconcileContext } from "./agent-context.js";
import { newAgentState, reconcile } from "./reconcile.js";
import { createChangeTrigger } from "./watch.js";

const DEBOUNCE_MS = 100;

export interface AgentStatus {
  readonly pid: number;
  readonly time: string;
  readonly phase: Outcome["phase"];
  readonly message: string;
}

/** Runs until `signal` aborts (or, with --once, until installed). Returns the exit code. */
export async function runAgent(ctx: ReconcileContext, signal: AbortSignal): Promise<number> {
  const { options, layout, log } = ctx;
  // A kubeconfig cannot be written outside a pod's environment: say so now, not once a minute.
  if (layout.kubeconfig) apiServerUrl(ctx.env);
  if (ctx.executables !== undefined) {
    const { copied, removed } = await installExecutables(ctx.executables, layout);
    log.info(
      { mode: options.mode, binary: layout.binary.host, sources: ctx.executables, copied, removed },
      copied.length + removed.length > 0
        ? `installed the plexus executable (${options.mode} mode)`
        : `the plexus executable is up to date (${options.mode} mode)`,
    );
  }
  // The plugin's state dir: created here with its final mode, so the first ADD does not race to.
  await mkdir(layout.stateDir.agent, { recursive: true, mode: 0o700 });

  const trigger = createChangeTrigger({
    dirs: [
      layout.confDir.agent,
      options.serviceAccountDir,
      ...(layout.readinessFile ? [dirname(layout.readinessFile.agent)] : []),
    ],
    pollMs: options.pollIntervalSeconds * 1000,
    debounceMs: DEBOUNCE_MS,
    signal,
  });
  const state = newAgentState();
  const deadline = options.waitTimeoutSeconds > 0 ? ctx.now() + options.waitTimeoutSeconds * 1000 : Infinity;
  let everInstalled = false;
  try {
    while (!signal.aborted) {
      const outcome = await reconcile(ctx, state);
      await writeStatus(ctx, outcome);
      everInstalled ||= outcome.phase === "installed";
      if (options.once && outcome.phase === "installed") return 0;
      if (!everInstalled && ctx.now() >= deadline) {
        log.error({ waitTimeoutSeconds: options.waitTimeoutSeconds }, `gave up: ${outcome.message}`);
        return 1;
      }
      await trigger.next();
    }
    return 0;
  } finally {
    trigger.close();
    if (signal.aborted && options.cleanupOnExit && !options.once) await cleanupOnExit(ctx);
    await ctx.events.flush();
  }
}

/**
 * The conf file only, first: a node must never point at a plugin that is gone (Multus #592
 * is the opposite: a config left behind after uninstall breaks every pod). The executable
 * stays: pods torn down after this still get a DEL through the config the runtime already
 * loaded, and that DEL needs the binary. `plexus uninstall --remove-binary` takes it away.
 */
async function cleanupOnExit(ctx: ReconcileContext): Promise<void> {
  await rm(ctx.layout.confFile.agent, { force: true });
  ctx.log.info({ conf: ctx.layout.confFile.host }, "stopping: removed the Plexus network config (cleanupOnExit)");
}

async function writeStatus(ctx: ReconcileContext, outcome: Outcome): Promise<void> {
  if (ctx.options.statusFile === "") return;
  const status: AgentStatus = { pid: process.pid, time: new Date(ctx.now()).toISOString(), ...outcome };
  await writeFileAtomic(ctx.options.statusFile, `${JSON.stringify(status)}\n`, 0o644).catch((err: unknown) =>
    ctx.log.warn({ statusFile: ctx.options.statusFile, err: (err as Error).message }, "cannot write the status file"),
  );
}
