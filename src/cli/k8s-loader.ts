// Loads the Kubernetes client module (src/k8s/client.ts) on first use: a bundle of its own
// (src/cli/bundle-loader.ts), compiled only by the invocations that talk to the API.

import { isSea } from "node:sea";
import {
  loadFromAsset,
  loadFromDist,
  writeCodeCache,
  type BundleSpec,
  type CodeCacheOutcome,
} from "./bundle-loader.js";

export type { CodeCacheOutcome } from "./bundle-loader.js";

type KubeClientModule = typeof import("../k8s/client.js");

declare const PLEXUS_BUNDLED: boolean | undefined;

/** Must match src/cli/sea-build.mjs. */
const K8S_BUNDLE: BundleSpec = { asset: "k8s-client.cjs", magic: "PLEXUSCC" };

let lastOutcome: CodeCacheOutcome = "not-applicable";

/** What the last load did with the code cache, for the debug log (and the test that checks the build). */
export function kubeClientCodeCacheOutcome(): CodeCacheOutcome {
  return lastOutcome;
}

export async function importKubeClient(): Promise<KubeClientModule> {
  if (typeof PLEXUS_BUNDLED === "undefined") return import("../k8s/client.js");
  if (!isSea()) return loadFromDist<KubeClientModule>(K8S_BUNDLE);
  const { module, outcome } = loadFromAsset<KubeClientModule>(K8S_BUNDLE);
  lastOutcome = outcome;
  return module;
}

/** The build's step (src/cli/sea-build.mjs): the client bundle's code cache, made by this executable. */
export function writeKubeClientCodeCache(path: string): void {
  if (!isSea()) throw new Error("PLEXUS_BUILD_CODE_CACHE: only the single executable can make its code cache");
  writeCodeCache(K8S_BUNDLE, path);
}
