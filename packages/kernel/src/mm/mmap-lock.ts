/**
 * mm->mmap_lock (include/linux/mmap_lock.h): the read-write semaphore of an address space.
 * mmap()/munmap() and exit take it for writing; page faults take it for reading, so faults of
 * several threads run concurrently while no mapping changes under them.
 *
 * Lockdep sees it as one sleeping lock class, "mm->mmap_lock": drivers' ->mmap, ->fault and
 * vm_ops->close run under it, so the locks they take are ordered after it, as in the kernel.
 *
 * Killable variants (mmap_read_lock_killable(), mmap_write_lock_killable(): down_*_killable(),
 * TASK_KILLABLE, -EINTR for a fatal signal, the lockdep acquire released) are what v6.18's
 * vm_mmap_pgoff(), __vm_munmap() and the page fault's get_mmap_lock_carefully() take; their point
 * keeps the plain variant's label (`mmap_read_lock`, `mmap_write_lock`): the step is the same
 * acquire, and the traces of every run that never meets a kill stay as they were.
 *
 * Simplifications: no writer preference (a waiting writer does not block new readers), no
 * trylock variants, no per-VMA locks; the read side is not distinguished from the write
 * side for lockdep (both are an exclusive acquire of the class, which reports the same
 * recursion and the same orderings a kernel with lockdep does for a rwsem held for read).
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import { TASK_KILLABLE, WaitQueue } from "@primetime/sim";
import { EINTR } from "../include/errno.js";
import { signalPendingState } from "../kernel/signal.js";
import {
  type LockContext,
  type LockdepLock,
  LockdepMap,
  lockAcquire,
  lockContext,
  lockdepAssertHeld,
  lockdepAssertHeldWrite,
  lockRelease,
} from "../locking/lockdep.js";
import { mightSleep } from "../locking/spinlock.js";

/**
 * The killable acquires' settled result when the lock was free and the running task went on at
 * its point (callers on hot paths compare with it to skip an await).
 */
export const MMAP_LOCK_TAKEN: Promise<number> = Promise.resolve(0);
const RESOLVED_ZERO = MMAP_LOCK_TAKEN;

/** Models struct rw_semaphore mmap_lock. */
export class MmapLock implements LockdepLock {
  readonly name = "mm->mmap_lock";
  readonly dep = new LockdepMap("mm->mmap_lock", "mutex");
  private writer: LockContext | null = null;
  private readonly readers = new Map<LockContext, number>();
  private readonly wq: WaitQueue;

  constructor(owner: string) {
    this.wq = new WaitQueue(`rwsem ${owner}->mmap_lock`, () => {
      const h = this.holder;
      return h ? `${h.name}[${h.id}]` : null;
    });
  }

  /** The writer, or a reader, holding the lock (for reports). */
  get holder(): LockContext | null {
    if (this.writer) return this.writer;
    for (const r of this.readers.keys()) return r;
    return null;
  }

  /** True while a writer holds the lock. */
  get writeLocked(): boolean {
    return this.writer !== null;
  }

  /** True while the running context holds the lock for writing. */
  get writeLockedByCurrent(): boolean {
    return this.writer !== null && this.writer === lockContext();
  }

  /**
   * Models mmap_read_lock(). Locking: may sleep. Settled at once when the running task goes on
   * at its point and no writer holds the lock (pointNow(): no async frame per fault).
   */
  readLock(): Promise<void> {
    const p = pointNow("mmap_read_lock");
    if (p !== null) return p.then(() => this.readLockNow());
    try {
      return this.readLockNow();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** readLock() after its point. */
  private readLockNow(): Promise<void> {
    mightSleep("mmap_read_lock");
    const ctx = lockContext();
    lockAcquire(this);
    if (this.writer !== null) return this.readLockWait(ctx);
    this.readers.set(ctx, (this.readers.get(ctx) ?? 0) + 1);
    return RESOLVED;
  }

  /** A reader that found a writer sleeps until the writer is gone. */
  private async readLockWait(ctx: LockContext): Promise<void> {
    while (this.writer !== null) await this.wq.wait("mmap_read_lock sleeps");
    this.readers.set(ctx, (this.readers.get(ctx) ?? 0) + 1);
  }

  /**
   * Models mmap_read_lock_killable() (down_read_killable()): as readLock(), but a reader that
   * finds a writer sleeps TASK_KILLABLE and gives up with -EINTR when a fatal signal is pending
   * ("rwsem_release(); return -EINTR;"). 0 once held. Locking: may sleep.
   */
  readLockKillable(): Promise<number> {
    const p = pointNow("mmap_read_lock");
    if (p !== null) return p.then(() => this.readLockKillableNow());
    try {
      return this.readLockKillableNow();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** readLockKillable() after its point. */
  private readLockKillableNow(): Promise<number> {
    mightSleep("mmap_read_lock");
    const ctx = lockContext();
    lockAcquire(this);
    if (this.writer !== null) return this.lockKillableWait(ctx, false);
    this.readers.set(ctx, (this.readers.get(ctx) ?? 0) + 1);
    return RESOLVED_ZERO;
  }

  /**
   * Models mmap_write_lock_killable() (down_write_killable()): as writeLock(), sleeping
   * TASK_KILLABLE; -EINTR for a fatal signal (the lockdep acquire released). 0 once held.
   * Locking: may sleep.
   */
  writeLockKillable(): Promise<number> {
    const p = pointNow("mmap_write_lock");
    if (p !== null) return p.then(() => this.writeLockKillableNow());
    try {
      return this.writeLockKillableNow();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** writeLockKillable() after its point. */
  private writeLockKillableNow(): Promise<number> {
    mightSleep("mmap_write_lock");
    const ctx = lockContext();
    lockAcquire(this);
    if (this.writer !== null || this.readers.size > 0) return this.lockKillableWait(ctx, true);
    this.writer = ctx;
    return RESOLVED_ZERO;
  }

  /** The killable variants' wait: the lock (for writing if `write`), or -EINTR. */
  private async lockKillableWait(ctx: LockContext, write: boolean): Promise<number> {
    const label = write ? "mmap_write_lock sleeps" : "mmap_read_lock sleeps";
    while (this.writer !== null || (write && this.readers.size > 0)) {
      if (signalPendingState(TASK_KILLABLE)) {
        lockRelease(this);
        return -EINTR;
      }
      await this.wq.wait(label, TASK_KILLABLE);
    }
    if (write) this.writer = ctx;
    else this.readers.set(ctx, (this.readers.get(ctx) ?? 0) + 1);
    return 0;
  }

  /**
   * Models mmap_read_unlock(). Locking: the caller holds it for reading; wakes every waiter.
   * Not a scheduling point: a release is a left mover (Lipton's reduction): it commutes with every
   * other task's action up to that task's next acquire of this lock, so a preemption just before it
   * reaches no state that the preemption at this task's next point does not (see ARCHITECTURE.md,
   * "Scheduling points").
   */
  readUnlock(): Promise<void> {
    this.readUnlockNow();
    return RESOLVED;
  }

  /** readUnlock()'s work. */
  private readUnlockNow(): void {
    const ctx = lockContext();
    lockRelease(this, "mmap_read_unlock");
    const n = this.readers.get(ctx) ?? 0;
    if (n <= 1) this.readers.delete(ctx);
    else this.readers.set(ctx, n - 1);
    this.wq.wakeAll();
  }

  /** Models mmap_write_lock(). Locking: may sleep. */
  writeLock(): Promise<void> {
    const p = pointNow("mmap_write_lock");
    if (p !== null) return p.then(() => this.writeLockNow());
    try {
      return this.writeLockNow();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** writeLock() after its point. */
  private writeLockNow(): Promise<void> {
    mightSleep("mmap_write_lock");
    const ctx = lockContext();
    lockAcquire(this);
    if (this.writer !== null || this.readers.size > 0) return this.writeLockWait(ctx);
    this.writer = ctx;
    return RESOLVED;
  }

  /** A writer that found the lock held sleeps until it is free. */
  private async writeLockWait(ctx: LockContext): Promise<void> {
    while (this.writer !== null || this.readers.size > 0)
      await this.wq.wait("mmap_write_lock sleeps");
    this.writer = ctx;
  }

  /**
   * Models mmap_write_unlock(). Locking: the caller holds it for writing; wakes every waiter.
   * Not a scheduling point: a release is a left mover (Lipton's reduction): it commutes with every
   * other task's action up to that task's next acquire of this lock, so a preemption just before it
   * reaches no state that the preemption at this task's next point does not (see ARCHITECTURE.md,
   * "Scheduling points").
   */
  writeUnlock(): Promise<void> {
    this.writeUnlockNow();
    return RESOLVED;
  }

  /** mmapWriteDowngrade()'s work: the writer becomes a reader; readers are woken. */
  downgradeNow(): void {
    const ctx = this.writer;
    if (ctx === null) return;
    this.writer = null;
    this.readers.set(ctx, (this.readers.get(ctx) ?? 0) + 1);
    this.wq.wakeAll();
  }

  /** writeUnlock()'s work. */
  private writeUnlockNow(): void {
    lockRelease(this, "mmap_write_unlock");
    this.writer = null;
    this.wq.wakeAll();
  }
}

/**
 * Models mmap_read_unlock(mm): releases the running task's read hold of `mm`'s mmap_lock (a
 * fault handler that returns VM_FAULT_RETRY drops it this way). Not a scheduling point (a
 * release, ARCHITECTURE.md "Scheduling points").
 * Locking: mmap_lock held for reading by the running task; released.
 */
export function mmapReadUnlock(mm: { readonly mmapLock: MmapLock }): Promise<void> {
  // up_read()'s lock_release(): releasing a lock the task does not hold is a lockdep report.
  mmapAssertLocked(mm);
  return mm.mmapLock.readUnlock();
}

/**
 * Models mmap_write_downgrade() (downgrade_write()): the running task's write hold becomes a
 * read hold, and waiting readers may take the lock (a waiting writer still waits). Not a
 * scheduling point, for the reason a release is not one: it only lets other tasks do more, at
 * their own points (ARCHITECTURE.md, "Scheduling points"). Lockdep keeps the held lock, as
 * lock_downgrade() does.
 * Locking: mmap_lock held for writing by the running task.
 */
export function mmapWriteDowngrade(mm: { readonly mmapLock: MmapLock }): void {
  mmapAssertWriteLocked(mm);
  mm.mmapLock.downgradeNow();
}

/**
 * Models mmap_assert_locked(): lockdep_assert_held(&mm->mmap_lock), a `warn` splat unless the
 * running task holds the mmap_lock (for reading or writing).
 * Locking: the caller's claim is what is checked.
 */
export function mmapAssertLocked(mm: { readonly mmapLock: MmapLock }): void {
  lockdepAssertHeld(mm.mmapLock);
}

/**
 * Models mmap_assert_write_locked(): lockdep_assert_held_write(&mm->mmap_lock), a `warn` splat
 * unless the running task holds the mmap_lock for writing.
 * Locking: the caller's claim is what is checked.
 */
export function mmapAssertWriteLocked(mm: { readonly mmapLock: MmapLock }): void {
  lockdepAssertHeldWrite(mm.mmapLock, mm.mmapLock.writeLockedByCurrent);
}
