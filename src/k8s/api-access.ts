// Where the Kubernetes API is, and with which credentials: a kubeconfig file, or the pod's own
// service account (in-cluster). Cheap on purpose: callers ask this before deciding to load the
// client library (src/k8s/client.ts), which costs a lot more to import.

import { accessSync, constants } from "node:fs";
import { isIPv6 } from "node:net";
import { join } from "node:path";

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface ApiAccessOptions {
  /** A kubeconfig file; wins over in-cluster access when set. */
  readonly kubeconfigPath?: string | undefined;
  /** Use KUBERNETES_SERVICE_HOST/PORT and the service-account files when no kubeconfig is given. */
  readonly inCluster?: boolean | undefined;
  /** The process environment, passed in by the entry point (defaults to process.env). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Where the service-account token, ca.crt and namespace live (tests point elsewhere). */
  readonly serviceAccountDir?: string | undefined;
}

export type ApiAccess =
  | { readonly kind: "kubeconfig"; readonly path: string }
  | {
      readonly kind: "in-cluster";
      readonly server: string;
      /** Re-read on every request: the kubelet rotates projected tokens (Multus #852). */
      readonly tokenFile: string;
      readonly caFile: string;
    };

/** The configured way to reach the API, or undefined when none is configured at all. */
export function findApiAccess(options: ApiAccessOptions): ApiAccess | undefined {
  if (options.kubeconfigPath) return { kind: "kubeconfig", path: options.kubeconfigPath };
  if (!options.inCluster) return undefined;
  const env = options.env ?? process.env;
  const host = env["KUBERNETES_SERVICE_HOST"];
  const port = env["KUBERNETES_SERVICE_PORT"];
  if (!host || !port) return undefined;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  // Always https, as client-go's InClusterConfig does (client-node guesses http from the port).
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return { kind: "in-cluster", server, tokenFile: join(dir, "token"), caFile: join(dir, "ca.crt") };
}

/** True when API access is configured and its files are readable right now. */
export function kubeconfigAvailable(options: ApiAccessOptions): boolean {
  const access = findApiAccess(options);
  if (!access) return false;
  const files = access.kind === "kubeconfig" ? [access.path] : [access.tokenFile, access.caFile];
  return files.every(isReadable);
}

export function describeApiAccess(access: ApiAccess): string {
  return access.kind === "kubeconfig" ? `kubeconfig ${access.path}` : `in-cluster service account (${access.server})`;
}

function isReadable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
