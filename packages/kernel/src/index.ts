/**
 * @primetime/kernel: core kernel services (see README.md). Memory: slab, KASAN, kmemleak,
 * failslab. Locking: mutex, spinlock, lockdep. Each concept lives in its own file; the other
 * parts of the package add their `export *` lines below.
 */

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
export {
  type KasanBugType,
  kasanFull,
  kasanProxy,
  kasanReport,
  kasanUnwrap,
  setKasanFull,
} from "./kasan.js";
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
export { Mutex } from "./mutex.js";
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
export * from "./idr.js";
export * from "./workqueue.js";
