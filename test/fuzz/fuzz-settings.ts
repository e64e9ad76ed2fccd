// The fuzz tier's settings: one fixed seed per run (so a failure reproduces), printed with any
// failure by fast-check ("seed: N, path: ..."), and overridable to explore further:
//   PLEXUS_FUZZ_SEED=123 PLEXUS_FUZZ_SCALE=10 npx vitest run --config test/vitest.config.ts --project fuzz

import fc from "fast-check";

export const FUZZ_SEED = Number(process.env["PLEXUS_FUZZ_SEED"] ?? 20261206);
const SCALE = Number(process.env["PLEXUS_FUZZ_SCALE"] ?? 1);

/** fast-check parameters for `runs` cases (times PLEXUS_FUZZ_SCALE) with the run's seed. */
export function fuzzParams<T>(runs: number): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(runs * SCALE)), endOnFailure: true };
}

/** Text that is mostly valid-looking, sometimes hostile: the alphabet annotations and configs use. */
export const edgyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
  fc.constantFrom(
    "",
    " ",
    "default",
    "kube-system",
    "..",
    "../x",
    "a/b",
    "eth0",
    "net1",
    "\u0000",
    "é",
    "🙂",
    "x".repeat(300),
  ),
);

/** JSON values of any shape, small. */
export const anyJson = fc.jsonValue({ maxDepth: 4 });
