import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { describe, expect, it } from "vitest";
import { Prng } from "./prng.js";

describe("Prng", () => {
  it("draws pure-rand's xoroshiro128+ sequence through its uniform distribution, draw for draw", () => {
    for (const seed of [0, 1, 42, -7, 0x7fffffff, 871044080]) {
      const ours = new Prng(seed);
      const theirs = xoroshiro128plus(seed | 0);
      for (let i = 0; i < 20_000; i++) {
        // The ranges the strategies use: small task counts, PCT's priorities and change
        // points, seeds, the full 2^32 range and one past it (pure-rand's own path).
        switch (i % 7) {
          case 0:
            expect(ours.below(2 + (i % 5))).toBe(uniformInt(theirs, 0, 1 + (i % 5)));
            break;
          case 1:
            expect(ours.between(0, 1 << 30)).toBe(uniformInt(theirs, 0, 1 << 30));
            break;
          case 2:
            expect(ours.between(1, 1 + i)).toBe(uniformInt(theirs, 1, 1 + i));
            break;
          case 3:
            expect(ours.nextSeed()).toBe(uniformInt(theirs, 0, 0x7fffffff));
            break;
          case 4:
            expect(ours.below(0x40000000)).toBe(uniformInt(theirs, 0, 0x3fffffff));
            break;
          case 5:
            expect(ours.between(-5, 0xffffffff - 5)).toBe(uniformInt(theirs, -5, 0xffffffff - 5));
            break;
          default:
            expect(ours.between(0, 2 ** 40)).toBe(uniformInt(theirs, 0, 2 ** 40));
        }
      }
      expect(ours.below(1)).toBe(0);
    }
  });
});
