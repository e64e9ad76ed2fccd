// CHECK: every cached attachment is checked by its own delegates with its cached result as
// prevResult (CNI SPEC §3). Multus checks only static delegates (docs/compatibility.md#check);
// Plexus checks what the pod really has.

import { CniError, ErrorCode, toCniError } from "../cni/error.js";
import { versionAllows } from "../cni/version.js";
import { describeAttachment, listOf, resultOf, runtimeConfOf } from "./attachments.js";
import { withContainerLock } from "./command-lock.js";
import type { EngineDeps, ContainerRequest } from "./deps.js";

export function cmdCheck(req: ContainerRequest, deps: EngineDeps): Promise<void> {
  return withContainerLock(req, deps, (owned) => check(req, owned));
}

async function check(req: ContainerRequest, deps: EngineDeps): Promise<void> {
  const containerId = req.env.containerId;
  const state = await deps.cache.loadContainer(containerId);
  if (state.corrupt.length > 0) {
    throw new CniError(
      ErrorCode.DecodingFailure,
      `container ${containerId}: unreadable state file ${state.corrupt[0]?.path}: ${state.corrupt[0]?.reason}`,
    );
  }
  const added = state.attachments.filter((r) => r.state === "added");
  if (added.length === 0) {
    throw new CniError(ErrorCode.UnknownContainer, `container ${containerId} has no attachments known to Plexus`);
  }
  for (const record of added) {
    // The auxiliary chain runs on an interface name the pod does not have (Multus's design):
    // its plugins' CHECK looks for that link and fails. Multus never checks it either.
    if (record.role === "auxiliary") continue;
    const list = listOf(record);
    if (!versionAllows("CHECK", list.cniVersion)) {
      deps.log.debug(
        { network: record.networkRef, version: list.cniVersion },
        "CHECK skipped: the delegate's version has no CHECK",
      );
      continue;
    }
    try {
      await deps.runtime.checkNetworkList(list, runtimeConfOf(record, req.env.netns), resultOf(record), deps.signal);
    } catch (err) {
      throw toCniError(err).withContext(describeAttachment(record));
    }
  }
}
