// `plexus local`: run a one-node Kubernetes here (src/local/local-node.ts) until interrupted.

import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "../log/logger.js";
import { findCrdDir, startLocalNode } from "../local/local-node.js";
import { importKubeClient } from "./k8s-loader.js";

export const LOCAL_USAGE = `Usage: plexus local [flags]

Runs a one-node Kubernetes on this machine for Plexus, as root: the local API server, a node
network namespace (the node's links live there, never in this machine's namespace), and a node
simulator that networks pods like kubelet + containerd would, through the CNI config that
\`plexus install\` generates around the primary network in the conf dir. Use it with kubectl:
  export KUBECONFIG=<state dir>/kubeconfig
Stops (and tears down every pod network) on SIGINT or SIGTERM.

Flags:
  --state-dir DIR          kubeconfig, API state, CNI dirs, logs (default /var/lib/plexus-local)
  --port N                 API server port on 127.0.0.1 (default 0: any free port)
  --node-name NAME         the node's name (default local)
  --cni-conf-dir DIR       primary network config (default <state dir>/net.d; when it holds no
                           config, a bridge + host-local one in 198.18.0.0/24 is written)
  --cni-bin-dir DIR        plugins (default <state dir>/bin; the reference plugins are linked in)
  --reference-plugins DIR  where the reference CNI plugins are (default /usr/lib/cni or /opt/cni/bin)
  --crd-dir DIR            the NetworkAttachmentDefinition CRD (default <exe>/../crds, ./crds)
  -h, --help               this text
`;

export async function runLocalNode(
  argv: readonly string[],
  self: { executable: string | undefined; argv: readonly string[] },
): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      "state-dir": { type: "string", default: "/var/lib/plexus-local" },
      port: { type: "string", default: "0" },
      "node-name": { type: "string", default: "local" },
      "cni-conf-dir": { type: "string" },
      "cni-bin-dir": { type: "string" },
      "reference-plugins": { type: "string" },
      "crd-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(LOCAL_USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("plexus local: run as root (it creates network namespaces)\n");
    return 1;
  }
  const log = createLogger({ level: "info", toStderr: true }).child({ component: "local" });
  const stateDir = values["state-dir"] as string;
  const reference =
    values["reference-plugins"] ?? ["/usr/lib/cni", "/opt/cni/bin"].find((d) => existsSync(join(d, "bridge")));
  if (!reference) {
    process.stderr.write(
      "plexus local: no reference CNI plugins found (install containernetworking-plugins or pass --reference-plugins)\n",
    );
    return 1;
  }
  const node = await startLocalNode({
    stateDir,
    port: Number(values.port),
    nodeName: values["node-name"] as string,
    ...(values["cni-conf-dir"] ? { confDir: values["cni-conf-dir"] } : {}),
    ...(values["cni-bin-dir"] ? { binDir: values["cni-bin-dir"] } : {}),
    referencePluginDir: reference,
    crdDir: await findCrdDir(self.argv.at(-1) ?? process.execPath, values["crd-dir"]),
    self,
    importKubeClient,
    log,
  });
  const ready = join(stateDir, "ready");
  await writeFile(ready, `${node.api.url}\n`);
  process.stdout.write(
    `plexus local is running: API ${node.api.url}, node namespace ${node.nodeNetns}\n  export KUBECONFIG=${node.kubeconfig}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  log.info({}, "stopping: tearing down pod networks");
  await rm(ready, { force: true });
  await node.stop();
  return 0;
}
