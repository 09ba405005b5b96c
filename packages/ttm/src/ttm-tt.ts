/**
 * ttm_tt (drivers/gpu/drm/ttm/ttm_tt.c, ttm_pool.c, include/drm/ttm/ttm_tt.h): the system pages
 * behind a BO in a use_tt placement (SYSTEM, TT). The pages come from the device's pool, which
 * is the simulated GPU's system memory: real pages with real bytes, which the GPU's engine reads
 * and writes by DMA and the CPU maps at a fault.
 */

import { dmaResvAssertHeld } from "@primetime/dma-buf";
import {
  EINVAL,
  ENOMEM,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  SlabObject,
  shouldFail,
} from "@primetime/kernel";
import { point, warnOn } from "@primetime/sim";
import type { Page } from "@primetime/simgpu";
import { PAGE_SIZE } from "@primetime/simgpu";
import type { TtmBufferObject } from "./ttm-bo.js";
import type { TtmOperationCtx } from "./ttm-bo-type.js";
import { ttmBoType } from "./ttm-bo-type.js";
import type { TtmDevice } from "./ttm-device.js";

/** Models TTM_TT_FLAG_SWAPPED. */
export const TTM_TT_FLAG_SWAPPED = 1 << 0;
/** Models TTM_TT_FLAG_ZERO_ALLOC: the pages must be cleared. */
export const TTM_TT_FLAG_ZERO_ALLOC = 1 << 1;
/** Models TTM_TT_FLAG_EXTERNAL: the pages belong to someone else (an imported sg table). */
export const TTM_TT_FLAG_EXTERNAL = 1 << 2;
/** Models TTM_TT_FLAG_EXTERNAL_MAPPABLE. */
export const TTM_TT_FLAG_EXTERNAL_MAPPABLE = 1 << 3;
/** Models TTM_TT_FLAG_PRIV_POPULATED: internal, set while the pages are allocated. */
export const TTM_TT_FLAG_PRIV_POPULATED = 1 << 31;

/** The slab cache drivers allocate their ttm_tt from (ttmTtCreateDefault()). */
export const ttmTtCache = new KmemCache("ttm_tt");

/**
 * Models struct ttm_tt.
 * Locking: under the owning BO's reservation.
 * References: owned by the BO (`bo.ttm`), or by a ghost object holding it until a move ends.
 */
export class TtmTt extends SlabObject {
  /** Models pages: null until ttm_tt_init(); entries null while unpopulated. */
  pages: (Page | null)[] | null = null;
  /** Models num_pages. */
  numPages = 0;
  /** Models page_flags. */
  pageFlags = 0;
}

/**
 * Models ttm_tt_is_populated().
 * Locking: the BO's reservation held. References: none.
 */
export function ttmTtIsPopulated(ttm: TtmTt): boolean {
  return (ttm.pageFlags & TTM_TT_FLAG_PRIV_POPULATED) !== 0;
}

/**
 * Models ttm_tt_init(): fields and the page directory (one slot per page of the BO). 0 or
 * -ENOMEM.
 * Locking: none (the ttm_tt is private). References: none.
 */
export function ttmTtInit(ttm: TtmTt, bo: TtmBufferObject, pageFlags: number): number {
  ttm.numPages = Math.ceil(bo.size / PAGE_SIZE);
  ttm.pageFlags = pageFlags;
  if (shouldFail("ttm_tt_alloc_page_directory")) return -ENOMEM;
  ttm.pages = new Array(ttm.numPages).fill(null);
  return 0;
}

/**
 * Models ttm_tt_fini(): frees the page directory; WARNs if the pages are still populated.
 * Locking: none. References: none.
 */
export function ttmTtFini(ttm: TtmTt): void {
  warnOn(ttmTtIsPopulated(ttm), `ttm_tt_fini(${ttm.name}): still populated`);
  ttm.pages = null;
}

/**
 * Models ttm_tt_create(): the BO's ttm_tt through the driver's ->ttm_tt_create, flagged
 * ZERO_ALLOC (device BOs whose old placement was a ttm_tt as well) or EXTERNAL (sg BOs).
 * Idempotent. 0, -EINVAL (bad type), -ENOMEM.
 * Locking: the BO's reservation held.
 * References: the BO owns the ttm_tt.
 */
export async function ttmTtCreate(bo: TtmBufferObject, zeroAlloc: boolean): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const bdev = bo.bdev;
  if (bo.ttm) return 0;
  let pageFlags = 0;
  switch (bo.type) {
    case ttmBoType.device:
      if (zeroAlloc) pageFlags |= TTM_TT_FLAG_ZERO_ALLOC;
      break;
    case ttmBoType.kernel:
      break;
    case ttmBoType.sg:
      pageFlags |= TTM_TT_FLAG_EXTERNAL;
      break;
    default:
      return -EINVAL;
  }
  bo.ttm = await bdev.funcs.ttmTtCreate(bo, pageFlags);
  if (bo.ttm === null) return -ENOMEM;
  return 0;
}

/**
 * Models ttm_tt_destroy(): the driver's ->ttm_tt_destroy.
 * Locking: the BO's reservation held (or the BO is dead). References: consumes the ttm_tt.
 */
export async function ttmTtDestroy(bdev: TtmDevice, ttm: TtmTt): Promise<void> {
  await bdev.funcs.ttmTtDestroy(bdev, ttm);
}

/**
 * Models ttm_pool_alloc(): one page of the pool (the GPU's system memory) per slot, zeroed.
 * On failure nothing stays allocated. 0 or -ENOMEM.
 * Locking: the BO's reservation held. References: the ttm_tt owns the pages.
 */
export async function ttmPoolAlloc(bdev: TtmDevice, ttm: TtmTt): Promise<number> {
  await point(`ttm_pool_alloc(${ttm.name})`);
  const pages = shouldFail("ttm_pool_alloc") ? null : bdev.pool.system.allocPages(ttm.numPages);
  if (pages === null) return -ENOMEM;
  ttm.pages = pages;
  return 0;
}

/**
 * Models ttm_pool_free(): gives the pages back to the pool.
 * Locking: the BO's reservation held (or the BO is dead). References: drops the pages.
 */
export async function ttmPoolFree(bdev: TtmDevice, ttm: TtmTt): Promise<void> {
  await point(`ttm_pool_free(${ttm.name})`);
  if (!ttm.pages) return;
  for (let i = 0; i < ttm.pages.length; i++) {
    const p = ttm.pages[i];
    if (p) bdev.pool.system.freePage(p);
    ttm.pages[i] = null;
  }
}

/**
 * Models ttm_tt_populate(): allocates the pages (the driver's ->ttm_tt_populate, or the pool).
 * 0, -EINVAL (no ttm_tt), -ENOMEM.
 * Locking: the BO's reservation held. References: the ttm_tt owns the pages.
 */
export async function ttmTtPopulate(
  bdev: TtmDevice,
  ttm: TtmTt | null,
  ctx: TtmOperationCtx,
): Promise<number> {
  if (!ttm) return -EINVAL;
  if (ttmTtIsPopulated(ttm)) return 0;
  const ret = bdev.funcs.ttmTtPopulate
    ? await bdev.funcs.ttmTtPopulate(bdev, ttm, ctx)
    : await ttmPoolAlloc(bdev, ttm);
  if (ret) return ret;
  ttm.pageFlags |= TTM_TT_FLAG_PRIV_POPULATED;
  return 0;
}

/**
 * Models ttm_tt_unpopulate().
 * Locking: the BO's reservation held (or the BO is dead). References: drops the pages.
 */
export async function ttmTtUnpopulate(bdev: TtmDevice, ttm: TtmTt): Promise<void> {
  if (!ttmTtIsPopulated(ttm)) return;
  if (bdev.funcs.ttmTtUnpopulate) await bdev.funcs.ttmTtUnpopulate(bdev, ttm);
  else await ttmPoolFree(bdev, ttm);
  ttm.pageFlags &= ~TTM_TT_FLAG_PRIV_POPULATED;
}

/**
 * What most drivers' ->ttm_tt_create is (qxl_ttm_tt_create()): kzalloc + ttm_tt_init(), null
 * on failure.
 * Locking: the BO's reservation held. References: the BO owns the result.
 */
export async function ttmTtCreateDefault(
  bo: TtmBufferObject,
  pageFlags: number,
): Promise<TtmTt | null> {
  dmaResvAssertHeld(bo.resv);
  const ttm = kmalloc(ttmTtCache, () => new TtmTt());
  if (isErr(ttm)) return null;
  if (ttmTtInit(ttm, bo, pageFlags)) {
    kfree(ttm);
    return null;
  }
  return ttm;
}

/**
 * What most drivers' ->ttm_tt_destroy is: ttm_tt_fini() + kfree.
 * Locking: none. References: consumes the ttm_tt.
 */
export async function ttmTtDestroyDefault(_bdev: TtmDevice, ttm: TtmTt): Promise<void> {
  ttmTtFini(ttm);
  kfree(ttm);
}
