// Turns an ApiAccess into client-node's KubeConfig, which does the hard parts of authentication
// (client certificates, exec plugins, auth providers, proxies). Plexus adds one thing it lacks:
// client-go's `tokenFile` user key, re-read on every request, so a rotated service-account token
// is picked up without rewriting the kubeconfig (Multus #852: a copied token expires).

import { readFile, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { dirname, isAbsolute, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import type { User } from "@kubernetes/client-node/dist/config_types.js";
import { loadYaml } from "@kubernetes/client-node/dist/yaml.js";
import { z } from "zod";
import { describeApiAccess, type ApiAccess } from "./api-access.js";
import { KubeError } from "./port.js";

const readFileAsync = promisify(readFile);

/** client-node does not export the interface from its index. */
type Authenticator = Parameters<KubeConfig["addAuthenticator"]>[0];

/** An auth-provider name of our own: client-node's FileAuth caches for 60 s and keeps the newline. */
const TOKEN_FILE_PROVIDER = "plexus-token-file";

/** The bearer token could not be read: not worth retrying, and not the server's fault. */
export class CredentialsError extends Error {
  override readonly name = "CredentialsError";
}

export function loadKubeConfig(access: ApiAccess): KubeConfig {
  const kc = new KubeConfig();
  kc.addAuthenticator(tokenFileAuthenticator);
  if (access.kind === "in-cluster") {
    kc.loadFromOptions({
      clusters: [{ name: "in-cluster", server: access.server, caFile: access.caFile, skipTLSVerify: false }],
      users: [{ name: "in-cluster", authProvider: { name: TOKEN_FILE_PROVIDER, config: { path: access.tokenFile } } }],
      contexts: [{ name: "in-cluster", cluster: "in-cluster", user: "in-cluster" }],
      currentContext: "in-cluster",
    });
  } else {
    loadKubeconfigFile(kc, access.path);
  }
  checkUsable(kc, access);
  return kc;
}

function loadKubeconfigFile(kc: KubeConfig, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new KubeError("unavailable", `kubeconfig ${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  try {
    const doc = rewriteTokenFiles(loadYaml<unknown>(text), dirname(path));
    // JSON is YAML: client-node parses the rewritten document with the same loader.
    kc.loadFromString(JSON.stringify(doc));
  } catch (err) {
    throw new KubeError("invalid", `kubeconfig ${path}: cannot parse: ${(err as Error).message}`, { cause: err });
  }
  kc.makePathsAbsolute(dirname(path));
}

const UserEntrySchema = z.looseObject({
  name: z.string(),
  user: z
    .looseObject({
      token: z.string().optional(),
      tokenFile: z.string().optional(),
      "token-file": z.string().optional(),
      exec: z.unknown().optional(),
      "auth-provider": z.unknown().optional(),
    })
    .optional(),
});
const KubeconfigUsersSchema = z.looseObject({ users: z.array(z.unknown()).optional() });

/**
 * client-go reads `tokenFile` (client-node only knows `token-file`, once, with its trailing
 * newline). Both become our auth provider; an inline `token` still wins, as in client-go.
 */
function rewriteTokenFiles(doc: unknown, baseDir: string): unknown {
  const parsed = KubeconfigUsersSchema.safeParse(doc);
  if (!parsed.success || !parsed.data.users) return doc;
  const users = parsed.data.users.map((entry) => {
    const e = UserEntrySchema.safeParse(entry);
    if (!e.success || !e.data.user) return entry;
    const { tokenFile, "token-file": dashed, ...user } = e.data.user;
    const file = tokenFile ?? dashed;
    if (file === undefined || user.token || user.exec !== undefined || user["auth-provider"] !== undefined) {
      return { ...e.data, user };
    }
    const abs = isAbsolute(file) ? file : join(baseDir, file);
    return { ...e.data, user: { ...user, "auth-provider": { name: TOKEN_FILE_PROVIDER, config: { path: abs } } } };
  });
  return { ...parsed.data, users };
}

const tokenFileAuthenticator: Authenticator = {
  isAuthProvider: (user: User) => tokenFileOf(user) !== undefined,
  async applyAuthentication(user, opts) {
    const path = tokenFileOf(user);
    if (path === undefined) return;
    let token: string;
    try {
      token = (await readFileAsync(path, "utf8")).trim();
    } catch (err) {
      throw new CredentialsError(
        `cannot read the bearer token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { cause: err },
      );
    }
    if (token === "") throw new CredentialsError(`the bearer token file ${path} is empty`);
    opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
  },
};

function tokenFileOf(user: User): string | undefined {
  const provider: unknown = user.authProvider;
  const parsed = z
    .object({ name: z.literal(TOKEN_FILE_PROVIDER), config: z.object({ path: z.string() }) })
    .safeParse(provider);
  return parsed.success ? parsed.data.config.path : undefined;
}

function checkUsable(kc: KubeConfig, access: ApiAccess): void {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeError("invalid", `${describeApiAccess(access)}: no current context with a cluster`);
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch (err) {
    throw new KubeError(
      "invalid",
      `${describeApiAccess(access)}: cluster server ${JSON.stringify(cluster.server)} is not a URL`,
      { cause: err },
    );
  }
  if (url.protocol === "http:" && !cluster.skipTLSVerify) {
    // The same rule as client-node (KubeConfig.applyToHTTPSOptions) and kubectl: plain http only
    // when asked for.
    throw new KubeError(
      "invalid",
      `${describeApiAccess(access)}: server ${cluster.server} is plain http; set insecure-skip-tls-verify: true to allow it`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new KubeError("invalid", `${describeApiAccess(access)}: server ${cluster.server} is neither http nor https`);
  }
}
