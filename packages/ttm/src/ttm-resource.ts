/**
 * Resources and resource managers (drivers/gpu/drm/ttm/ttm_resource.c,
 * include/drm/ttm/ttm_resource.h): a `TtmResource` is one allocation of backing store in one
 * memory type (a VRAM range, a TT aperture range, a SYSTEM placeholder); a `TtmResourceManager`
 * hands them out for its memory type and keeps the LRU of the resources it allocated, the list
 * eviction walks.
 *
 * Who holds what:
 * - `res.bo` is a non-owning back pointer to the buffer object the resource belongs to (a ghost
 *   object takes it over in a pipelined move): LRU walkers that find a BO through it must take a
 *   reference with ttm_bo_get_unless_zero() before dropping lru_lock.
 * - A resource is on exactly one list while it lives: its manager's LRU, or the device's
 *   `unevictable` list while its BO is pinned. Both under `bdev.lruLock`.
 * - `man.move` holds a reference to the fence of the last pipelined eviction out of the manager:
 *   new allocations in it must wait for it (ttm_bo_add_move_fence()).
 *
 * Bulk moves (struct ttm_lru_bulk_move): BOs sharing a reservation (amdgpu's per-VM BOs) can be
 * kept as one contiguous range per memory type on the LRU, which ttm_lru_bulk_move_tail() moves
 * to the tail at once.
 *
 * Simplifications: one LRU priority (TTM_MAX_BO_PRIORITY is 1), no dmem cgroup accounting; LRU
 * cursors keep their place with a set of visited resources instead of a hitch (so no bulk cursor
 * adjustment).
 */

import type { DmaFence } from "@primetime/dma-buf";
import { dmaFenceGet, dmaFencePut, dmaFenceWait, dmaResvAssertHeld } from "@primetime/dma-buf";
import { ENOENT, lockdepAssertHeld, SlabObject, SpinLock } from "@primetime/kernel";
import { fmtLabel, pointNow, RESOLVED, warnOn } from "@primetime/sim";
import { type TtmBufferObject, ttmBoEvictFirst } from "./ttm-bo.js";
import type { TtmOperationCtx } from "./ttm-bo-type.js";
import type { TtmDevice } from "./ttm-device.js";
import {
  TTM_PL_FLAG_CONTIGUOUS,
  TTM_PL_FLAG_DESIRED,
  TTM_PL_FLAG_FALLBACK,
  TTM_PL_FLAG_TEMPORARY,
  type TtmPlace,
  type TtmPlacement,
} from "./ttm-placement.js";
import { TTM_TT_FLAG_SWAPPED } from "./ttm-tt.js";

/** Models struct ttm_bus_placement: where the CPU reaches the resource. */
export interface TtmBusPlacement {
  /** Models bus.offset: the physical (BAR) address, 0 while not reserved. */
  offset: number;
  /** Models bus.is_iomem: device memory (VRAM), not system pages. */
  isIomem: boolean;
}

/**
 * Models struct ttm_resource. Managers subclass it (ttm_range_mgr_node) and allocate it from
 * their slab cache in `alloc`.
 *
 * Locking: `bo` and the list membership under bdev.lruLock; the rest is written by the manager
 * at allocation and read-only afterwards, except `bus` (under the BO's reservation).
 * References: `bo` holds none (see the file comment).
 */
export class TtmResource extends SlabObject {
  /** Models start: the first page inside the memory type. */
  start = 0;
  /** Models size (bytes). */
  size = 0;
  /** Models mem_type. */
  memType = 0;
  /** Models placement: the TTM_PL_FLAG_* it was allocated with. */
  placement = 0;
  /** Models bus. */
  readonly bus: TtmBusPlacement = { offset: 0, isIomem: false };
  /** Models bo (non-owning). */
  bo: TtmBufferObject | null = null;
  /** Which list holds it: its manager's LRU or the device's unevictable list (lru.link). */
  onList: TtmResource[] | null = null;
}

/** Models struct ttm_lru_bulk_move_pos: the first and last resource of a bulk range. */
export interface TtmLruBulkMovePos {
  first: TtmResource | null;
  last: TtmResource | null;
}

/**
 * Models struct ttm_lru_bulk_move: one range per memory type (one priority here).
 * Locking: bdev.lruLock. References: none (the resources are the BOs').
 */
export class TtmLruBulkMove {
  readonly pos: TtmLruBulkMovePos[] = [];
}

/**
 * Models ttm_lru_bulk_move_init().
 * Locking: none (not yet visible). References: none.
 */
export function ttmLruBulkMoveInit(bulk: TtmLruBulkMove): void {
  bulk.pos.length = 0;
}

/**
 * Models ttm_lru_bulk_move_tail(): moves each memory type's range of the bulk, in order, to
 * the tail of its manager's LRU (only valid while the driver keeps the order).
 * Locking: bdev.lruLock held (asserted), and the reservation of the range's BOs (asserted on
 * its first and last, as the kernel does).
 * References: none.
 */
export function ttmLruBulkMoveTail(bulk: TtmLruBulkMove): void {
  ttmLruBulkMoveAssertHeld(bulk);
  for (const [memType, pos] of bulk.pos.entries()) {
    if (!pos?.first || !pos.last) continue;
    const bdev = pos.first.bo!.bdev;
    const lru = ttmManagerTypeOf(bdev, memType).lru;
    const a = lru.indexOf(pos.first);
    const b = lru.indexOf(pos.last);
    if (a < 0 || b < a) continue;
    // list_bulk_move_tail()
    lru.push(...lru.splice(a, b - a + 1));
  }
}

/**
 * The checks of ttm_lru_bulk_move_tail(): for every non-empty range, lockdep_assert_held() of
 * lru_lock and dma_resv_assert_held() of its first and last BO's reservation.
 */
function ttmLruBulkMoveAssertHeld(bulk: TtmLruBulkMove): void {
  for (const pos of bulk.pos) {
    if (!pos?.first || !pos.last) continue;
    lockdepAssertHeld(pos.first.bo!.bdev.lruLock);
    dmaResvAssertHeld(pos.first.bo!.resv);
    dmaResvAssertHeld(pos.last.bo!.resv);
  }
}

function bulkPos(bulk: TtmLruBulkMove, res: TtmResource): TtmLruBulkMovePos {
  bulk.pos[res.memType] ??= { first: null, last: null };
  return bulk.pos[res.memType]!;
}

/** The resource after `res` on its list (ttm_lru_next_res()). */
function nextRes(res: TtmResource): TtmResource | null {
  const list = res.onList!;
  return list[list.indexOf(res) + 1] ?? null;
}

/** The resource before `res` on its list (ttm_lru_prev_res()). */
function prevRes(res: TtmResource): TtmResource | null {
  const list = res.onList!;
  return list[list.indexOf(res) - 1] ?? null;
}

/** list_move(&res->lru.link, &after->lru.link): `res` goes right after `after`. */
function listMoveAfter(res: TtmResource, after: TtmResource): void {
  listDel(res);
  const list = after.onList!;
  list.splice(list.indexOf(after) + 1, 0, res);
  res.onList = list;
}

/**
 * Models ttm_lru_bulk_move_pos_tail(): `res` becomes the last of its bulk range.
 * Locking: bdev.lruLock held (asserted). References: none.
 */
function ttmLruBulkMovePosTail(pos: TtmLruBulkMovePos, res: TtmResource): void {
  lockdepAssertHeld(res.bo!.bdev.lruLock);
  if (pos.last !== res) {
    if (pos.first === res) pos.first = nextRes(res);
    listMoveAfter(res, pos.last!);
    pos.last = res;
  }
}

/** Models ttm_lru_bulk_move_add(). WARN if the BOs do not share a reservation. */
function ttmLruBulkMoveAdd(bulk: TtmLruBulkMove, res: TtmResource): void {
  const pos = bulkPos(bulk, res);
  if (!pos.first) {
    pos.first = res;
    pos.last = res;
  } else {
    warnOn(
      pos.first.bo!.resv !== res.bo!.resv,
      "ttm_lru_bulk_move_add: WARN_ON(pos->first->bo->base.resv != res->bo->base.resv)",
    );
    ttmLruBulkMovePosTail(pos, res);
  }
}

/** Models ttm_lru_bulk_move_del(). */
function ttmLruBulkMoveDel(bulk: TtmLruBulkMove, res: TtmResource): void {
  const pos = bulkPos(bulk, res);
  if (
    warnOn(!pos.first || !pos.last, "ttm_lru_bulk_move_del: WARN_ON(!pos->first || !pos->last)") ||
    (pos.first === res && pos.last === res)
  ) {
    pos.first = null;
    pos.last = null;
  } else if (pos.first === res) {
    pos.first = nextRes(res);
  } else if (pos.last === res) {
    pos.last = prevRes(res);
  } else {
    listMoveAfter(res, pos.last!);
  }
}

/**
 * Models ttm_resource_add_bulk_move(): adds `res` to the BO's bulk range, if it has one and is
 * neither pinned nor swapped out.
 * Locking: bdev.lruLock held (asserted). References: none.
 */
export function ttmResourceAddBulkMove(res: TtmResource, bo: TtmBufferObject): void {
  lockdepAssertHeld(bo.bdev.lruLock);
  if (bo.bulkMove && !bo.pinCount && !ttmResourceIsSwapped(res, bo))
    ttmLruBulkMoveAdd(bo.bulkMove, res);
}

/**
 * Models ttm_resource_del_bulk_move().
 * Locking: bdev.lruLock held (asserted). References: none.
 */
export function ttmResourceDelBulkMove(res: TtmResource, bo: TtmBufferObject): void {
  lockdepAssertHeld(bo.bdev.lruLock);
  if (bo.bulkMove && !bo.pinCount && !ttmResourceIsSwapped(res, bo))
    ttmLruBulkMoveDel(bo.bulkMove, res);
}

/** Models struct ttm_resource_manager_func. */
export interface TtmResourceManagerFunc {
  /** Models ->alloc: a resource for `bo` in `place`, or -ENOSPC (no room), -ENOMEM. */
  alloc(
    man: TtmResourceManager,
    bo: TtmBufferObject,
    place: TtmPlace,
  ): Promise<TtmResource | number>;
  /** Models ->free: gives the resource back and frees it. */
  free(man: TtmResourceManager, res: TtmResource): Promise<void>;
  /** Models ->intersects: does `res` overlap the range of `place`? (default: yes). */
  intersects?(man: TtmResourceManager, res: TtmResource, place: TtmPlace, size: number): boolean;
  /** Models ->compatible: does `res` satisfy `place`? (default: yes). */
  compatible?(man: TtmResourceManager, res: TtmResource, place: TtmPlace, size: number): boolean;
}

/**
 * Models struct ttm_resource_manager.
 *
 * Locking: `lru` and `usage` under bdev.lruLock; `move` under `moveLock`.
 * References: `move` holds one fence reference.
 */
export class TtmResourceManager {
  /** Models use_type: the manager is in service. */
  useType = false;
  /** Models use_tt: resources of this type are backed by a ttm_tt (system pages). */
  useTt = false;
  /** Models size: capacity in pages. */
  size = 0;
  /** Models usage: bytes allocated. */
  usage = 0;
  /** Models lru[0]: resources, least recently used first. */
  readonly lru: TtmResource[] = [];
  /** Models move_lock. */
  readonly moveLock: SpinLock;
  /** Models move: the fence of the last pipelined eviction out of this manager. */
  move: DmaFence | null = null;
  /** Models bdev. */
  bdev!: TtmDevice;
  /** The end of ttm_resource_alloc()'s point label, `, <name>)` (built once). */
  readonly labelSuffix: string;

  constructor(
    readonly func: TtmResourceManagerFunc,
    readonly name: string,
  ) {
    this.moveLock = new SpinLock(`${name}.move_lock`);
    this.labelSuffix = `, ${name})`;
  }
}

/**
 * Models ttm_resource_manager_init(): a manager of `size` pages for `bdev`, not yet in use.
 * Locking: none (not yet visible).
 * References: none.
 */
export function ttmResourceManagerInit(
  man: TtmResourceManager,
  bdev: TtmDevice,
  size: number,
): void {
  man.bdev = bdev;
  man.size = size;
  man.usage = 0;
  man.lru.length = 0;
  man.move = null;
}

/**
 * Models ttm_resource_manager_set_used().
 * Locking: none (drivers call it at init and fini).
 * References: none.
 */
export function ttmResourceManagerSetUsed(man: TtmResourceManager, used: boolean): void {
  man.useType = used;
}

/**
 * Models ttm_resource_manager_used().
 * Locking: none.
 * References: none.
 */
export function ttmResourceManagerUsed(man: TtmResourceManager): boolean {
  return man.useType;
}

/**
 * Models ttm_resource_manager_usage(): bytes allocated now.
 * Locking: takes bdev.lruLock.
 * References: none.
 */
export async function ttmResourceManagerUsage(man: TtmResourceManager): Promise<number> {
  const lruLockTaken = man.bdev.lruLock.lock();
  if (lruLockTaken !== RESOLVED) await lruLockTaken;
  const usage = man.usage;
  man.bdev.lruLock.unlockNow();
  return usage;
}

/**
 * Models ttm_resource_manager_cleanup(): drops the last move fence.
 * Locking: none (the manager is out of service).
 * References: drops `move`'s.
 */
export async function ttmResourceManagerCleanup(man: TtmResourceManager): Promise<void> {
  const dmaFencePutDone = dmaFencePut(man.move);
  if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  man.move = null;
}

function listDel(res: TtmResource): void {
  const list = res.onList;
  if (!list) return;
  const i = list.indexOf(res);
  if (i >= 0) list.splice(i, 1);
  res.onList = null;
}

function listAddTail(res: TtmResource, list: TtmResource[]): void {
  listDel(res);
  list.push(res);
  res.onList = list;
}

/**
 * Models ttm_resource_init(): fills in a resource of `bo` in `place` and puts it at the tail of
 * its manager's LRU (or the unevictable list if the BO is pinned), accounting its size.
 * Locking: the BO's reservation held; takes bdev.lruLock.
 * References: `res.bo` is a non-owning pointer.
 */
export async function ttmResourceInit(
  bo: TtmBufferObject,
  place: TtmPlace,
  res: TtmResource,
): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  res.start = 0;
  res.size = bo.size;
  res.memType = place.memType;
  res.placement = place.flags;
  res.bus.offset = 0;
  res.bus.isIomem = false;
  res.bo = bo;
  const bdev = bo.bdev;
  const man = ttmManagerTypeOf(bdev, place.memType);
  const lruLockTaken2 = bdev.lruLock.lock();
  if (lruLockTaken2 !== RESOLVED) await lruLockTaken2;
  if (ttmResourceUnevictable(res, bo)) listAddTail(res, bdev.unevictable);
  else listAddTail(res, man.lru);
  man.usage += res.size;
  bdev.lruLock.unlockNow();
}

/**
 * Models ttm_resource_fini(): takes the resource off its list and out of the usage.
 * Locking: takes bdev.lruLock.
 * References: none.
 */
export async function ttmResourceFini(man: TtmResourceManager, res: TtmResource): Promise<void> {
  const bdev = man.bdev;
  const lruLockTaken3 = bdev.lruLock.lock();
  if (lruLockTaken3 !== RESOLVED) await lruLockTaken3;
  listDel(res);
  man.usage -= res.size;
  bdev.lruLock.unlockNow();
}

/**
 * Models ttm_resource_alloc(): asks the manager of `place` for a resource of `bo`. The resource
 * or a negative errno (-ENOSPC when the manager is full).
 * Locking: the BO's reservation held.
 * References: the caller owns the resource until ttm_resource_free().
 */
export async function ttmResourceAlloc(
  bo: TtmBufferObject,
  place: TtmPlace,
): Promise<TtmResource | number> {
  dmaResvAssertHeld(bo.resv);
  const man = ttmManagerTypeOf(bo.bdev, place.memType);
  const atPoint = pointNow(fmtLabel("ttm_resource_alloc(", bo.name, man.labelSuffix));
  if (atPoint !== null) await atPoint;
  const res = await man.func.alloc(man, bo, place);
  if (typeof res === "number") return res;
  // The kernel takes lru_lock here unconditionally; without a bulk move its critical section
  // does nothing (bo->bulk_move only changes under the reservation we hold), so the model
  // takes it only for a BO in a bulk and adds no scheduling points otherwise.
  if (bo.bulkMove) {
    const lruLockTaken4 = bo.bdev.lruLock.lock();
    if (lruLockTaken4 !== RESOLVED) await lruLockTaken4;
    ttmResourceAddBulkMove(res, bo);
    bo.bdev.lruLock.unlockNow();
  }
  return res;
}

/**
 * Models ttm_resource_free(): gives `res` back to its manager. null is a no-op.
 * Locking: the owning BO's reservation held (asserted).
 * References: the resource is gone afterwards.
 */
export async function ttmResourceFree(res: TtmResource | null): Promise<void> {
  ttmResourceAssertHeld(res);
  if (!res) return;
  const bo = res.bo!;
  if (bo.bulkMove) {
    // As in ttmResourceAlloc(): only a BO in a bulk has anything to do under lru_lock.
    const lruLockTaken5 = bo.bdev.lruLock.lock();
    if (lruLockTaken5 !== RESOLVED) await lruLockTaken5;
    ttmResourceDelBulkMove(res, bo);
    bo.bdev.lruLock.unlockNow();
  }
  const man = ttmManagerTypeOf(bo.bdev, res.memType);
  await man.func.free(man, res);
}

/**
 * The lockdep-style check behind the "owning BO's reservation held" notes of this file:
 * dma_resv_assert_held() on the reservation of the BO `res` belongs to (a warn splat if the
 * current task does not hold it); nothing for no resource.
 */
export function ttmResourceAssertHeld(res: TtmResource | null): void {
  if (res?.bo) dmaResvAssertHeld(res.bo.resv);
}

/**
 * Models ttm_resource_move_to_lru_tail(): the resource becomes the most recently used of its
 * manager (or goes to the unevictable list while its BO is pinned).
 * Locking: bdev.lruLock held (asserted).
 * References: none.
 */
export function ttmResourceMoveToLruTail(res: TtmResource): void {
  const bo = res.bo!;
  const bdev = bo.bdev;
  lockdepAssertHeld(bdev.lruLock);
  if (ttmResourceUnevictable(res, bo)) listAddTail(res, bdev.unevictable);
  else if (bo.bulkMove) ttmLruBulkMovePosTail(bulkPos(bo.bulkMove, res), res);
  else listAddTail(res, ttmManagerTypeOf(bdev, res.memType).lru);
}

/**
 * Models ttm_resource_unevictable(): pinned, or the BO's current resource with its ttm_tt
 * swapped out (ttm_resource_is_swapped(): a new resource for a swapped BO, say VRAM to move it
 * into, is not). The kernel's dma_resv_assert_held() in ttm_resource_is_swapped() is left out:
 * ttm_bo_release() reaches it for a pinned, dying BO without the reservation.
 * Locking: bdev.lruLock held (by the callers). References: none.
 */
function ttmResourceUnevictable(res: TtmResource, bo: TtmBufferObject): boolean {
  lockdepAssertHeld(bo.bdev.lruLock);
  return bo.pinCount !== 0 || ttmResourceIsSwapped(res, bo);
}

/** Models ttm_resource_is_swapped() (without its dma_resv_assert_held(), see above). */
function ttmResourceIsSwapped(res: TtmResource, bo: TtmBufferObject): boolean {
  if (bo.resource !== res || !bo.ttm) return false;
  return (bo.ttm.pageFlags & TTM_TT_FLAG_SWAPPED) !== 0;
}

/**
 * Models ttm_resource_set_bo(): re-points the resource at `bo` (a ghost object taking it over).
 * Locking: takes bdev.lruLock.
 * References: non-owning.
 */
export async function ttmResourceSetBo(res: TtmResource, bo: TtmBufferObject): Promise<void> {
  const bdev = bo.bdev;
  const lruLockTaken6 = bdev.lruLock.lock();
  if (lruLockTaken6 !== RESOLVED) await lruLockTaken6;
  res.bo = bo;
  bdev.lruLock.unlockNow();
}

/**
 * Models ttm_resource_intersects(): can evicting `res` help an allocation in `place`?
 * Locking: the owning BO's reservation held.
 * References: none.
 */
export function ttmResourceIntersects(
  bdev: TtmDevice,
  res: TtmResource | null,
  place: TtmPlace,
  size: number,
): boolean {
  ttmResourceAssertHeld(res);
  if (!res) return false;
  const man = ttmManagerTypeOf(bdev, res.memType);
  if (!man.func.intersects) return true;
  return man.func.intersects(man, res, place, size);
}

/**
 * Models ttm_resource_compatible(): does `res` already satisfy one of the placements? A
 * TEMPORARY resource (the bounce placement of a multihop move) never does. With `evicting`,
 * DESIRED places do not count (and FALLBACK ones do); without, the reverse.
 * Locking: the owning BO's reservation held.
 * References: none.
 */
export function ttmResourceCompatible(
  res: TtmResource | null,
  placement: TtmPlacement,
  evicting: boolean,
): boolean {
  ttmResourceAssertHeld(res);
  if (!res?.bo) return false;
  const bo = res.bo;
  if (res.placement & TTM_PL_FLAG_TEMPORARY) return false;
  for (const place of placement.placement) {
    if (res.memType !== place.memType) continue;
    if (place.flags & (evicting ? TTM_PL_FLAG_DESIRED : TTM_PL_FLAG_FALLBACK)) continue;
    if (place.flags & TTM_PL_FLAG_CONTIGUOUS && !(res.placement & TTM_PL_FLAG_CONTIGUOUS)) continue;
    const man = ttmManagerTypeOf(bo.bdev, res.memType);
    if (man.func.compatible && !man.func.compatible(man, res, place, bo.size)) continue;
    return true;
  }
  return false;
}

/**
 * Models struct ttm_resource_cursor: a place in a manager's LRU. The kernel keeps it with a
 * hitch (an LRU item moved along the list); the model keeps the set of resources already
 * returned, so a resource moved to the tail while the lock was dropped is not returned again
 * (one priority; no bulk-move adjustment of cursors).
 * Locking: used under bdev.lruLock. References: none.
 */
export class TtmResourceCursor {
  readonly visited = new Set<TtmResource>();
  constructor(readonly man: TtmResourceManager) {}
}

/**
 * Models ttm_resource_cursor_init(): a cursor over `man`'s LRU, on no list yet.
 * Locking: none needed. References: none.
 */
export function ttmResourceCursorInit(man: TtmResourceManager): TtmResourceCursor {
  return new TtmResourceCursor(man);
}

/**
 * Models ttm_resource_cursor_fini(): pulls the cursor off the list it was on.
 * Locking: bdev.lruLock held (asserted). References: none.
 */
export function ttmResourceCursorFini(cursor: TtmResourceCursor): void {
  lockdepAssertHeld(cursor.man.bdev.lruLock);
  cursor.visited.clear();
}

/**
 * Models ttm_resource_manager_first(): puts the cursor at the head of the manager's LRU and
 * returns the least recently used resource.
 * Locking: bdev.lruLock held (asserted).
 * References: none (the caller must pin what it finds before dropping the lock).
 */
export function ttmResourceManagerFirst(cursor: TtmResourceCursor): TtmResource | null {
  lockdepAssertHeld(cursor.man.bdev.lruLock);
  cursor.visited.clear();
  return ttmResourceManagerNext(cursor);
}

/**
 * Models ttm_resource_manager_next(): the next resource after the cursor's place.
 * Locking: bdev.lruLock held (asserted).
 * References: none.
 */
export function ttmResourceManagerNext(cursor: TtmResourceCursor): TtmResource | null {
  lockdepAssertHeld(cursor.man.bdev.lruLock);
  for (const res of cursor.man.lru) {
    if (cursor.visited.has(res)) continue;
    cursor.visited.add(res);
    return res;
  }
  return null;
}

/**
 * Models ttm_resource_manager_evict_all(): evicts every BO of the manager (ttm_bo_evict_first()
 * until -ENOENT), then waits for the last pipelined move out of it.
 * Locking: none held; takes reservations.
 * References: temporary ones on each BO.
 */
export async function ttmResourceManagerEvictAll(
  bdev: TtmDevice,
  man: TtmResourceManager,
): Promise<number> {
  const ctx: TtmOperationCtx = { interruptible: false, noWaitGpu: false, bytesMoved: 0 };
  let ret: number;
  do {
    ret = await ttmBoEvictFirst(bdev, man, ctx);
    const atPoint = pointNow(`cond_resched(${man.name} evict_all)`);
    if (atPoint !== null) await atPoint;
  } while (!ret);
  if (ret && ret !== -ENOENT) return ret;
  const moveLockTaken = man.moveLock.lock();
  if (moveLockTaken !== RESOLVED) await moveLockTaken;
  const fence = await dmaFenceGet(man.move);
  man.moveLock.unlockNow();
  if (fence) {
    ret = await dmaFenceWait(fence, false);
    const dmaFencePutDone2 = dmaFencePut(fence);
    if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
    if (ret) return ret;
  }
  return 0;
}

/**
 * Models ttm_manager_type() where the caller knows the type is set up: a missing manager is a
 * driver bug (the kernel would dereference NULL).
 */
function ttmManagerTypeOf(bdev: TtmDevice, memType: number): TtmResourceManager {
  const man = bdev.manDrv[memType];
  if (!man) throw new Error(`ttm: no resource manager for memory type ${memType}`);
  return man;
}
