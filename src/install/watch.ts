// When to run the next reconcile pass: a change in a watched directory (debounced, so a burst
// of writes is one pass), or the poll interval, whichever comes first. inotify misses changes
// on some mounts (overlay lower layers, NFS, some hostPath setups) and cannot see a directory
// that does not exist yet; the poll covers both. Projected service-account tokens rotate by
// swapping a symlink in their directory, which a directory watch sees and a file watch does not.

import { watch, type FSWatcher } from "node:fs";

export interface ChangeTrigger {
  /** Resolves at the next (debounced) change, poll tick, or abort, whichever comes first. */
  next(): Promise<void>;
  close(): void;
}

export interface TriggerOptions {
  readonly dirs: readonly string[];
  readonly pollMs: number;
  readonly debounceMs: number;
  readonly signal: AbortSignal;
}

export function createChangeTrigger({ dirs, pollMs, debounceMs, signal }: TriggerOptions): ChangeTrigger {
  const watchers = new Map<string, FSWatcher>();
  let changed = false;
  let wake: (() => void) | undefined;
  let debounce: NodeJS.Timeout | undefined;

  const fire = (): void => {
    changed = true;
    clearTimeout(debounce);
    debounce = setTimeout(() => wake?.(), debounceMs);
  };
  const watchMissing = (): void => {
    for (const dir of new Set(dirs)) {
      if (watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, fire);
        // A watched directory that goes away (or an inotify error) falls back to polling
        // until the next tick re-creates the watch.
        w.on("error", () => {
          w.close();
          watchers.delete(dir);
        });
        watchers.set(dir, w);
      } catch {
        // Missing for now: polled, and watched once it exists.
      }
    }
  };
  const close = (): void => {
    clearTimeout(debounce);
    for (const w of watchers.values()) w.close();
    watchers.clear();
    wake?.();
  };
  signal.addEventListener("abort", close, { once: true });
  watchMissing();

  return {
    async next() {
      if (signal.aborted) return;
      if (!changed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
      changed = false;
      watchMissing();
    },
    close,
  };
}
