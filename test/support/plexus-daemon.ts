// A real `dist/plexus daemon` process for the tests, on a temp socket (never /run/plexus),
// optionally inside a test's node namespace. Calls go through dist/plexus-shim
// (callPlexus({ ..., daemonSocket: d.socket })).
//
//   const d = await startPlexusDaemon({ dir, kubeconfig, inNetns: node });   afterAll(() => d.kill())
//   d.socket; await d.metrics(); await d.stop(); d.kill("SIGKILL"); d.log()

import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Netns } from "./netns.js";
import { plexusBin, requireBuiltPlexus } from "./plexus.js";

export interface DaemonStart {
  /** The socket goes to <dir>/run/plexus.sock. */
  readonly dir: string;
  readonly kubeconfig?: string;
  readonly inNetns?: Netns;
  /** Further flags (--max-parallel 4, --queue-timeout 1, ...). */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export interface TestDaemon {
  readonly socket: string;
  readonly pid: number;
  /** HOST:PORT of /metrics, /healthz, /readyz (in the daemon's network namespace). */
  readonly metricsAddress: string;
  /** Everything the daemon logged so far. */
  log(): string;
  /**
   * The log once `ready(log)` holds: what the daemon logged before answering a call can reach this
   * process after the answer (two pipes). Checked on every write; given up after `limitMs`.
   */
  logged(ready: (log: string) => boolean, limitMs?: number): Promise<string>;
  /** GET a path of the metrics server (inside the node namespace when there is one). */
  http(path: string): Promise<{ status: number; body: string }>;
  /** SIGTERM and wait for the exit; returns the exit code. */
  stop(): Promise<number>;
  /** A signal, no waiting (SIGKILL for a crash). Safe after exit. */
  kill(signal?: NodeJS.Signals): void;
  readonly exited: Promise<number>;
}

export async function startPlexusDaemon(o: DaemonStart): Promise<TestDaemon> {
  requireBuiltPlexus();
  const socket = join(o.dir, "run", "plexus.sock");
  const daemonArgv = [
    plexusBin,
    "daemon",
    "--socket",
    socket,
    "--metrics-address",
    "127.0.0.1:0",
    "--log-level",
    "debug",
    ...(o.kubeconfig ? ["--kubeconfig", o.kubeconfig] : []),
    ...(o.args ?? []),
  ];
  const argv = o.inNetns ? ["ip", "netns", "exec", o.inNetns.name, ...daemonArgv] : daemonArgv;
  const child: ChildProcess = spawn(argv[0] as string, argv.slice(1), {
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NODE_NAME: "node", ...o.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  const exited = new Promise<number>((resolve) => child.once("exit", (code, sig) => resolve(code ?? (sig ? 128 : -1))));
  const metricsAddress = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the daemon did not start in 20 s:\n${output}`)), 20_000);
    child.stderr?.on("data", (b: Buffer) => {
      output += b.toString();
      const line = output.split("\n").find((l) => l.includes('"plexus daemon serving"'));
      if (line) {
        clearTimeout(timer);
        resolve(String((JSON.parse(line) as { metrics: string }).metrics));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the daemon exited (${code}) before serving:\n${output}`));
    });
  });
  const http = async (path: string) => {
    const url = `http://${metricsAddress}${path}`;
    const curl = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", url];
    const cmd = o.inNetns ? ["ip", "netns", "exec", o.inNetns.name, ...curl] : curl;
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(cmd[0] as string, cmd.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
      let text = "";
      c.stdout.on("data", (b: Buffer) => (text += b.toString()));
      c.on("error", reject);
      c.on("close", () => resolve(text));
    });
    const cut = out.lastIndexOf("\n");
    return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
  };
  return {
    socket,
    pid: child.pid ?? -1,
    metricsAddress,
    log: () => output,
    logged: (ready, limitMs = 30_000) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          if (!ready(output)) return;
          child.stderr?.off("data", check);
          clearTimeout(timer);
          resolve(output);
        };
        const timer = setTimeout(() => {
          child.stderr?.off("data", check);
          reject(new Error(`the daemon never logged it; its log:\n${output}`));
        }, limitMs);
        // After the listener that appends to `output` (registered first, above).
        child.stderr?.on("data", check);
        check();
      }),
    http,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
    kill: (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited,
  };
}

/** The value of one sample line of a Prometheus text exposition (undefined when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1] as string, x[2] as string]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}
