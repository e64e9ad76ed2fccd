// Multus's on-disk state, read so that Plexus can tear down the pods Multus set up on a node it
// took over (docs/migration.md). Two formats, both written by Multus (pkg/multus/multus.go) and
// libcni:
//   <dir>/<containerId>                                 Multus's scratch cache: a JSON array of its
//                                                       DelegateNetConf, written before any delegate
//                                                       ran; `Bytes` is the base64 of the delegate's
//                                                       exact config (conf or conflist)
//   <dir>/results/<network>-<containerId>-<ifName>      libcni's result cache (kind cniCacheV1),
//                                                       since Multus hands its cniDir to libcni:
//                                                       the delegate's result, CNI_ARGS and
//                                                       capability args as ADD ran them
// Read-only but for removing these files once the pod is torn down. Unknown keys are kept out
// of the way (Multus adds fields between releases); what DEL needs is checked.

import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { JsonObject } from "../cni/conf.js";

const DelegateSchema = z.looseObject({
  Name: z.string().default(""),
  ifnameRequest: z.string().optional(),
  /** The delegate's config as Multus ran it; Go marshals []byte as base64. */
  Bytes: z.string().min(1),
});
const ScratchSchema = z.array(DelegateSchema).min(1);

const LibcniCacheSchema = z.looseObject({
  kind: z.literal("cniCacheV1"),
  containerId: z.string(),
  ifName: z.string(),
  networkName: z.string(),
  cniArgs: z.array(z.tuple([z.string(), z.string()])).nullish(),
  capabilityArgs: z.record(z.string(), z.unknown()).nullish(),
  result: z.record(z.string(), z.unknown()).nullish(),
});

/** One delegate Multus ran for the container, as DEL needs it. */
export interface MultusDelegate {
  /** Position in Multus's list: DEL runs them in reverse. */
  readonly index: number;
  /** "namespace/nad" for a NAD, else the CNI network name (what Multus's network-status says). */
  readonly name: string;
  readonly ifName: string;
  /** The config Multus executed, exactly (a conf or a conflist). */
  readonly config: JsonObject;
  /** libcni's cached ADD, when there is one. */
  readonly cached?: {
    readonly path: string;
    readonly result: JsonObject | undefined;
    readonly cniArgs: readonly (readonly [string, string])[];
    readonly capabilityArgs: JsonObject;
  };
}

export interface MultusContainer {
  readonly scratchFile: string;
  readonly delegates: readonly MultusDelegate[];
}

export interface MultusCache {
  readonly dir: string;
  /**
   * The delegates Multus ran for `containerId`, with the interface names it gave them (its
   * getIfname: the requested name, else CNI_IFNAME for the first, else net<index>); undefined
   * when Multus has no scratch file for it. A file that cannot be read is an error naming it.
   */
  load(containerId: string, primaryIfName: string): Promise<MultusContainer | undefined>;
  /** Removes the scratch file and the result cache files of a container that was torn down. */
  forget(container: MultusContainer): Promise<void>;
}

export function createMultusCache(dir: string): MultusCache {
  return {
    dir,
    async load(containerId, primaryIfName) {
      const scratchFile = join(dir, containerId);
      let text: string;
      try {
        text = await readFile(scratchFile, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
      const parsed = ScratchSchema.safeParse(parseJson(text));
      if (!parsed.success)
        throw new Error(`${scratchFile}: not Multus's delegate list: ${z.prettifyError(parsed.error)}`);
      const delegates: MultusDelegate[] = [];
      for (const [index, d] of parsed.data.entries()) {
        const config = parseJson(Buffer.from(d.Bytes, "base64").toString("utf8"));
        if (typeof config !== "object" || config === null || Array.isArray(config))
          throw new Error(`${scratchFile}: delegate ${index} (${d.Name}): Bytes is not a JSON object`);
        const ifName = d.ifnameRequest || (index === 0 ? primaryIfName : `net${index}`);
        const network = networkName(config as JsonObject);
        const cached = await readLibcniCache(join(dir, "results", `${network}-${containerId}-${ifName}`));
        delegates.push({
          index,
          name: d.Name || network,
          ifName,
          config: config as JsonObject,
          ...(cached ? { cached } : {}),
        });
      }
      return { scratchFile, delegates };
    },
    async forget(container) {
      for (const d of container.delegates) if (d.cached) await rm(d.cached.path, { force: true });
      await rm(container.scratchFile, { force: true });
    },
  };
}

/** The name libcni caches a result under: the list's name, or the conf's. */
function networkName(config: JsonObject): string {
  const name = config["name"];
  return typeof name === "string" ? name : "";
}

async function readLibcniCache(path: string): Promise<MultusDelegate["cached"]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const parsed = LibcniCacheSchema.safeParse(parseJson(text));
  if (!parsed.success) throw new Error(`${path}: not a libcni result cache: ${z.prettifyError(parsed.error)}`);
  const c = parsed.data;
  return {
    path,
    result: (c.result ?? undefined) as JsonObject | undefined,
    cniArgs: c.cniArgs ?? [],
    capabilityArgs: (c.capabilityArgs ?? {}) as JsonObject,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
