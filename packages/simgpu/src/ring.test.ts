import { describe, expect, it } from "vitest";
import { crc32 } from "./checksum.js";
import { Ring } from "./ring.js";

describe("Ring", () => {
  it("writes whole batches at the tail, consumes at the head, and wraps", () => {
    const r = new Ring<string>(4);
    expect(r.write(["a", "b", "c"])).toBe(true);
    expect([r.head, r.tail, r.used, r.space]).toEqual([0, 3, 3, 1]);
    expect(r.write(["d", "e"])).toBe(false); // all or nothing
    expect(r.used).toBe(3);
    expect(r.peek()).toBe("a");
    expect(r.consume()).toBe("a");
    expect(r.consume()).toBe("b");
    expect(r.write(["d", "e", "f"])).toBe(true);
    expect([r.head, r.tail, r.used, r.space]).toEqual([2, 2, 4, 0]); // full: head === tail
    expect(r.drain()).toEqual(["c", "d", "e", "f"]);
    expect([r.head, r.tail, r.used, r.empty]).toEqual([2, 2, 0, true]);
    expect(r.consume()).toBeUndefined();
    expect(() => new Ring(0)).toThrow(RangeError);
  });
});

const PAGE = 4096;

describe("crc32", () => {
  it("is the IEEE CRC-32 and can continue over several buffers", () => {
    const check = new TextEncoder().encode("123456789");
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(check.subarray(4), crc32(check.subarray(0, 4)))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(4096))).toBe(0xc71c0011);
  });

  it("equals the bit-at-a-time CRC-32 at every length and alignment (the word loop, the sliced loop and their tails)", () => {
    const bitwise = (bytes: Uint8Array, crc = 0) => {
      let c = ~crc >>> 0;
      for (const b of bytes) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return ~c >>> 0;
    };
    const bytes = new Uint8Array(300);
    let x = 0x12345678;
    for (let i = 0; i < bytes.length; i++) {
      x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) >>> 0;
      bytes[i] = x & 0xff;
    }
    for (let from = 0; from < 9; from++)
      for (let len = 0; len <= 140; len++) {
        const b = bytes.subarray(from, from + len);
        expect(crc32(b)).toBe(bitwise(b));
        expect(crc32(b, 0xdeadbeef)).toBe(bitwise(b, 0xdeadbeef));
      }
    expect(crc32(bytes)).toBe(bitwise(bytes));
  });

  it("gives a page of one repeated byte (its shortcut) the bit-at-a-time value, and a page that differs anywhere too", () => {
    const bitwise = (bytes: Uint8Array, crc = 0) => {
      let c = ~crc >>> 0;
      for (const b of bytes) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return ~c >>> 0;
    };
    const memory = new ArrayBuffer(2 * PAGE + 8);
    for (const at of [0, 4, 8]) {
      const page = new Uint8Array(memory, at, PAGE);
      for (const v of [0, 1, 0x5a, 0x80, 0xff]) {
        page.fill(v);
        for (const init of [0, 1, 0xdeadbeef, 0xffffffff]) {
          expect(crc32(page, init)).toBe(bitwise(page, init));
          for (const i of [0, 1, 2, 3, 4, 2047, PAGE - 1]) {
            page[i] = v ^ 0x21;
            expect(crc32(page, init)).toBe(bitwise(page, init));
            page[i] = v;
          }
        }
      }
    }
    // Not a whole page, or not aligned: the ordinary loops.
    const odd = new Uint8Array(memory, 1, PAGE).fill(9);
    expect(crc32(odd)).toBe(bitwise(odd));
    expect(crc32(new Uint8Array(PAGE + 4).fill(9))).toBe(bitwise(new Uint8Array(PAGE + 4).fill(9)));
  });
});
