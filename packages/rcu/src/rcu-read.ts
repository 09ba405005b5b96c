/**
 * The RCU read side: rcu_read_lock() / rcu_read_unlock() with per-task nesting, as PREEMPT_RCU
 * keeps it in `current->rcu_read_lock_nesting`.
 *
 * A read-side critical section may be preempted (scheduling points inside it let other tasks
 * run, and a grace period that began before it still waits for it) but must not block: a task
 * that sleeps inside one is an `rcu` splat (see rcu-lockdep.ts). Only the outermost lock and
 * unlock matter to grace periods.
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import { activeSimulation, here } from "@primetime/sim";
import { drainOutside } from "./grace-period.js";
import { rcuUnbalancedUnlock } from "./rcu-lockdep.js";
import { rcuState, readerEnter, readerOf, readerQuiescent } from "./rcu-state.js";

/**
 * Models rcu_read_lock() (__rcu_read_lock() + rcu_lock_acquire(&rcu_lock_map)): enters a
 * read-side critical section, or nests in the current one. Objects found through
 * rcuDereference() stay allocated until the matching outermost rcuReadUnlock(), provided their
 * updaters free them after a grace period (synchronizeRcu(), callRcu()).
 * Locking: must not block until the matching unlock; scheduling points are fine.
 * References: none taken; take one (krefGetUnlessZero) to keep an object past the section.
 */
export function rcuReadLock(): Promise<void> {
  const p = pointNow("rcu_read_lock");
  if (p !== null) return p.then(rcuReadLockNow);
  try {
    rcuReadLockNow();
    return RESOLVED;
  } catch (e) {
    return Promise.reject(e);
  }
}

/** rcu_read_lock() after its point. */
function rcuReadLockNow(): void {
  const st = rcuState();
  const r = readerOf(st);
  if (r.nesting++ === 0) readerEnter(st, r, here("rcu_read_lock"));
}

/**
 * Models rcu_read_unlock(): leaves the current (nested) section. The outermost unlock is a
 * quiescent state: a grace period waiting for this task may end. Outside a simulation it also
 * runs the callbacks queued inside the section (their grace period has now elapsed).
 * Without a matching rcu_read_lock() it is an `rcu` splat ("bad unlock balance detected!") and
 * changes nothing.
 * Locking: none.
 * References: objects dereferenced in the section may be freed as soon as it returns.
 * Not a scheduling point: leaving a read-side section is a left mover (Lipton's reduction): it
 * commutes with every other task's action (it only lets a grace period end, which no task can see
 * before its own next point), so a preemption just before it reaches no state that the
 * preemption at this task's next point does not (see ARCHITECTURE.md, "Scheduling points").
 */
export function rcuReadUnlock(): Promise<void> {
  try {
    return rcuReadUnlockNow();
  } catch (e) {
    return Promise.reject(e);
  }
}

/** rcu_read_unlock()'s work. */
function rcuReadUnlockNow(): Promise<void> {
  const st = rcuState();
  const r = readerOf(st);
  if (r.nesting === 0) {
    rcuUnbalancedUnlock();
    return RESOLVED;
  }
  if (--r.nesting > 0) return RESOLVED;
  readerQuiescent(st, r);
  return activeSimulation() === null ? drainOutside(st) : RESOLVED;
}

/**
 * Models rcu_preempt_depth(): the current task's read-side nesting (0 outside a section).
 * Locking: none; the task's own state, no scheduling point.
 * References: none.
 */
export function rcuPreemptDepth(): number {
  return readerOf().nesting;
}

/**
 * Models scoped_guard(rcu) { ... }: runs `fn` inside a read-side section. Like the kernel's
 * cleanup-based guard, an oops (a thrown KernelBug) leaves the section held: the task's exit
 * then reports it.
 * Locking: `fn` must not block.
 * References: none; what `fn` returns must not be used past the section unless it took a
 * reference.
 */
export async function scopedGuardRcu<R>(fn: () => Promise<R> | R): Promise<R> {
  const rcuReadLockDone = rcuReadLock();
  if (rcuReadLockDone !== RESOLVED) await rcuReadLockDone;
  const result = await fn();
  const rcuReadUnlockDone = rcuReadUnlock();
  if (rcuReadUnlockDone !== RESOLVED) await rcuReadUnlockDone;
  return result;
}
