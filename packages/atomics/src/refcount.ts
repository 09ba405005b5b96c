/**
 * refcount_t at the data level: the kernel's saturating reference counter
 * (include/linux/refcount.h, lib/refcount.c) over one `Int32Array` cell.
 *
 * The algorithms are the kernel's, step for step: most operations do one unconditional atomic
 * read-modify-write and check the old value afterwards; on a bad value they set the counter to
 * REFCOUNT_SATURATED and warn (refcount_warn_saturate()). The check after the operation is what
 * makes refcount_t cheap, and also what makes it racy in the way the kernel documents: between
 * the atomic operation and the saturating store, other CPUs see the unchecked value. That window
 * is reproduced here on real threads (a `SharedArrayBuffer` cell) as well as in a simulation.
 *
 * This file imports only ./atomic.js: worker threads load it on its own.
 *
 * Faithfulness: memory ordering is sequentially consistent (see atomic.ts). The kernel prints
 * each kind of warning once per boot (WARN_ONCE); this model calls `onWarn` for every event and
 * leaves de-duplication to whoever prints, because a simulation wants to know every object whose
 * counter went bad.
 */

import { AtomicT, INT_MAX, INT_MIN } from "./atomic.js";

/** Models REFCOUNT_MAX: the largest count a refcount_t reaches without warning. */
export const REFCOUNT_MAX = INT_MAX;

/**
 * Models REFCOUNT_SATURATED, INT_MIN / 2 = -0x4000_0000 (0xC000_0000 as an unsigned int).
 * Halfway between 0 and INT_MAX the other way round, so that racing operations that keep
 * changing a saturated counter before the saturating store lands cannot bring it back to 0.
 */
export const REFCOUNT_SATURATED = (INT_MIN / 2) | 0;

/** Models enum refcount_saturation_type: why refcount_warn_saturate() was called. */
export const RefcountSaturationType = {
  REFCOUNT_ADD_NOT_ZERO_OVF: 0,
  REFCOUNT_ADD_OVF: 1,
  REFCOUNT_ADD_UAF: 2,
  REFCOUNT_SUB_UAF: 3,
  REFCOUNT_DEC_LEAK: 4,
} as const;
export type RefcountSaturationType =
  (typeof RefcountSaturationType)[keyof typeof RefcountSaturationType];

/**
 * What refcount_warn_saturate() prints for each type, as `REFCOUNT_WARN(str)` formats it
 * (`"refcount_t: " str ".\n"`), without the newline.
 */
export const REFCOUNT_WARNINGS: Readonly<Record<RefcountSaturationType, string>> = Object.freeze({
  [RefcountSaturationType.REFCOUNT_ADD_NOT_ZERO_OVF]: "refcount_t: saturated; leaking memory.",
  [RefcountSaturationType.REFCOUNT_ADD_OVF]: "refcount_t: saturated; leaking memory.",
  [RefcountSaturationType.REFCOUNT_ADD_UAF]: "refcount_t: addition on 0; use-after-free.",
  [RefcountSaturationType.REFCOUNT_SUB_UAF]: "refcount_t: underflow; use-after-free.",
  [RefcountSaturationType.REFCOUNT_DEC_LEAK]: "refcount_t: decrement hit 0; leaking memory.",
});

/** Receives every refcount warning: its type and the kernel's message. */
export type RefcountWarnHandler = (type: RefcountSaturationType, message: string) => void;

export interface RefcountOptions {
  /**
   * Called for each warning (the kernel's WARN), as a method of this options object (so an
   * object can pass itself, with an `onWarn` method, instead of a closure made per counter).
   * Default: nothing.
   */
  onWarn?: RefcountWarnHandler;
}

/**
 * The lock that refcount_dec_and_lock() / refcount_dec_and_mutex_lock() take: a spinlock or
 * mutex of the kernel package, the simulation's mutex, or anything with these two methods.
 */
export interface Lockable {
  lock(): Promise<void> | void;
  unlock(): Promise<void> | void;
}

const { REFCOUNT_ADD_NOT_ZERO_OVF, REFCOUNT_ADD_OVF, REFCOUNT_ADD_UAF, REFCOUNT_SUB_UAF } =
  RefcountSaturationType;
const { REFCOUNT_DEC_LEAK } = RefcountSaturationType;

/** The options of a counter that warns nobody. */
const NO_WARN: RefcountOptions = Object.freeze({ onWarn: () => {} });

/**
 * Models refcount_t.
 *
 * Locking: none; every method is atomic on its own (decAndLock() takes the caller's lock).
 * References: the counter is the number of references; 0 means the object is being or has been
 * freed, and a saturated counter (REFCOUNT_SATURATED) pins the object forever, leaking it on
 * purpose rather than risking a use-after-free.
 */
export class RefcountT {
  /** The underlying atomic_t, as `r->refs` in the kernel. Reading it gives the signed value. */
  readonly refs: AtomicT;
  /** Whose `onWarn` receives the warnings (the options given). */
  private readonly warnTo: RefcountOptions;

  /**
   * Models REFCOUNT_INIT(init) (`init` a number, default 0 as in zeroed memory), or a refcount_t
   * over an existing atomic_t cell (`init` an AtomicT, which keeps its value).
   */
  constructor(init: number | AtomicT = 0, options: RefcountOptions = {}) {
    this.refs = typeof init === "number" ? new AtomicT(init) : init;
    this.warnTo = options.onWarn ? options : NO_WARN;
  }

  /** A refcount_t over an existing cell, e.g. on a `SharedArrayBuffer`; the cell keeps its value. */
  static at(cells: Int32Array, index: number, options: RefcountOptions = {}): RefcountT {
    return new RefcountT(AtomicT.at(cells, index), options);
  }

  /**
   * Models refcount_warn_saturate(): sets the counter to REFCOUNT_SATURATED, then warns.
   * Locking: none; the store races with concurrent operations on purpose (see refcount.h).
   * References: pins the object: a saturated counter never reaches 0.
   */
  warnSaturate(type: RefcountSaturationType): void {
    this.refs.set(REFCOUNT_SATURATED);
    this.warnTo.onWarn!(type, REFCOUNT_WARNINGS[type]);
  }

  /**
   * Models refcount_set().
   * Locking: none. References: sets the count outright; for initialization.
   */
  set(n: number): void {
    this.refs.set(n);
  }

  /**
   * Models refcount_read(). Returns the kernel's `unsigned int`, so a saturated counter reads
   * 0xC000_0000 (3221225472) and compares above every sane count, as it does in kernel code
   * like `kref_read(k) > 1`. `refs.read()` gives the signed value.
   * Locking: none; the value may be stale by the time it is used. References: none.
   */
  read(): number {
    return this.refs.read() >>> 0;
  }

  /**
   * Models __refcount_add_not_zero(): the try_cmpxchg loop, then the check on the old value.
   * Returns the old value (0: nothing was added).
   */
  private fetchAddNotZero(i: number): number {
    const { cells, index } = this.refs;
    const add = i | 0;
    let old = Atomics.load(cells, index);
    for (;;) {
      if (old === 0) break;
      const seen = Atomics.compareExchange(cells, index, old, (old + add) | 0);
      if (seen === old) break;
      old = seen;
    }
    if (old < 0 || ((old + add) | 0) < 0) this.warnSaturate(REFCOUNT_ADD_NOT_ZERO_OVF);
    return old;
  }

  /**
   * Models refcount_add_not_zero(): adds `i` unless the count is 0. A negative (bad or
   * saturated) old value or an overflow saturates and warns "saturated; leaking memory" and
   * still returns true.
   * Locking: none; the caller keeps the object's memory stable (a lock or RCU around the lookup).
   * References: takes `i` when it returns true.
   */
  addNotZero(i: number): boolean {
    return this.fetchAddNotZero(i) !== 0;
  }

  /**
   * Models refcount_inc_not_zero(): the get of a lookup that must not resurrect an object whose
   * last reference is already gone (kref_get_unless_zero()).
   * Locking: none; the caller keeps the object's memory stable (a lock or RCU around the lookup).
   * References: takes one when it returns true; must be checked.
   */
  incNotZero(): boolean {
    return this.fetchAddNotZero(1) !== 0;
  }

  /**
   * Models refcount_add() (__refcount_add()): one fetch_add, then the check. Adding to 0 is a
   * use-after-free: the counter saturates rather than becoming `i`, so the object can never be
   * freed a second time.
   * Locking: none. References: the caller must already hold one.
   */
  add(i: number): void {
    const add = i | 0;
    const old = this.refs.fetchAdd(add);
    if (old === 0) this.warnSaturate(REFCOUNT_ADD_UAF);
    else if (old < 0 || ((old + add) | 0) < 0) this.warnSaturate(REFCOUNT_ADD_OVF);
  }

  /**
   * Models refcount_inc() (kref_get()).
   * Locking: none. References: the caller must already hold one; on 0 it warns "addition on 0;
   * use-after-free" and saturates.
   */
  inc(): void {
    this.add(1);
  }

  /**
   * Models refcount_sub_and_test() (__refcount_sub_and_test()): one fetch_sub, true only when
   * the old value was exactly `i` (and positive). Anything that takes the counter below 0
   * warns "underflow; use-after-free", saturates and returns false: the object leaks instead of
   * being freed twice.
   * Locking: none. References: drops `i`; true means the caller dropped the last and must free.
   */
  subAndTest(i: number): boolean {
    const sub = i | 0;
    const old = this.refs.fetchSub(sub);
    if (old > 0 && old === sub) return true;
    if (old <= 0 || ((old - sub) | 0) < 0) this.warnSaturate(REFCOUNT_SUB_UAF);
    return false;
  }

  /**
   * Models refcount_dec_and_test() (kref_put()).
   * Locking: none. References: drops one; true means it was the last and the caller frees.
   */
  decAndTest(): boolean {
    return this.subAndTest(1);
  }

  /**
   * Models refcount_dec() (__refcount_dec()): a decrement that must not drop the last
   * reference, since nobody would free the object. Old value <= 1 warns "decrement hit 0;
   * leaking memory" and saturates.
   * Locking: none. References: drops one that is not the last.
   */
  dec(): void {
    const old = this.refs.fetchSub(1);
    if (old <= 1) this.warnSaturate(REFCOUNT_DEC_LEAK);
  }

  /**
   * Models refcount_dec_if_one(): the 1 -> 0 transition or nothing, a try-delete.
   * Locking: none. References: drops the last one when it returns true.
   */
  decIfOne(): boolean {
    return this.refs.cmpxchg(1, 0) === 1;
  }

  /**
   * Models refcount_dec_not_one(): decrements unless the count is 1 (the fast path of
   * refcount_dec_and_lock(): only the last put needs the lock). A saturated counter stays put
   * and reports success. On 0 it warns "underflow; use-after-free" without saturating (the
   * kernel's WARN_ONCE here does not call refcount_warn_saturate()) and returns true.
   * Locking: none. References: drops one that is not the last; false means the caller holds
   * the last.
   */
  decNotOne(): boolean {
    const { cells, index } = this.refs;
    let val = Atomics.load(cells, index);
    for (;;) {
      if (val === REFCOUNT_SATURATED) return true;
      if (val === 1) return false;
      // `new > val` in unsigned arithmetic: only 0 - 1 wraps upwards.
      if (val === 0) {
        this.warnTo.onWarn!(REFCOUNT_SUB_UAF, REFCOUNT_WARNINGS[REFCOUNT_SUB_UAF]);
        return true;
      }
      const seen = Atomics.compareExchange(cells, index, val, (val - 1) | 0);
      if (seen === val) return true;
      val = seen;
    }
  }

  /**
   * Models refcount_dec_and_lock(): drops a reference; if it was the last, returns true with
   * `lock` held. Only the 1 -> 0 transition takes the lock, and it is re-checked under it, so a
   * concurrent lookup under the same lock either got its reference before or finds nothing.
   * Locking: takes `lock` and keeps it when returning true; the caller unlocks (kref_put_lock()'s
   * release does). References: drops one.
   */
  async decAndLock(lock: Lockable): Promise<boolean> {
    if (this.decNotOne()) return false;
    await lock.lock();
    if (!this.decAndTest()) {
      await lock.unlock();
      return false;
    }
    return true;
  }

  /**
   * Models refcount_dec_and_mutex_lock(): refcount_dec_and_lock() with a mutex; the data-level
   * steps are the same.
   * Locking: takes `mutex` and keeps it when returning true. References: drops one.
   */
  decAndMutexLock(mutex: Lockable): Promise<boolean> {
    return this.decAndLock(mutex);
  }
}
