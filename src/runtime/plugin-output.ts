// Reading what a plugin printed: its result on success, its error on failure.
// libcni pkg/invoke/raw_exec.go (pluginErr) and exec.go; CNI SPEC §5 "Error".

import { z } from "zod";
import { CniError, ErrorCode } from "../cni/error.js";

/** How one plugin process ended. */
export interface PluginRun {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

// Long output is quoted only in part: an error message is read by people, in logs and events.
const QUOTE_LIMIT = 512;

/** The output as a JSON string literal, cut at QUOTE_LIMIT characters. */
export function quoteOutput(text: string): string {
  if (text.length <= QUOTE_LIMIT) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, QUOTE_LIMIT))}... (truncated, ${text.length} characters in all)`;
}

/** "exit status 1" or "signal: SIGKILL", the words of Go's exec.ExitError that libcni prints. */
export function describeExit(run: Pick<PluginRun, "exitCode" | "signal">): string {
  if (run.signal !== undefined) return `signal: ${run.signal}`;
  return `exit status ${run.exitCode ?? "unknown"}`;
}

// The error object of CNI SPEC §5 as libcni decodes it: every field may be missing.
const WireErrorSchema = z.object({
  code: z.number().int().nonnegative().optional(),
  msg: z.string().optional(),
  details: z.string().optional(),
});

/** The delegate's own error, or one built from its stderr or exit status (code 0 = unknown). */
export function decodeFailure(run: PluginRun): CniError {
  const stdout = run.stdout.trim();
  const stderr = run.stderr.trim();
  const exit = describeExit(run);
  if (stdout === "") {
    const msg =
      stderr === ""
        ? `netplugin failed with no error message: ${exit}`
        : `netplugin failed: ${quoteOutput(stderr)}: ${exit}`;
    return new CniError(ErrorCode.Unknown, msg);
  }
  let parsed: z.infer<typeof WireErrorSchema>;
  try {
    parsed = WireErrorSchema.parse(JSON.parse(stdout));
  } catch (err) {
    const why = err instanceof z.ZodError ? z.prettifyError(err).replace(/\s+/g, " ") : (err as Error).message;
    return new CniError(
      ErrorCode.Unknown,
      `netplugin failed but error parsing its diagnostic message ${quoteOutput(stdout)}: ${why}`,
      { details: stderr === "" ? undefined : `stderr: ${quoteOutput(stderr)}` },
    );
  }
  const msg = parsed.msg || `netplugin failed with no error message: ${exit}`;
  return new CniError(parsed.code ?? ErrorCode.Unknown, msg, { details: parsed.details });
}

/**
 * The JSON document a successful ADD or VERSION printed. `null` reads as an empty object, as in
 * libcni; nothing at all is an error (libcni pkg/invoke/exec.go).
 */
export function decodeSuccess(stdout: string): unknown {
  const text = stdout.trim();
  if (text === "") {
    throw new CniError(ErrorCode.DecodingFailure, "failed to unmarshal raw result: unexpected end of JSON input", {
      details: "the plugin exited 0 but printed nothing on stdout",
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CniError(ErrorCode.DecodingFailure, `failed to unmarshal raw result: ${(err as Error).message}`, {
      details: `stdout: ${quoteOutput(text)}`,
      cause: err,
    });
  }
  return value === null ? {} : value;
}
