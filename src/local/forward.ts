// A byte pipe between a TCP address and a unix socket. Network namespaces isolate TCP but not
// filesystem unix sockets, so this is how a process inside the simulated node's namespace
// reaches the API server that listens in the machine's namespace: 127.0.0.1:PORT in the node
// namespace -> unix socket -> 127.0.0.1:PORT in the machine's namespace. TLS passes through
// untouched, so one kubeconfig (https://127.0.0.1:PORT) works on both sides.

import { chmod, rm } from "node:fs/promises";
import { createConnection, createServer, type NetConnectOpts, type Server, type Socket } from "node:net";

export interface TcpAddress {
  readonly host: string;
  readonly port: number;
}

export type Endpoint = TcpAddress | { readonly path: string };

export interface Forwarder {
  /** Where it listens; for TCP with port 0, the port actually bound. */
  readonly listening: Endpoint;
  close(): Promise<void>;
}

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = () => {
    a.destroy();
    b.destroy();
  };
  a.on("error", end).on("close", end);
  b.on("error", end).on("close", end);
}

/** Accepts on `from` and connects each client to `to`. A unix socket path is created 0600. */
export async function startForwarder(from: Endpoint, to: Endpoint): Promise<Forwarder> {
  const server: Server = createServer((client) => pipeBoth(client, createConnection(to as NetConnectOpts)));
  if ("path" in from) await rm(from.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if ("path" in from) server.listen(from.path, resolve);
    else server.listen(from.port, from.host, resolve);
  });
  if ("path" in from) await chmod(from.path, 0o600);
  const address = server.address();
  const listening: Endpoint =
    "path" in from
      ? from
      : { host: from.host, port: typeof address === "object" && address ? address.port : from.port };
  return {
    listening,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ("path" in from) void rm(from.path, { force: true });
      }),
  };
}

/** "127.0.0.1:6443", "[::1]:6443" or "/path/to.sock". */
export function parseEndpoint(text: string): Endpoint {
  if (text.startsWith("/")) return { path: text };
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`not an endpoint (host:port or /path): ${JSON.stringify(text)}`);
  return { host: m[1] as string, port: Number(m[2]) };
}
