/**
 * spinlock_t (include/linux/spinlock.h, kernel/locking/spinlock.c) and the might_sleep() checker
 * (kernel/sched/core.c: __might_sleep(), __might_resched()).
 *
 * A spinlock holder runs atomically: preemption is off and it must not sleep. This model keeps
 * the kernel's preempt count per task (raised by spin_lock() before it spins, as
 * preempt_disable() does) and checks every sleep against it: a task that blocks on anything but
 * a spinlock while holding one, or that blocks in interrupt context (an `irq` task), gets a
 * `sleep` splat "BUG: sleeping function called from invalid context", as do explicit
 * mightSleep() calls (mutex_lock() makes one even when the mutex is free).
 *
 * Simplifications: the spin is modeled as sleeping on a wait queue, never as a busy loop (a
 * spinning task would livelock PCT and waste steps); waking is the unlock. No IRQ flavours
 * (spin_lock_irqsave() and spin_lock_bh() are spin_lock()), no raw_spinlock_t, no ticket
 * fairness. The sleep check reports once per atomic section of a task.
 */

import { rcuSleepCheck } from "@primetime/rcu";
import {
  currentTask,
  here,
  onBlock,
  report,
  site,
  type Task,
  type WaitQueue,
} from "@primetime/sim";
import {
  type ContextState,
  contextState,
  formatHeldLocks,
  heldLockSites,
  type LockContext,
  lockContext,
} from "./lockdep.js";
import { type LockNames, type LockOptions, OwnedLock } from "./owned-lock.js";

export type { LockOptions } from "./owned-lock.js";

/** Models in_atomic(): the running task holds a spinlock (or runs in interrupt context). */
export function inAtomic(): boolean {
  const t = currentTask();
  return contextState().preempt > 0 || t?.kind === "irq";
}

/** Models preempt_count(): the number of spinlocks the running task holds or spins on. */
export function preemptCount(): number {
  return contextState().preempt;
}

/**
 * Models might_sleep(): a `sleep` splat when the running task is atomic (holds a spinlock or is
 * an interrupt handler). Call it where the kernel function may sleep even if this run does not
 * (mutex_lock(), GFP_KERNEL allocations, flush_work()...).
 * Locking: must not be called with a spinlock held; that is what it checks.
 */
export function mightSleep(where: string): void {
  const t = currentTask();
  const ctx = lockContext();
  checkSleep(ctx, contextState(ctx), t?.kind === "irq", where);
  // might_sleep() also runs RCU's check: a sleeping call inside a read-side section is a bug
  // even when it happens not to sleep this time.
  rcuSleepCheck(where);
}

function checkSleep(ctx: LockContext, st: ContextState, irq: boolean, where: string): void {
  if (st.preempt === 0 && !irq) return;
  if (st.sleepReported) return;
  st.sleepReported = true;
  const lines = [
    `BUG: sleeping function called from invalid context at ${where}`,
    `in_atomic(): 1, irqs_disabled(): ${irq ? 1 : 0}, non_block: 0, pid: ${ctx.id}, name: ${ctx.name}`,
    `preempt_count: ${st.preempt}, expected: 0`,
    formatHeldLocks(ctx),
  ];
  report("sleep", lines.join("\n"), {
    sites: [...heldLockSites(ctx), site("sleeps", here(where))],
  });
}

/** The scheduler calls this before any task sleeps: sleeping while atomic is a splat. */
onBlock((task: Task, wq: WaitQueue, label: string) => {
  if (wq.spinning) return;
  checkSleep(task, contextState(task), task.kind === "irq", label);
});

function preemptDisable(st: ContextState): void {
  st.preempt++;
}

function preemptEnable(st: ContextState): void {
  if (st.preempt > 0) st.preempt--;
  if (st.preempt === 0) st.sleepReported = false;
}

const SPIN_NAMES: LockNames = {
  lock: "spin_lock",
  lockNested: "spin_lock_nested",
  trylock: "spin_trylock",
  unlock: "spin_unlock",
  waits: "spins",
};

/**
 * Models spinlock_t. Acquire is a scheduling point (`spin_lock(name)`); release is not (a left
 * mover: ARCHITECTURE.md, "Scheduling points"); a contended lock "spins" by sleeping on a wait queue whose deadlock
 * report names the holder. The holder is atomic: sleeping before spin_unlock() is a `sleep`
 * splat. Lockdep tracks it like a mutex (its class prints with wait type `{2:2}`). `locked`,
 * `heldByCurrent` and `holder` (spin_is_locked(), the holder) come from OwnedLock.
 */
export class SpinLock extends OwnedLock {
  /** Models spin_lock_init(): the class is the name's (or `opts.key`'s). */
  constructor(name: string, opts: LockOptions = {}) {
    super(name, "spinlock", SPIN_NAMES, opts);
  }

  /** spin_lock()'s and spin_trylock()'s preempt_disable(), before lockdep's acquire. */
  protected beforeAcquire(ctx: LockContext, _label: string | null): void {
    preemptDisable(contextState(ctx));
  }

  /**
   * Models spin_lock(): preempt_disable(), lockdep acquire, then spin (sleep on the lock's wait
   * queue, which is not a sleep for might_sleep) until the lock is free.
   * Locking: the caller becomes atomic until spin_unlock().
   */
  lock(): Promise<void> {
    return this.acquire(0);
  }

  /**
   * Models spin_lock_nested(): spin_lock() in nesting subclass `subclass`, so that lockdep
   * accepts holding two locks of the same class (a parent and a child of the same type).
   * Locking: as spin_lock().
   */
  lockNested(subclass: number): Promise<void> {
    return this.acquire(subclass);
  }

  /**
   * Models spin_trylock(): takes the lock if it is free, never spins. Not a scheduling point.
   * Locking: on success the caller is atomic until spin_unlock().
   */
  tryLock(): boolean {
    return this.tryAcquire();
  }

  /**
   * Models spin_unlock(): lockdep release (a lock the task does not hold is "bad unlock
   * balance"), release, wake a spinner, preempt_enable() (only if lockdep had it held: an
   * unbalanced unlock leaves the preempt count alone). As in the kernel, unlocking a lock
   * another task holds releases it anyway.
   * Locking: the caller holds the lock.
   */
  unlock(): Promise<void> {
    return this.release();
  }

  /** spin_unlock()'s preempt_enable(), if lockdep had the lock held by this context. */
  protected override afterRelease(wasHeld: boolean): void {
    if (wasHeld) preemptEnable(contextState());
  }
}
