// The one command-line parser of every plexus subcommand: node:util parseArgs (its tokens, not
// its strict mode, whose messages differ between Node versions and run to several sentences),
// plus the checks it leaves to its caller. Every subcommand answers a usage error the same way:
// one line on stderr naming the flag, nothing on stdout, exit code 2, before anything is changed
// on the machine (src/cli/README.md). `--help`/`-h` belongs to every subcommand.

import { parseArgs } from "node:util";

export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** The flags given, by long name: a string flag's value, or true for a boolean one. */
export type FlagValues<F extends FlagSpecs> = {
  readonly [K in keyof F]?: F[K]["type"] extends "string" ? string : boolean;
};

export interface CommandLine<F extends FlagSpecs> {
  readonly flags: FlagValues<F>;
  readonly positionals: readonly string[];
  /** --help or -h was given: print the usage, check nothing else. */
  readonly help: boolean;
}

/** A command line that cannot work as written: reported as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface ParseOptions {
  /** How many positional arguments the command takes (default 0). */
  readonly maxPositionals?: number;
}

/**
 * Parses `argv` against `flags`. A repeated flag keeps its last value, as with parseArgs. Throws
 * UsageError for an unknown flag, a string flag without a value (or whose value is the next flag),
 * a value given to a boolean flag, and an argument beyond `maxPositionals`.
 */
export function parseCommandLine<F extends FlagSpecs>(
  argv: readonly string[],
  flags: F,
  options: ParseOptions = {},
): CommandLine<F> {
  const all = { ...flags, help: { type: "boolean", short: "h" } } as const satisfies FlagSpecs;
  const { tokens } = parseArgs({ args: [...argv], options: all, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  let problem: string | undefined;
  for (const token of tokens) {
    if (token.kind === "positional") positionals.push(token.value);
    if (token.kind !== "option") continue;
    if (token.name === "help" && token.value === undefined) values["help"] = true;
    if (problem !== undefined) continue;
    const spec = (all as FlagSpecs)[token.name];
    if (spec === undefined || (token.rawName.length === 2 && spec.short !== token.rawName[1])) {
      problem = `unknown flag ${token.rawName}`;
    } else if (spec.type === "boolean") {
      if (token.value !== undefined) problem = `${token.rawName} takes no value`;
      else values[token.name] = true;
    } else if (token.value === undefined || (!token.inlineValue && token.value.startsWith("-"))) {
      problem = `${token.rawName} needs a value`;
    } else {
      values[token.name] = token.value;
    }
  }
  if (values["help"] === true) return { flags: {}, positionals: [], help: true };
  if (problem !== undefined) throw new UsageError(problem);
  const max = options.maxPositionals ?? 0;
  if (positionals.length > max) {
    throw new UsageError(
      max === 0
        ? `unexpected argument ${JSON.stringify(positionals[0])}`
        : `too many arguments: ${JSON.stringify(positionals[max])} is one more than the ${max} it takes`,
    );
  }
  delete values["help"];
  return { flags: values as FlagValues<F>, positionals, help: false };
}

/** A TCP port: an integer 0-65535 (0 asks the kernel for a free one). */
export function portValue(flag: string, text: string): number {
  return integerValue(flag, text, { min: 0, max: 65535, what: "a port number" });
}

/** An integer in [min, max], written in decimal. */
export function integerValue(
  flag: string,
  text: string,
  range: { readonly min: number; readonly max: number; readonly what?: string },
): number {
  const n = /^\s*-?\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(
      `--${flag}: ${JSON.stringify(text)} is not ${range.what ?? "an integer"} (${range.min}-${range.max})`,
    );
  }
  return n;
}

/** A value that must not be empty (a directory, a name). */
export function nonEmptyValue(flag: string, text: string): string {
  if (text.trim() === "") throw new UsageError(`--${flag} needs a non-empty value`);
  return text;
}
