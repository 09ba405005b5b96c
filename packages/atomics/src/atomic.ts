/**
 * atomic_t at the data level: a 32-bit signed counter in one `Int32Array` cell, changed only
 * through `Atomics.*`.
 *
 * The operations are synchronous and truly atomic, also on a `SharedArrayBuffer` shared by
 * worker threads, so the same code that runs inside one simulation can be checked against real
 * parallel hardware. Kernel code inside a simulation uses the kernel-facing `Atomic` instead,
 * which puts a scheduling point before each operation.
 *
 * This file imports nothing: worker threads load it on its own.
 *
 * Faithfulness: `int` arithmetic wraps at 32 bits, as the kernel's does (it is built with
 * -fno-strict-overflow). Every operation is sequentially consistent (`Atomics.*`), which is at
 * least as strong as any of the kernel's _relaxed/_acquire/_release variants; weaker orderings
 * are not modeled. Arguments are converted to `int` as C converts them (ToInt32).
 */

/** INT_MAX of the kernel's `int`. */
export const INT_MAX = 0x7fff_ffff;
/** INT_MIN of the kernel's `int`. */
export const INT_MIN = -0x8000_0000;

// The constructor's second form (adopting an existing cell) is reachable only through
// AtomicT.at(): this symbol is not exported.
const ADOPT: unique symbol = Symbol("AtomicT.adopt");

function checkCell(cells: Int32Array, index: number): void {
  if (!(cells instanceof Int32Array)) {
    throw new TypeError("AtomicT: cells must be an Int32Array");
  }
  if (!Number.isInteger(index) || index < 0 || index >= cells.length) {
    throw new RangeError(`AtomicT: index ${index} is outside cells[0..${cells.length})`);
  }
}

/**
 * Models atomic_t (include/linux/atomic/atomic-instrumented.h, atomic-arch-fallback.h).
 *
 * Locking: none; each method is one atomic step (the conditional ones are the kernel's
 * try_cmpxchg loops, which retry until their compare-and-exchange succeeds).
 * References: none; an atomic_t counts nothing by itself. Use RefcountT for reference counts:
 * it saturates where atomic_t silently wraps.
 */
export class AtomicT {
  /** The cell array this counter lives in (shared with other counters or threads, or its own). */
  readonly cells: Int32Array;
  /** The counter's index in `cells`. */
  readonly index: number;

  /** Models ATOMIC_INIT(initial): a counter in a cell of its own. */
  constructor(initial?: number);
  constructor(initial: number | typeof ADOPT = 0, cells?: Int32Array, index?: number) {
    if (initial === ADOPT && cells !== undefined && index !== undefined) {
      this.cells = cells;
      this.index = index;
      return;
    }
    this.cells = new Int32Array(1);
    this.index = 0;
    this.cells[0] = typeof initial === "number" ? initial : 0;
  }

  /**
   * A counter over an existing cell, e.g. of an `Int32Array` on a `SharedArrayBuffer` that
   * several worker threads share. The cell keeps its current value.
   */
  static at(cells: Int32Array, index: number): AtomicT {
    checkCell(cells, index);
    return new (
      AtomicT as unknown as new (
        tag: typeof ADOPT,
        cells: Int32Array,
        index: number,
      ) => AtomicT
    )(ADOPT, cells, index);
  }

  /**
   * Models atomic_read().
   * Locking: none. References: none.
   */
  read(): number {
    return Atomics.load(this.cells, this.index);
  }

  /**
   * Models atomic_set().
   * Locking: none; a plain store that races with concurrent read-modify-writes.
   * References: none.
   */
  set(i: number): void {
    Atomics.store(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_add().
   * Locking: none. References: none.
   */
  add(i: number): void {
    Atomics.add(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_sub().
   * Locking: none. References: none.
   */
  sub(i: number): void {
    Atomics.sub(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_inc().
   * Locking: none. References: none.
   */
  inc(): void {
    Atomics.add(this.cells, this.index, 1);
  }

  /**
   * Models atomic_dec().
   * Locking: none. References: none.
   */
  dec(): void {
    Atomics.sub(this.cells, this.index, 1);
  }

  /**
   * Models atomic_fetch_add(): the value before the addition.
   * Locking: none. References: none.
   */
  fetchAdd(i: number): number {
    return Atomics.add(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_fetch_sub(): the value before the subtraction.
   * Locking: none. References: none.
   */
  fetchSub(i: number): number {
    return Atomics.sub(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_fetch_inc().
   * Locking: none. References: none.
   */
  fetchInc(): number {
    return Atomics.add(this.cells, this.index, 1);
  }

  /**
   * Models atomic_fetch_dec().
   * Locking: none. References: none.
   */
  fetchDec(): number {
    return Atomics.sub(this.cells, this.index, 1);
  }

  /**
   * Models atomic_add_return(): the new value, wrapped to int.
   * Locking: none. References: none.
   */
  addReturn(i: number): number {
    const a = i | 0;
    return (Atomics.add(this.cells, this.index, a) + a) | 0;
  }

  /**
   * Models atomic_sub_return().
   * Locking: none. References: none.
   */
  subReturn(i: number): number {
    const a = i | 0;
    return (Atomics.sub(this.cells, this.index, a) - a) | 0;
  }

  /**
   * Models atomic_inc_return().
   * Locking: none. References: none.
   */
  incReturn(): number {
    return this.addReturn(1);
  }

  /**
   * Models atomic_dec_return().
   * Locking: none. References: none.
   */
  decReturn(): number {
    return this.subReturn(1);
  }

  /**
   * Models atomic_sub_and_test(): true when the result is 0.
   * Locking: none. References: none.
   */
  subAndTest(i: number): boolean {
    return this.subReturn(i) === 0;
  }

  /**
   * Models atomic_dec_and_test(): true when the result is 0. Unlike refcount_dec_and_test()
   * it goes on happily below 0.
   * Locking: none. References: none.
   */
  decAndTest(): boolean {
    return this.subReturn(1) === 0;
  }

  /**
   * Models atomic_inc_and_test(): true when the result is 0.
   * Locking: none. References: none.
   */
  incAndTest(): boolean {
    return this.addReturn(1) === 0;
  }

  /**
   * Models atomic_add_negative(): true when the result is negative.
   * Locking: none. References: none.
   */
  addNegative(i: number): boolean {
    return this.addReturn(i) < 0;
  }

  /**
   * Models atomic_and().
   * Locking: none. References: none.
   */
  and(i: number): void {
    Atomics.and(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_andnot().
   * Locking: none. References: none.
   */
  andnot(i: number): void {
    Atomics.and(this.cells, this.index, ~i);
  }

  /**
   * Models atomic_or().
   * Locking: none. References: none.
   */
  or(i: number): void {
    Atomics.or(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_xor().
   * Locking: none. References: none.
   */
  xor(i: number): void {
    Atomics.xor(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_fetch_and(): the value before.
   * Locking: none. References: none.
   */
  fetchAnd(i: number): number {
    return Atomics.and(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_fetch_andnot(): the value before.
   * Locking: none. References: none.
   */
  fetchAndnot(i: number): number {
    return Atomics.and(this.cells, this.index, ~i);
  }

  /**
   * Models atomic_fetch_or(): the value before.
   * Locking: none. References: none.
   */
  fetchOr(i: number): number {
    return Atomics.or(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_fetch_xor(): the value before.
   * Locking: none. References: none.
   */
  fetchXor(i: number): number {
    return Atomics.xor(this.cells, this.index, i | 0);
  }

  /**
   * Models atomic_xchg(): stores `n` and returns the value before.
   * Locking: none. References: none.
   */
  xchg(n: number): number {
    return Atomics.exchange(this.cells, this.index, n | 0);
  }

  /**
   * Models atomic_cmpxchg(): stores `n` if the value is `old`; returns the value found, so the
   * exchange happened exactly when the result equals `old`.
   * Locking: none. References: none.
   */
  cmpxchg(old: number, n: number): number {
    return Atomics.compareExchange(this.cells, this.index, old | 0, n | 0);
  }

  /**
   * Models atomic_fetch_add_unless(): adds `a` unless the value is `u`; returns the value
   * before. The kernel's try_cmpxchg loop, so a concurrent change makes it look again.
   * Locking: none. References: none.
   */
  fetchAddUnless(a: number, u: number): number {
    const add = a | 0;
    const unless = u | 0;
    let c = Atomics.load(this.cells, this.index);
    for (;;) {
      if (c === unless) return c;
      const seen = Atomics.compareExchange(this.cells, this.index, c, (c + add) | 0);
      if (seen === c) return c;
      c = seen;
    }
  }

  /**
   * Models atomic_add_unless(): adds `a` unless the value is `u`; true if it added.
   * Locking: none. References: none.
   */
  addUnless(a: number, u: number): boolean {
    return this.fetchAddUnless(a, u) !== (u | 0);
  }

  /**
   * Models atomic_inc_not_zero(): increments unless the value is 0; true if it did. The bare
   * counter behind lookups that must not resurrect an object on its way to being freed
   * (refcount_inc_not_zero() adds saturation to it).
   * Locking: none. References: takes one when it returns true.
   */
  incNotZero(): boolean {
    return this.addUnless(1, 0);
  }

  /**
   * Models atomic_inc_unless_negative(): true if it incremented.
   * Locking: none. References: none.
   */
  incUnlessNegative(): boolean {
    let c = Atomics.load(this.cells, this.index);
    for (;;) {
      if (c < 0) return false;
      const seen = Atomics.compareExchange(this.cells, this.index, c, (c + 1) | 0);
      if (seen === c) return true;
      c = seen;
    }
  }

  /**
   * Models atomic_dec_unless_positive(): true if it decremented.
   * Locking: none. References: none.
   */
  decUnlessPositive(): boolean {
    let c = Atomics.load(this.cells, this.index);
    for (;;) {
      if (c > 0) return false;
      const seen = Atomics.compareExchange(this.cells, this.index, c, (c - 1) | 0);
      if (seen === c) return true;
      c = seen;
    }
  }

  /**
   * Models atomic_dec_if_positive(): decrements unless the result would be negative, and
   * returns that result either way (negative means nothing was stored).
   * Locking: none. References: none.
   */
  decIfPositive(): number {
    let c = Atomics.load(this.cells, this.index);
    for (;;) {
      const dec = (c - 1) | 0;
      if (dec < 0) return dec;
      const seen = Atomics.compareExchange(this.cells, this.index, c, dec);
      if (seen === c) return dec;
      c = seen;
    }
  }
}
