// /metrics, /healthz and /readyz on a TCP address of their own, never on the CNI socket: the
// socket is root-only, and a scraper or a kubelet probe must not be able to send CNI commands.

import { createServer, type Server } from "node:http";
import { isIPv6 } from "node:net";

export interface HealthSources {
  /** Empty when ready; otherwise why not (caches not synced, socket not serving, stopping). */
  readonly notReady: () => readonly string[];
  readonly metrics: () => Promise<{ contentType: string; text: string }>;
}

export interface HealthServer {
  /** The address actually bound (port 0 picks one). */
  readonly address: string;
  close(): Promise<void>;
}

/** "HOST:PORT" or "[V6]:PORT". */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || !(port >= 0 && port <= 65535))
    throw new Error(`invalid listen address ${JSON.stringify(text)}: expected HOST:PORT (e.g. 127.0.0.1:9454) or off`);
  return { host, port };
}

export async function startHealthServer(listen: string, sources: HealthSources): Promise<HealthServer> {
  const { host, port } = parseListenAddress(listen);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const text = (status: number, body: string) => {
      res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(`${body}\n`);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return text(405, "GET only");
    if (path === "/healthz") return text(200, "ok");
    if (path === "/readyz") {
      const reasons = sources.notReady();
      return reasons.length === 0 ? text(200, "ok") : text(503, `not ready: ${reasons.join("; ")}`);
    }
    if (path === "/metrics") {
      sources.metrics().then(
        (m) => {
          res.writeHead(200, { "Content-Type": m.contentType });
          res.end(m.text);
        },
        (err: unknown) => text(500, `metrics: ${String(err)}`),
      );
      return;
    }
    text(404, "endpoints: /metrics /healthz /readyz");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  const actual = typeof bound === "object" && bound ? bound.port : port;
  return {
    address: `${isIPv6(host) ? `[${host}]` : host}:${actual}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
