/**
 * DRM sync objects (drivers/gpu/drm/drm_syncobj.c, Linux v6.18): a container for a dma_fence
 * that userspace names by a per-file handle or shares as an fd, for drivers with
 * DRIVER_SYNCOBJ. This models the binary syncobj: CREATE (optionally signalled), DESTROY,
 * HANDLE_TO_FD / FD_TO_HANDLE (an opaque "syncobj_file", or a sync_file with the EXPORT/IMPORT
 * flags), WAIT (any or all, WAIT_FOR_SUBMIT, absolute CLOCK_MONOTONIC timeouts in virtual time),
 * RESET and SIGNAL. Timeline points are accepted only as 0: no dma_fence_chain is modelled, so a
 * non-zero point fails as dma_fence_chain_find_seqno() fails on a fence that is not a chain.
 *
 * Who holds what:
 * - `refcount` (a kref): each handle (the file's syncobj_idr entry), each syncobj file (from
 *   HANDLE_TO_FD), each lookup (drm_syncobj_find(), put by the caller). The last put replaces
 *   the fence with NULL (dropping it) and frees the syncobj.
 * - `fence` holds one fence reference. It is replaced under `lock` (drm_syncobj_replace_fence())
 *   and read under RCU with dma_fence_get_rcu_safe() (drm_syncobj_fence_get()), so a reader
 *   racing a replacement either gets the old fence with a reference or retries.
 * - waiters for a fence to be *submitted* (WAIT_FOR_SUBMIT) queue an entry on `cbList` under
 *   `lock`; replacing the fence hands each its own fence reference and wakes it.
 */

import { Kref } from "@primetime/atomics";
import {
  type DmaFence,
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFenceAllocatePrivateStub,
  dmaFenceGet,
  dmaFenceGetRcu,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceRemoveCallback,
  MAX_SCHEDULE_TIMEOUT,
  syncFileCreate,
  syncFileGetFence,
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
  ETIME,
  type File,
  type FileOperations,
  fdInstall,
  fget,
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
} from "@primetime/kernel";
import { rcuReadLock, rcuReadUnlock } from "@primetime/rcu";
import { now, point, WaitQueue } from "@primetime/sim";
import {
  DRM_SYNCOBJ_CREATE_SIGNALED,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
  type DrmSyncobjArray,
  type DrmSyncobjCreate,
  type DrmSyncobjDestroy,
  type DrmSyncobjHandle,
  type DrmSyncobjWait,
} from "@primetime/uapi";
import type { DrmDevice } from "./drm-device.js";
import { DRIVER_SYNCOBJ, drmCoreCheckFeature } from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";

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
  /** Models point (always 0 here: binary syncobjs). */
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
   * since the state was set; else sleeps until woken or `timeout` ns pass and returns the time
   * left (0: timed out).
   */
  async scheduleTimeout(timeout: number): Promise<number> {
    if (this.woken) return timeout;
    if (timeout >= MAX_SCHEDULE_TIMEOUT - 1) {
      await this.wq.wait("drm_syncobj_array_wait_timeout");
      return timeout;
    }
    const start = now();
    if (!(await this.wq.waitTimeout(timeout, "drm_syncobj_array_wait_timeout"))) return 0;
    return Math.max(1, timeout - (now() - start));
  }
}

/**
 * Models drm_syncobj_get().
 * Locking: none; the caller holds a reference.
 * References: takes one.
 */
export async function drmSyncobjGet(syncobj: DrmSyncobj): Promise<void> {
  await syncobj.refcount.get();
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
  await file.syncobjTableLock.lock();
  // Check if we currently have a reference on the object
  const syncobj = await file.syncobjIdr.find(handle);
  if (syncobj) await drmSyncobjGet(syncobj);
  await file.syncobjTableLock.unlock();
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
  await rcuReadLock();
  let fence: DmaFence | null;
  for (;;) {
    await point(`rcu_dereference(${syncobj.name}.fence)`);
    fence = syncobj.fence;
    if (!fence) break;
    if (!(await dmaFenceGetRcu(fence))) continue;
    await point(`rcu_access_pointer(${syncobj.name}.fence)`);
    if (fence === syncobj.fence) break;
    await dmaFencePut(fence);
  }
  await rcuReadUnlock();
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
  const fence = await dmaFenceGet(syncobj.fence);
  // dma_fence_chain_find_seqno(&fence, 0) is 0 for any fence.
  if (!fence) return;
  wait.fence = fence;
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
  await syncobj.lock.lock();
  const oldFence = syncobj.fence;
  await point(`rcu_assign_pointer(${syncobj.name}.fence)`);
  syncobj.fence = fence;
  if (fence !== oldFence) {
    for (const cur of [...syncobj.cbList]) await syncobjWaitSyncobjFunc(syncobj, cur);
  }
  await syncobj.lock.unlock();
  await dmaFencePut(oldFence);
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
  await dmaFencePut(fence);
  return 0;
}

/**
 * Models drm_syncobj_find_fence() without WAIT_FOR_SUBMIT (the only use here: EXPORT_SYNC_FILE):
 * the fence of `handle`, with a reference. -ENOENT for a bad handle, -EINVAL if the syncobj has
 * no fence or `point` is not 0 (no fence is a chain).
 * Locking: see drmSyncobjFind(), drmSyncobjFenceGet().
 * References: returns one on the fence; the lookup's is dropped.
 */
export async function drmSyncobjFindFence(
  file: DrmFile,
  handle: number,
  point: number,
): Promise<DmaFence | number> {
  const syncobj = await drmSyncobjFind(file, handle);
  if (!syncobj) return -ENOENT;
  let ret: DmaFence | number;
  const fence = await drmSyncobjFenceGet(syncobj);
  if (fence) {
    // dma_fence_chain_find_seqno(): 0 for point 0, -EINVAL on a non-chain for any other.
    if (point === 0) {
      ret = fence;
    } else {
      await dmaFencePut(fence);
      ret = -EINVAL;
    }
  } else {
    ret = -EINVAL;
  }
  await drmSyncobjPut(syncobj);
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
  await file.syncobjTableLock.lock();
  const ret = await file.syncobjIdr.alloc(syncobj, 1, 0);
  await file.syncobjTableLock.unlock();
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
  await file.syncobjTableLock.lock();
  const syncobj = await file.syncobjIdr.remove(handle);
  await file.syncobjTableLock.unlock();
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
export const drmSyncobjFileFops: FileOperations = { release: drmSyncobjFileRelease };

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
  await fdInstall(fd, file);
  return fd;
}

/** Models drm_syncobj_handle_to_fd(): -EINVAL for a bad handle. */
async function drmSyncobjHandleToFd(file: DrmFile, handle: number): Promise<number> {
  const syncobj = await drmSyncobjFind(file, handle);
  if (!syncobj) return -EINVAL;
  const ret = await drmSyncobjGetFd(syncobj);
  await drmSyncobjPut(syncobj);
  return ret;
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
    await fput(f);
    return -EINVAL;
  }
  // take a reference to put in the idr
  const syncobj = f.privateData as DrmSyncobj;
  await drmSyncobjGet(syncobj);
  await file.syncobjTableLock.lock();
  let ret = await file.syncobjIdr.alloc(syncobj, 1, 0);
  await file.syncobjTableLock.unlock();
  if (ret <= 0) {
    await drmSyncobjPut(syncobj);
    if (ret === 0) ret = -EINVAL;
  }
  await fput(f);
  return ret;
}

/**
 * Models drm_syncobj_import_sync_file_fence(): installs the sync_file's fence in `handle`.
 * -EINVAL if `fd` is not a sync_file (or `point` is not 0), -ENOENT for a bad handle.
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
    await dmaFencePut(fence);
    return -ENOENT;
  }
  let ret = 0;
  // A timeline point would be added as a dma_fence_chain (not modelled: no driver here has
  // DRIVER_SYNCOBJ_TIMELINE); a binary syncobj takes the fence itself.
  if (point) ret = -EINVAL;
  else await drmSyncobjReplaceFence(syncobj, fence);
  await dmaFencePut(fence);
  await drmSyncobjPut(syncobj);
  return ret;
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
  await dmaFencePut(fence);
  if (!syncFile) {
    await putUnusedFd(fd);
    return -EINVAL;
  }
  await fdInstall(fd, syncFile.file!);
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
  await syncobj.lock.lock();
  // We've already tried once to get a fence and failed.  Now that we have the lock, try one
  // more time just to be sure we don't add a callback when a fence has already been set.
  const fence = await dmaFenceGet(syncobj.fence);
  if (!fence) {
    syncobj.cbList.push(wait);
    wait.onList = true;
  } else {
    wait.fence = fence;
  }
  await syncobj.lock.unlock();
}

/**
 * Models drm_syncobj_remove_wait(): unqueues a waiter still on cb_list.
 * Locking: takes syncobj->lock.
 * References: none.
 */
async function drmSyncobjRemoveWait(syncobj: DrmSyncobj, wait: SyncobjWaitEntry): Promise<void> {
  if (!wait.onList) return;
  await syncobj.lock.lock();
  const i = syncobj.cbList.indexOf(wait);
  if (i >= 0) syncobj.cbList.splice(i, 1);
  wait.onList = false;
  await syncobj.lock.unlock();
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
 * is up (-ETIME). Everything queued is removed and every fence reference dropped at the end.
 * Returns the time left (>= 0) or a negative errno.
 * Locking: sleeps; takes each syncobj's lock and each fence's lock.
 * References: one per entry's fence, dropped at cleanup.
 */
async function drmSyncobjArrayWaitTimeout(
  syncobjs: DrmSyncobj[],
  flags: number,
  timeout: number,
  first: { idx: number },
): Promise<number> {
  const count = syncobjs.length;
  const task = new WaitTask();
  const entries = syncobjs.map(() => new SyncobjWaitEntry(task));
  const waitAll = (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL) !== 0;
  const forSubmit = (flags & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT) !== 0;
  // Walk the list of sync objects and initialize entries.  We do this up-front so that we can
  // properly return -EINVAL if there is a syncobj with a missing fence and then never have the
  // chance of returning -EINVAL again.
  let signaledCount = 0;
  let ret = timeout;
  // biome-ignore lint/suspicious/noConfusingLabels: the labelled block is the kernel's `goto cleanup_entries`
  cleanup: {
    for (let i = 0; i < count; i++) {
      const fence = await drmSyncobjFenceGet(syncobjs[i]!);
      if (!fence) {
        if (forSubmit) continue;
        ret = -EINVAL;
        break cleanup;
      }
      entries[i]!.fence = fence;
      if (await dmaFenceIsSignaled(fence)) {
        if (signaledCount === 0) first.idx = i;
        signaledCount++;
      }
    }
    if (signaledCount === count || (signaledCount > 0 && !waitAll)) break cleanup;

    // There's a very annoying laxness in the dma_fence API here, in that backends are not
    // required to automatically report when a fence is signaled prior to
    // fence->ops->enable_signaling() being called.  So here if we fail to match signaled_count,
    // we need to fallthough and try a 0 timeout wait!
    if (forSubmit) {
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
      ret = await task.scheduleTimeout(ret);
    }
  }
  // cleanup_entries:
  for (let i = 0; i < count; i++) {
    const e = entries[i]!;
    await drmSyncobjRemoveWait(syncobjs[i]!, e);
    if (e.fenceCb.func && e.fence) await dmaFenceRemoveCallback(e.fence, e.fenceCb);
    await dmaFencePut(e.fence);
  }
  return ret;
}

/**
 * Models drm_syncobj_wait_ioctl() (drm_syncobj_array_wait() for binary syncobjs): SYNCOBJ_WAIT.
 * 0 with `first_signaled` set, -ETIME when the absolute `timeout_nsec` passes (0 polls),
 * -EINVAL for unknown flags, no handles or a syncobj without a fence (unless WAIT_FOR_SUBMIT),
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
  if (args.count_handles === 0) return -EINVAL;
  const syncobjs = await drmSyncobjArrayFind(file, args.handles, args.count_handles);
  if (typeof syncobjs === "number") return syncobjs;
  // drm_syncobj_array_wait():
  const first = { idx: 0xffff_ffff };
  let ret = drmTimeoutAbsToJiffies(args.timeout_nsec);
  ret = await drmSyncobjArrayWaitTimeout(syncobjs, args.flags, ret, first);
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
