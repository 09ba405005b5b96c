/**
 * Lockdep's reports (the print_*_bug() family of kernel/locking/lockdep.c): how lockdep prints a
 * class, a held-lock stack and each kind of splat. The graph, the held stacks and the decision to
 * report live in lockdep.ts; the functions here only format and call `report()`/`warnOn()`.
 * Every report prints in the kernel's wording so a splat reads like dmesg.
 */

import {
  here,
  opLabel,
  type RelatedSite,
  report,
  type Site,
  site,
  type Task,
  warnOn,
} from "@primetime/sim";
import type { Dependency, HeldLock, LockClass, LockContext, LockdepLock } from "./lockdep.js";

// --- formatting ------------------------------------------------------------------------------

export function whoName(c: { name: string; id: number }): string {
  return `${c.name}/${c.id}`;
}

/** "(A){+.+.}-{4:4}": a class as lockdep prints it (usage bits and wait type). */
export function className(cls: LockClass): string {
  return `(${cls.name}){+.+.}-${cls.kind === "mutex" ? "{4:4}" : "{2:2}"}`;
}

export function siteText(s: Site): string {
  return `${s.label} [${s.task}/${s.taskId} step ${s.step}]`;
}

export function heldLine(h: HeldLock, i: number): string {
  return ` #${i}: ${className(h.cls)}, at: ${siteText(h.site)}`;
}

/** Models lockdep_print_held_locks(). */
export function printHeldLocks(who: LockContext, held: readonly HeldLock[]): string {
  if (held.length === 0) return `no locks held by ${whoName(who)}.`;
  const n = held.length;
  const lines = [`${n} lock${n === 1 ? "" : "s"} held by ${whoName(who)}:`];
  held.forEach((h, i) => {
    lines.push(heldLine(h, i));
  });
  return lines.join("\n");
}

export function heldSites(held: readonly HeldLock[]): RelatedSite[] {
  return held.map((h) => site(`holding ${h.cls.name}`, h.site));
}

/** The object a lock belongs to, for the splat's `object`. */
export function objectOf(lock: LockdepLock): string | undefined {
  return lock.dep.owner?.name;
}

// --- reports ---------------------------------------------------------------------------------

/**
 * The lines print_circular_bug_header() and print_deadlock_bug() share: the lock being acquired
 * and the held lock it conflicts with.
 */
export function acquireWhileHoldingLines(
  ctx: LockContext,
  prev: HeldLock,
  next: HeldLock,
): string[] {
  return [
    `${whoName(ctx)} is trying to acquire lock:`,
    ` ${className(next.cls)}, at: ${siteText(next.site)}`,
    "",
    "but task is already holding lock:",
    ` ${className(prev.cls)}, at: ${siteText(prev.site)}`,
    "",
  ];
}

/**
 * Models print_circular_bug(): `path` is the existing chain next -> ... -> prev; the new
 * dependency prev -> next would close it.
 */
export function reportCircular(
  ctx: LockContext,
  held: readonly HeldLock[],
  prev: HeldLock,
  next: HeldLock,
  path: readonly Dependency[],
): void {
  const lines = [
    "WARNING: possible circular locking dependency detected",
    "------------------------------------------------------",
    ...acquireWhileHoldingLines(ctx, prev, next),
    "which lock already depends on the new lock.",
    "",
    "the existing dependency chain (in reverse order) is:",
  ];
  // #k is prev (the last node of the path), #0 is the lock being acquired now.
  for (let i = path.length - 1; i >= 0; i--) {
    const d = path[i]!;
    lines.push("", `-> #${i + 1} ${className(d.to)}:`);
    lines.push(`       ${siteText(d.site)}`);
    lines.push(`       (taken while holding ${className(d.from)}, at: ${siteText(d.fromSite)})`);
  }
  lines.push("", `-> #0 ${className(next.cls)}:`, `       ${siteText(next.site)}`);

  // print_circular_lock_scenario(): source = next, target = prev, parent = the lock before
  // prev in the chain.
  const source = next.cls.name;
  const target = prev.cls.name;
  const parent = path[path.length - 1]!.from.name;
  lines.push("", "other info that might help us debug this:", "");
  if (path[path.length - 1]!.from !== next.cls) {
    lines.push("Chain exists of:", `  ${source} --> ${parent} --> ${target}`, "");
  }
  lines.push(
    " Possible unsafe locking scenario:",
    "",
    "       CPU0                    CPU1",
    "       ----                    ----",
    `  lock(${target});`,
    `                               lock(${parent});`,
    `                               lock(${target});`,
    `  lock(${source});`,
    "",
    " *** DEADLOCK ***",
    "",
    printHeldLocks(ctx, held),
  );

  const sites: RelatedSite[] = path.map((d) =>
    site(`dependency ${d.from.name} -> ${d.to.name} (first taken)`, d.site),
  );
  sites.push(site(`holding ${prev.cls.name}`, prev.site));
  sites.push(site(`new dependency ${prev.cls.name} -> ${next.cls.name}`, next.site));
  report("lockdep", lines.join("\n"), { object: objectOf(next.lock), sites });
}

/** Models print_deadlock_bug(). */
export function reportRecursive(
  ctx: LockContext,
  held: readonly HeldLock[],
  prev: HeldLock,
  next: HeldLock,
): void {
  const same = prev.lock === next.lock;
  const lines = [
    "WARNING: possible recursive locking detected",
    "--------------------------------------------",
    ...acquireWhileHoldingLines(ctx, prev, next),
    "other info that might help us debug this:",
    " Possible unsafe locking scenario:",
    "",
    "       CPU0",
    "       ----",
    `  lock(${prev.cls.name});`,
    `  lock(${next.cls.name});`,
    "",
    " *** DEADLOCK ***",
    "",
    same
      ? ` The same lock instance (${next.lock.name}) is taken twice`
      : " May be due to missing lock nesting notation",
    "",
    printHeldLocks(ctx, held),
  ];
  report("lockdep", lines.join("\n"), {
    object: objectOf(next.lock),
    sites: [site(`holding ${prev.cls.name}`, prev.site), site("acquiring again", next.site)],
  });
}

/**
 * Models print_lock_nested_lock_not_held(): `next` is acquired with a nest lock (a ww_acquire_ctx)
 * that the task does not hold.
 */
export function reportNestLockNotHeld(
  ctx: LockContext,
  held: readonly HeldLock[],
  next: HeldLock,
  nest: LockdepLock,
): void {
  const lines = [
    "WARNING: Nested lock was not taken",
    "----------------------------------",
    `${whoName(ctx)} is trying to lock:`,
    ` ${className(next.cls)}, at: ${siteText(next.site)}`,
    "",
    "but this task is not holding:",
    nest.dep.key.name ?? nest.name,
    "",
    printHeldLocks(ctx, held),
  ];
  report("lockdep", lines.join("\n"), {
    object: objectOf(next.lock),
    sites: [site("acquiring", next.site)],
  });
}

/** Models print_unlock_imbalance_bug(). */
export function reportUnlockImbalance(
  ctx: LockContext,
  held: readonly HeldLock[],
  lock: LockdepLock,
  cls: LockClass,
  op?: string,
): void {
  const at = here(op === undefined ? undefined : opLabel(op, lock.name));
  const h = lock.holder;
  const lines = [
    "WARNING: bad unlock balance detected!",
    "-------------------------------------",
    `${whoName(ctx)} is trying to release lock (${cls.name}) at:`,
    siteText(at),
    "but there are no more locks to release!",
    "",
    "other info that might help us debug this:",
    h ? `the lock is held by ${whoName(h)}` : "the lock is not held by anyone",
    printHeldLocks(ctx, held),
  ];
  report("lockdep", lines.join("\n"), {
    object: objectOf(lock),
    sites: [site("released", at)],
  });
}

/** Models print_held_locks_bug() (debug_check_no_locks_held()): `t` exits holding `held`. */
export function reportLocksHeldAtExit(t: Task, held: readonly HeldLock[]): void {
  const lines = [
    `WARNING: ${whoName(t)} still has locks held!`,
    "------------------------------------",
    printHeldLocks(t, held),
  ];
  report("lockdep", lines.join("\n"), {
    object: objectOf(held[0]!.lock),
    sites: heldSites(held),
  });
}

/** Models lockdep_sys_exit()'s report: `ctx` returns to userspace holding `held`. */
export function reportLockHeldReturnToUser(ctx: LockContext, held: readonly HeldLock[]): void {
  const lines = [
    "WARNING: lock held when returning to user space!",
    "------------------------------------------------",
    `${whoName(ctx)} is leaving the kernel with locks still held!`,
    printHeldLocks(ctx, held),
  ];
  report("lockdep", lines.join("\n"), {
    object: objectOf(held[0]!.lock),
    sites: heldSites(held),
  });
}

/** Models print_freed_lock_bug(): `ctx` frees `what` while holding `h`, a lock in it. */
export function reportHeldLockFreed(
  ctx: LockContext,
  held: readonly HeldLock[],
  h: HeldLock,
  what: string,
  object: string | undefined,
): void {
  const at = here();
  const lines = [
    "WARNING: held lock freed!",
    "-------------------------",
    `${whoName(ctx)} is freeing memory ${what}, with a lock still held there!`,
    ` ${className(h.cls)}, at: ${siteText(h.site)}`,
    printHeldLocks(ctx, held),
  ];
  report("lockdep", lines.join("\n"), {
    object,
    sites: [site(`holding ${h.cls.name}`, h.site), site("freed", at)],
  });
}

/**
 * The WARN of lockdep_assert_held() (`which` "held": the context does not hold the lock),
 * lockdep_assert_held_write() ("held_write": not for writing) or lockdep_assert_not_held()
 * ("not_held": the context holds it).
 */
export function reportAssertFailed(
  ctx: LockContext,
  lock: LockdepLock,
  cls: LockClass,
  which: "held" | "held_write" | "not_held",
): void {
  const what =
    which === "not_held"
      ? `holds ${className(cls)}`
      : which === "held_write"
        ? `does not hold ${className(cls)} for writing`
        : `does not hold ${className(cls)}`;
  const message = `WARNING: lockdep_assert_${which}(${lock.name}) failed: ${whoName(ctx)} ${what}`;
  warnOn(true, message, { object: objectOf(lock), sites: [site("asserted", here())] });
}
