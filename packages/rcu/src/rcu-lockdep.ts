/**
 * RCU lockdep (CONFIG_PROVE_RCU): the checks that make RCU misuse an `rcu` splat in the
 * simulated dmesg instead of a silent use-after-free.
 *
 * - rcu_dereference() outside a read-side section, without the update-side protection the caller
 *   names ("suspicious rcu_dereference_check() usage");
 * - rcu_dereference_protected() without that protection;
 * - an RCU list traversed outside a reader ("RCU-list traversed in non-reader section!");
 * - blocking inside a read-side section (rcu_sleep_check() in might_sleep(): "Illegal context
 *   switch in RCU read-side critical section"); scheduling points are preemption and stay legal;
 * - synchronize_rcu() inside a read-side section (it would wait for itself);
 * - a task exiting inside a read-side section (lockdep's "still has locks held!", the
 *   rcu_read_lock lock map being a held lock), and rcu_read_unlock() without rcu_read_lock();
 * - sleeping in an RCU callback, which runs in softirq context (a `sleep` splat, might_sleep()'s
 *   "BUG: sleeping function called from invalid context").
 *
 * Each splat fires once per (message, object, task) in a run, the way RCU_LOCKDEP_WARN()'s
 * static `__warned` keeps a call site from flooding dmesg; a blocking splat fires once per
 * read-side section. Outside a simulation every occurrence is reported (to `outsideDmesg`).
 */

import {
  activeSimulation,
  currentTask,
  onBlock,
  type ReportOptions,
  report,
  type SplatKind,
  site,
} from "@primetime/sim";
import {
  onRcuTaskExit,
  peekRcuState,
  type ReaderState,
  rcuState,
  readerOf,
  readerOfTask,
} from "./rcu-state.js";

/** The messages of RCU lockdep's splats, as the kernel prints them. */
export const RCU_SPLAT = {
  /** rcu_dereference*() outside a read-side section and without the named protection. */
  dereferenceCheck: "suspicious rcu_dereference_check() usage",
  /** rcu_dereference_protected() without the protection it names. */
  dereferenceProtected: "suspicious rcu_dereference_protected() usage",
  /** list_for_each_entry_rcu() outside a reader and without the named protection. */
  listTraversal: "RCU-list traversed in non-reader section!",
  /** A task blocks (sleeps on a wait queue) inside a read-side section. */
  sleepInReader: "Illegal context switch in RCU read-side critical section",
  /** synchronize_rcu() inside a read-side section. */
  synchronizeInReader: "Illegal synchronize_rcu() in RCU read-side critical section",
  /** A task exits inside a read-side section (rcu_read_lock is a held lockdep map). */
  exitInReader: "still has locks held! #0: rcu_read_lock",
  /** rcu_read_unlock() with no rcu_read_lock() to match it. */
  unbalancedUnlock:
    "bad unlock balance detected! rcu_read_unlock() but there are no more locks to release",
  /** An RCU callback sleeps: callbacks run in softirq context (kind `sleep`). */
  sleepInCallback: "BUG: sleeping function called from invalid context (RCU callback, softirq)",
} as const;

/**
 * The protection an rcu_dereference_check() caller claims instead of (or besides) the read lock:
 * true when it holds (the update-side lock is held, the object is not yet published...);
 * otherwise false, or a string naming the missing protection ("dev->object_name_lock"), which
 * the splat prints. Idiom: `() => lock.heldByCurrent || "object_name_lock"`.
 */
export type LockdepCondition = () => boolean | string;

/**
 * Models rcu_read_lock_held(): true inside a read-side critical section of the current task.
 * For callers' assertions (`rcuLockdepWarn(!rcuReadLockHeld(), ...)`, idr lookups).
 * Locking: none; reads the current task's own state, so no scheduling point.
 * References: none.
 */
export function rcuReadLockHeld(): boolean {
  return readerOf().nesting > 0;
}

/**
 * Reports an RCU lockdep splat once per `key` in a simulation (every time outside one).
 * Returns true if it was reported.
 */
export function rcuSplat(
  message: string,
  opts: ReportOptions = {},
  key = `${message}\0${opts.object ?? ""}\0${currentTask()?.id ?? 0}`,
  kind: SplatKind = "rcu",
): boolean {
  const sim = activeSimulation();
  if (sim !== null) {
    const st = rcuState(sim);
    if (st.warned.has(key)) return false;
    st.warned.add(key);
  }
  report(kind, message, opts);
  return true;
}

/**
 * Models RCU_LOCKDEP_WARN(c, s): reports `message` as an `rcu` splat when `cond` holds (once per
 * message, object and task). Returns `cond`.
 * Locking: none.
 * References: none.
 */
export function rcuLockdepWarn(cond: boolean, message: string, opts?: ReportOptions): boolean {
  if (cond) rcuSplat(message, opts);
  return cond;
}

/** Where the current section began, as a related site. */
function sectionSites(reader: ReaderState) {
  return reader.since ? [site("rcu_read_lock", reader.since)] : [];
}

function withMissing(message: string, c: boolean | string | undefined): string {
  return typeof c === "string" ? `${message} (${c} not held)` : message;
}

/**
 * The check of rcu_dereference_check(p, c): `c || rcu_read_lock_held()`; reports
 * "suspicious rcu_dereference_check() usage" naming the pointer otherwise.
 */
export function rcuDereferenceCheck(pointer: string, cond?: LockdepCondition): void {
  const c = cond?.();
  if (c === true || rcuReadLockHeld()) return;
  rcuSplat(withMissing(RCU_SPLAT.dereferenceCheck, c), { object: pointer });
}

/**
 * The check of rcu_dereference_protected(p, c): `c` alone, the read lock does not count.
 */
export function rcuDereferenceProtectedCheck(pointer: string, cond: LockdepCondition): void {
  const c = cond();
  if (c === true) return;
  rcuSplat(withMissing(RCU_SPLAT.dereferenceProtected, c), { object: pointer });
}

/**
 * Models __list_check_rcu() of list_for_each_entry_rcu(head, member, cond):
 * `cond || rcu_read_lock_any_held()`.
 */
export function rcuListCheck(list: string, cond?: LockdepCondition): void {
  const c = cond?.();
  if (c === true || rcuReadLockHeld()) return;
  rcuSplat(withMissing(RCU_SPLAT.listTraversal, c), { object: list });
}

/**
 * Models rcu_sleep_check(), called by might_sleep(): a function that may sleep was called inside
 * a read-side section. Reported once per section. Blocking itself is checked by the scheduler
 * hook below; call this where the kernel has a might_sleep() that may not block in the model
 * (a might_sleep() implementation above this package should call it, as ___might_sleep() does).
 * Locking: none.
 * References: none.
 */
export function rcuSleepCheck(what: string): void {
  const r = readerOf();
  if (r.nesting === 0) return;
  reportSleep(r, what);
}

function reportSleep(r: ReaderState, what: string): void {
  const key = `${RCU_SPLAT.sleepInReader}\0${currentTask()?.id ?? 0}\0${r.since?.step ?? 0}`;
  rcuSplat(RCU_SPLAT.sleepInReader, { object: what, sites: sectionSites(r) }, key);
}

/**
 * The check at the top of synchronize_rcu(): RCU_LOCKDEP_WARN(lock_is_held(&rcu_lock_map), ...).
 */
export function rcuSynchronizeCheck(): void {
  const r = readerOf();
  if (r.nesting === 0) return;
  rcuSplat(RCU_SPLAT.synchronizeInReader, { object: "synchronize_rcu", sites: sectionSites(r) });
}

/** rcu_read_unlock() without a matching rcu_read_lock(). */
export function rcuUnbalancedUnlock(): void {
  rcuSplat(RCU_SPLAT.unbalancedUnlock, { object: "rcu_read_lock" });
}

// A task about to block: inside a read-side section it is an illegal context switch; inside an
// RCU callback (softirq context) it is sleeping in atomic context.
onBlock((task, wq) => {
  // A contended spinlock spins on its CPU: allowed inside a read-side section.
  if (wq.spinning) return;
  const r = readerOfTask(task);
  if (r !== undefined && r.nesting > 0) reportSleep(r, wq.name);
  const st = peekRcuState(task.sim);
  if (st !== undefined && st.invoking !== null && st.kthread === task) {
    rcuSplat(
      RCU_SPLAT.sleepInCallback,
      { object: st.invoking.name },
      `${RCU_SPLAT.sleepInCallback}\0${st.invoking.name}`,
      "sleep",
    );
  }
});

// A task exits inside a read-side section: lockdep's debug_check_no_locks_held() in do_exit().
onRcuTaskExit((task, r) => {
  rcuSplat(`${RCU_SPLAT.exitInReader} (nesting ${r.nesting})`, {
    object: `${task.name}/${task.id}`,
    sites: sectionSites(r),
  });
});
