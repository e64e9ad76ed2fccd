// What every benchmark shares: it runs itself again inside a throwaway node namespace (the
// "outer" half), and the namespaces it made, all named after one prefix, go when it ends; it
// runs plugins with a config on stdin, timing each call; it prints its figures as a Markdown table.

import { execFileSync, spawn } from "node:child_process";

/** The environment the inner half and the plugins get: a plain PATH, nothing of the caller's. */
export const ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };

/** Runs `ip ARGS`; its stdout. Its stderr is dropped (`ip netns list` warns of namespaces going away). */
export function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
}

/**
 * Runs this script again in a new node namespace `<label><pid>-node`, with the same arguments,
 * BENCH_INNER=1 and BENCH_PREFIX set (and `env`); sets the exit code to the inner run's, and
 * deletes every namespace named with the prefix afterwards, whatever happened.
 */
export async function runInNodeNamespace(label: string, env: Record<string, string> = {}): Promise<void> {
  const prefix = `${label}${process.pid}`;
  const node = `${prefix}-node`;
  ip("netns", "add", node);
  ip("-n", node, "link", "set", "lo", "up");
  try {
    const child = spawn(
      "ip",
      ["netns", "exec", node, process.execPath, process.argv[1] as string, ...process.argv.slice(2)],
      { stdio: "inherit", env: { ...ENV, ...env, BENCH_INNER: "1", BENCH_PREFIX: prefix } },
    );
    process.exitCode = await new Promise<number>((r) => child.on("close", (c) => r(c ?? 1)));
  } finally {
    for (const line of ip("netns", "list").split("\n")) {
      const name = line.split(" ")[0] ?? "";
      if (name.startsWith(prefix)) ip("netns", "delete", name);
    }
  }
}

export interface Call {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs `argv` with `env` and `stdin`; its exit code, output and wall time. */
export function run(argv: readonly string[], env: Record<string, string>, stdin: string): Promise<Call> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    child.on("error", fail);
    child.on("close", (code) => done({ code: code ?? -1, stdout, stderr, ms: performance.now() - started }));
    child.stdin.end(stdin);
  });
}

/** `head` and `rows` as a Markdown table, each column as wide as its widest cell, ending in a newline. */
export function markdownTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}
