import { describe, expect, it } from "vitest";
import { AtomicT, INT_MAX, INT_MIN } from "./atomic.js";

describe("AtomicT", () => {
  it("starts at its initial value, 0 by default", () => {
    expect(new AtomicT().read()).toBe(0);
    expect(new AtomicT(7).read()).toBe(7);
  });

  it("adopts an existing cell without changing it", () => {
    const cells = new Int32Array(new SharedArrayBuffer(12));
    cells[2] = 42;
    const a = AtomicT.at(cells, 2);
    expect(a.read()).toBe(42);
    a.inc();
    expect(cells[2]).toBe(43);
    expect(cells[0]).toBe(0);
    expect(a.cells).toBe(cells);
    expect(a.index).toBe(2);
  });

  it("rejects a cell outside the array", () => {
    const cells = new Int32Array(2);
    expect(() => AtomicT.at(cells, 2)).toThrow(RangeError);
    expect(() => AtomicT.at(cells, -1)).toThrow(RangeError);
    expect(() => AtomicT.at(cells, 0.5)).toThrow(RangeError);
    expect(() => AtomicT.at(new Float64Array(2) as unknown as Int32Array, 0)).toThrow(TypeError);
  });

  it("set, add, sub, inc, dec", () => {
    const a = new AtomicT();
    a.set(10);
    a.add(5);
    a.sub(3);
    a.inc();
    a.dec();
    a.dec();
    expect(a.read()).toBe(11);
  });

  it("fetch_* return the old value, *_return the new one", () => {
    const a = new AtomicT(5);
    expect(a.fetchAdd(2)).toBe(5);
    expect(a.fetchSub(1)).toBe(7);
    expect(a.fetchInc()).toBe(6);
    expect(a.fetchDec()).toBe(7);
    expect(a.addReturn(4)).toBe(10);
    expect(a.subReturn(3)).toBe(7);
    expect(a.incReturn()).toBe(8);
    expect(a.decReturn()).toBe(7);
    expect(a.read()).toBe(7);
  });

  it("wraps at 32 bits like int", () => {
    const a = new AtomicT(INT_MAX);
    expect(a.incReturn()).toBe(INT_MIN);
    expect(a.decReturn()).toBe(INT_MAX);
    a.set(INT_MIN);
    a.dec();
    expect(a.read()).toBe(INT_MAX);
    expect(a.addReturn(INT_MAX)).toBe(-2);
    a.set(2 ** 32 + 3);
    expect(a.read()).toBe(3);
  });

  it("*_and_test and add_negative", () => {
    const a = new AtomicT(2);
    expect(a.decAndTest()).toBe(false);
    expect(a.decAndTest()).toBe(true);
    expect(a.decAndTest()).toBe(false);
    expect(a.read()).toBe(-1);
    expect(a.incAndTest()).toBe(true);
    a.set(5);
    expect(a.subAndTest(4)).toBe(false);
    expect(a.subAndTest(1)).toBe(true);
    expect(a.addNegative(-1)).toBe(true);
    expect(a.addNegative(1)).toBe(false);
  });

  it("bit operations", () => {
    const a = new AtomicT(0b1100);
    a.and(0b0110);
    expect(a.read()).toBe(0b0100);
    a.or(0b0001);
    expect(a.read()).toBe(0b0101);
    a.xor(0b0011);
    expect(a.read()).toBe(0b0110);
    a.andnot(0b0010);
    expect(a.read()).toBe(0b0100);
    expect(a.fetchOr(0b1000)).toBe(0b0100);
    expect(a.fetchAnd(0b1000)).toBe(0b1100);
    expect(a.fetchXor(0b1001)).toBe(0b1000);
    expect(a.fetchAndnot(0b0001)).toBe(0b0001);
    expect(a.read()).toBe(0);
    a.set(-1);
    a.andnot(INT_MIN);
    expect(a.read()).toBe(INT_MAX);
  });

  it("xchg and cmpxchg return the old value", () => {
    const a = new AtomicT(3);
    expect(a.xchg(9)).toBe(3);
    expect(a.read()).toBe(9);
    expect(a.cmpxchg(1, 5)).toBe(9);
    expect(a.read()).toBe(9);
    expect(a.cmpxchg(9, 5)).toBe(9);
    expect(a.read()).toBe(5);
  });

  it("add_unless and fetch_add_unless", () => {
    const a = new AtomicT(3);
    expect(a.fetchAddUnless(2, 3)).toBe(3);
    expect(a.read()).toBe(3);
    expect(a.addUnless(2, 4)).toBe(true);
    expect(a.read()).toBe(5);
    expect(a.addUnless(-1, 5)).toBe(false);
    expect(a.read()).toBe(5);
    expect(a.fetchAddUnless(-1, 1)).toBe(5);
    expect(a.read()).toBe(4);
  });

  it("inc_not_zero leaves 0 alone", () => {
    const a = new AtomicT(0);
    expect(a.incNotZero()).toBe(false);
    expect(a.read()).toBe(0);
    a.set(-5);
    expect(a.incNotZero()).toBe(true);
    expect(a.read()).toBe(-4);
  });

  it("inc_unless_negative and dec_unless_positive", () => {
    const a = new AtomicT(0);
    expect(a.incUnlessNegative()).toBe(true);
    expect(a.read()).toBe(1);
    expect(a.decUnlessPositive()).toBe(false);
    a.set(-1);
    expect(a.incUnlessNegative()).toBe(false);
    expect(a.read()).toBe(-1);
    expect(a.decUnlessPositive()).toBe(true);
    expect(a.read()).toBe(-2);
    a.set(0);
    expect(a.decUnlessPositive()).toBe(true);
    expect(a.read()).toBe(-1);
  });

  it("dec_if_positive returns the result whether or not it stored it", () => {
    const a = new AtomicT(2);
    expect(a.decIfPositive()).toBe(1);
    expect(a.decIfPositive()).toBe(0);
    expect(a.decIfPositive()).toBe(-1);
    expect(a.read()).toBe(0);
    a.set(-3);
    expect(a.decIfPositive()).toBe(-4);
    expect(a.read()).toBe(-3);
    // INT_MIN - 1 wraps to INT_MAX, which is not negative: the kernel stores it.
    a.set(INT_MIN);
    expect(a.decIfPositive()).toBe(INT_MAX);
    expect(a.read()).toBe(INT_MAX);
  });
});
