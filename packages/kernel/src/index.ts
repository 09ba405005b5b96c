/**
 * @primetime/kernel: core kernel services (see README.md). The directories follow the kernel
 * tree: mm/ (slab, mm/kasan, kmemleak, failslab, mm_struct, VMAs, mmap_lock), fs/ (files, fd
 * tables, character devices, ioctl, poll), locking/ (mutex, ww_mutex, spinlock, lockdep and its reports),
 * lib/ (idr), kernel/ (processes, syscalls, task work, workqueues), net/ (SCM_RIGHTS, unix sockets and their garbage collector), init/ (the
 * Kernel machine) and include/ (errno). Each concept lives in its own file.
 */

export * from "./fs/chrdev.js";
export * from "./fs/d-path.js";
export * from "./fs/dcache.js";
export * from "./fs/eventpoll.js";
export * from "./fs/fdtable.js";
export * from "./fs/file.js";
export * from "./fs/inode.js";
export * from "./fs/ioctl.js";
export { fileCloneOpen } from "./fs/open.js";
export * from "./fs/poll.js";
export * from "./fs/proc/fd.js";
export * from "./fs/stat.js";
export * from "./fs/super.js";
export * from "./include/errno.js";
export * from "./include/net/af-unix.js";
export * from "./init/kernel.js";
export * from "./kernel/cred.js";
export * from "./kernel/process.js";
export * from "./kernel/signal.js";
export * from "./kernel/syscalls.js";
export * from "./kernel/task-work.js";
export * from "./kernel/workqueue.js";
export * from "./lib/idr.js";
export * from "./lib/usercopy.js";
export {
  type AcquireOptions,
  debugCheckNoLocksFreed,
  formatHeldLocks,
  heldLocks,
  type LockClass,
  LockClassKey,
  type LockContext,
  type LockdepLock,
  LockdepMap,
  type LockKind,
  lockAcquire,
  lockClassOf,
  lockContext,
  lockdepAssertHeld,
  lockdepAssertHeldWrite,
  lockdepAssertNotHeld,
  lockdepCheckReturnToUser,
  lockdepDependencies,
  lockIsHeld,
  lockRelease,
} from "./locking/lockdep.js";
export { Mutex } from "./locking/mutex.js";
export {
  inAtomic,
  type LockOptions,
  mightSleep,
  preemptCount,
  SpinLock,
} from "./locking/spinlock.js";
export {
  defineWdClass,
  defineWwClass,
  WwAcquireCtx,
  WwClass,
  WwMutex,
  wwAcquireDone,
  wwAcquireFini,
  wwAcquireInit,
  wwMutexHeld,
  wwMutexIsLocked,
  wwMutexLock,
  wwMutexLockInterruptible,
  wwMutexLockSlow,
  wwMutexLockSlowInterruptible,
  wwMutexTrylock,
  wwMutexUnlock,
} from "./locking/ww-mutex.js";
export {
  allocationCount,
  enumerateFailNth,
  type FailNthRun,
  type FailslabOptions,
  type InjectedFailure,
  injectedFailures,
  setFailslab,
  shouldFail,
} from "./mm/failslab.js";
export {
  type KasanBugType,
  kasanFull,
  kasanMultiShot,
  kasanProxy,
  kasanReport,
  kasanRestoreMultiShot,
  kasanSaveEnableMultiShot,
  kasanSetMultiShot,
  kasanUnwrap,
  setKasanFull,
  setKasanMultiShot,
} from "./mm/kasan/kasan.js";
export {
  type KmemleakScanOptions,
  kmemleakNotLeak,
  kmemleakReferenced,
  kmemleakScan,
} from "./mm/kmemleak.js";
export * from "./mm/mm.js";
export * from "./mm/mmap-lock.js";
export * from "./mm/page-alloc.js";
export * from "./mm/shmem.js";
export {
  KmemCache,
  kfree,
  kfreeRcu,
  kmalloc,
  kmemCacheAlloc,
  kmemCacheCreate,
  kmemCacheFree,
  kzalloc,
  liveObjects,
  SlabObject,
  slabStats,
} from "./mm/slab.js";
export * from "./mm/vma.js";
export * from "./net/af-unix.js";
export * from "./net/garbage.js";
export * from "./net/scm.js";
