// A tiny seeded generator for the property tests of src/cni (mulberry32): the same seed gives
// the same cases on every run, and a failing case names its seed so it can be replayed.

export interface Random {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  bool(pTrue?: number): boolean;
  pick<T>(items: readonly T[]): T;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    seed,
    next,
    int,
    bool: (pTrue = 0.5) => next() < pTrue,
    pick: <T>(items: readonly T[]): T => {
      const item = items[int(0, items.length - 1)];
      if (item === undefined) throw new Error("pick from an empty list");
      return item;
    },
  };
}

/** The seeds a property runs over, one test each; every seed runs CASES_PER_SEED cases. */
export const SEEDS: readonly number[] = Array.from({ length: 25 }, (_, i) => 0x5eed + i * 7919);
export const CASES_PER_SEED = 10;

/** Runs `check` on CASES_PER_SEED cases drawn from one seed's generator. */
export function forCases(seed: number, check: (rnd: Random) => void): void {
  const rnd = seededRandom(seed);
  for (let i = 0; i < CASES_PER_SEED; i++) check(rnd);
}
