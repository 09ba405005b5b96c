/**
 * What struct mutex and spinlock_t have in common here: a lock with an owner context
 * (mutex->owner; for a spinlock, the holder this model records for reports), a wait queue for
 * the tasks contending for it, the lockdep annotations (mutex_acquire_nest()/spin_acquire(),
 * mutex_release()/spin_release()) and the liveness check of the object the lock is embedded in.
 *
 * Mutex (mutex.ts) and SpinLock (spinlock.ts) are the public classes; each supplies what its
 * kind does around the shared part: mutex_lock()'s might_sleep(), spin_lock()'s
 * preempt_disable() and spin_unlock()'s preempt_enable().
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import { type Owner, opLabel, WaitQueue } from "@primetime/sim";
import { EINTR } from "../include/errno.js";
import { signalPendingState } from "../kernel/signal.js";
import {
  type AcquireOptions,
  type LockClassKey,
  type LockContext,
  type LockdepLock,
  LockdepMap,
  type LockKind,
  lockAcquire,
  lockContext,
  lockRelease,
} from "./lockdep.js";

/** lockAcquire()'s options for subclass 0, the common case: one object for every lock() call. */
const SUBCLASS_0: AcquireOptions = { subclass: 0 };
/** lockAcquire()'s options for a trylock. */
const TRYLOCK: AcquireOptions = { trylock: true };
/** acquireState()'s settled result when the lock is free. */
const RESOLVED_ZERO: Promise<number> = Promise.resolve(0);

/** Options of a lock: the object it is embedded in, and an explicit lock class. */
export interface LockOptions {
  /**
   * The object the lock is embedded in: lock and unlock check its liveness first (KASAN on a
   * freed object's lock), and kfree() of it while the lock is held is a lockdep splat.
   */
  owner?: Owner;
  /** The lock class (default: the class of every lock of this kind with the same name). */
  key?: LockClassKey;
}

/** The kernel names of a kind of lock's operations, for point labels and KASAN reports. */
export interface LockNames {
  readonly lock: string;
  readonly lockNested: string;
  readonly trylock: string;
  readonly unlock: string;
  /** What a contender does, for its wait label ("mutex_lock(m) sleeps"): "sleeps", "spins". */
  readonly waits: string;
}

/**
 * The shared base of Mutex and SpinLock (not a kernel type). Acquire and release are scheduling
 * points labelled with the kernel function and the lock's name (`mutex_lock(dev_lock)`); a
 * contended lock waits on a wait queue whose deadlock report names the holder
 * ("mutex object_name_lock held by t2[3]").
 */
export abstract class OwnedLock implements LockdepLock {
  readonly name: string;
  readonly dep: LockdepMap;
  /** The object the lock is embedded in, if given. */
  readonly owner: Owner | undefined;
  /** The holder (mutex->owner); WwMutex's own paths set it too. */
  protected holderCtx: LockContext | null = null;
  /** Made on first contention: most locks are never contended in a run. */
  private wq: WaitQueue | null = null;
  private readonly kind: LockKind;
  private readonly names: LockNames;
  /**
   * The point label of lock() (opLabel(): one string per operation and lock name for the
   * process), built at the first lock() and kept: it runs on every lock operation, and many
   * locks of a run are never taken (a ww_mutex never takes a plain mutex_lock()).
   */
  private lockLabel = "";

  protected constructor(name: string, kind: LockKind, names: LockNames, opts: LockOptions) {
    this.name = name;
    this.owner = opts.owner;
    this.names = names;
    this.kind = kind;
    this.dep = new LockdepMap(name, kind, opts.key, opts.owner);
  }

  /** Models mutex_is_locked() / spin_is_locked(). */
  get locked(): boolean {
    return this.holderCtx !== null;
  }

  /** True if the running task holds the lock (mutex->owner == current). */
  get heldByCurrent(): boolean {
    return this.holderCtx !== null && this.holderCtx === lockContext();
  }

  /** The task holding the lock (`mutex->owner`), if any. */
  get holder(): LockContext | null {
    return this.holderCtx;
  }

  /** The wait queue contenders wait on (SpinLock marks it as not a sleep). */
  protected get waitQueue(): WaitQueue {
    this.wq ??= new WaitQueue(
      `${this.kind} ${this.name}`,
      () => {
        const h = this.holderCtx;
        return h ? `${h.name}[${h.id}]` : null;
      },
      { spinning: this.kind === "spinlock" },
    );
    return this.wq;
  }

  /**
   * What this kind of lock does before lockdep's acquire, in the running context `ctx`:
   * mutex_lock()'s might_sleep(), spin_lock()'s preempt_disable(). `label` is the lock call's
   * point label, or null for a trylock (which never sleeps).
   */
  protected abstract beforeAcquire(ctx: LockContext, label: string | null): void;

  /**
   * The body of mutex_lock_nested() / spin_lock_nested(): the point, the owner's liveness
   * check, beforeAcquire(), lockdep acquire (before waiting, as the kernel does: a waiter
   * already "holds" the lock for lockdep), then wait until the lock is free and take it. A
   * woken waiter checks the owner's liveness again (the object may have been freed meanwhile).
   */
  protected acquire(subclass: number): Promise<void> {
    let label: string;
    if (subclass !== 0) label = `${this.names.lockNested}(${this.name}, ${subclass})`;
    else {
      if (this.lockLabel === "") this.lockLabel = opLabel(this.names.lock, this.name);
      label = this.lockLabel;
    }
    const p = pointNow(label);
    if (p !== null) return p.then(() => this.acquireNow(subclass, label));
    try {
      return this.acquireNow(subclass, label);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** acquire() after its point: settled at once when the lock is free. */
  private acquireNow(subclass: number, label: string): Promise<void> {
    const op = subclass === 0 ? this.names.lock : this.names.lockNested;
    this.owner?.checkAccess?.(op);
    const ctx = lockContext();
    this.beforeAcquire(ctx, label);
    lockAcquire(this, subclass === 0 ? SUBCLASS_0 : { subclass });
    if (this.holderCtx === null) {
      this.holderCtx = ctx;
      return RESOLVED;
    }
    return this.waitForLock(ctx, op, label);
  }

  /**
   * The body of mutex_lock_interruptible() / mutex_lock_killable() (__mutex_lock(lock, state)):
   * as acquire() with subclass 0, but a contended wait sleeps in `state`, and each round that
   * does not get the lock checks signal_pending_state(state) first: -EINTR, the lockdep acquire
   * released ("err: ... mutex_release()"). 0 once held. `op` names the call in its point label.
   */
  protected acquireState(op: string, state: number): Promise<number> {
    const label = opLabel(op, this.name);
    const p = pointNow(label);
    const now = (): Promise<number> => {
      this.owner?.checkAccess?.(op);
      const ctx = lockContext();
      this.beforeAcquire(ctx, label);
      lockAcquire(this, SUBCLASS_0);
      if (this.holderCtx === null) {
        this.holderCtx = ctx;
        return RESOLVED_ZERO;
      }
      return this.waitForLockState(ctx, op, label, state);
    };
    if (p !== null) return p.then(now);
    try {
      return now();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** acquireState()'s contended wait: the lock, or -EINTR for a signal `state` lets in. */
  private async waitForLockState(
    ctx: LockContext,
    op: string,
    label: string,
    state: number,
  ): Promise<number> {
    while (this.holderCtx !== null) {
      if (signalPendingState(state)) {
        lockRelease(this);
        return -EINTR;
      }
      await this.waitQueue.wait(`${label} ${this.names.waits}`, state);
      this.owner?.checkAccess?.(op);
    }
    this.holderCtx = ctx;
    return 0;
  }

  /** A contended acquire() waits until the lock is free, then takes it. */
  private async waitForLock(ctx: LockContext, op: string, label: string): Promise<void> {
    while (this.holderCtx !== null) {
      await this.waitQueue.wait(`${label} ${this.names.waits}`);
      this.owner?.checkAccess?.(op);
    }
    this.holderCtx = ctx;
  }

  /**
   * The body of mutex_trylock() / spin_trylock(): takes the lock if it is free, never waits. Not
   * a scheduling point. Lockdep records a trylock (no recursion check, no new dependency).
   */
  protected tryAcquire(): boolean {
    this.owner?.checkAccess?.(this.names.trylock);
    if (this.holderCtx !== null) return false;
    const ctx = lockContext();
    this.beforeAcquire(ctx, null);
    lockAcquire(this, TRYLOCK);
    this.holderCtx = ctx;
    return true;
  }

  /**
   * What this kind of lock does after lockdep's release and the wake-up: spin_unlock()'s
   * preempt_enable(). `wasHeld`: lockdep had the lock held by the running context (an
   * unbalanced unlock leaves the preempt count alone).
   */
  protected afterRelease(_wasHeld: boolean): void {}

  /**
   * The body of mutex_unlock() / spin_unlock(): the owner's liveness check, lockdep release (a
   * lock the task does not hold is "bad unlock balance"), then release and wake one waiter, then
   * afterRelease(). As the kernel does, a lock another task holds is released anyway; a free lock
   * stays free. The unlock() methods return this promise as it is (no second async frame per
   * unlock). Not a scheduling point: a release is a left mover (Lipton's reduction): it commutes
   * with every other task's action up to that task's next acquire of this lock, so a preemption
   * just before it reaches no state that the preemption at this task's next point does not (see
   * ARCHITECTURE.md, "Scheduling points").
   */
  protected release(): Promise<void> {
    try {
      this.releaseNow();
      return RESOLVED;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * unlock() (mutex_unlock(), spin_unlock(), ww_mutex_unlock() on a WwMutex) for model code in
   * an async function: the same release, done now, with no promise for the caller to await. The
   * release settles at once (it is no scheduling point), so `await lock.unlock()` only awaited
   * the shared RESOLVED, an allocation at every unlock of a run (the await's reaction). What
   * unlock() would reject with (an oops at the owner's liveness check) is thrown here instead,
   * which rejects the calling async function's promise alike: the schedule is the same.
   * Locking: the caller holds the lock.
   */
  unlockNow(): void {
    this.releaseNow();
  }

  /** release()'s work, settled (WwMutex adds ww_mutex_unlock()'s context bookkeeping). */
  protected releaseNow(): void {
    this.owner?.checkAccess?.(this.names.unlock);
    const wasHeld = lockRelease(this, this.names.unlock);
    if (this.holderCtx !== null) {
      this.holderCtx = null;
      this.wq?.wakeOne();
    }
    this.afterRelease(wasHeld);
  }
}
