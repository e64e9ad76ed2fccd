// One HTTP exchange with the API server. client-node's KubeConfig supplies the credentials and
// TLS material (applyToHTTPSOptions); the exchange itself is node:https, because client-node's
// generated API (a) makes a new, non-keep-alive agent for every request, paying a TCP and TLS
// handshake each time (3 round trips per request on a remote control plane, #1461), (b) given
// a pooled agent, node-fetch v2 reports false "Premature close" errors (node-fetch #1767),
// and (c) round-trips bodies through typed models that drop fields the model does not
// know, which a PUT of pods/status would then erase. Here bodies stay raw JSON.

import http from "node:http";
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { CredentialsError, kubeconfigSecrets } from "./client-config.js";
import { createRedactor, redactUrlCredentials, type Redactor } from "./redact.js";

export interface ApiRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH";
  /** Absolute API path, e.g. /api/v1/namespaces/a/pods/b, with names already URI-encoded; may carry a query. */
  readonly path: string;
  readonly body?: unknown;
  /** The body's media type; JSON when absent (PATCH sends application/merge-patch+json). */
  readonly contentType?: string;
  /** The Kubernetes verb and resource, for metrics: "get" "pods", "patch" "pods/status", ... */
  readonly verb: string;
  readonly resource: string;
}

export interface ApiResponse {
  readonly status: number;
  /** Parsed JSON when the server sent JSON, else the text. */
  readonly body: unknown;
  readonly retryAfter: string | undefined;
}

export interface Transport {
  /** The server URL, for messages: without the user information a URL may carry. */
  readonly server: string;
  /** Takes the kubeconfig's credentials out of a text before it reaches a message or a log line. */
  readonly redact: Redactor;
  send(request: ApiRequest, signal: AbortSignal): Promise<ApiResponse>;
  /**
   * A WATCH: resolves once the server answered. A 200 answer's body is not buffered: each
   * line (one watch event) goes to `onLine` as it arrives, and `done` settles when the stream
   * ends (resolves) or breaks (rejects). Any other status comes back whole, as from send().
   */
  stream(request: ApiRequest, signal: AbortSignal, onLine: (line: string) => void): Promise<StreamResponse>;
  /** Drops pooled connections (they are unref'd, so this is optional before exit). */
  close(): void;
}

export type StreamResponse =
  { readonly streaming: true; readonly done: Promise<void> } | ({ readonly streaming: false } & ApiResponse);

/** A pod with every annotation at its size limit is well under this. */
const MAX_RESPONSE_BYTES = 16 << 20;
const USER_AGENT = `plexus (${process.platform}) node/${process.version}`;

export function createTransport(kc: KubeConfig): Transport {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const base = new URL(cluster.server);
  // A server URL may carry a path prefix (Rancher-style proxies): requests go below it.
  const prefix = base.origin + base.pathname.replace(/\/+$/, "");
  const secure = base.protocol === "https:";
  // One keep-alive pool for the client. Node keys pooled sockets by TLS material as well, and
  // unrefs idle ones, so a pooled connection never keeps the process alive.
  const agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  const redact = createRedactor(kubeconfigSecrets(kc));
  const prepare = async (request: ApiRequest, signal: AbortSignal): Promise<Prepared> => {
    const options: https.RequestOptions = {
      method: request.method,
      headers: { Accept: "application/json", "User-Agent": USER_AGENT },
    };
    // May run an exec credential plugin: bounded by the same deadline as the request.
    await abortable(kc.applyToHTTPSOptions(options), signal).catch((err: unknown) => {
      throw signal.aborted ? err : credentialsFailure(kc, err);
    });
    if (isPlainAgent(options.agent)) options.agent = agent;
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: http.OutgoingHttpHeaders = { ...(options.headers as http.OutgoingHttpHeaders) };
    if (body !== undefined) {
      headers["Content-Type"] = request.contentType ?? "application/json";
      headers["Content-Length"] = Buffer.byteLength(body);
    }
    return {
      mod: secure ? https : http,
      url: new URL(prefix + request.path),
      options: { ...options, headers },
      body,
    };
  };
  return {
    server: redactUrlCredentials(cluster.server),
    redact,
    async send(request, signal) {
      return exchange(await prepare(request, signal), signal);
    },
    async stream(request, signal, onLine) {
      return openStream(await prepare(request, signal), signal, onLine);
    },
    close: () => agent.destroy(),
  };
}

/**
 * Getting the credentials failed: an exec plugin or auth-provider command failed or printed
 * something else than a credential, or our token file could not be read. client-node's errors
 * quote the command line and the plugin's stderr or stdout, any of which may hold a credential
 * (`Unexpected token ... "eyJhbGciOi"... is not valid JSON`): they are described, never quoted.
 */
function credentialsFailure(kc: KubeConfig, err: unknown): CredentialsError {
  if (err instanceof CredentialsError) return err;
  const user = kc.getCurrentUser();
  const exec = (user?.exec as { command?: unknown } | undefined)?.command;
  const provider = (user?.authProvider as { name?: unknown } | undefined)?.name;
  const source =
    typeof exec === "string"
      ? `the exec credential plugin ${exec}`
      : typeof provider === "string"
        ? `the auth-provider ${JSON.stringify(provider)}`
        : "the kubeconfig's credentials";
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const what =
    typeof code === "string" && /^E[A-Z0-9]+$/.test(code)
      ? `could not be run (${code})`
      : err instanceof SyntaxError
        ? "printed something that is not a credential (not JSON)"
        : "failed";
  return new CredentialsError(
    `${source} of user ${JSON.stringify(user?.name ?? "")} ${what}; its output is not repeated here, as ` +
      `it may hold a credential`,
  );
}

interface Prepared {
  readonly mod: typeof http | typeof https;
  readonly url: URL;
  /** Headers as an object, not the raw-array form: we set them, and applyToHTTPSOptions only adds keys. */
  readonly options: https.RequestOptions;
  readonly body: string | undefined;
}

/** client-node's own per-request agents; proxy agents (a subclass) are left alone. */
function isPlainAgent(agent: unknown): boolean {
  return agent instanceof http.Agent && (agent.constructor === http.Agent || agent.constructor === https.Agent);
}

function exchange(prepared: Prepared, signal: AbortSignal): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const req = prepared.mod.request(prepared.url, prepared.options);
    let settled = false;
    const settle = (err: unknown, response?: ApiResponse): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (response) resolve(response);
      else reject(err);
    };
    // Destroying the request closes its socket: a hung server costs nothing after the deadline.
    const onAbort = (): void => {
      req.destroy();
      settle(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err) => settle(err));
    req.on("response", (res) => readWhole(req, res, settle));
    req.end(prepared.body);
  });
}

function readWhole(
  req: http.ClientRequest,
  res: http.IncomingMessage,
  settle: (err: unknown, response?: ApiResponse) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
    else {
      req.destroy();
      settle(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
    }
  });
  res.on("error", (err) => settle(err));
  res.on("close", () => {
    if (!res.complete) settle(prematureClose());
  });
  res.on("end", () => {
    const retryAfter = res.headers["retry-after"];
    settle(undefined, {
      status: res.statusCode ?? 0,
      body: decode(res.headers["content-type"], Buffer.concat(chunks)),
      retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    });
  });
}

function prematureClose(): Error {
  return Object.assign(new Error("connection closed before the response was complete"), { code: "ECONNRESET" });
}

/** One watch event is one line; a line this long is a broken stream, not an object. */
const MAX_LINE_BYTES = 16 << 20;

function openStream(prepared: Prepared, signal: AbortSignal, onLine: (line: string) => void): Promise<StreamResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const req = prepared.mod.request(prepared.url, prepared.options);
    let answered = false;
    let finish: (err?: unknown) => void = () => undefined;
    const onAbort = (): void => {
      req.destroy();
      if (answered) finish(signal.reason);
      else reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err) => {
      if (answered) finish(err);
      else {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      }
    });
    req.on("response", (res) => {
      answered = true;
      if (res.statusCode !== 200) {
        readWhole(req, res, (err, response) => {
          signal.removeEventListener("abort", onAbort);
          if (response) resolve({ streaming: false, ...response });
          else reject(err);
        });
        return;
      }
      const done = new Promise<void>((doneResolve, doneReject) => {
        let settled = false;
        finish = (err?: unknown): void => {
          if (settled) return;
          settled = true;
          signal.removeEventListener("abort", onAbort);
          if (err === undefined) doneResolve();
          else doneReject(err);
        };
      });
      let pending = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        pending += chunk;
        let newline: number;
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.trim() === "") continue;
          try {
            onLine(line);
          } catch (err) {
            req.destroy();
            finish(err);
            return;
          }
        }
        if (pending.length > MAX_LINE_BYTES) {
          req.destroy();
          finish(new Error(`watch event larger than ${MAX_LINE_BYTES} bytes`));
        }
      });
      res.on("error", (err) => finish(err));
      res.on("close", () => finish(res.complete ? undefined : prematureClose()));
      res.on("end", () => finish());
      // The caller awaits `done` at once; this only keeps an early break from being "unhandled".
      done.catch(() => undefined);
      resolve({ streaming: true, done });
    });
    req.end(prepared.body);
  });
}

function decode(contentType: string | undefined, bytes: Buffer): unknown {
  const text = bytes.toString("utf8");
  if (!contentType?.includes("json")) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err as Error);
      },
    );
  });
}
