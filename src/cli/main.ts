// The plexus executable. With CNI_COMMAND set it is a CNI plugin (the runtime executed it);
// otherwise it is a command-line tool.

import { startupSnapshot } from "node:v8";
import { join } from "node:path";
import { writeKubeClientCodeCache } from "./k8s-loader.js";
import { writeKubeletClientCodeCache } from "./kubelet-loader.js";
import { runPlugin } from "./plugin.js";

async function main(): Promise<number> {
  // A step of the build (src/cli/sea-build.mjs), never set on a node: the bundles' code caches.
  const codeCacheDir = process.env["PLEXUS_BUILD_CODE_CACHE"];
  if (codeCacheDir !== undefined) {
    writeKubeClientCodeCache(join(codeCacheDir, "k8s-client.cache"));
    writeKubeletClientCodeCache(join(codeCacheDir, "kubelet-client.cache"));
    return 0;
  }
  // An empty CNI_COMMAND is no command, as in skel: the command-line tool (which, without
  // arguments, says what it is on stderr).
  if (process.env["CNI_COMMAND"]) {
    const controller = new AbortController();
    process.once("SIGTERM", () => controller.abort(new Error("plexus received SIGTERM")));
    return runPlugin({
      env: process.env,
      readStdin: readAll,
      writeStdout: (text) => process.stdout.write(text),
      signal: controller.signal,
    });
  }
  // The subcommands (installer, local node, ...) are loaded only when asked for: a CNI
  // invocation must not pay for initialising code it never runs.
  const { runCommand } = await import("./commands.js");
  return runCommand(process.argv.slice(2));
}

async function readAll(): Promise<string> {
  // A person at a terminal, not a runtime: no configuration rather than waiting for one.
  if (process.stdin.isTTY) return "";
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function start(): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    // runPlugin and runCommand report their own errors; this is the last resort, and still one
    // line (the stack only with PLEXUS_DEBUG set).
    (err: unknown) => {
      process.stderr.write(`plexus: ${err instanceof Error ? err.message : String(err)}\n`);
      if (process.env["PLEXUS_DEBUG"] && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = 1;
    },
  );
}

// The executable is built from a V8 startup snapshot (src/cli/sea-build.mjs): the modules are
// loaded and initialised once, at build time, and each invocation starts from that heap.
if (startupSnapshot.isBuildingSnapshot()) startupSnapshot.setDeserializeMainFunction(start);
else start();
