// The DaemonSet's probes, run as `plexus install --check` (readiness) and `--alive` (liveness)
// in the agent's container. --check verifies the node from scratch, independently of the agent:
// the executable is there, the kubeconfig and token copy are current, 00-plexus.conflist is
// exactly what the primary on disk calls for, and the runtime would load it first. --alive
// only asks whether the agent's loop is still turning (its status file is fresh): a node whose
// primary is missing is not ready, but restarting the agent would not help it.

import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { InstallOptions } from "../config/install-options.js";
import { binaryPresent } from "./binary.js";
import { apiServerUrl, buildKubeconfig, readServiceAccount } from "./plugin-kubeconfig.js";
import { PLEXUS_CONF_FILE, type InstallLayout } from "./layout.js";
import { findDesiredConf } from "./desired-conf.js";
import { runtimeConfFiles, type ConfDirReader } from "../runtime/conf-files.js";

export interface CheckContext {
  readonly options: InstallOptions;
  readonly layout: InstallLayout;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly reader: ConfDirReader;
}

const read = (path: string): Promise<string | undefined> => readFile(path, "utf8").catch(() => undefined);

/** Everything wrong with the node's installation; empty when it is ready. */
export async function checkInstallation(ctx: CheckContext): Promise<string[]> {
  const { layout, options } = ctx;
  const problems: string[] = [];
  if (!(await binaryPresent(layout.binary.agent))) problems.push(`${layout.binary.host} is missing or not executable`);
  if (options.mode === "daemon" && !options.skipBinaryCopy && !(await binaryPresent(layout.thinBinary.agent)))
    problems.push(`${layout.thinBinary.host} (the shim's fallback in daemon mode) is missing or not executable`);
  if (layout.kubeconfig && layout.token) {
    try {
      const sa = await readServiceAccount(options.serviceAccountDir);
      if ((await read(layout.token.agent)) !== sa.token)
        problems.push(`${layout.token.host} is not the current service account token`);
      if ((await read(layout.kubeconfig.agent)) !== buildKubeconfig(apiServerUrl(ctx.env), sa.ca, layout.token.host)) {
        problems.push(`${layout.kubeconfig.host} is missing or stale`);
      }
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  try {
    const found = await findDesiredConf(options, layout, ctx.reader);
    if (found.kind === "found") {
      if ((await read(layout.confFile.agent)) !== found.desired.text)
        problems.push(`${layout.confFile.host} is missing or does not match ${found.primary}`);
    } else {
      problems.push(found.kind === "missing" ? `no primary network config in ${layout.confDir.host}` : found.problem);
    }
  } catch (err) {
    problems.push((err as Error).message);
  }
  const first = runtimeConfFiles(await ctx.reader.list(layout.confDir.agent))[0];
  if (first !== undefined && first !== PLEXUS_CONF_FILE)
    problems.push(`${first} sorts before ${PLEXUS_CONF_FILE}: the runtime bypasses Plexus`);
  return problems;
}

const StatusSchema = z.looseObject({ time: z.iso.datetime(), phase: z.string(), message: z.string() });

/** Why the agent looks dead, or undefined when its status file was written recently enough. */
export async function checkAlive(statusFile: string, maxAgeMs: number, now: number): Promise<string | undefined> {
  if (statusFile === "") return "no --status-file configured: the agent writes no heartbeat to check";
  const text = await read(statusFile);
  if (text === undefined) return `no status file at ${statusFile}`;
  const parsed = StatusSchema.safeParse(
    (() => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return undefined;
      }
    })(),
  );
  if (!parsed.success) return `unreadable status file ${statusFile}`;
  const age = now - Date.parse(parsed.data.time);
  return age > maxAgeMs
    ? `the agent's last pass was ${Math.round(age / 1000)} s ago (${parsed.data.phase}: ${parsed.data.message})`
    : undefined;
}
