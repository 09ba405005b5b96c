/**
 * struct mutex (kernel/locking/mutex.c, include/linux/mutex.h) with CONFIG_DEBUG_MUTEXES and
 * lockdep.
 *
 * A sleeping lock with an owner task. mutex_lock() may sleep, so it is a might_sleep() check
 * even when the mutex is free (a `sleep` splat with a spinlock held); lockdep tracks it by class
 * (cycles, recursion, bad unlock, held at exit or on return to userspace, freed while held); and
 * a mutex embedded in an object (`owner`) checks the object's liveness on lock and unlock, so
 * locking a freed object's mutex is a KASAN use-after-free.
 *
 * Simplifications: no optimistic spinning, no handoff, no wound/wait (ww_mutex); waiters are
 * woken one at a time and the woken task competes with newcomers (the kernel's behaviour without
 * handoff). No signals, hence no mutex_lock_interruptible()/killable() variants.
 */

import { type Owner, point, WaitQueue } from "@primetime/sim";
import { type LockContext, LockdepMap, lockAcquire, lockContext, lockRelease } from "./lockdep.js";
import { type LockOptions, mightSleep } from "./spinlock.js";

/**
 * Models struct mutex. Acquire and release are scheduling points (`mutex_lock(name)`,
 * `mutex_unlock(name)`); a contended lock sleeps on a wait queue whose deadlock report names the
 * holder ("mutex object_name_lock held by t2[3]").
 */
export class Mutex {
  readonly name: string;
  readonly dep: LockdepMap;
  /** The object the mutex is embedded in, if given. */
  readonly owner: Owner | undefined;
  private holderCtx: LockContext | null = null;
  private readonly wq: WaitQueue;

  /** Models mutex_init(): the class is the name's (or `opts.key`'s). */
  constructor(name: string, opts: LockOptions = {}) {
    this.name = name;
    this.owner = opts.owner;
    this.dep = new LockdepMap(name, "mutex", opts.key, opts.owner);
    this.wq = new WaitQueue(`mutex ${name}`, () => {
      const h = this.holderCtx;
      return h ? `${h.name}[${h.id}]` : null;
    });
  }

  /** Models mutex_is_locked(). */
  get locked(): boolean {
    return this.holderCtx !== null;
  }

  /** True if the running task owns the mutex (mutex->owner == current). */
  get heldByCurrent(): boolean {
    return this.holderCtx !== null && this.holderCtx === lockContext();
  }

  /** The owner task (`mutex->owner`), if locked. */
  get holder(): LockContext | null {
    return this.holderCtx;
  }

  /**
   * Models mutex_lock(): might_sleep(), lockdep acquire (before waiting, as the kernel does),
   * then sleep until the mutex is free.
   * Locking: may sleep; must not be called with a spinlock held or in interrupt context.
   */
  lock(): Promise<void> {
    return this.lockNested(0);
  }

  /**
   * Models mutex_lock_nested(): mutex_lock() in nesting subclass `subclass`, for holding two
   * mutexes of the same class in a fixed order (parent then child).
   */
  async lockNested(subclass: number): Promise<void> {
    const op = subclass === 0 ? "mutex_lock" : "mutex_lock_nested";
    const label = subclass === 0 ? `${op}(${this.name})` : `${op}(${this.name}, ${subclass})`;
    await point(label);
    this.owner?.checkAccess?.(op);
    mightSleep(label);
    const ctx = lockContext();
    lockAcquire(this, { subclass });
    while (this.holderCtx !== null) {
      await this.wq.wait(`${label} sleeps`);
      this.owner?.checkAccess?.(op);
    }
    this.holderCtx = ctx;
  }

  /**
   * Models mutex_trylock(): takes the mutex if it is free; never sleeps. Not a scheduling point.
   * Lockdep records it as a trylock (no recursion check, no new dependency).
   */
  tryLock(): boolean {
    this.owner?.checkAccess?.("mutex_trylock");
    if (this.holderCtx !== null) return false;
    const ctx = lockContext();
    lockAcquire(this, { trylock: true });
    this.holderCtx = ctx;
    return true;
  }

  /**
   * Models mutex_unlock(): lockdep release (not held by this task: "bad unlock balance"), then
   * release and wake one waiter. As the kernel does with a mutex owned by another task, it warns
   * and releases it anyway; unlocking a free mutex changes nothing.
   */
  async unlock(): Promise<void> {
    await point(`mutex_unlock(${this.name})`);
    this.owner?.checkAccess?.("mutex_unlock");
    lockRelease(this);
    if (this.holderCtx === null) return;
    this.holderCtx = null;
    this.wq.wakeOne();
  }
}
