// Optional persistence of the local API server's objects in one JSON file, so that a restarted
// `plexus local` keeps its pods and networks. Writes are debounced and atomic (temp + rename),
// mode 0600: objects may hold secrets as much as on a real cluster.
import { readFile, rename, writeFile } from "node:fs/promises";
import { z } from "zod";
import type { ApiStore } from "./api-store.js";
import type { StorageDump } from "./api-storage.js";
import type { KubeObject } from "./api-types.js";

const StateSchema = z.object({
  revision: z.number().int().nonnegative(),
  objects: z.array(
    z.object({ key: z.string(), object: z.looseObject({ metadata: z.looseObject({ name: z.string() }) }) }),
  ),
});

/** The saved state, or undefined when the file does not exist yet. */
export async function readState(path: string): Promise<StorageDump | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const parsed = StateSchema.parse(JSON.parse(text));
  return {
    revision: parsed.revision,
    objects: parsed.objects.map((o) => ({ key: o.key, object: o.object as KubeObject })),
  };
}

async function writeState(path: string, dump: StorageDump): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(dump), { mode: 0o600 });
  await rename(tmp, path);
}

export interface StatePersister {
  /** Writes now if anything changed since the last write. */
  flush(): Promise<void>;
  /** Stops watching the store, after a final flush. */
  close(): Promise<void>;
}

export function persistState(
  store: ApiStore,
  path: string,
  onError: (error: unknown) => void,
  debounceMs = 100,
): StatePersister {
  let dirty = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    await writing;
    if (!dirty) return;
    dirty = false;
    writing = writeState(path, store.dump()).catch(onError);
    await writing;
  };
  const unsubscribe = store.onWrite(() => {
    dirty = true;
    timer ??= setTimeout(() => void flush(), debounceMs);
  });
  return {
    flush,
    async close() {
      unsubscribe();
      await flush();
    },
  };
}
