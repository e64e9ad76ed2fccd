// The plugin's kubeconfig, made from the agent pod's service account: the API server the
// kubelet gave the pod (KUBERNETES_SERVICE_HOST/PORT), the cluster CA and the token.
//
// The token is not copied into the kubeconfig: the kubeconfig names a host-side copy of it with
// client-go's `tokenFile` key, which kubectl reads and Plexus's client re-reads on every request
// (src/k8s/client-config.ts). The agent refreshes that copy whenever the kubelet rotates the
// projected token, so the plugin never holds a dead token (Multus #852: its kubeconfig kept the
// token of the day it was written). Both files are 0600: they are credentials.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CniError, ErrorCode } from "../cni/error.js";

export interface ServiceAccountFiles {
  readonly token: string;
  readonly ca: Buffer;
}

export async function readServiceAccount(dir: string): Promise<ServiceAccountFiles> {
  const read = async (name: string): Promise<Buffer> => {
    try {
      return await readFile(join(dir, name));
    } catch (err) {
      throw new CniError(
        ErrorCode.IoFailure,
        `cannot read the service account ${name} in ${dir}: ${(err as Error).message}`,
        {
          details:
            "the DaemonSet must mount the service account token (automountServiceAccountToken), or pass " +
            "--skip-kubeconfig",
          cause: err,
        },
      );
    }
  };
  const [token, ca] = await Promise.all([read("token"), read("ca.crt")]);
  const text = token.toString("utf8").trim();
  if (text === "") throw new CniError(ErrorCode.IoFailure, `the service account token in ${dir} is empty`);
  return { token: text, ca };
}

/** https://HOST:PORT of the in-cluster API, from the environment the kubelet gives every pod. */
export function apiServerUrl(env: Readonly<Record<string, string | undefined>>): string {
  const host = env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "";
  if (host === "" || port === "") {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set",
      {
        details:
          "plexus install writes the plugin's kubeconfig from the pod's in-cluster environment; outside a " +
          "pod pass --skip-kubeconfig",
      },
    );
  }
  if (!/^\d{1,5}$/.test(port))
    throw new CniError(ErrorCode.InvalidEnvironment, `KUBERNETES_SERVICE_PORT is not a port: ${JSON.stringify(port)}`);
  // An IPv6 literal needs brackets in a URL (RFC 3986 §3.2.2).
  const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `https://${hostPart}:${port}`;
}

/** The kubeconfig text (JSON, which every kubeconfig reader accepts as YAML); `tokenFile` is a host path. */
export function buildKubeconfig(server: string, ca: Buffer, tokenFile: string): string {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "plexus-cluster", cluster: { server, "certificate-authority-data": ca.toString("base64") } }],
    users: [{ name: "plexus", user: { tokenFile } }],
    contexts: [{ name: "plexus", context: { cluster: "plexus-cluster", user: "plexus" } }],
    "current-context": "plexus",
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
