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
