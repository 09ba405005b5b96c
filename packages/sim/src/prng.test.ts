import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { describe, expect, it } from "vitest";
import { Prng } from "./prng.js";

/** pure-rand's draw that Prng.below() must reproduce, draw for draw. */
function reference(seed: number): (n: number) => number {
  const rng = xoroshiro128plus(seed | 0);
  return (n) => (n <= 1 ? 0 : uniformInt(rng, 0, n - 1));
}

describe("Prng", () => {
  it("below(n) gives pure-rand's uniformInt sequence for every size of n", () => {
    const sizes = [
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 1000,
      4097, 65535, 65536, 65537, 0x3fffffff, 0x40000000, 0x40000001, 0x7fffffff, 0x80000000,
      0x80000001, 0xffffffff, 0x100000000,
    ];
    let mismatches = 0;
    let outOfRange = 0;
    for (let seed = 0; seed < 60; seed++) {
      const p = new Prng(seed * 7919 + 1);
      const ref = reference(seed * 7919 + 1);
      for (let i = 0; i < 2000; i++) {
        const n = sizes[(i * 31 + seed) % sizes.length]!;
        const v = p.below(n);
        if (v !== ref(n)) mismatches++;
        if (!(v >= 0 && v < Math.max(1, n))) outOfRange++;
      }
    }
    expect(mismatches).toBe(0);
    expect(outOfRange).toBe(0);
  });

  it("keeps the sequence when below() and between() interleave", () => {
    const p = new Prng(42);
    const rng = xoroshiro128plus(42);
    for (let i = 0; i < 500; i++) {
      expect(p.below(3 + (i % 5))).toBe(uniformInt(rng, 0, 2 + (i % 5)));
      expect(p.between(10, 20)).toBe(uniformInt(rng, 10, 20));
    }
  });
});
