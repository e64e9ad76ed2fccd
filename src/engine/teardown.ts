// Deleting attachments: reverse order, every one attempted, failures collected, never stopping
// at the first (multi-net spec §7.2; docs/architecture.md#del).

import { toCniError, type CniError } from "../cni/error.js";
import type { AttachmentRecord } from "../cache/record.js";
import { describeAttachment, listOf, resultOf, runtimeConfOf } from "./attachments.js";
import type { EngineDeps } from "./deps.js";

export interface TeardownFailure {
  readonly record: AttachmentRecord;
  readonly error: CniError;
}

export async function deleteAttachments(
  records: readonly AttachmentRecord[],
  netns: string,
  deps: EngineDeps,
): Promise<TeardownFailure[]> {
  const failures: TeardownFailure[] = [];
  for (const record of [...records].sort((a, b) => b.index - a.index)) {
    try {
      await deps.runtime.delNetworkList(listOf(record), runtimeConfOf(record, netns), resultOf(record), deps.signal);
      // DIS §4.2.1: the per-attachment device-info file goes with the attachment.
      if (record.deviceInfoFile) await deps.deviceInfo.remove(record.deviceInfoFile);
    } catch (err) {
      failures.push({ record, error: toCniError(err).withContext(describeAttachment(record)) });
    }
  }
  return failures;
}
