/**
 * Wound/wait mutexes (kernel/locking/ww_mutex.h, kernel/locking/mutex.c, include/linux/ww_mutex.h,
 * Documentation/locking/ww-mutex-design.rst), with CONFIG_DEBUG_WW_MUTEXES and lockdep.
 *
 * A w/w class (struct ww_class) is a family of mutexes that may be taken in any order, as long as
 * every task that holds several of them took them under one acquire context (struct
 * ww_acquire_ctx, the "ticket"). A context gets a stamp from the class when it is initialised;
 * contention between two contexts is resolved by age:
 * - wait-die (DEFINE_WD_CLASS, reservation_ww_class is one): an older context waits for a
 *   younger holder; a younger context that already holds a lock of the class "dies": its
 *   ww_mutex_lock() returns -EDEADLK, it must unlock everything it holds, take the contended lock
 *   with ww_mutex_lock_slow() (which waits) and start over. A waiter queued behind an older
 *   context dies too, and a new holder wakes the younger waiters so they can die.
 * - wound-wait (DEFINE_WW_CLASS): an older context "wounds" a younger holder, which backs off
 *   with -EDEADLK at its next contended lock; a younger context waits.
 * A context that holds nothing never dies (it simply waits), which is what guarantees progress.
 * Locking the same mutex twice under one context returns -EALREADY. ww_mutex_lock(lock, NULL)
 * takes a single mutex like mutex_lock().
 *
 * Lockdep: ww_acquire_init() acquires the context's own map (class "<class>_acquire") and, since
 * Linux v6.13, a map of the mutex class nested in it (first_lock_dep_map), so every dependency
 * acquire -> mutex is known from the start. A mutex taken under a context names the context as
 * its nest lock: two mutexes of the class under one context are not "recursive locking". A
 * mutex of the class taken *without* a context while a context of the class is held is: lockdep
 * reports "possible recursive locking detected" (the kernel says mixing the two can deadlock
 * undetected, and CONFIG_PROVE_LOCKING catches it).
 *
 * Simplifications: no RT priorities in the age order (__ww_ctx_less() on stamps only), no
 * optimistic spinning and no handoff (a woken waiter competes with newcomers), no
 * CONFIG_DEBUG_WW_MUTEX_SLOWPATH deadlock injection. Signals: the _interruptible variants sleep
 * TASK_INTERRUPTIBLE and return -EINTR when a fatal signal (kernel/signal.ts) is pending at a
 * round of the wait loop that does not get the mutex (__mutex_lock_common()'s
 * signal_pending_state() check, after the trylock and before __ww_mutex_check_kill()). A wounded holder is woken only if it is waiting on a ww_mutex (the kernel wakes it
 * wherever it sleeps; elsewhere it notices the wound at its next contended ww_mutex_lock()).
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import {
  opLabel,
  SimLocal,
  TASK_INTERRUPTIBLE,
  TASK_UNINTERRUPTIBLE,
  WaitQueue,
  warnOn,
} from "@primetime/sim";
import { EALREADY, EDEADLK, EINTR } from "../include/errno.js";
import { signalPendingState } from "../kernel/signal.js";
import {
  LockClassKey,
  type LockContext,
  type LockdepLock,
  LockdepMap,
  lockAcquire,
  lockContext,
  lockdepAssertHeld,
  lockIsHeld,
  lockRelease,
} from "./lockdep.js";
import { Mutex } from "./mutex.js";
import type { LockOptions } from "./owned-lock.js";

/** wwLock()'s settled results: the mutex taken at once, or already held by the context. */
const RESOLVED_0: Promise<number> = Promise.resolve(0);
const RESOLVED_EALREADY: Promise<number> = Promise.resolve(-EALREADY);
const discard = (): void => {};

/**
 * Models struct ww_class: the lock classes of the mutexes and of the acquire contexts, the stamp
 * counter and the algorithm (wait-die or wound-wait).
 */
export class WwClass {
  /** Models mutex_key / mutex_name: the lockdep class of every mutex of the w/w class. */
  readonly mutexKey: LockClassKey;
  /** Models acquire_key / acquire_name: the lockdep class of the acquire contexts. */
  readonly acquireKey: LockClassKey;

  constructor(
    readonly name: string,
    /** Models is_wait_die. */
    readonly isWaitDie: boolean,
  ) {
    this.mutexKey = new LockClassKey(`${name}_mutex`);
    this.acquireKey = new LockClassKey(`${name}_acquire`);
  }
}

/** Models DEFINE_WD_CLASS(): a wait-die class. */
export function defineWdClass(name: string): WwClass {
  return new WwClass(name, true);
}

/** Models DEFINE_WW_CLASS(): a wound-wait class. */
export function defineWwClass(name: string): WwClass {
  return new WwClass(name, false);
}

/** Models ww_class->stamp: per simulation, so stamps replay identically. */
const STAMPS = new SimLocal<Map<WwClass, number>>(() => new Map());

/** The lockdep map of an acquire context (dep_map, first_lock_dep_map). */
class CtxDepLock implements LockdepLock {
  readonly dep: LockdepMap;
  constructor(
    readonly name: string,
    key: LockClassKey,
    private readonly ctx: WwAcquireCtx,
  ) {
    this.dep = new LockdepMap(name, "mutex", key);
  }
  get holder(): LockContext | null {
    return this.ctx.task;
  }
}

/** One task waiting for a WwMutex (struct mutex_waiter with its ww_ctx). */
interface WwWaiter {
  readonly task: LockContext;
  readonly ctx: WwAcquireCtx | null;
  readonly wq: WaitQueue;
}

/**
 * Models struct ww_acquire_ctx. Create one per acquire sequence (the kernel keeps it on the
 * stack) and initialise it with wwAcquireInit().
 *
 * Locking: used only by the task that initialised it.
 * References: none.
 */
export class WwAcquireCtx {
  /** Models task: the task that initialised the context (null before ww_acquire_init()). */
  task: LockContext | null = null;
  /** Models stamp: lower is older. */
  stamp = 0;
  /** Models acquired: how many mutexes the context holds. */
  acquired = 0;
  /** Models wounded (wound-wait only). */
  wounded = false;
  /** Models is_wait_die. */
  isWaitDie = true;
  /** Models ww_class (DEBUG_WW_MUTEXES). */
  wwClass: WwClass | null = null;
  /** Models done_acquire (DEBUG_WW_MUTEXES). */
  doneAcquire = false;
  /** Models contending_lock (DEBUG_WW_MUTEXES): the mutex this context died on. */
  contendingLock: WwMutex | null = null;
  /** Models dep_map: the context as a lock for lockdep ("<class>_acquire"). */
  depMap: LockdepLock | null = null;
  /** Models first_lock_dep_map: a map of the mutex class, nested in the context. */
  firstLockDepMap: LockdepLock | null = null;
  /** The ww_mutex waiter this context is sleeping in, if any (to wake it when wounded). */
  waiting: { readonly wq: WaitQueue } | null = null;
}

/**
 * Models __ww_ctx_less(a, b): `a` is younger than `b` (a later stamp), so `a` is the one to
 * wait (wound-wait) or die (wait-die).
 */
function wwCtxLess(a: WwAcquireCtx, b: WwAcquireCtx): boolean {
  return a.stamp > b.stamp;
}

function debugLocksWarnOn(cond: boolean, what: string): boolean {
  return warnOn(cond, `DEBUG_LOCKS_WARN_ON(${what})`);
}

/**
 * Models ww_acquire_init(): a fresh stamp from the class, nothing acquired; lockdep acquires the
 * context's map and the first-lock map of the mutex class nested in it.
 * Locking: none needed; the context counts as held (lockdep) until ww_acquire_fini().
 * References: none.
 */
export function wwAcquireInit(ctx: WwAcquireCtx, wwClass: WwClass): void {
  const stamps = STAMPS.get();
  const stamp = (stamps.get(wwClass) ?? 0) + 1;
  stamps.set(wwClass, stamp);
  ctx.task = lockContext();
  ctx.stamp = stamp;
  ctx.acquired = 0;
  ctx.wounded = false;
  ctx.isWaitDie = wwClass.isWaitDie;
  ctx.wwClass = wwClass;
  ctx.doneAcquire = false;
  ctx.contendingLock = null;
  ctx.waiting = null;
  ctx.depMap = new CtxDepLock(`${wwClass.name}_acquire`, wwClass.acquireKey, ctx);
  ctx.firstLockDepMap = new CtxDepLock(`${wwClass.name}_mutex`, wwClass.mutexKey, ctx);
  lockAcquire(ctx.depMap, { label: "ww_acquire_init" });
  lockAcquire(ctx.firstLockDepMap, { nestLock: ctx.depMap, label: "ww_acquire_init" });
}

/**
 * Models ww_acquire_done(): the end of the acquire phase; a later ww_mutex_lock() under the
 * context is a DEBUG_LOCKS_WARN_ON.
 * Locking: the context is held (lockdep_assert_held(ctx)).
 * References: none.
 */
export function wwAcquireDone(ctx: WwAcquireCtx): void {
  if (ctx.depMap) lockdepAssertHeld(ctx.depMap);
  debugLocksWarnOn(ctx.doneAcquire, "ctx->done_acquire");
  ctx.doneAcquire = true;
}

/**
 * Models ww_acquire_fini(): releases the context's lockdep maps; every mutex must have been
 * unlocked before (DEBUG_LOCKS_WARN_ON(ctx->acquired)).
 * Locking: the context is held.
 * References: none.
 */
export function wwAcquireFini(ctx: WwAcquireCtx): void {
  if (ctx.firstLockDepMap) lockRelease(ctx.firstLockDepMap);
  if (ctx.depMap) lockRelease(ctx.depMap);
  debugLocksWarnOn(ctx.acquired !== 0, "ctx->acquired");
}

/**
 * Models struct ww_mutex: a mutex (`base`: here the WwMutex is its own base) plus the context
 * holding it (`ctx`). Plain Mutex calls on it (lock(), lockNested(), tryLock(), unlock()) are
 * ww_mutex_lock(lock, NULL), mutex_lock_nested() on its base, ww_mutex_trylock(lock, NULL) and
 * ww_mutex_unlock().
 *
 * Locking: the ww_mutex itself.
 * References: none.
 */
export class WwMutex extends Mutex {
  /** Models ctx: the acquire context holding the mutex, if it was locked with one. */
  ctx: WwAcquireCtx | null = null;
  /** The waiters in the kernel's wait_list order (contexts in stamp order). */
  private readonly waiters: WwWaiter[] = [];
  /** @internal The label of ww_mutex_lock() points on it, built on first use (wwLockLabel()). */
  labelLock = "";
  /** @internal The same for ww_mutex_lock_interruptible(). */
  labelLockInterruptible = "";

  /**
   * Models ww_mutex_init(): a mutex of `wwClass`'s mutex lock class.
   * @param opts.owner the object the mutex is embedded in (liveness checks)
   */
  constructor(
    name: string,
    readonly wwClass: WwClass,
    opts: Omit<LockOptions, "key"> = {},
  ) {
    super(name, { owner: opts.owner, key: wwClass.mutexKey });
  }

  /** mutex_lock()/mutex_lock_nested() on the ww_mutex: ww_mutex_lock(lock, NULL). */
  protected override acquire(subclass: number): Promise<void> {
    const op = subclass === 0 ? "ww_mutex_lock" : "mutex_lock_nested";
    const label = subclass === 0 ? wwLockLabel(this) : `${op}(${this.name}, ${subclass})`;
    const r = this.wwLock(null, subclass, op, label);
    return r === RESOLVED_0 ? RESOLVED : r.then(discard);
  }

  /**
   * ww_mutex_unlock(), settled at once. Not a scheduling point: a release is a left mover
   * (Lipton's reduction): it commutes with every other task's action up to that task's next
   * acquire of this lock, so a preemption just before it reaches no state that the preemption at
   * this task's next point does not (see ARCHITECTURE.md, "Scheduling points").
   */
  protected override release(): Promise<void> {
    // __ww_mutex_unlock(), then mutex_unlock() of the base.
    this.wwForgetCtx();
    try {
      this.wwReleaseNow();
      return RESOLVED;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** release() done now (unlockNow()): the same steps, a throw thrown. */
  protected override releaseNow(): void {
    this.wwForgetCtx();
    this.wwReleaseNow();
  }

  /** __ww_mutex_unlock(): the holding context forgets the mutex (ctx->acquired--). */
  private wwForgetCtx(): void {
    const c = this.ctx;
    if (c) {
      debugLocksWarnOn(c.acquired === 0, "!lock->ctx->acquired");
      if (c.acquired > 0) c.acquired--;
      this.ctx = null;
    }
  }

  /** release()'s work. */
  private wwReleaseNow(): void {
    this.owner?.checkAccess?.("ww_mutex_unlock");
    const wasHeld = lockRelease(this, "ww_mutex_unlock");
    if (this.holderCtx !== null) {
      this.holderCtx = null;
      this.waiters[0]?.wq.wakeOne();
    }
    this.afterRelease(wasHeld);
  }

  /**
   * The body of __ww_mutex_lock() / __mutex_lock_common() with a w/w context: -EALREADY for a
   * mutex the context holds; lockdep acquire nested in the context; take the mutex if free, else
   * queue (wait-die may die right there), then loop: take it if free, die if the age rules say
   * so (-EDEADLK), stop for a signal if `state` allows (-EINTR), sleep in `state`.
   * @internal
   */
  wwLock(
    ctx: WwAcquireCtx | null,
    subclass: number,
    op: string,
    label: string,
    state: number = TASK_UNINTERRUPTIBLE,
  ): Promise<number> {
    const p = pointNow(label);
    if (p !== null) return p.then(() => this.wwLockNow(ctx, subclass, op, label, state));
    try {
      return this.wwLockNow(ctx, subclass, op, label, state);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** wwLock() after its point: settled at once unless the mutex is held. */
  private wwLockNow(
    ctx: WwAcquireCtx | null,
    subclass: number,
    op: string,
    label: string,
    state: number,
  ): Promise<number> {
    this.owner?.checkAccess?.(op);
    // ww_mutex_lock() and __mutex_lock_common() call might_sleep() first: a lock that returns
    // -EALREADY at once is still a sleeping call.
    const me = lockContext();
    this.beforeAcquire(me, label);
    if (ctx) {
      if (ctx === this.ctx) return RESOLVED_EALREADY;
      if (ctx.acquired === 0) ctx.wounded = false;
    }
    lockAcquire(this, { subclass, nestLock: ctx?.depMap ?? undefined });
    if (this.holderCtx === null) {
      this.holderCtx = me;
      if (ctx) this.setContextFastpath(ctx);
      return RESOLVED_0;
    }
    return this.wwLockWait(ctx, me, op, label, state);
  }

  /**
   * wwLock() on a held mutex: queue (wait-die may die right there), then loop: take it if free,
   * -EINTR if signal_pending_state(state) ("goto err": the waiter is removed and lockdep's
   * acquire released), die if the age rules say so, sleep in `state`.
   */
  private async wwLockWait(
    ctx: WwAcquireCtx | null,
    me: LockContext,
    op: string,
    label: string,
    state: number,
  ): Promise<number> {
    const waiter: WwWaiter = {
      task: me,
      ctx,
      wq: new WaitQueue(`ww_mutex ${this.name}`, () => {
        const h = this.holderCtx;
        return h ? `${h.name}[${h.id}]` : null;
      }),
    };
    const early = this.addWaiter(waiter);
    if (early) {
      lockRelease(this);
      return early;
    }
    for (;;) {
      if (this.holderCtx === null) break;
      // "Check for signals and kill conditions while holding wait_lock."
      if (signalPendingState(state)) {
        this.removeWaiter(waiter);
        lockRelease(this);
        return -EINTR;
      }
      if (ctx) {
        const ret = this.checkKill(waiter, ctx);
        if (ret) {
          this.removeWaiter(waiter);
          lockRelease(this);
          return ret;
        }
        ctx.waiting = waiter;
      }
      await waiter.wq.wait(`${label} sleeps`, state);
      if (ctx) ctx.waiting = null;
      this.owner?.checkAccess?.(op);
    }
    this.removeWaiter(waiter);
    this.holderCtx = me;
    if (ctx) {
      // Wound-wait: we stole the lock (not the first waiter): anyone might want to wound us.
      if (!ctx.isWaitDie) this.checkWaiters(ctx);
      this.lockAcquired(ctx);
    }
    return 0;
  }

  /**
   * ww_mutex_trylock() with a context: takes the mutex if it is free (never -EALREADY: a mutex
   * the context holds is simply not free). Not a scheduling point.
   * @internal
   */
  wwTrylock(ctx: WwAcquireCtx): boolean {
    this.owner?.checkAccess?.("ww_mutex_trylock");
    if (ctx.acquired === 0) ctx.wounded = false;
    if (this.holderCtx !== null) return false;
    const me = lockContext();
    this.beforeAcquire(me, null);
    this.holderCtx = me;
    this.setContextFastpath(ctx);
    lockAcquire(this, { trylock: true, nestLock: ctx.depMap ?? undefined });
    return true;
  }

  /** Models ww_mutex_lock_acquired(): the DEBUG_WW_MUTEXES checks, then ctx->acquired++. */
  private lockAcquired(ctx: WwAcquireCtx): void {
    debugLocksWarnOn(this.ctx !== null, "ww->ctx");
    debugLocksWarnOn(ctx.doneAcquire, "ww_ctx->done_acquire");
    if (ctx.contendingLock) {
      // After -EDEADLK you tried to acquire a different ww_mutex? Bad!
      debugLocksWarnOn(ctx.contendingLock !== this, "ww_ctx->contending_lock != ww");
      // You called ww_mutex_lock after receiving -EDEADLK, but 'forgot' to unlock everything
      // else first?
      debugLocksWarnOn(ctx.acquired > 0, "ww_ctx->acquired > 0");
      ctx.contendingLock = null;
    }
    debugLocksWarnOn(ctx.wwClass !== this.wwClass, "ww_ctx->ww_class != ww->ww_class");
    ctx.acquired++;
    this.ctx = ctx;
  }

  /**
   * Models ww_mutex_set_context_fastpath(): acquired under `ctx` without waiting; with waiters,
   * __ww_mutex_check_waiters() lets a younger waiter die (wait-die) or wound us (wound-wait).
   */
  private setContextFastpath(ctx: WwAcquireCtx): void {
    this.lockAcquired(ctx);
    if (this.waiters.length > 0) this.checkWaiters(ctx);
  }

  /** Models __ww_mutex_check_waiters(): the first waiter with a context decides. */
  private checkWaiters(ctx: WwAcquireCtx): void {
    for (const cur of this.waiters) {
      if (!cur.ctx) continue;
      if (this.die(cur, ctx) || this.wound(cur.ctx, ctx)) break;
    }
  }

  /**
   * Models __ww_mutex_die(): wait-die: wake `waiter` if it is younger than `ctx` and holds
   * something, so it dies. True for a wait-die class (the caller stops there).
   */
  private die(waiter: WwWaiter, ctx: WwAcquireCtx): boolean {
    if (!ctx.isWaitDie) return false;
    if (waiter.ctx!.acquired > 0 && wwCtxLess(waiter.ctx!, ctx)) waiter.wq.wakeOne();
    return true;
  }

  /**
   * Models __ww_mutex_wound(): wound-wait: an older `ctx` wounds the younger `holdCtx`, which
   * must back off; woken if it sleeps on a ww_mutex. True if wounded.
   */
  private wound(ctx: WwAcquireCtx, holdCtx: WwAcquireCtx | null): boolean {
    if (ctx.isWaitDie || !holdCtx || this.holderCtx === null) return false;
    if (ctx.acquired > 0 && wwCtxLess(holdCtx, ctx)) {
      holdCtx.wounded = true;
      if (holdCtx.task !== lockContext()) holdCtx.waiting?.wq.wakeOne();
      return true;
    }
    return false;
  }

  /** Models __ww_mutex_kill(): -EDEADLK if the context holds something, recording the lock. */
  private kill(ctx: WwAcquireCtx): number {
    if (ctx.acquired > 0) {
      debugLocksWarnOn(ctx.contendingLock !== null, "ww_ctx->contending_lock");
      ctx.contendingLock = this;
      return -EDEADLK;
    }
    return 0;
  }

  /**
   * Models __ww_mutex_add_waiter(): a waiter without a context goes to the tail; one with a
   * context goes before the first younger context (skipping context-less waiters), dying first
   * under wait-die if an older context already waits, and waking younger waiters so they die;
   * under wound-wait it wounds the holder. Returns 0 or -EDEADLK (not queued).
   */
  private addWaiter(waiter: WwWaiter): number {
    const ctx = waiter.ctx;
    if (!ctx) {
      this.waiters.push(waiter);
      return 0;
    }
    let pos: number | null = null;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const cur = this.waiters[i]!;
      if (!cur.ctx) continue;
      if (wwCtxLess(ctx, cur.ctx)) {
        // Wait-Die: an older context waits: no point queueing behind it.
        if (ctx.isWaitDie) {
          const ret = this.kill(ctx);
          if (ret) return ret;
        }
        break;
      }
      pos = i;
      // Wait-Die: ensure younger waiters die.
      this.die(cur, ctx);
    }
    if (pos === null) this.waiters.push(waiter);
    else this.waiters.splice(pos, 0, waiter);
    if (!ctx.isWaitDie) this.wound(ctx, this.ctx);
    return 0;
  }

  private removeWaiter(waiter: WwWaiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  /**
   * Models __ww_mutex_check_kill(): a context holding nothing never dies; wound-wait dies when
   * wounded; wait-die dies when the holder is older, or an older context waits in front.
   */
  private checkKill(waiter: WwWaiter, ctx: WwAcquireCtx): number {
    if (ctx.acquired === 0) return 0;
    if (!ctx.isWaitDie) return ctx.wounded ? this.kill(ctx) : 0;
    const holdCtx = this.ctx;
    if (holdCtx && wwCtxLess(ctx, holdCtx)) return this.kill(ctx);
    const i = this.waiters.indexOf(waiter);
    for (let j = i - 1; j >= 0; j--) {
      if (this.waiters[j]!.ctx) return this.kill(ctx);
    }
    return 0;
  }
}

/**
 * Models ww_mutex_lock(): with `ctx`, takes `lock` under the acquire context: 0, -EALREADY if the
 * context already holds it, or -EDEADLK when the context must back off (wait-die: it is younger
 * than the holder or an older waiter, and holds another mutex of the class). With a NULL context,
 * mutex_lock() of a single mutex (always 0).
 * Locking: may sleep; with `ctx`, the context must be held (lockdep nest lock).
 * References: none.
 */
export function wwMutexLock(lock: WwMutex, ctx: WwAcquireCtx | null): Promise<number> {
  return lock.wwLock(ctx, 0, "ww_mutex_lock", wwLockLabel(lock));
}

/**
 * `ww_mutex_lock(<lock>)`: opLabel()'s string, kept on the mutex after its first use (a property
 * load instead of two Map lookups at every lock).
 */
function wwLockLabel(lock: WwMutex): string {
  if (lock.labelLock === "") lock.labelLock = opLabel("ww_mutex_lock", lock.name);
  return lock.labelLock;
}

/**
 * Models ww_mutex_lock_interruptible(): as wwMutexLock(), sleeping TASK_INTERRUPTIBLE: -EINTR
 * when a signal is pending while the mutex is contended (the lock is not taken, nothing is
 * recorded in the context).
 * Locking: as wwMutexLock().
 * References: none.
 */
export function wwMutexLockInterruptible(lock: WwMutex, ctx: WwAcquireCtx | null): Promise<number> {
  if (lock.labelLockInterruptible === "")
    lock.labelLockInterruptible = opLabel("ww_mutex_lock_interruptible", lock.name);
  return lock.wwLock(
    ctx,
    0,
    "ww_mutex_lock_interruptible",
    lock.labelLockInterruptible,
    TASK_INTERRUPTIBLE,
  );
}

/**
 * Models ww_mutex_lock_slow(): after -EDEADLK and unlocking everything, waits for the contended
 * mutex (a context holding nothing never dies). Warns if the context did not die.
 * Locking: may sleep; the context holds no mutex of the class.
 * References: none.
 */
export async function wwMutexLockSlow(lock: WwMutex, ctx: WwAcquireCtx): Promise<void> {
  debugLocksWarnOn(ctx.contendingLock === null, "!ctx->contending_lock");
  await lock.wwLock(ctx, 0, "ww_mutex_lock_slow", opLabel("ww_mutex_lock_slow", lock.name));
}

/**
 * Models ww_mutex_lock_slow_interruptible(): as wwMutexLockSlow() (ww_mutex_lock_interruptible()
 * of a context holding nothing, which never dies), returning 0, or -EINTR for a signal.
 * Locking: as wwMutexLockSlow().
 * References: none.
 */
export function wwMutexLockSlowInterruptible(lock: WwMutex, ctx: WwAcquireCtx): Promise<number> {
  debugLocksWarnOn(ctx.contendingLock === null, "!ctx->contending_lock");
  return lock.wwLock(
    ctx,
    0,
    "ww_mutex_lock_slow_interruptible",
    opLabel("ww_mutex_lock_slow_interruptible", lock.name),
    TASK_INTERRUPTIBLE,
  );
}

/**
 * Models ww_mutex_trylock(): takes the mutex if it is free, under `ctx` if given. Never sleeps;
 * not a scheduling point.
 * Locking: on success the caller holds the mutex.
 * References: none.
 */
export function wwMutexTrylock(lock: WwMutex, ctx: WwAcquireCtx | null): boolean {
  if (!ctx) return lock.tryLock();
  return lock.wwTrylock(ctx);
}

/**
 * Models ww_mutex_unlock(): forgets the holding context (ctx->acquired--), then unlocks and wakes
 * the first waiter.
 * Locking: releases the mutex (one the task does not hold is lockdep's "bad unlock balance").
 * References: none.
 */
export function wwMutexUnlock(lock: WwMutex): Promise<void> {
  return lock.unlock();
}

/**
 * Models ww_mutex_is_locked().
 * Locking: none (a snapshot).
 * References: none.
 */
export function wwMutexIsLocked(lock: WwMutex): boolean {
  return lock.locked;
}

/**
 * Whether the running task holds `lock` (lockdep's view; for dma_resv_held()).
 * Locking: none.
 */
export function wwMutexHeld(lock: WwMutex): boolean {
  return lockIsHeld(lock);
}
