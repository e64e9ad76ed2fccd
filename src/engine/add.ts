// ADD, reading like docs/architecture.md#the-flow-of-a-cni-command: parse (at the edge) -> resolve
// -> persist -> delegate -> (on error: roll back) -> merge -> publish.

import { toResult100 } from "../cni/convert.js";
import { CniError, ErrorCode, toCniError } from "../cni/error.js";
import { parseResult, type Result100 } from "../cni/result.js";
import { versionAtLeast } from "../cni/version.js";
import type { AttachmentRecord } from "../cache/record.js";
import type { JsonObject } from "../cni/conf.js";
import { parseDeviceInfo } from "../networks/device-info.js";
import { checkArgsOnlyRequests } from "../networks/delegate-config.js";
import { describeAttachment, listOf, newRecord, resultOf, runtimeConfOf, withResult } from "./attachments.js";
import { applyDefaultRoutes } from "./apply-default-routes.js";
import type { EngineDeps, ContainerRequest } from "./deps.js";
import { mergeResults, type AttachmentResult } from "./merge.js";
import { resolvePlan, type Plan } from "./plan.js";
import { describePod, podRefFromArgs } from "./pod.js";
import { publishNetworkStatus, recordFailureEvent, reportSelectionWarnings } from "./publish.js";
import { withContainerLock } from "./command-lock.js";
import { waitForReadiness } from "./readiness.js";
import { deleteAttachments } from "./teardown.js";

export function cmdAdd(req: ContainerRequest, deps: EngineDeps): Promise<Result100> {
  return withContainerLock(req, deps, (owned) => add(req, owned));
}

async function add(req: ContainerRequest, deps: EngineDeps): Promise<Result100> {
  const plan = await planOrGiveUp(req, deps);
  deps.log.debug(
    { attachments: plan.attachments.map((a) => `${a.ifName}=${a.networkRef}`), uptimeMs: uptimeMs() },
    "plan resolved",
  );
  if (plan.warnings.length > 0) reportSelectionWarnings(await deps.kube(), plan.pod, plan.warnings, deps);
  const records = await persistPlan(plan, req, deps);
  const added: AttachmentRecord[] = [];
  let started = 0;
  try {
    for (const [i, record] of records.entries()) {
      started++;
      const planned = plan.attachments[i];
      await seedDeviceInfo(planned, deps);
      const done = await addAttachment(record, req, deps);
      added.push(done);
      if (planned?.argsOnly) {
        checkArgsOnlyRequests(planned.argsOnly, resultOf(done) as Result100, done.ifName, {
          pod: describePod(plan.pod),
          network: done.networkRef,
        });
      }
    }
    const results = await routeDefaults(added, req, deps, describePod(plan.pod));
    const final = await saveResults(added, results, deps);
    if (plan.podFound && plan.pod) await publish(plan, final, results, deps);
    deps.log.debug({ uptimeMs: uptimeMs() }, "ADD done");
    return resultFor(
      req.conf.cniVersion,
      final.flatMap((r, i) =>
        isInterface(r) ? [{ ifName: r.ifName, netns: req.env.netns, result: results[i] as Result100 }] : [],
      ),
    );
  } catch (err) {
    // Undo in reverse, including the attachment that failed: its plugin may have half-built it.
    const attempted = records.slice(0, started);
    await rollback(attempted, added, req, deps, err);
    await reportFailure(req, deps, plan, err);
    throw err;
  }
}

/**
 * Step 6. Results before 0.3.0 have no interfaces, just one ip4 and one ip6: the pod's
 * addresses. Only the cluster network's belong there (merged, an IPv6-only pod's ip4 would be
 * a secondary network's address); Multus returns only the cluster network's result too.
 */
function resultFor(version: string, attachments: readonly AttachmentResult[]): Result100 {
  return mergeResults(versionAtLeast(version, "0.3.0") ? attachments : attachments.slice(0, 1));
}

/** The attachment's CNIDeviceInfoFile starts as the device plugin's file, when there is one. */
export async function seedDeviceInfo(a: Plan["attachments"][number] | undefined, deps: EngineDeps): Promise<void> {
  if (!a?.deviceInfo?.seed) return;
  const seeded = await deps.deviceInfo.seed(a.deviceInfo.seed, a.deviceInfo.file);
  if (!seeded) deps.log.debug({ file: a.deviceInfo.seed }, "no device plugin file for this device");
}

/** Steps 1-2. When they fail nothing was done, and the tombstone tells the next DEL so. */
async function planOrGiveUp(req: ContainerRequest, deps: EngineDeps): Promise<Plan> {
  try {
    await waitForReadiness(req.conf, deps);
    return await resolvePlan(req, deps);
  } catch (err) {
    await deps.cache.forgetContainer(req.env.containerId, "rolled-back");
    await reportFailure(req, deps, undefined, err);
    throw err;
  }
}

/** Step 3: every attachment is on disk before the first side effect. */
async function persistPlan(plan: Plan, req: ContainerRequest, deps: EngineDeps): Promise<AttachmentRecord[]> {
  const records = plan.attachments.map((a) => newRecord(a, req, plan.pod, deps.now()));
  for (const r of records) await deps.cache.saveAttachment(r);
  return records;
}

export async function addAttachment(
  record: AttachmentRecord,
  req: ContainerRequest,
  deps: EngineDeps,
): Promise<AttachmentRecord> {
  try {
    const started = performance.now();
    const list = listOf(record);
    // An auxiliary chain starts from the empty result Multus's pass-through first plugin returns.
    const from = record.role === "auxiliary" ? parseResult({ cniVersion: list.cniVersion }) : undefined;
    const raw = await deps.runtime.addNetworkList(list, runtimeConfOf(record, req.env.netns), deps.signal, from);
    deps.log.debug(
      { ifName: record.ifName, network: record.networkRef, ms: Math.round(performance.now() - started) },
      "attachment added",
    );
    const done = withResult(record, toResult100(raw), deps.now());
    await deps.cache.saveAttachment(done);
    return done;
  } catch (err) {
    const who = record.pod ? `pod ${record.pod.namespace}/${record.pod.name}` : `container ${record.containerId}`;
    throw toCniError(err).withContext(`${who}: ${describeAttachment(record)}`);
  }
}

/**
 * Whether an attachment is one of the pod's networks: the auxiliary chain is not (it adjusts the
 * pod and passes an empty result on): it has no network-status entry, no event, nothing in the
 * result (Multus reports it nowhere either).
 */
function isInterface(r: AttachmentRecord): boolean {
  return r.role !== "auxiliary";
}

/** default-route over the pod's interfaces (the auxiliary chain has none); results in `added` order. */
async function routeDefaults(
  added: readonly AttachmentRecord[],
  req: ContainerRequest,
  deps: EngineDeps,
  pod: string,
): Promise<Result100[]> {
  const routed = added.filter(isInterface);
  const after = await applyDefaultRoutes(req.env.netns, routed.map(routedView), deps, { pod });
  return added.map((r) => (isInterface(r) ? (after[routed.indexOf(r)] as Result100) : (resultOf(r) as Result100)));
}

function routedView(r: AttachmentRecord) {
  return {
    ifName: r.ifName,
    isCluster: r.role === "cluster",
    ...(r.defaultRoute ? { defaultRoute: r.defaultRoute } : {}),
    result: toResult100(r.result as never),
  };
}

async function saveResults(
  added: readonly AttachmentRecord[],
  results: readonly Result100[],
  deps: EngineDeps,
): Promise<AttachmentRecord[]> {
  const out: AttachmentRecord[] = [];
  for (const [i, r] of added.entries()) {
    const result = results[i] as Result100;
    const updated = r.defaultRoute ? withResult(r, result, deps.now()) : r;
    if (updated !== r) await deps.cache.saveAttachment(updated);
    out.push(updated);
  }
  return out;
}

async function publish(
  plan: Plan,
  records: readonly AttachmentRecord[],
  results: readonly Result100[],
  deps: EngineDeps,
): Promise<void> {
  const kube = await deps.kube();
  if (!kube || !plan.pod) return;
  const attachments = [];
  for (const [i, r] of records.entries()) {
    if (!isInterface(r)) continue;
    const deviceInfo = r.deviceInfoFile ? await readDeviceInfo(r.deviceInfoFile, deps) : undefined;
    attachments.push({
      networkRef: r.networkRef,
      ifName: r.ifName,
      isCluster: r.role === "cluster",
      result: results[i] as Result100,
      ...(deviceInfo ? { deviceInfo } : {}),
    });
  }
  await publishNetworkStatus(kube, plan.pod, attachments, deps);
}

/** The attachment's device-info file as the plugin left it, for network-status (DIS §6.1); absent is fine. */
export async function readDeviceInfo(path: string, deps: EngineDeps): Promise<JsonObject | undefined> {
  const text = await deps.deviceInfo.read(path);
  return text === undefined ? undefined : parseDeviceInfo(text, path);
}

/**
 * Undoes a failed ADD. The attachment whose ADD failed is DELeted too (its plugin may have half-
 * built it), but a failure of THAT DEL is not kept: a plugin must clean up after its own failed
 * ADD (CNI SPEC §4), and keeping it would make the runtime's next DEL fail forever. Unless the
 * plugin did not fail by itself but was killed (its deadline passed, or the call was cancelled:
 * the runtime's SIGTERM, a daemon's caller gone): then it cleaned up nothing, and its record
 * stays until a DEL succeeds. Attachments that were added and could not be undone are kept for
 * the runtime's next DEL to retry. A cancelled call runs no DEL at all: everything is kept.
 */
async function rollback(
  attempted: readonly AttachmentRecord[],
  added: readonly AttachmentRecord[],
  req: ContainerRequest,
  deps: EngineDeps,
  err: unknown,
): Promise<void> {
  const containerId = req.env.containerId;
  const killed = deps.signal.aborted || toCniError(err).code === ErrorCode.Timeout;
  const withResults = attempted.map((r) => added.find((a) => a.ifName === r.ifName) ?? r);
  const failures = (await deleteAttachments(withResults, req.env.netns, deps)).filter(
    (f) => f.record.state === "added" || killed,
  );
  if (failures.length === 0) {
    await deps.cache.forgetContainer(containerId, "rolled-back");
    return;
  }
  deps.log.error(
    { failures: failures.map((f) => f.error.message) },
    "rollback after a failed ADD left attachments behind",
  );
  const keep = new Set(failures.map((f) => f.record.ifName));
  for (const r of (await deps.cache.loadContainer(containerId)).attachments) {
    if (!keep.has(r.ifName)) await deps.cache.removeAttachment(containerId, r.ifName);
  }
}

async function reportFailure(
  req: ContainerRequest,
  deps: EngineDeps,
  plan: Plan | undefined,
  err: unknown,
): Promise<void> {
  const kube = req.env.args.podName ? await deps.kube().catch(() => undefined) : undefined;
  // With the UID: `kubectl describe pod` selects the pod's events by involvedObject.uid.
  const pod = plan?.pod ?? podRefFromArgs(req.env.args);
  const reason = err instanceof CniError && err.code === 100 ? "NoNetworkFound" : "NetworkSetupFailed";
  recordFailureEvent(kube, pod, reason, toCniError(err).message);
}

/** Milliseconds since the process started: where a short-lived plugin's time goes. */
function uptimeMs(): number {
  return Math.round(process.uptime() * 1000);
}
