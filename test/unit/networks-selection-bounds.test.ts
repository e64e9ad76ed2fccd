// Bounds on the selection annotation (size, nesting, count) and generated inputs: the parser
// returns selections or throws a CniError, never anything else, and always quickly.
import { describe, expect, it } from "vitest";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { MAX_ANNOTATION_BYTES, MAX_SELECTIONS } from "../../src/networks/annotations.js";
import { POD, parse, one, parseError } from "../support/selection.js";

describe("bounds", () => {
  it("a 10 MB annotation fails fast, before parsing", () => {
    const value = `[${'{"name":"net-a"},'.repeat(600_000)}{"name":"net-a"}]`;
    expect(value.length).toBeGreaterThan(10_000_000);
    const start = performance.now();
    const err = parseError(value);
    const ms = performance.now() - start;
    expect(err.msg).toContain(`value is larger than ${MAX_ANNOTATION_BYTES} bytes`);
    expect(ms).toBeLessThan(1000); // generous: the check is one length comparison
  });

  it("multi-byte characters count as bytes", () => {
    const value = `net-a@${"é".repeat(MAX_ANNOTATION_BYTES / 2)}`;
    expect(value.length).toBeLessThan(MAX_ANNOTATION_BYTES);
    expect(parseError(value).msg).toContain("larger than");
  });

  it("JSON nested 100000 deep fails cleanly (by size), and 20000 deep within the size bound fails by depth", () => {
    expect(parseError("[".repeat(100_000) + "]".repeat(100_000)).msg).toContain("larger than");
    const deepObjects = `[{"name":"a","cni-args":${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}]`;
    expect(deepObjects.length).toBeLessThanOrEqual(MAX_ANNOTATION_BYTES);
    expect(parseError(deepObjects).msg).toContain("nested deeper than 32 levels");
    const within = `[{"name":"a","cni-args":${"[".repeat(30_000)}${"]".repeat(30_000)}}]`;
    expect(within.length).toBeLessThanOrEqual(MAX_ANNOTATION_BYTES);
    expect(parseError(within).msg).toContain("nested deeper than 32 levels");
  });

  it("brackets inside strings do not count as nesting", () => {
    expect(one({ "cni-args": { note: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{\\"' } }).cniArgs).toEqual({
      note: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{\\"',
    });
  });

  it("more than MAX_SELECTIONS JSON elements is an error", () => {
    const value = JSON.stringify(Array.from({ length: MAX_SELECTIONS + 1 }, () => ({ name: "n" })));
    expect(parseError(value).msg).toContain("at most 32");
  });
});

/** A small deterministic generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("generated inputs", () => {
  const next = random(20240601);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const alphabet = [
    "a",
    "z",
    "0",
    "-",
    ".",
    "_",
    "/",
    "@",
    ",",
    " ",
    "[",
    "]",
    "{",
    "}",
    '"',
    ":",
    "\\",
    "é",
    "\n",
    "%",
    ";",
  ];
  const fragments = [
    '{"name":"n"}',
    '"ips":["10.0.0.1"]',
    '"interface":"net1"',
    '"default-route":[]',
    "null",
    "1e999",
    "true",
    ",",
    "[",
    "]",
  ];

  it("random strings give selections or an InvalidNetworkConfig CniError, nothing else", () => {
    for (let i = 0; i < 3000; i++) {
      const len = Math.floor(next() * 40);
      const value = Array.from({ length: len }, () => (next() < 0.2 ? pick(fragments) : pick(alphabet))).join("");
      try {
        const out = parse(value);
        for (const s of out) expect(s.name).toMatch(/^[a-z0-9]/);
      } catch (err) {
        expect(err, value).toBeInstanceOf(CniError);
        expect((err as CniError).code).toBe(ErrorCode.InvalidNetworkConfig);
        expect((err as CniError).msg.startsWith(`pod ${POD}: annotation k8s.v1.cni.cncf.io/networks`)).toBe(true);
      }
    }
  });

  it("generated valid shorthand lists parse to what was written", () => {
    const label = () => Array.from({ length: 1 + Math.floor(next() * 8) }, () => pick(["a", "b", "7", "x"])).join("");
    for (let i = 0; i < 500; i++) {
      const items = Array.from({ length: 1 + Math.floor(next() * 5) }, () => ({
        namespace: next() < 0.5 ? label() : undefined,
        name: label(),
        ifName: next() < 0.5 ? `if${label()}`.slice(0, 15) : undefined,
      }));
      const value = items
        .map((it) => `${it.namespace ? `${it.namespace}/` : ""}${it.name}${it.ifName ? `@${it.ifName}` : ""}`)
        .join(" , ");
      expect(parse(value)).toEqual(
        items.map((it) => ({
          name: it.name,
          namespace: it.namespace ?? "team-a",
          ...(it.ifName ? { interface: it.ifName } : {}),
        })),
      );
    }
  });
});
