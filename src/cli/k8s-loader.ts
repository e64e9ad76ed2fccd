// Loads the Kubernetes client module (src/k8s/client.ts) on first use. The plexus executable
// carries it as an asset with its own V8 code cache (src/cli/sea-build.mjs), compiled only by
// the invocations that talk to the API; the dev bundle loads dist/k8s-client.cjs; sources (the
// tests) import it directly.

import { createRequire } from "node:module";
import { join } from "node:path";
import { isSea, getAsset, getRawAsset } from "node:sea";
import vm from "node:vm";

type KubeClientModule = typeof import("../k8s/client.js");

declare const PLEXUS_BUNDLED: boolean | undefined;

export async function importKubeClient(): Promise<KubeClientModule> {
  if (typeof PLEXUS_BUNDLED === "undefined") return import("../k8s/client.js");
  if (isSea()) return fromAsset();
  // The dev bundle (node dist/plexus.cjs): the client bundle sits beside it.
  return createRequire(join(process.argv[1] ?? "", "..", "x"))("./k8s-client.cjs") as KubeClientModule;
}

function fromAsset(): KubeClientModule {
  const code = getAsset("k8s-client.cjs", "utf8");
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
  const script = new vm.Script(wrapper, {
    filename: "k8s-client.cjs",
    cachedData: Buffer.from(getRawAsset("k8s-client.cache") as ArrayBuffer),
  });
  const fn = script.runInThisContext() as (
    e: object,
    r: NodeJS.Require,
    m: { exports: object },
    f: string,
    d: string,
  ) => void;
  const module = { exports: {} };
  // The bundle needs Node's built-in modules only; a single executable's require provides them.
  fn(module.exports, createRequire(process.execPath), module, "k8s-client.cjs", "/");
  return module.exports as KubeClientModule;
}
