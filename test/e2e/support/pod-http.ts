// A connection through a pod's network, end to end: a one-shot HTTP server inside a sandbox's
// network namespace, and a GET made from the node's network namespace (e.g. to a hostPort).
// Both run node (this test's executable) through the harness, inside the node's namespaces.
import type { ContainerdHandle } from "./containerd.js";
import type { CommandResult } from "./run-command.js";
import { execInSandboxNetns, type SandboxNetns } from "./sandbox-netns.js";

/** Answers one request on 0.0.0.0:<port> with "pod saw <path>", then exits (or is killed after 30 s). */
export function serveOnceInPod(h: ContainerdHandle, netns: SandboxNetns, port: number): Promise<CommandResult> {
  const script = `
const s = require("node:http").createServer((req, res) => { res.end("pod saw " + req.url); s.close(); });
s.listen(${port}, "0.0.0.0");`;
  return execInSandboxNetns(h, netns, ["timeout", "30", process.execPath, "-e", script], { timeoutMs: 40_000 });
}

/** GET from the node's netns, retrying for up to 20 s while the server is still starting. */
export async function fetchInNode(h: ContainerdHandle, url: string): Promise<string> {
  const script = `
const until = Date.now() + 20000;
(async () => {
  for (;;) {
    try { const r = await fetch(${JSON.stringify(url)}); process.stdout.write(await r.text()); return; }
    catch (e) {
      if (Date.now() > until) { process.stderr.write(String(e.cause ?? e)); process.exit(1); }
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }
})();`;
  return (await h.execInNode([process.execPath, "-e", script], { timeoutMs: 30_000 })).stdout;
}
