// Logging: the only importer of pino. The plugin process never logs to stdout (it carries the
// CNI result); lines go to stderr and/or a file. Secrets are redacted by key wherever they sit.

import { openSync } from "node:fs";
import pino, { type Logger as PinoLogger } from "pino";

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: object): Logger;
}

export interface LoggerOptions {
  /** debug | verbose (= info) | info | warn | error | panic (= fatal) | silent */
  readonly level: string;
  readonly file?: string;
  readonly toStderr: boolean;
}

const REDACT = [
  "token",
  "*.token",
  "*.*.token",
  "password",
  "*.password",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "client-key-data",
  "*.client-key-data",
  "kubeconfigData",
];

function pinoLevel(level: string): pino.LevelWithSilent {
  switch (level) {
    case "verbose":
      return "info";
    case "panic":
      return "fatal";
    case "debug":
    case "info":
    case "warn":
    case "error":
    case "silent":
      return level;
    default:
      return "warn";
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const streams: pino.StreamEntry[] = [];
  if (options.toStderr) streams.push({ stream: pino.destination({ dest: 2, sync: true }) });
  if (options.file) {
    // Opened by us (append, 0600) so a failure to open is reported once, at the edge.
    const fd = openSync(options.file, "a", 0o600);
    streams.push({ stream: pino.destination({ dest: fd, sync: true }) });
  }
  const level = streams.length === 0 ? "silent" : pinoLevel(options.level);
  const logger = pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACT, censor: "[redacted]" } },
    pino.multistream(streams.map((s) => ({ ...s, level }))),
  );
  return wrap(logger);
}

/** A logger that drops everything; for tests and for commands that must stay quiet. */
export function silentLogger(): Logger {
  return wrap(pino({ level: "silent" }));
}

/**
 * No log line repeats a key (a JSON object with two "pod" keys is read differently by every
 * log pipeline). pino writes a child's bindings and then the call's object as they are, so:
 *   - a child is made from the root with all its bindings merged, the newer value winning
 *     (a k8s child of the daemon's logger says component "k8s", once);
 *   - a call's key that a binding already holds is dropped when the value is the same, and
 *     kept as `<key>_call` when it differs; pino's own keys (level, time, pid, msg) likewise.
 */
function wrap(root: PinoLogger, bindings: Readonly<Record<string, unknown>> = {}): Logger {
  const p = Object.keys(bindings).length > 0 ? root.child(bindings) : root;
  const clean = (o: object): object => {
    let out: Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(o)) {
      const bound = Object.hasOwn(bindings, key);
      if (!bound && !PINO_KEYS.has(key)) continue;
      out ??= { ...o };
      delete out[key];
      if (bound && sameValue(bindings[key], value)) continue;
      out[`${key}_call`] = value;
    }
    return out ?? o;
  };
  return {
    debug: (o, m) => p.debug(clean(o), m),
    info: (o, m) => p.info(clean(o), m),
    warn: (o, m) => p.warn(clean(o), m),
    error: (o, m) => p.error(clean(o), m),
    child: (b) => wrap(root, { ...bindings, ...definedEntries(b) }),
  };
}

const PINO_KEYS = new Set(["level", "time", "pid", "msg", "hostname"]);

/** pino leaves out undefined values: such a binding holds no key. */
function definedEntries(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}
