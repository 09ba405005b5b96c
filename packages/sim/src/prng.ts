import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

/**
 * The simulation's seeded PRNG. xoroshiro128+ from pure-rand (the generator behind fast-check):
 * well tested, fast, and seedable from a 32-bit integer, which is what a replay token stores.
 */
export class Prng {
  private readonly rng: RandomGenerator;

  constructor(readonly seed: number) {
    this.rng = xoroshiro128plus(seed | 0);
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : uniformInt(this.rng, 0, n - 1);
  }

  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number {
    return uniformInt(this.rng, min, max);
  }

  /** A fresh 32-bit seed, for deriving the seeds of a series of runs. */
  nextSeed(): number {
    return uniformInt(this.rng, 0, 0x7fffffff);
  }
}

/** Mixes a base seed and an index into a run seed (splitmix-style), deterministic and spread out. */
export function deriveSeed(base: number, index: number): number {
  let z = (base ^ Math.imul(index + 1, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) & 0x7fffffff;
}
