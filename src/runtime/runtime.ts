// createRuntime: the CniRuntime port (types.ts) implemented libcni's way, over real processes.

import { CniError, ErrorCode } from "../cni/error.js";
import { decodeVersionInfo } from "../cni/version-info.js";
import { CURRENT_VERSION } from "../cni/version.js";
import { execPlugin, pluginFailure, type ExecOptions } from "./exec-plugin.js";
import {
  addNetworkList,
  checkNetworkList,
  delNetworkList,
  gcNetworkList,
  pluginRef,
  statusNetworkList,
  type RunPlugin,
} from "./network-list.js";
import { stopOwnedProcesses } from "./owned-processes.js";
import { createSelfFileCheck, type SelfIdentity } from "./self-delegate.js";
import type { CniRuntime } from "./types.js";

export interface RuntimeOptions {
  /** Plugin directories, searched in order (CNI_PATH). At least one. */
  readonly binDirs: readonly string[];
  /** What plugins inherit besides CNI_*; default: this process's environment at creation. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Deadline of one plugin execution; default DEFAULT_TIMEOUT_MS. */
  readonly timeoutMs?: number | undefined;
  /** Receives each plugin's stderr (the caller logs it; stdout belongs to the protocol). */
  readonly onStderr?: ((type: string, text: string) => void) | undefined;
  /** Pause between ETXTBSY retries; default 1 s as libcni (tests make it short). */
  readonly retryDelayMs?: number | undefined;
  /** See ExecOptions.wrap: runs plugins behind a command prefix (tests, the benchmark, the daemon's host root). */
  readonly wrap?: ((argv: readonly string[]) => readonly string[]) | undefined;
  /** See ExecOptions.onExec. */
  readonly onExec?: ExecOptions["onExec"];
  /** See ExecOptions.spawnServer. */
  readonly spawnServer?: ExecOptions["spawnServer"];
  /**
   * Set by Plexus for its own delegates: refuse a delegate that is Plexus (by name and by
   * file identity) and mark every delegate as nested (self-delegate.ts). A runtime that runs
   * Plexus as a plugin (tests, the local node) leaves it unset.
   */
  readonly self?: SelfIdentity | undefined;
}

// A delegate that has not answered in a minute is stuck: the kubelet gives a whole
// RunPodSandbox 4 minutes, and a pod has several attachments.
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_RETRY_DELAY_MS = 1_000;

export function createRuntime(options: RuntimeOptions): CniRuntime {
  const exec = execOptions(options);
  const run: RunPlugin = (plugin, execution, signal) => execPlugin(pluginRef(plugin), execution, exec, signal);
  return {
    addNetworkList: (list, rt, signal, from) => addNetworkList(run, list, rt, signal, from),
    delNetworkList: (list, rt, prev, signal) => delNetworkList(run, list, rt, prev, signal),
    checkNetworkList: (list, rt, prev, signal) => checkNetworkList(run, list, rt, prev, signal),
    statusNetworkList: (list, signal) => statusNetworkList(run, list, signal),
    gcNetworkList: (list, valid, signal) => gcNetworkList(run, list, valid, signal),
    pluginVersions: (type, signal) => probePluginVersions(type, exec, signal),
    stopOwned: (owner, signal) => stopOwnedProcesses(owner, signal),
  };
}

/** The options of every execution, defaults applied and checked once. */
export function execOptions(options: RuntimeOptions): ExecOptions {
  if (options.binDirs.length === 0) {
    throw new CniError(ErrorCode.InvalidEnvironment, "no plugin directories given (CNI_PATH would be empty)");
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  if (!(timeoutMs > 0) || !(retryDelayMs >= 0)) {
    throw new CniError(
      ErrorCode.Internal,
      `invalid runtime options: timeoutMs ${timeoutMs}, retryDelayMs ${retryDelayMs}`,
    );
  }
  return {
    binDirs: [...options.binDirs],
    env: { ...(options.env ?? process.env) },
    timeoutMs,
    retryDelayMs,
    onStderr: options.onStderr,
    wrap: options.wrap,
    onExec: options.onExec,
    spawnServer: options.spawnServer,
    self: options.self ? { identity: options.self, checkFile: createSelfFileCheck(options.self) } : undefined,
  };
}

/**
 * The VERSION probe of libcni's invoke.GetVersionInfo (pkg/invoke/exec.go, pkg/version/plugin.go):
 * dummy netns, ifname and path for plugins built with an old skel, and a plugin too old to know
 * VERSION supports 0.1.0.
 */
async function probePluginVersions(type: string, exec: ExecOptions, signal: AbortSignal): Promise<readonly string[]> {
  const ref = { type };
  let out: unknown;
  try {
    out = await execPlugin(
      ref,
      { command: "VERSION", netns: "dummy", ifName: "dummy", path: "dummy", stdin: { cniVersion: CURRENT_VERSION } },
      exec,
      signal,
    );
  } catch (err) {
    if (isUnknownVersionCommand(err)) return ["0.1.0"];
    throw err;
  }
  try {
    return decodeVersionInfo(out).supportedVersions;
  } catch (err) {
    throw pluginFailure(ref, "VERSION", err);
  }
}

// The one place Plexus reads a message: libcni recognises a pre-0.2.0 plugin by this exact
// error text (pkg/invoke/exec.go GetVersionInfo); such plugins have no code to branch on.
function isUnknownVersionCommand(err: unknown): boolean {
  const delegate = err instanceof CniError ? err.cause : undefined;
  return delegate instanceof CniError && delegate.message === "unknown CNI_COMMAND: VERSION";
}
