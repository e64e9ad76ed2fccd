// The local Kubernetes API server: HTTPS with a fresh CA (or plain HTTP for debugging), bearer
// token auth, the real REST API over an in-memory ApiStore. Used by the tests, `plexus local`
// and the benchmarks wherever no real cluster exists.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { unauthorized } from "./api-errors.js";
import { readCrdManifests } from "./api-crd.js";
import { describeRequest, dispatch } from "./api-dispatch.js";
import { DEFAULT_BODY_LIMIT, sendError } from "./api-http.js";
import { persistState, readState } from "./api-persistence.js";
import type { StatePersister } from "./api-persistence.js";
import { RequestLog } from "./api-request-log.js";
import { parseRoute } from "./api-routes.js";
import type { Route } from "./api-routes.js";
import { ApiStore } from "./api-store.js";
import type { KubeObject } from "./api-types.js";
import type { StreamRegistry } from "./api-watch-stream.js";
import { buildKubeconfig, writeKubeconfigFile } from "./local-kubeconfig.js";
import type { KubeconfigDocument } from "./local-kubeconfig.js";
import { generateTlsMaterial, type TlsMaterial } from "./tls.js";

export interface ApiLogEntry {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly msg: string;
  readonly [field: string]: unknown;
}

export type ApiLogger = (entry: ApiLogEntry) => void;

export interface LocalApiServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** HTTPS with a generated CA (default true); false serves plain HTTP, for debugging only. */
  readonly tls?: boolean;
  /** The CA and serving certificate to use (a restarted server keeps its clients' trust); generated when absent. */
  readonly tlsMaterial?: TlsMaterial;
  /** The bearer token clients must send; a random one when absent. */
  readonly token?: string;
  /** Registers every CustomResourceDefinition found in *.yaml/*.yml/*.json files there at start. */
  readonly crdDir?: string;
  /** JSON file that keeps the objects across restarts. */
  readonly stateFile?: string;
  readonly logger?: ApiLogger;
  /** Largest accepted request body; larger is 413. Default 3 MiB. */
  readonly bodyLimit?: number;
  /** How often watches with allowWatchBookmarks=true get a BOOKMARK. Default 60 s. */
  readonly bookmarkIntervalMs?: number;
  /** Changes remembered for watches resuming from a resourceVersion (older ones get 410 Gone). Default 20,000. */
  readonly historyLimit?: number;
}

export interface KubeconfigRequest {
  /** Cluster, user and context name. Default "plexus-local". */
  readonly name?: string;
  readonly namespace?: string;
}

export interface LocalApiServer {
  /** `https://127.0.0.1:<port>` (or http:// with tls:false). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** PEM of the CA that signed the serving certificate; undefined with tls:false. */
  readonly caCertPem: string | undefined;
  /** What the server serves TLS with (to start another on the same address that clients trust). */
  readonly tlsMaterial: TlsMaterial | undefined;
  readonly token: string;
  /** The objects, for code in the same process (a node simulator). */
  readonly store: ApiStore;
  readonly requestLog: RequestLog;
  kubeconfig(options?: KubeconfigRequest): KubeconfigDocument;
  /** Writes the kubeconfig with mode 0600. */
  writeKubeconfig(path: string, options?: KubeconfigRequest): Promise<void>;
  /** Ends every open watch cleanly, as their timeoutSeconds would; clients watch again. */
  endWatches(): void;
  /** Ends open watches, closes connections, writes the state file. */
  stop(): Promise<void>;
}

export async function startLocalApiServer(options: LocalApiServerOptions = {}): Promise<LocalApiServer> {
  const host = options.host ?? "127.0.0.1";
  const token = options.token ?? randomBytes(32).toString("base64url");
  const log: ApiLogger = options.logger ?? (() => undefined);
  const store = new ApiStore(options.historyLimit !== undefined ? { historyLimit: options.historyLimit } : {});
  const persister = await restoreState(store, options.stateFile, log);
  if (options.crdDir !== undefined) {
    for (const crd of await readCrdManifests(options.crdDir)) applyCrd(store, crd);
  }
  const tls =
    options.tls === false
      ? undefined
      : (options.tlsMaterial ?? generateTlsMaterial({ dnsNames: ["localhost"], ipAddresses: tlsAddresses(host) }));
  const requestLog = new RequestLog();
  const streams: StreamRegistry = new Set();
  let serverAddress = "";
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void serve({
      req,
      res,
      store,
      token,
      log,
      requestLog,
      streams,
      serverAddress,
      bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
    });
  };
  const server: Server = tls
    ? createHttpsServer({ key: tls.keyPem, cert: tls.certPem }, handler)
    : createHttpServer(handler);
  await listen(server, host, options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  serverAddress = `${urlHost}:${port}`;
  const url = `${tls ? "https" : "http"}://${serverAddress}`;
  log({ level: "info", msg: "local API server listening", url });
  const kubeconfig = (k: KubeconfigRequest = {}): KubeconfigDocument =>
    buildKubeconfig({
      server: url,
      token,
      caCertPem: tls?.caCertPem,
      ...(k.name !== undefined ? { name: k.name } : {}),
      ...(k.namespace !== undefined ? { namespace: k.namespace } : {}),
    });
  return {
    url,
    host,
    port,
    caCertPem: tls?.caCertPem,
    tlsMaterial: tls,
    token,
    store,
    requestLog,
    kubeconfig,
    writeKubeconfig: (path, k) => writeKubeconfigFile(path, kubeconfig(k)),
    endWatches() {
      for (const close of [...streams]) close();
    },
    async stop() {
      for (const close of [...streams]) close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await persister?.close();
    },
  };
}

interface ServeContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly store: ApiStore;
  readonly token: string;
  readonly log: ApiLogger;
  readonly requestLog: RequestLog;
  readonly streams: StreamRegistry;
  readonly serverAddress: string;
  readonly bodyLimit: number;
  readonly bookmarkIntervalMs: number;
}

async function serve(ctx: ServeContext): Promise<void> {
  const started = performance.now();
  const url = new URL(ctx.req.url ?? "/", "http://local");
  const method = ctx.req.method ?? "GET";
  let route: Route = { kind: "unknown" };
  try {
    route = parseRoute(url.pathname);
    // Health endpoints are public, as Kubernetes' system:public-info-viewer makes them.
    if (route.kind !== "health" && !authorized(ctx.req.headers.authorization, ctx.token)) throw unauthorized();
    await dispatch({ ...ctx, query: url.searchParams }, route);
  } catch (error) {
    const apiError = sendError(ctx.res, error);
    if (apiError.code >= 500)
      ctx.log({ level: "error", msg: "request failed", method, path: url.pathname, err: error });
  }
  const { verb, resource } = describeRequest(method, route, url.searchParams);
  const record = {
    method,
    path: url.pathname,
    query: url.search,
    verb,
    ...(resource !== undefined ? { resource } : {}),
    status: ctx.res.statusCode,
    durationMs: performance.now() - started,
  };
  ctx.requestLog.record(record);
  ctx.log({ level: "debug", msg: "request", ...record });
}

function authorized(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!match) return false;
  const given = Buffer.from(match[1]?.trim() ?? "");
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function tlsAddresses(host: string): string[] {
  const addresses = new Set(["127.0.0.1", "::1"]);
  if (/^[\d.]+$/.test(host) || host.includes(":")) addresses.add(host);
  return [...addresses].filter((a) => a !== "0.0.0.0" && a !== "::");
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

async function restoreState(
  store: ApiStore,
  stateFile: string | undefined,
  log: ApiLogger,
): Promise<StatePersister | undefined> {
  if (stateFile === undefined) return undefined;
  const dump = await readState(stateFile);
  if (dump) store.load(dump);
  return persistState(store, stateFile, (err) =>
    log({ level: "error", msg: "cannot write the state file", stateFile, err }),
  );
}

/** CRDs from crdDir are applied: created when new, replaced when the manifest changed. */
function applyCrd(store: ApiStore, crd: KubeObject): void {
  const ref = { group: "apiextensions.k8s.io", resource: "customresourcedefinitions" };
  const existing = store.find(ref, undefined, crd.metadata.name ?? "");
  if (!existing) store.create(ref, crd);
  else store.update(ref, { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata.resourceVersion } });
}
