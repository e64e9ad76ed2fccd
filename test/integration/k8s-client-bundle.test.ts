// The Kubernetes client as the plugin process runs it: bundled by esbuild into one CommonJS
// file, it must let the process exit as soon as its work is done, whatever connections it pooled
// or gave up on (against the local API server and a listener that never answers).
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHungServer, startK8sHarness, type K8sHarness } from "./k8s-harness.js";

const run = promisify(execFile);

let h: K8sHarness;
beforeAll(async () => {
  h = await startK8sHarness();
});
afterAll(async () => {
  await h?.cleanup();
});

describe("in a plugin process", () => {
  // The CLI bundles the client with esbuild into one CommonJS file; the plugin process must exit
  // as soon as its work is done, whatever connections the client pooled or gave up on.
  it("an esbuild CJS bundle works and leaves no handle that keeps the process alive", async () => {
    h.createPod("team-a", "exit-0");
    const hung = await startHungServer();
    try {
      const hungPath = await h.variantKubeconfig("hung-exit.kubeconfig", { server: `https://127.0.0.1:${hung.port}` });
      const entry = join(h.dir, "exit-check.ts");
      const clientModule = new URL("../../src/k8s/client.ts", import.meta.url).pathname;
      const loggerModule = new URL("../../src/log/logger.ts", import.meta.url).pathname;
      const idsModule = new URL("../../src/cni/ids.ts", import.meta.url).pathname;
      await writeFile(
        entry,
        `import { createKubeClient } from ${JSON.stringify(clientModule)};
import { silentLogger } from ${JSON.stringify(loggerModule)};
import { parseNamespace, parsePodName } from ${JSON.stringify(idsModule)};
async function main() {
  const [kubeconfig, hungKubeconfig] = process.argv.slice(2);
  const pod = { namespace: parseNamespace("team-a"), name: parsePodName("exit-0") };
  const log = silentLogger();
  const ok = createKubeClient({
    kubeconfigPath: kubeconfig,
    settings: { requestTimeoutMs: 20000, retries: 0, retryBackoffMs: 10 },
    log,
  });
  const found = await ok.getPod(pod, AbortSignal.timeout(20000));
  const hung = createKubeClient({
    kubeconfigPath: hungKubeconfig,
    settings: { requestTimeoutMs: 300, retries: 0, retryBackoffMs: 10 },
    log,
  });
  const kind = await hung.getPod(pod, AbortSignal.timeout(20000)).then(
    () => "ok",
    (e: { kind: string }) => e.kind,
  );
  // Nothing is left to do: how long the process lingers is what the sockets cost.
  const done = performance.now();
  process.on("exit", () => {
    const lingerMs = performance.now() - done;
    process.stdout.write(JSON.stringify({ name: found.metadata.name, kind, lingerMs }));
  });
}
void main();
`,
      );
      const { build } = await import("esbuild");
      const bundle = join(h.dir, "exit-check.cjs");
      await build({
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node20",
        outfile: bundle,
        logLevel: "silent",
      });
      const { stdout } = await run(process.execPath, [bundle, h.kubeconfig, hungPath], { timeout: 30_000 });
      const out = JSON.parse(stdout) as { name: string; kind: string; lingerMs: number };
      expect(out).toMatchObject({ name: "exit-0", kind: "timeout" });
      // The pooled keep-alive socket is unref'd (the server would keep it open 5 s) and the hung
      // one was destroyed at the deadline (the hung server would keep it open forever).
      expect(out.lingerMs).toBeLessThan(1_000);
    } finally {
      await hung.close();
    }
  });
});
