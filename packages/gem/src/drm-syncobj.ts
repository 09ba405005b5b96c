/**
 * DRM sync objects (drivers/gpu/drm/drm_syncobj.c, Linux v6.18): a container for a dma_fence
 * that userspace names by a per-file handle or shares as an fd, for drivers with
 * DRIVER_SYNCOBJ. This models the binary syncobj: CREATE (optionally signalled), DESTROY,
 * HANDLE_TO_FD / FD_TO_HANDLE (an opaque "syncobj_file", or a sync_file with the EXPORT/IMPORT
 * flags), WAIT (any or all, WAIT_FOR_SUBMIT, absolute CLOCK_MONOTONIC timeouts in virtual time),
 * RESET and SIGNAL; and with DRIVER_SYNCOBJ_TIMELINE the timeline ioctls (TIMELINE_WAIT,
 * QUERY, TRANSFER, TIMELINE_SIGNAL): a point is a dma_fence_chain node (dma-buf's
 * dma-fence-chain.ts) appended by drm_syncobj_add_point(). Not modelled: SYNCOBJ_EVENTFD,
 * deadline hints. The waits sleep TASK_INTERRUPTIBLE: a fatal signal (@primetime/kernel's
 * signal.ts) wakes them and they return -ERESTARTSYS after their cleanup.
 *
 * Who holds what:
 * - `refcount` (a kref): each handle (the file's syncobj_idr entry), each syncobj file (from
 *   HANDLE_TO_FD), each lookup (drm_syncobj_find(), put by the caller). The last put replaces
 *   the fence with NULL (dropping it) and frees the syncobj.
 * - `fence` holds one fence reference (for a timeline, the last chain node, which holds the rest). It is replaced under `lock` (drm_syncobj_replace_fence())
 *   and read under RCU with dma_fence_get_rcu_safe() (drm_syncobj_fence_get()), so a reader
 *   racing a replacement either gets the old fence with a reference or retries.
 * - waiters for a fence to be *submitted* (WAIT_FOR_SUBMIT) queue an entry on `cbList` under
 *   `lock`; replacing the fence hands each its own fence reference and wakes it.
 */

import { Kref } from "@primetime/atomics";
import {
  type DmaFence,
  DmaFenceCb,
  type DmaFenceChain,
  dmaFenceAddCallback,
  dmaFenceAllocatePrivateStub,
  dmaFenceArrayCreate,
  dmaFenceChainAlloc,
  dmaFenceChainFindSeqno,
  dmaFenceChainForEach,
  dmaFenceChainInit,
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFenceGetRcu,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceRemoveCallback,
  dmaFenceUnwrap,
  MAX_SCHEDULE_TIMEOUT,
  syncFileCreate,
  syncFileGetFence,
  toDmaFenceChain,
} from "@primetime/dma-buf";
import {
  accessVm,
  anonInodeGetfile,
  currentMm,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOMEM,
  EOPNOTSUPP,
  ERESTARTSYS,
  ETIME,
  type File,
  type FileOperations,
  fdInstall,
  fget,
  fileOperations,
  fput,
  getUnusedFdFlags,
  type Inode,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  O_CLOEXEC,
  putUnusedFd,
  SlabObject,
  SpinLock,
  scheduleOn,
  scheduleTimeoutOn,
  signalPending,
} from "@primetime/kernel";
import { rcuReadLock, rcuReadUnlock } from "@primetime/rcu";
import { now, point, RESOLVED, TASK_INTERRUPTIBLE, toggleEnabled, WaitQueue } from "@primetime/sim";
import {
  DRM_SYNCOBJ_CREATE_SIGNALED,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE,
  DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
  type DrmSyncobjArray,
  type DrmSyncobjCreate,
  type DrmSyncobjDestroy,
  type DrmSyncobjHandle,
  type DrmSyncobjTimelineArray,
  type DrmSyncobjTimelineWait,
  type DrmSyncobjTransfer,
  type DrmSyncobjWait,
} from "@primetime/uapi";
import type { DrmDevice } from "./drm-device.js";
import { DRIVER_SYNCOBJ, DRIVER_SYNCOBJ_TIMELINE, drmCoreCheckFeature } from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";
import {
  GEM_SYNCOBJ_FIND_FENCE_EARLY_PUT,
  GEM_SYNCOBJ_HANDLE_TO_FD_EXTRA_GET,
  GEM_SYNCOBJ_SHARED_FILE,
} from "./toggles.js";

/** The slab cache of struct drm_syncobj. */
export const drmSyncobjCache = new KmemCache("drm_syncobj");

/**
 * Models struct drm_syncobj.
 *
 * Locking: `lock` (a spinlock) protects `fence` updates and `cbList`; readers of `fence` use
 * RCU (drmSyncobjFenceGet()).
 * References: see the file comment.
 */
export class DrmSyncobj extends SlabObject {
  /** Models refcount. */
  readonly refcount: Kref;
  /** Models fence (__rcu): the current fence, holding a reference, or null. */
  fence: DmaFence | null = null;
  /** Models cb_list: WAIT_FOR_SUBMIT waiters without a fence yet. */
  readonly cbList: SyncobjWaitEntry[] = [];
  /** Models lock. */
  readonly lock: SpinLock;
  /**
   * Models file of v4.13-v4.14 (toggle gem.syncobj-shared-file only): the export file cached by
   * drm_syncobj_alloc_file(), holding no file reference; never cleared.
   */
  file: File | null = null;

  constructor() {
    super(drmSyncobjCache);
    this.refcount = new Kref(this);
    this.lock = new SpinLock("syncobj->lock", { owner: this });
  }
}

/**
 * Models struct syncobj_wait_entry: one waiter on one syncobj. `task` is modelled by a wait
 * queue and a `woken` flag (set_current_state(TASK_INTERRUPTIBLE) clears it, wake_up_process()
 * sets it, so a wakeup between the checks and schedule_timeout() is not lost).
 */
class SyncobjWaitEntry {
  /** Models node: queued on a syncobj's cb_list. */
  onList = false;
  /** Models fence: the fence waited on, with a reference, or null until one is submitted. */
  fence: DmaFence | null = null;
  /** Models fence_cb. */
  readonly fenceCb = new DmaFenceCb("syncobj_wait_fence_func");
  /** Models point: the timeline point waited for (0 for a binary syncobj). */
  point = 0;

  constructor(readonly task: WaitTask) {}
}

/** current, as a waiter sees it: a wait queue and its task state. */
class WaitTask {
  readonly wq = new WaitQueue("drm_syncobj_wait");
  /** false after set_current_state(TASK_INTERRUPTIBLE), true after wake_up_process(). */
  woken = false;

  /** Models wake_up_process(). */
  wakeUp(): void {
    this.woken = true;
    this.wq.wakeAll();
  }

  /**
   * Models schedule_timeout() in TASK_INTERRUPTIBLE: returns at once (time unchanged) if woken
   * since the state was set, or if a signal is pending (__schedule() does not sleep then); else
   * sleeps until woken (a kill wakes it too) or `timeout` ns pass and returns the time left (0:
   * timed out).
   */
  async scheduleTimeout(timeout: number): Promise<number> {
    if (this.woken) return timeout;
    if (timeout >= MAX_SCHEDULE_TIMEOUT - 1) {
      await scheduleOn(this.wq, TASK_INTERRUPTIBLE, "drm_syncobj_array_wait_timeout");
      return timeout;
    }
    const start = now();
    const woken = await scheduleTimeoutOn(
      this.wq,
      timeout,
      TASK_INTERRUPTIBLE,
      "drm_syncobj_array_wait_timeout",
    );
    if (!woken) return 0;
    return Math.max(1, timeout - (now() - start));
  }
}

/**
 * Models dma_fence_get_stub(): a signalled fence. The kernel hands out one shared, static stub;
 * here each call allocates a private one (dma_fence_allocate_private_stub()), which behaves the
 * same for every reader (signalled, no callbacks) and is freed with its last reference.
 * Locking: takes the stub lock.
 * References: returns one.
 */
async function dmaFenceGetStub(): Promise<DmaFence> {
  const fence = await dmaFenceAllocatePrivateStub();
  if (!fence) throw new Error("dma_fence_get_stub: allocation failed");
  return fence;
}

/**
 * Models drm_syncobj_get().
 * Locking: none; the caller holds a reference.
 * References: takes one.
 */
export async function drmSyncobjGet(syncobj: DrmSyncobj): Promise<void> {
  const getDone = syncobj.refcount.get();
  if (getDone !== RESOLVED) await getDone;
}

/**
 * Models drm_syncobj_put(): the last put frees the syncobj (drm_syncobj_free()).
 * Locking: none.
 * References: drops one.
 */
export async function drmSyncobjPut(syncobj: DrmSyncobj): Promise<void> {
  await syncobj.refcount.put(() => drmSyncobjFree(syncobj));
}

/**
 * Models drm_syncobj_free(): drops the fence (replace with NULL) and frees the syncobj.
 * Locking: takes syncobj->lock.
 * References: the last one is gone.
 */
async function drmSyncobjFree(syncobj: DrmSyncobj): Promise<void> {
  await drmSyncobjReplaceFence(syncobj, null);
  kfree(syncobj);
}

/**
 * Models drm_syncobj_find(): the syncobj of `handle` in `file`, with a reference, or null.
 * Locking: takes file->syncobj_table_lock.
 * References: returns one (the caller puts it).
 */
export async function drmSyncobjFind(file: DrmFile, handle: number): Promise<DrmSyncobj | null> {
  const syncobjTableLockTaken = file.syncobjTableLock.lock();
  if (syncobjTableLockTaken !== RESOLVED) await syncobjTableLockTaken;
  // Check if we currently have a reference on the object
  const syncobj = await file.syncobjIdr.find(handle);
  if (syncobj) await drmSyncobjGet(syncobj);
  file.syncobjTableLock.unlockNow();
  return syncobj;
}

/**
 * Models drm_syncobj_fence_get(): the current fence with a reference (dma_fence_get_rcu_safe():
 * retried if the fence was replaced, or its last reference dropped, while it was being taken),
 * or null.
 * Locking: takes rcu_read_lock().
 * References: returns one.
 */
export async function drmSyncobjFenceGet(syncobj: DrmSyncobj): Promise<DmaFence | null> {
  const rcuReadLockDone = rcuReadLock();
  if (rcuReadLockDone !== RESOLVED) await rcuReadLockDone;
  let fence: DmaFence | null;
  for (;;) {
    await point(`rcu_dereference(${syncobj.name}.fence)`);
    fence = syncobj.fence;
    if (!fence) break;
    if (!(await dmaFenceGetRcu(fence))) continue;
    await point(`rcu_access_pointer(${syncobj.name}.fence)`);
    if (fence === syncobj.fence) break;
    const dmaFencePutDone = dmaFencePut(fence);
    if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  }
  const rcuReadUnlockDone = rcuReadUnlock();
  if (rcuReadUnlockDone !== RESOLVED) await rcuReadUnlockDone;
  return fence;
}

/**
 * Models syncobj_wait_syncobj_func(): a WAIT_FOR_SUBMIT waiter gets the new fence (with its own
 * reference), is woken and leaves the list; with no fence it stays queued.
 * Locking: syncobj->lock held.
 * References: takes one on the fence for the waiter.
 */
async function syncobjWaitSyncobjFunc(syncobj: DrmSyncobj, wait: SyncobjWaitEntry): Promise<void> {
  lockdepAssertHeld(syncobj.lock);
  // This happens inside the syncobj lock
  const pf = { fence: await dmaFenceGet(syncobj.fence) };
  if (!pf.fence || (await dmaFenceChainFindSeqno(pf, wait.point))) {
    const dmaFencePutDone2 = dmaFencePut(pf.fence);
    if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
    return;
  }
  wait.fence = pf.fence ?? (await dmaFenceGetStub());
  wait.task.wakeUp();
  const i = syncobj.cbList.indexOf(wait);
  if (i >= 0) syncobj.cbList.splice(i, 1);
  wait.onList = false;
}

/**
 * Models drm_syncobj_replace_fence(): installs `fence` (taking a reference; null resets),
 * hands it to the queued WAIT_FOR_SUBMIT waiters if it changed, and drops the old fence's
 * reference after the lock.
 * Locking: takes syncobj->lock.
 * References: takes one on `fence`, drops the old fence's.
 */
export async function drmSyncobjReplaceFence(
  syncobj: DrmSyncobj,
  fence: DmaFence | null,
): Promise<void> {
  if (fence) await dmaFenceGet(fence);
  const lockTaken = syncobj.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  const oldFence = syncobj.fence;
  await point(`rcu_assign_pointer(${syncobj.name}.fence)`);
  syncobj.fence = fence;
  if (fence !== oldFence) {
    for (const cur of [...syncobj.cbList]) await syncobjWaitSyncobjFunc(syncobj, cur);
  }
  syncobj.lock.unlockNow();
  const dmaFencePutDone3 = dmaFencePut(oldFence);
  if (dmaFencePutDone3 !== RESOLVED) await dmaFencePutDone3;
}

/**
 * Models drm_syncobj_add_point(): appends `fence` at timeline point `point`: `chain` (a node from
 * dma_fence_chain_alloc()) is initialized after the current fence and installed, queued
 * WAIT_FOR_SUBMIT waiters are handed their points, and the chain is walked once so that
 * signalled points are collected. A point not after the last one is accepted (the kernel only
 * logs it); QUERY may then report 0.
 * Locking: takes syncobj->lock (the fence read under it).
 * References: the node takes one on `fence` (taken here) and the syncobj's on the old fence;
 * the syncobj holds the node's first; the lookup of the old fence is dropped after the walk.
 */
export async function drmSyncobjAddPoint(
  syncobj: DrmSyncobj,
  chain: DmaFenceChain,
  fence: DmaFence,
  pt: number,
): Promise<void> {
  await dmaFenceGet(fence);
  const lockTaken2 = syncobj.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  const prev = await drmSyncobjFenceGet(syncobj);
  // You are adding an unorder point to timeline, which could cause payload returned from
  // query_ioctl is 0! (the kernel only logs it)
  // The node takes over the syncobj's reference on the old fence and its own on `fence`; the
  // syncobj's is now the node's first.
  dmaFenceChainInit(chain, prev, fence, pt);
  await point(`rcu_assign_pointer(${syncobj.name}.fence)`);
  syncobj.fence = chain;
  for (const cur of [...syncobj.cbList]) await syncobjWaitSyncobjFunc(syncobj, cur);
  syncobj.lock.unlockNow();
  // Walk the chain once to trigger garbage collection
  await dmaFenceChainForEach(prev, () => true);
  const dmaFencePutDone4 = dmaFencePut(prev);
  if (dmaFencePutDone4 !== RESOLVED) await dmaFencePutDone4;
}

/**
 * Models drm_syncobj_assign_null_handle(): installs a new, already signalled fence
 * (dma_fence_allocate_private_stub(ktime_get())). -ENOMEM.
 * Locking: takes syncobj->lock.
 * References: the syncobj keeps the only fence reference.
 */
async function drmSyncobjAssignNullHandle(syncobj: DrmSyncobj): Promise<number> {
  const fence = await dmaFenceAllocatePrivateStub();
  if (!fence) return -ENOMEM;
  await drmSyncobjReplaceFence(syncobj, fence);
  const dmaFencePutDone5 = dmaFencePut(fence);
  if (dmaFencePutDone5 !== RESOLVED) await dmaFencePutDone5;
  return 0;
}

/** Models DRM_SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT: how long find_fence waits for a submission (5 s). */
const DRM_SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT = 5_000_000_000;

/**
 * Models drm_syncobj_find_fence(): the fence of `handle` at timeline point `pt` (the chain node
 * that signals it; a signalled stub if the point has signalled and been collected), with a
 * reference. -ENOENT for a bad handle; -EINVAL if the syncobj has no fence or has not reached
 * the point, unless `flags` has WAIT_FOR_SUBMIT: then it waits (up to 5 s, -ETIME) for the point
 * to be submitted, or until a signal is pending (-ERESTARTSYS).
 * Toggle gem.syncobj-find-fence-early-put: the lookup reference is dropped right after
 * drm_syncobj_fence_get(), as v5.2-v5.10 did, so the WAIT_FOR_SUBMIT path runs on a syncobj
 * only the handle keeps alive.
 * Locking: see drmSyncobjFind(), drmSyncobjFenceGet(); may sleep with WAIT_FOR_SUBMIT.
 * References: returns one on the fence; the lookup's is dropped after the wait (at `out:`).
 */
export async function drmSyncobjFindFence(
  file: DrmFile,
  handle: number,
  pt: number,
  flags = 0,
): Promise<DmaFence | number> {
  const syncobj = await drmSyncobjFind(file, handle);
  if (!syncobj) return -ENOENT;
  let ret: DmaFence | number = -EINVAL;
  // v5.2-v5.10 put the lookup reference here, before the WAIT_FOR_SUBMIT path below that still
  // uses the syncobj (a37eef63bc9e moved it to `out:`).
  const earlyPut = toggleEnabled(GEM_SYNCOBJ_FIND_FENCE_EARLY_PUT.name);
  // biome-ignore lint/suspicious/noConfusingLabels: the labelled block is the kernel's `goto out`
  out: {
    const pf = { fence: await drmSyncobjFenceGet(syncobj) };
    if (earlyPut) await drmSyncobjPut(syncobj);
    if (pf.fence) {
      if ((await dmaFenceChainFindSeqno(pf, pt)) === 0) {
        // If the requested seqno is already signaled drm_syncobj_find_fence may return a NULL
        // fence. To make sure the recipient gets signalled, use a new fence instead.
        ret = pf.fence ?? (await dmaFenceGetStub());
        break out;
      }
      const dmaFencePutDone6 = dmaFencePut(pf.fence);
      if (dmaFencePutDone6 !== RESOLVED) await dmaFencePutDone6;
    }
    ret = -EINVAL;
    if (!(flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT)) break out;
    const task = new WaitTask();
    const wait = new SyncobjWaitEntry(task);
    wait.point = pt;
    await drmSyncobjFenceAddWait(syncobj, wait);
    let timeout = DRM_SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT;
    for (;;) {
      task.woken = false; // set_current_state(TASK_INTERRUPTIBLE)
      if (wait.fence) {
        ret = wait.fence;
        break;
      }
      if (timeout === 0) {
        ret = -ETIME;
        break;
      }
      if (signalPending()) {
        ret = -ERESTARTSYS;
        break;
      }
      timeout = await task.scheduleTimeout(timeout);
    }
    await drmSyncobjRemoveWait(syncobj, wait);
  }
  if (!earlyPut) await drmSyncobjPut(syncobj);
  return ret;
}

/**
 * Models drm_syncobj_create(): a new syncobj with one reference (the caller's); signalled if
 * DRM_SYNCOBJ_CREATE_SIGNALED; holding `fence` if given. -ENOMEM.
 * Locking: none; the syncobj is not visible yet.
 * References: returns the creator's reference.
 */
export async function drmSyncobjCreate(
  flags: number,
  fence: DmaFence | null,
): Promise<DrmSyncobj | number> {
  await point("kzalloc(drm_syncobj)");
  const syncobj = kmalloc(drmSyncobjCache, () => new DrmSyncobj());
  if (isErr(syncobj)) return syncobj;
  syncobj.refcount.init();
  if (flags & DRM_SYNCOBJ_CREATE_SIGNALED) {
    const ret = await drmSyncobjAssignNullHandle(syncobj);
    if (ret < 0) {
      await drmSyncobjPut(syncobj);
      return ret;
    }
  }
  if (fence) await drmSyncobjReplaceFence(syncobj, fence);
  return syncobj;
}

/**
 * Models drm_syncobj_get_handle(): a handle of `file` for `syncobj` (from 1). -ENOMEM, -ENOSPC.
 * Locking: takes file->syncobj_table_lock.
 * References: the handle takes its own reference.
 */
export async function drmSyncobjGetHandle(file: DrmFile, syncobj: DrmSyncobj): Promise<number> {
  // take a reference to put in the idr
  await drmSyncobjGet(syncobj);
  const syncobjTableLockTaken2 = file.syncobjTableLock.lock();
  if (syncobjTableLockTaken2 !== RESOLVED) await syncobjTableLockTaken2;
  const ret = await file.syncobjIdr.alloc(syncobj, 1, 0);
  file.syncobjTableLock.unlockNow();
  if (ret < 0) {
    await drmSyncobjPut(syncobj);
    return ret;
  }
  return ret;
}

/** Models drm_syncobj_create_as_handle(). */
async function drmSyncobjCreateAsHandle(file: DrmFile, flags: number): Promise<number> {
  const syncobj = await drmSyncobjCreate(flags, null);
  if (typeof syncobj === "number") return syncobj;
  const ret = await drmSyncobjGetHandle(file, syncobj);
  await drmSyncobjPut(syncobj);
  return ret;
}

/**
 * Models drm_syncobj_destroy(): removes `handle` (-EINVAL if it is not one).
 * Locking: takes file->syncobj_table_lock.
 * References: drops the handle's.
 */
async function drmSyncobjDestroy(file: DrmFile, handle: number): Promise<number> {
  const syncobjTableLockTaken3 = file.syncobjTableLock.lock();
  if (syncobjTableLockTaken3 !== RESOLVED) await syncobjTableLockTaken3;
  const syncobj = await file.syncobjIdr.remove(handle);
  file.syncobjTableLock.unlockNow();
  if (!syncobj) return -EINVAL;
  await drmSyncobjPut(syncobj);
  return 0;
}

/**
 * Models drm_syncobj_file_release(): the syncobj file's last fput drops its reference.
 * Locking: none.
 * References: drops the file's.
 */
async function drmSyncobjFileRelease(_inode: Inode | null, file: File): Promise<number> {
  await drmSyncobjPut(file.privateData as DrmSyncobj);
  return 0;
}

/** Models drm_syncobj_file_fops. */
export const drmSyncobjFileFops: FileOperations = fileOperations({
  release: drmSyncobjFileRelease,
});

/**
 * Models drm_syncobj_get_fd(): an fd (O_CLOEXEC) of a new "syncobj_file" holding a reference.
 * -EMFILE, -ENOMEM.
 * Locking: takes the fd table's lock.
 * References: the file takes one on the syncobj.
 */
export async function drmSyncobjGetFd(syncobj: DrmSyncobj): Promise<number> {
  const fd = await getUnusedFdFlags(O_CLOEXEC);
  if (fd < 0) return fd;
  const file = await anonInodeGetfile("syncobj_file", drmSyncobjFileFops, syncobj, 0);
  if (isErr(file)) {
    await putUnusedFd(fd);
    return file;
  }
  await drmSyncobjGet(syncobj);
  const fdInstallDone = fdInstall(fd, file);
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  return fd;
}

/**
 * Models drm_syncobj_handle_to_fd(): -EINVAL for a bad handle, else as drmSyncobjGetFd(). With
 * toggle gem.syncobj-shared-file the body of v4.13-v4.14
 * (drmSyncobjHandleToFdSharedFile()), with gem.syncobj-handle-to-fd-extra-get that of
 * linux-4.14.y before 4.14.201 (drmSyncobjHandleToFdExtraGet()).
 * Locking: takes file->syncobj_table_lock (the lookup) and the fd table's lock.
 * References: the new file holds one on the syncobj; the lookup's is dropped.
 */
async function drmSyncobjHandleToFd(file: DrmFile, handle: number): Promise<number> {
  const syncobj = await drmSyncobjFind(file, handle);
  if (!syncobj) return -EINVAL;
  if (toggleEnabled(GEM_SYNCOBJ_SHARED_FILE.name)) return drmSyncobjHandleToFdSharedFile(syncobj);
  if (toggleEnabled(GEM_SYNCOBJ_HANDLE_TO_FD_EXTRA_GET.name))
    return drmSyncobjHandleToFdExtraGet(syncobj);
  const ret = await drmSyncobjGetFd(syncobj);
  await drmSyncobjPut(syncobj);
  return ret;
}

/**
 * Models the rest of drm_syncobj_handle_to_fd() in linux-4.14.y from 5fb252cad61f (the backport
 * of e7cdf5c82f17, which made every export a new file) until 328ec6286a78 (4.14.201): the lookup
 * reference `syncobj` comes from drm_syncobj_find(); an fd, a new "syncobj_file", then
 * drm_syncobj_get() and fd_install(). The file keeps the lookup's reference (as upstream
 * e7cdf5c82f17 has it) and the backport's drm_syncobj_get() takes one more, which nothing drops.
 * -EMFILE, -ENOMEM (the lookup's reference dropped).
 * Locking: takes the fd table's lock.
 * References: the file takes over the lookup's; one more is taken and leaked (the bug).
 */
async function drmSyncobjHandleToFdExtraGet(syncobj: DrmSyncobj): Promise<number> {
  const fd = await getUnusedFdFlags(O_CLOEXEC);
  if (fd < 0) {
    await drmSyncobjPut(syncobj);
    return fd;
  }
  const file = await anonInodeGetfile("syncobj_file", drmSyncobjFileFops, syncobj, 0);
  if (isErr(file)) {
    await putUnusedFd(fd);
    await drmSyncobjPut(syncobj);
    return file;
  }
  // The line 328ec6286a78 removed: the lookup's reference already belongs to the file.
  await drmSyncobjGet(syncobj);
  const fdInstallDone = fdInstall(fd, file);
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  return fd;
}

/**
 * Models drm_syncobj_alloc_file() of v4.13-v4.14: a new "syncobj_file" holding a syncobj
 * reference, published in syncobj->file unless a racing export published one first (cmpxchg();
 * the loser fput()s its file, whose release drops its reference). -ENOMEM.
 * Locking: none (cmpxchg() on syncobj->file).
 * References: the file takes one on the syncobj; syncobj->file holds no file reference.
 */
async function drmSyncobjAllocFile(syncobj: DrmSyncobj): Promise<number> {
  const file = await anonInodeGetfile("syncobj_file", drmSyncobjFileFops, syncobj, 0);
  if (isErr(file)) return file;
  await drmSyncobjGet(syncobj);
  await point(`cmpxchg(${syncobj.name}.file)`);
  if (syncobj.file !== null) {
    // lost the race
    const fputDone = fput(file);
    if (fputDone !== RESOLVED) await fputDone;
  } else {
    syncobj.file = file;
  }
  return 0;
}

/**
 * Models the rest of drm_syncobj_handle_to_fd() of v4.13-v4.14 (before e7cdf5c82f17): an fd,
 * the cached syncobj->file (created on the first export) installed at it with no reference of
 * its own, and the lookup reference dropped. Every fd of the syncobj shares the file's single
 * reference, and syncobj->file outlives the file. -EMFILE, -ENOMEM.
 * Locking: takes the fd table's lock.
 * References: the fd gets no file reference (the bug); the lookup's is dropped.
 */
async function drmSyncobjHandleToFdSharedFile(syncobj: DrmSyncobj): Promise<number> {
  const fd = await getUnusedFdFlags(O_CLOEXEC);
  if (fd < 0) {
    await drmSyncobjPut(syncobj);
    return fd;
  }
  await point(`READ_ONCE(${syncobj.name}.file)`);
  if (!syncobj.file) {
    const ret = await drmSyncobjAllocFile(syncobj);
    if (ret) {
      await putUnusedFd(fd);
      await drmSyncobjPut(syncobj);
      return ret;
    }
  }
  const fdInstallDone = fdInstall(fd, syncobj.file!);
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  await drmSyncobjPut(syncobj);
  return fd;
}

/**
 * Models drm_syncobj_fd_to_handle(): a new handle for the syncobj of a syncobj file. -EINVAL
 * if `fd` is not open or not a syncobj file.
 * Locking: takes the fd table's lock, file->syncobj_table_lock.
 * References: the handle takes one; the fd's temporary file reference is dropped.
 */
async function drmSyncobjFdToHandle(file: DrmFile, fd: number): Promise<number> {
  const f = await fget(fd);
  if (!f) return -EINVAL;
  if (f.fOp !== drmSyncobjFileFops) {
    const fputDone = fput(f);
    if (fputDone !== RESOLVED) await fputDone;
    return -EINVAL;
  }
  // take a reference to put in the idr
  const syncobj = f.privateData as DrmSyncobj;
  await drmSyncobjGet(syncobj);
  const syncobjTableLockTaken4 = file.syncobjTableLock.lock();
  if (syncobjTableLockTaken4 !== RESOLVED) await syncobjTableLockTaken4;
  let ret = await file.syncobjIdr.alloc(syncobj, 1, 0);
  file.syncobjTableLock.unlockNow();
  if (ret <= 0) {
    await drmSyncobjPut(syncobj);
    if (ret === 0) ret = -EINVAL;
  }
  const fputDone2 = fput(f);
  if (fputDone2 !== RESOLVED) await fputDone2;
  return ret;
}

/**
 * Models drm_syncobj_import_sync_file_fence(): installs the sync_file's fence in `handle`, as
 * timeline point `point` if it is not 0. -EINVAL if `fd` is not a sync_file, -ENOENT for a bad
 * handle, -ENOMEM.
 * Locking: see syncFileGetFence(), drmSyncobjReplaceFence().
 * References: the syncobj takes its own fence reference; the temporary one is dropped.
 */
async function drmSyncobjImportSyncFileFence(
  file: DrmFile,
  fd: number,
  handle: number,
  point: number,
): Promise<number> {
  const fence = await syncFileGetFence(fd);
  if (!fence) return -EINVAL;
  const syncobj = await drmSyncobjFind(file, handle);
  if (!syncobj) {
    const dmaFencePutDone7 = dmaFencePut(fence);
    if (dmaFencePutDone7 !== RESOLVED) await dmaFencePutDone7;
    return -ENOENT;
  }
  if (point) {
    const chain = dmaFenceChainAlloc();
    if (!chain) return -ENOMEM;
    await drmSyncobjAddPoint(syncobj, chain, fence, point);
  } else {
    await drmSyncobjReplaceFence(syncobj, fence);
  }
  const dmaFencePutDone8 = dmaFencePut(fence);
  if (dmaFencePutDone8 !== RESOLVED) await dmaFencePutDone8;
  await drmSyncobjPut(syncobj);
  return 0;
}

/**
 * Models drm_syncobj_export_sync_file(): a sync_file fd (O_CLOEXEC) of the syncobj's fence.
 * -ENOENT bad handle, -EINVAL no fence, -ENOMEM; the reserved fd is given back on error.
 * Locking: takes the fd table's lock.
 * References: the sync_file takes one on the fence; the lookup's is dropped.
 */
async function drmSyncobjExportSyncFile(
  file: DrmFile,
  handle: number,
  point: number,
): Promise<number> {
  const fd = await getUnusedFdFlags(O_CLOEXEC);
  if (fd < 0) return fd;
  const fence = await drmSyncobjFindFence(file, handle, point);
  if (typeof fence === "number") {
    await putUnusedFd(fd);
    return fence;
  }
  const syncFile = await syncFileCreate(fence);
  const dmaFencePutDone9 = dmaFencePut(fence);
  if (dmaFencePutDone9 !== RESOLVED) await dmaFencePutDone9;
  if (!syncFile) {
    await putUnusedFd(fd);
    return -EINVAL;
  }
  const fdInstallDone2 = fdInstall(fd, syncFile.file!);
  if (fdInstallDone2 !== RESOLVED) await fdInstallDone2;
  return fd;
}

/**
 * Models drm_syncobj_open(): the file's syncobj table is set up by the DrmFile constructor
 * (idr_init_base(1) and the table spinlock).
 * Locking: none.
 * References: none.
 */
export function drmSyncobjOpen(_file: DrmFile): void {}

/**
 * Models drm_syncobj_release(): at file close, drops every handle's reference and destroys the
 * table.
 * Locking: none; nobody else can reach the file.
 * References: every handle's.
 */
export async function drmSyncobjRelease(file: DrmFile): Promise<void> {
  await file.syncobjIdr.forEach(async (_id, syncobj) => {
    await drmSyncobjPut(syncobj);
  });
  await file.syncobjIdr.destroy();
}

// ---- Ioctls ------------------------------------------------------------------------------------

/**
 * Models drm_syncobj_create_ioctl(): SYNCOBJ_CREATE. -EOPNOTSUPP without DRIVER_SYNCOBJ,
 * -EINVAL for flags other than DRM_SYNCOBJ_CREATE_SIGNALED.
 * Locking: see drmSyncobjGetHandle().
 * References: the new handle holds the syncobj.
 */
export async function drmSyncobjCreateIoctl(
  dev: DrmDevice,
  args: DrmSyncobjCreate,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) return -EOPNOTSUPP;
  // no valid flags yet
  if (args.flags & ~DRM_SYNCOBJ_CREATE_SIGNALED) return -EINVAL;
  const ret = await drmSyncobjCreateAsHandle(file, args.flags);
  if (ret < 0) return ret;
  args.handle = ret;
  return 0;
}

/**
 * Models drm_syncobj_destroy_ioctl(): SYNCOBJ_DESTROY. -EOPNOTSUPP, -EINVAL for a non-zero pad
 * or a bad handle.
 * Locking: see drmSyncobjDestroy().
 * References: drops the handle's.
 */
export async function drmSyncobjDestroyIoctl(
  dev: DrmDevice,
  args: DrmSyncobjDestroy,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) return -EOPNOTSUPP;
  // make sure padding is empty
  if (args.pad) return -EINVAL;
  return drmSyncobjDestroy(file, args.handle);
}

/**
 * Models drm_syncobj_handle_to_fd_ioctl(): SYNCOBJ_HANDLE_TO_FD. -EOPNOTSUPP; -EINVAL for a
 * non-zero pad, unknown flags, a bad handle (opaque export) or no fence (sync_file export);
 * -ENOENT for a bad handle with EXPORT_SYNC_FILE. The point is read only with the TIMELINE flag.
 * Locking: see the export functions.
 * References: the new fd holds the syncobj (or the sync_file the fence).
 */
export async function drmSyncobjHandleToFdIoctl(
  dev: DrmDevice,
  args: DrmSyncobjHandle,
  file: DrmFile,
): Promise<number> {
  const validFlags =
    DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE | DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE;
  let pt = 0;
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) return -EOPNOTSUPP;
  if (args.pad) return -EINVAL;
  if (args.flags & ~validFlags) return -EINVAL;
  if (args.flags & DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE) pt = args.point;
  let ret: number;
  if (args.flags & DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE)
    ret = await drmSyncobjExportSyncFile(file, args.handle, pt);
  else if (pt) return -EINVAL;
  else ret = await drmSyncobjHandleToFd(file, args.handle);
  if (ret < 0) return ret;
  args.fd = ret;
  return 0;
}

/**
 * Models drm_syncobj_fd_to_handle_ioctl(): SYNCOBJ_FD_TO_HANDLE. -EOPNOTSUPP; -EINVAL for a
 * non-zero pad, unknown flags, an fd that is not a syncobj file (or not a sync_file with
 * IMPORT_SYNC_FILE); -ENOENT for a bad handle with IMPORT_SYNC_FILE.
 * Locking: see the import functions.
 * References: a new handle holds the syncobj; an import's syncobj holds the fence.
 */
export async function drmSyncobjFdToHandleIoctl(
  dev: DrmDevice,
  args: DrmSyncobjHandle,
  file: DrmFile,
): Promise<number> {
  const validFlags =
    DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE | DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
  let pt = 0;
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) return -EOPNOTSUPP;
  if (args.pad) return -EINVAL;
  if (args.flags & ~validFlags) return -EINVAL;
  if (args.flags & DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE) pt = args.point;
  if (args.flags & DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE)
    return drmSyncobjImportSyncFileFence(file, args.fd, args.handle, pt);
  if (pt) return -EINVAL;
  const ret = await drmSyncobjFdToHandle(file, args.fd);
  if (ret < 0) return ret;
  args.handle = ret;
  return 0;
}

/**
 * Models copy_from_user() of `count` u32 handles at the user address `ptr` (the current
 * process's memory). The handles, or -EFAULT.
 * Locking: may fault (takes mmap_lock); no spinlock held.
 * References: none.
 */
async function copyHandlesFromUser(ptr: number, count: number): Promise<number[] | number> {
  const mm = currentMm();
  if (!mm || !Number.isSafeInteger(ptr) || ptr <= 0) return -EFAULT;
  const bytes = await accessVm(mm, ptr, count * 4, null);
  if (typeof bytes === "number") return -EFAULT;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => view.getUint32(i * 4, true));
}

/**
 * Models copy_from_user() of `count` u64 timeline points at `ptr`. The points, or -EFAULT.
 * Locking: may fault; no spinlock held.
 * References: none.
 */
async function copyPointsFromUser(ptr: number, count: number): Promise<number[] | number> {
  const mm = currentMm();
  if (!mm || !Number.isSafeInteger(ptr) || ptr <= 0) return -EFAULT;
  const bytes = await accessVm(mm, ptr, count * 8, null);
  if (typeof bytes === "number") return -EFAULT;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => Number(view.getBigUint64(i * 8, true)));
}

/**
 * Models copy_to_user() of one u64 point to `ptr`. 0 or -EFAULT.
 * Locking: may fault; no spinlock held.
 * References: none.
 */
async function copyPointToUser(ptr: number, value: number): Promise<number> {
  const mm = currentMm();
  if (!mm || !Number.isSafeInteger(ptr) || ptr <= 0) return -EFAULT;
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
  const ret = await accessVm(mm, ptr, 8, bytes);
  return typeof ret === "number" && ret < 0 ? -EFAULT : 0;
}

/**
 * Models drm_syncobj_array_find(): the syncobjs of `count` user handles, each with a reference.
 * -ENOMEM (an absurd count), -EFAULT (bad pointer), -ENOENT (a bad handle: the references taken
 * so far are dropped).
 * Locking: takes file->syncobj_table_lock per handle.
 * References: returns one per syncobj (drmSyncobjArrayFree() drops them).
 */
async function drmSyncobjArrayFind(
  file: DrmFile,
  userHandles: number,
  count: number,
): Promise<DrmSyncobj[] | number> {
  // kmalloc_array(): the handles and the pointers (a few MiB is the slab's limit).
  if (count > 0x10_0000) return -ENOMEM;
  const handles = await copyHandlesFromUser(userHandles, count);
  if (typeof handles === "number") return handles;
  const syncobjs: DrmSyncobj[] = [];
  for (const h of handles) {
    const s = await drmSyncobjFind(file, h);
    if (!s) {
      for (let i = syncobjs.length - 1; i >= 0; i--) await drmSyncobjPut(syncobjs[i]!);
      return -ENOENT;
    }
    syncobjs.push(s);
  }
  return syncobjs;
}

/** Models drm_syncobj_array_free(). */
async function drmSyncobjArrayFree(syncobjs: DrmSyncobj[]): Promise<void> {
  for (const s of syncobjs) await drmSyncobjPut(s);
}

/**
 * Models drm_syncobj_fence_add_wait(): a WAIT_FOR_SUBMIT waiter without a fence re-checks under
 * the lock and either takes the fence now or queues itself on cb_list.
 * Locking: takes syncobj->lock.
 * References: takes one on the fence for the waiter.
 */
async function drmSyncobjFenceAddWait(syncobj: DrmSyncobj, wait: SyncobjWaitEntry): Promise<void> {
  if (wait.fence) return;
  const lockTaken3 = syncobj.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  // We've already tried once to get a fence and failed.  Now that we have the lock, try one
  // more time just to be sure we don't add a callback when a fence has already been set.
  const pf = { fence: await dmaFenceGet(syncobj.fence) };
  if (!pf.fence || (await dmaFenceChainFindSeqno(pf, wait.point))) {
    const dmaFencePutDone10 = dmaFencePut(pf.fence);
    if (dmaFencePutDone10 !== RESOLVED) await dmaFencePutDone10;
    syncobj.cbList.push(wait);
    wait.onList = true;
  } else {
    wait.fence = pf.fence ?? (await dmaFenceGetStub());
  }
  syncobj.lock.unlockNow();
}

/**
 * Models drm_syncobj_remove_wait(): unqueues a waiter still on cb_list.
 * Locking: takes syncobj->lock.
 * References: none.
 */
async function drmSyncobjRemoveWait(syncobj: DrmSyncobj, wait: SyncobjWaitEntry): Promise<void> {
  if (!wait.onList) return;
  const lockTaken4 = syncobj.lock.lock();
  if (lockTaken4 !== RESOLVED) await lockTaken4;
  const i = syncobj.cbList.indexOf(wait);
  if (i >= 0) syncobj.cbList.splice(i, 1);
  wait.onList = false;
  syncobj.lock.unlockNow();
}

/**
 * Models drm_timeout_abs_to_jiffies(): an absolute CLOCK_MONOTONIC time (ns) as the time left
 * (virtual ns stand for jiffies): 0 for 0 (poll) or a time already past; clamped below
 * MAX_SCHEDULE_TIMEOUT.
 */
export function drmTimeoutAbsToJiffies(timeoutNsec: number): number {
  // make 0 timeout means poll - absolute 0 doesn't seem valid
  if (timeoutNsec === 0) return 0;
  const t = now();
  if (!(timeoutNsec > t)) return 0;
  const left = timeoutNsec - t;
  // clamp timeout to avoid infinite timeout
  if (left >= MAX_SCHEDULE_TIMEOUT - 1) return MAX_SCHEDULE_TIMEOUT - 1;
  return left;
}

/**
 * Models drm_syncobj_array_wait_timeout() for binary syncobjs: takes each syncobj's fence up
 * front (-EINVAL for one without a fence unless WAIT_FOR_SUBMIT); done at once if enough have
 * signalled (all with WAIT_ALL, else one: `first` is its index); otherwise queues
 * WAIT_FOR_SUBMIT waiters, then loops: count signalled fences (queueing a wake-up callback on
 * each unsignalled one), finish, or sleep until a callback or a submission wakes it, or the time
 * is up (-ETIME), or stop for a pending signal ("if (signal_pending(current)) { timeout =
 * -ERESTARTSYS; goto done_waiting; }", after the timeout check). Everything queued is removed
 * and every fence reference dropped at the end, on every path. Returns the time left (>= 0)
 * or a negative errno.
 * Locking: sleeps; takes each syncobj's lock and each fence's lock.
 * References: one per entry's fence, dropped at cleanup.
 */
async function drmSyncobjArrayWaitTimeout(
  syncobjs: DrmSyncobj[],
  userPoints: number,
  flags: number,
  timeout: number,
  first: { idx: number },
): Promise<number> {
  const count = syncobjs.length;
  let points: number[];
  if (!userPoints) {
    points = Array.from({ length: count }, () => 0);
  } else {
    const got = await copyPointsFromUser(userPoints, count);
    if (typeof got === "number") return got;
    points = got;
  }
  const task = new WaitTask();
  const entries = syncobjs.map((_s, i) => {
    const e = new SyncobjWaitEntry(task);
    e.point = points[i]!;
    return e;
  });
  const waitAll = (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL) !== 0;
  const forSubmit = (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT) !== 0;
  const available = (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE) !== 0;
  // Walk the list of sync objects and initialize entries.  We do this up-front so that we can
  // properly return -EINVAL if there is a syncobj with a missing fence and then never have the
  // chance of returning -EINVAL again.
  let signaledCount = 0;
  let ret = timeout;
  // biome-ignore lint/suspicious/noConfusingLabels: the labelled block is the kernel's `goto cleanup_entries`
  cleanup: {
    for (let i = 0; i < count; i++) {
      const pf = { fence: await drmSyncobjFenceGet(syncobjs[i]!) };
      if (!pf.fence || (await dmaFenceChainFindSeqno(pf, points[i]!))) {
        const dmaFencePutDone11 = dmaFencePut(pf.fence);
        if (dmaFencePutDone11 !== RESOLVED) await dmaFencePutDone11;
        if (forSubmit || available) continue;
        ret = -EINVAL;
        break cleanup;
      }
      const fence = pf.fence ?? (await dmaFenceGetStub());
      entries[i]!.fence = fence;
      if (available || (await dmaFenceIsSignaled(fence))) {
        if (signaledCount === 0) first.idx = i;
        signaledCount++;
      }
    }
    if (signaledCount === count || (signaledCount > 0 && !waitAll)) break cleanup;

    // There's a very annoying laxness in the dma_fence API here, in that backends are not
    // required to automatically report when a fence is signaled prior to
    // fence->ops->enable_signaling() being called.  So here if we fail to match signaled_count,
    // we need to fallthough and try a 0 timeout wait!
    if (forSubmit || available) {
      for (let i = 0; i < count; i++) await drmSyncobjFenceAddWait(syncobjs[i]!, entries[i]!);
    }
    for (;;) {
      task.woken = false; // set_current_state(TASK_INTERRUPTIBLE)
      signaledCount = 0;
      let done = false;
      for (let i = 0; i < count; i++) {
        const e = entries[i]!;
        const fence = e.fence;
        if (!fence) continue;
        if (
          available ||
          (await dmaFenceIsSignaled(fence)) ||
          (e.fenceCb.func === null &&
            (await dmaFenceAddCallback(fence, e.fenceCb, () => task.wakeUp())) !== 0)
        ) {
          // The fence has been signaled
          if (waitAll) {
            signaledCount++;
          } else {
            first.idx = i;
            done = true;
            break;
          }
        }
      }
      if (done || signaledCount === count) break;
      if (ret === 0) {
        ret = -ETIME;
        break;
      }
      if (signalPending()) {
        ret = -ERESTARTSYS;
        break;
      }
      ret = await task.scheduleTimeout(ret);
    }
  }
  // cleanup_entries:
  for (let i = 0; i < count; i++) {
    const e = entries[i]!;
    await drmSyncobjRemoveWait(syncobjs[i]!, e);
    if (e.fenceCb.func && e.fence) await dmaFenceRemoveCallback(e.fence, e.fenceCb);
    const dmaFencePutDone12 = dmaFencePut(e.fence);
    if (dmaFencePutDone12 !== RESOLVED) await dmaFencePutDone12;
  }
  return ret;
}

/**
 * Models drm_syncobj_wait_ioctl() (drm_syncobj_array_wait() for binary syncobjs): SYNCOBJ_WAIT.
 * 0 with `first_signaled` set, -ETIME when the absolute `timeout_nsec` passes (0 polls), 0 at
 * once for no handles, -EINVAL for unknown flags or a syncobj without a fence (unless WAIT_FOR_SUBMIT),
 * -ENOENT for a bad handle, -EFAULT for a bad `handles` pointer, -EOPNOTSUPP without
 * DRIVER_SYNCOBJ. WAIT_DEADLINE is accepted; its hint (dma_fence_set_deadline()) is not
 * modelled, no fence here has a set_deadline op.
 * Locking: sleeps with no lock held.
 * References: a lookup reference per syncobj and one per fence, all dropped.
 */
export async function drmSyncobjWaitIoctl(
  dev: DrmDevice,
  args: DrmSyncobjWait,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) return -EOPNOTSUPP;
  if (
    args.flags &
    ~(
      DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL |
      DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT |
      DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE
    )
  )
    return -EINVAL;
  // nothing to wait for (v6.18: 0, not -EINVAL; first_signaled is left alone)
  if (args.count_handles === 0) return 0;
  const syncobjs = await drmSyncobjArrayFind(file, args.handles, args.count_handles);
  if (typeof syncobjs === "number") return syncobjs;
  // drm_syncobj_array_wait():
  const first = { idx: 0xffff_ffff };
  let ret = drmTimeoutAbsToJiffies(args.timeout_nsec);
  ret = await drmSyncobjArrayWaitTimeout(syncobjs, 0, args.flags, ret, first);
  if (ret >= 0) {
    args.first_signaled = first.idx;
    ret = 0;
  }
  await drmSyncobjArrayFree(syncobjs);
  return ret;
}

/**
 * Models drm_syncobj_reset_ioctl(): SYNCOBJ_RESET removes the fence of each syncobj.
 * -EOPNOTSUPP; -EINVAL for a non-zero pad or no handles; -ENOENT, -EFAULT as the lookup.
 * Locking: takes each syncobj's lock.
 * References: drops each old fence's.
 */
export async function drmSyncobjResetIoctl(
  dev: DrmDevice,
  args: DrmSyncobjArray,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) return -EOPNOTSUPP;
  if (args.pad !== 0) return -EINVAL;
  if (args.count_handles === 0) return -EINVAL;
  const syncobjs = await drmSyncobjArrayFind(file, args.handles, args.count_handles);
  if (typeof syncobjs === "number") return syncobjs;
  for (const s of syncobjs) await drmSyncobjReplaceFence(s, null);
  await drmSyncobjArrayFree(syncobjs);
  return 0;
}

/**
 * Models drm_syncobj_signal_ioctl(): SYNCOBJ_SIGNAL gives each syncobj a new signalled fence
 * (waking WAIT_FOR_SUBMIT waiters). Errno as RESET, plus -ENOMEM.
 * Locking: takes each syncobj's lock.
 * References: each syncobj holds its new fence.
 */
export async function drmSyncobjSignalIoctl(
  dev: DrmDevice,
  args: DrmSyncobjArray,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) return -EOPNOTSUPP;
  if (args.pad !== 0) return -EINVAL;
  if (args.count_handles === 0) return -EINVAL;
  const syncobjs = await drmSyncobjArrayFind(file, args.handles, args.count_handles);
  if (typeof syncobjs === "number") return syncobjs;
  let ret = 0;
  for (const s of syncobjs) {
    ret = await drmSyncobjAssignNullHandle(s);
    if (ret < 0) break;
  }
  await drmSyncobjArrayFree(syncobjs);
  return ret;
}

// ---- Timeline syncobjs (DRIVER_SYNCOBJ_TIMELINE) ---------------------------------------------

/**
 * Models drm_syncobj_timeline_wait_ioctl() (drm_syncobj_array_wait() with points): waits for
 * each syncobj to reach its point (`points`: a user array of u64, 0 for none, where every point
 * is 0). WAIT_AVAILABLE waits for the points to be submitted, not signalled. Errno as
 * SYNCOBJ_WAIT, -EOPNOTSUPP without DRIVER_SYNCOBJ_TIMELINE, -EFAULT for a bad `points`; a
 * point the syncobj has not reached is -EINVAL unless WAIT_FOR_SUBMIT or WAIT_AVAILABLE.
 * Locking: sleeps with no lock held.
 * References: as SYNCOBJ_WAIT.
 */
export async function drmSyncobjTimelineWaitIoctl(
  dev: DrmDevice,
  args: DrmSyncobjTimelineWait,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ_TIMELINE)) return -EOPNOTSUPP;
  if (
    args.flags &
    ~(
      DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL |
      DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT |
      DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE |
      DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE
    )
  )
    return -EINVAL;
  // nothing to wait for (v6.18: 0, not -EINVAL; first_signaled is left alone)
  if (args.count_handles === 0) return 0;
  const syncobjs = await drmSyncobjArrayFind(file, args.handles, args.count_handles);
  if (typeof syncobjs === "number") return syncobjs;
  const first = { idx: 0xffff_ffff };
  let ret = drmTimeoutAbsToJiffies(args.timeout_nsec);
  ret = await drmSyncobjArrayWaitTimeout(syncobjs, args.points, args.flags, ret, first);
  if (ret >= 0) {
    args.first_signaled = first.idx;
    ret = 0;
  }
  await drmSyncobjArrayFree(syncobjs);
  return ret;
}

/**
 * Models drm_syncobj_query_ioctl(): SYNCOBJ_QUERY writes each syncobj's point to the user's
 * `points`: the last signalled point of its timeline (walking the chain, which collects
 * signalled nodes), or with QUERY_FLAGS_LAST_SUBMITTED the last point submitted; 0 for a
 * syncobj whose fence is not a chain. -EOPNOTSUPP; -EINVAL for unknown flags or no handles;
 * -ENOENT, -EFAULT.
 * Locking: RCU for each fence; no lock held across the copies.
 * References: balanced.
 */
export async function drmSyncobjQueryIoctl(
  dev: DrmDevice,
  args: DrmSyncobjTimelineArray,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ_TIMELINE)) return -EOPNOTSUPP;
  if (args.flags & ~DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) return -EINVAL;
  if (args.count_handles === 0) return -EINVAL;
  const syncobjs = await drmSyncobjArrayFind(file, args.handles, args.count_handles);
  if (typeof syncobjs === "number") return syncobjs;
  let ret = 0;
  for (let i = 0; i < args.count_handles; i++) {
    const fence = await drmSyncobjFenceGet(syncobjs[i]!);
    const chain = toDmaFenceChain(fence);
    let pt = 0;
    if (chain && fence) {
      let lastSignaled: DmaFence | null = await dmaFenceGet(fence);
      if (args.flags & DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) {
        pt = fence.seqno;
      } else {
        await dmaFenceChainForEach(fence, async (iter) => {
          // It is most likely that timeline has unorder points.
          if (iter.context !== fence.context) return false;
          const dmaFencePutDone13 = dmaFencePut(lastSignaled);
          if (dmaFencePutDone13 !== RESOLVED) await dmaFencePutDone13;
          lastSignaled = await dmaFenceGet(iter);
          return true;
        });
        const last = lastSignaled as DmaFence;
        pt = (await dmaFenceIsSignaled(last)) ? last.seqno : toDmaFenceChain(last)!.prevSeqno;
      }
      const dmaFencePutDone14 = dmaFencePut(lastSignaled);
      if (dmaFencePutDone14 !== RESOLVED) await dmaFencePutDone14;
    }
    const dmaFencePutDone15 = dmaFencePut(fence);
    if (dmaFencePutDone15 !== RESOLVED) await dmaFencePutDone15;
    ret = await copyPointToUser(args.points + i * 8, pt);
    if (ret) break;
  }
  await drmSyncobjArrayFree(syncobjs);
  return ret;
}

/**
 * Models drm_syncobj_timeline_signal_ioctl(): SYNCOBJ_TIMELINE_SIGNAL adds a signalled point
 * to each syncobj (`points` 0: every point 0). -EOPNOTSUPP; -EINVAL for flags or no handles;
 * -ENOENT, -EFAULT, -ENOMEM (every node is allocated before any is added).
 * Locking: takes each syncobj's lock.
 * References: each syncobj holds its new node, which holds its stub fence.
 */
export async function drmSyncobjTimelineSignalIoctl(
  dev: DrmDevice,
  args: DrmSyncobjTimelineArray,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ_TIMELINE)) return -EOPNOTSUPP;
  if (args.flags !== 0) return -EINVAL;
  if (args.count_handles === 0) return -EINVAL;
  const syncobjs = await drmSyncobjArrayFind(file, args.handles, args.count_handles);
  if (typeof syncobjs === "number") return syncobjs;
  let ret = 0;
  // biome-ignore lint/suspicious/noConfusingLabels: the labelled block is the kernel's error gotos
  out: {
    let points: number[];
    if (!args.points) {
      points = Array.from({ length: args.count_handles }, () => 0);
    } else {
      const got = await copyPointsFromUser(args.points, args.count_handles);
      if (typeof got === "number") {
        ret = got;
        break out;
      }
      points = got;
    }
    const chains: DmaFenceChain[] = [];
    for (let i = 0; i < args.count_handles; i++) {
      const c = dmaFenceChainAlloc();
      if (!c) {
        for (const x of chains) kfree(x); // dma_fence_chain_free()
        ret = -ENOMEM;
        break out;
      }
      chains.push(c);
    }
    for (let i = 0; i < args.count_handles; i++) {
      const fence = await dmaFenceGetStub();
      await drmSyncobjAddPoint(syncobjs[i]!, chains[i]!, fence, points[i]!);
      const dmaFencePutDone16 = dmaFencePut(fence);
      if (dmaFencePutDone16 !== RESOLVED) await dmaFencePutDone16;
    }
  }
  await drmSyncobjArrayFree(syncobjs);
  return ret;
}

/**
 * Models dma_fence_unwrap_merge() of one fence (what TRANSFER to a timeline stores): the
 * unsignalled fences the fence stands for (through chains and arrays); none gives a signalled
 * stub, one gives that fence, several a dma_fence_array of them.
 * Locking: none held.
 * References: returns one.
 */
async function dmaFenceUnwrapMergeOne(fence: DmaFence): Promise<DmaFence | null> {
  const pending: DmaFence[] = [];
  for (let c: DmaFence | null = fence; c; c = toDmaFenceChain(c)?.prev ?? null) {
    const leaf = toDmaFenceChain(c)?.fence ?? c;
    for (const f of dmaFenceUnwrap(leaf))
      if (!pending.includes(f) && !(await dmaFenceIsSignaled(f))) pending.push(f);
  }
  if (pending.length === 0) return dmaFenceGetStub();
  if (pending.length === 1) return dmaFenceGet(pending[0]!);
  for (const f of pending) await dmaFenceGet(f);
  const array = dmaFenceArrayCreate(pending, dmaFenceContextAlloc(1), 1);
  if (array === null || typeof array === "number") {
    for (const f of pending) await dmaFencePut(f);
    return null;
  }
  return array;
}

/**
 * Models drm_syncobj_transfer_to_timeline(): the fence of (src_handle, src_point), merged, as
 * point dst_point of dst_handle. -ENOENT for a bad handle, -EINVAL as drm_syncobj_find_fence(),
 * -ENOMEM.
 * Locking: see drmSyncobjFindFence(), drmSyncobjAddPoint().
 * References: the new node holds the merged fence; the lookups' are dropped.
 */
async function drmSyncobjTransferToTimeline(
  file: DrmFile,
  args: DrmSyncobjTransfer,
): Promise<number> {
  const timeline = await drmSyncobjFind(file, args.dst_handle);
  if (!timeline) return -ENOENT;
  let ret = 0;
  const tmp = await drmSyncobjFindFence(file, args.src_handle, args.src_point, args.flags);
  if (typeof tmp === "number") {
    ret = tmp;
  } else {
    const fence = await dmaFenceUnwrapMergeOne(tmp);
    const dmaFencePutDone17 = dmaFencePut(tmp);
    if (dmaFencePutDone17 !== RESOLVED) await dmaFencePutDone17;
    if (!fence) {
      ret = -ENOMEM;
    } else {
      const chain = dmaFenceChainAlloc();
      if (!chain) ret = -ENOMEM;
      else await drmSyncobjAddPoint(timeline, chain, fence, args.dst_point);
      const dmaFencePutDone18 = dmaFencePut(fence);
      if (dmaFencePutDone18 !== RESOLVED) await dmaFencePutDone18;
    }
  }
  await drmSyncobjPut(timeline);
  return ret;
}

/**
 * Models drm_syncobj_transfer_to_binary(): the fence of (src_handle, src_point) replaces
 * dst_handle's. -ENOENT for a bad handle, -EINVAL as drm_syncobj_find_fence().
 * Locking: see drmSyncobjFindFence(), drmSyncobjReplaceFence().
 * References: the destination takes its own on the fence; the lookups' are dropped.
 */
async function drmSyncobjTransferToBinary(
  file: DrmFile,
  args: DrmSyncobjTransfer,
): Promise<number> {
  const binary = await drmSyncobjFind(file, args.dst_handle);
  if (!binary) return -ENOENT;
  let ret = 0;
  const fence = await drmSyncobjFindFence(file, args.src_handle, args.src_point, args.flags);
  if (typeof fence === "number") {
    ret = fence;
  } else {
    await drmSyncobjReplaceFence(binary, fence);
    const dmaFencePutDone19 = dmaFencePut(fence);
    if (dmaFencePutDone19 !== RESOLVED) await dmaFencePutDone19;
  }
  await drmSyncobjPut(binary);
  return ret;
}

/**
 * Models drm_syncobj_transfer_ioctl(): SYNCOBJ_TRANSFER, to a timeline point (dst_point != 0)
 * or to a binary syncobj. -EOPNOTSUPP without DRIVER_SYNCOBJ_TIMELINE, -EINVAL for a non-zero
 * pad; otherwise as the transfer. `flags` are drm_syncobj_find_fence()'s (WAIT_FOR_SUBMIT).
 * Locking: see the transfers.
 * References: see the transfers.
 */
export async function drmSyncobjTransferIoctl(
  dev: DrmDevice,
  args: DrmSyncobjTransfer,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_SYNCOBJ_TIMELINE)) return -EOPNOTSUPP;
  if (args.pad) return -EINVAL;
  if (args.dst_point) return drmSyncobjTransferToTimeline(file, args);
  return drmSyncobjTransferToBinary(file, args);
}
