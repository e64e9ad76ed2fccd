import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ATTACHMENT_RECORD_KIND, ATTACHMENT_RECORD_VERSION, type AttachmentRecord } from "../../src/cache/record.js";
import { createCacheStore, type CacheStore } from "../../src/cache/store.js";
import { stateFailure } from "../../src/cache/state-files.js";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { parseContainerId, parseIfName, type ContainerId, type IfName } from "../../src/cni/ids.js";

let dir: string;
let store: CacheStore;

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "plexus-cache-")), "state");
  store = createCacheStore(dir, { now: () => new Date("2026-01-01T00:00:00Z") });
});
afterEach(async () => {
  await rm(join(dir, ".."), { recursive: true, force: true });
});

function record(ifName: string, index: number): AttachmentRecord {
  return {
    kind: ATTACHMENT_RECORD_KIND,
    version: ATTACHMENT_RECORD_VERSION,
    containerId: parseContainerId("c1"),
    primaryIfName: parseIfName("eth0"),
    ifName: parseIfName(ifName),
    index,
    role: index === 0 ? "cluster" : "selected",
    networkRef: index === 0 ? "cluster" : "team-a/net",
    netns: "/run/netns/x",
    cniArgs: [["K8S_POD_NAME", "p"]],
    capabilityArgs: {},
    config: { cniVersion: "1.0.0", name: "n", plugins: [{ type: "bridge", foreign: { kept: true } }] },
    state: "planned",
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
  };
}

describe("cache store", () => {
  it("writes one 0600 file per attachment in 0700 directories and reads them back in plan order", async () => {
    await store.saveAttachment(record("net1", 1));
    await store.saveAttachment(record("eth0", 0));
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "c1"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "c1", "net1.json"))).mode & 0o777).toBe(0o600);
    const state = await store.loadContainer("c1");
    expect(state.attachments.map((r) => r.ifName)).toEqual(["eth0", "net1"]);
    expect(state.attachments[1]?.config).toEqual(record("net1", 1).config);
    expect(state.corrupt).toEqual([]);
    expect(await readdir(join(dir, "c1"))).not.toContain(expect.stringMatching(/\.tmp$/));
  });

  it("reports an unreadable file instead of skipping it, and can set it aside", async () => {
    await store.saveAttachment(record("eth0", 0));
    await writeFile(join(dir, "c1", "net1.json"), "{ truncated");
    const state = await store.loadContainer("c1");
    expect(state.attachments.map((r) => r.ifName)).toEqual(["eth0"]);
    expect(state.corrupt).toEqual([
      { path: join(dir, "c1", "net1.json"), reason: expect.stringContaining("not JSON") },
    ]);
    await store.quarantine(join(dir, "c1", "net1.json"));
    expect(await readdir(join(dir, "c1"))).toContain("net1.json.corrupt");
    expect((await store.loadContainer("c1")).corrupt).toEqual([]);
  });

  it("rejects a file of another schema version as corrupt, naming the field", async () => {
    await store.saveAttachment(record("eth0", 0));
    await writeFile(join(dir, "c1", "eth0.json"), JSON.stringify({ ...record("eth0", 0), version: 2 }));
    const state = await store.loadContainer("c1");
    expect(state.corrupt[0]?.reason).toMatch(/version/);
  });

  it("forgetting a container removes its directory and leaves a tombstone; saving again removes it", async () => {
    await store.saveAttachment(record("eth0", 0));
    await store.forgetContainer("c1", "deleted");
    let state = await store.loadContainer("c1");
    expect(state.attachments).toEqual([]);
    expect(state.tombstone).toEqual({ containerId: "c1", reason: "deleted", at: "2026-01-01T00:00:00.000Z" });
    expect(await store.listContainers()).toEqual([]);
    await store.forgetContainer("c1", "rolled-back");
    expect((await store.loadContainer("c1")).tombstone?.reason).toBe("rolled-back");
    await store.saveAttachment(record("eth0", 0));
    state = await store.loadContainer("c1");
    expect(state.tombstone).toBeUndefined();
    expect(await store.listContainers()).toEqual(["c1"]);
    await store.purgeContainer("c1");
    expect(await store.listContainers()).toEqual([]);
  });

  it("files set aside as .corrupt keep the container's directory after it is forgotten", async () => {
    await store.saveAttachment(record("eth0", 0));
    await writeFile(join(dir, "c1", "net1.json"), "{");
    await store.quarantine(join(dir, "c1", "net1.json"));
    await store.forgetContainer("c1", "deleted");
    expect(await readdir(join(dir, "c1"))).toEqual(["net1.json.corrupt"]);
    expect((await store.loadContainer("c1")).tombstone?.reason).toBe("deleted");
  });

  it("a tombstone.json of an older build still counts as a tombstone, and goes with the next forget", async () => {
    await store.saveAttachment(record("eth0", 0));
    await store.removeAttachment("c1", "eth0");
    await writeFile(join(dir, "c1", "tombstone.json"), "{}");
    expect((await store.loadContainer("c1")).tombstone?.reason).toBe("deleted");
    await store.forgetContainer("c1", "deleted");
    expect(await store.listContainers()).toEqual([]);
  });

  it("refuses names that would escape the state directory", async () => {
    // Values the types refuse (no parser makes them), to prove the store refuses them too.
    const badId = "../etc" as ContainerId;
    const badIf = "../x" as IfName;
    await expect(store.saveAttachment({ ...record("eth0", 0), containerId: badId })).rejects.toThrow(
      /unsafe container ID/,
    );
    await expect(store.saveAttachment({ ...record("eth0", 0), ifName: badIf })).rejects.toThrow(
      /unsafe interface name/,
    );
  });

  it("a missing container is empty, not an error", async () => {
    expect(await store.loadContainer("nope")).toEqual({ attachments: [], corrupt: [], tombstone: undefined });
  });
});

describe("tombstones are bounded, whatever the churn", () => {
  // 200 deletions fill 4 buckets of 8 six times over. The limit is for a disk busy with other
  // work's fsyncs (each record write syncs), not a measure.
  it(
    "200 deleted containers leave at most buckets x perBucket tombstones, the newest ones",
    { timeout: 60_000 },
    async () => {
      let t = Date.parse("2026-01-01T00:00:00Z");
      const s = createCacheStore(dir, { now: () => new Date((t += 1000)), tombstones: { buckets: 4, perBucket: 8 } });
      const ids = Array.from({ length: 200 }, (_, i) => `gone${i}`);
      for (const [i, id] of ids.entries()) {
        // Records are written with fsync: only some containers get one, all get their DEL.
        if (i % 50 === 0) await s.saveAttachment({ ...record("eth0", 0), containerId: parseContainerId(id) });
        await s.forgetContainer(id, "deleted");
      }
      const files = execFileSync("find", [dir, "-type", "f"]).toString().trim().split("\n");
      expect(files.length).toBeLessThanOrEqual(4 * 8);
      expect(await s.listContainers()).toEqual([]);
      // Each bucket keeps its newest: the most recent deletions are all still known.
      for (const id of ids.slice(-8)) expect((await s.loadContainer(id)).tombstone?.reason, id).toBe("deleted");
      expect((await s.loadContainer("gone0")).tombstone).toBeUndefined();
      const kib = Number(execFileSync("du", ["-sk", dir]).toString().split("\t")[0]);
      expect(kib).toBeLessThan(64);
    },
  );
});

describe("stateFailure", () => {
  const fsError = (code: string, path?: string) =>
    Object.assign(new Error(`${code}: something, open '${path}'`), { code, syscall: "open", path });

  it.each([
    ["ENOSPC", "no space left on the device (or no free inodes)"],
    ["EROFS", "read-only file system"],
    ["EDQUOT", "disk quota exceeded"],
    ["EACCES", "permission denied"],
  ])("%s is code 5 naming the state dir, the path and the cause", (code, words) => {
    const err = stateFailure(fsError(code, "/state/.locks/c1"), "/state") as CniError;
    expect(err).toBeInstanceOf(CniError);
    expect(err.code).toBe(ErrorCode.IoFailure);
    expect(err.msg).toMatch(
      new RegExp(
        `^Plexus's state directory /state cannot be used: /state/\\.locks/c1: ${words.replace(/[()]/g, "\\$&")} ` +
          `\\(${code}\\)`,
      ),
    );
  });

  it("names the state dir when the error has no path, and the syscall for an errno it has no words for", () => {
    const err = stateFailure(Object.assign(new Error("x"), { code: "EXDEV", syscall: "rename" }), "/state") as CniError;
    expect(err.msg).toBe("Plexus's state directory /state cannot be used: /state: rename failed (EXDEV)");
  });

  it("leaves a CniError and an error without an errno code alone", () => {
    const cni = new CniError(ErrorCode.IoFailure, "refused");
    expect(stateFailure(cni, "/state")).toBe(cni);
    const plain = new Error("plain");
    expect(stateFailure(plain, "/state")).toBe(plain);
  });
});
