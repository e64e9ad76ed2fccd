// Running a command inside a network namespace given by path, e.g. the engine's
// `ip route replace default via X dev net1` in the pod. A Node process cannot setns safely (it is multi-threaded, and
// setns moves one thread only), so nsenter enters the namespace for the command.

import { isAbsolute } from "node:path";
import { execa } from "execa";
import { CniError, ErrorCode } from "../cni/error.js";
import { describeExit, quoteOutput } from "./plugin-output.js";

export interface NetnsCommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `argv` (argv[0] looked up in PATH) with `nsenter --net=<netnsPath>`. Throws a CniError
 * that names the command and the namespace and quotes stderr when it fails; code 103 when
 * `signal` ends it first.
 */
export async function runInNetns(
  netnsPath: string,
  argv: readonly string[],
  signal: AbortSignal,
): Promise<NetnsCommandOutput> {
  const what = `command ${JSON.stringify(argv.join(" "))} in network namespace ${netnsPath}`;
  if (!isAbsolute(netnsPath) || argv.length === 0) {
    throw new CniError(
      ErrorCode.Internal,
      `cannot run ${what}: the namespace must be an absolute path and the command non-empty`,
    );
  }
  const r = await execa("nsenter", [`--net=${netnsPath}`, "--", ...argv], {
    reject: false,
    stdin: "ignore",
    cancelSignal: signal,
    forceKillAfterDelay: 1_000,
  });
  if (r.isCanceled) throw new CniError(ErrorCode.Timeout, `${what} was cancelled`, { cause: signal.reason });
  if (r.failed) {
    const stderr = String(r.stderr).trim();
    const why =
      r.exitCode === undefined && r.signal === undefined
        ? (r.code ?? "spawn failed")
        : describeExit({ exitCode: r.exitCode, signal: r.signal });
    throw new CniError(
      ErrorCode.Internal,
      `${what} failed: ${stderr === "" ? why : `${quoteOutput(stderr)}: ${why}`}`,
      {
        cause: r.cause ?? undefined,
      },
    );
  }
  return { stdout: String(r.stdout), stderr: String(r.stderr) };
}
