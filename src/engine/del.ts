// DEL: from the cache, in reverse. Idempotent: after a DEL (or a rolled-back ADD) a tombstone makes
// the runtime's repeated DELs (containerd sends them with CNI_NETNS="" and no prevResult,
// docs/compatibility.md#container-runtimes) no-ops. With no cache, the plan is re-resolved from the
// API; with neither pod nor API, from the configuration alone. A corrupt cache file is never a
// silent no-op (Multus #1087): it is re-resolved around, set aside, and reported. A pod Multus
// set up (Plexus took the node over) is torn down from Multus's own cache.

import { basename } from "node:path";
import { CniError, ErrorCode } from "../cni/error.js";
import type { AttachmentRecord } from "../cache/record.js";
import type { CorruptFile } from "../cache/store.js";
import { newRecord } from "./attachments.js";
import { withContainerLock } from "./command-lock.js";
import type { EngineDeps, ContainerRequest } from "./deps.js";
import { deleteMultusContainer, loadMultusContainer } from "./multus-teardown.js";
import { resolvePlan, type Plan } from "./plan.js";
import { describePod, podRefFromArgs } from "./pod.js";
import { deleteAttachments } from "./teardown.js";

export function cmdDel(req: ContainerRequest, deps: EngineDeps): Promise<void> {
  return withContainerLock(req, deps, (owned) => del(req, owned));
}

async function del(req: ContainerRequest, deps: EngineDeps): Promise<void> {
  const containerId = req.env.containerId;
  const state = await deps.cache.loadContainer(containerId);
  if (state.attachments.length === 0 && state.corrupt.length === 0 && state.tombstone) {
    deps.log.debug({ reason: state.tombstone.reason }, "DEL of a container already torn down: nothing to do");
    return;
  }
  if (state.attachments.length === 0 && state.corrupt.length === 0) {
    // A pod Multus set up before Plexus took the node over (docs/migration.md).
    const multus = await loadMultusContainer(req, deps);
    if (multus) return deleteMultusContainer(req, deps, multus);
  }
  let records = state.attachments;
  let unresolved: CniError | undefined;
  if (records.length === 0 || state.corrupt.length > 0) {
    const found = await reresolve(req, deps, state.corrupt);
    records = mergeByInterface(records, found.records);
    unresolved = found.unresolved;
  }
  const failures = await deleteAttachments(records, req.env.netns, deps);
  for (const file of state.corrupt) await deps.cache.quarantine(file.path);
  if (failures.length > 0) {
    const keep = new Set(failures.map((f) => f.record.ifName));
    for (const r of state.attachments)
      if (!keep.has(r.ifName)) await deps.cache.removeAttachment(containerId, r.ifName);
    // Re-resolved records are kept for the retry, unless some networks were unknown: then the
    // retry must re-resolve them all (with records on disk, it would not).
    for (const f of failures)
      if (!unresolved && !state.attachments.includes(f.record)) await deps.cache.saveAttachment(f.record);
    const first = failures[0] as (typeof failures)[number];
    throw new CniError(
      first.error.code,
      `pod ${describePod(podRefFromArgs(req.env.args))}: DEL failed for ${failures.length} ` +
        `attachment(s): ${failures.map((f) => f.error.message).join("; ")}`,
      { cause: first.error },
    );
  }
  // What the configuration names is gone; the rest is unknown: no tombstone, so that the
  // runtime's retry re-resolves once the API answers.
  if (unresolved) throw unresolved;
  await deps.cache.forgetContainer(containerId, "deleted");
  // A file the cache could not read names its interface; re-resolution may no longer know it
  // (the pod or its network is gone). Then that attachment could not be torn down: say so
  // once, as an error; the file stays aside (.corrupt) and the runtime's next DEL succeeds.
  const covered = new Set<string>(records.map((r) => r.ifName));
  const lost = state.corrupt.filter((c) => !covered.has(basename(c.path, ".json")));
  if (state.corrupt.length > lost.length)
    deps.log.warn(
      { files: state.corrupt.map((c) => c.path) },
      "DEL re-resolved attachments whose state files were unreadable; the files were set aside (.corrupt)",
    );
  if (lost.length > 0) {
    throw new CniError(
      ErrorCode.DecodingFailure,
      `pod ${describePod(podRefFromArgs(req.env.args))}: DEL could not tear ` +
        `down ${lost.map((c) => basename(c.path, ".json")).join(", ")}: ` +
        `the state file is unreadable and the pod's networks no longer name it; its resources may ` +
        `remain (${lost.map((c) => `${c.path}.corrupt: ${c.reason.split("\n")[0]}`).join("; ")})`,
    );
  }
}

/**
 * What the API and the configuration say the container had, as records (never saved unless a
 * DEL fails). When the pod's networks cannot be re-resolved (the API is down), the networks
 * the configuration names alone are returned, to be torn down, with the error to report after.
 */
async function reresolve(
  req: ContainerRequest,
  deps: EngineDeps,
  corrupt: readonly CorruptFile[],
): Promise<{ records: AttachmentRecord[]; unresolved?: CniError }> {
  const recordsOf = (plan: Plan) => plan.attachments.map((a) => newRecord(a, req, plan.pod, deps.now()));
  try {
    return { records: recordsOf(await resolvePlan(req, deps, { lenient: true })) };
  } catch (err) {
    // Best effort is not silence: say what could not be done and why, then fail so the
    // runtime retries (a transient API outage) rather than leak addresses for good.
    const why = err instanceof Error ? err.message : String(err);
    const files = corrupt.length
      ? ` (unreadable state: ${corrupt.map((c) => `${c.path}: ${c.reason}`).join("; ")})`
      : "";
    const failure = (known: string) =>
      new CniError(
        err instanceof CniError ? err.code : ErrorCode.TryAgainLater,
        `pod ${describePod(podRefFromArgs(req.env.args))}: no usable state for container ${req.env.containerId} ` +
          `and the networks cannot be re-resolved: ${why}${files}${known}`,
        { cause: err },
      );
    let known: Plan;
    try {
      known = await resolvePlan(req, deps, { lenient: true, configOnly: true });
    } catch {
      throw failure("");
    }
    const names = known.attachments.map((a) => `${a.ifName} (${a.networkRef})`).join(", ");
    return {
      records: recordsOf(known),
      unresolved: failure(
        `; the cluster network was torn down from the configuration (${names}); the pod's own networks will be ` +
          `when the API answers`,
      ),
    };
  }
}

/** Cached records win; re-resolved ones fill the interfaces the cache lost. */
function mergeByInterface(
  cached: readonly AttachmentRecord[],
  resolved: readonly AttachmentRecord[],
): AttachmentRecord[] {
  const have = new Set(cached.map((r) => r.ifName));
  return [...cached, ...resolved.filter((r) => !have.has(r.ifName))];
}
