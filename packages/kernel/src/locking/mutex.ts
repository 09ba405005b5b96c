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

import { TASK_INTERRUPTIBLE, TASK_KILLABLE } from "@primetime/sim";
import type { LockContext } from "./lockdep.js";
import { type LockNames, type LockOptions, OwnedLock } from "./owned-lock.js";
import { mightSleep } from "./spinlock.js";

const MUTEX_NAMES: LockNames = {
  lock: "mutex_lock",
  lockNested: "mutex_lock_nested",
  trylock: "mutex_trylock",
  unlock: "mutex_unlock",
  waits: "sleeps",
};

/**
 * Models struct mutex. Acquire is a scheduling point (`mutex_lock(name)`); release is not (a
 * left mover: ARCHITECTURE.md, "Scheduling points"); a contended lock sleeps on a wait queue whose deadlock report names the
 * holder ("mutex object_name_lock held by t2[3]"). `locked`, `heldByCurrent` and `holder`
 * (mutex_is_locked(), mutex->owner) come from OwnedLock.
 */
export class Mutex extends OwnedLock {
  /** Models mutex_init(): the class is the name's (or `opts.key`'s). */
  constructor(name: string, opts: LockOptions = {}) {
    super(name, "mutex", MUTEX_NAMES, opts);
  }

  /** mutex_lock()'s might_sleep(), before lockdep's acquire; a trylock never sleeps. */
  protected beforeAcquire(_ctx: LockContext, label: string | null): void {
    if (label !== null) mightSleep(label);
  }

  /**
   * Models mutex_lock(): might_sleep(), lockdep acquire (before waiting, as the kernel does),
   * then sleep until the mutex is free.
   * Locking: may sleep; must not be called with a spinlock held or in interrupt context.
   */
  lock(): Promise<void> {
    return this.acquire(0);
  }

  /**
   * Models mutex_lock_interruptible() (__mutex_lock(lock, TASK_INTERRUPTIBLE, ...)): as lock(),
   * but a contended wait sleeps TASK_INTERRUPTIBLE and returns -EINTR when a signal is pending
   * at a round that does not get the mutex (after the trylock, as __mutex_lock_common()'s
   * signal_pending_state() check): the mutex is not taken, lockdep's acquire is released. 0
   * once held.
   * Locking: as mutex_lock().
   */
  lockInterruptible(): Promise<number> {
    return this.acquireState("mutex_lock_interruptible", TASK_INTERRUPTIBLE);
  }

  /**
   * Models mutex_lock_killable(): as lockInterruptible() in TASK_KILLABLE (only a fatal signal
   * interrupts; the only kind modeled). 0 or -EINTR.
   * Locking: as mutex_lock().
   */
  lockKillable(): Promise<number> {
    return this.acquireState("mutex_lock_killable", TASK_KILLABLE);
  }

  /**
   * Models mutex_lock_nested(): mutex_lock() in nesting subclass `subclass`, for holding two
   * mutexes of the same class in a fixed order (parent then child).
   * Locking: as mutex_lock().
   */
  lockNested(subclass: number): Promise<void> {
    return this.acquire(subclass);
  }

  /**
   * Models mutex_trylock(): takes the mutex if it is free; never sleeps. Not a scheduling point.
   * Lockdep records it as a trylock (no recursion check, no new dependency).
   * Locking: any context that may hold a mutex.
   */
  tryLock(): boolean {
    return this.tryAcquire();
  }

  /**
   * Models mutex_unlock(): lockdep release (not held by this task: "bad unlock balance"), then
   * release and wake one waiter. As the kernel does with a mutex owned by another task, it warns
   * and releases it anyway; unlocking a free mutex changes nothing.
   * Locking: the caller holds the mutex.
   */
  unlock(): Promise<void> {
    return this.release();
  }
}
