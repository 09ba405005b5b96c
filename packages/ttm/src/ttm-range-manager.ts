/**
 * The range manager (drivers/gpu/drm/ttm/ttm_range_manager.c): a resource manager over a linear
 * range of pages, allocating with a drm_mm. Used for VRAM and for the TT aperture.
 *
 * Its drm_mm is the DRM core's (`DrmMm` of `@primetime/gem`, drivers/gpu/drm/drm_mm.c of
 * v6.18) over the manager's pages `[0, size)`, as ttm_range_man_init_nocheck() makes it
 * (drm_mm_init(&rman->mm, 0, p_size)): the smallest hole that fits (DRM_MM_INSERT_BEST), or the
 * top of the highest (DRM_MM_INSERT_HIGH) for a TTM_PL_FLAG_TOPDOWN place, clamped to the place's
 * `[fpfn, lpfn)` and aligned to the BO's `page_alignment` (in the manager's page numbers). A VRAM
 * manager's pages are a region of the simulated device's VRAM (`VramDrmMm`: each node is
 * reported to the device, `VramRegion.claim()`/`release()`, which bumps the pages'
 * generations), so the device's MMU sees exactly the ranges TTM hands out: a copy into a range
 * TTM has freed faults. A TT aperture has no memory of its own on this device (the engine
 * reaches system pages directly), so its drm_mm is a plain one (`DrmMmRanges`).
 */

import { dmaResvAssertHeld } from "@primetime/dma-buf";
import {
  DRM_MM_INSERT_BEST,
  DRM_MM_INSERT_HIGH,
  DrmMm,
  type DrmMmInsertMode,
} from "@primetime/gem";
import { ENOMEM, isErr, KmemCache, kfree, kmalloc, SpinLock } from "@primetime/kernel";
import { RESOLVED, warnOn } from "@primetime/sim";
import type { Vram, VramRegion } from "@primetime/simgpu";
import { PAGE_SIZE } from "@primetime/simgpu";
import type { TtmBufferObject } from "./ttm-bo.js";
import { type TtmDevice, ttmManagerType, ttmSetDriverManager } from "./ttm-device.js";
import { TTM_PL_FLAG_TOPDOWN, type TtmPlace } from "./ttm-placement.js";
import {
  TtmResource,
  TtmResourceManager,
  ttmResourceFini,
  ttmResourceInit,
  ttmResourceManagerCleanup,
  ttmResourceManagerEvictAll,
  ttmResourceManagerInit,
  ttmResourceManagerSetUsed,
} from "./ttm-resource.js";

/**
 * The drm_mm of a range manager (struct drm_mm, as far as TTM uses it), in the manager's page
 * numbers `[0, size)` (ttm_range_man_init() calls drm_mm_init(&rman->mm, 0, p_size)).
 */
export interface DrmMmAllocator {
  /** Models drm_mm_insert_node_in_range(): the node's first page, or -ENOSPC. */
  insertNodeInRange(
    size: number,
    alignment: number,
    rangeStart: number,
    rangeEnd: number,
    mode: DrmMmInsertMode,
  ): number;
  /** Models drm_mm_remove_node(): the node's page count, or undefined if none starts there. */
  removeNode(start: number): number | undefined;
  /** Pages allocated now (drm_mm_clean() is `used === 0`). */
  readonly used: number;
  /** The device's VRAM page of the manager's page 0, for memory the engine reaches; else null. */
  readonly vramFirstPage: number | null;
}

/** A drm_mm over `[0, size)` pages with no device memory behind it: the TT aperture's. */
export class DrmMmRanges extends DrmMm implements DrmMmAllocator {
  readonly vramFirstPage = null;

  constructor(size: number) {
    super(0, size);
  }
}

/**
 * The device's VRAM pages `[firstPage, firstPage + npages)` (all of it by default) as a range
 * manager's drm_mm: a `DrmMm` over the manager's pages `[0, npages)` (drm_mm_init(&rman->mm, 0,
 * p_size)), whose every insertion and removal is reported to the device's region of those pages
 * (`Vram.region()`, `claim()`/`release()`: the generations the MMU checks). A driver with two
 * memory types in device memory (qxl's RAM and surface BARs) carves two disjoint regions.
 */
export class VramDrmMm implements DrmMmAllocator {
  private readonly mm: DrmMm;
  private readonly region: VramRegion;

  constructor(
    vram: Vram,
    readonly vramFirstPage = 0,
    npages = vram.pages - vramFirstPage,
  ) {
    this.region = vram.region(vramFirstPage, npages);
    this.mm = new DrmMm(0, npages);
  }

  get used(): number {
    return this.mm.used;
  }

  insertNodeInRange(
    size: number,
    alignment: number,
    rangeStart: number,
    rangeEnd: number,
    mode: DrmMmInsertMode,
  ): number {
    const start = this.mm.insertNodeInRange(size, alignment, rangeStart, rangeEnd, mode);
    if (start >= 0) this.region.claim(start, size);
    return start;
  }

  removeNode(start: number): number | undefined {
    const size = this.mm.removeNode(start);
    if (size !== undefined) this.region.release(start);
    return size;
  }
}

/** The slab cache of range manager nodes (struct ttm_range_mgr_node). */
export const ttmRangeMgrNodeCache = new KmemCache("ttm_range_mgr_node");

/** Models struct ttm_range_mgr_node: a resource and its drm_mm node (`start`). */
export class TtmRangeMgrNode extends TtmResource {}

/** kmalloc()'s constructor call for a node (one function, not a closure per call). */
function newTtmRangeMgrNode(): TtmRangeMgrNode {
  return new TtmRangeMgrNode();
}

/**
 * Models struct ttm_range_manager: the manager, its drm_mm and the lock around it.
 * Locking: `mm` under `lock`.
 */
export class TtmRangeManager extends TtmResourceManager {
  readonly lock: SpinLock;

  constructor(
    name: string,
    readonly mm: DrmMmAllocator,
  ) {
    super(ttmRangeManagerFunc, name);
    this.lock = new SpinLock(`${name}.lock`);
  }
}

/**
 * Models ttm_range_man_alloc(): a node in the place's range `[fpfn, lpfn)` (lpfn 0: the whole
 * manager), from the top for a TTM_PL_FLAG_TOPDOWN place (DRM_MM_INSERT_HIGH), else in the
 * smallest hole that fits (DRM_MM_INSERT_BEST), aligned to the BO's page_alignment; the resource
 * is initialised (and on the LRU) before the drm_mm insertion, and finished again if it fails.
 * -ENOMEM, or drm_mm_insert_node_in_range()'s -ENOSPC.
 * Locking: the BO's reservation held; takes the manager's lock around the drm_mm.
 * References: the caller owns the resource.
 */
async function ttmRangeManAlloc(
  man: TtmResourceManager,
  bo: TtmBufferObject,
  place: TtmPlace,
): Promise<TtmResource | number> {
  dmaResvAssertHeld(bo.resv);
  const rman = man as TtmRangeManager;
  const mm = rman.mm;
  let lpfn = place.lpfn;
  if (!lpfn) lpfn = man.size;
  const node = kmalloc(ttmRangeMgrNodeCache, newTtmRangeMgrNode);
  if (isErr(node)) return -ENOMEM;
  let mode: DrmMmInsertMode = DRM_MM_INSERT_BEST;
  if (place.flags & TTM_PL_FLAG_TOPDOWN) mode = DRM_MM_INSERT_HIGH;
  await ttmResourceInit(bo, place, node);
  const lockTaken = rman.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  const ret = mm.insertNodeInRange(
    Math.ceil(node.size / PAGE_SIZE),
    bo.pageAlignment,
    place.fpfn,
    lpfn,
    mode,
  );
  rman.lock.unlockNow();
  if (ret < 0) {
    await ttmResourceFini(man, node);
    kfree(node);
    return ret;
  }
  node.start = ret;
  return node;
}

/**
 * Models ttm_range_man_free(): removes the drm_mm node, finishes and frees the resource.
 * Locking: takes the manager's lock.
 * References: the resource is gone.
 */
async function ttmRangeManFree(man: TtmResourceManager, res: TtmResource): Promise<void> {
  const rman = man as TtmRangeManager;
  const lockTaken2 = rman.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  if (rman.mm.removeNode(res.start) === undefined)
    throw new Error(`drm_mm_remove_node: no node at page ${res.start} of ${man.name}`);
  rman.lock.unlockNow();
  await ttmResourceFini(man, res);
  kfree(res);
}

/**
 * Models ttm_range_man_intersects(): evicting `res` helps `place` only if it overlaps its range.
 */
function ttmRangeManIntersects(
  _man: TtmResourceManager,
  res: TtmResource,
  place: TtmPlace,
  size: number,
): boolean {
  const numPages = Math.ceil(size / PAGE_SIZE);
  // Don't evict BOs outside of the requested placement range
  if (place.fpfn >= res.start + numPages || (place.lpfn && place.lpfn <= res.start)) return false;
  return true;
}

/** Models ttm_range_man_compatible(): `res` lies inside the range of `place`. */
function ttmRangeManCompatible(
  _man: TtmResourceManager,
  res: TtmResource,
  place: TtmPlace,
  size: number,
): boolean {
  const numPages = Math.ceil(size / PAGE_SIZE);
  if (res.start < place.fpfn || (place.lpfn && res.start + numPages > place.lpfn)) return false;
  return true;
}

/** Models ttm_range_manager_func. */
export const ttmRangeManagerFunc = {
  alloc: ttmRangeManAlloc,
  free: ttmRangeManFree,
  intersects: ttmRangeManIntersects,
  compatible: ttmRangeManCompatible,
};

/**
 * Models ttm_range_man_init(): a range manager of `size` pages for memory type `type`, in use.
 * `mm` is its drm_mm: `new VramDrmMm(gpu.vram)` for VRAM, `new DrmMmRanges(size)` for an
 * aperture. Returns 0.
 * Locking: none (device set-up).
 * References: the device owns the manager until ttmRangeManFini().
 */
export function ttmRangeManInit(
  bdev: TtmDevice,
  type: number,
  useTt: boolean,
  size: number,
  mm: DrmMmAllocator = new DrmMmRanges(size),
): number {
  const rman = new TtmRangeManager(`ttm_range_man[${type}]`, mm);
  rman.useTt = useTt;
  ttmResourceManagerInit(rman, bdev, size);
  ttmSetDriverManager(bdev, type, rman);
  ttmResourceManagerSetUsed(rman, true);
  return 0;
}

/**
 * Models ttm_range_man_fini(): takes the manager out of service, evicts everything in it, and
 * tears it down. 0 or the eviction's error.
 * Locking: none held; takes reservations.
 * References: drops the manager's move fence.
 */
export async function ttmRangeManFini(bdev: TtmDevice, type: number): Promise<number> {
  const man = ttmManagerType(bdev, type);
  if (!man) return 0;
  ttmResourceManagerSetUsed(man, false);
  const ret = await ttmResourceManagerEvictAll(bdev, man);
  if (ret) return ret;
  const rman = man as TtmRangeManager;
  const lockTaken3 = rman.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  // drm_mm_takedown(): WARNs if nodes are left.
  const left = rman.mm.used;
  rman.lock.unlockNow();
  warnOn(left !== 0, `drm_mm_takedown: ${man.name} still has ${left} pages allocated`);
  await ttmResourceManagerCleanup(man);
  ttmSetDriverManager(bdev, type, null);
  return 0;
}
