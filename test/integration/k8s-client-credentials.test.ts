// Credentials and TLS in the Kubernetes client (src/k8s/client.ts) against the local API
// server: wrong and rotated tokens, client-go's tokenFile, in-cluster access from the
// service-account files, and a server certificate the kubeconfig's CA did not sign.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubeconfigAvailable } from "../../src/k8s/api-access.js";
import { createKubeClient } from "../../src/k8s/client.js";
import { defaultSleep } from "../../src/k8s/retry.js";
import { startLocalApiServer } from "../../src/local/api-server.js";
import { failure, FAST, ref, signal, startK8sHarness, type K8sHarness } from "./k8s-harness.js";

let h: K8sHarness;
beforeAll(async () => {
  h = await startK8sHarness();
  h.createPod("team-a", "web-0");
});
afterAll(async () => {
  await h?.cleanup();
});

describe("credentials and TLS", () => {
  it("says unauthorized for a wrong token, after one request", async () => {
    const wrong = `wrong-${Math.random().toString(36).slice(2)}`;
    h.secrets.push(wrong);
    const path = await h.variantKubeconfig("wrong-token.kubeconfig", { user: { token: wrong } });
    h.server.requestLog.reset();
    const err = await failure(h.client({ kubeconfigPath: path }).getPod(ref("team-a", "web-0"), signal()));
    expect(err).toMatchObject({ kind: "unauthorized", status: 401 });
    expect(err.message).toBe(
      "pod team-a/web-0: unauthorized: the API server rejected the credentials (expired or revoked token?)",
    );
    expect(h.server.requestLog.total).toBe(1);
  });

  it("honours client-go's tokenFile, relative to the h.kubeconfig, re-read on every request", async () => {
    const tokenFile = join(h.dir, "rotating-token");
    await writeFile(tokenFile, "expired-token\n");
    h.secrets.push("expired-token");
    const c = h.client({
      kubeconfigPath: await h.variantKubeconfig("token-file.kubeconfig", { user: { tokenFile: "rotating-token" } }),
    });
    expect((await failure(c.getPod(ref("team-a", "web-0"), signal()))).kind).toBe("unauthorized");
    // The kubelet rotates the projected token in place; `kubectl create token > file` adds a newline.
    await writeFile(tokenFile, `${h.server.token}\n`);
    expect((await c.getPod(ref("team-a", "web-0"), signal())).metadata.name).toBe("web-0");
  });

  it("reaches the API in-cluster, from KUBERNETES_SERVICE_HOST/PORT and the service-account files", async () => {
    const saDir = join(h.dir, "serviceaccount");
    await mkdir(saDir);
    await writeFile(join(saDir, "token"), h.server.token);
    await writeFile(join(saDir, "ca.crt"), h.server.caCertPem ?? "");
    const env = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(h.server.port) };
    expect(kubeconfigAvailable({ inCluster: true, env, serviceAccountDir: saDir })).toBe(true);
    const c = createKubeClient({ inCluster: true, env, serviceAccountDir: saDir, settings: FAST, log: h.log });
    expect((await c.getPod(ref("team-a", "web-0"), signal())).metadata.name).toBe("web-0");
  });

  it("says unauthorized, naming the file, when the service-account token cannot be read", async () => {
    const saDir = join(h.dir, "serviceaccount-without-token");
    await mkdir(saDir);
    await writeFile(join(saDir, "ca.crt"), h.server.caCertPem ?? "");
    const env = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(h.server.port) };
    expect(kubeconfigAvailable({ inCluster: true, env, serviceAccountDir: saDir })).toBe(false);
    h.server.requestLog.reset();
    const c = createKubeClient({ inCluster: true, env, serviceAccountDir: saDir, settings: FAST, log: h.log });
    const err = await failure(c.getPod(ref("team-a", "web-0"), signal()));
    expect(err.kind).toBe("unauthorized");
    expect(err.message).toBe(`pod team-a/web-0: cannot read the bearer token file ${join(saDir, "token")}: ENOENT`);
    expect(h.server.requestLog.total).toBe(0);
  });

  it("refuses a server certificate the kubeconfig's CA did not sign, without retrying", async () => {
    const other = await startLocalApiServer();
    h.secrets.push(other.token);
    let sleeps = 0;
    try {
      const path = await h.variantKubeconfig("other-ca.kubeconfig", { server: other.url });
      const sleep = (ms: number, s: AbortSignal): Promise<void> => {
        sleeps++;
        return defaultSleep(ms, s);
      };
      const err = await failure(h.client({ kubeconfigPath: path, sleep }).getPod(ref("team-a", "web-0"), signal()));
      expect(err.kind).toBe("unavailable");
      expect(err.message).toMatch(
        /^pod team-a\/web-0: TLS verification of the API server .* failed .*check the certificate authority in the kubeconfig$/,
      );
      expect(sleeps).toBe(0);
      expect(other.requestLog.total).toBe(0);
    } finally {
      await other.stop();
    }
  });
});

describe("logging", () => {
  it("never logs a token", async () => {
    const text = await h.logText();
    for (const secret of h.secrets) expect(text).not.toContain(secret);
  });
});
