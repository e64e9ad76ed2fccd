// npm run bench -- caches: what the daemon's watch-backed caches (src/k8s/node-caches.ts) hold
// in memory for a node of 110 pods in a cluster of 1,000 NetworkAttachmentDefinitions.
// The local API server runs in this process; the caches run in a child process of their own
// (node --expose-gc), which measures its heap before and after the caches synced.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNodeKubeCaches } from "../../src/k8s/client.js";
import { startLocalApiServer } from "../../src/local/api-server.js";
import { silentLogger } from "../../src/log/logger.js";

const PODS = 110;
const NADS = 1_000;
const NAMESPACES = 50;
const NODE = "bench-node";

/** A pod as a cluster has it: spec, status, managedFields, labels, other tools' annotations. */
function pod(i: number): Record<string, unknown> {
  const name = `web-${i}`;
  return {
    metadata: {
      name,
      labels: { app: "web", "pod-template-hash": "6d4cf56db6", "app.kubernetes.io/part-of": "bench" },
      annotations: {
        "k8s.v1.cni.cncf.io/networks": `[{"name":"net-${i % NADS}","interface":"net1"}]`,
        "kubectl.kubernetes.io/restartedAt": "2026-12-01T10:00:00Z",
        "prometheus.io/scrape": "true",
        "k8s.v1.cni.cncf.io/network-status": JSON.stringify([
          { name: "cbr0", interface: "eth0", ips: [`198.18.${i >> 8}.${i & 255}`], default: true, dns: {} },
          {
            name: `ns/net-${i}`,
            interface: "net1",
            ips: [`198.19.${i >> 8}.${i & 255}`],
            mac: "02:00:00:00:00:01",
            dns: {},
          },
        ]),
      },
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: "web-6d4cf56db6",
          uid: "0b9e4d43-2c1e-4f0e-9d57-1b2a3c4d5e6f",
          controller: true,
        },
      ],
      managedFields: [
        {
          manager: "kube-controller-manager",
          operation: "Update",
          apiVersion: "v1",
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:metadata": { "f:labels": { ".": {}, "f:app": {} } },
            "f:spec": { "f:containers": { 'k:{"name":"web"}': { ".": {}, "f:image": {}, "f:name": {} } } },
          },
        },
      ],
    },
    spec: {
      nodeName: NODE,
      containers: [
        {
          name: "web",
          image: "registry.example.com/web:1.2.3",
          command: ["/bin/web", "--port=8080"],
          env: Array.from({ length: 10 }, (_, k) => ({ name: `VAR_${k}`, value: `value-${k}` })),
          resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
          volumeMounts: [
            { name: "kube-api-access", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
          ],
        },
      ],
      volumes: [
        {
          name: "kube-api-access",
          projected: { sources: [{ serviceAccountToken: { path: "token", expirationSeconds: 3607 } }] },
        },
      ],
      tolerations: [
        { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      ],
    },
  };
}

function nad(i: number): Record<string, unknown> {
  return {
    metadata: {
      name: `net-${i}`,
      labels: { team: `team-${i % NAMESPACES}` },
      annotations: { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov_netdevice", owner: "network-team" },
    },
    spec: {
      config: JSON.stringify({
        cniVersion: "1.0.0",
        name: `net-${i}`,
        type: "macvlan",
        master: "eth1",
        mode: "bridge",
        ipam: { type: "host-local", ranges: [[{ subnet: `198.19.${i >> 8}.0/24` }]], routes: [{ dst: "0.0.0.0/0" }] },
      }),
    },
  };
}

async function child(kubeconfig: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc");
  const settle = async (): Promise<number> => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    return process.memoryUsage().heapUsed;
  };
  const before = await settle();
  const caches = startNodeKubeCaches({
    access: { kubeconfigPath: kubeconfig },
    nodeName: NODE,
    settings: { requestTimeoutMs: 30_000, retries: 3, retryBackoffMs: 200 },
    log: silentLogger(),
  });
  await caches.whenSynced(AbortSignal.timeout(60_000));
  const after = await settle();
  process.stdout.write(
    JSON.stringify({ before, after, rss: process.memoryUsage().rss, state: caches.cacheState() }) + "\n",
  );
  await caches.stop(AbortSignal.timeout(1_000));
}

async function main(): Promise<void> {
  if (process.argv[2] === "child") return child(process.argv[3] as string);
  const dir = mkdtempSync(join(tmpdir(), "plexus-bench-caches-"));
  const api = await startLocalApiServer({ crdDir: join(process.cwd(), "crds") });
  try {
    const kubeconfig = join(dir, "kubeconfig");
    await api.writeKubeconfig(kubeconfig);
    for (let n = 0; n < NAMESPACES; n++) api.store.ensureNamespace(`team-${n}`);
    let podBytes = 0;
    let nadBytes = 0;
    for (let i = 0; i < PODS; i++) {
      const created = api.store.create({ resource: "pods" }, pod(i), { namespace: `team-${i % NAMESPACES}` });
      podBytes += JSON.stringify(created).length;
    }
    // Pods of other nodes: listed by nobody here (the field selector), there to be skipped.
    for (let i = 0; i < 200; i++)
      api.store.create(
        { resource: "pods" },
        {
          ...pod(i),
          spec: { ...(pod(i)["spec"] as object), nodeName: "other" },
          metadata: { ...(pod(i)["metadata"] as object), name: `other-${i}` },
        },
        { namespace: "team-0" },
      );
    const NAD = { group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" };
    for (let i = 0; i < NADS; i++) {
      const created = api.store.create(NAD, nad(i), { namespace: `team-${i % NAMESPACES}` });
      nadBytes += JSON.stringify(created).length;
    }
    api.requestLog.reset();
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, ["--expose-gc", process.argv[1] as string, "child", kubeconfig], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let text = "";
      c.stdout.on("data", (b: Buffer) => (text += b.toString()));
      c.on("error", reject);
      c.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`child exited ${code}`))));
    });
    const r = JSON.parse(out) as { before: number; after: number; rss: number; state: unknown };
    const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(2)} MiB`;
    console.log(`caches of ${PODS} pods (of ${PODS + 200} in the cluster) and ${NADS} NADs:`);
    console.log(`  objects as the API server serves them: pods ${mib(podBytes)}, NADs ${mib(nadBytes)} of JSON`);
    console.log(
      `  heap used by the caches (after GC): ${mib(r.after - r.before)} (${mib(r.before)} -> ${mib(r.after)})`,
    );
    console.log(`  process RSS with the caches synced: ${mib(r.rss)}`);
    console.log(`  requests to sync: ${JSON.stringify(api.requestLog.countsByVerb())}`);
    console.log(`  cache state: ${JSON.stringify(r.state)}`);
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
