// GC (CNI 1.1): the runtime names the attachments that are still valid; every cached container
// that is not among them is torn down and forgotten, then delegates (>= 1.1.0) get their own GC
// with the attachments still valid for THEIR network.

import type { NetworkConfigList } from "../cni/conf.js";
import { CniError, ErrorCode, toCniError } from "../cni/error.js";
import type { AttachmentRecord } from "../cache/record.js";
import type { ValidAttachment } from "../runtime/types.js";
import { listOf } from "./attachments.js";
import type { EngineDeps, PluginRequest } from "./deps.js";
import { resolveConfiguredNetwork, resolveInlineDelegate } from "./networks.js";
import { deleteAttachments } from "./teardown.js";

export async function cmdGc(req: PluginRequest, deps: EngineDeps): Promise<void> {
  const valid = validAttachments(req);
  const isValid = (cid: string, ifName: string) => valid.some((v) => v.containerID === cid && v.ifname === ifName);
  const errors: string[] = [];
  const kept: AttachmentRecord[] = [];
  for (const containerId of await deps.cache.listContainers()) {
    const state = await deps.cache.loadContainer(containerId);
    const primary = state.attachments[0]?.primaryIfName ?? "eth0";
    if (state.attachments.length > 0 && isValid(containerId, primary)) {
      kept.push(...state.attachments);
      continue;
    }
    if (valid.some((v) => v.containerID === containerId)) continue; // corrupt or tombstone of a live container
    const failures = await deleteAttachments(state.attachments, "", deps);
    if (failures.length === 0) await deps.cache.purgeContainer(containerId);
    errors.push(...failures.map((f) => `container ${containerId}: ${f.error.message}`));
  }
  errors.push(...(await gcDelegates(req, deps, valid, kept)));
  if (errors.length > 0) throw new CniError(ErrorCode.Internal, `GC failed: ${errors.join("; ")}`);
}

function validAttachments(req: PluginRequest): ValidAttachment[] {
  const raw = req.raw["cni.dev/valid-attachments"] ?? req.raw["cni.dev/attachments"] ?? [];
  if (!Array.isArray(raw)) throw new CniError(ErrorCode.InvalidNetworkConfig, "cni.dev/valid-attachments must be a list");
  return raw.map((v, i) => {
    const o = (v ?? {}) as Record<string, unknown>;
    if (typeof o["containerID"] !== "string" || typeof o["ifname"] !== "string") {
      throw new CniError(ErrorCode.InvalidNetworkConfig, `cni.dev/valid-attachments[${i}] needs string containerID and ifname`);
    }
    return { containerID: o["containerID"], ifname: o["ifname"] };
  });
}

/** GC of each network's delegates, told which of ITS attachments are still valid. */
async function gcDelegates(req: PluginRequest, deps: EngineDeps, valid: readonly ValidAttachment[], kept: readonly AttachmentRecord[]): Promise<string[]> {
  const networks = new Map<string, { list: NetworkConfigList; valid: ValidAttachment[] }>();
  const add = (list: NetworkConfigList, attachment?: ValidAttachment) => {
    const entry = networks.get(list.name) ?? { list, valid: [] };
    if (attachment) entry.valid.push(attachment);
    networks.set(list.name, entry);
  };
  try {
    const { conf } = req;
    const cluster = conf.clusterNetwork ? (await resolveConfiguredNetwork(conf.clusterNetwork, conf, deps, "(GC)")).list : resolveInlineDelegate(conf.delegates[0] ?? {}, 0).list;
    add(cluster);
  } catch (err) {
    return [`cluster network: ${toCniError(err).message}`];
  }
  for (const r of kept) add(listOf(r), { containerID: r.containerId, ifname: r.ifName });
  const errors: string[] = [];
  for (const { list, valid: mine } of networks.values()) {
    // The cluster network's own attachments are the runtime's (containerID, eth0) pairs.
    const attachments = mine.length > 0 ? mine : valid;
    await deps.runtime.gcNetworkList(list, attachments, deps.signal).catch((err: unknown) => errors.push(`network ${list.name}: ${toCniError(err).message}`));
  }
  return errors;
}
