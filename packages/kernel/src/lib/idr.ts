/**
 * struct idr (lib/idr.c, include/linux/idr.h): small integer ids mapped to pointers.
 *
 * The kernel's IDR is a radix tree (now the xarray) with an IDR_FREE tag per slot: an id is
 * allocated when its slot is not free, whatever the slot holds. That is what lets a caller reserve
 * an id with `idr_alloc(idr, NULL, ...)` and publish the object later with `idr_replace()`: in
 * between, lookups find NULL, but the id cannot be handed out twice
 * (drm_gem_handle_create_tail() relies on it).
 *
 * The model keeps the same observable semantics with simpler data: a Map from id to entry (the
 * pointer, or null for a reservation) and the allocated ids as sorted runs of consecutive ids,
 * so the lowest free id at or above a start is found by one binary search. Thousands of ids cost
 * a few microseconds per operation.
 *
 * Concurrency: every operation is a scheduling point, then runs atomically, so a reader sees an
 * entry either before or after a writer's update, as rcu_assign_pointer() guarantees in the
 * kernel. Writers must be serialized by the caller's lock (`opts.lock`, asserted with lockdep);
 * idr_find() may run under that lock or under rcu_read_lock() (asserted too).
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import { RCU_SPLAT, rcuLockdepWarn, rcuReadLockHeld } from "@primetime/rcu";
import { opLabel, point, report } from "@primetime/sim";
import { EINVAL, ENOENT, ENOMEM, ENOSPC, type Errno, errPtr } from "../include/errno.js";
import { lockdepAssertHeld } from "../locking/lockdep.js";
import type { Mutex } from "../locking/mutex.js";
import type { SpinLock } from "../locking/spinlock.js";
import { shouldFail } from "../mm/failslab.js";

/** forEach()'s settled result when there is nothing to walk. */
const RESOLVED_ZERO: Promise<number> = Promise.resolve(0);

/** INT_MAX: the largest id an IDR hands out. */
export const IDR_INT_MAX = 0x7fff_ffff;

export interface IdrOptions {
  /**
   * The lock the caller promises to hold around every modification (alloc, replace, remove). When
   * given, modifications assert it with lockdep, and find() asserts it or rcu_read_lock().
   * Without it nothing is asserted: the caller serializes by other means.
   */
  lock?: Mutex | SpinLock;
  /** Models idr_init_base(): the lowest id this IDR hands out (default 0). */
  base?: number;
}

/** One found entry: idr_get_next()'s pointer and the id it updates. */
export interface IdrEntry<T> {
  readonly id: number;
  readonly ptr: T;
}

/**
 * The allocated ids as sorted, disjoint, non-adjacent runs [lo[i], hi[i]] (adjacent runs are
 * merged, so `hi[i] + 1` is always free).
 */
class IdRuns {
  private readonly lo: number[] = [];
  private readonly hi: number[] = [];

  /** Index of the last run starting at or below `id`, or -1. */
  private runAtOrBefore(id: number): number {
    let a = 0;
    let b = this.lo.length - 1;
    let r = -1;
    while (a <= b) {
      const m = (a + b) >> 1;
      if (this.lo[m]! <= id) {
        r = m;
        a = m + 1;
      } else {
        b = m - 1;
      }
    }
    return r;
  }

  get empty(): boolean {
    return this.lo.length === 0;
  }

  has(id: number): boolean {
    const i = this.runAtOrBefore(id);
    return i >= 0 && this.hi[i]! >= id;
  }

  /** The lowest id >= from that is not allocated. */
  lowestFree(from: number): number {
    const i = this.runAtOrBefore(from);
    return i >= 0 && this.hi[i]! >= from ? this.hi[i]! + 1 : from;
  }

  /** Marks `id` allocated (it must be free). */
  add(id: number): void {
    const i = this.runAtOrBefore(id);
    const joinPrev = i >= 0 && this.hi[i] === id - 1;
    const joinNext = i + 1 < this.lo.length && this.lo[i + 1] === id + 1;
    if (joinPrev && joinNext) {
      this.hi[i] = this.hi[i + 1]!;
      this.lo.splice(i + 1, 1);
      this.hi.splice(i + 1, 1);
    } else if (joinPrev) {
      this.hi[i] = id;
    } else if (joinNext) {
      this.lo[i + 1] = id;
    } else {
      this.lo.splice(i + 1, 0, id);
      this.hi.splice(i + 1, 0, id);
    }
  }

  /** Frees `id`; false if it was not allocated. */
  delete(id: number): boolean {
    const i = this.runAtOrBefore(id);
    if (i < 0 || this.hi[i]! < id) return false;
    const lo = this.lo[i]!;
    const hi = this.hi[i]!;
    if (lo === hi) {
      this.lo.splice(i, 1);
      this.hi.splice(i, 1);
    } else if (id === lo) {
      this.lo[i] = id + 1;
    } else if (id === hi) {
      this.hi[i] = id - 1;
    } else {
      this.hi[i] = id - 1;
      this.lo.splice(i + 1, 0, id + 1);
      this.hi.splice(i + 1, 0, hi);
    }
    return true;
  }

  clear(): void {
    // Setting an array's length is a call into V8's runtime even when it is already 0: an IDR
    // torn down empty (the common case, its ids removed one by one before) skips it.
    if (this.lo.length === 0) return;
    this.lo.length = 0;
    this.hi.length = 0;
  }

  /** The lowest allocated id >= from, or -1 (no generator: getNext() runs it per entry). */
  nextAllocated(from: number): number {
    let i = this.runAtOrBefore(from);
    if (i >= 0 && this.hi[i]! >= from) return from;
    i++;
    return i < this.lo.length ? this.lo[i]! : -1;
  }
}

/**
 * Models struct idr. `T` is the pointer type: an object, so that an ERR_PTR (a negative number)
 * can never be mistaken for an entry.
 */
export class Idr<T extends object> {
  readonly name: string;
  readonly lock: Mutex | SpinLock | undefined;
  /** idr->idr_base. */
  readonly base: number;
  /** idr->idr_next: where idr_alloc_cyclic() starts its next search. */
  private next = 0;
  /** Allocated ids (reserved or published). */
  private readonly ids = new IdRuns();
  /** id -> pointer; null for an id reserved by idr_alloc(NULL) (or replaced with NULL). */
  private readonly slots = new Map<number, T | null>();
  /** WARN_ON_ONCE state of this IDR. */
  private warned = false;
  /**
   * Labels of the frequent points (`idr_find(object_idr)`...), built on first use: a property
   * load instead of opLabel()'s two Map lookups at every point.
   */
  private labelAlloc = "";
  private labelFind = "";
  private labelReplace = "";
  private labelRemove = "";
  private labelForEach = "";

  /**
   * Models DEFINE_IDR() / idr_init() / idr_init_base().
   * @param name shown in point labels (`idr_alloc(object_idr)`) and splats
   */
  constructor(name: string, opts: IdrOptions = {}) {
    const base = opts.base ?? 0;
    if (!Number.isInteger(base) || base < 0 || base > IDR_INT_MAX)
      throw new RangeError(`idr base must be an integer in [0, INT_MAX], got ${base}`);
    this.name = name;
    this.lock = opts.lock;
    this.base = base;
  }

  private label(op: string): string {
    return opLabel(op, this.name);
  }

  /** The writer-side lockdep assertion (lockdep_assert_held() in the callers of the kernel). */
  private assertWriter(): void {
    if (this.lock) lockdepAssertHeld(this.lock);
  }

  /**
   * WARN_ON_ONCE(cond) for a bad range passed to `op` ("idr_alloc"): the message,
   * `op(name): bad range [start, end)`, is built only when the warning fires.
   */
  private warnOnceRange(cond: boolean, op: string, start: number, end: number): boolean {
    if (cond && !this.warned) {
      this.warned = true;
      report("warn", `${op}(${this.name}): bad range [${start}, ${end})`, {
        object: `idr ${this.name}`,
      });
    }
    return cond;
  }

  /**
   * Models idr_alloc_u32()/idr_get_free(): the lowest free id in [max(id, base), max], stored
   * with `ptr`. Returns the id or a negative errno.
   */
  private allocFrom(ptr: T | null, id: number, max: number): number {
    const from = Math.max(id, this.base);
    // idr_alloc_u32() searches index space, bounded by `max - base` as an unsigned long: a max
    // below the base wraps around and bounds nothing (idr_alloc(idr, p, 0, 1) on an IDR based at
    // 1 hands out the lowest free id, not -ENOSPC).
    const limit = max < this.base ? IDR_INT_MAX : max;
    if (from > limit) return -ENOSPC;
    const free = this.ids.lowestFree(from);
    if (free > limit) return -ENOSPC;
    // idr_get_free() allocates radix-tree nodes (GFP_NOWAIT under a spinlock, after
    // idr_preload()): the fallible step, after the range check.
    if (shouldFail("idr_alloc")) return -ENOMEM;
    this.ids.add(free);
    this.slots.set(free, ptr);
    return free;
  }

  private static maxOf(end: number): number {
    return end > 0 ? Math.min(end - 1, IDR_INT_MAX) : IDR_INT_MAX;
  }

  /**
   * Models idr_alloc(): allocates the lowest free id in [start, end) and stores `ptr` there.
   * `end <= 0` means no upper limit (INT_MAX inclusive). `ptr` may be null: the id is then
   * reserved (allocated, but find() returns null) until replace() publishes an object.
   * Returns the id, -ENOSPC when the range is full, -ENOMEM on an injected allocation failure
   * (failslab site "idr_alloc"), or -EINVAL (with a warning) for a negative or non-integer start.
   * Locking: the caller holds the IDR's lock (asserted when the IDR names one).
   * References: none taken; the IDR holds whatever the caller says the entry owns.
   */
  alloc(ptr: T | null, start: number, end: number): Promise<number> {
    if (this.labelAlloc === "") this.labelAlloc = this.label("idr_alloc");
    const p = pointNow(this.labelAlloc);
    if (p !== null) return p.then(() => this.allocNow(ptr, start, end));
    try {
      return Promise.resolve(this.allocNow(ptr, start, end));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** alloc() after its point. */
  private allocNow(ptr: T | null, start: number, end: number): number {
    this.assertWriter();
    if (
      this.warnOnceRange(
        !Number.isInteger(start) || start < 0 || !Number.isInteger(end),
        "idr_alloc",
        start,
        end,
      )
    )
      return -EINVAL;
    return this.allocFrom(ptr, start, Idr.maxOf(end));
  }

  /**
   * Models idr_alloc_cyclic(): like alloc(), but the search starts after the id allocated last
   * (idr->idr_next) and wraps around to `start` once when the top of the range is full.
   * Unlike idr_alloc(), the kernel has no WARN_ON_ONCE(start < 0) here: a negative start is
   * used as the kernel's u32/int arithmetic reads it (the search starts at idr_next and, `id >
   * start` comparing as unsigned, never wraps). Returns the id or -ENOSPC / -ENOMEM, or -EINVAL
   * (with a warning) for a non-integer argument, a JavaScript value the C ABI could not carry.
   * Locking: the caller holds the IDR's lock (asserted when the IDR names one).
   * References: none taken.
   */
  async allocCyclic(ptr: T | null, start: number, end: number): Promise<number> {
    await point(this.label("idr_alloc_cyclic"));
    this.assertWriter();
    if (
      this.warnOnceRange(
        !Number.isInteger(start) || !Number.isInteger(end),
        "idr_alloc_cyclic",
        start,
        end,
      )
    )
      return -EINVAL;
    const max = Idr.maxOf(end);
    // u32 id = idr->idr_next; if ((int)id < start) id = start;
    let id = this.next >>> 0;
    if ((id | 0) < start) id = start >>> 0;
    let got = this.allocFrom(ptr, id, max);
    // (err == -ENOSPC) && (id > start): u32 against int compares as unsigned.
    if (got === -ENOSPC && id > start >>> 0) {
      id = start >>> 0;
      got = this.allocFrom(ptr, id, max);
    }
    if (got < 0) return got;
    this.next = got + 1;
    return got;
  }

  /**
   * Models idr_find(): the pointer stored at `id`, or null if the id is not allocated or only
   * reserved (a NULL entry).
   * Locking: RCU-safe: the caller holds rcu_read_lock() or the IDR's lock; when the IDR names a
   * lock and neither is held, an `rcu` splat fires ("suspicious rcu_dereference_check() usage
   * (<lock> not held)", once per task, as RCU_LOCKDEP_WARN() does). Under RCU
   * the result is only valid inside the read-side section: the caller must take a reference
   * that checks liveness (kref_get_unless_zero()) before leaving it.
   * References: none taken.
   */
  find(id: number): Promise<T | null> {
    if (this.labelFind === "") this.labelFind = this.label("idr_find");
    const p = pointNow(this.labelFind);
    if (p !== null) return p.then(() => this.findNow(id));
    try {
      return Promise.resolve(this.findNow(id));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** find() after its point. */
  private findNow(id: number): T | null {
    const lock = this.lock;
    if (lock && !lock.heldByCurrent && !rcuReadLockHeld()) {
      rcuLockdepWarn(true, `${RCU_SPLAT.dereferenceCheck} (${lock.name} not held)`, {
        object: `idr ${this.name}`,
      });
    }
    return this.slots.get(id) ?? null;
  }

  /**
   * Models idr_replace(): stores `ptr` (possibly null) at an allocated id and returns the old
   * pointer (null for a reservation). An id that is not allocated is left alone and
   * errPtr(-ENOENT) is returned, as the kernel's ERR_PTR(-ENOENT).
   * Locking: the caller holds the IDR's lock (asserted when the IDR names one); the new pointer
   * is published at once to RCU readers (rcu_assign_pointer()).
   * References: none; the caller transfers whatever the entry owns.
   */
  replace(ptr: T | null, id: number): Promise<T | null | Errno> {
    if (this.labelReplace === "") this.labelReplace = this.label("idr_replace");
    const p = pointNow(this.labelReplace);
    if (p !== null) return p.then(() => this.replaceNow(ptr, id));
    try {
      return Promise.resolve(this.replaceNow(ptr, id));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** replace() after its point. */
  private replaceNow(ptr: T | null, id: number): T | null | Errno {
    this.assertWriter();
    if (!Number.isInteger(id) || !this.ids.has(id)) return errPtr(ENOENT);
    const old = this.slots.get(id) ?? null;
    this.slots.set(id, ptr);
    return old;
  }

  /**
   * Models idr_remove(): frees `id` (it may be allocated again at once, the lowest free id
   * first) and returns the pointer it held, or null if it held none or was not allocated.
   * Locking: the caller holds the IDR's lock (asserted when the IDR names one). RCU readers may
   * still hold the old pointer: freeing the object needs a grace period or a refcount.
   * References: none dropped; the caller gets back whatever the entry owned.
   */
  remove(id: number): Promise<T | null> {
    if (this.labelRemove === "") this.labelRemove = this.label("idr_remove");
    const p = pointNow(this.labelRemove);
    if (p !== null) return p.then(() => this.removeNow(id));
    try {
      return Promise.resolve(this.removeNow(id));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** remove() after its point. */
  private removeNow(id: number): T | null {
    this.assertWriter();
    if (!Number.isInteger(id) || !this.ids.delete(id)) return null;
    const old = this.slots.get(id) ?? null;
    this.slots.delete(id);
    return old;
  }

  private nextFrom(from: number): IdrEntry<T> | null {
    for (let id = this.ids.nextAllocated(Math.max(from, 0)); id >= 0; ) {
      const ptr = this.slots.get(id);
      if (ptr != null) return { id, ptr };
      id = this.ids.nextAllocated(id + 1);
    }
    return null;
  }

  /**
   * Models idr_get_next(): the first entry with an id >= `id` that holds a pointer (reserved
   * ids are skipped), or null. `idr_for_each_entry()` is a loop over it:
   * `for (let e = await idr.getNext(0); e; e = await idr.getNext(e.id + 1))`.
   * Locking: like find() in the kernel (RCU or the lock), not asserted: teardown paths iterate
   * without either once nobody else can reach the IDR.
   * References: none taken.
   */
  async getNext(id: number): Promise<IdrEntry<T> | null> {
    await point(this.label("idr_get_next"));
    return this.nextFrom(id);
  }

  /**
   * Models idr_for_each(): calls `fn(id, ptr)` for every entry holding a pointer, in id order
   * (reserved ids are skipped); a non-zero return stops the walk and is returned, else 0.
   * `fn` may sleep (drm_gem_release() closes every handle from it). The walk continues from the
   * id after the last one visited, so it stays well defined if `fn` changes the IDR, which the
   * kernel forbids anyway.
   * Locking: the caller serializes against modifications (not asserted).
   * References: none taken.
   */
  forEach(fn: (id: number, ptr: T) => unknown): Promise<number> {
    if (this.labelForEach === "") this.labelForEach = this.label("idr_for_each");
    const p = pointNow(this.labelForEach);
    if (p !== null) return p.then(() => this.forEachFrom(fn));
    // The common case at a file's release (no handle, fence or sync object left): the point
    // kept the running task and there is no entry, so the walk settles at once, without the
    // async frame of forEachFrom() (the same point, in the same place).
    if (this.nextFrom(0) === null) return RESOLVED_ZERO;
    return this.forEachFrom(fn);
  }

  /** forEach() after its point: the walk. */
  private async forEachFrom(fn: (id: number, ptr: T) => unknown): Promise<number> {
    let from = 0;
    for (;;) {
      const e = this.nextFrom(from);
      if (!e) return 0;
      const ret = await fn(e.id, e.ptr);
      if (typeof ret === "number" && ret !== 0) return ret;
      from = e.id + 1;
    }
  }

  /**
   * Models idr_is_empty(): true when no id is allocated (a reserved id counts as allocated).
   * No scheduling point: kernel code uses it in assertions (WARN_ON(!idr_is_empty())).
   */
  isEmpty(): boolean {
    return this.ids.empty;
  }

  /**
   * Models idr_destroy(): frees every id. The pointers are not touched: the caller freed the
   * objects before (idr_for_each() then idr_destroy() is the kernel's teardown sequence).
   * Locking: nobody else may use the IDR during or after it (not asserted).
   * References: none.
   */
  destroy(): Promise<void> {
    const p = pointNow(this.label("idr_destroy"));
    if (p !== null) return p.then(() => this.destroyNow());
    this.destroyNow();
    return RESOLVED;
  }

  /** destroy() after its point. */
  private destroyNow(): void {
    this.ids.clear();
    // Map.clear() makes a new table even for an empty map.
    if (this.slots.size !== 0) this.slots.clear();
  }
}
