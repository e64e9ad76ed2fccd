// One execution of one delegate plugin, libcni's invoke.ExecPlugin*: find the binary, set the
// CNI_* environment, write the config on stdin, read the result or the error on stdout.
// Every error names the plugin and the command and keeps the delegate's code.

import type { CniCommand } from "../cni/env.js";
import { toCniError, type CniError } from "../cni/error.js";
import { findPlugin } from "./find-plugin.js";
import { OWNER_ENV } from "./owned-processes.js";
import { decodeFailure, decodeSuccess } from "./plugin-output.js";
import { checkNotSelfName, markNested, type SelfFileCheck, type SelfIdentity } from "./self-delegate.js";
import { spawnPlugin } from "./spawn-plugin.js";
import type { SpawnServer } from "./spawn-server.js";
import type { PluginExecution } from "./types.js";

export interface ExecOptions {
  /** Plugin directories, searched in order; joined with ":" they are CNI_PATH. Non-empty. */
  readonly binDirs: readonly string[];
  /** The environment plugins inherit; the six CNI_* variables are always set over it. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Deadline of one execution; the plugin's process group is killed when it passes. */
  readonly timeoutMs: number;
  /** Pause between the retries of a binary that is busy being written (ETXTBSY). */
  readonly retryDelayMs: number;
  /** Receives what a plugin wrote on stderr (free-form logging, CNI SPEC §2), when it wrote any. */
  readonly onStderr?: ((type: string, text: string) => void) | undefined;
  /**
   * Turns the command line [pluginPath] into the one executed, e.g. to run the plugin inside a
   * test's "node" namespace: (argv) => ["ip", "netns", "exec", node, ...argv], or, in a daemon
   * running in a container, inside the host's root (docs/architecture.md "Daemon mode").
   */
  readonly wrap?: ((argv: readonly string[]) => readonly string[]) | undefined;
  /** Starts the processes instead of this process (the daemon's process starter, spawn-server.ts). */
  readonly spawnServer?: SpawnServer | undefined;
  /** Told of every execution once it ended (the daemon's per-delegate latency metrics). */
  readonly onExec?: ((type: string, command: CniCommand, ok: boolean, ms: number) => void) | undefined;
  /**
   * Plexus itself, when the runtime is Plexus's: a delegate that is Plexus is refused, and every
   * delegate runs marked as nested (self-delegate.ts). Unset for a runtime that runs Plexus.
   */
  readonly self?: { readonly identity: SelfIdentity; readonly checkFile: SelfFileCheck } | undefined;
}

/** The plugin as an error message names it: its type, and its own `name` when it has one. */
export interface PluginRef {
  readonly type: string;
  readonly name?: string | undefined;
}

// libcni's words for the verbs in `plugin type="x" failed (<verb>)`.
const VERBS: Readonly<Record<CniCommand, string>> = {
  ADD: "add",
  DEL: "delete",
  CHECK: "check",
  STATUS: "status",
  GC: "gc",
  VERSION: "version",
};

/** `type="bridge"` or `type="bridge" name="br-a"` (libcni pluginDescription). */
export function describePlugin(plugin: PluginRef): string {
  const name = plugin.name ? ` name=${JSON.stringify(plugin.name)}` : "";
  return `type=${JSON.stringify(plugin.type)}${name}`;
}

/**
 * Executes one plugin. Returns the JSON it printed for ADD and VERSION (`null` reads as {}),
 * and undefined for the commands that print nothing on success (their stdout is ignored).
 */
export async function execPlugin(
  plugin: PluginRef,
  exec: PluginExecution,
  options: ExecOptions,
  signal: AbortSignal,
): Promise<unknown> {
  const started = performance.now();
  let ok = false;
  try {
    if (options.self) checkNotSelfName(plugin.type, options.self.identity);
    const path = await findPlugin(plugin.type, options.binDirs);
    if (options.self) await options.self.checkFile(plugin.type, path);
    if (exec.command === "ADD") await checkIpamPlugin(exec.stdin, options);
    const env = pluginEnv(options, exec);
    const run = await spawnPlugin(
      {
        argv: options.wrap ? options.wrap([path]) : [path],
        env: options.self ? markNested(env) : env,
        stdin: JSON.stringify(exec.stdin),
        timeoutMs: options.timeoutMs,
        retryDelayMs: options.retryDelayMs,
        server: options.spawnServer,
      },
      signal,
    );
    if (run.stderr !== "") options.onStderr?.(plugin.type, run.stderr);
    if (run.exitCode !== 0) throw decodeFailure(run);
    const out = exec.command === "ADD" || exec.command === "VERSION" ? decodeSuccess(run.stdout) : undefined;
    ok = true;
    return out;
  } catch (err) {
    throw pluginFailure(plugin, exec.command, err);
  } finally {
    options.onExec?.(plugin.type, exec.command, ok, performance.now() - started);
  }
}

/**
 * The IPAM plugin a plugin will execute (libcni ipam.ExecAdd, from the same CNI_PATH) must be
 * there before the plugin runs: the reference plugins make their interface first, and one whose
 * IPAM plugin is missing fails after that, then fails its own DEL on the same lookup, leaving
 * the interface behind (macvlan's net1). Refused here, before anything is made.
 */
async function checkIpamPlugin(stdin: PluginExecution["stdin"], options: ExecOptions): Promise<void> {
  const ipam = stdin["ipam"];
  if (typeof ipam !== "object" || ipam === null || Array.isArray(ipam)) return;
  const type = (ipam as { type?: unknown }).type;
  if (typeof type !== "string") return;
  try {
    if (options.self) checkNotSelfName(type, options.self.identity);
    const path = await findPlugin(type, options.binDirs);
    if (options.self) await options.self.checkFile(type, path);
  } catch (err) {
    throw toCniError(err).withContext("its ipam plugin");
  }
}

/** `plugin type="x" failed (add): <what went wrong>`, keeping the code (libcni's wording). */
export function pluginFailure(plugin: PluginRef, command: CniCommand, err: unknown): CniError {
  return toCniError(err).withContext(`plugin ${describePlugin(plugin)} failed (${VERBS[command]})`);
}

/**
 * The base environment plus all six CNI_* variables, "" where not applicable, as libcni's
 * Args.AsEnv does: skel-based plugins fail with code 4 when CNI_PATH is empty (libcni
 * pkg/invoke/args.go, pkg/skel/skel.go). Plus PLEXUS_OWNER when the execution has an owner.
 */
export function pluginEnv(
  options: Pick<ExecOptions, "binDirs" | "env">,
  exec: PluginExecution,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;
  env["CNI_COMMAND"] = exec.command;
  env["CNI_CONTAINERID"] = exec.containerId ?? "";
  env["CNI_NETNS"] = exec.netns ?? "";
  env["CNI_IFNAME"] = exec.ifName ?? "";
  env["CNI_ARGS"] = exec.args ?? "";
  env["CNI_PATH"] = exec.path ?? options.binDirs.join(":");
  if (exec.owner !== undefined) env[OWNER_ENV] = exec.owner;
  return env;
}
