// A kubeconfig for the local API server, read the same way by kubectl and client-node:
// the CA travels inline (certificate-authority-data) and the user authenticates with a token.
import { chmod, rename, writeFile } from "node:fs/promises";
import { stringifyYaml } from "./yaml.js";

export interface KubeconfigOptions {
  readonly server: string;
  readonly token: string;
  /** PEM of the CA; absent for a plain-http server (then insecure-skip-tls-verify is set). */
  readonly caCertPem?: string | undefined;
  readonly name?: string;
  readonly namespace?: string;
}

export interface KubeconfigDocument {
  readonly apiVersion: "v1";
  readonly kind: "Config";
  readonly preferences: Record<string, never>;
  readonly "current-context": string;
  readonly clusters: readonly { readonly name: string; readonly cluster: Readonly<Record<string, string | boolean>> }[];
  readonly users: readonly { readonly name: string; readonly user: { readonly token: string } }[];
  readonly contexts: readonly {
    readonly name: string;
    readonly context: { readonly cluster: string; readonly user: string; readonly namespace: string };
  }[];
}

export function buildKubeconfig(options: KubeconfigOptions): KubeconfigDocument {
  const name = options.name ?? "plexus-local";
  const cluster: Record<string, string | boolean> = { server: options.server };
  if (options.caCertPem !== undefined) {
    cluster["certificate-authority-data"] = Buffer.from(options.caCertPem, "utf8").toString("base64");
  } else {
    // client-node refuses http:// otherwise; only reachable through the tls:false debug option.
    cluster["insecure-skip-tls-verify"] = true;
  }
  return {
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    "current-context": name,
    clusters: [{ name, cluster }],
    users: [{ name, user: { token: options.token } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: options.namespace ?? "default" } }],
  };
}

/** Writes the kubeconfig atomically with mode 0600: it holds a bearer token. */
export async function writeKubeconfigFile(path: string, doc: KubeconfigDocument): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, stringifyYaml(doc), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}
