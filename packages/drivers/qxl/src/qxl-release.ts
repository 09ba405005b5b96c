/**
 * qxl releases (drivers/gpu/drm/qxl/qxl_release.c, Linux v6.18): the driver's record of one
 * command submitted to the device. A release owns a slot in a "release bo" (a pinned VRAM page
 * sub-allocated 16 or 32 commands at a time, where the command bytes live), holds a reference on
 * every buffer object the command uses (its `bos` list, qxl_release_list_add()), and is a
 * dma_fence that those objects' reservations carry until the device hands the command back on
 * the release ring; the garbage collector then frees it (qxl_release_free()), dropping the
 * references and signalling the fence.
 *
 * The release's objects are reserved with drm_exec as in the kernel: one wait-die acquire context
 * for the whole list, in list order, backing off (unlock all, lock the contended object slow,
 * start over) on -EDEADLK.
 */

import {
  DmaFence,
  type DmaFenceOps,
  DmaResvUsage,
  dmaFenceInit,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvAssertHeld,
  dmaResvReserveFences,
  MAX_SCHEDULE_TIMEOUT,
} from "@primetime/dma-buf";
import {
  DRM_EXEC_INTERRUPTIBLE_WAIT,
  DrmExec,
  drmExecFini,
  drmExecInit,
  drmExecPrepareObj,
  drmExecRetryOnContention,
  drmExecUntilAllLocked,
  drmGemObjectGet,
  drmGemObjectPut,
} from "@primetime/gem";
import {
  EINVAL,
  ENOMEM,
  type Errno,
  errPtr,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  PAGE_SIZE,
  SlabObject,
} from "@primetime/kernel";
import { bug, now, opLabel, pointNow, RESOLVED, toggleEnabled, warnOn } from "@primetime/sim";
import { type TtmOperationCtx, ttmBoMoveToLruTailUnlocked, ttmBoValidate } from "@primetime/ttm";
import { qxlSurfaceIdDealloc } from "./qxl-cmd.js";
import { QXL_IO_NOTIFY_OOM, QXL_SURFACE_CMD_DESTROY } from "./qxl-dev.js";
import type { QxlDevice } from "./qxl-device.js";
import { QXL_GEM_DOMAIN_VRAM } from "./qxl-drm-uapi.js";
import {
  QxlBo,
  qxlBoCheckId,
  qxlBoCpuView,
  qxlBoCreate,
  qxlBoGet,
  qxlBoUnpin,
  qxlBoUnref,
  qxlTtmPlacementFromDomain,
} from "./qxl-object.js";
import type { QxlImportObject } from "./qxl-prime.js";
import { QXL_RELEASE_BO_PIN_LEAK, QXL_VALIDATE_AFTER_ACQUIRE_DONE } from "./toggles.js";
import { setLe64 } from "./unaligned.js";

/** Models QXL_RELEASE_DRAWABLE. */
export const QXL_RELEASE_DRAWABLE = 0;
/** Models QXL_RELEASE_SURFACE_CMD. */
export const QXL_RELEASE_SURFACE_CMD = 1;
/** Models QXL_RELEASE_CURSOR_CMD. */
export const QXL_RELEASE_CURSOR_CMD = 2;

/** Models RELEASE_SIZE: drawables are sub-allocated 256 bytes each. */
export const RELEASE_SIZE = 256;
/** Models SURFACE_RELEASE_SIZE: a surface CREATE and its DESTROY share 128 bytes (+64). */
export const SURFACE_RELEASE_SIZE = 128;
const releaseSizePerBo = [RELEASE_SIZE, SURFACE_RELEASE_SIZE, RELEASE_SIZE];
const releasesPerBo = [
  PAGE_SIZE / RELEASE_SIZE,
  PAGE_SIZE / SURFACE_RELEASE_SIZE,
  PAGE_SIZE / RELEASE_SIZE,
];

/** The slab caches of releases and of their list entries. */
export const qxlReleaseCache = new KmemCache("qxl_release");
export const qxlBoListCache = new KmemCache("qxl_bo_list");

/** What a release can name: a qxl buffer object, or (model extension) a foreign import. */
export type QxlRelObj = QxlBo | QxlImportObject;

/** Models struct qxl_bo_list: one entry of a release's object list; holds a reference. */
export class QxlBoList extends SlabObject {
  constructor(readonly bo: QxlRelObj) {
    super();
  }
}

/** kmalloc()'s constructor call for a list entry (one function, not a closure per call). */
function newQxlBoList(bo: QxlRelObj): QxlBoList {
  return new QxlBoList(bo);
}

/** qxl_bo_ref() of a release's object (a GEM reference for an import). */
function relObjRef(o: QxlRelObj): Promise<void> {
  // The reference's own promise (RESOLVED when the task went on at its point): no async frame.
  return o instanceof QxlBo ? qxlBoGet(o) : drmGemObjectGet(o);
}

/** qxl_bo_unref() of a release's object (a GEM put for an import). */
function relObjUnref(o: QxlRelObj): Promise<void> {
  // The put's own promise (RESOLVED when it kept the task and was not the last): no async frame.
  return o instanceof QxlBo ? qxlBoUnref(o) : drmGemObjectPut(o);
}

/**
 * Models struct qxl_release (which embeds its dma_fence `base`: here the release *is* the fence).
 * Locking: built by one task; the list is read by the garbage collector after the device hands
 * the release back. References: each `bos` entry holds one on its object.
 */
export class QxlRelease extends DmaFence {
  /** Models id: the release's id in release_idr, written into the command's release info. */
  id = 0;
  /** Models type: QXL_RELEASE_*. */
  type = 0;
  /** Models release_bo: where the command bytes live (also on `bos`). */
  releaseBo: QxlBo | null = null;
  /** Models release_offset. */
  releaseOffset = 0;
  /** Models surface_release_id: the surface id freed with a DESTROY's release. */
  surfaceReleaseId = 0;
  /** Models bos. */
  readonly bos: QxlBoList[] = [];
  /** Models base.ops != NULL: the fence was initialised (qxl_release_fence_buffer_objects()). */
  fenced = false;
  /** Models exec: the drm_exec of qxl_release_reserve_list(). */
  exec = new DrmExec();
}

/** kmalloc()'s constructor call for a release (one function, not a closure per call). */
function newQxlRelease(): QxlRelease {
  return new QxlRelease();
}

/**
 * Models qxl_fence_wait(), qxl_fence_ops.wait: waits on the device's release_event (woken by
 * qxl_garbage_collect() once it has freed what the device handed back), not on the fence's
 * callback, and every evaluation of the condition that finds the fence unsignalled asks the
 * device to hand its releases back (qxl_io_notify_oom()):
 * `wait_event_timeout(qdev->release_event, (dma_fence_is_signaled(fence) ||
 * (qxl_io_notify_oom(qdev), 0)), timeout)`. Never interruptible (`intr` is ignored). Returns 0
 * on timeout, else `end - cur` (0 when the wake-up comes exactly at the end).
 * Locking: none held; sleeps. References: the caller holds one on the fence.
 */
async function qxlFenceWait(fence: DmaFence, _intr: boolean, timeout: number): Promise<number> {
  // container_of(fence->lock, struct qxl_device, release_lock)
  const qdev = fence.lock!.owner as QxlDevice;
  const start = now();
  const forever = timeout >= MAX_SCHEDULE_TIMEOUT;
  let remaining = timeout;
  for (;;) {
    // prepare_to_wait_event() comes before the condition in ___wait_event(): a wake-up after the
    // test is not lost (here: no scheduling point between the test and the sleep)
    if (await dmaFenceIsSignaled(fence)) break;
    qdev.hw.outb(QXL_IO_NOTIFY_OOM);
    if (forever) {
      await qdev.releaseEvent.wait("qxl_fence_wait");
      continue;
    }
    if (remaining <= 0) return 0;
    const t0 = now();
    await qdev.releaseEvent.waitTimeout(remaining, "qxl_fence_wait");
    remaining -= now() - t0;
  }
  const elapsed = now() - start;
  if (forever) return timeout - elapsed;
  // wait_event_timeout() returned at least 1 (the condition held); time_after(cur, end)
  if (elapsed > timeout) return 0;
  return timeout - elapsed;
}

/** Models qxl_fence_ops. */
const qxlFenceOps: DmaFenceOps = {
  getDriverName: () => "qxl",
  getTimelineName: () => "release",
  wait: qxlFenceWait,
};

/**
 * Models qxl_release_alloc(): a release with an id in release_idr. Returns it or a negative errno
 * (-ENOMEM; the idr's errors).
 * Locking: takes release_idr_lock. References: the caller owns the release.
 */
async function qxlReleaseAlloc(qdev: QxlDevice, type: number): Promise<QxlRelease | Errno> {
  const release = kmalloc(qxlReleaseCache, newQxlRelease);
  if (isErr(release)) return errPtr(ENOMEM);
  release.type = type;
  release.releaseOffset = 0;
  release.surfaceReleaseId = 0;
  const releaseIdrLockTaken = qdev.releaseIdrLock.lock();
  if (releaseIdrLockTaken !== RESOLVED) await releaseIdrLockTaken;
  const handle = await qdev.releaseIdr.alloc(release, 1, 0);
  release.seqno = ++qdev.releaseSeqno;
  qdev.releaseIdrLock.unlockNow();
  if (handle < 0) {
    kfree(release);
    return handle as Errno;
  }
  release.id = handle;
  return release;
}

/**
 * Models qxl_release_free_list(): drops the reference of every listed object.
 * Locking: none held. References: drops one per entry.
 */
async function qxlReleaseFreeList(release: QxlRelease): Promise<void> {
  while (release.bos.length > 0) {
    const entry = release.bos[0]!;
    const put = relObjUnref(entry.bo);
    if (put !== RESOLVED) await put;
    release.bos.shift();
    kfree(entry);
  }
  release.releaseBo = null;
}

/**
 * Models qxl_release_free(): frees the surface id a DESTROY kept reserved, removes the id,
 * drops the objects' references, and signals and puts the fence (or frees a release that was
 * never fenced).
 * Locking: none held; takes surf_id_idr_lock and release_idr_lock. References: see above.
 */
export async function qxlReleaseFree(qdev: QxlDevice, release: QxlRelease): Promise<void> {
  if (release.surfaceReleaseId) await qxlSurfaceIdDealloc(qdev, release.surfaceReleaseId);
  const releaseIdrLockTaken2 = qdev.releaseIdrLock.lock();
  if (releaseIdrLockTaken2 !== RESOLVED) await releaseIdrLockTaken2;
  await qdev.releaseIdr.remove(release.id);
  qdev.releaseIdrLock.unlockNow();
  if (release.fenced) {
    warnOn(release.bos.length === 0, `qxl_release_free: WARN_ON(list_empty(&release->bos))`);
    await qxlReleaseFreeList(release);
    await dmaFenceSignal(release);
    const dmaFencePutDone = dmaFencePut(release);
    if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  } else {
    await qxlReleaseFreeList(release);
    kfree(release);
  }
  qdev.releaseCount--;
}

/**
 * Models qxl_release_bo_alloc(): a pinned VRAM page for release commands.
 * Locking: none held. References: the caller owns it.
 */
async function qxlReleaseBoAlloc(qdev: QxlDevice, priority: number): Promise<QxlBo | Errno> {
  // pin releases bo's they are too messy to evict
  const bo = await qxlBoCreate(qdev, PAGE_SIZE, false, true, QXL_GEM_DOMAIN_VRAM, priority, null);
  // (The proposed fix of qxl.retired-release-bo-evictable marks it: see qxlEvictionValuable().)
  if (!isErr(bo)) bo.isReleaseBo = true;
  return bo;
}

/**
 * Models qxl_release_list_add(): puts `bo` on the release's list (once), taking a reference.
 * 0 or -ENOMEM. Walking `release->bos` of a release the garbage collector already freed (known
 * window qxl.ring-push-no-recheck) is KASAN's use-after-free.
 * Locking: none. References: takes one on `bo`.
 */
export async function qxlReleaseListAdd(release: QxlRelease, bo: QxlRelObj): Promise<number> {
  release.checkAccess("qxl_release_list_add");
  for (const entry of release.bos) if (entry.bo === bo) return 0;
  const entry = kmalloc(qxlBoListCache, newQxlBoList, bo);
  if (isErr(entry)) return -ENOMEM;
  const got = relObjRef(bo);
  if (got !== RESOLVED) await got;
  release.bos.push(entry);
  return 0;
}

/**
 * Models qxl_release_validate_bo(): moves the object into its domain (unless pinned), reserves a
 * fence slot, and gives a surface-domain object its surface id and hardware surface.
 * Locking: the object reserved. References: none.
 */
async function qxlReleaseValidateBo(qdev: QxlDevice, bo: QxlRelObj): Promise<number> {
  // an import stays where its exporter put it: a fence slot is all it needs
  if (!(bo instanceof QxlBo)) return dmaResvReserveFences(bo.resv, 1);
  const ctx: TtmOperationCtx = { interruptible: true, noWaitGpu: false, bytesMoved: 0 };
  if (!bo.pinCount) {
    qxlTtmPlacementFromDomain(bo, bo.domain);
    const ret = await ttmBoValidate(bo, bo.placement, ctx);
    if (ret) return ret;
  }
  let ret = await dmaResvReserveFences(bo.resv, 1);
  if (ret) return ret;
  // allocate a surface for reserved + validated buffers
  ret = await qxlBoCheckId(qdev, bo);
  if (ret) return ret;
  return 0;
}

/**
 * Models qxl_release_reserve_list(): with more than the release bo on the list, reserves every
 * object with drm_exec (a fence slot each; back-off and retry on contention), then validates
 * each. 0 or the first error (everything unlocked again by drm_exec_fini()).
 * Locking: takes the reservations (held on success until the fence is attached or backoff).
 * References: drm_exec holds one on each locked object.
 */
export async function qxlReleaseReserveList(
  qdev: QxlDevice,
  release: QxlRelease,
  noIntr: boolean,
): Promise<number> {
  // release->bos of a release the garbage collector already freed (known window
  // qxl.ring-push-no-recheck): KASAN's use-after-free
  release.checkAccess("qxl_release_reserve_list");
  // if only one object on the release its the release itself since these objects are pinned
  // no need to reserve
  if (release.bos.length === 1) return 0;
  const exec = release.exec;
  drmExecInit(exec, noIntr ? 0 : DRM_EXEC_INTERRUPTIBLE_WAIT, 0);
  let ret = await drmExecUntilAllLocked(exec, qxlReleaseLockBos, { qdev, release });
  if (ret === 0 && !toggleEnabled(QXL_VALIDATE_AFTER_ACQUIRE_DONE.name)) {
    for (const entry of release.bos) {
      ret = await qxlReleaseValidateBo(qdev, entry.bo);
      if (ret) break;
    }
  }
  if (ret) {
    await drmExecFini(exec);
    return ret;
  }
  return 0;
}

/**
 * qxlReleaseReserveList()'s drm_exec_until_all_locked() body: locks every listed object with a
 * fence slot (a module-level function, not a closure per call).
 * Locking: takes the reservations through the release's exec. References: drm_exec's.
 */
async function qxlReleaseLockBos(arg: { qdev: QxlDevice; release: QxlRelease }): Promise<number> {
  const release = arg.release;
  const exec = release.exec;
  for (const entry of release.bos) {
    const r = await drmExecPrepareObj(exec, entry.bo, 1);
    drmExecRetryOnContention(exec);
    if (r) return r;
  }
  // Fix switch of the known window qxl.validate-after-acquire-done: validate while the acquire
  // phase is still open (before drm_exec_cleanup()'s ww_acquire_done()); the kernel validates
  // after the loop (qxlReleaseReserveList()).
  if (toggleEnabled(QXL_VALIDATE_AFTER_ACQUIRE_DONE.name)) {
    for (const entry of release.bos) {
      const r = await qxlReleaseValidateBo(arg.qdev, entry.bo);
      if (r) return r;
    }
  }
  return 0;
}

/**
 * Models qxl_release_backoff_reserve_list(): drm_exec_fini() of the release's exec.
 * Locking: drops the reservations taken by qxlReleaseReserveList(). References: drops drm_exec's.
 */
export async function qxlReleaseBackoffReserveList(release: QxlRelease): Promise<void> {
  if (release.bos.length === 1) return;
  await drmExecFini(release.exec);
}

/**
 * Models qxl_alloc_surface_release_reserved(): a DESTROY goes right after its CREATE in the
 * same release bo (+64 bytes); anything else gets a fresh slot.
 * Locking: none held. References: the release holds its release bo.
 */
export async function qxlAllocSurfaceReleaseReserved(
  qdev: QxlDevice,
  surfaceCmdType: number,
  createRel: QxlRelease | null,
): Promise<QxlRelease | Errno> {
  if (surfaceCmdType === QXL_SURFACE_CMD_DESTROY && createRel) {
    // stash the release after the create command
    const release = await qxlReleaseAlloc(qdev, QXL_RELEASE_SURFACE_CMD);
    if (isErr(release)) return release;
    // create_rel->release_bo: a create release the garbage collector freed (an id the device
    // handed back from another object's bytes: known window qxl.retired-release-bo-evictable)
    // is KASAN's use-after-free; its release_bo, which qxl_release_free_list() set to NULL, an
    // oops in qxl_release_list_add()'s qxl_bo_ref().
    createRel.checkAccess("qxl_alloc_surface_release_reserved");
    const bo = createRel.releaseBo;
    if (bo === null)
      bug(
        "BUG: kernel NULL pointer dereference in qxl_release_list_add(): create_rel->release_bo is NULL",
      );
    release.releaseBo = bo;
    release.releaseOffset = createRel.releaseOffset + 64;
    await qxlReleaseListAdd(release, bo);
    setLe64(qxlReleaseMap(qdev, release), 0, release.id);
    return release;
  }
  const r = await qxlAllocReleaseReserved(qdev, QXL_RELEASE_SURFACE_CMD);
  return isErr(r) ? r : r.release;
}

/**
 * Models qxl_alloc_release_reserved(): a release of `type` with a slot in the current release
 * bo of its kind (a new pinned page when the current one is full; the full one is unpinned and
 * released), its id written into the slot's release info. Returns the release and the release
 * bo (not referenced for the caller beyond the release's own), or a negative errno.
 * Toggle `qxl.release-bo-pin-leak`: the full page is put under release_mutex without being
 * unpinned, as v5.11 did.
 * Locking: takes release_mutex. References: the release holds its release bo.
 */
export async function qxlAllocReleaseReserved(
  qdev: QxlDevice,
  type: number,
): Promise<{ release: QxlRelease; rbo: QxlBo } | Errno> {
  let curIdx: number;
  let priority: number;
  if (type === QXL_RELEASE_DRAWABLE) {
    curIdx = 0;
    priority = 0;
  } else if (type === QXL_RELEASE_SURFACE_CMD) {
    curIdx = 1;
    priority = 1;
  } else if (type === QXL_RELEASE_CURSOR_CMD) {
    curIdx = 2;
    priority = 1;
  } else {
    return -EINVAL as Errno;
  }
  const release = await qxlReleaseAlloc(qdev, type);
  if (isErr(release)) return release;
  qdev.releaseCount++;
  const releaseMutexTaken = qdev.releaseMutex.lock();
  if (releaseMutexTaken !== RESOLVED) await releaseMutexTaken;
  let freeBo: QxlBo | null = null;
  if (qdev.currentReleaseBoOffset[curIdx]! + 1 >= releasesPerBo[curIdx]!) {
    if (toggleEnabled(QXL_RELEASE_BO_PIN_LEAK.name)) {
      // v5.11, before "drm/qxl: unpin release objects": the full page is put here, under
      // release_mutex, still pinned (qxl_bo_unref(&qdev->current_release_bo[cur_idx])).
      const qxlBoUnrefDone = qxlBoUnref(qdev.currentReleaseBo[curIdx]!);
      if (qxlBoUnrefDone !== RESOLVED) await qxlBoUnrefDone;
    } else {
      freeBo = qdev.currentReleaseBo[curIdx]!;
    }
    qdev.currentReleaseBoOffset[curIdx] = 0;
    qdev.currentReleaseBo[curIdx] = null;
  }
  if (!qdev.currentReleaseBo[curIdx]) {
    const nb = await qxlReleaseBoAlloc(qdev, priority);
    if (isErr(nb)) {
      qdev.releaseMutex.unlockNow();
      if (freeBo) {
        await qxlBoUnpin(freeBo);
        const qxlBoUnrefDone2 = qxlBoUnref(freeBo);
        if (qxlBoUnrefDone2 !== RESOLVED) await qxlBoUnrefDone2;
      }
      await qxlReleaseFree(qdev, release);
      return nb;
    }
    qdev.currentReleaseBo[curIdx] = nb;
  }
  const bo = qdev.currentReleaseBo[curIdx]!;
  const got = qxlBoGet(bo); // qxl_bo_ref()
  if (got !== RESOLVED) await got;
  release.releaseBo = bo;
  release.releaseOffset = qdev.currentReleaseBoOffset[curIdx]! * releaseSizePerBo[curIdx]!;
  qdev.currentReleaseBoOffset[curIdx]!++;
  qdev.releaseMutex.unlockNow();
  if (freeBo) {
    await qxlBoUnpin(freeBo);
    const qxlBoUnrefDone3 = qxlBoUnref(freeBo);
    if (qxlBoUnrefDone3 !== RESOLVED) await qxlBoUnrefDone3;
  }
  const ret = await qxlReleaseListAdd(release, bo);
  const put = qxlBoUnref(bo);
  if (put !== RESOLVED) await put;
  if (ret) {
    await qxlReleaseFree(qdev, release);
    return ret as Errno;
  }
  setLe64(qxlReleaseMap(qdev, release), 0, release.id);
  return { release, rbo: bo };
}

/**
 * Models qxl_release_from_id_locked(): the release of an id the device handed back, or null
 * after `DRM_ERROR("failed to find id in release_idr\n")` (an id handed back twice: known window
 * qxl.ring-push-no-recheck; logged in qdev.drmErrors, not a splat: the kernel only prints it).
 * Locking: takes release_idr_lock. References: none (the garbage collector owns it now).
 */
export async function qxlReleaseFromIdLocked(
  qdev: QxlDevice,
  id: number,
): Promise<QxlRelease | null> {
  const releaseIdrLockTaken3 = qdev.releaseIdrLock.lock();
  if (releaseIdrLockTaken3 !== RESOLVED) await releaseIdrLockTaken3;
  const release = await qdev.releaseIdr.find(id);
  qdev.releaseIdrLock.unlockNow();
  if (!release) {
    qdev.drmErrors.push("failed to find id in release_idr");
    return null;
  }
  return release;
}

/**
 * Models qxl_release_map() (drivers/gpu/drm/qxl/qxl_release.c, v6.18): the release's slot in its
 * (pinned, VRAM) release bo, as bytes starting with the release info; writable by the CPU, read
 * by the device. `struct qxl_bo *bo = release->release_bo;` then qxl_bo_kmap_atomic_page(qdev,
 * bo, ...), which dereferences `bo->tbo.resource`. Its caller may hold a release the garbage
 * collector already freed (known window qxl.ring-push-no-recheck: an id handed back twice, reused
 * by this release): the read of release_bo is then KASAN's use-after-free, and release_bo, which
 * qxl_release_free_list() set to NULL, an oops in qxl_bo_kmap_atomic_page().
 * Locking: none (the release bo is pinned). References: the release holds the release bo.
 */
export function qxlReleaseMap(qdev: QxlDevice, release: QxlRelease): DataView {
  release.checkAccess("qxl_release_map");
  const bo = release.releaseBo;
  if (bo === null)
    bug(
      "BUG: kernel NULL pointer dereference in qxl_bo_kmap_atomic_page(): release->release_bo is NULL",
    );
  return qxlBoCpuView(qdev, bo, release.releaseOffset, 64);
}

/**
 * dma_resv_assert_held() on every object the release's drm_exec locked (none when the list is
 * only the pinned release bo, which is never reserved).
 */
function assertReleaseReserved(release: QxlRelease): void {
  for (const obj of release.exec.objects) dmaResvAssertHeld(obj.resv);
}

/**
 * Models qxl_release_fence_buffer_objects(): with more than the release bo on the list, the
 * release becomes a fence and every listed object's reservation gets it (DMA_RESV_USAGE_READ)
 * and goes to its LRU's tail, in the order of the release's list; then the reservations are
 * unlocked.
 * Locking: the reservations held (taken by qxlReleaseReserveList()); drops them.
 * References: each reservation takes a fence reference.
 */
export async function qxlReleaseFenceBufferObjects(
  qdev: QxlDevice,
  release: QxlRelease,
): Promise<void> {
  // The first access of the release (release->bos) is the point: when the command was pushed
  // first (qxl.release-use-after-free), the device may have handed the release back and gc_work
  // freed it. The ring lock's unlock before it is no point (a release is a left mover:
  // ARCHITECTURE.md, "Scheduling points"), so this access must be one.
  const atPoint = pointNow(opLabel("qxl_release_fence_buffer_objects", String(release.id)));
  if (atPoint !== null) await atPoint;
  release.checkAccess("qxl_release_fence_buffer_objects");
  assertReleaseReserved(release);
  // if only one object on the release its the release itself since these objects are pinned
  // no need to reserve
  if (release.bos.length <= 1) return;
  // Since we never really allocated a context and we don't want to conflict, set the highest
  // bits. This will break if we really allow exporting of dma-bufs.
  dmaFenceInit(release, qxlFenceOps, qdev.releaseLock, release.id | 0xf0000000, release.seqno);
  release.fenced = true;
  // list_for_each_entry(entry, &release->bos, list): the release's list order, not drm_exec's
  // locking order (after a back-off the contended object is locked first)
  for (const entry of release.bos) {
    const obj = entry.bo;
    await dmaResvAddFence(obj.resv, release, DmaResvUsage.READ);
    if (obj instanceof QxlBo) await ttmBoMoveToLruTailUnlocked(obj);
  }
  await drmExecFini(release.exec);
}
