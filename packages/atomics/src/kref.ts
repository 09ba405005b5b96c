/**
 * struct kref, kernel-facing (include/linux/kref.h, Documentation/core-api/kref.rst).
 *
 * A Kref belongs to an object (its Owner) and does two things a bare RefcountT cannot:
 * - each operation is a scheduling point, so the simulation can run another task between any two
 *   reference operations, which is where every kref race of the kernel's history lives;
 * - each operation first checks that the owner is still allocated, so a kref_get() on a freed
 *   object is a KASAN use-after-free, and a refcount warning names the object it concerns.
 */

import { type Owner, opLabel, point, report } from "@primetime/sim";
import { pointNow, RESOLVED } from "./point-now.js";
import { type Lockable, type RefcountSaturationType, RefcountT } from "./refcount.js";

/** kref_put()'s result when the reference was not the last, as a settled promise. */
const RESOLVED_0: Promise<0> = Promise.resolve(0);
/** kref_put()'s result after a release that did not sleep (returned no promise). */
const RESOLVED_1: Promise<1> = Promise.resolve(1);
/** kref_get_unless_zero()'s results, settled. */
const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);
const RESOLVED_FALSE: Promise<boolean> = Promise.resolve(false);
const one = (): 1 => 1;
const discard = (): void => {};

/**
 * The release function of kref_put(): frees the object. It may sleep: a returned promise is
 * awaited (any other return value is ignored). For
 * putMutex()/putLock() it is called with the lock held and must unlock it.
 */
export type KrefRelease = (kref: Kref) => unknown;

/**
 * Models struct kref.
 *
 * A new Kref reads 0, like the kzalloc()ed memory it lives in: call init() before publishing
 * the object. Forgetting it makes the first kref_get() an "addition on 0; use-after-free".
 *
 * Faithfulness: data-level semantics are RefcountT's (the kernel's refcount_t). One scheduling
 * point precedes each atomic operation; the owner's liveness is checked after the point, when
 * the operation actually touches the object's memory.
 */
export class Kref {
  /** The object this kref is embedded in. */
  readonly owner: Owner;
  /** The counter itself (`kref->refcount`). Synchronous, no scheduling point: for inspection. */
  readonly refcount: RefcountT;

  constructor(owner: Owner | string) {
    this.owner = typeof owner === "string" ? { name: owner } : owner;
    // The kref receives its counter's warnings itself (onWarn below): no options object and
    // closure per kref.
    this.refcount = new RefcountT(0, this);
  }

  /**
   * @internal The counter's warnings (RefcountOptions.onWarn, called on this kref): a `refcount`
   * splat naming the owner. The owner's name is read when the splat fires: an object may name
   * itself after it constructed its kref.
   */
  onWarn(_type: RefcountSaturationType, message: string): void {
    report("refcount", message, { object: this.owner.name });
  }

  private access(op: string): void {
    this.owner.checkAccess?.(op);
  }

  /** The owner's name the get/put labels below were built for. */
  private labelledName: string | undefined = undefined;
  private getLabel = "";
  private putLabel = "";

  private label(op: string): string {
    return opLabel(op, this.owner.name);
  }

  /** Brings the kref_get/kref_put labels up to date with the owner's name (it may change). */
  private labels(): void {
    const name = this.owner.name;
    if (name === this.labelledName) return;
    this.labelledName = name;
    this.getLabel = opLabel("kref_get", name);
    this.putLabel = opLabel("kref_put", name);
  }

  /**
   * Models kref_init(): the count is 1, the creator's reference.
   * Locking: none and no scheduling point: the object is not yet visible to anyone else.
   * References: creates the first one, owned by the caller.
   */
  init(): void {
    this.access("kref_init");
    this.refcount.set(1);
  }

  /**
   * Models kref_read(). The kernel's unsigned int: a saturated count reads 0xC000_0000.
   * Locking: none and no scheduling point: kernel code reads a kref for debugging output and
   * assertions, and the value may be stale at once anyway; a caller that races on the value
   * has its race window at its own next point.
   * References: none.
   */
  read(): number {
    this.access("kref_read");
    return this.refcount.read();
  }

  /**
   * Models kref_get() (refcount_inc()).
   * Locking: none needed when the caller already holds a reference (kref.rst rule 1); without
   * one, the caller must serialize against the last kref_put() (rule 3), or use
   * getUnlessZero().
   * References: takes one. On a count of 0 it reports "refcount_t: addition on 0;
   * use-after-free." and saturates: the object is never freed again.
   */
  get(): Promise<void> {
    this.labels();
    const p = pointNow(this.getLabel);
    if (p !== null) return p.then(() => this.getNow());
    try {
      this.getNow();
      return RESOLVED;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** kref_get() after its point. */
  private getNow(): void {
    this.access("kref_get");
    this.refcount.inc();
  }

  /**
   * Models kref_put() (refcount_dec_and_test()): drops a reference and calls `release` (awaited)
   * when it was the last. Returns 1 after release, 0 otherwise; 0 does not mean the object is
   * still alive, another task may have released it by the time this returns.
   * Locking: none needed if nothing gets a reference without already holding one; otherwise the
   * lookup's lock must cover the put (kref.rst), or use putMutex()/putLock()/getUnlessZero().
   * References: drops one; the caller must not touch the object afterwards.
   */
  put(release: KrefRelease): Promise<0 | 1> {
    this.labels();
    const p = pointNow(this.putLabel);
    if (p !== null) return p.then(() => this.putNow(release));
    try {
      return this.putNow(release);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** kref_put() after its point. */
  private putNow(release: KrefRelease): Promise<0 | 1> {
    this.access("kref_put");
    return this.refcount.decAndTest() ? this.released(release) : RESOLVED_0;
  }

  /**
   * The last put: `release` runs (a returned promise or thenable is awaited), then kref_put()
   * returns 1. A release that returns nothing gives a settled promise (no async frame).
   */
  private released(release: KrefRelease): Promise<1> {
    const r = release(this);
    return r === undefined ? RESOLVED_1 : Promise.resolve(r).then(one);
  }

  /**
   * kref_put() for a caller that drops its result (a void wrapper such as drm_gem_object_put()
   * or dma_fence_put()): RESOLVED when the running task went on at the point and the reference
   * was not the last, so the caller can skip its await.
   */
  putVoid(release: KrefRelease): Promise<void> {
    const r = this.put(release);
    return r === RESOLVED_0 ? RESOLVED : r.then(discard);
  }

  /**
   * Models kref_put_mutex() (refcount_dec_and_mutex_lock()): like put(), but the last put takes
   * `mutex` first and calls `release` with it held; release must unlock it. Only the 1 -> 0
   * transition takes the mutex (refcount_dec_not_one() fast path), and the count is re-checked
   * under it, so a lookup that takes a reference under the same mutex cannot find an object
   * whose release has begun.
   * Locking: takes `mutex` on the last put; held on entry to `release`, which drops it. When the
   * re-check finds another reference, unlocks and returns 0.
   * References: drops one.
   */
  async putMutex(release: KrefRelease, mutex: Lockable): Promise<0 | 1> {
    return this.putLocked("kref_put_mutex", release, mutex);
  }

  /**
   * Models kref_put_lock() (refcount_dec_and_lock()): putMutex() with a spinlock.
   * Locking: takes `lock` on the last put; held on entry to `release`, which drops it.
   * References: drops one.
   */
  async putLock(release: KrefRelease, lock: Lockable): Promise<0 | 1> {
    return this.putLocked("kref_put_lock", release, lock);
  }

  private async putLocked(op: string, release: KrefRelease, lock: Lockable): Promise<0 | 1> {
    await point(this.label(op));
    this.access(op);
    if (this.refcount.decNotOne()) return 0;
    await lock.lock();
    // Another CPU can take a reference between the lock acquisition and the re-check.
    await point(this.label("refcount_dec_and_test"));
    this.access(op);
    if (!this.refcount.decAndTest()) {
      await lock.unlock();
      return 0;
    }
    await release(this);
    return 1;
  }

  /**
   * Models kref_get_unless_zero() (refcount_inc_not_zero()): takes a reference unless the count
   * already dropped to 0, i.e. the object is being released. __must_check: false means the
   * caller got nothing and must act as if the object was not found.
   * Locking: the caller keeps the object's memory valid during the call: the lock of the lookup
   * structure that the release function removes the object from, or rcu_read_lock() with an
   * RCU-delayed free.
   * References: takes one when it returns true.
   */
  getUnlessZero(): Promise<boolean> {
    const p = pointNow(this.label("kref_get_unless_zero"));
    if (p !== null) return p.then(() => this.getUnlessZeroNow());
    try {
      return this.getUnlessZeroNow() ? RESOLVED_TRUE : RESOLVED_FALSE;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** kref_get_unless_zero() after its point. */
  private getUnlessZeroNow(): boolean {
    this.access("kref_get_unless_zero");
    return this.refcount.incNotZero();
  }
}
