// GC (CNI 1.1): the runtime names the attachments that are still valid; every cached container
// that is not among them is torn down and forgotten, then delegates (>= 1.1.0) get their own GC
// with the attachments still valid for THEIR network. Each container is handled under its lock
// (command-lock.ts).

import type { NetworkConfigList } from "../cni/conf.js";
import { CniError, ErrorCode, toCniError } from "../cni/error.js";
import type { AttachmentRecord } from "../cache/record.js";
import type { ValidAttachment } from "../runtime/types.js";
import { listOf } from "./attachments.js";
import { ownedDeps } from "./command-lock.js";
import type { EngineDeps, PluginRequest } from "./deps.js";
import { resolveConfiguredNetwork, resolveInlineDelegate } from "./networks.js";
import { deleteAttachments } from "./teardown.js";

export async function cmdGc(req: PluginRequest, deps: EngineDeps): Promise<void> {
  const valid = validAttachments(req);
  if (valid === undefined) {
    // Without the list every attachment would look stale, and delegates' GC would free every
    // address they hold: a GC that says nothing about what is valid does nothing.
    deps.log.warn({}, "GC without cni.dev/valid-attachments: nothing is collected");
    return;
  }
  const isValid = (cid: string, ifName: string) => valid.some((v) => v.containerID === cid && v.ifname === ifName);
  const errors: string[] = [];
  const kept: AttachmentRecord[] = [];
  const known = new Set<string>();
  const containers = new Set([...(await deps.cache.listContainers()), ...(await deps.cache.listInterrupted())]);
  for (const containerId of [...containers].sort()) {
    // Under the container's lock, which also stops what an interrupted command left running. A
    // container a command is working on now is skipped: the next GC sees it again.
    const lock = await deps.cache.tryLockContainer(containerId);
    if (!lock) {
      deps.log.info({ containerId }, "GC skips a container a command is working on");
      continue;
    }
    try {
      const owned = await ownedDeps(lock, deps);
      const state = await owned.cache.loadContainer(containerId);
      const primary = state.attachments[0]?.primaryIfName ?? "eth0";
      if (state.attachments.length > 0 && isValid(containerId, primary)) {
        kept.push(...state.attachments);
        if (state.corrupt.length === 0) known.add(containerId);
        continue;
      }
      if (valid.some((v) => v.containerID === containerId)) continue; // corrupt or tombstone of a live container
      const failures = await deleteAttachments(state.attachments, "", owned);
      if (failures.length === 0) await owned.cache.purgeContainer(containerId);
      errors.push(...failures.map((f) => `container ${containerId}: ${f.error.message}`));
    } finally {
      await lock.release();
    }
  }
  // A valid container whose attachments Plexus cannot list fully (no state: set up before
  // Plexus, or the state was lost; or an unreadable file) may hold addresses on any secondary
  // network: GC of those would free them. Multus GCs the cluster network only for this reason
  // (Multus PR #1273); Plexus does the same whenever its knowledge is incomplete.
  const unknown = [...new Set(valid.map((v) => v.containerID))].filter((id) => !known.has(id));
  if (unknown.length > 0) {
    deps.log.warn(
      { containers: unknown },
      "GC of secondary networks skipped: no complete Plexus state for these valid containers",
    );
  }
  errors.push(...(await gcDelegates(req, deps, valid, kept, unknown.length === 0)));
  if (errors.length > 0) throw new CniError(ErrorCode.Internal, `GC failed: ${errors.join("; ")}`);
}

function validAttachments(req: PluginRequest): ValidAttachment[] | undefined {
  const raw = req.raw["cni.dev/valid-attachments"] ?? req.raw["cni.dev/attachments"];
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw))
    throw new CniError(ErrorCode.InvalidNetworkConfig, "cni.dev/valid-attachments must be a list");
  return raw.map((v, i) => {
    const o = (v ?? {}) as Record<string, unknown>;
    if (typeof o["containerID"] !== "string" || typeof o["ifname"] !== "string") {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `cni.dev/valid-attachments[${i}] needs string containerID and ifname`,
      );
    }
    return { containerID: o["containerID"], ifname: o["ifname"] };
  });
}

/**
 * GC of each network's delegates, told which of ITS attachments are still valid. Networks are
 * told apart by reference ("namespace/nad"), not by CNI name: two NADs may share a name. The
 * cluster network keeps every attachment the runtime calls valid (they are the runtime's own
 * (containerID, CNI_IFNAME) pairs), whether or not Plexus has state for it.
 */
async function gcDelegates(
  req: PluginRequest,
  deps: EngineDeps,
  valid: readonly ValidAttachment[],
  kept: readonly AttachmentRecord[],
  secondaries: boolean,
): Promise<string[]> {
  const networks = new Map<string, { list: NetworkConfigList; valid: ValidAttachment[] }>();
  const add = (ref: string, list: NetworkConfigList, attachments: readonly ValidAttachment[]) => {
    const entry = networks.get(ref) ?? { list, valid: [] };
    for (const a of attachments) {
      if (!entry.valid.some((v) => v.containerID === a.containerID && v.ifname === a.ifname)) entry.valid.push(a);
    }
    networks.set(ref, entry);
  };
  try {
    const { conf } = req;
    const cluster = conf.clusterNetwork
      ? await resolveConfiguredNetwork(conf.clusterNetwork, conf, deps, "(GC)")
      : resolveInlineDelegate(conf.delegates[0] ?? {}, 0);
    add(cluster.networkRef, cluster.list, valid);
  } catch (err) {
    return [`cluster network: ${toCniError(err).message}`];
  }
  for (const r of kept) {
    if (r.role === "cluster" || secondaries)
      add(r.networkRef, listOf(r), [{ containerID: r.containerId, ifname: r.ifName }]);
  }
  const errors: string[] = [];
  for (const { list, valid: mine } of networks.values()) {
    await deps.runtime
      .gcNetworkList(list, mine, deps.signal)
      .catch((err: unknown) => errors.push(`network ${list.name}: ${toCniError(err).message}`));
  }
  return errors;
}
