// The runtime port: how the engine runs delegate plugins. Implemented by createRuntime()
// (libcni for TypeScript, src/runtime/runtime.ts); tests may pass their own implementation.

import type { JsonObject, NetworkConfigList } from "../cni/conf.js";
import type { CniCommand } from "../cni/env.js";
import type { ContainerId, IfName } from "../cni/ids.js";
import type { AnyResult } from "../cni/result.js";

/** What libcni calls a RuntimeConf: the attachment a list operates on. */
export interface RuntimeConf {
  readonly containerId: ContainerId;
  /** May be "" on DEL (the sandbox is already gone). */
  readonly netns: string;
  readonly ifName: IfName;
  /** CNI_ARGS pairs for the delegate, formatted by the runtime (IgnoreUnknown=1 first). */
  readonly args: readonly (readonly [string, string])[];
  /** Values offered as runtimeConfig to plugins that declare the capability of the same name. */
  readonly capabilityArgs: Readonly<Record<string, unknown>>;
  /**
   * The owner token of the container lock this runs under: every plugin process carries it in
   * its environment (PLEXUS_OWNER), so a later command can stop the ones a killed Plexus left.
   */
  readonly owner?: string | undefined;
}

export interface ValidAttachment {
  readonly containerID: string;
  readonly ifname: string;
}

export interface CniRuntime {
  /**
   * ADD every plugin in order, chaining prevResult; returns the last plugin's result, unconverted.
   * `from` is the prevResult of the first plugin (libcni has none): the empty result an
   * auxiliary chain's pass-through first plugin would return.
   */
  addNetworkList(list: NetworkConfigList, rt: RuntimeConf, signal: AbortSignal, from?: AnyResult): Promise<AnyResult>;
  /**
   * DEL every plugin in reverse order with prevResult (converted to the list version; left out
   * below 0.4.0 or when undefined). Continues past failures; throws one error naming them all.
   */
  delNetworkList(
    list: NetworkConfigList,
    rt: RuntimeConf,
    prevResult: AnyResult | undefined,
    signal: AbortSignal,
  ): Promise<void>;
  /** CHECK in order with prevResult; nothing when disableCheck; an error below 0.4.0. */
  checkNetworkList(
    list: NetworkConfigList,
    rt: RuntimeConf,
    prevResult: AnyResult | undefined,
    signal: AbortSignal,
  ): Promise<void>;
  /** STATUS of every plugin (only for lists >= 1.1.0; otherwise nothing); stops at the first error. */
  statusNetworkList(list: NetworkConfigList, signal: AbortSignal): Promise<void>;
  /** GC on every plugin with cni.dev/valid-attachments (lists >= 1.1.0, not disableGC); errors joined. */
  gcNetworkList(list: NetworkConfigList, valid: readonly ValidAttachment[], signal: AbortSignal): Promise<void>;
  /** The versions a plugin binary speaks (VERSION probe). */
  pluginVersions(type: string, signal: AbortSignal): Promise<readonly string[]>;
  /**
   * SIGKILLs every process started with `owner` (RuntimeConf.owner) that is still alive, and
   * waits until they are gone; returns how many were killed (owned-processes.ts).
   */
  stopOwned(owner: string, signal: AbortSignal): Promise<number>;
}

/** One execution of one plugin binary. */
export interface PluginExecution {
  readonly command: CniCommand;
  readonly containerId?: string;
  readonly netns?: string;
  readonly ifName?: string;
  readonly args?: string;
  /** CNI_PATH when it must not be the plugin directories (the VERSION probe sends "dummy"). */
  readonly path?: string;
  /** RuntimeConf.owner: set as PLEXUS_OWNER in the plugin's environment. */
  readonly owner?: string | undefined;
  readonly stdin: JsonObject;
}

export type { JsonObject };
