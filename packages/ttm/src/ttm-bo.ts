/**
 * TTM buffer objects (drivers/gpu/drm/ttm/ttm_bo.c, include/drm/ttm/ttm_bo.h,
 * ttm_bo_internal.h): creation and validation into a placement, eviction, pinning, and the
 * release path with its delayed destruction of busy objects.
 *
 * Who holds what:
 * - `bo.kref` is TTM's own count, beside the embedded GEM object's `refcount`. The driver's GEM
 *   ->free drops the TTM reference its GEM object held (qxl, amdgpu: the GEM count is the main
 *   one); TTM-internal users hold TTM references: LRU walkers (ttm_bo_get_unless_zero(), the
 *   BO may be dying), ghost objects (their `bo`), the delayed-delete work (the resurrected
 *   count). CPU mappings hold GEM references (ttm_bo_mmap_obj(), ttm_bo_vm_open/close, since
 *   v6.14).
 * - The last ttm_bo_put() runs ttm_bo_release(): an idle object whose reservation can be
 *   trylocked is torn down at once; a busy one (or one whose reservation is held elsewhere) is
 *   marked `deleted`, its count re-initialised to 1 with kref_init() (never kref_get() on 0),
 *   and destroyed by `delayedDelete` work once its bookkeep fences signal.
 * - `bo.resource` and `bo.ttm` change only under the BO's reservation (`bo.resv`).
 *
 * Follows Linux v6.18 (per-BO delayed_delete work, the ttm_lru_walk eviction over a
 * ttm_bo_lru_cursor, ttm_bo_internal.h; before the ttm_bo_fini()/GEM-refcount series of v6.19).
 */

import { Kref } from "@primetime/atomics";
import {
  type DmaResv,
  DmaResvIter,
  DmaResvUsage,
  dmaFenceEnableSwSignaling,
  dmaFenceGet,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaResvAddFence,
  dmaResvAssertHeld,
  dmaResvCopyFences,
  dmaResvLock,
  dmaResvLockInterruptible,
  dmaResvLockingCtx,
  dmaResvLockSlow,
  dmaResvLockSlowInterruptible,
  dmaResvReserveFences,
  dmaResvTestSignaled,
  dmaResvTrylock,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  MAX_SCHEDULE_TIMEOUT,
} from "@primetime/dma-buf";
import {
  type DrmGemObjectFuncs,
  drmVmaNodeHasOffset,
  drmVmaNodeOffsetAddr,
  drmVmaNodeSize,
  drmVmaOffsetAdd,
  drmVmaOffsetRemove,
  GemObject,
} from "@primetime/gem";
import {
  EBUSY,
  EINTR,
  EINVAL,
  ENOENT,
  ENOMEM,
  ENOSPC,
  ERESTARTSYS,
  kasanUnwrap,
  PAGE_SIZE,
  queueWork,
  unmapMappingRange,
  WorkStruct,
  type WwAcquireCtx,
} from "@primetime/kernel";
import {
  bug,
  fmtLabel,
  opLabel,
  point,
  pointNow,
  RESOLVED,
  toggleEnabled,
  warnOn,
} from "@primetime/sim";
import { TTM_EVICT_DELETED_EXTRA_PUT, TTM_RELEASE_RESURRECT_WITH_GET } from "./toggles.js";
import { EMULTIHOP, type TtmBoType, type TtmOperationCtx, ttmBoType } from "./ttm-bo-type.js";
import {
  type TtmLruWalk,
  ttmBoMoveToLruTailUnlocked,
  ttmBoPipelineGutting,
  ttmLruWalkForEvict,
  ttmMemIoFree,
} from "./ttm-bo-util.js";
import { type TtmDevice, ttmGlobBoCountAdd, ttmManagerType } from "./ttm-device.js";
import {
  TTM_PL_FLAG_DESIRED,
  TTM_PL_FLAG_FALLBACK,
  TTM_PL_SYSTEM,
  type TtmPlace,
  type TtmPlacement,
} from "./ttm-placement.js";
import {
  type TtmLruBulkMove,
  type TtmResource,
  type TtmResourceManager,
  ttmResourceAddBulkMove,
  ttmResourceAlloc,
  ttmResourceCompatible,
  ttmResourceCursorFini,
  ttmResourceCursorInit,
  ttmResourceDelBulkMove,
  ttmResourceFree,
  ttmResourceIntersects,
  ttmResourceManagerFirst,
  ttmResourceManagerUsed,
  ttmResourceMoveToLruTail,
} from "./ttm-resource.js";
import {
  TTM_TT_FLAG_EXTERNAL,
  TTM_TT_FLAG_SWAPPED,
  type TtmTt,
  ttmTtCreate,
  ttmTtDestroy,
  ttmTtIsPopulated,
  ttmTtIsSwapped,
  ttmTtPopulate,
  ttmTtSwapout,
  ttmTtUnpopulate,
} from "./ttm-tt.js";

export { type TtmBoType, type TtmOperationCtx, ttmBoType } from "./ttm-bo-type.js";

/** Models the destroy callback of ttm_bo_init_reserved(): frees the driver's object. */
export type TtmBoDestroy = (bo: TtmBufferObject) => Promise<void>;

/**
 * Models struct ttm_buffer_object, embedding the GEM object (`base` in the kernel: here the BO
 * *is* the GemObject, as drivers extend it). Drivers extend this class with their own fields,
 * allocate it with kmalloc(), drmGemPrivateObjectInit() it and then ttmBoInitReserved() it.
 *
 * Locking: `resource`, `ttm`, `pinCount` under the reservation (`resv`); `pinCount` and list
 * membership also under bdev.lruLock; `deleted` is set once, in release.
 * References: see the file comment.
 */
export class TtmBufferObject extends GemObject {
  /** Models bdev. */
  bdev!: TtmDevice;
  /** Models type. */
  type: TtmBoType = ttmBoType.device;
  /** Models page_alignment. */
  pageAlignment = 1;
  /** Models destroy. */
  destroy: TtmBoDestroy | null = null;
  /** Models kref: TTM's reference count. */
  readonly kref: Kref;
  /** Models resource: the current backing store. */
  resource: TtmResource | null = null;
  /** Models ttm: the system pages, for use_tt placements. */
  ttm: TtmTt | null = null;
  /** Models deleted: released while busy, waiting for delayed destruction. */
  deleted = false;
  /** Models pin_count. */
  pinCount = 0;
  /** Models delayed_delete. */
  delayedDelete: WorkStruct | null = null;
  /** Models bulk_move: the bulk LRU range the BO's resources join (ttmBoSetBulkMove()). */
  bulkMove: TtmLruBulkMove | null = null;
  /** @internal The label of ttm_bo_unmap_virtual() points on it, built on first use. */
  labelUnmapVirtual = "";

  constructor(funcs: DrmGemObjectFuncs) {
    super(funcs);
    this.kref = new Kref(this);
  }
}

/**
 * Models struct ttm_transfer_obj: a ghost buffer object holding the old backing store of `bo`
 * (and a reference to it) until a move's fence signals.
 */
export class TtmTransferObj extends TtmBufferObject {
  /** Models bo: the original, referenced. */
  orig: TtmBufferObject | null = null;
}

// ---- references (ttm_bo_internal.h) --------------------------------------------------------

/**
 * Models ttm_bo_get().
 * Locking: none; the caller holds a reference (or a lock keeping the count non-zero).
 * References: takes one.
 */
export function ttmBoGet(bo: TtmBufferObject): Promise<void> {
  // kref_get()'s own promise: RESOLVED when the task went on at its point (no async frame).
  return bo.kref.get();
}

/**
 * Models ttm_bo_get_unless_zero(): the BO with a new reference, or null if its count already
 * hit zero (its release is running: leave it alone). What every weak lookup (an LRU walk, an
 * mmap offset lookup) must use.
 * Locking: the lock of the structure the BO was found in (lru_lock, the offset manager's).
 * References: takes one on success.
 */
export async function ttmBoGetUnlessZero(bo: TtmBufferObject): Promise<TtmBufferObject | null> {
  return (await bo.kref.getUnlessZero()) ? bo : null;
}

/**
 * Models ttm_bo_put(): the last put runs ttmBoRelease().
 * Locking: none held that the release needs (it takes lru_lock and reservations).
 * References: drops one.
 */
export function ttmBoPut(bo: TtmBufferObject): Promise<void> {
  // kref_put()'s promise, RESOLVED when the put kept the task and was not the last (no async
  // frame; a void put as the kernel's).
  return bo.kref.putVoid(() => ttmBoRelease(bo));
}

/**
 * The check behind "the reservation held, or the count is zero" notes (what ttm_bo_release()
 * relies on: a BO nobody references may be torn down without its lock): dma_resv_assert_held()
 * unless the BO's count already dropped to zero. Nothing for no BO.
 */
export function ttmBoAssertHeldOrDying(bo: TtmBufferObject | null): void {
  if (bo && bo.kref.read() !== 0) dmaResvAssertHeld(bo.resv);
}

// ---- reservation (ttm_bo.h) ----------------------------------------------------------------

/**
 * Models ttm_bo_reserve(): trylock when `noWait` (-EBUSY; WARN and -EBUSY if a ticket is given
 * too), else lock, under the ww acquire context `ticket` if given: 0, or with a ticket -EDEADLK
 * (back off: unreserve everything the ticket holds, then ttmBoReserveSlowpath()) or -EALREADY;
 * an `interruptible` lock interrupted by a signal (-EINTR from dma_resv_lock_interruptible())
 * returns -ERESTARTSYS.
 * Locking: takes the reservation.
 * References: the caller must hold a BO reference.
 */
export async function ttmBoReserve(
  bo: TtmBufferObject,
  interruptible: boolean,
  noWait: boolean,
  ticket: WwAcquireCtx | null = null,
): Promise<number> {
  if (noWait) {
    if (ticket !== null && warnOn(true, `ttm_bo_reserve(${bo.name}): WARN_ON(ticket)`))
      return -EBUSY;
    return dmaResvTrylock(bo.resv) ? 0 : -EBUSY;
  }
  const ret = interruptible
    ? await dmaResvLockInterruptible(bo.resv, ticket)
    : await dmaResvLock(bo.resv, ticket);
  // "if (ret == -EINTR) return -ERESTARTSYS;"
  if (ret === -EINTR) return -ERESTARTSYS;
  return ret;
}

/**
 * Models ttm_bo_reserve_slowpath(): after -EDEADLK, with everything else the ticket held
 * unreserved, waits for this reservation (dma_resv_lock_slow()). 0, or -ERESTARTSYS when an
 * `interruptible` wait is interrupted (-EINTR from dma_resv_lock_slow_interruptible()).
 * Locking: takes the reservation; `ticket` holds no other.
 * References: the caller must hold a BO reference.
 */
export async function ttmBoReserveSlowpath(
  bo: TtmBufferObject,
  interruptible: boolean,
  ticket: WwAcquireCtx,
): Promise<number> {
  if (interruptible) {
    const ret = await dmaResvLockSlowInterruptible(bo.resv, ticket);
    return ret === -EINTR ? -ERESTARTSYS : ret;
  }
  const dmaResvLockSlowDone = dmaResvLockSlow(bo.resv, ticket);
  if (dmaResvLockSlowDone !== RESOLVED) await dmaResvLockSlowDone;
  return 0;
}

/**
 * Models ttm_bo_unreserve(): bumps the BO to the LRU tail, unlocks.
 * Locking: the reservation held; takes lru_lock.
 * References: none.
 */
export async function ttmBoUnreserve(bo: TtmBufferObject): Promise<void> {
  await ttmBoMoveToLruTailUnlocked(bo);
  // dma_resv_unlock() is no point: its promise is settled.
  const unlock = dmaResvUnlock(bo.resv);
  if (unlock !== RESOLVED) await unlock;
}

/**
 * Models ttm_bo_move_to_lru_tail().
 * Locking: the reservation and lru_lock held (asserted).
 * References: none.
 */
export function ttmBoMoveToLruTail(bo: TtmBufferObject): void {
  dmaResvAssertHeld(bo.resv);
  if (bo.resource) ttmResourceMoveToLruTail(bo.resource);
}

/**
 * Models ttm_bo_set_bulk_move(): the BO's resources join `bulk`'s LRU ranges (or leave them,
 * with null). The BOs of one bulk must share a reservation. A BO must leave its bulk before its
 * last reference goes (ttm_bo_release() WARNs otherwise).
 * Locking: the reservation held (asserted); takes lru_lock.
 * References: none.
 */
export async function ttmBoSetBulkMove(
  bo: TtmBufferObject,
  bulk: TtmLruBulkMove | null,
): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  if (bo.bulkMove === bulk) return;
  const lruLockTaken = bo.bdev.lruLock.lock();
  if (lruLockTaken !== RESOLVED) await lruLockTaken;
  if (bo.resource) ttmResourceDelBulkMove(bo.resource, bo);
  bo.bulkMove = bulk;
  if (bo.resource) ttmResourceAddBulkMove(bo.resource, bo);
  bo.bdev.lruLock.unlockNow();
}

// ---- backing store --------------------------------------------------------------------------

/**
 * Models ttm_bo_tt_destroy(): unpopulates and destroys the BO's ttm_tt, if any.
 * Locking: the reservation held (asserted).
 * References: the ttm_tt is gone.
 */
export async function ttmBoTtDestroy(bo: TtmBufferObject): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  if (bo.ttm === null) return;
  await ttmTtUnpopulate(bo.bdev, bo.ttm);
  await ttmTtDestroy(bo.bdev, bo.ttm);
  bo.ttm = null;
}

/**
 * Models ttm_bo_populate(): makes sure the BO's ttm_tt (if any) has its pages with valid
 * contents, swapping them back in; a BO that was swapped out goes back on its manager's LRU.
 * 0 or -errno.
 * Locking: the reservation held (asserted); takes lru_lock.
 * References: the ttm_tt owns the pages.
 */
export async function ttmBoPopulate(bo: TtmBufferObject, ctx: TtmOperationCtx): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const tt = bo.ttm;
  if (!tt) return 0;
  const swapped = ttmTtIsSwapped(tt);
  const ret = await ttmTtPopulate(bo.bdev, tt, ctx);
  if (ret) return ret;
  if (swapped && !ttmTtIsSwapped(tt) && !bo.pinCount && bo.resource) {
    const lruLockTaken2 = bo.bdev.lruLock.lock();
    if (lruLockTaken2 !== RESOLVED) await lruLockTaken2;
    ttmResourceAddBulkMove(bo.resource, bo);
    ttmResourceMoveToLruTail(bo.resource);
    bo.bdev.lruLock.unlockNow();
  }
  return 0;
}

/**
 * Models ttm_bo_handle_move_mem(): zaps CPU mappings, creates (and for non-SYSTEM targets
 * populates) a ttm_tt when the target uses one, reserves a fence slot, and calls the driver's
 * move, which assigns `mem` to the BO. On error a ttm_tt created for a fixed old placement is
 * destroyed again.
 * Locking: the reservation held.
 * References: `mem` passes to the BO on success; the caller frees it on error.
 */
async function ttmBoHandleMoveMem(
  bo: TtmBufferObject,
  mem: TtmResource,
  evict: boolean,
  ctx: TtmOperationCtx,
  hop: TtmPlace | null,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const bdev = bo.bdev;
  const oldUseTt = !bo.resource || ttmManagerType(bdev, bo.resource.memType)!.useTt;
  const newUseTt = ttmManagerType(bdev, mem.memType)!.useTt;
  let ret: number;
  const unmap = ttmBoUnmapVirtual(bo);
  if (unmap !== RESOLVED) await unmap;
  // Create and bind a ttm if required.
  if (newUseTt) {
    // Zero init the new TTM structure if the old location should have used one as well.
    ret = await ttmTtCreate(bo, oldUseTt);
    if (ret) return moveErr(bo, oldUseTt, ret);
    if (mem.memType !== TTM_PL_SYSTEM) {
      ret = await ttmBoPopulate(bo, ctx);
      if (ret) return moveErr(bo, oldUseTt, ret);
    }
  }
  ret = await dmaResvReserveFences(bo.resv, 1);
  if (ret) return moveErr(bo, oldUseTt, ret);
  ret = await bdev.funcs.move(bo, evict, ctx, mem, hop);
  if (ret) {
    if (ret === -EMULTIHOP) return ret;
    return moveErr(bo, oldUseTt, ret);
  }
  ctx.bytesMoved += bo.size;
  return 0;
}

async function moveErr(bo: TtmBufferObject, oldUseTt: boolean, ret: number): Promise<number> {
  if (!oldUseTt) await ttmBoTtDestroy(bo);
  return ret;
}

/**
 * Models ttm_bo_cleanup_memtype_use(): the driver's delete_mem_notify, then the ttm_tt and the
 * resource go.
 * Locking: the reservation held (asserted).
 * References: backing store freed.
 */
export async function ttmBoCleanupMemtypeUse(bo: TtmBufferObject): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  if (bo.bdev.funcs.deleteMemNotify) await bo.bdev.funcs.deleteMemNotify(bo);
  await ttmBoTtDestroy(bo);
  const res = bo.resource;
  bo.resource = null;
  await ttmResourceFree(res);
}

/**
 * Models ttm_bo_individualize_resv(): a BO sharing a reservation (an import, a per-VM resv)
 * gets a copy of its fences in its own `_resv`, and `resv` switches to it under lru_lock, so
 * the delayed destruction waits on its own fences only. 0 or -ENOMEM.
 * Locking: none held; the BO is dying (nobody else references it).
 * References: the copied fences are referenced by `_resv`.
 */
async function ttmBoIndividualizeResv(bo: TtmBufferObject): Promise<number> {
  if (bo.resv === bo._resv) return 0;
  if (!dmaResvTrylock(bo._resv)) bug(`ttm_bo_individualize_resv(${bo.name}): BUG_ON(!trylock)`);
  const r = await dmaResvCopyFences(bo._resv, bo.resv);
  const dmaResvUnlockDone = dmaResvUnlock(bo._resv);
  if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
  if (r) return r;
  if (bo.type !== ttmBoType.sg) {
    // This works because the BO is about to be destroyed and nobody reference it any more.
    // The only tricky case is the trylock on the resv object while holding the lru_lock.
    const lruLockTaken3 = bo.bdev.lruLock.lock();
    if (lruLockTaken3 !== RESOLVED) await lruLockTaken3;
    bo.resv = bo._resv;
    bo.bdev.lruLock.unlockNow();
  }
  return r;
}

/**
 * Models ttm_bo_flush_all_fences(): enables signalling on every fence of `_resv`, so the
 * delayed destruction is not waiting on fences nobody asked to signal.
 * Locking: none. References: the cursor's.
 */
async function ttmBoFlushAllFences(bo: TtmBufferObject): Promise<void> {
  // dma_resv_for_each_fence_unlocked() with the cursor itself (what
  // dmaResvForEachFenceUnlocked() does): no async generator, whose steps cost promises.
  const cursor = new DmaResvIter(bo._resv, DmaResvUsage.BOOKKEEP);
  try {
    for (let fence = await cursor.first(); fence; fence = await cursor.next()) {
      if (!fence.ops.signaled) await dmaFenceEnableSwSignaling(fence);
    }
  } finally {
    const ended = cursor.end();
    if (ended !== RESOLVED) await ended;
  }
}

/**
 * Models ttm_bo_delayed_delete(): the work of a BO released while busy: waits for its own
 * fences, locks it, frees its backing store, and drops the reference the release resurrected.
 * Locking: sleeps; takes the reservation.
 * References: drops the resurrected one (which destroys the BO).
 */
async function ttmBoDelayedDelete(bo: TtmBufferObject): Promise<void> {
  await dmaResvWaitTimeout(bo._resv, DmaResvUsage.BOOKKEEP, false, MAX_SCHEDULE_TIMEOUT);
  await dmaResvLock(bo.resv);
  await ttmBoCleanupMemtypeUse(bo);
  const dmaResvUnlockDone2 = dmaResvUnlock(bo.resv);
  if (dmaResvUnlockDone2 !== RESOLVED) await dmaResvUnlockDone2;
  const ttmBoPutDone = ttmBoPut(bo);
  if (ttmBoPutDone !== RESOLVED) await ttmBoPutDone;
}

/**
 * Not in the kernel: the proposed fix of the known window ttm.walk-put-runs-destroy, the LRU
 * walk's put of a BO (ttm_bo_lru_cursor_cleanup_bo(), after its unlock). refcount_dec_not_one()
 * drops the walker's reference unless it is the last. The last one (a deleted BO's delayed delete
 * put its own meanwhile, or the owner of a live BO dropped its last reference while the walk
 * held it) is handed to TTM's workqueue: a deleted BO's delayed-delete work is queued again (its
 * earlier run ended with its put: it locks, finds nothing left to clean up, unlocks and puts),
 * a live BO's work item (unused until its release) is set to put it. So ttm_bo_release() and
 * bo->destroy run in a worker, never in the walker's context, which may hold a lock the
 * driver's destroy takes (vmwgfx's cmdbuf_mutex under EXECBUF).
 * Locking: the BO not locked by the caller (the delayed delete takes its lock). References:
 * consumes one (handed to the work when it is the last).
 */
export async function ttmBoWalkPut(bo: TtmBufferObject): Promise<void> {
  // The point of the kref_put() this replaces (same label), so a run where the put is not the
  // last takes the same steps as before.
  await point(opLabel("kref_put", bo.name));
  if (bo.kref.refcount.decNotOne()) return;
  if (!bo.deleted || !bo.delayedDelete)
    bo.delayedDelete = new WorkStruct(() => ttmBoPut(bo), `ttm_bo_put(${bo.name})`);
  await queueWork(bo.bdev.wq!, bo.delayedDelete);
}

/**
 * Models ttm_bo_release(): the kref release. WARNs if the BO is still pinned. On the first
 * release: individualizes the reservation (or waits for the BO to idle when that fails), calls
 * ->release_notify, removes the mmap offset and frees the io reservation; then, if the BO is
 * busy, is an sg BO, or its reservation cannot be trylocked, it is resurrected for delayed
 * destruction: fences flushed, `deleted` set, pin count forced to 0, the count re-initialised
 * with kref_init() under lru_lock, and the delayed-delete work queued. Otherwise (and on the
 * second release, from the work) the backing store goes, the BO count drops and ->destroy
 * frees the object.
 *
 * Toggle `ttm.release-resurrect-with-get`: the resurrection takes a reference with kref_get()
 * on the zero count instead of kref_init().
 *
 * Locking: called without lru_lock or the reservation; takes both.
 * References: the count is 0 on entry; a resurrected BO has 1 again, owned by the work.
 */
export async function ttmBoRelease(bo: TtmBufferObject): Promise<void> {
  const bdev = bo.bdev;
  // WARN texts are built only when they fire (this runs at every release).
  if (bo.pinCount !== 0)
    warnOn(true, `ttm_bo_release(${bo.name}): WARN_ON_ONCE(bo->pin_count)`, { object: bo.name });
  if (bo.bulkMove !== null)
    warnOn(true, `ttm_bo_release(${bo.name}): WARN_ON_ONCE(bo->bulk_move)`, { object: bo.name });
  if (!bo.deleted) {
    const ret = await ttmBoIndividualizeResv(bo);
    if (ret) {
      // Last resort, if we fail to allocate memory for the fences block for the BO to become idle
      await dmaResvWaitTimeout(bo.resv, DmaResvUsage.BOOKKEEP, false, 30_000_000_000);
    }
    if (bdev.funcs.releaseNotify) await bdev.funcs.releaseNotify(bo);
    const removed = drmVmaOffsetRemove(bdev.vmaManager, bo.vmaNode);
    if (removed !== RESOLVED) await removed;
    const free = ttmMemIoFree(bdev, bo.resource);
    if (free !== RESOLVED) await free;
    if (
      !(await dmaResvTestSignaled(bo._resv, DmaResvUsage.BOOKKEEP)) ||
      bo.type === ttmBoType.sg ||
      !dmaResvTrylock(bo.resv)
    ) {
      // The BO is not idle, resurrect it for delayed destroy
      await ttmBoFlushAllFences(bo);
      bo.deleted = true;
      const lruLockTaken4 = bdev.lruLock.lock();
      if (lruLockTaken4 !== RESOLVED) await lruLockTaken4;
      // Make pinned bos immediately available to shrinkers, now that they are queued for
      // destruction. (FIXME in the kernel: QXL is triggering this.)
      if (bo.pinCount) {
        bo.pinCount = 0;
        if (bo.resource) ttmResourceMoveToLruTail(bo.resource);
      }
      if (toggleEnabled(TTM_RELEASE_RESURRECT_WITH_GET.name)) await bo.kref.get();
      else bo.kref.init();
      bdev.lruLock.unlockNow();
      bo.delayedDelete = new WorkStruct(
        () => ttmBoDelayedDelete(bo),
        `ttm_bo_delayed_delete(${bo.name})`,
      );
      await queueWork(bdev.wq!, bo.delayedDelete);
      return;
    }
    await ttmBoCleanupMemtypeUse(bo);
    const dmaResvUnlockDone3 = dmaResvUnlock(bo.resv);
    if (dmaResvUnlockDone3 !== RESOLVED) await dmaResvUnlockDone3;
  }
  ttmGlobBoCountAdd(-1);
  const atPoint = pointNow(fmtLabel("ttm_bo_release(", bo.name, "): destroy"));
  if (atPoint !== null) await atPoint;
  if (bo.destroy) await bo.destroy(bo);
}

// ---- eviction -------------------------------------------------------------------------------

/**
 * Models ttm_bo_bounce_temp_buffer(): the first hop of a multihop move.
 * Locking: the reservation held. References: none.
 */
async function ttmBoBounceTempBuffer(
  bo: TtmBufferObject,
  ctx: TtmOperationCtx,
  hop: TtmPlace,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const hopMem = await ttmBoMemSpace(bo, { placement: [hop] }, ctx);
  if (typeof hopMem === "number") return hopMem;
  const ret = await ttmBoHandleMoveMem(bo, hopMem, false, ctx, null);
  if (ret) {
    await ttmResourceFree(hopMem);
    return ret;
  }
  return 0;
}

/**
 * Models ttm_bo_evict(): moves `bo` to where the driver's ->evict_flags says (an empty
 * placement guts it once idle). 0 or -errno.
 * Locking: the reservation held (asserted).
 * References: the caller holds one.
 */
async function ttmBoEvict(bo: TtmBufferObject, ctx: TtmOperationCtx): Promise<number> {
  const bdev = bo.bdev;
  dmaResvAssertHeld(bo.resv);
  const placement: TtmPlacement = { placement: [] };
  bdev.funcs.evictFlags(bo, placement);
  if (!placement.placement.length) {
    const ret = await ttmBoWaitCtx(bo, ctx);
    if (ret) return ret;
    // Since we've already synced, this frees backing store immediately.
    return ttmBoPipelineGutting(bo);
  }
  const evictMem = await ttmBoMemSpace(bo, placement, ctx);
  if (typeof evictMem === "number") return evictMem;
  let ret: number;
  const hop: TtmPlace = { fpfn: 0, lpfn: 0, memType: 0, flags: 0 };
  do {
    ret = await ttmBoHandleMoveMem(bo, evictMem, true, ctx, hop);
    if (ret !== -EMULTIHOP) break;
    ret = await ttmBoBounceTempBuffer(bo, ctx, hop);
  } while (!ret);
  if (ret) await ttmResourceFree(evictMem);
  return ret;
}

/**
 * Models ttm_bo_eviction_valuable(): the default ->eviction_valuable: a SYSTEM BO always is,
 * otherwise only if its resource intersects the wanted range.
 * Locking: the reservation held (asserted).
 * References: none.
 */
export function ttmBoEvictionValuable(bo: TtmBufferObject, place: TtmPlace): boolean {
  dmaResvAssertHeld(bo.resv);
  if (bo.resource!.memType === TTM_PL_SYSTEM) return true;
  // Don't evict this BO if it's outside of the requested placement range
  return ttmResourceIntersects(bo.bdev, bo.resource, place, bo.size);
}

/**
 * Models ttm_bo_evict_first(): evicts the first BO of the manager's LRU (a deleted one is just
 * cleaned up once idle). 0, -ENOENT (LRU empty), or the eviction's error.
 * Locking: takes lru_lock, then (sleeping) the reservation.
 * References: a temporary one, taken with ttm_bo_get_unless_zero().
 */
export async function ttmBoEvictFirst(
  bdev: TtmDevice,
  man: TtmResourceManager,
  ctx: TtmOperationCtx,
): Promise<number> {
  let ret = 0;
  const lruLockTaken5 = bdev.lruLock.lock();
  if (lruLockTaken5 !== RESOLVED) await lruLockTaken5;
  const cursor = ttmResourceCursorInit(man);
  const res = ttmResourceManagerFirst(cursor);
  ttmResourceCursorFini(cursor);
  if (!res) {
    bdev.lruLock.unlockNow();
    return -ENOENT;
  }
  const bo = res.bo!;
  if (!(await ttmBoGetUnlessZero(bo))) {
    bdev.lruLock.unlockNow();
    return ret;
  }
  const memType = res.memType;
  bdev.lruLock.unlockNow();
  ret = await ttmBoReserve(bo, ctx.interruptible, ctx.noWaitGpu);
  if (ret) {
    const ttmBoPutDone2 = ttmBoPut(bo);
    if (ttmBoPutDone2 !== RESOLVED) await ttmBoPutDone2;
    return ret;
  }
  if (bo.resource && bo.resource.memType === memType) {
    if (bo.deleted) {
      ret = await ttmBoWaitCtx(bo, ctx);
      if (!ret) await ttmBoCleanupMemtypeUse(bo);
      await ttmBoEvictDeletedExtraPut(bo);
    } else {
      ret = await ttmBoEvict(bo, ctx);
    }
  }
  const dmaResvUnlockDone4 = dmaResvUnlock(bo.resv);
  if (dmaResvUnlockDone4 !== RESOLVED) await dmaResvUnlockDone4;
  const ttmBoPutDone3 = ttmBoPut(bo);
  if (ttmBoPutDone3 !== RESOLVED) await ttmBoPutDone3;
  return ret;
}

/**
 * Toggle `ttm.evict-deleted-extra-put`: what ttm_bo_cleanup_refs() still did after the per-BO
 * cleanup workers: drop the reference of a ddestroy list that no longer exists (the fix, "drm/ttm:
 * drop extra ttm_bo_put in ttm_bo_cleanup_refs", removed this put). Nothing with the toggle off.
 * Locking: the BO's reservation held. References: drops one it does not own (the bug).
 */
async function ttmBoEvictDeletedExtraPut(bo: TtmBufferObject): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  if (toggleEnabled(TTM_EVICT_DELETED_EXTRA_PUT.name)) await ttmBoPut(bo);
}

/** Models struct ttm_bo_evict_walk. */
interface TtmBoEvictWalk extends TtmLruWalk {
  place: TtmPlace;
  evictor: TtmBufferObject;
  res: TtmResource | null;
  evicted: number;
}

/**
 * Models ttm_bo_evict_cb(): the walk's step for one locked, referenced BO: skip pinned BOs and
 * ones not worth evicting; clean up a deleted one once idle, evict a live one; then try the
 * allocation again (1: done, stop the walk).
 * Locking: the BO's reservation held by the walk.
 * References: the walk holds one.
 */
async function ttmBoEvictCb(walk: TtmLruWalk, bo: TtmBufferObject): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const ew = walk as TtmBoEvictWalk;
  let lret: number;
  if (bo.pinCount || !bo.bdev.funcs.evictionValuable(bo, ew.place)) return 0;
  if (bo.deleted) {
    lret = await ttmBoWaitCtx(bo, walk.arg.ctx);
    if (!lret) await ttmBoCleanupMemtypeUse(bo);
    await ttmBoEvictDeletedExtraPut(bo);
  } else {
    lret = await ttmBoEvict(bo, walk.arg.ctx);
  }
  if (!lret) {
    ew.evicted++;
    const r = await ttmResourceAlloc(ew.evictor, ew.place);
    if (typeof r !== "number") {
      ew.res = r;
      return 1;
    }
    lret = r;
  }
  // Errors that should terminate the walk.
  if (lret === -ENOSPC) return -EBUSY;
  return lret;
}

/**
 * Models ttm_bo_evict_alloc(): walks the manager's LRU evicting until `place` has room for
 * `evictor`: first trylocking only; then, if the evictor's reservation is held under a ww
 * ticket, again (repeatedly, while it makes progress) sleeping with the ticket for BOs it could
 * not trylock. The resource, -EBUSY when nothing more could be evicted, or the walk's error
 * (-ENOSPC when a ticketlock hit -EDEADLK: the caller must back off its ww transaction).
 * Locking: the evictor's reservation held (asserted); the walk trylocks or ticketlocks others.
 * References: none kept.
 */
async function ttmBoEvictAlloc(
  bdev: TtmDevice,
  man: TtmResourceManager,
  place: TtmPlace,
  evictor: TtmBufferObject,
  ctx: TtmOperationCtx,
  ticket: WwAcquireCtx | null,
): Promise<TtmResource | number> {
  dmaResvAssertHeld(evictor.resv);
  const ew: TtmBoEvictWalk = {
    processBo: ttmBoEvictCb,
    arg: { ctx, ticket, trylockOnly: false },
    place,
    evictor,
    res: null,
    evicted: 0,
  };
  ew.arg.trylockOnly = true;
  let lret = await ttmLruWalkForEvict(ew, bdev, man, 1);
  // (dmem cgroups' low-limit second pass not modelled)
  if (!lret && ticket) {
    // If ticket-locking, repeat while making progress.
    ew.arg.trylockOnly = false;
    do {
      // The walk may clear the evict_walk.walk.ticket field
      ew.arg.ticket = ticket;
      ew.evicted = 0;
      lret = await ttmLruWalkForEvict(ew, bdev, man, 1);
    } while (!lret && ew.evicted);
  }
  if (lret < 0) return lret;
  if (lret === 0 || ew.res === null) return -EBUSY;
  return ew.res;
}

// ---- swapout --------------------------------------------------------------------------------

/** Models struct ttm_bo_swapout_walk (gfp flags aside, the walk's own fields). */
type TtmBoSwapoutWalk = TtmLruWalk;

/**
 * Models ttm_bo_swapout_cb(): the swapout walk's step for one locked, referenced BO: skip
 * pinned BOs, ones not worth it, ones without populated (or with external, or already swapped)
 * pages; clean up a deleted one once idle; otherwise move it to SYSTEM, wait for it to idle,
 * zap its CPU mappings, ->swap_notify, and swap its ttm_tt out to shmem (the BO then sits on
 * the unevictable list until swapped in). The pages swapped out, or -EBUSY (skipped: -ENOMEM
 * and -ENOSPC count as that), or -errno.
 *
 * Toggle `ttm.evict-deleted-extra-put`: the deleted-BO branch is ttm_bo_cleanup_refs() of
 * v6.5-rc, which ended with the put of a list reference that no longer existed.
 *
 * Locking: the BO's reservation held by the walk (asserted); takes lru_lock.
 * References: the walk holds one.
 */
async function ttmBoSwapoutCb(walk: TtmLruWalk, bo: TtmBufferObject): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const ret = await ttmBoSwapoutOne(walk.arg.ctx, bo);
  // Consider -ENOMEM and -ENOSPC non-fatal.
  if (ret === -ENOMEM || ret === -ENOSPC) return -EBUSY;
  return ret;
}

/**
 * The body of ttm_bo_swapout_cb() up to its `out:` label: the pages swapped out, or -errno.
 * Locking: the BO's reservation held (asserted); takes lru_lock.
 * References: the walk holds one.
 */
async function ttmBoSwapoutOne(ctx: TtmOperationCtx, bo: TtmBufferObject): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const bdev = bo.bdev;
  // While the bo may already reside in SYSTEM placement, set SYSTEM as new placement to cover
  // also the move further below.
  const place: TtmPlace = { fpfn: 0, lpfn: 0, memType: bo.resource!.memType, flags: 0 };
  let ret: number;
  if (bo.pinCount || !bdev.funcs.evictionValuable(bo, place)) return -EBUSY;
  if (
    !bo.ttm ||
    !ttmTtIsPopulated(bo.ttm) ||
    bo.ttm.pageFlags & TTM_TT_FLAG_EXTERNAL ||
    bo.ttm.pageFlags & TTM_TT_FLAG_SWAPPED
  )
    return -EBUSY;
  if (bo.deleted) {
    const numPages = bo.ttm.numPages;
    ret = await ttmBoWaitCtx(bo, ctx);
    if (ret) return ret;
    await ttmBoCleanupMemtypeUse(bo);
    await ttmBoEvictDeletedExtraPut(bo);
    return numPages;
  }
  // Move to system cached
  if (bo.resource!.memType !== TTM_PL_SYSTEM) {
    const hop: TtmPlace = { fpfn: 0, lpfn: 0, memType: 0, flags: 0 };
    place.memType = TTM_PL_SYSTEM;
    const evictMem = await ttmResourceAlloc(bo, place);
    if (typeof evictMem === "number") return evictMem;
    ret = await ttmBoHandleMoveMem(bo, evictMem, true, ctx, hop);
    if (ret) {
      warnOn(ret === -EMULTIHOP, "Unexpected multihop in swapout - likely driver bug.");
      await ttmResourceFree(evictMem);
      return ret;
    }
  }
  // Make sure BO is idle.
  ret = await ttmBoWaitCtx(bo, ctx);
  if (ret) return ret;
  const unmap = ttmBoUnmapVirtual(bo);
  if (unmap !== RESOLVED) await unmap;
  if (bdev.funcs.swapNotify) await bdev.funcs.swapNotify(bo);
  if (bo.ttm && ttmTtIsPopulated(bo.ttm)) {
    if (bo.bulkMove) {
      // (lru_lock only for a BO in a bulk: see ttmResourceAlloc())
      const lruLockTaken6 = bdev.lruLock.lock();
      if (lruLockTaken6 !== RESOLVED) await lruLockTaken6;
      ttmResourceDelBulkMove(bo.resource!, bo);
      bdev.lruLock.unlockNow();
    }
    ret = await ttmTtSwapout(bdev, bo.ttm);
    const lruLockTaken7 = bdev.lruLock.lock();
    if (lruLockTaken7 !== RESOLVED) await lruLockTaken7;
    if (ret < 0) ttmResourceAddBulkMove(bo.resource!, bo);
    ttmResourceMoveToLruTail(bo.resource!);
    bdev.lruLock.unlockNow();
  }
  return ret;
}

/**
 * Models ttm_bo_swapout(): walks the LRU of `man` (trylock and get-unless-zero, as eviction
 * does) swapping BOs out to shmem until `target` pages are. The pages swapped out, or -errno.
 * Locking: none needed; trylocks each BO's reservation.
 * References: a temporary one on each BO.
 */
export async function ttmBoSwapout(
  bdev: TtmDevice,
  ctx: TtmOperationCtx,
  man: TtmResourceManager,
  target: number,
): Promise<number> {
  const walk: TtmBoSwapoutWalk = {
    processBo: ttmBoSwapoutCb,
    arg: { ctx, ticket: null, trylockOnly: true },
  };
  return ttmLruWalkForEvict(walk, bdev, man, target);
}

// ---- pinning --------------------------------------------------------------------------------

/**
 * Models ttm_bo_pin(): the BO may no longer be evicted or moved; its resource goes to the
 * unevictable list.
 * Locking: the reservation held (asserted); takes lru_lock.
 * References: none (the caller keeps its own while pinned).
 */
export async function ttmBoPin(bo: TtmBufferObject): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  if (bo.kref.read() === 0)
    warnOn(true, `ttm_bo_pin(${bo.name}): WARN_ON_ONCE(!kref_read(&bo->kref))`);
  const lruLockTaken8 = bo.bdev.lruLock.lock();
  if (lruLockTaken8 !== RESOLVED) await lruLockTaken8;
  if (bo.resource) ttmResourceDelBulkMove(bo.resource, bo);
  if (!bo.pinCount++ && bo.resource) ttmResourceMoveToLruTail(bo.resource);
  bo.bdev.lruLock.unlockNow();
}

/**
 * Models ttm_bo_unpin(). WARNs (and does nothing) if not pinned.
 * Locking: the reservation held (asserted); takes lru_lock.
 * References: none.
 */
export async function ttmBoUnpin(bo: TtmBufferObject): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  if (bo.kref.read() === 0)
    warnOn(true, `ttm_bo_unpin(${bo.name}): WARN_ON_ONCE(!kref_read(&bo->kref))`);
  if (!bo.pinCount) {
    warnOn(true, `ttm_bo_unpin(${bo.name}): WARN_ON_ONCE(!bo->pin_count)`);
    return;
  }
  const lruLockTaken9 = bo.bdev.lruLock.lock();
  if (lruLockTaken9 !== RESOLVED) await lruLockTaken9;
  if (!--bo.pinCount && bo.resource) {
    ttmResourceAddBulkMove(bo.resource, bo);
    ttmResourceMoveToLruTail(bo.resource);
  }
  bo.bdev.lruLock.unlockNow();
}

// ---- placement ------------------------------------------------------------------------------

/**
 * Models ttm_bo_add_move_fence(): a new resource of `man` must wait for the last pipelined
 * eviction out of it: its fence becomes a KERNEL fence of the BO (or, with no_wait_gpu, -EBUSY
 * unless signalled), and a fence slot is reserved again.
 * Locking: the reservation held; takes man.moveLock.
 * References: the reservation takes one on the fence.
 */
async function ttmBoAddMoveFence(
  bo: TtmBufferObject,
  man: TtmResourceManager,
  noWaitGpu: boolean,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const moveLockTaken = man.moveLock.lock();
  if (moveLockTaken !== RESOLVED) await moveLockTaken;
  const fence = await dmaFenceGet(man.move);
  man.moveLock.unlockNow();
  if (!fence) return 0;
  if (noWaitGpu) {
    const ret = (await dmaFenceIsSignaled(fence)) ? 0 : -EBUSY;
    const dmaFencePutDone = dmaFencePut(fence);
    if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
    return ret;
  }
  await dmaResvAddFence(bo.resv, fence, DmaResvUsage.KERNEL);
  const ret = await dmaResvReserveFences(bo.resv, 1);
  const dmaFencePutDone2 = dmaFencePut(fence);
  if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
  return ret;
}

/**
 * Models ttm_bo_alloc_resource(): tries each place in order; with `forceSpace`, evicts from
 * non-SYSTEM managers to make room. The resource, -ENOSPC (nothing fits), -EBUSY, -ENOMEM.
 * Locking: the reservation held.
 * References: the caller owns the resource.
 */
async function ttmBoAllocResource(
  bo: TtmBufferObject,
  placement: TtmPlacement,
  ctx: TtmOperationCtx,
  forceSpace: boolean,
): Promise<TtmResource | number> {
  const bdev = bo.bdev;
  const ticket = dmaResvLockingCtx(bo.resv);
  let ret = await dmaResvReserveFences(bo.resv, 1);
  if (ret) return ret;
  for (const place of placement.placement) {
    const man = ttmManagerType(bdev, place.memType);
    if (!man || !ttmResourceManagerUsed(man)) continue;
    if (place.flags & (forceSpace ? TTM_PL_FLAG_DESIRED : TTM_PL_FLAG_FALLBACK)) continue;
    const mayEvict = forceSpace && place.memType !== TTM_PL_SYSTEM;
    let res = await ttmResourceAlloc(bo, place);
    if (typeof res === "number") {
      ret = res;
      if (ret !== -ENOSPC) return ret;
      if (!mayEvict) continue;
      res = await ttmBoEvictAlloc(bdev, man, place, bo, ctx, ticket);
      if (res === -EBUSY) continue;
      if (typeof res === "number") return res;
    }
    ret = await ttmBoAddMoveFence(bo, man, ctx.noWaitGpu);
    if (ret) {
      await ttmResourceFree(res);
      if (ret === -EBUSY) continue;
      return ret;
    }
    return res;
  }
  return -ENOSPC;
}

/**
 * Models ttm_bo_mem_space(): ttm_bo_alloc_resource() without, then with eviction.
 * Locking: the reservation held.
 * References: the caller owns the resource.
 */
export async function ttmBoMemSpace(
  bo: TtmBufferObject,
  placement: TtmPlacement,
  ctx: TtmOperationCtx,
): Promise<TtmResource | number> {
  dmaResvAssertHeld(bo.resv);
  let forceSpace = false;
  let ret: TtmResource | number;
  do {
    ret = await ttmBoAllocResource(bo, placement, ctx, forceSpace);
    forceSpace = !forceSpace;
  } while (ret === -ENOSPC && forceSpace);
  return ret;
}

/**
 * Models ttm_bo_validate(): makes the BO's placement one of `placement`, moving it (and
 * evicting others) as needed. An empty placement guts it. 0, -EINVAL (pinned and not already
 * compatible), -ENOMEM (no space anywhere, for backward compatibility with userspace),
 * -EBUSY, or the move's error.
 * Locking: the reservation held (asserted).
 * References: the caller holds one.
 */
export async function ttmBoValidate(
  bo: TtmBufferObject,
  placement: TtmPlacement,
  ctx: TtmOperationCtx,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  // Remove the backing store if no placement is given.
  if (!placement.placement.length) return ttmBoPipelineGutting(bo);
  let forceSpace = false;
  let ret = 0;
  do {
    // Check whether we need to move buffer.
    if (bo.resource && ttmResourceCompatible(bo.resource, placement, forceSpace)) return 0;
    // Moving of pinned BOs is forbidden
    if (bo.pinCount) return -EINVAL;
    const res = await ttmBoAllocResource(bo, placement, ctx, forceSpace);
    forceSpace = !forceSpace;
    if (res === -ENOSPC) {
      ret = res;
      continue;
    }
    if (typeof res === "number") return res;
    const hop: TtmPlace = { fpfn: 0, lpfn: 0, memType: 0, flags: 0 };
    for (;;) {
      ret = await ttmBoHandleMoveMem(bo, res, false, ctx, hop);
      if (ret !== -EMULTIHOP) break;
      ret = await ttmBoBounceTempBuffer(bo, ctx, hop);
      if (ret) break; // try and move to final place now only on success
    }
    if (ret) {
      await ttmResourceFree(res);
      return ret;
    }
  } while (ret && forceSpace);
  // For backward compatibility with userspace
  if (ret === -ENOSPC) return -ENOMEM;
  // We might need to add a TTM.
  if (!bo.resource || bo.resource.memType === TTM_PL_SYSTEM) {
    ret = await ttmTtCreate(bo, true);
    if (ret) return ret;
  }
  return 0;
}

/**
 * Models ttm_bo_init_reserved(): initialises a driver-allocated BO (its GEM part already
 * drmGemPrivateObjectInit()ed, `size` set): TTM count 1, an mmap offset for device and sg BOs,
 * the reservation (its own, trylocked, unless `resv` is given, which the caller holds), then
 * validation into `placement`. On success the caller owns the reference and (without `resv`)
 * holds the reservation. On failure the BO has been put, which ran `destroy`: the caller must
 * not touch it.
 * Locking: none held, or `resv`.
 * References: the caller owns the initial one.
 */
export async function ttmBoInitReserved(
  bdev: TtmDevice,
  bo: TtmBufferObject,
  type: TtmBoType,
  placement: TtmPlacement,
  alignment: number,
  ctx: TtmOperationCtx,
  resv: DmaResv | null,
  destroy: TtmBoDestroy | null,
): Promise<number> {
  let ret: number;
  bo.kref.init();
  bo.bdev = bdev;
  bo.type = type;
  bo.pageAlignment = alignment;
  bo.destroy = destroy;
  bo.pinCount = 0;
  bo.resv = resv ?? bo._resv;
  ttmGlobBoCountAdd(1);
  // For ttm_bo_type_device buffers, allocate address space from the device.
  if (bo.type === ttmBoType.device || bo.type === ttmBoType.sg) {
    ret = await drmVmaOffsetAdd(bdev.vmaManager, bo.vmaNode, Math.ceil(bo.size / PAGE_SIZE));
    if (ret) {
      const ttmBoPutDone4 = ttmBoPut(bo);
      if (ttmBoPutDone4 !== RESOLVED) await ttmBoPutDone4;
      return ret;
    }
  }
  // passed reservation objects should already be locked, since otherwise lockdep will be
  // angered in radeon.
  if (!resv) {
    if (!dmaResvTrylock(bo.resv)) warnOn(true, `ttm_bo_init_reserved(${bo.name}): trylock`);
  } else dmaResvAssertHeld(resv);
  ret = await ttmBoValidate(bo, placement, ctx);
  if (ret) {
    if (!resv) await dmaResvUnlock(bo.resv);
    const ttmBoPutDone5 = ttmBoPut(bo);
    if (ttmBoPutDone5 !== RESOLVED) await ttmBoPutDone5;
    return ret;
  }
  return 0;
}

/**
 * Models ttm_bo_init_validate(): ttmBoInitReserved() and, without `resv`, unreserve.
 * Locking: as ttmBoInitReserved(); returns with nothing held (unless `resv`).
 * References: the caller owns the initial one on success.
 */
export async function ttmBoInitValidate(
  bdev: TtmDevice,
  bo: TtmBufferObject,
  type: TtmBoType,
  placement: TtmPlacement,
  alignment: number,
  interruptible: boolean,
  resv: DmaResv | null,
  destroy: TtmBoDestroy | null,
): Promise<number> {
  const ctx: TtmOperationCtx = { interruptible, noWaitGpu: false, bytesMoved: 0 };
  const ret = await ttmBoInitReserved(bdev, bo, type, placement, alignment, ctx, resv, destroy);
  if (ret) return ret;
  if (!resv) await ttmBoUnreserve(bo);
  return 0;
}

/**
 * Models ttm_bo_unmap_virtual(): zaps every CPU mapping of the BO (drm_vma_node_unmap() on the
 * device's address space), so the next access faults and sees the new placement; frees the io
 * reservation.
 * Locking: the reservation held.
 * References: none.
 */
export function ttmBoUnmapVirtual(bo: TtmBufferObject): Promise<void> {
  // No async frame: RESOLVED when the task goes on at the point and the io reservation needs no
  // driver call (the same schedule, see pointNow()); a throw after the assertion becomes a
  // rejected promise.
  dmaResvAssertHeld(bo.resv);
  try {
    const bdev = bo.bdev;
    // Kept on the raw object after the first use: the simulator's field, not the BO's.
    const raw = kasanUnwrap(bo);
    if (raw.labelUnmapVirtual === "")
      raw.labelUnmapVirtual = opLabel("ttm_bo_unmap_virtual", raw.name);
    const at = pointNow(raw.labelUnmapVirtual);
    if (at !== null) return at.then(() => ttmBoUnmapVirtualNow(bo, bdev));
    return ttmBoUnmapVirtualNow(bo, bdev);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** ttmBoUnmapVirtual() after its point: the zap, then ttm_mem_io_free(). */
function ttmBoUnmapVirtualNow(bo: TtmBufferObject, bdev: TtmDevice): Promise<void> {
  if (drmVmaNodeHasOffset(bo.vmaNode)) {
    unmapMappingRange(
      bdev.devMapping,
      drmVmaNodeOffsetAddr(bo.vmaNode),
      drmVmaNodeSize(bo.vmaNode) * PAGE_SIZE,
      true,
    );
  }
  return ttmMemIoFree(bdev, bo.resource);
}

/**
 * Models ttm_bo_wait_ctx(): waits for every fence of the BO (bookkeep and below); with
 * no_wait_gpu only tests. 0 or -EBUSY (busy, or timed out after 15 s).
 * Locking: may sleep; the reservation usually held.
 * References: none kept.
 */
export async function ttmBoWaitCtx(bo: TtmBufferObject, ctx: TtmOperationCtx): Promise<number> {
  if (ctx.noWaitGpu) {
    return (await dmaResvTestSignaled(bo.resv, DmaResvUsage.BOOKKEEP)) ? 0 : -EBUSY;
  }
  const ret = await dmaResvWaitTimeout(
    bo.resv,
    DmaResvUsage.BOOKKEEP,
    ctx.interruptible,
    15_000_000_000,
  );
  if (ret < 0) return ret;
  if (ret === 0) return -EBUSY;
  return 0;
}
