// The Kubernetes client (src/k8s/client.ts) when the API server is not there: a stopped server
// (retries within the bound the settings give), one coming back, and a TCP listener that never
// answers (per-attempt and caller deadlines, abandoned sockets closed).
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultSleep, maxRequestDurationMs } from "../../src/k8s/retry.js";
import { startLocalApiServer, type LocalApiServer } from "../../src/local/api-server.js";
import {
  eventually,
  failure,
  PODS,
  ref,
  signal,
  startHungServer,
  startK8sHarness,
  type K8sHarness,
} from "./k8s-harness.js";

let h: K8sHarness;
beforeAll(async () => {
  h = await startK8sHarness();
});
afterAll(async () => {
  await h?.cleanup();
});

describe("an API server that is down or hung", () => {
  it("stopped: unavailable after the configured retries, within the bound the settings give", async () => {
    const gone = await startLocalApiServer();
    h.secrets.push(gone.token);
    const path = join(h.dir, "stopped.kubeconfig");
    await gone.writeKubeconfig(path);
    await gone.stop();
    const sleeps: number[] = [];
    const settings = { requestTimeoutMs: 2_000, retries: 3, retryBackoffMs: 40 };
    const sleep = (ms: number, s: AbortSignal): Promise<void> => {
      sleeps.push(ms);
      return defaultSleep(ms, s);
    };
    const c = h.client({ kubeconfigPath: path, settings, sleep });
    const started = performance.now();
    const err = await failure(c.getPod(ref("team-a", "web-0"), signal()));
    const elapsed = performance.now() - started;
    expect(err.kind).toBe("unavailable");
    expect(err.message).toMatch(
      new RegExp(
        `^pod team-a/web-0: API server https://127\\.0\\.0\\.1:${gone.port} unreachable: .*ECONNREFUSED.* \\(4 attempts\\)$`,
      ),
    );
    // One sleep between attempts, each in the upper half of its doubling backoff.
    expect(sleeps).toHaveLength(settings.retries);
    sleeps.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual((settings.retryBackoffMs * 2 ** i) / 2);
      expect(ms).toBeLessThanOrEqual(settings.retryBackoffMs * 2 ** i);
    });
    expect(elapsed).toBeLessThan(maxRequestDurationMs(settings));
    // Events are best effort: one attempt (the recorder's only waits are its rate limit's, 0 ms
    // within the burst), no error.
    sleeps.length = 0;
    c.recordEvent({ pod: ref("team-a", "web-0"), type: "Normal", reason: "AddedInterface", message: "m" });
    await c.flushEvents(signal());
    expect(sleeps).toEqual([0]);
  });

  it("stopped: the caller's deadline ends the backoff, and the error says what the last attempt hit", async () => {
    const gone = await startLocalApiServer();
    h.secrets.push(gone.token);
    const path = join(h.dir, "stopped-deadline.kubeconfig");
    await gone.writeKubeconfig(path);
    await gone.stop();
    const settings = { requestTimeoutMs: 2_000, retries: 3, retryBackoffMs: 10_000 };
    const started = performance.now();
    const err = await failure(
      h.client({ kubeconfigPath: path, settings }).getPod(ref("team-a", "web-0"), AbortSignal.timeout(300)),
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(err.kind).toBe("timeout");
    expect(err.message).toMatch(
      /the caller's deadline passed; the last attempt failed with: API server .* unreachable: .*ECONNREFUSED/,
    );
  });

  it("restarting: a request retried while the server comes back succeeds", async () => {
    const first = await startLocalApiServer({ tls: false });
    h.secrets.push(first.token);
    const path = join(h.dir, "restart.kubeconfig");
    await first.writeKubeconfig(path);
    const { port, token } = first;
    await first.stop();
    let second: LocalApiServer | undefined;
    const sleep = async (ms: number, s: AbortSignal): Promise<void> => {
      if (!second) {
        second = await startLocalApiServer({ tls: false, port, token });
        second.store.ensureNamespace("team-a");
        second.store.create(
          PODS,
          { metadata: { name: "web-0" }, spec: { containers: [{ name: "a", image: "b" }] } },
          { namespace: "team-a" },
        );
      }
      await defaultSleep(ms, s);
    };
    try {
      const pod = await h
        .client({
          kubeconfigPath: path,
          settings: { requestTimeoutMs: 2_000, retries: 3, retryBackoffMs: 20 },
          sleep,
        })
        .getPod(ref("team-a", "web-0"), signal());
      expect(pod.metadata.name).toBe("web-0");
      expect(second?.requestLog.total).toBe(1);
    } finally {
      await second?.stop();
    }
  });

  it("hung: each attempt ends at requestTimeoutMs, and the abandoned sockets are closed", async () => {
    const hung = await startHungServer();
    try {
      const path = await h.variantKubeconfig("hung.kubeconfig", { server: `https://127.0.0.1:${hung.port}` });
      const settings = { requestTimeoutMs: 300, retries: 1, retryBackoffMs: 10 };
      const started = performance.now();
      const err = await failure(h.client({ kubeconfigPath: path, settings }).getPod(ref("team-a", "web-0"), signal()));
      const elapsed = performance.now() - started;
      expect(err.kind).toBe("timeout");
      expect(err.message).toBe(
        `pod team-a/web-0: no answer from the API server https://127.0.0.1:${hung.port} within 300 ms (2 attempts)`,
      );
      expect(elapsed).toBeGreaterThanOrEqual(2 * 300 - 5);
      // The bound from the settings, plus scheduling slack on a busy machine.
      expect(elapsed).toBeLessThan(maxRequestDurationMs(settings) + 1_000);
      expect(hung.sockets).toHaveLength(2);
      expect(await eventually(() => hung.sockets.every((s) => s.closed))).toBe(true);
    } finally {
      await hung.close();
    }
  });

  it("hung: the caller's deadline ends the call, however long the per-attempt timeout", async () => {
    const hung = await startHungServer();
    try {
      const path = await h.variantKubeconfig("hung-caller.kubeconfig", { server: `https://127.0.0.1:${hung.port}` });
      const settings = { requestTimeoutMs: 60_000, retries: 5, retryBackoffMs: 1_000 };
      const started = performance.now();
      const err = await failure(
        h.client({ kubeconfigPath: path, settings }).getPod(ref("team-a", "web-0"), AbortSignal.timeout(400)),
      );
      const elapsed = performance.now() - started;
      expect(err.kind).toBe("timeout");
      expect(err.message).toBe(
        `pod team-a/web-0: gave up waiting for the API server https://127.0.0.1:${hung.port}: the caller's deadline passed`,
      );
      expect(elapsed).toBeGreaterThanOrEqual(395);
      expect(elapsed).toBeLessThan(2_000);
      expect(hung.sockets).toHaveLength(1);
      expect(await eventually(() => hung.sockets.every((s) => s.closed))).toBe(true);
    } finally {
      await hung.close();
    }
  });
});

describe("logging", () => {
  it("never logs a token", async () => {
    const text = await h.logText();
    for (const secret of h.secrets) expect(text).not.toContain(secret);
  });
});
