import { describe, expect, it } from "vitest";
import {
  getLe64,
  getUnalignedLe32,
  getUnalignedLe64,
  putUnalignedLe32,
  putUnalignedLe64,
  setLe64,
} from "./unaligned.js";

/** Values a 64-bit field meets: small, around 2^32, up to 2^53, and the BigInt fallbacks. */
const U64 = [
  0,
  1,
  0xff,
  0x1234_5678,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 5,
  0x1_0000_2000_0003,
  2 ** 53 - 1,
];
const FALLBACK = [-1, -(2 ** 40), 2 ** 53, 2 ** 60 + 2 ** 9, 2 ** 64 - 2 ** 12];

describe("unaligned little-endian fields", () => {
  it("store and load as DataView's setBigUint64/getBigUint64 and setUint32/getUint32 do", () => {
    for (const x of [...U64, ...FALLBACK]) {
      for (const at of [0, 1, 3, 8]) {
        const want = new Uint8Array(24);
        new DataView(want.buffer).setBigUint64(at, BigInt(x), true);
        const got = new Uint8Array(24);
        putUnalignedLe64(x, got, at);
        expect(got).toEqual(want);
        const view = new Uint8Array(24);
        setLe64(new DataView(view.buffer), at, x);
        expect(view).toEqual(want);
        const read = Number(new DataView(want.buffer).getBigUint64(at, true));
        expect(getUnalignedLe64(want, at)).toBe(read);
        expect(getLe64(new DataView(want.buffer), at)).toBe(read);
      }
    }
    for (const x of [
      0,
      1,
      0x8000_0000,
      2 ** 32 - 1,
      2 ** 32 + 7,
      -1,
      -(2 ** 31),
      3.7,
      Number.NaN,
    ]) {
      const want = new Uint8Array(8);
      new DataView(want.buffer).setUint32(2, x >>> 0, true);
      const got = new Uint8Array(8);
      putUnalignedLe32(x, got, 2);
      expect(got).toEqual(want);
      expect(getUnalignedLe32(got, 2)).toBe(new DataView(want.buffer).getUint32(2, true));
    }
  });

  it("reads a value above 2^53 rounded once, as Number() of the BigInt rounds it", () => {
    const b = new Uint8Array(8);
    for (const big of [2n ** 53n + 1n, 2n ** 64n - 1n, 2n ** 63n + 2n ** 10n + 1n]) {
      new DataView(b.buffer).setBigUint64(0, big, true);
      expect(getUnalignedLe64(b, 0)).toBe(Number(big));
    }
  });

  it("throws for a fractional 64-bit value, as BigInt() does, before writing anything", () => {
    const b = new Uint8Array(8);
    expect(() => putUnalignedLe64(1.5, b, 0)).toThrow(RangeError);
    expect(() => setLe64(new DataView(b.buffer), 0, Number.NaN)).toThrow(RangeError);
    expect(b.every((x) => x === 0)).toBe(true);
  });
});
