/**
 * Buffer object utilities (drivers/gpu/drm/ttm/ttm_bo_util.c): the io reservation of a resource,
 * the move helpers a driver's ->move ends with (null, memcpy, sync and accelerated cleanup with
 * ghost objects), pipeline gutting, CPU access to a BO's current backing store, and the LRU
 * walk that eviction is built on.
 *
 * Ghost objects: an accelerated move that does not wait for the GPU (ttm_bo_move_to_ghost())
 * hangs the old resource (and, when moving to fixed memory, the old ttm_tt) on a new "ghost"
 * buffer object created by ttm_buffer_object_transfer(). The ghost gets its own reservation
 * holding the move fence (usage KERNEL) and a reference to the original BO; its last put runs
 * ttm_bo_release(), which finds it busy and destroys it from the delayed-delete work once the
 * fence signals, freeing the old backing store only then.
 */

import {
  type DmaFence,
  DmaResvUsage,
  dmaFenceGet,
  dmaFenceIsLater,
  dmaFencePut,
  dmaResvAddFence,
  dmaResvAssertHeld,
  dmaResvCopyFences,
  dmaResvFini,
  dmaResvLock,
  dmaResvLockInterruptible,
  dmaResvReserveFences,
  dmaResvTestSignaled,
  dmaResvTrylock,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  MAX_SCHEDULE_TIMEOUT,
} from "@primetime/dma-buf";
import { drmGemObjectFuncs, drmVmaNodeReset, type GemObject } from "@primetime/gem";
import {
  EALREADY,
  EBUSY,
  EDEADLK,
  EINVAL,
  ENOMEM,
  ENOSPC,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  type WwAcquireCtx,
} from "@primetime/kernel";
import { point, RESOLVED, toggleEnabled, warnOn } from "@primetime/sim";
import { PAGE_SIZE } from "@primetime/simgpu";
import {
  TTM_EVICT_BUSY_PLAIN_GET,
  TTM_GHOST_RESV_NOT_FINI,
  TTM_LRU_WALK_PLAIN_GET,
  TTM_WALK_PUT_RUNS_DESTROY,
} from "./toggles.js";
import {
  type TtmBufferObject,
  TtmTransferObj,
  ttmBoAssertHeldOrDying,
  ttmBoGet,
  ttmBoGetUnlessZero,
  ttmBoMoveToLruTail,
  ttmBoPopulate,
  ttmBoPut,
  ttmBoSetBulkMove,
  ttmBoTtDestroy,
  ttmBoWalkPut,
} from "./ttm-bo.js";
import { type TtmOperationCtx, ttmBoType } from "./ttm-bo-type.js";
import { type TtmDevice, ttmGlobBoCountAdd, ttmManagerType } from "./ttm-device.js";
import {
  type TtmResource,
  type TtmResourceCursor,
  type TtmResourceManager,
  ttmResourceAssertHeld,
  ttmResourceCursorFini,
  ttmResourceCursorInit,
  ttmResourceFree,
  ttmResourceManagerFirst,
  ttmResourceManagerNext,
  ttmResourceSetBo,
} from "./ttm-resource.js";
import {
  TTM_TT_FLAG_SWAPPED,
  TTM_TT_FLAG_ZERO_ALLOC,
  ttmTtCreate,
  ttmTtDestroy,
  ttmTtIsPopulated,
  ttmTtUnpopulate,
} from "./ttm-tt.js";

/**
 * The physical address the simulated GPU's VRAM BAR is mapped at: `bus.offset` of a VRAM
 * resource is this plus its byte offset in VRAM (the driver's io_mem_reserve sets it).
 */
export const SIMGPU_VRAM_BAR = 0xd000_0000;

// ---- io reservation ------------------------------------------------------------------------

/**
 * Models ttm_mem_io_reserve(): the driver's ->io_mem_reserve, once (until ttm_mem_io_free()).
 * Locking: the owning BO's reservation held (asserted).
 * References: none.
 */
export function ttmMemIoReserve(bdev: TtmDevice, mem: TtmResource | null): Promise<number> {
  // No async frame: nothing here is a point, so a reservation already made (or a driver without
  // ->io_mem_reserve) gives a settled promise.
  ttmResourceAssertHeld(mem);
  try {
    if (!mem) return RESOLVED_0;
    if (!mem.bus.offset) {
      if (!bdev.funcs.ioMemReserve) return RESOLVED_0;
      return bdev.funcs.ioMemReserve(bdev, mem);
    }
    return RESOLVED_0;
  } catch (e) {
    return Promise.reject(e);
  }
}

/** ttmMemIoReserve()'s result 0, settled (one promise for every call). */
const RESOLVED_0: Promise<number> = Promise.resolve(0);

/**
 * Models ttm_mem_io_free().
 * Locking: the owning BO's reservation held, or its count is zero (ttm_bo_release() frees the
 * io reservation before taking the reservation): asserted by ttmBoAssertHeldOrDying().
 * References: none.
 */
export function ttmMemIoFree(bdev: TtmDevice, mem: TtmResource | null): Promise<void> {
  // RESOLVED when there is nothing to free or the driver has no ->io_mem_free (no async frame;
  // callers skip their await on it), else the driver's free, then the offset cleared.
  ttmBoAssertHeldOrDying(mem?.bo ?? null);
  try {
    if (!mem) return RESOLVED;
    if (!mem.bus.offset) return RESOLVED;
    if (bdev.funcs.ioMemFree) return ttmMemIoFreeDriver(bdev, mem);
    mem.bus.offset = 0;
    return RESOLVED;
  } catch (e) {
    return Promise.reject(e);
  }
}

/** ttmMemIoFree() with a driver's ->io_mem_free: awaited, then the offset cleared. */
async function ttmMemIoFreeDriver(bdev: TtmDevice, mem: TtmResource): Promise<void> {
  await bdev.funcs.ioMemFree!(bdev, mem);
  mem.bus.offset = 0;
}

// ---- LRU ------------------------------------------------------------------------------------

/**
 * Models ttm_bo_move_to_lru_tail_unlocked().
 * Locking: the reservation held; takes lru_lock.
 * References: none.
 */
export async function ttmBoMoveToLruTailUnlocked(bo: TtmBufferObject): Promise<void> {
  // No await of a settled promise (spin_lock()'s point kept the task and the lock was free).
  const lock = bo.bdev.lruLock.lock();
  if (lock !== RESOLVED) await lock;
  ttmBoMoveToLruTail(bo);
  const unlock = bo.bdev.lruLock.unlock();
  if (unlock !== RESOLVED) await unlock;
}

/** Models struct ttm_lru_walk_arg: the common part of the variants of BO LRU walk. */
export interface TtmLruWalkArg {
  /** Models ctx. */
  ctx: TtmOperationCtx;
  /**
   * Models ticket: the caller's ww acquire context; a BO that cannot be trylocked is then
   * locked with it (once per walk: the walk clears it after a ticketlock). null: trylock only.
   */
  ticket: WwAcquireCtx | null;
  /** Models trylock_only. */
  trylockOnly: boolean;
}

/** Models struct ttm_lru_walk (its ops->process_bo inline). */
export interface TtmLruWalk {
  /**
   * Models ops->process_bo: called with the BO locked and referenced; returns the progress
   * (> 0), 0 (skipped), or -errno (-EBUSY / -EALREADY: skip; others end the walk).
   */
  processBo(walk: TtmLruWalk, bo: TtmBufferObject): Promise<number>;
  /** Models arg: common BO LRU walk arguments. */
  arg: TtmLruWalkArg;
}

/** Models struct ttm_bo_lru_cursor. */
export interface TtmBoLruCursor {
  /** Models res_curs: the embedded struct ttm_resource_cursor. */
  resCurs: TtmResourceCursor;
  /** Models bo: the BO the cursor holds a reference on (and maybe its lock), or null. */
  bo: TtmBufferObject | null;
  /** Models needs_unlock: valid iff `bo`: its reservation needs unlocking. */
  needsUnlock: boolean;
  /** Models arg. */
  arg: TtmLruWalkArg;
}

/**
 * Models ttm_lru_walk_trylock() (v6.18; v6.12.19's takes the walk and a needs_unlock pointer,
 * the same test): trylocks the reservation of `bo` (under lru_lock, before any reference is
 * taken); failing that, a BO sharing the reservation the caller holds and named in its
 * operation context counts as locked when the context allows reserved eviction
 * (`bo->base.resv == ctx->resv && ctx->allow_res_evict`), without needing an unlock. Both
 * fields must be set: ttm_bo_init_reserved()'s ctx with a `resv` only (vmwgfx's imports), or
 * vmw_validation_bo_validate_single()'s second try with `allow_res_evict` only, are the plain
 * trylock.
 * Locking: bdev.lruLock held (asserted); the shared case asserts the reservation held.
 * References: none.
 */
function ttmLruWalkTrylock(curs: TtmBoLruCursor, bo: TtmBufferObject): boolean {
  const ctx = curs.arg.ctx;
  lockdepAssertHeld(bo.bdev.lruLock);
  curs.needsUnlock = false;
  if (dmaResvTrylock(bo.resv)) {
    curs.needsUnlock = true;
    return true;
  }
  if (bo.resv === ctx.resv && ctx.allowResEvict) {
    dmaResvAssertHeld(bo.resv);
    return true;
  }
  return false;
}

/**
 * Models ttm_lru_walk_ticketlock(): sleeps for the reservation of `bo` with the walk's ticket.
 * On success the walk reverts to trylocking (only a single ticketlock per walk: ticketlocks are
 * prone to -EDEADLK); -EDEADLK becomes -ENOSPC (the caller needs to exit its ww transaction);
 * -EALREADY (the ticket already holds it) and an interrupted wait's errno are returned as is.
 * Locking: the caller holds a reference on `bo`, not lru_lock; may sleep.
 * References: none taken.
 */
async function ttmLruWalkTicketlock(curs: TtmBoLruCursor, bo: TtmBufferObject): Promise<number> {
  const arg = curs.arg;
  const resv = bo.resv;
  let ret = arg.ctx.interruptible
    ? await dmaResvLockInterruptible(resv, arg.ticket)
    : await dmaResvLock(resv, arg.ticket);
  if (!ret) {
    curs.needsUnlock = true;
    // Only a single ticketlock per loop. Ticketlocks are prone to return -EDEADLK causing the
    // eviction to fail, so after waiting for the ticketlock, revert back to trylocking for
    // this walk.
    arg.ticket = null;
  } else if (ret === -EDEADLK) {
    // Caller needs to exit the ww transaction.
    ret = -ENOSPC;
  }
  return ret;
}

/**
 * Models ttm_lru_walk_for_evict() (Linux v6.18: the loop is ttm_bo_lru_for_each_reserved_guarded()
 * over a ttm_bo_lru_cursor): for each BO the cursor returns locked and referenced, call
 * `processBo`; -EBUSY / -EALREADY count as 0; stop once `target` progress is made or on an
 * error. Leaving the loop (break or end) runs ttm_bo_lru_cursor_fini(), which unlocks and puts
 * the last BO, then finishes the resource cursor under lru_lock. The progress, the process
 * error, or the cursor's error (a ticketlock's -ENOSPC / -EINTR / -ERESTARTSYS).
 * Locking: none held on entry; the cursor takes lru_lock and the reservations.
 * References: the cursor's one on the BO being processed, dropped before the next.
 */
export async function ttmLruWalkForEvict(
  walk: TtmLruWalk,
  _bdev: TtmDevice,
  man: TtmResourceManager,
  target: number,
): Promise<number> {
  let progress = 0;
  // scoped_guard(ttm_bo_lru_cursor, ...): init, and fini on leaving the scope.
  const cursor = ttmBoLruCursorInit(man, walk.arg);
  let bo: TtmBufferObject | number | null;
  for (
    bo = await ttmBoLruCursorFirst(cursor);
    bo !== null && typeof bo !== "number";
    bo = await ttmBoLruCursorNext(cursor)
  ) {
    let lret = await walk.processBo(walk, bo);
    if (lret === -EBUSY || lret === -EALREADY) lret = 0;
    progress = lret < 0 ? lret : progress + lret;
    if (progress < 0 || progress >= target) break;
  }
  await ttmBoLruCursorFini(cursor);
  if (typeof bo === "number") return bo;
  return progress;
}

/**
 * Models ttm_bo_lru_cursor_cleanup_bo(): unlocks the cursor's BO if it locked it, and drops
 * its reference. Known window `ttm.walk-put-runs-destroy`: with its fix switch on, the
 * reference is dropped by ttmBoWalkPut(), which never runs bo->destroy here.
 * Locking: not lru_lock. References: drops the cursor's one.
 */
async function ttmBoLruCursorCleanupBo(curs: TtmBoLruCursor): Promise<void> {
  const bo = curs.bo;
  if (bo) {
    if (curs.needsUnlock) await dmaResvUnlock(bo.resv);
    // The kernel puts here: when a deleted BO's delayed delete put in between, or a live BO's
    // owner dropped its last reference while the walk held it, this put is the last and
    // bo->destroy runs in the walker's context (the known window ttm.walk-put-runs-destroy).
    // Its fix switch hands that last reference to TTM's workqueue instead (ttmBoWalkPut()).
    if (toggleEnabled(TTM_WALK_PUT_RUNS_DESTROY.name)) {
      await ttmBoWalkPut(bo);
    } else {
      const ttmBoPutDone = ttmBoPut(bo);
      if (ttmBoPutDone !== RESOLVED) await ttmBoPutDone;
    }
    curs.bo = null;
  }
}

/**
 * Models ttm_bo_lru_cursor_fini(): cleans up the cursor's BO, then finishes the resource
 * cursor under lru_lock.
 * Locking: takes lru_lock. References: drops the cursor's one, if any.
 */
export async function ttmBoLruCursorFini(curs: TtmBoLruCursor): Promise<void> {
  const lruLock = curs.resCurs.man.bdev.lruLock;
  await ttmBoLruCursorCleanupBo(curs);
  const lruLockTaken = lruLock.lock();
  if (lruLockTaken !== RESOLVED) await lruLockTaken;
  ttmResourceCursorFini(curs.resCurs);
  lruLock.unlockNow();
}

/**
 * Models ttm_bo_lru_cursor_init(): a cursor over `man`'s LRU governed by `arg`. Does not fail.
 * Locking: none. References: none.
 */
export function ttmBoLruCursorInit(man: TtmResourceManager, arg: TtmLruWalkArg): TtmBoLruCursor {
  return { resCurs: ttmResourceCursorInit(man), bo: null, needsUnlock: false, arg };
}

/**
 * Models __ttm_bo_lru_cursor_next(): drops the previous BO, then under lru_lock takes the next
 * resource: trylock its BO's reservation; if that fails, skip the BO unless the walk has a
 * ticket (and may wait, and is not trylock-only); take a reference with
 * ttm_bo_get_unless_zero() (a BO whose count is zero is being released: unlocked and skipped);
 * drop lru_lock; ticketlock a BO that was not trylocked; return it if it still has a resource
 * of that memory type, else clean it up and go on (on a ticketlock error other than -EALREADY,
 * return the error). The locked, referenced BO, null at the end of the LRU, or -errno.
 *
 * Toggles: `ttm.lru-walk-plain-get`: the reference on a trylocked BO is a plain ttm_bo_get();
 * `ttm.evict-busy-plain-get`: the reference on a BO the walk could not trylock (busy: locked
 * by someone else, to be ticketlocked) is a plain ttm_bo_get(), as ttm_mem_evict_first() of
 * v5.3 took it on its busy BO before ttm_mem_evict_wait_busy().
 *
 * Locking: takes lru_lock, and the reservation of the BO it returns (trylock or ticketlock).
 * References: one on the BO it returns (the cursor's), dropped by the next call or the fini.
 */
async function ttmBoLruCursorNextInner(
  curs: TtmBoLruCursor,
): Promise<TtmBufferObject | number | null> {
  const lruLock = curs.resCurs.man.bdev.lruLock;
  let res: TtmResource | null = null;
  let bo: TtmBufferObject | null = null;
  const arg = curs.arg;
  let first = !curs.bo;
  await ttmBoLruCursorCleanupBo(curs);
  const lruLockTaken2 = lruLock.lock();
  if (lruLockTaken2 !== RESOLVED) await lruLockTaken2;
  for (;;) {
    let ret = 0;
    let boLocked = false;
    if (first) {
      res = ttmResourceManagerFirst(curs.resCurs);
      first = false;
    } else {
      res = ttmResourceManagerNext(curs.resCurs);
    }
    if (!res) break;
    bo = res.bo!;
    await point(`ttm_lru_walk_trylock(${bo.name})`);
    if (ttmLruWalkTrylock(curs, bo)) boLocked = true;
    else if (!arg.ticket || arg.ctx.noWaitGpu || arg.trylockOnly) continue;
    if (boLocked ? toggleLruPlainGet() : toggleEvictBusyPlainGet()) {
      const ttmBoGetDone = ttmBoGet(bo);
      if (ttmBoGetDone !== RESOLVED) await ttmBoGetDone;
    } else if (!(await ttmBoGetUnlessZero(bo))) {
      if (curs.needsUnlock) await dmaResvUnlock(bo.resv);
      continue;
    }
    const memType = res.memType;
    lruLock.unlockNow();
    if (!boLocked) ret = await ttmLruWalkTicketlock(curs, bo);
    // Note that in between the release of the lru lock and the ticketlock, the bo may have
    // switched resource, and also memory type, since the resource may have been freed and
    // allocated again with a different memory type. In that case, just skip it.
    curs.bo = bo;
    if (!ret && bo.resource && bo.resource.memType === memType) return bo;
    await ttmBoLruCursorCleanupBo(curs);
    if (ret && ret !== -EALREADY) return ret;
    const lruLockTaken3 = lruLock.lock();
    if (lruLockTaken3 !== RESOLVED) await lruLockTaken3;
  }
  lruLock.unlockNow();
  return res ? bo : null;
}

/**
 * Models ttm_bo_lru_cursor_next(): the next BO of the walk, locked and referenced; null when
 * the walk should end, or -errno.
 * Locking: as __ttm_bo_lru_cursor_next(). References: the cursor's one on the BO returned.
 */
export async function ttmBoLruCursorNext(
  curs: TtmBoLruCursor,
): Promise<TtmBufferObject | number | null> {
  return ttmBoLruCursorNextInner(curs);
}

/**
 * Models ttm_bo_lru_cursor_first(): drops any BO the cursor holds and starts the walk at the
 * head of the LRU.
 * Locking: as __ttm_bo_lru_cursor_next(). References: the cursor's one on the BO returned.
 */
export async function ttmBoLruCursorFirst(
  curs: TtmBoLruCursor,
): Promise<TtmBufferObject | number | null> {
  await ttmBoLruCursorCleanupBo(curs);
  return ttmBoLruCursorNextInner(curs);
}

function toggleLruPlainGet(): boolean {
  return toggleEnabled(TTM_LRU_WALK_PLAIN_GET.name);
}

function toggleEvictBusyPlainGet(): boolean {
  return toggleEnabled(TTM_EVICT_BUSY_PLAIN_GET.name);
}

// ---- moves ----------------------------------------------------------------------------------

/**
 * Models ttm_bo_assign_mem(): the BO's resource becomes `newMem` (WARN if it still has one).
 * Locking: the reservation held.
 * References: the BO owns `newMem`.
 */
export function ttmBoAssignMem(bo: TtmBufferObject, newMem: TtmResource): void {
  dmaResvAssertHeld(bo.resv);
  if (bo.resource !== null) warnOn(true, `ttm_bo_assign_mem(${bo.name}): WARN_ON(bo->resource)`);
  bo.resource = newMem;
}

/**
 * Models ttm_bo_move_null(): nothing to copy (the pages stay, or there are none): frees the old
 * resource and assigns the new one.
 * Locking: the reservation held.
 * References: the old resource is freed.
 */
export async function ttmBoMoveNull(bo: TtmBufferObject, newMem: TtmResource): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  const old = bo.resource;
  bo.resource = null;
  await ttmResourceFree(old);
  ttmBoAssignMem(bo, newMem);
}

/**
 * Models ttm_bo_wait_free_node(): waits (up to 15 s) for the BO to idle, then frees the old
 * backing store (the ttm_tt too when the destination is fixed memory). 0, or -EBUSY when the
 * wait timed out.
 * Locking: the reservation held.
 * References: the old resource is freed.
 */
async function ttmBoWaitFreeNode(bo: TtmBufferObject, dstUseTt: boolean): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const ret = await dmaResvWaitTimeout(bo.resv, DmaResvUsage.BOOKKEEP, false, 15_000_000_000);
  if (ret === 0) return -EBUSY;
  if (ret < 0) return ret;
  if (!dstUseTt) await ttmBoTtDestroy(bo);
  const old = bo.resource;
  bo.resource = null;
  await ttmResourceFree(old);
  return 0;
}

/**
 * Models ttm_bo_move_sync_cleanup(): a CPU copy finished: wait, free the old, assign the new.
 * Locking: the reservation held.
 * References: as ttmBoWaitFreeNode().
 */
export async function ttmBoMoveSyncCleanup(
  bo: TtmBufferObject,
  newMem: TtmResource,
): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  const man = ttmManagerType(bo.bdev, newMem.memType)!;
  const ret = await ttmBoWaitFreeNode(bo, man.useTt);
  if (ret !== 0) {
    warnOn(true, `ttm_bo_move_sync_cleanup(${bo.name}): ${ret}`);
    return;
  }
  ttmBoAssignMem(bo, newMem);
}

/** The slab cache of ghost objects (struct ttm_transfer_obj). */
export const ttmTransferObjCache = new KmemCache("ttm_transfer_obj");

/**
 * Models ttm_transfered_destroy(): a ghost's destroy: its reservation is finished (its fence
 * list and the fences in it released), the original BO's reference dropped, the ghost freed.
 *
 * Toggle `ttm.ghost-resv-not-fini`: the dma_resv_fini() that "drm/ttm: fix memleak in
 * ttm_transfered_destroy" added is left out: the ghost's fence list, and the move fence it
 * references, leak.
 *
 * Locking: none. References: drops the original's.
 */
async function ttmTransferedDestroy(bo: TtmBufferObject): Promise<void> {
  const fbo = bo as TtmTransferObj;
  if (!toggleEnabled(TTM_GHOST_RESV_NOT_FINI.name)) await dmaResvFini(fbo._resv);
  const orig = fbo.orig;
  fbo.orig = null;
  if (orig) await ttmBoPut(orig);
  kfree(fbo);
}

/**
 * Models ttm_buffer_object_transfer(): a ghost copy of `bo` with its own reservation,
 * trylocked, and one fence slot reserved on it; only then does it take over `bo`'s resource
 * (and ttm_tt, for the caller to split, and its place out of the bulk move), with a TTM count of
 * 1, pin count 0, no mmap offset, and a reference to `bo`. The ghost, or -ENOMEM (`bo` keeps
 * its resource).
 * Locking: `bo`'s reservation held; the ghost's is returned held.
 * References: the caller owns the ghost's one; the ghost holds one on `bo`.
 */
async function ttmBufferObjectTransfer(bo: TtmBufferObject): Promise<TtmTransferObj | number> {
  dmaResvAssertHeld(bo.resv);
  const fbo = kmalloc(ttmTransferObjCache, () => new TtmTransferObj(ttmDeletedObjectFuncs));
  if (isErr(fbo)) return -ENOMEM;
  // fbo->base = *bo; then fix up what must not be copied.
  fbo.bdev = bo.bdev;
  fbo.type = bo.type;
  fbo.pageAlignment = bo.pageAlignment;
  fbo.size = bo.size;
  fbo.resource = bo.resource;
  fbo.ttm = bo.ttm;
  fbo.bulkMove = bo.bulkMove;
  fbo.deleted = false;
  ttmGlobBoCountAdd(1);
  drmVmaNodeReset(fbo.vmaNode);
  fbo.kref.init();
  fbo.destroy = ttmTransferedDestroy;
  fbo.pinCount = 0;
  fbo.resv = bo.type !== ttmBoType.sg ? fbo._resv : bo.resv;
  const locked = dmaResvTrylock(fbo._resv);
  warnOn(!locked, `ttm_buffer_object_transfer(${fbo.name}): WARN_ON(!trylock)`);
  const ret = await dmaResvReserveFences(fbo._resv, 1);
  if (ret) {
    const dmaResvUnlockDone = dmaResvUnlock(fbo._resv);
    if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
    // The kernel kfree()s the copy here (its _resv holds no fence list: the reservation of
    // the slot is what failed). The model also gives back the bo_count it took, which the
    // kernel's error path leaves incremented, so ttm_glob's count stays exact.
    await dmaResvFini(fbo._resv);
    ttmGlobBoCountAdd(-1);
    kfree(fbo);
    return ret;
  }
  if (fbo.resource) {
    await ttmResourceSetBo(fbo.resource, fbo);
    bo.resource = null;
    await ttmBoSetBulkMove(fbo, null);
  } else {
    fbo.bulkMove = null;
  }
  const ttmBoGetDone2 = ttmBoGet(bo);
  if (ttmBoGetDone2 !== RESOLVED) await ttmBoGetDone2;
  fbo.orig = bo;
  await ttmBoMoveToLruTailUnlocked(fbo);
  return fbo;
}

/**
 * Models ttm_bo_move_to_ghost(): pipelines a non-evicting move: the old backing store goes to a
 * ghost whose reservation holds `fence` (KERNEL); the ttm_tt stays with the BO when the
 * destination uses it, else goes with the ghost. The ghost's reference is dropped at once: it
 * is destroyed once the fence signals.
 * Locking: the reservation held.
 * References: the ghost holds one on the fence (through its reservation) and one on `bo`.
 */
async function ttmBoMoveToGhost(
  bo: TtmBufferObject,
  fence: DmaFence,
  dstUseTt: boolean,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  // This should help pipeline ordinary buffer moves. Hang old buffer memory on a new buffer
  // object, and leave it to be released when the GPU operation has completed.
  const ghost = await ttmBufferObjectTransfer(bo);
  if (typeof ghost === "number") return ghost;
  await dmaResvAddFence(ghost._resv, fence, DmaResvUsage.KERNEL);
  // If we're not moving to fixed memory, the TTM object needs to stay alive. Otherwise hang it
  // on the ghost bo to be unbound and destroyed.
  if (dstUseTt) ghost.ttm = null;
  else {
    bo.ttm = null;
    if (ghost.ttm) ghost.ttm.bo = ghost;
  }
  const dmaResvUnlockDone2 = dmaResvUnlock(ghost._resv);
  if (dmaResvUnlockDone2 !== RESOLVED) await dmaResvUnlockDone2;
  const ttmBoPutDone2 = ttmBoPut(ghost);
  if (ttmBoPutDone2 !== RESOLVED) await ttmBoPutDone2;
  return 0;
}

/**
 * Models ttm_bo_move_pipeline_evict(): an eviction out of fixed memory does not wait: the
 * manager remembers the fence (new allocations there wait for it) and the old node is freed.
 * Locking: the reservation held; takes the manager's move_lock.
 * References: the manager holds one on the latest fence.
 */
async function ttmBoMovePipelineEvict(bo: TtmBufferObject, fence: DmaFence): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  const from = ttmManagerType(bo.bdev, bo.resource!.memType)!;
  const moveLockTaken = from.moveLock.lock();
  if (moveLockTaken !== RESOLVED) await moveLockTaken;
  if (!from.move || dmaFenceIsLater(fence, from.move)) {
    const dmaFencePutDone = dmaFencePut(from.move);
    if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
    from.move = await dmaFenceGet(fence);
  }
  from.moveLock.unlockNow();
  const old = bo.resource;
  bo.resource = null;
  await ttmResourceFree(old);
}

/**
 * Models ttm_bo_move_accel_cleanup(): the end of a driver's accelerated (GPU) move: `fence`
 * joins the BO's reservation (KERNEL: everyone, CPU faults included, waits for it), then the
 * old backing store is handed to a ghost (a normal move), freed at once with the fence kept by
 * the manager (a pipelined eviction out of fixed memory), or freed after waiting (otherwise);
 * `newMem` is assigned.
 * Locking: the reservation held, a fence slot reserved.
 * References: the reservation takes one on `fence`; the caller keeps its own.
 */
export async function ttmBoMoveAccelCleanup(
  bo: TtmBufferObject,
  fence: DmaFence,
  evict: boolean,
  pipeline: boolean,
  newMem: TtmResource,
): Promise<number> {
  const bdev = bo.bdev;
  const from = ttmManagerType(bdev, bo.resource!.memType)!;
  const man = ttmManagerType(bdev, newMem.memType)!;
  let ret = 0;
  await dmaResvAddFence(bo.resv, fence, DmaResvUsage.KERNEL);
  if (!evict) ret = await ttmBoMoveToGhost(bo, fence, man.useTt);
  else if (!from.useTt && pipeline) await ttmBoMovePipelineEvict(bo, fence);
  else ret = await ttmBoWaitFreeNode(bo, man.useTt);
  if (ret) return ret;
  ttmBoAssignMem(bo, newMem);
  return 0;
}

/**
 * Models ttm_bo_pipeline_gutting(): drops the BO's backing store without waiting: an idle BO
 * just loses it; a busy one hands it to a ghost holding a copy of its fences. Afterwards the
 * BO has no resource and an unpopulated ttm_tt. 0 or -ENOMEM.
 * Locking: the reservation held.
 * References: as ttmBoMoveToGhost().
 */
export async function ttmBoPipelineGutting(bo: TtmBufferObject): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  // If already idle, no need for ghost object dance.
  if (await dmaResvTestSignaled(bo.resv, DmaResvUsage.BOOKKEEP)) {
    if (!bo.ttm) {
      const ret = await ttmTtCreate(bo, true);
      if (ret) return ret;
    } else {
      await ttmTtUnpopulate(bo.bdev, bo.ttm);
      if (bo.type === ttmBoType.device) bo.ttm.pageFlags |= TTM_TT_FLAG_ZERO_ALLOC;
    }
    const old = bo.resource;
    bo.resource = null;
    await ttmResourceFree(old);
    return 0;
  }
  // We need an unpopulated ttm_tt after giving our current one, if any, to the ghost object.
  let ttm = bo.ttm;
  bo.ttm = null;
  let ret = await ttmTtCreate(bo, true);
  [bo.ttm, ttm] = [ttm, bo.ttm];
  if (ret) return ret;
  const ghost = await ttmBufferObjectTransfer(bo);
  if (typeof ghost === "number") {
    if (ttm) await ttmTtDestroy(bo.bdev, ttm);
    return ghost;
  }
  if (ghost.ttm) ghost.ttm.bo = ghost;
  ret = await dmaResvCopyFences(ghost._resv, bo.resv);
  // Last resort, wait for the BO to be idle when we are OOM
  if (ret) await dmaResvWaitTimeout(bo.resv, DmaResvUsage.BOOKKEEP, false, MAX_SCHEDULE_TIMEOUT);
  const dmaResvUnlockDone3 = dmaResvUnlock(ghost._resv);
  if (dmaResvUnlockDone3 !== RESOLVED) await dmaResvUnlockDone3;
  const ttmBoPutDone3 = ttmBoPut(ghost);
  if (ttmBoPutDone3 !== RESOLVED) await ttmBoPutDone3;
  bo.ttm = ttm;
  return 0;
}

/**
 * The GEM functions of a ghost object (ttm_deleted_object_funcs): a ghost is never a GEM
 * object anyone can reach, so only `free` exists, and it must never run.
 */
const ttmDeletedObjectFuncs = drmGemObjectFuncs({
  free: async (obj: GemObject): Promise<void> => {
    warnOn(true, `ghost ${obj.name}: GEM free called`);
  },
});

// ---- CPU access -----------------------------------------------------------------------------

/**
 * The CPU's view of page `i` of the BO's current backing store (what ttm_bo_vmap()/kmap give
 * the kernel): a live PAGE_SIZE view of the ttm_tt page (populating it) or of VRAM through the
 * BAR (reserving the io space). A page, or a negative errno.
 * Locking: the reservation held (asserted by ttm_bo_populate()).
 * References: the view is valid while the reservation is held.
 */
export async function ttmBoCpuPage(
  bo: TtmBufferObject,
  i: number,
  ctx: TtmOperationCtx = { interruptible: false, noWaitGpu: false, bytesMoved: 0 },
): Promise<Uint8Array | number> {
  dmaResvAssertHeld(bo.resv);
  const mem = bo.resource;
  if (!mem || i < 0 || i >= Math.ceil(bo.size / PAGE_SIZE)) return -EINVAL;
  let ret = await ttmMemIoReserve(bo.bdev, mem);
  if (ret) return ret;
  if (!mem.bus.isIomem) {
    ret = await ttmBoPopulate(bo, ctx);
    if (ret) return ret;
  }
  return ttmBoCpuPageReserved(bo, i) ?? -EINVAL;
}

/**
 * The CPU's view of page `i` of the BO's current backing store once ttmBoCpuPage() has reserved
 * its io space and populated it: the ttm_tt page (page_to_pfn()) or the VRAM page behind the
 * BAR (ttm_bo_io_mem_pfn()); null past the end or where the ttm_tt has no page. No scheduling
 * point: the fault handler's prefault loop takes the pages after the first this way.
 * Locking: the reservation held (asserted).
 * References: the view is valid while the reservation is held.
 */
export function ttmBoCpuPageReserved(bo: TtmBufferObject, i: number): Uint8Array | null {
  dmaResvAssertHeld(bo.resv);
  const mem = bo.resource;
  if (!mem || i < 0 || i >= Math.ceil(bo.size / PAGE_SIZE)) return null;
  if (!mem.bus.isIomem) return bo.ttm?.pages?.[i]?.data ?? null;
  const off = mem.bus.offset - SIMGPU_VRAM_BAR + i * PAGE_SIZE;
  return bo.bdev.gpu.vram.page(off / PAGE_SIZE);
}

/**
 * Models ttm_bo_move_memcpy(): the CPU copy fallback of a driver's ->move: copies every page
 * from the old backing store to `dstMem`, or, when there is nothing to copy (an unpopulated
 * ttm_tt source), clears it, but only for a ttm_tt flagged ZERO_ALLOC (a BO with a ttm_tt
 * without that flag, a kernel BO say, leaves the destination as it is), then
 * ttm_bo_move_sync_cleanup().
 * Locking: the reservation held.
 * References: as ttmBoMoveSyncCleanup().
 */
export async function ttmBoMoveMemcpy(
  bo: TtmBufferObject,
  ctx: TtmOperationCtx,
  dstMem: TtmResource,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const bdev = bo.bdev;
  const srcMem = bo.resource;
  if (!srcMem) {
    warnOn(true, `ttm_bo_move_memcpy(${bo.name}): WARN_ON(!src_mem)`);
    return -EINVAL;
  }
  const dstMan = ttmManagerType(bdev, dstMem.memType)!;
  const srcMan = ttmManagerType(bdev, srcMem.memType)!;
  const ttm = bo.ttm;
  let ret: number;
  if (ttm && (ttm.pageFlags & TTM_TT_FLAG_SWAPPED || dstMan.useTt)) {
    ret = await ttmBoPopulate(bo, ctx);
    if (ret) return ret;
  }
  const clear = srcMan.useTt && (!ttm || !ttmTtIsPopulated(ttm));
  const copy = !(clear && ttm && !(ttm.pageFlags & TTM_TT_FLAG_ZERO_ALLOC));
  const npages = Math.ceil(dstMem.size / PAGE_SIZE);
  // Read every source page first (a linear view of the old placement), then swap resources to
  // write the destination through the same accessor.
  const src: Uint8Array[] = [];
  if (!clear) {
    for (let i = 0; i < npages; i++) {
      const p = await ttmBoCpuPage(bo, i, ctx);
      if (typeof p === "number") return p;
      src.push(p.slice());
    }
  }
  bo.resource = dstMem;
  ret = await ttmMemIoReserve(bdev, dstMem);
  for (let i = 0; copy && !ret && i < npages; i++) {
    const p = await ttmBoCpuPage(bo, i, ctx);
    if (typeof p === "number") {
      ret = p;
      break;
    }
    if (clear) p.fill(0);
    else p.set(src[i]!);
  }
  bo.resource = srcMem;
  if (ret) return ret;
  await ttmBoMoveSyncCleanup(bo, dstMem);
  return 0;
}

/**
 * CPU access to `len` bytes of the BO at `offset` (what a driver does with ttm_bo_kmap() after
 * waiting for the KERNEL fences, amdgpu_bo_kmap()): waits for moves in flight, then reads into
 * `buf` or writes it. 0 or -errno (-EINVAL out of range).
 * Locking: the reservation held.
 * References: none kept.
 */
export async function ttmBoCpuAccess(
  bo: TtmBufferObject,
  offset: number,
  buf: Uint8Array,
  write: boolean,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  if (offset < 0 || offset + buf.length > bo.size) return -EINVAL;
  const r = await dmaResvWaitTimeout(bo.resv, DmaResvUsage.KERNEL, false, MAX_SCHEDULE_TIMEOUT);
  if (r < 0) return r;
  let done = 0;
  while (done < buf.length) {
    const pos = offset + done;
    const page = await ttmBoCpuPage(bo, Math.floor(pos / PAGE_SIZE));
    if (typeof page === "number") return page;
    const inPage = pos % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - inPage, buf.length - done);
    if (write) page.set(buf.subarray(done, done + n), inPage);
    else buf.set(page.subarray(inPage, inPage + n), done);
    done += n;
  }
  return 0;
}
