// The HTTP/1.1 server on the daemon's unix socket: one endpoint, POST /v1/cni (protocol.ts).
// It reads and decodes the request, hands it to `handle`, and writes the plugin's stdout with
// its exit code. A caller that goes away (the runtime killed the shim) aborts its request, as
// SIGTERM aborts a thin plexus: the engine rolls back what it had done.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../log/logger.js";
import {
  CNI_PATH,
  EXIT_CODE_HEADER,
  MAX_BODY_BYTES,
  ProtocolError,
  decodeCniCall,
  unknownEndpoint,
  type CniCall,
} from "./protocol.js";

export interface CniAnswer {
  readonly exitCode: number;
  readonly stdout: string;
}

export interface CniServerOptions {
  readonly handle: (call: CniCall, signal: AbortSignal) => Promise<CniAnswer>;
  readonly log: Logger;
}

export interface CniServer {
  listen(path: string): Promise<void>;
  /** Stops accepting; resolves when every open request has been answered. */
  close(): Promise<void>;
  /** Requests being read, run or answered now. */
  open(): number;
}

export function createCniServer(options: CniServerOptions): CniServer {
  let open = 0;
  const server: Server = createServer({ keepAlive: false }, (req, res) => {
    open++;
    res.once("close", () => open--);
    serve(req, res, options).catch((err: unknown) => {
      options.log.error({ err: String(err) }, "answering a request failed");
      if (!res.headersSent) reply(res, 500, "internal error: see the daemon's log");
      else res.destroy();
    });
  });
  // The shim sends one request per connection and closes; a client that dawdles over sending
  // its request is cut off rather than holding a socket.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return {
    listen: (path) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen({ path, backlog: 511 }, () => {
          server.off("error", reject);
          resolve();
        });
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
    open: () => open,
  };
}

async function serve(req: IncomingMessage, res: ServerResponse, options: CniServerOptions): Promise<void> {
  const path = (req.url ?? "").split("?")[0] ?? "";
  if (req.method !== "POST" || path !== CNI_PATH) {
    req.resume();
    return fail(res, unknownEndpoint(req.method ?? "", path));
  }
  let call: CniCall;
  try {
    call = decodeCniCall(req.headers["content-type"], await readBody(req));
  } catch (err) {
    if (err instanceof ProtocolError) return fail(res, err);
    throw err;
  }
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort(new Error("the caller closed the connection before the answer"));
  });
  const answer = await options.handle(call, controller.signal);
  if (controller.signal.aborted) return;
  const body = Buffer.from(answer.stdout);
  res.writeHead(200, {
    "Content-Type": "application/json",
    "Content-Length": body.length,
    [EXIT_CODE_HEADER]: String(answer.exitCode),
    Connection: "close",
  });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new ProtocolError(413, `request body over ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ProtocolError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function fail(res: ServerResponse, err: ProtocolError): void {
  reply(res, err.status, err.message);
}

function reply(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(`${text}\n`);
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": body.length,
    Connection: "close",
  });
  res.end(body);
}
