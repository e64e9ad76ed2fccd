// The per-container lock (src/cache/container-lock.ts) between real processes, and the stop of
// what a killed holder left running (src/runtime/owned-processes.ts).

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCacheStore, type CacheStore, type ContainerLock } from "../../src/cache/store.js";
import { stopOwnedProcesses } from "../../src/runtime/owned-processes.js";
import { cniFailure } from "../support/cni-plugins.js";
import { processesWithEnv } from "../support/pausing-plugins.js";
import { repoRoot } from "../support/plexus.js";

const never = new AbortController().signal;
const opts = { signal: never, timeoutMs: 20_000 };

// A process that takes a container's lock with the real cache code, says "locked", and then
// holds it until it is killed or told to release it (a line on stdin).
const HOLDER = `
import { createCacheStore } from ${JSON.stringify(`${repoRoot}src/cache/store.ts`)};
const [dir, id] = process.argv.slice(2);
const lock = await createCacheStore(dir).lockContainer(id, { signal: new AbortController().signal, timeoutMs: 20000 });
process.stdout.write("locked\\n");
process.stdin.once("data", async () => { await lock.release(); process.exit(0); });
`;

describe("the container lock between processes", () => {
  let dir: string;
  let holderScript: string;
  let store: CacheStore;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "plexus-lock-"));
    holderScript = join(dir, "holder.mjs");
    await build({
      stdin: { contents: HOLDER, resolveDir: repoRoot, loader: "ts" },
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: holderScript,
      logLevel: "warning",
      // The bundled code's own dependencies (zod) resolve from the repository's node_modules.
      nodePaths: [join(repoRoot, "node_modules")],
    });
    store = createCacheStore(join(dir, "state"));
  });
  afterAll(async () => {
    for (const c of children) c.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  /** A holder process that has taken the lock of `id`. */
  async function holder(id: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, [holderScript, join(dir, "state"), id], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (b: Buffer) => {
        if (b.toString().includes("locked")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`the holder exited (${code}) before it took the lock`)));
    });
    return child;
  }

  function exited(child: ChildProcess): Promise<void> {
    return new Promise((resolve) =>
      child.exitCode !== null || child.signalCode !== null ? resolve() : child.on("exit", () => resolve()),
    );
  }

  it("a command waits while another process holds the lock, and gets it as soon as the holder releases it", async () => {
    const child = await holder("c-release");
    const waits: (number | undefined)[] = [];
    let got: ContainerLock | undefined;
    const taking = store
      .lockContainer("c-release", { ...opts, onWait: (h) => waits.push(h?.pid) })
      .then((l) => (got = l));
    await sleep(300);
    expect(got).toBeUndefined();
    expect(waits).toEqual([child.pid]);
    child.stdin?.write("release\n");
    const lock = await taking;
    expect(lock.interrupted).toBeUndefined();
    await lock.release();
  });

  it("a holder killed with SIGKILL releases the lock at once, and the next command learns it was interrupted", async () => {
    const child = await holder("c-killed");
    const taking = store.lockContainer("c-killed", opts);
    child.kill("SIGKILL");
    const lock = await taking;
    expect(lock.interrupted?.pid).toBe(child.pid);
    await lock.release();
    const next = await store.lockContainer("c-killed", opts);
    expect(next.interrupted).toBeUndefined();
    await next.release();
  });

  it("a busy lock fails with code 11 after the timeout, naming the container and the holder", async () => {
    const child = await holder("c-busy");
    const err = await cniFailure(store.lockContainer("c-busy", { signal: never, timeoutMs: 300 }));
    expect(err.code).toBe(11);
    expect(err.msg).toContain("container c-busy is busy");
    expect(err.msg).toContain(`pid ${child.pid}`);
    expect(await store.tryLockContainer("c-busy")).toBeUndefined();
    child.kill("SIGKILL");
    await exited(child);
  });

  it("waiting is cancelled by the caller's signal (code 103)", async () => {
    const child = await holder("c-cancel");
    const abort = new AbortController();
    const taking = store.lockContainer("c-cancel", { signal: abort.signal, timeoutMs: 20_000 });
    setTimeout(() => abort.abort(new Error("runtime deadline")), 100);
    const err = await cniFailure(taking);
    expect(err.code).toBe(103);
    expect(err.msg).toMatch(/runtime deadline.*lock of container c-cancel/);
    child.kill("SIGKILL");
    await exited(child);
  });

  it("one process: the same container is exclusive, other containers and other state directories are not", async () => {
    const a = await store.lockContainer("c-same", opts);
    expect(await store.tryLockContainer("c-same")).toBeUndefined();
    const other = await store.lockContainer("c-other", { signal: never, timeoutMs: 100 });
    const elsewhere = await createCacheStore(join(dir, "state2")).lockContainer("c-same", {
      signal: never,
      timeoutMs: 100,
    });
    await Promise.all([other.release(), elsewhere.release(), a.release()]);
    const again = await store.tryLockContainer("c-same");
    expect(again?.interrupted).toBeUndefined();
    await again?.release();
  });
});

describe("stopping what an interrupted command left running", () => {
  it("SIGKILLs every process marked with the owner token, children included, and nothing else", async () => {
    const token = `test${process.pid}x${Date.now()}`;
    const spawnMarked = (owner: string) => {
      const child = spawn("sh", ["-c", "sleep 60 & sleep 60; true"], {
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", PLEXUS_OWNER: owner },
        detached: true,
        stdio: "ignore",
      });
      child.unref();
      return child;
    };
    spawnMarked(token);
    const bystander = spawnMarked(`${token}-other`);
    try {
      await sleep(100);
      expect((await processesWithEnv(`PLEXUS_OWNER=${token}`)).length).toBe(3);
      expect(await stopOwnedProcesses(token, never)).toBe(3);
      expect(await processesWithEnv(`PLEXUS_OWNER=${token}`)).toEqual([]);
      expect((await processesWithEnv(`PLEXUS_OWNER=${token}-other`)).length).toBe(3);
      expect(await stopOwnedProcesses(token, never)).toBe(0);
    } finally {
      process.kill(-(bystander.pid as number), "SIGKILL");
    }
  });
});
