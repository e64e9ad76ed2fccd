// The core/v1 Events the local API server holds, read the way `kubectl describe` reads them:
// what the tests check of an Event, through one schema (a test fails on an Event of another shape).

import { z } from "zod";
import type { ApiStore, ListOptions } from "../../src/local/api-store.js";

const EventSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }),
  involvedObject: z.looseObject({
    kind: z.string().optional(),
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
  }),
  type: z.string(),
  reason: z.string(),
  message: z.string(),
  count: z.number().optional(),
  firstTimestamp: z.string().optional(),
  lastTimestamp: z.string().optional(),
  source: z.looseObject({ component: z.string().optional(), host: z.string().optional() }).optional(),
});
export type RecordedEvent = z.infer<typeof EventSchema>;

/** The Events in `namespace` (with a field selector, as kubectl filters them). */
export function eventsIn(store: ApiStore, namespace: string, options: ListOptions = {}): RecordedEvent[] {
  return store.list({ resource: "events" }, { ...options, namespace }).items.map((e) => EventSchema.parse(e));
}

/**
 * The Events in `namespace` once `ready(events)` holds. Plexus writes Events off the pod's
 * critical path (the daemon after it has answered), so a test waits for them: checked after
 * every write the store takes, given up (with what was there) after `limitMs`, a bound on a
 * hang and not a measurement.
 */
export function eventsOnceIn(
  store: ApiStore,
  namespace: string,
  ready: (events: RecordedEvent[]) => boolean,
  limitMs = 30_000,
): Promise<RecordedEvent[]> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const events = eventsIn(store, namespace);
      if (!ready(events)) return false;
      stop();
      clearTimeout(timer);
      resolve(events);
      return true;
    };
    const stop = store.onWrite(() => void check());
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the Events in ${namespace} never got there: ${JSON.stringify(eventsIn(store, namespace))}`));
    }, limitMs);
    check();
  });
}
