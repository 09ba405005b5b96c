import { uniformInt } from "pure-rand/distribution/uniformInt";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

/**
 * The simulation's seeded PRNG: xoroshiro128+ exactly as pure-rand (the generator behind
 * fast-check) implements it, seeded from a 32-bit integer, which is what a replay token stores,
 * with pure-rand's uniform integer distribution. The generator step and the distribution for
 * ranges up to 2^32 are written out here over an Int32Array state: the strategy draws at every
 * scheduling decision, and pure-rand's generator object keeps its four 32-bit words in fields
 * that hold them as heap numbers, which made a draw cost a quarter of a scheduling point. The
 * sequence is pure-rand's, draw for draw (prng.test.ts compares them); ranges past 2^32 go to
 * pure-rand's `uniformInt` over the same state.
 */
export class Prng {
  /** pure-rand's state words s01, s00, s11, s10, in that order. */
  private readonly s = new Int32Array(4);
  /** pure-rand's RandomGenerator view of this state, for the ranges it handles alone. */
  private generator: RandomGenerator | null = null;

  constructor(readonly seed: number) {
    const s = this.s;
    const seed32 = seed | 0;
    s[0] = -1;
    s[1] = ~seed32;
    s[2] = seed32;
    s[3] = 0;
  }

  /** The next 32-bit output (signed), as pure-rand's xoroshiro128plus `next()`. */
  next(): number {
    const s = this.s;
    const s01 = s[0]!;
    const s00 = s[1]!;
    const s11 = s[2]!;
    const s10 = s[3]!;
    const out = (s00 + s10) | 0;
    const a0 = s10 ^ s00;
    const a1 = s11 ^ s01;
    s[1] = (s00 << 24) ^ (s01 >>> 8) ^ a0 ^ (a0 << 16);
    s[0] = (s01 << 24) ^ (s00 >>> 8) ^ a1 ^ ((a1 << 16) | (a0 >>> 16));
    s[3] = (a1 << 5) ^ (a0 >>> 27);
    s[2] = (a0 << 5) ^ (a1 >>> 27);
    return out;
  }

  /** Uniform integer in [0, size), size <= 2^32: pure-rand's uniformIntInternal. */
  private uniform(size: number): number {
    const maxAllowed = size > 2 ? Math.floor(4294967296 / size) * size : 4294967296;
    let v = this.next() + 2147483648;
    while (v >= maxAllowed) v = this.next() + 2147483648;
    return v % size;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.between(0, n - 1);
  }

  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number {
    const range = max - min;
    if (range <= 0xffffffff) return this.uniform(range + 1) + min;
    this.generator ??= this.asGenerator();
    return uniformInt(this.generator, min, max);
  }

  /** A fresh 32-bit seed, for deriving the seeds of a series of runs. */
  nextSeed(): number {
    return this.uniform(0x80000000);
  }

  private asGenerator(): RandomGenerator {
    const unsupported = () => {
      throw new Error("the simulation's PRNG only draws");
    };
    return {
      next: () => this.next(),
      clone: unsupported,
      getState: unsupported,
    } as unknown as RandomGenerator;
  }
}

/** Mixes a base seed and an index into a run seed (splitmix-style), deterministic and spread out. */
export function deriveSeed(base: number, index: number): number {
  let z = (base ^ Math.imul(index + 1, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) & 0x7fffffff;
}
