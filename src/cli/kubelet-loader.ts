// Loads the kubelet's pod-resources client (src/kubelet/pod-resources.ts, with @grpc/grpc-js) on
// first use: a bundle of its own (src/cli/bundle-loader.ts), because loading grpc-js costs tens
// of milliseconds (README.md, "Building and developing") and only pods attaching a NAD with a
// k8s.v1.cni.cncf.io/resourceName need it.

import { isSea } from "node:sea";
import {
  loadFromAsset,
  loadFromDist,
  writeCodeCache,
  type BundleSpec,
  type CodeCacheOutcome,
} from "./bundle-loader.js";

type KubeletClientModule = typeof import("../kubelet/pod-resources.js");

declare const PLEXUS_BUNDLED: boolean | undefined;

/** Must match src/cli/sea-build.mjs. */
const KUBELET_BUNDLE: BundleSpec = { asset: "kubelet-client.cjs", magic: "PLEXUSKB" };

let lastOutcome: CodeCacheOutcome = "not-applicable";

export function kubeletClientCodeCacheOutcome(): CodeCacheOutcome {
  return lastOutcome;
}

export async function importKubeletClient(): Promise<KubeletClientModule> {
  if (typeof PLEXUS_BUNDLED === "undefined") return import("../kubelet/pod-resources.js");
  if (!isSea()) return loadFromDist<KubeletClientModule>(KUBELET_BUNDLE);
  const { module, outcome } = loadFromAsset<KubeletClientModule>(KUBELET_BUNDLE);
  lastOutcome = outcome;
  return module;
}

/** The build's step (src/cli/sea-build.mjs): the bundle's code cache, made by this executable. */
export function writeKubeletClientCodeCache(path: string): void {
  if (!isSea()) throw new Error("PLEXUS_BUILD_CODE_CACHE: only the single executable can make its code cache");
  writeCodeCache(KUBELET_BUNDLE, path);
}
