// What one pass of the agent works with and what it concludes: shared by the loop
// (agent.ts), the pass (reconcile.ts) and the guard of Plexus's own file (conf-guard.ts).

import type { InstallOptions } from "../config/install-options.js";
import type { Logger } from "../log/logger.js";
import type { ConfDirReader } from "../runtime/conf-files.js";
import type { InstallEvents } from "./agent-events.js";
import type { ExecutableSources } from "./binary.js";
import type { InstallLayout } from "./layout.js";

export interface ReconcileContext {
  readonly options: InstallOptions;
  readonly layout: InstallLayout;
  /** The executables to (re)install; undefined with --skip-binary-copy. */
  readonly executables: ExecutableSources | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly reader: ConfDirReader;
  readonly log: Logger;
  readonly events: InstallEvents;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

export type Phase = "waiting" | "installed" | "blocked";

export interface Outcome {
  readonly phase: Phase;
  readonly message: string;
}
