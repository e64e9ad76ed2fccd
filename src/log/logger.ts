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

function wrap(p: PinoLogger): Logger {
  return {
    debug: (o, m) => p.debug(o, m),
    info: (o, m) => p.info(o, m),
    warn: (o, m) => p.warn(o, m),
    error: (o, m) => p.error(o, m),
    child: (b) => wrap(p.child(b)),
  };
}
