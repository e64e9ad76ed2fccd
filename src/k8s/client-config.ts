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
import { createRedactor, redactUrlCredentials } from "./redact.js";

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
  let doc: unknown;
  try {
    doc = loadYaml<unknown>(text);
  } catch (err) {
    // No cause: the parser's message quotes the lines around the error, credentials included.
    throw new KubeError("invalid", `kubeconfig ${path}: cannot parse: ${describeYamlError(err)}`);
  }
  try {
    // JSON is YAML: client-node parses the rewritten document with the same loader.
    kc.loadFromString(JSON.stringify(rewriteTokenFiles(doc, dirname(path))));
  } catch (err) {
    const redact = createRedactor(userSecrets(doc));
    throw new KubeError("invalid", `kubeconfig ${path}: cannot load: ${redact((err as Error).message)}`);
  }
  kc.makePathsAbsolute(dirname(path));
}

/**
 * Where and why the YAML parser gave up, without the excerpt it adds to its message. Its
 * reason is kept only when it is plain words: some reasons quote a tag or an alias name.
 */
function describeYamlError(err: unknown): string {
  const parsed = z
    .object({ reason: z.string(), mark: z.object({ line: z.number(), column: z.number() }) })
    .safeParse(err);
  if (!parsed.success) return "not valid YAML";
  const { reason, mark } = parsed.data;
  const why = /^[A-Za-z ,()-]+$/.test(reason) ? reason : "not valid YAML";
  return `${why} at line ${mark.line + 1}, column ${mark.column + 1}`;
}

/** Every string a kubeconfig document holds under its users, and passwords in its URLs. */
function userSecrets(doc: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === "string") out.push(v);
    else if (v && typeof v === "object" && depth < 8) for (const x of Object.values(v)) walk(x, depth + 1);
  };
  const d = z
    .looseObject({ users: z.array(z.unknown()), clusters: z.array(z.unknown()) })
    .partial()
    .safeParse(doc);
  if (!d.success) return out;
  for (const u of d.data.users ?? []) walk((u as { user?: unknown } | null)?.user, 0);
  for (const c of d.data.clusters ?? []) {
    const server = (c as { cluster?: { server?: unknown } } | null)?.cluster?.server;
    if (typeof server === "string") out.push(...urlPasswords(server));
  }
  return out;
}

function urlPasswords(url: string): string[] {
  const m = /:\/\/[^/@\s]*:([^/@\s]*)@/.exec(url);
  return m?.[1] ? [m[1]] : [];
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
  checkAuthProvider(kc, access);
  // The URL may carry user:password; messages show it without.
  const server = redactUrlCredentials(cluster.server);
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    throw new KubeError(
      "invalid",
      `${describeApiAccess(access)}: cluster server ${JSON.stringify(server)} is not a URL`,
    );
  }
  if (url.protocol === "http:" && !cluster.skipTLSVerify) {
    // The same rule as client-node (KubeConfig.applyToHTTPSOptions) and kubectl: plain http only
    // when asked for.
    throw new KubeError(
      "invalid",
      `${describeApiAccess(access)}: server ${server} is plain http; set insecure-skip-tls-verify: true to allow it`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new KubeError("invalid", `${describeApiAccess(access)}: server ${server} is neither http nor https`);
  }
}

/**
 * client-go dropped the gcp and azure auth-providers in Kubernetes 1.26 (kubectl no longer
 * knows them either). client-node still runs their commands, synchronously and with the
 * command's stderr, and so whatever credential it prints, on our own stderr: refused instead.
 */
function checkAuthProvider(kc: KubeConfig, access: ApiAccess): void {
  const provider = (kc.getCurrentUser()?.authProvider as { name?: unknown } | undefined)?.name;
  if (provider !== "gcp" && provider !== "azure") return;
  throw new KubeError(
    "invalid",
    `${describeApiAccess(access)}: the ${provider} auth-provider is not supported (Kubernetes removed it ` +
      `in 1.26): use an exec credential plugin`,
  );
}

/**
 * auth-provider config keys that name things rather than hold credentials (file paths, ids,
 * the issuer): messages about a token file must still say which file.
 */
const PROVIDER_SETTINGS = new Set([
  "path",
  "cmd-path",
  "client-id",
  "idp-issuer-url",
  "idp-certificate-authority",
  "token-key",
  "expiry-key",
  "expiry",
  "expires-on",
  "environment",
  "tenant-id",
  "apiserver-id",
  "config-mode",
]);

/** The credential values a loaded kubeconfig holds for its users and clusters. */
export function kubeconfigSecrets(kc: KubeConfig): string[] {
  const out: string[] = [];
  const add = (v: unknown): void => {
    if (typeof v === "string" && v !== "") out.push(v);
  };
  for (const user of kc.getUsers()) {
    add(user.token);
    add(user.password);
    add(user.keyData);
    const exec = user.exec as { args?: unknown; env?: unknown } | undefined;
    for (const a of Array.isArray(exec?.args) ? exec.args : []) add(a);
    for (const e of Array.isArray(exec?.env) ? exec.env : []) add((e as { value?: unknown } | null)?.value);
    const config = (user.authProvider as { config?: unknown } | undefined)?.config;
    if (config && typeof config === "object")
      for (const [k, v] of Object.entries(config)) if (!PROVIDER_SETTINGS.has(k)) add(v);
  }
  for (const cluster of kc.getClusters()) {
    for (const url of [cluster.server, cluster.proxyUrl ?? ""]) out.push(...urlPasswords(url));
  }
  return out;
}
