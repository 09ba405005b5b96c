/**
 * The range manager (drivers/gpu/drm/ttm/ttm_range_manager.c): a resource manager over a linear
 * range of pages, allocating with a drm_mm. Used for VRAM and for the TT aperture.
 *
 * The drm_mm of a VRAM manager is the simulated device's own VRAM allocator (`gpu.vram`,
 * first-fit: it fragments, and fails when no hole is large enough), so the device's MMU sees
 * exactly the ranges TTM hands out: a copy into a range TTM has freed faults. A TT aperture has
 * no memory of its own on this device (the engine reaches system pages directly), so its drm_mm
 * is a first-fit range allocator of the same kind (`DrmMmRanges`).
 *
 * Simplifications: DRM_MM_INSERT_BEST and _HIGH are both first fit; `fpfn`/`lpfn` limits are
 * honoured by refusing (-ENOSPC) a range first fit put outside them; alignment is one page.
 */

import { dmaResvAssertHeld } from "@primetime/dma-buf";
import { ENOMEM, ENOSPC, isErr, KmemCache, kfree, kmalloc, SpinLock } from "@primetime/kernel";
import { warnOn } from "@primetime/sim";
import type { Vram } from "@primetime/simgpu";
import { PAGE_SIZE, PageRanges } from "@primetime/simgpu";
import type { TtmBufferObject } from "./ttm-bo.js";
import { type TtmDevice, ttmManagerType, ttmSetDriverManager } from "./ttm-device.js";
import type { TtmPlace } from "./ttm-placement.js";
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

/** The page allocator a range manager draws from (struct drm_mm, as far as TTM uses it). */
export interface DrmMmAllocator {
  /** Models drm_mm_insert_node_in_range(): the first page of `npages` free ones, or null. */
  insert(npages: number): number | null;
  /** Models drm_mm_remove_node(). */
  remove(start: number): void;
  /** Pages allocated now (drm_mm_clean() is `used === 0`). */
  readonly used: number;
}

/** A first-fit drm_mm over `[0, size)` pages: the TT aperture's address space. */
export class DrmMmRanges implements DrmMmAllocator {
  private readonly ranges: PageRanges;

  constructor(readonly size: number) {
    this.ranges = new PageRanges(size);
  }

  get used(): number {
    return this.ranges.used;
  }

  insert(npages: number): number | null {
    return this.ranges.insert(npages);
  }

  remove(start: number): void {
    if (this.ranges.remove(start) === undefined)
      throw new Error(`drm_mm_remove_node: no node at page ${start}`);
  }
}

/** The device's VRAM allocator seen as a drm_mm (pages instead of byte offsets). */
export class VramDrmMm implements DrmMmAllocator {
  private readonly nodes = new Map<number, number>();
  used = 0;

  constructor(readonly vram: Vram) {}

  insert(npages: number): number | null {
    const off = this.vram.alloc(npages);
    if (off === null) return null;
    this.nodes.set(off / PAGE_SIZE, npages);
    this.used += npages;
    return off / PAGE_SIZE;
  }

  remove(start: number): void {
    const npages = this.nodes.get(start);
    if (npages === undefined) throw new Error(`drm_mm_remove_node: no VRAM node at page ${start}`);
    this.nodes.delete(start);
    this.used -= npages;
    this.vram.free(start * PAGE_SIZE);
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
 * Models ttm_range_man_alloc(): a node in the range; the resource is initialised (and on the
 * LRU) before the drm_mm insertion, and finished again if it fails. -ENOMEM, -ENOSPC.
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
  let lpfn = place.lpfn;
  if (!lpfn) lpfn = man.size;
  const node = kmalloc(ttmRangeMgrNodeCache, newTtmRangeMgrNode);
  if (isErr(node)) return -ENOMEM;
  await ttmResourceInit(bo, place, node);
  const npages = Math.ceil(node.size / PAGE_SIZE);
  await rman.lock.lock();
  // drm_mm_insert_node_in_range(): a node of size 0 is -ENOSPC (a zero-sized object).
  let start = npages > 0 ? rman.mm.insert(npages) : null;
  if (start !== null && (start < place.fpfn || start + npages > lpfn)) {
    rman.mm.remove(start);
    start = null;
  }
  await rman.lock.unlock();
  if (start === null) {
    await ttmResourceFini(man, node);
    kfree(node);
    return -ENOSPC;
  }
  node.start = start;
  return node;
}

/**
 * Models ttm_range_man_free(): removes the drm_mm node, finishes and frees the resource.
 * Locking: takes the manager's lock.
 * References: the resource is gone.
 */
async function ttmRangeManFree(man: TtmResourceManager, res: TtmResource): Promise<void> {
  const rman = man as TtmRangeManager;
  await rman.lock.lock();
  rman.mm.remove(res.start);
  await rman.lock.unlock();
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
  await rman.lock.lock();
  // drm_mm_takedown(): WARNs if nodes are left.
  const left = rman.mm.used;
  await rman.lock.unlock();
  warnOn(left !== 0, `drm_mm_takedown: ${man.name} still has ${left} pages allocated`);
  await ttmResourceManagerCleanup(man);
  ttmSetDriverManager(bdev, type, null);
  return 0;
}
