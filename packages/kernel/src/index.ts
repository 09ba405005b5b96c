/**
 * @primetime/kernel: core kernel services (see README.md). Memory: slab, KASAN, kmemleak,
 * failslab. Locking: mutex, spinlock, lockdep. Each concept lives in its own file; the other
 * parts of the package add their `export *` lines below.
 */

export * from "./chrdev.js";
export * from "./errno.js";
export {
  allocationCount,
  enumerateFailNth,
  type FailNthRun,
  type FailslabOptions,
  type InjectedFailure,
  injectedFailures,
  setFailslab,
  shouldFail,
} from "./failslab.js";
export * from "./fdtable.js";
export * from "./file.js";
export * from "./idr.js";
export * from "./ioctl.js";
export {
  type KasanBugType,
  kasanFull,
  kasanProxy,
  kasanReport,
  kasanUnwrap,
  setKasanFull,
} from "./kasan.js";
export * from "./kernel.js";
export { type KmemleakScanOptions, kmemleakNotLeak, kmemleakScan } from "./kmemleak.js";
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
  lockdepAssertNotHeld,
  lockdepCheckReturnToUser,
  lockdepDependencies,
  lockIsHeld,
  lockRelease,
} from "./lockdep.js";
export * from "./mm.js";
export * from "./mmap-lock.js";
export { Mutex } from "./mutex.js";
export * from "./poll.js";
export * from "./process.js";
export * from "./scm.js";
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
} from "./slab.js";
export { inAtomic, type LockOptions, mightSleep, preemptCount, SpinLock } from "./spinlock.js";
export * from "./syscalls.js";
export * from "./task-work.js";
export * from "./vma.js";
export * from "./workqueue.js";
