// Lets code in the node (a CNI plugin containerd runs, e.g. Plexus talking to the local
// Kubernetes API server) reach a TCP port the test process listens on in the host network
// namespace. The node has its own network namespace, so 127.0.0.1 there is not the host's.
// A filesystem unix socket crosses network namespaces: a forwarder inside the node listens on
// 127.0.0.1:<port> and pipes each connection to a unix socket in the run dir, where the test
// process pipes it on to 127.0.0.1:<hostPort>. Bytes pass untouched, so TLS works end to end
// and a kubeconfig naming https://127.0.0.1:<port> is right on both sides.
import { spawn } from "node:child_process";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { NodeNamespaces } from "./node-namespaces.js";

export interface PortForward {
  /** The port listening on 127.0.0.1 inside the node. */
  readonly nodePort: number;
  close(): Promise<void>;
}

const FORWARDER = `
const net = require("node:net");
const [port, socketPath] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(socketPath);
  c.pipe(u); u.pipe(c);
  c.on("error", () => u.destroy()); u.on("error", () => c.destroy());
}).listen(Number(port), "127.0.0.1", () => process.stdout.write("ready\\n"));
`;

export async function forwardToHost(
  node: NodeNamespaces,
  socketPath: string,
  hostPort: number,
  nodePort = hostPort,
): Promise<PortForward> {
  const server = await listenUnix(socketPath, hostPort);
  // In the node's PID namespace too: the forwarder dies with the node, whatever happens here.
  const child = spawn(
    "nsenter",
    [
      "-t",
      String(node.initPid),
      "-m",
      "-n",
      "-p",
      "--",
      process.execPath,
      "-e",
      FORWARDER,
      String(nodePort),
      socketPath,
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
    },
  );
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (b: Buffer) => b.toString().includes("ready") && resolve());
    child.on("exit", (code) => reject(new Error(`port forwarder exited (${code}): ${stderr.trim()}`)));
  });
  try {
    await ready;
  } catch (err) {
    server.close();
    throw err;
  }
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    nodePort,
    close: async () => {
      // Kill the forwarder and let nsenter reap it and exit. Killing nsenter first leaves a
      // process the node's PID 1 must wait for, which held up stop() by 1-2 s (measured).
      for (const pid of await childPids(child.pid)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      if (!(await Promise.race([exited.then(() => true), sleep(2_000).then(() => false)]))) {
        child.kill("SIGKILL");
        await exited;
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function childPids(pid: number | undefined): Promise<number[]> {
  if (pid === undefined) return [];
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text
    .split(" ")
    .filter((p) => p.trim() !== "")
    .map(Number);
}

async function listenUnix(socketPath: string, hostPort: number): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = createConnection({ host: "127.0.0.1", port: hostPort });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on("error", () => outbound.destroy());
    outbound.on("error", () => inbound.destroy());
  });
  // close() waits for open connections: end them so stop() does not hang on a keep-alive.
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  server.listen(socketPath);
  await once(server, "listening");
  return server;
}
