// The daemon's scheduler: one request per container at a time, in arrival order; at most
// maxParallel at once; GC alone; STATUS and VERSION never wait; a queue deadline answers 11.

import { describe, expect, it } from "vitest";
import { CniError } from "../../src/cni/error.js";
import { createScheduler, laneOf, type Lane } from "../../src/daemon/scheduler.js";

const c = (id: string): Lane => ({ kind: "container", id });
const never = new AbortController().signal;

/** A task that records its start and end and finishes when released. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    task: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
    release: () => release(),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("daemon scheduler", () => {
  it("runs different containers in parallel up to the limit, the rest first-in first-out", async () => {
    const log: string[] = [];
    const counts: number[] = [];
    const s = createScheduler({ maxParallel: 2, queueTimeoutMs: 10_000, onChange: (x) => counts.push(x.running) });
    const gates = ["a", "b", "c", "d"].map((n) => gate(log, n));
    const runs = gates.map((g, i) => s.run(c(`id${i}`), never, g.task));
    await tick();
    expect(log).toEqual(["start a", "start b"]);
    expect(s.counts()).toEqual({ running: 2, queued: 2 });
    gates[1]!.release();
    await tick();
    expect(log).toEqual(["start a", "start b", "end b", "start c"]);
    gates[0]!.release();
    gates[2]!.release();
    gates[3]!.release();
    expect(await Promise.all(runs)).toEqual(["a", "b", "c", "d"]);
    expect(Math.max(...counts)).toBe(2);
    expect(s.counts()).toEqual({ running: 0, queued: 0 });
  });

  it("never overlaps two requests of one container, and keeps their order", async () => {
    const log: string[] = [];
    const s = createScheduler({ maxParallel: 8, queueTimeoutMs: 10_000 });
    const add = gate(log, "ADD x");
    const del = gate(log, "DEL x");
    const other = gate(log, "ADD y");
    const runs = [s.run(c("x"), never, add.task), s.run(c("x"), never, del.task), s.run(c("y"), never, other.task)];
    await tick();
    // y overtakes the waiting DEL of x: only the same container waits.
    expect(log).toEqual(["start ADD x", "start ADD y"]);
    del.release();
    other.release();
    await tick();
    expect(log).not.toContain("start DEL x");
    add.release();
    await Promise.all(runs);
    expect(log.indexOf("start DEL x")).toBeGreaterThan(log.indexOf("end ADD x"));
  });

  it("runs GC alone: it waits for what runs, and what comes after it waits for it", async () => {
    const log: string[] = [];
    const s = createScheduler({ maxParallel: 4, queueTimeoutMs: 10_000 });
    const a = gate(log, "a");
    const gc = gate(log, "gc");
    const b = gate(log, "b");
    const runs = [
      s.run(c("a"), never, a.task),
      s.run({ kind: "exclusive" }, never, gc.task),
      s.run(c("b"), never, b.task),
    ];
    await tick();
    expect(log).toEqual(["start a"]);
    a.release();
    await tick();
    expect(log).toEqual(["start a", "end a", "start gc"]);
    gc.release();
    b.release();
    await Promise.all(runs);
    expect(log).toEqual(["start a", "end a", "start gc", "end gc", "start b", "end b"]);
  });

  it("lets STATUS and VERSION through at once, even when every slot is taken", async () => {
    const log: string[] = [];
    const s = createScheduler({ maxParallel: 1, queueTimeoutMs: 10_000 });
    const busy = gate(log, "a");
    const run = s.run(c("a"), never, busy.task);
    expect(await s.run({ kind: "free" }, never, async () => "status")).toBe("status");
    busy.release();
    await run;
  });

  it("answers CNI error 11 (try again later) to a request that waited past the queue deadline", async () => {
    const log: string[] = [];
    const s = createScheduler({ maxParallel: 1, queueTimeoutMs: 50 });
    const busy = gate(log, "a");
    const run = s.run(c("a"), never, busy.task);
    const late = s.run(c("b"), never, async () => "b");
    const err = await late.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(11);
    expect((err as CniError).message).toMatch(/waited .* in the queue .*try again later/);
    expect(s.counts()).toEqual({ running: 1, queued: 0 });
    busy.release();
    await run;
  });

  it("drops a queued request whose caller went away", async () => {
    const log: string[] = [];
    const s = createScheduler({ maxParallel: 1, queueTimeoutMs: 10_000 });
    const busy = gate(log, "a");
    const run = s.run(c("a"), never, busy.task);
    const gone = new AbortController();
    const waiting = s.run(c("b"), gone.signal, async () => "b");
    gone.abort(new Error("caller gone"));
    await expect(waiting).rejects.toThrow("caller gone");
    expect(s.counts().queued).toBe(0);
    busy.release();
    await run;
    await s.idle();
  });

  it("frees the slot when a task fails", async () => {
    const s = createScheduler({ maxParallel: 1, queueTimeoutMs: 10_000 });
    await expect(s.run(c("a"), never, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await s.run(c("a"), never, async () => "again")).toBe("again");
  });

  it("maps CNI commands to lanes", () => {
    expect(laneOf({ CNI_COMMAND: "ADD", CNI_CONTAINERID: "x" })).toEqual(c("x"));
    expect(laneOf({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "x" })).toEqual(c("x"));
    expect(laneOf({ CNI_COMMAND: "CHECK", CNI_CONTAINERID: "x" })).toEqual(c("x"));
    expect(laneOf({ CNI_COMMAND: "GC" })).toEqual({ kind: "exclusive" });
    expect(laneOf({ CNI_COMMAND: "STATUS" })).toEqual({ kind: "free" });
    expect(laneOf({ CNI_COMMAND: "VERSION" })).toEqual({ kind: "free" });
    expect(laneOf({})).toEqual({ kind: "free" });
  });
});
