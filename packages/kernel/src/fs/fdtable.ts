/**
 * File descriptor tables (fs/file.c, include/linux/fdtable.h): per-process arrays of file
 * pointers, each installed fd holding one file reference.
 *
 * A FilesStruct is a process's `files_struct`: a spinlock (`file_lock`), the current fdtable
 * (64 embedded slots, grown by allocating a larger table: an allocation that can fail), the
 * open-fd and close-on-exec bitmaps and `next_fd`, the lowest fd that may be free. fds are
 * allocated lowest-first below RLIMIT_NOFILE (-EMFILE beyond), reserved by allocFd() and filled
 * by fdInstall() later, so a reserved fd is invisible to lookups until it is installed.
 *
 * The functions that drivers call work on the current task's table (`current->files`), as in
 * the kernel: getUnusedFdFlags(), fdInstall(), putUnusedFd(), fget(), closeFd(), receiveFd().
 * A task that is not a process thread has no table: they fail (-EBADF, or null for fget()).
 *
 * Lookups (fget()) are the kernel's lockless walk (Linux v6.7+, __fget_files_rcu()): under
 * rcu_read_lock(), load the table and the slot, take a reference only if the file's count is not
 * zero (file_ref_get()), then re-check that the slot and the table still hold that file, else
 * drop the reference and look again. Files are SLAB_TYPESAFE_BY_RCU since v6.7 ("file: convert
 * to SLAB_TYPESAFE_BY_RCU"): a slot's file may be closed, torn down and freed between the load
 * and the get, and its memory is still a file: the same one with a count that reads zero, or a
 * new file that reused the memory (file.ts: fileAt(), fileRefGetRcu()). The re-check dates from
 * 054aa8d439b9 "fget: check that the fd still exists after getting a ref to it" (v5.16,
 * CVE-2021-4083); the hypothetical toggle `fs.fget-no-recheck` removes it.
 *
 * Faithfulness: fd_install(), close_fd() and the allocation paths take `file_lock` (the kernel's
 * fd_install() publishes under rcu_read_lock_sched() unless a resize is in progress; here it
 * always takes the lock, which orders it against expansion the same way). Growing a table that
 * other threads share waits for a grace period first (expand_fdtable()'s synchronize_rcu()),
 * then publishes the new one and frees the old one with kfree_rcu(), so a lockless lookup still
 * reading the old table stays safe. The kernel's VFS_BUG_ON()s (alloc_fd(), fd_install()) are
 * BUG_ON()s: CONFIG_DEBUG_VFS is on, as the other debug options this model has.
 */

import { Atomic, pointNow, RESOLVED } from "@primetime/atomics";
import { rcuReadLock, rcuReadUnlock, synchronizeRcu } from "@primetime/rcu";
import {
  bug,
  currentTask,
  defineToggle,
  opLabel,
  point,
  type Task,
  TaskLocal,
  toggleEnabled,
  WaitQueue,
  warnOn,
} from "@primetime/sim";
import { EBADF, EBUSY, EINVAL, EMFILE, ENOMEM, isErr } from "../include/errno.js";
import { lockdepAssertHeld } from "../locking/lockdep.js";
import { SpinLock } from "../locking/spinlock.js";
import { KmemCache, kfree, kfreeRcu, kmalloc, SlabObject } from "../mm/slab.js";
import {
  type File,
  FMODE_PATH,
  fileAt,
  fileCount,
  fileRefGetNow,
  fileRefGetRcu,
  fileRefGetRcuPoint,
  fput,
  getFile,
  O_CLOEXEC,
} from "./file.js";

/** The hypothetical toggle: see fgetFilesRcu(). */
export const FGET_NO_RECHECK = defineToggle({
  name: "fs.fget-no-recheck",
  description:
    "__fget_files_rcu() without the re-check that the fd table still holds the file it took a reference on: v5.15's lookup (retry only when the count was zero) " +
    "on v6.7+ files, which are SLAB_TYPESAFE_BY_RCU. A file closed and freed between the slot load and file_ref_get(), whose memory a new open reuses at once, " +
    "is returned: the syscall runs on a file that was never installed at that fd (here another process's). No kernel had both: the re-check came with " +
    '054aa8d439b9 "fget: check that the fd still exists after getting a ref to it" (v5.16, CVE-2021-4083), before files became SLAB_TYPESAFE_BY_RCU (v6.7). ' +
    "Up to v5.15 files were freed after a grace period, so the unchecked lookup could not return a recycled file; its consequence there was unix socket " +
    "garbage collection seeing a closed file re-attached to an fd, which this model does not have.",
  fixedBy:
    'none: the re-check (054aa8d439b9 "fget: check that the fd still exists after getting a ref to it", v5.16) predates SLAB_TYPESAFE_BY_RCU files (v6.7)',
  kind: "hypothetical",
  kernels: "v6.7+ fs/file.c __fget_files_rcu(), with the re-check of v5.16 removed",
  foundBy:
    "packages/kernel src/fs/fdtable.test.ts (lookup racing close and another process's open); " +
    "also the fuzzer, packages/fuzz src/fuzz.test.ts (swarm plan close-drm+gem-close+child-open under POS); " +
    "and the stress harness's detection matrix, apps/stress `bugs` (its hunt of fuzz-fd-reuse@vgem, the fuzzer's workload on that plan, under POS)",
});

/** Models BITS_PER_LONG / NR_OPEN_DEFAULT: the slots embedded in every files_struct. */
export const NR_OPEN_DEFAULT = 64;
/** Models sysctl_nr_open (1024 * 1024): the largest fd table. */
export const NR_OPEN = 1024 * 1024;
/** Models the default RLIMIT_NOFILE soft limit (INR_OPEN_CUR). */
export const INR_OPEN_CUR = 1024;

/**
 * The empty slots and bitmap of an embedded table, copied by FdTable's constructor: packed
 * arrays (Array.from()), so the copies are packed too.
 */
const NO_FILES: readonly (File | null)[] = Array.from({ length: NR_OPEN_DEFAULT }, () => null);
const NO_BITS: readonly boolean[] = Array.from({ length: NR_OPEN_DEFAULT }, () => false);

/** The slab cache of grown fd tables (alloc_fdtable()). */
export const fdtableCache = new KmemCache("fdtable");

/**
 * Models struct fdtable: `maxFds` slots, the open-fd and close-on-exec bitmaps. The table
 * embedded in a files_struct (fdtab) is static memory; a grown one is a slab object.
 */
export class FdTable extends SlabObject {
  readonly maxFds: number;
  /** Models fdt->fd: the installed files (null: free, or reserved but not yet installed). */
  readonly fd: (File | null)[];
  /** Models fdt->open_fds: reserved or installed. */
  readonly openFds: boolean[];
  /** Models fdt->close_on_exec. */
  readonly closeOnExec: boolean[];

  constructor(maxFds: number) {
    super(fdtableCache);
    this.maxFds = maxFds;
    // Every files_struct embeds a table of NR_OPEN_DEFAULT slots (one per process: about forty
    // per fuzz-fd-reuse run): copies of prebuilt empty arrays rather than fill() over a new
    // holey one each.
    const embedded = maxFds === NR_OPEN_DEFAULT;
    this.fd = embedded ? NO_FILES.slice() : new Array<File | null>(maxFds).fill(null);
    this.openFds = embedded ? NO_BITS.slice() : new Array<boolean>(maxFds).fill(false);
    this.closeOnExec = embedded ? NO_BITS.slice() : new Array<boolean>(maxFds).fill(false);
  }
}

/**
 * Models struct files_struct: one per process, shared by its threads (`count` is the number of
 * threads using it, CLONE_FILES).
 *
 * Locking: `fileLock` protects fdt, the bitmaps, nextFd and resizeInProgress.
 * References: each installed fd holds one reference on its file; `count` holds the table.
 */
export class FilesStruct {
  /** Models files->count: users of this table (threads). */
  readonly count: Atomic;
  /** Models files->file_lock. */
  readonly fileLock: SpinLock;
  /** Models files->fdtab: the embedded table. */
  readonly fdtab: FdTable;
  /** Models files->fdt: the current table (fdtab, or a grown one). */
  fdt: FdTable;
  /** Models files->next_fd: no free fd below it. */
  nextFd = 0;
  /** Models files->resize_in_progress. */
  resizeInProgress = false;
  /** files->resize_wait, made on first use (see resizeWait). */
  private resizeWaitQueue: WaitQueue | null = null;
  /**
   * The owning process's RLIMIT_NOFILE (signal->rlim[RLIMIT_NOFILE] in the kernel): one cell per
   * process, shared with the private table a thread gets from close_range(CLOSE_RANGE_UNSHARE)
   * (dupFd()), so setrlimit() reaches every thread whatever table it uses.
   */
  readonly rlim: { nofile: number };

  /** The owning process's RLIMIT_NOFILE (signal->rlim[RLIMIT_NOFILE]). */
  get rlimitNofile(): number {
    return this.rlim.nofile;
  }

  set rlimitNofile(limit: number) {
    this.rlim.nofile = limit;
  }

  /** `rlim`: the process's limit cell, when this table is a copy of one of its tables. */
  constructor(
    readonly name: string,
    rlim?: { nofile: number },
  ) {
    this.rlim = rlim ?? { nofile: INR_OPEN_CUR };
    this.count = new Atomic(name, 1, "count");
    this.fileLock = new SpinLock("files->file_lock");
    this.fdtab = new FdTable(NR_OPEN_DEFAULT);
    this.fdt = this.fdtab;
  }

  /**
   * Models files->resize_wait. Made on first use: only a table being grown while another
   * thread allocates waits on it or wakes it, and a fuzz run starts about forty processes.
   */
  get resizeWait(): WaitQueue {
    this.resizeWaitQueue ??= new WaitQueue(`${this.name}->resize_wait`);
    return this.resizeWaitQueue;
  }

  /** The installed fds, ascending (inspection, no scheduling point). */
  openFdList(): number[] {
    const out: number[] = [];
    this.fdt.fd.forEach((f, i) => {
      if (f !== null) out.push(i);
    });
    return out;
  }

  /** The file installed at `fd`, without a reference (inspection, no scheduling point). */
  peek(fd: number): File | null {
    return Number.isInteger(fd) && fd >= 0 && fd < this.fdt.maxFds ? this.fdt.fd[fd]! : null;
  }
}

/** Models find_next_fd(): the first free fd at or after `start`, or maxFds. */
function findNextFd(fdt: FdTable, start: number): number {
  for (let fd = start; fd < fdt.maxFds; fd++) if (!fdt.openFds[fd]) return fd;
  return fdt.maxFds;
}

/**
 * Models alloc_fdtable(slots_wanted) (fs/file.c, v6.18): a table of roundup_pow_of_two(slots_wanted)
 * slots (callers want more than the 64 embedded ones, so no 32-bit minimum applies), cut to
 * sysctl_nr_open (NR_OPEN here, rounded down to BITS_PER_LONG): -EMFILE when that leaves fewer
 * than `slotsWanted`, -ENOMEM when the allocation fails. (The INT_MAX / sizeof(struct file *)
 * check cannot fire below NR_OPEN.)
 */
function allocFdtable(slotsWanted: number): FdTable | number {
  let nr = 2 ** Math.ceil(Math.log2(slotsWanted));
  if (nr > NR_OPEN) {
    nr = NR_OPEN - (NR_OPEN % NR_OPEN_DEFAULT);
    if (nr < slotsWanted) return -EMFILE;
  }
  const fdt = kmalloc(fdtableCache, () => new FdTable(nr));
  return isErr(fdt) ? -ENOMEM : fdt;
}

/** Models copy_fdtable(): the old table's slots and bitmaps into the new one. */
function copyFdtable(nfdt: FdTable, ofdt: FdTable): void {
  for (let i = 0; i < ofdt.maxFds; i++) {
    nfdt.fd[i] = ofdt.fd[i]!;
    nfdt.openFds[i] = ofdt.openFds[i]!;
    nfdt.closeOnExec[i] = ofdt.closeOnExec[i]!;
  }
}

/**
 * Models expand_fdtable(files, nr) (fs/file.c, v6.18): drops file_lock to allocate a table for
 * fd `nr` (alloc_fdtable(nr + 1)); when other threads share the table (files->count > 1) waits
 * for a grace period (synchronize_rcu(): "make sure all fd_install() have seen
 * resize_in_progress or have finished their rcu_read_lock_sched() section"), so every lockless
 * reader that was inside its read-side section when the resize began has left it before the new
 * table is published; retakes the lock, then copies the current table into the new one,
 * publishes it and frees the old one (if grown) after a grace period (call_rcu()). 0, or
 * alloc_fdtable()'s -ENOMEM / -EMFILE. A table that grew meanwhile is the kernel's BUG_ON (it
 * cannot: resize_in_progress excludes other resizes).
 *
 * Locking: file_lock held on entry and on return; dropped in between (synchronize_rcu() sleeps).
 * References: none; the old table's memory goes to RCU.
 */
async function expandFdtable(files: FilesStruct, nr: number): Promise<number> {
  lockdepAssertHeld(files.fileLock);
  files.fileLock.unlockNow();
  const newFdt = allocFdtable(nr + 1);
  if ((await files.count.read()) > 1) await synchronizeRcu();
  const fileLockTaken = files.fileLock.lock();
  if (fileLockTaken !== RESOLVED) await fileLockTaken;
  if (typeof newFdt === "number") return newFdt;
  const cur = files.fdt;
  if (nr < cur.maxFds)
    bug(`kernel BUG at fs/file.c: expand_fdtable(): BUG_ON(nr < cur_fdt->max_fds)`);
  copyFdtable(newFdt, cur);
  files.fdt = newFdt;
  if (cur !== files.fdtab) await kfreeRcu(cur);
  return 0;
}

/**
 * Models expand_files(files, nr) (fs/file.c, v6.18): grows the table so that fd `nr` fits. In
 * the kernel's order: nothing to do when `nr` fits; else, while another thread's resize is in
 * progress, drop file_lock, wait_event(resize_wait, !resize_in_progress), retake it and look
 * again; only then -EMFILE for `nr` at or above sysctl_nr_open (NR_OPEN); then
 * expand_fdtable() with resize_in_progress set, and wake_up_all(resize_wait). 0 (the lock may
 * have been dropped: callers look again) or a negative errno.
 *
 * Order: v6.18 waits for a resize in progress before the sysctl_nr_open check. The difference
 * shows only for `nr` >= NR_OPEN, which alloc_fd() (fd < RLIMIT_NOFILE <= NR_OPEN: setrlimit()
 * refuses more) and ksys_dup3() (newfd < RLIMIT_NOFILE) never pass here; in the kernel it takes
 * an RLIMIT_NOFILE left above a later-lowered sysctl_nr_open, here an allocFd() whose `end` is
 * above NR_OPEN: such a caller waits for the resize, then fails.
 *
 * Locking: file_lock held on entry and on return; may drop it and sleep.
 * References: none.
 */
function expandFiles(files: FilesStruct, nr: number): number | Promise<number> {
  lockdepAssertHeld(files.fileLock);
  // The fd fits (nearly always): nothing to do, settled at once.
  if (nr < files.fdt.maxFds) return 0;
  return expandFilesSlow(files, nr);
}

/** expand_files() when the fd does not fit the table yet. */
async function expandFilesSlow(files: FilesStruct, nr: number): Promise<number> {
  for (;;) {
    const fdt = files.fdt;
    if (nr < fdt.maxFds) return 0;
    if (files.resizeInProgress) {
      files.fileLock.unlockNow();
      while (files.resizeInProgress) await files.resizeWait.wait("wait_event(resize_wait)");
      const fileLockTaken2 = files.fileLock.lock();
      if (fileLockTaken2 !== RESOLVED) await fileLockTaken2;
      continue;
    }
    if (nr >= NR_OPEN) return -EMFILE;
    files.resizeInProgress = true;
    const error = await expandFdtable(files, nr);
    files.resizeInProgress = false;
    files.resizeWait.wakeAll();
    return error;
  }
}

/**
 * Models alloc_fd(start, end, flags): reserves the lowest free fd in [start, end), growing the
 * table if needed, with close-on-exec from O_CLOEXEC in `flags`. Returns the fd, -EMFILE when
 * none is below `end`, or -ENOMEM when growing the table fails. The fd is reserved (open in the
 * bitmap) but empty until fdInstall(); release an unused one with putUnusedFd().
 *
 * Locking: takes file_lock (dropped while the table grows).
 * References: none taken.
 */
export async function allocFd(
  files: FilesStruct,
  start: number,
  end: number,
  flags: number,
): Promise<number> {
  // The lock and the table check settle at once on the fast path: no awaits of settled promises.
  const locked = files.fileLock.lock();
  if (locked !== RESOLVED) await locked;
  let error: number;
  for (;;) {
    const fdt = files.fdt;
    let fd = Math.max(start, files.nextFd);
    if (fd < fdt.maxFds) fd = findNextFd(fdt, fd);
    if (fd >= end) {
      error = -EMFILE;
      break;
    }
    if (fd >= fdt.maxFds) {
      error = await expandFiles(files, fd);
      if (error < 0) break;
      continue;
    }
    if (start <= files.nextFd) files.nextFd = fd + 1;
    fdt.openFds[fd] = true;
    fdt.closeOnExec[fd] = (flags & O_CLOEXEC) !== 0;
    error = fd;
    // VFS_BUG_ON(): BUG_ON() under CONFIG_DEBUG_VFS, which this model has on (as its other
    // debug checks: lockdep, DEBUG_MUTEXES, DEBUG_LIST); the oops keeps file_lock held.
    if (fdt.fd[fd] !== null)
      bug(
        `kernel BUG at fs/file.c: alloc_fd(): VFS_BUG_ON(rcu_access_pointer(fdt->fd[${fd}]) != NULL)`,
      );
    break;
  }
  const unlocked = files.fileLock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
  return error;
}

/** Models __put_unused_fd(): file_lock held. */
function putUnusedFdLocked(files: FilesStruct, fd: number): void {
  files.fdt.openFds[fd] = false;
  if (fd < files.nextFd) files.nextFd = fd;
}

// ---- current->files ----

const taskFiles = new TaskLocal<FilesStruct | null>(() => null);

/** Sets `task`'s files (the process layer does it for each thread before it runs). */
export function setTaskFiles(task: Task, files: FilesStruct | null): void {
  taskFiles.set(task, files);
}

/**
 * Models task->files of another task (fget_task()'s load, under task_lock() in the kernel): its
 * table, or null once exit_files() has detached it.
 */
export function taskFilesOf(task: Task): FilesStruct | null {
  return taskFiles.get(task);
}

/** Models current->files: the running task's table, or null (not a process thread, exited). */
export function currentFiles(): FilesStruct | null {
  const t = currentTask();
  return t ? taskFiles.get(t) : null;
}

/**
 * Models get_unused_fd_flags(flags): reserves the lowest free fd of the current process below
 * its RLIMIT_NOFILE. The fd, -EMFILE, -ENOMEM, or -EBADF when the task has no fd table.
 *
 * Locking: takes current->files->file_lock.
 * References: none taken.
 */
export function getUnusedFdFlags(flags: number): Promise<number> {
  const files = currentFiles();
  if (files === null) return RESOLVED_EBADF;
  return allocFd(files, 0, files.rlimitNofile, flags);
}

const RESOLVED_EBADF: Promise<number> = Promise.resolve(-EBADF);

/**
 * Models put_unused_fd(fd): gives back an fd reserved by getUnusedFdFlags() and never
 * installed (an error path between the two).
 *
 * Locking: takes current->files->file_lock.
 * References: none.
 */
export async function putUnusedFd(fd: number): Promise<void> {
  const files = currentFiles();
  if (files === null) return;
  const fileLockTaken3 = files.fileLock.lock();
  if (fileLockTaken3 !== RESOLVED) await fileLockTaken3;
  putUnusedFdLocked(files, fd);
  files.fileLock.unlockNow();
}

/**
 * Models fd_install(fd, file) (fs/file.c, v6.18): publishes `file` at the reserved `fd`; from now
 * on lookups and close() see it. Installing over a non-empty slot is v6.18's
 * VFS_BUG_ON(rcu_access_pointer(fdt->fd[fd]) != NULL): BUG_ON() under CONFIG_DEBUG_VFS, on in
 * this model as in alloc_fd() (an oops: the thread dies, the caller's reference is lost). The
 * kernel checks under rcu_read_lock_sched() (file_lock only while a resize is in progress), so
 * the model drops file_lock before the oops.
 *
 * Locking: takes file_lock (the kernel publishes under rcu_read_lock_sched()).
 * References: consumes the caller's reference on `file` (the table owns it now).
 */
export function fdInstall(fd: number, file: File): Promise<void> {
  const files = currentFiles();
  if (files === null) {
    warnOn(true, `fd_install(${fd}, ${file.name}) by a task without an fd table`);
    return fput(file);
  }
  return fdInstallFiles(files, fd, file);
}

/** fd_install() into a given table (the process layer's version of it). */
export async function fdInstallFiles(files: FilesStruct, fd: number, file: File): Promise<void> {
  const locked = files.fileLock.lock();
  if (locked !== RESOLVED) await locked;
  const fdt = files.fdt;
  if (fdt.fd[fd] !== null) {
    files.fileLock.unlockNow();
    bug(
      `kernel BUG at fs/file.c: fd_install(): VFS_BUG_ON(rcu_access_pointer(fdt->fd[${fd}]) != NULL)`,
      { object: file.name },
    );
  }
  fdt.fd[fd] = file;
  const unlocked = files.fileLock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
}

/**
 * Models fget(fd) (fs/file.c, v6.18: __fget(fd, FMODE_PATH)): the file installed at `fd` in the
 * current process with a new reference, or null (bad, free or reserved fd, or an O_PATH file:
 * see fgetMaskPath()). Drop it with fput(). Always counted: a syscall that borrows the fd for its
 * duration uses fdget() instead.
 *
 * Locking: none; an RCU read-side section around the lockless lookup (see fgetFiles()).
 * References: takes one on the file returned.
 */
export function fget(fd: number): Promise<File | null> {
  const files = currentFiles();
  if (files === null) return RESOLVED_NULL;
  return fgetFiles(files, fd).then(fgetMaskPath);
}

/**
 * Models the FMODE_PATH mask of __fget_files_rcu() (fs/file.c, v6.12 and v6.18): "This isn't
 * the file we're looking for or we're not allowed to get a reference to it": an O_PATH file's
 * reference is dropped (fput()) and the lookup gives NULL. The kernel drops it inside the
 * read-side section, here just after it: rcu_read_unlock() is no scheduling point (ARCHITECTURE.md
 * section 1, "Scheduling points") and the reference held keeps the file either way.
 * Locking: none. References: drops the lookup's on an O_PATH file.
 */
function fgetMaskPath(file: File | null): File | null | Promise<null> {
  if (file === null || !(file.fMode & FMODE_PATH)) return file;
  return fput(file).then(() => null);
}

/**
 * Models fget_raw(fd) (fs/file.c: __fget(fd, 0)): fget() without the FMODE_PATH mask, so an
 * O_PATH file is returned too (what dup(2) and SCM_RIGHTS' scm_fp_copy() use).
 *
 * Locking: none; an RCU read-side section around the lockless lookup (see fgetFiles()).
 * References: takes one on the file returned.
 */
export function fgetRaw(fd: number): Promise<File | null> {
  const files = currentFiles();
  if (files === null) return RESOLVED_NULL;
  return fgetFiles(files, fd);
}

/** fget()'s "no file", as a settled promise. */
const RESOLVED_NULL: Promise<null> = Promise.resolve(null);

/** Models FDPUT_FPUT (include/linux/file.h): fdput() drops the reference (a CLONED_FD). */
export const FDPUT_FPUT = 1;
/** Models FDPUT_POS_UNLOCK (include/linux/file.h): fdput_pos() unlocks f_pos_lock. */
export const FDPUT_POS_UNLOCK = 2;

/**
 * Models struct fd (include/linux/file.h, v6.18): a looked-up file (fd_file(); null for
 * EMPTY_FD, fd_empty()) and the FDPUT_* bits saying what fdput() must undo. A BORROWED_FD holds
 * no reference: the caller runs on the reference its own fd table holds.
 */
export interface Fd {
  /** fd_file(f): the file, or null (fd_empty(f)). */
  readonly file: File | null;
  /** The FDPUT_FPUT / FDPUT_POS_UNLOCK bits of `word`. */
  readonly flags: number;
}

/** Models EMPTY_FD: no file (a bad, free or reserved fd). */
export const EMPTY_FD: Fd = Object.freeze({ file: null, flags: 0 });

/** Models BORROWED_FD(f): the file without a reference of its own (fdput() does nothing). */
export function borrowedFd(file: File): Fd {
  return { file, flags: 0 };
}

/** Models CLONED_FD(f): the file with a reference fdput() drops (FDPUT_FPUT). */
export function clonedFd(file: File): Fd {
  return { file, flags: FDPUT_FPUT };
}

/** EMPTY_FD as a settled promise. */
const RESOLVED_EMPTY_FD: Promise<Fd> = Promise.resolve(EMPTY_FD);

/**
 * Models fdget(fd) (fs/file.c, v6.18): __fget_light(fd, FMODE_PATH). What `CLASS(fd, f)(fd)`
 * declares; drop it with fdput() (the class's destructor).
 *
 * Locking: none (see fgetLight()).
 * References: a CLONED_FD holds one, a BORROWED_FD none.
 */
export function fdget(fd: number): Promise<Fd> {
  return fgetLight(fd);
}

/**
 * Models __fget_light(fd, mask) (fs/file.c, v6.18): when the current table has one user
 * (atomic_read_acquire(&files->count) == 1), files_lookup_fd_raw() without a reference, a
 * BORROWED_FD: no other task can close the fd while the caller runs, as only the caller's own
 * threads share the table and it has none. Otherwise __fget_files() (a counted lookup, see
 * fgetFiles()), a CLONED_FD. EMPTY_FD for a bad, free or reserved fd, or a task without a table.
 * The read of files->count is a scheduling point (an atomic_read() of shared state, as in
 * expand_fdtable() and close_range()); the slot load after it is not: with one user nobody else
 * can change the table. The FMODE_PATH mask: an O_PATH file is EMPTY_FD (the counted path drops
 * its reference first, as fgetMaskPath()).
 *
 * Locking: none; the counted path takes rcu_read_lock() around its walk.
 * References: a CLONED_FD holds one on the file, a BORROWED_FD none.
 */
export function fgetLight(fd: number): Promise<Fd> {
  const files = currentFiles();
  if (files === null || !Number.isInteger(fd) || fd < 0) return RESOLVED_EMPTY_FD;
  return files.count.read().then((users) => fgetLightCount(files, fd, users));
}

/** fgetLight() after its read of files->count. */
function fgetLightCount(files: FilesStruct, fd: number, users: number): Fd | Promise<Fd> {
  if (users === 1) {
    // files_lookup_fd_raw(): the slot, no reference.
    const file = filesLookupFdRaw(files, fd);
    return file === null || file.fMode & FMODE_PATH ? EMPTY_FD : borrowedFd(file);
  }
  return fgetFiles(files, fd).then(clonedFdOrEmpty);
}

/** __fget_light()'s counted path: CLONED_FD(file), or EMPTY_FD (an O_PATH file's put first). */
function clonedFdOrEmpty(file: File | null): Fd | Promise<Fd> {
  if (file === null) return EMPTY_FD;
  if (file.fMode & FMODE_PATH) return fput(file).then(() => EMPTY_FD);
  return clonedFd(file);
}

/**
 * Models fdget_raw(fd) (fs/file.c, v6.12 and v6.18): __fget_light(fd, 0), fdget() without the
 * FMODE_PATH mask, so an O_PATH file is returned too (what `CLASS(fd_raw, f)(fd)` declares:
 * vfs_fstat()). With one user of the table a BORROWED_FD of the slot's file, otherwise
 * __fget_files()'s counted CLONED_FD; EMPTY_FD for a bad, free or reserved fd. Drop it with
 * fdput().
 *
 * Locking: none (see fgetLight()).
 * References: a CLONED_FD holds one on the file, a BORROWED_FD none.
 */
export function fdgetRaw(fd: number): Promise<Fd> {
  const files = currentFiles();
  if (files === null || !Number.isInteger(fd) || fd < 0) return RESOLVED_EMPTY_FD;
  return files.count.read().then((users) => fgetLightRawCount(files, fd, users));
}

/** fdgetRaw() after its read of files->count. */
function fgetLightRawCount(files: FilesStruct, fd: number, users: number): Fd | Promise<Fd> {
  if (users === 1) {
    const file = filesLookupFdRaw(files, fd);
    return file === null ? EMPTY_FD : borrowedFd(file);
  }
  return fgetFiles(files, fd).then((file) => (file === null ? EMPTY_FD : clonedFd(file)));
}

/**
 * Models files_lookup_fd_raw(files, fd) (include/linux/fdtable.h, v6.18): the file at `fd`, or
 * null; rcu_dereference_raw() of the slot, no reference, no lock (the caller is the table's only
 * user, holds file_lock, or is in an RCU read-side section).
 */
function filesLookupFdRaw(files: FilesStruct, fd: number): File | null {
  const fdt = files.fdt;
  return fd < fdt.maxFds ? fdt.fd[fd]! : null;
}

/**
 * Models fdput(f) (include/linux/file.h, v6.18): fput() of a CLONED_FD (FDPUT_FPUT); nothing
 * for a BORROWED_FD or EMPTY_FD.
 *
 * Locking: none. References: drops the CLONED_FD's.
 */
export function fdput(f: Fd): Promise<void> {
  return f.flags & FDPUT_FPUT ? fput(f.file!) : RESOLVED;
}

/**
 * Models fdget_pos(fd) (fs/file.c, v6.18): fdget(), then f_pos_lock when
 * file_needs_f_pos_lock() (FDPUT_POS_UNLOCK). That needs FMODE_ATOMIC_POS, which only
 * do_dentry_open() sets, on regular files and directories; this model's files are character
 * devices and anonymous-inode files, so it never is set and fdget_pos() is fdget() here
 * (f_pos_lock is not modeled).
 *
 * Locking: none (no f_pos_lock, see above). References: as fdget().
 */
export function fdgetPos(fd: number): Promise<Fd> {
  return fdget(fd);
}

/**
 * Models fdput_pos(f) (include/linux/file.h, v6.18): unlock f_pos_lock if FDPUT_POS_UNLOCK (never
 * set here, see fdgetPos()), then fdput().
 *
 * Locking: none. References: as fdput().
 */
export function fdputPos(f: Fd): Promise<void> {
  return fdput(f);
}

/**
 * Models __fget_files() -> __fget_files_rcu() (v6.7+): the lockless lookup of `fd` in `files`.
 * Loads the table and the slot; takes a reference only if the file's count is not zero
 * (file_ref_get(): a file being torn down, or already freed, fails and the slot is loaded
 * again); then re-checks that the slot and the table are unchanged, else drops the reference and
 * starts over. Null for a bad, free or reserved fd.
 *
 * Locking: rcu_read_lock() around the walk; no file_lock.
 * References: takes one on the file returned.
 */
export function fgetFiles(files: FilesStruct, fd: number): Promise<File | null> {
  if (!Number.isInteger(fd) || fd < 0) return RESOLVED_NULL;
  const locked = rcuReadLock();
  // rcuReadLock() gives RESOLVED itself when the running task went on at its point.
  if (locked !== RESOLVED) return locked.then(() => fgetFilesLocked(files, fd));
  return fgetFilesLocked(files, fd);
}

/**
 * fgetFiles() inside its read-side section, which it leaves whatever happens (a try/finally);
 * without an async frame when the lookup's first round takes no switch.
 */
function fgetFilesLocked(files: FilesStruct, fd: number): Promise<File | null> {
  let got: File | null;
  try {
    const r = fgetFilesRcuFirst(files, fd);
    if (r !== null && !isFile(r)) return fgetFilesUnlockAfter(r);
    got = r;
  } catch (e) {
    return rcuReadUnlock().then(() => Promise.reject(e));
  }
  const unlocked = rcuReadUnlock();
  return unlocked === RESOLVED ? Promise.resolve(got) : unlocked.then(() => got);
}

function isFile(r: File | Promise<File | null>): r is File {
  return !(r instanceof Promise);
}

/** The rest of fgetFilesLocked() once the lookup went asynchronous. */
async function fgetFilesUnlockAfter(lookup: Promise<File | null>): Promise<File | null> {
  try {
    return await lookup;
  } finally {
    const rcuReadUnlockDone = rcuReadUnlock();
    if (rcuReadUnlockDone !== RESOLVED) await rcuReadUnlockDone;
  }
}

/**
 * The first round of fgetFilesRcu()'s loop, synchronously when file_ref_get()'s point takes no
 * switch: the file or null, else a promise of fgetFilesRcu()'s result (a switch, a retry, or the
 * re-check's fput()). The same steps in the same order as fgetFilesRcu().
 */
function fgetFilesRcuFirst(files: FilesStruct, fd: number): File | null | Promise<File | null> {
  const fdt = files.fdt;
  const file = fd < fdt.maxFds ? fdt.fd[fd]! : null;
  if (file === null) return null;
  const p = fileRefGetRcuPoint(file);
  if (p !== null) return p.then(() => fgetFilesRcuRecheck(files, fd, fdt, fileRefGetNow(file)));
  const got = fileRefGetNow(file);
  if (got === null) return fgetFilesRcu(files, fd);
  if (toggleEnabled(FGET_NO_RECHECK.name)) return got;
  const now = fdt.fd[fd]!;
  if (now === null || fileAt(now) !== got || files.fdt !== fdt)
    return fput(got).then(() => fgetFilesRcu(files, fd));
  return got;
}

/** fgetFilesRcu()'s loop body after the get, when the get's point switched. */
async function fgetFilesRcuRecheck(
  files: FilesStruct,
  fd: number,
  fdt: FdTable,
  got: File | null,
): Promise<File | null> {
  if (got === null) return fgetFilesRcu(files, fd);
  if (toggleEnabled(FGET_NO_RECHECK.name)) return got;
  const now = fdt.fd[fd]!;
  if (now === null || fileAt(now) !== got || files.fdt !== fdt) {
    const fputDone = fput(got);
    if (fputDone !== RESOLVED) await fputDone;
    return fgetFilesRcu(files, fd);
  }
  return got;
}

/**
 * Models __fget_files_rcu(); called inside an RCU read-side section. Pointers compare as
 * addresses: the slot still "holds the file" when it holds whatever file now lives at the memory
 * the loaded pointer names (the same file, or one that reused its memory and was installed at the
 * same fd: then that file is the right answer).
 *
 * Toggle `fs.fget-no-recheck` (hypothetical, see FGET_NO_RECHECK): no re-check, as up to v5.15.
 */
async function fgetFilesRcu(files: FilesStruct, fd: number): Promise<File | null> {
  for (;;) {
    // rcu_dereference_raw(files->fdt), then the slot (array_index_mask_nospec(): an fd past
    // the table loads nothing).
    const fdt = files.fdt;
    const file = fd < fdt.maxFds ? fdt.fd[fd]! : null;
    if (file === null) return null;
    // "Ok, we have a file pointer that was valid at some point, but it might have become stale
    // since. We need to confirm it by incrementing the refcount and then check the lookup
    // again." The window between the load and the get is file_ref_get()'s scheduling point;
    // what it gets is the file living at that memory then.
    const got = await fileRefGetRcu(file);
    if (got === null) continue;
    if (toggleEnabled(FGET_NO_RECHECK.name)) return got;
    // (a) the count went to zero and the file has been reused, or (b) the slot changed under
    // us: put our reference and try again.
    const now = fdt.fd[fd]!;
    if (now === null || fileAt(now) !== got || files.fdt !== fdt) {
      const fputDone2 = fput(got);
      if (fputDone2 !== RESOLVED) await fputDone2;
      continue;
    }
    return got;
  }
}

/**
 * Models file_close_fd_locked() (pick_file()): takes the file out of slot `fd` and frees the
 * fd, returning the file with the table's reference, or null.
 * Locking: file_lock held.
 */
function fileCloseFdLocked(files: FilesStruct, fd: number): File | null {
  lockdepAssertHeld(files.fileLock);
  const fdt = files.fdt;
  if (fd >= fdt.maxFds) return null;
  const file = fdt.fd[fd]!;
  if (file !== null) {
    fdt.fd[fd] = null;
    putUnusedFdLocked(files, fd);
  }
  return file;
}

/**
 * Models filp_flush(): ->flush, unless the count is already 0 ("VFS: Close: file count is 0",
 * CHECK_DATA_CORRUPTION: a `warn` splat, and no ->flush). ->flush's result, or 0.
 */
function filpFlush(file: File, id: unknown): number | Promise<number> {
  if (fileCount(file) === 0) {
    warnOn(true, `VFS: Close: file count is 0 (f_op=${file.fOp.owner ?? "?"})`, {
      object: file.name,
    });
    return 0;
  }
  return file.fOp.flush ? file.fOp.flush(file, id) : 0;
}

/**
 * Models filp_close(file, id) (fs/open.c, v6.18): filp_flush() (->flush), then the put of the
 * reference the fd held (fput_close()). As in the kernel since 6.6, the put happens even when
 * filp_flush() found the count already 0: from the dead zone it is __file_ref_put_badval()'s
 * WARN_ONCE "imbalanced put on file reference count" (fs/file.c) and releases nothing. Returns
 * ->flush's result (0 without one).
 *
 * Locking: no locks held; ->flush may sleep.
 * References: drops one (the fd's).
 */
export async function filpClose(file: File, id: unknown): Promise<number> {
  // The point, a file without ->flush and a non-final fput() settle at once (pointNow(),
  // RESOLVED): no awaits of settled promises.
  const p = pointNow(opLabel("filp_close", file.name));
  if (p !== null) await p;
  file.checkAccess("filp_close");
  const flushed = filpFlush(file, id);
  const retval = typeof flushed === "number" ? flushed : await flushed;
  const put = fput(file);
  if (put !== RESOLVED) await put;
  return retval;
}

/**
 * Models close_fd(fd): removes `fd` from the current process's table and closes the file.
 * -EBADF for a bad or free fd; otherwise ->flush's result.
 *
 * Locking: takes file_lock for the removal; closes without it.
 * References: drops the fd's reference.
 */
export function closeFd(fd: number): Promise<number> {
  const files = currentFiles();
  if (files === null) return RESOLVED_EBADF;
  return closeFdFiles(files, fd);
}

/** close_fd() on a given table. */
export async function closeFdFiles(files: FilesStruct, fd: number): Promise<number> {
  if (!Number.isInteger(fd) || fd < 0) return -EBADF;
  const locked = files.fileLock.lock();
  if (locked !== RESOLVED) await locked;
  const file = fileCloseFdLocked(files, fd);
  const unlocked = files.fileLock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
  if (file === null) return -EBADF;
  return filpClose(file, files);
}

/** Models CLOSE_RANGE_UNSHARE (include/uapi/linux/close_range.h): unshare the table first. */
export const CLOSE_RANGE_UNSHARE = 1 << 1;
/** Models CLOSE_RANGE_CLOEXEC: set close-on-exec on the range instead of closing it. */
export const CLOSE_RANGE_CLOEXEC = 1 << 2;

/**
 * A syscall's `unsigned int` argument: an integer a C int or unsigned int can carry, as the
 * kernel sees it (-1 is 0xffffffff); null for a value the C ABI could not carry.
 */
function uintArg(v: number): number | null {
  return Number.isInteger(v) && v >= -0x8000_0000 && v <= 0xffff_ffff ? v >>> 0 : null;
}

/**
 * Models files_lookup_fd_locked() (include/linux/fdtable.h): the file installed at `fd`, without
 * a reference; null for a free, reserved or out-of-range fd.
 * Locking: file_lock held.
 */
function filesLookupFdLocked(files: FilesStruct, fd: number): File | null {
  lockdepAssertHeld(files.fileLock);
  const fdt = files.fdt;
  return fd < fdt.maxFds ? fdt.fd[fd]! : null;
}

/**
 * Models do_dup2(files, file, fd, flags) (fs/file.c, v6.18): installs a new reference to `file`
 * at `fd` with close-on-exec from O_CLOEXEC, then, after dropping file_lock, closes the file
 * that was installed there (filp_close()). -EBUSY when `fd` is reserved (open in the bitmap) but
 * not yet installed: an open() of another thread between get_unused_fd_flags() and fd_install().
 * The caller has made sure `fd` fits the table (expand_files()).
 *
 * Locking: file_lock held on entry; released before the old file is closed.
 * References: takes one on `file` for the fd; drops the fd's reference on the replaced file.
 */
async function doDup2(files: FilesStruct, file: File, fd: number, flags: number): Promise<number> {
  lockdepAssertHeld(files.fileLock);
  const fdt = files.fdt;
  const tofree = fdt.fd[fd]!;
  if (tofree === null && fdt.openFds[fd]) {
    files.fileLock.unlockNow();
    return -EBUSY;
  }
  await getFile(file);
  fdt.fd[fd] = file;
  // __set_open_fd(fd, fdt, flags & O_CLOEXEC)
  fdt.openFds[fd] = true;
  fdt.closeOnExec[fd] = (flags & O_CLOEXEC) !== 0;
  files.fileLock.unlockNow();
  if (tofree !== null) await filpClose(tofree, files);
  return fd;
}

/**
 * Models ksys_dup3(oldfd, newfd, flags) (fs/file.c, v6.18), dup3(2): makes `newfd` refer to the
 * file at `oldfd`, closing what `newfd` held. In the kernel's order: -EINVAL for flags other
 * than O_CLOEXEC, -EINVAL when oldfd == newfd, -EBADF when newfd is not below RLIMIT_NOFILE;
 * then under file_lock the table grows to fit newfd (expand_files(), even when oldfd turns out
 * bad) and oldfd is looked up: -EBADF for a bad oldfd, and for a table that cannot grow
 * (-EMFILE), else expand_files()'s error (-ENOMEM); then do_dup2() (-EBUSY). The fds are the
 * syscall's `unsigned int`s (-1 is 0xffffffff). Returns newfd.
 *
 * Locking: takes current->files->file_lock (dropped while the table grows and before the
 * replaced file is closed).
 * References: takes one on the file for newfd; drops the replaced file's.
 */
export async function ksysDup3(oldfd: number, newfd: number, flags: number): Promise<number> {
  const files = currentFiles();
  if (files === null) return -EBADF;
  if (!Number.isInteger(flags) || (flags & ~O_CLOEXEC) !== 0) return -EINVAL;
  const ofd = uintArg(oldfd);
  const nfd = uintArg(newfd);
  if (ofd !== null && ofd === nfd) return -EINVAL;
  if (nfd === null || nfd >= files.rlimitNofile) return -EBADF;
  const fileLockTaken4 = files.fileLock.lock();
  if (fileLockTaken4 !== RESOLVED) await fileLockTaken4;
  const err = await expandFiles(files, nfd);
  const file = ofd === null ? null : filesLookupFdLocked(files, ofd);
  if (file === null || err === -EMFILE) {
    files.fileLock.unlockNow();
    return -EBADF;
  }
  if (err < 0) {
    files.fileLock.unlockNow();
    return err;
  }
  return doDup2(files, file, nfd, flags);
}

/**
 * Models SYSCALL_DEFINE2(dup2) (fs/file.c, v6.18): ksys_dup3(oldfd, newfd, 0), except that
 * oldfd == newfd returns oldfd if it is an installed fd (a lockless __fget_files_rcu() lookup
 * whose reference is put at once), else -EBADF.
 *
 * Locking: none for oldfd == newfd (rcu_read_lock()); else ksysDup3()'s.
 * References: as ksysDup3(); none kept for oldfd == newfd.
 */
export async function doSysDup2(oldfd: number, newfd: number): Promise<number> {
  const ofd = uintArg(oldfd);
  if (ofd !== null && ofd === uintArg(newfd)) {
    const files = currentFiles();
    if (files === null) return -EBADF;
    const f = await fgetFiles(files, ofd);
    if (f === null) return -EBADF;
    const fputDone3 = fput(f);
    if (fputDone3 !== RESOLVED) await fputDone3;
    return ofd;
  }
  return ksysDup3(oldfd, newfd, 0);
}

/**
 * Models __range_cloexec() (fs/file.c, v6.18): sets close-on-exec on every fd of [fd, maxFd]
 * that fits the current table (open or not, as bitmap_set() does).
 * Locking: takes file_lock.
 */
async function rangeCloexec(files: FilesStruct, fd: number, maxFd: number): Promise<void> {
  const fileLockTaken5 = files.fileLock.lock();
  if (fileLockTaken5 !== RESOLVED) await fileLockTaken5;
  const fdt = files.fdt;
  const last = Math.min(fdt.maxFds - 1, maxFd);
  for (let i = fd; i <= last; i++) fdt.closeOnExec[i] = true;
  files.fileLock.unlockNow();
}

/**
 * Models __range_close() (fs/file.c, v6.18): closes every installed fd of [fd, maxFd], the upper
 * bound cut to the table's last fd once at the start; file_lock is dropped around each
 * filp_close() and cond_resched().
 * Locking: takes file_lock, dropped around each close.
 * References: drops each closed fd's reference.
 */
async function rangeClose(files: FilesStruct, fd: number, maxFd: number): Promise<void> {
  const fileLockTaken6 = files.fileLock.lock();
  if (fileLockTaken6 !== RESOLVED) await fileLockTaken6;
  const last = Math.min(maxFd, files.fdt.maxFds - 1);
  for (let i = fd; i <= last; i++) {
    const file = fileCloseFdLocked(files, i);
    if (file !== null) {
      files.fileLock.unlockNow();
      await filpClose(file, files);
      await point("cond_resched");
      const fileLockTaken7 = files.fileLock.lock();
      if (fileLockTaken7 !== RESOLVED) await fileLockTaken7;
    }
  }
  files.fileLock.unlockNow();
}

/** Models struct fd_range: the fds [from, to] close_range() is about to close. */
interface FdRange {
  from: number;
  to: number;
}

/** Models find_last_bit(fdt->open_fds, size): the last open fd below `size`, or `size`. */
function findLastOpenFd(fdt: FdTable, size: number): number {
  for (let i = Math.min(size, fdt.maxFds) - 1; i >= 0; i--) if (fdt.openFds[i]) return i;
  return size;
}

/**
 * Models sane_fdtable_size() (fs/file.c, v6.18): how many slots a copy of `fdt` needs, a
 * multiple of BITS_PER_LONG (NR_OPEN_DEFAULT); open fds inside `punchHole` (about to be closed)
 * do not count when they are the last ones.
 */
function saneFdtableSize(fdt: FdTable, punchHole: FdRange | null): number {
  let last = findLastOpenFd(fdt, fdt.maxFds);
  if (last === fdt.maxFds) return NR_OPEN_DEFAULT;
  if (punchHole !== null && punchHole.to >= last && punchHole.from <= last) {
    last = findLastOpenFd(fdt, punchHole.from);
    if (last === punchHole.from) return NR_OPEN_DEFAULT;
  }
  return Math.ceil((last + 1) / NR_OPEN_DEFAULT) * NR_OPEN_DEFAULT;
}

/**
 * Models dup_fd(oldf, punch_hole) (fs/file.c, v6.18): a new table (one user) holding a reference
 * to every file installed in `oldf`'s first sane_fdtable_size() slots, with their open and
 * close-on-exec bits; a slot reserved but not yet installed is left free in the copy. A larger
 * table is allocated with oldf's lock dropped, and the size is computed again. The process's
 * RLIMIT_NOFILE cell is shared. -ENOMEM when a table allocation fails (the files_struct's own
 * kmem_cache_alloc() is not modeled as failing).
 *
 * Locking: takes oldf->file_lock (dropped while a larger table is allocated).
 * References: one on each copied file.
 */
async function dupFd(oldf: FilesStruct, punchHole: FdRange | null): Promise<FilesStruct | number> {
  const newf = new FilesStruct(`${oldf.name}(unshared)`, oldf.rlim);
  let newFdt = newf.fdtab;
  const fileLockTaken8 = oldf.fileLock.lock();
  if (fileLockTaken8 !== RESOLVED) await fileLockTaken8;
  let oldFdt = oldf.fdt;
  let openFiles = saneFdtableSize(oldFdt, punchHole);
  while (openFiles > newFdt.maxFds) {
    oldf.fileLock.unlockNow();
    if (newFdt !== newf.fdtab) kfree(newFdt);
    const fdt = allocFdtable(openFiles);
    if (typeof fdt === "number") return fdt; // ERR_CAST(new_fdt)
    newFdt = fdt;
    const fileLockTaken9 = oldf.fileLock.lock();
    if (fileLockTaken9 !== RESOLVED) await fileLockTaken9;
    oldFdt = oldf.fdt;
    openFiles = saneFdtableSize(oldFdt, punchHole);
  }
  // copy_fd_bitmaps(new_fdt, old_fdt, open_files / BITS_PER_LONG)
  for (let i = 0; i < openFiles; i++) {
    newFdt.openFds[i] = oldFdt.openFds[i]!;
    newFdt.closeOnExec[i] = oldFdt.closeOnExec[i]!;
  }
  for (let i = 0; i < openFiles; i++) {
    const f = oldFdt.fd[i]!;
    if (f !== null) await getFile(f);
    else newFdt.openFds[i] = false;
    newFdt.fd[i] = f;
  }
  oldf.fileLock.unlockNow();
  newf.fdt = newFdt;
  return newf;
}

/**
 * Models SYSCALL_DEFINE3(close_range) (fs/file.c, v6.18), close_range(2): -EINVAL for flags other
 * than CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC or for fd > maxFd (both `unsigned int`s); with
 * CLOSE_RANGE_UNSHARE and a table shared with other threads, the calling thread first gets a
 * private copy (dup_fd(): the fds to be closed are not copied past the last one kept, unless
 * CLOSE_RANGE_CLOEXEC), works on it, then installs it and puts the shared one. Then either sets
 * close-on-exec on the range (CLOSE_RANGE_CLOEXEC) or closes every installed fd in it. 0, or
 * dup_fd()'s -ENOMEM; errors of the individual closes are ignored.
 *
 * Locking: takes file_lock (of the shared table while copying it); task_lock() around the
 * switch of current->files is not modeled.
 * References: drops each closed fd's reference; an unshare takes one per copied file and drops
 * the thread's use of the shared table.
 */
export async function doSysCloseRange(fd: number, maxFd: number, flags: number): Promise<number> {
  const me = currentTask();
  let curFds = currentFiles();
  if (me === null || curFds === null) return -EBADF;
  const uflags = uintArg(flags);
  if (uflags === null || (uflags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) !== 0)
    return -EINVAL;
  const from = uintArg(fd);
  const to = uintArg(maxFd);
  if (from === null || to === null || from > to) return -EINVAL;
  let fds: FilesStruct | null = null;
  if (uflags & CLOSE_RANGE_UNSHARE && (await curFds.count.read()) > 1) {
    // With CLOSE_RANGE_CLOEXEC every fd is copied: the caller still wants to use them.
    const punchHole = uflags & CLOSE_RANGE_CLOEXEC ? null : { from, to };
    const copy = await dupFd(curFds, punchHole);
    if (typeof copy === "number") return copy;
    fds = curFds;
    curFds = copy;
  }
  if (uflags & CLOSE_RANGE_CLOEXEC) await rangeCloexec(curFds, from, to);
  else await rangeClose(curFds, from, to);
  if (fds !== null) {
    setTaskFiles(me, curFds);
    await putFilesStruct(fds);
  }
  return 0;
}

/**
 * Models receive_fd(file, NULL, o_flags) (SCM_RIGHTS, pidfd_getfd): installs a new reference
 * to `file` at the lowest free fd of the current process. The fd or a negative errno; the
 * caller keeps its own reference either way.
 *
 * Locking: takes file_lock.
 * References: takes one for the new fd.
 */
export async function receiveFd(file: File, oFlags: number): Promise<number> {
  const newFd = await getUnusedFdFlags(oFlags);
  if (newFd < 0) return newFd;
  const fdInstallDone = fdInstall(newFd, await getFile(file));
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  return newFd;
}

/**
 * Models close_files() + the frees of put_files_struct(): closes every installed fd of a table
 * nobody uses anymore, then frees a grown table.
 *
 * Locking: none needed: the last user of the table is exiting.
 * References: drops every fd's reference.
 */
async function closeFiles(files: FilesStruct): Promise<void> {
  const fdt = files.fdt;
  for (let i = 0; i < fdt.maxFds; i++) {
    if (!fdt.openFds[i]) continue;
    const file = fdt.fd[i]!;
    fdt.fd[i] = null;
    fdt.openFds[i] = false;
    if (file !== null) {
      await filpClose(file, files);
      await point("cond_resched");
    }
  }
  files.nextFd = 0;
  if (fdt !== files.fdtab) {
    files.fdt = files.fdtab;
    kfree(fdt);
  }
}

/**
 * Models put_files_struct(): drops one user of the table; the last closes every fd.
 *
 * Locking: none held.
 * References: drops the caller's use of `files`.
 */
export async function putFilesStruct(files: FilesStruct): Promise<void> {
  if (await files.count.decAndTest()) await closeFiles(files);
}

/**
 * Models exit_files(tsk): detaches the table from the exiting task and puts it.
 *
 * Locking: none held (do_exit()).
 * References: drops the task's use of its table.
 */
export async function exitFiles(task: Task): Promise<void> {
  const files = taskFiles.get(task);
  if (files === null) return;
  taskFiles.set(task, null);
  await putFilesStruct(files);
}

/**
 * Models get_file_active(f) (fs/file.c, v6.18) and the __get_file_rcu() it calls: a reference on
 * the file the pointer `*f` names, for a pointer that holds no reference of its own but is
 * cleared (or changed) before that file is freed. Under rcu_read_lock(): load the pointer (null:
 * no file); file_ref_get() on the file living at that memory (files are SLAB_TYPESAFE_BY_RCU: a
 * freed one reads zero, one recycled since is another file: fileRefGetRcu()); fail if it reads
 * zero; then load the pointer again: if it no longer names that file (it was cleared before the
 * free, so the memory may have been reused), drop the reference (fput()) and fail.
 * get_file_active() maps __get_file_rcu()'s -EAGAIN to NULL without retrying, as here.
 * `load` is the pointer's load (rcu_dereference_raw(*f)); pointers compare as addresses
 * (fileAt()), as in fgetFilesRcu().
 *
 * Locking: takes and drops rcu_read_lock().
 * References: one on the file returned; none on failure.
 */
export async function getFileActive(load: () => File | null): Promise<File | null> {
  const rcuReadLockDone = rcuReadLock();
  if (rcuReadLockDone !== RESOLVED) await rcuReadLockDone;
  try {
    const file = load();
    if (file === null) return null;
    // file_ref_get(): its point is the window between the load and the get.
    const got = await fileRefGetRcu(file);
    if (got === null) return null;
    // "If the pointers don't match the file has been reallocated by SLAB_TYPESAFE_BY_RCU."
    const reloaded = load();
    if (reloaded === null || fileAt(reloaded) !== got) {
      const fputDone4 = fput(got);
      if (fputDone4 !== RESOLVED) await fputDone4;
      return null;
    }
    return got;
  } finally {
    const rcuReadUnlockDone2 = rcuReadUnlock();
    if (rcuReadUnlockDone2 !== RESOLVED) await rcuReadUnlockDone2;
  }
}
