import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

/** 2^31: pure-rand's uniformInt draws `next() + 2^31`, a value in [0, 2^32). */
const P31 = 0x80000000;
/** Up to this n, below() computes pure-rand's draw itself (see below()). */
const SMALL = 1 << 16;
/** For n <= 64, pure-rand's rejection bound floor(2^32 / n) * n, computed once. */
const BOUND = new Float64Array(65);
for (let n = 1; n <= 64; n++) BOUND[n] = Math.floor(0x100000000 / n) * n;

/**
 * The simulation's seeded PRNG. xoroshiro128+ from pure-rand (the generator behind fast-check):
 * well tested, fast, and seedable from a 32-bit integer, which is what a replay token stores.
 */
export class Prng {
  private readonly rng: RandomGenerator;

  constructor(readonly seed: number) {
    this.rng = xoroshiro128plus(seed | 0);
  }

  /**
   * Uniform integer in [0, n): exactly what pure-rand's `uniformInt(rng, 0, n - 1)` returns, with
   * the same draws (replay tokens and every pinned seed depend on the sequence), computed without
   * its floating-point `%` (a call into the C library's fmod, about half the cost of a random
   * strategy's pick). uniformInt draws v = next() + 2^31, in [0, 2^32), again while v is at or
   * above floor(2^32 / n) * n, and returns v mod n. For a power of two n that is next()'s low
   * bits (2^31 is a multiple of n and nothing is rejected); for other n up to 2^16 the quotient
   * v / n is at least 1/n away from an integer, far more than a double's rounding error below
   * 2^32, so floor(v / n) is exact and v - floor(v / n) * n is v mod n. Larger n go to uniformInt.
   */
  below(n: number): number {
    if (n <= 1) return 0;
    const rng = this.rng;
    if ((n & (n - 1)) === 0 && n <= 0x40000000) return rng.next() & (n - 1);
    if (n > SMALL) return uniformInt(rng, 0, n - 1);
    const bound = n <= 64 ? BOUND[n]! : Math.floor(0x100000000 / n) * n;
    let v = rng.next() + P31;
    while (v >= bound) v = rng.next() + P31;
    return v - Math.floor(v / n) * n;
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
