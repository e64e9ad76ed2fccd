// The logger never repeats a key in one line: bindings of nested children merge, a call's key
// that a binding holds is dropped (same value) or kept apart (another value). Read back from a
// real pino file logger with a parser that sees duplicates (JSON.parse does not).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/logger.js";
import { duplicateKeys } from "../support/log-lines.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "plexus-log-keys-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("duplicateKeys", () => {
  it("finds a repeated key at any depth, and nothing in clean JSON", () => {
    expect(duplicateKeys('{"a":1,"b":{"c":"x","c":"y"},"a":[{"d":1,"d":2}]}')).toEqual(["b.c", "a", "a[0].d"]);
    expect(duplicateKeys('{"a":"\\"a\\":1,","b":[1,2,{"a":null}],"c":-1.5e3,"d":true}')).toEqual([]);
  });
});

describe("the logger", () => {
  it("writes every key once, whatever children and calls bind", async () => {
    const file = join(dir, "keys.log");
    const root = createLogger({ level: "debug", file, toStderr: false });
    const daemon = root.child({ component: "daemon" });
    const call = daemon.child({ command: "ADD", containerId: "c1", pod: "team-a/web-0" });
    call.info({ pod: "team-a/web-0", ifName: "net1" }, "same value");
    call.warn({ pod: "team-b/other", containerId: "c1" }, "another value");
    call.child({ component: "k8s" }).debug({ component: "k8s", level: 99, msg: "x" }, "nested");
    call.child({ pod: undefined }).info({}, "an undefined binding holds no key");
    const lines = (await readFile(file, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
    const [same, other, nested, undef] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(same).toMatchObject({ pod: "team-a/web-0", ifName: "net1", component: "daemon" });
    expect(other).toMatchObject({ pod: "team-a/web-0", pod_call: "team-b/other", containerId: "c1" });
    expect(other).not.toHaveProperty("containerId_call");
    expect(nested).toMatchObject({ component: "k8s", level: 20, level_call: 99, msg: "nested", msg_call: "x" });
    expect(undef).toMatchObject({ pod: "team-a/web-0" });
  });
});
