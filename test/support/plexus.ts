// Running the built plexus executable (dist/plexus, the Node single executable the runtime
// would run) as a CNI plugin, the way a runtime does: CNI_* env, config on stdin, result or error
// JSON on stdout. With `inNetns`, the process runs inside that (node) namespace.
//
//   const out = await callPlexus({ command: "ADD", containerId, netns: pod.path, ifName: "eth0",
//                                  cniArgs: podArgs("team-a", "web-0", uid), cniPath, stdin: conf,
//                                  inNetns: node });
//   out.code, out.stdout, out.stderr, out.json
//   resultOf(out).interfaces, errorOf(out).msg      // stdout checked against the CNI schemas

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { Result100Schema, type Result100 } from "../../src/cni/result.js";
import type { Netns } from "./netns.js";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const plexusBin = `${repoRoot}dist/plexus`;
/** The daemon mode's CNI plugin (src/shim/plexus-shim.c), built beside dist/plexus. */
export const shimBin = `${repoRoot}dist/plexus-shim`;

export interface PlexusCall {
  readonly command: string;
  readonly containerId?: string;
  readonly netns?: string;
  readonly ifName?: string;
  readonly cniArgs?: string;
  readonly cniPath: readonly string[];
  /** An object is sent as JSON; a string as is. */
  readonly stdin: unknown;
  /** Extra environment; the base is a runtime-like small env (PATH only). */
  readonly env?: Readonly<Record<string, string>>;
  readonly inNetns?: Netns;
  /** A command prefix, e.g. ["strace", "-f", ...]: plexus runs as its last argument. */
  readonly wrap?: readonly string[];
  readonly timeoutMs?: number;
  /**
   * Daemon mode: run dist/plexus-shim against the daemon on this socket (dist/plexus is its thin
   * fallback) instead of dist/plexus.
   */
  readonly daemonSocket?: string;
}

export interface PlexusOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed, or undefined when it is empty. */
  readonly json: unknown;
}

/** The 1.x result plexus printed; the test fails (naming what it got) for an error or another shape. */
export function resultOf(out: PlexusOutcome): Result100 {
  const parsed = Result100Schema.safeParse(out.json);
  if (out.code !== 0 || !parsed.success) {
    throw new Error(`expected a CNI 1.x result, got exit ${out.code}: ${out.stdout}${out.stderr}`);
  }
  return parsed.data;
}

/** The error object of the CNI protocol (WireError in src/cni/error.ts). */
const WireErrorSchema = z.object({
  cniVersion: z.string().optional(),
  code: z.number().int(),
  msg: z.string(),
  details: z.string().optional(),
});

/** The CNI error plexus printed; the test fails (naming what it got) when it printed something else. */
export function errorOf(out: PlexusOutcome): z.infer<typeof WireErrorSchema> {
  const parsed = WireErrorSchema.safeParse(out.json);
  if (out.code === 0 || !parsed.success) {
    throw new Error(`expected a CNI error, got exit ${out.code}: ${out.stdout}${out.stderr}`);
  }
  return parsed.data;
}

export function requireBuiltPlexus(): void {
  for (const bin of [plexusBin, shimBin])
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` (test/run.sh does)`);
}

export function podArgs(namespace: string, name: string, uid?: string, infra?: string): string {
  // containerd builds CNI_ARGS from a Go map: the key order varies (docs/compatibility.md#container-runtimes).
  const pairs = [`K8S_POD_NAMESPACE=${namespace}`, `K8S_POD_NAME=${name}`, "IgnoreUnknown=1"];
  if (infra) pairs.push(`K8S_POD_INFRA_CONTAINER_ID=${infra}`);
  if (uid) pairs.push(`K8S_POD_UID=${uid}`);
  return pairs.join(";");
}

export async function callPlexus(call: PlexusCall): Promise<PlexusOutcome> {
  return startPlexus(call).done;
}

/** A plexus process still running: for tests that kill it or race it against another. */
export interface RunningPlexus {
  readonly pid: number;
  readonly done: Promise<PlexusOutcome>;
  /** Resolves true once stderr so far matches `pattern`, false if the process ends first. */
  stderrMatches(pattern: RegExp): Promise<boolean>;
  kill(signal?: NodeJS.Signals): void;
}

export function startPlexus(call: PlexusCall): RunningPlexus {
  requireBuiltPlexus();
  const env: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId ?? "",
    CNI_NETNS: call.netns ?? "",
    CNI_IFNAME: call.ifName ?? "",
    CNI_ARGS: call.cniArgs ?? "",
    CNI_PATH: call.cniPath.join(":"),
    ...(call.daemonSocket !== undefined ? { PLEXUS_SOCKET: call.daemonSocket, PLEXUS_THIN: plexusBin } : {}),
    ...call.env,
  };
  const bin = call.daemonSocket !== undefined ? shimBin : plexusBin;
  // `ip netns exec` execs the command: the pid is the shim's or plexus's own.
  const argv = [...(call.inNetns ? ["ip", "netns", "exec", call.inNetns.name] : []), ...(call.wrap ?? []), bin];
  const stdin = typeof call.stdin === "string" ? call.stdin : JSON.stringify(call.stdin);
  const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const watchers: { pattern: RegExp; resolve: (v: boolean) => void }[] = [];
  let ended = false;
  const stderrText = () => Buffer.concat(err).toString();
  const done = new Promise<PlexusOutcome>((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), call.timeoutMs ?? 120_000);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => {
      err.push(b);
      const text = stderrText();
      for (const w of watchers.splice(0)) {
        if (w.pattern.test(text)) w.resolve(true);
        else watchers.push(w);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      ended = true;
      for (const w of watchers.splice(0)) w.resolve(w.pattern.test(stderrText()));
      const stdout = Buffer.concat(out).toString();
      let json: unknown;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, stdout, stderr: stderrText(), json });
    });
    child.stdin.on("error", () => undefined); // a killed process may not read its stdin
    child.stdin.end(stdin);
  });
  return {
    pid: child.pid ?? -1,
    done,
    stderrMatches: (pattern) =>
      new Promise((resolve) => {
        if (pattern.test(stderrText())) resolve(true);
        else if (ended) resolve(false);
        else watchers.push({ pattern, resolve });
      }),
    kill: (signal = "SIGKILL") => {
      child.kill(signal);
    },
  };
}
