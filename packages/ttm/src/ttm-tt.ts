/**
 * ttm_tt (drivers/gpu/drm/ttm/ttm_tt.c, ttm_pool.c, include/drm/ttm/ttm_tt.h): the system pages
 * behind a BO in a use_tt placement (SYSTEM, TT). The pages come from the device's pool, which
 * is the simulated GPU's system memory: real pages with real bytes, which the GPU's engine reads
 * and writes by DMA and the CPU maps at a fault.
 *
 * Swap: ttm_tt_swapout() copies a populated ttm_tt into a shmem file (`swapStorage`, charged to
 * the machine's RAM like any shmem page), gives its pages back to the pool and marks it
 * SWAPPED; the next ttm_tt_populate() allocates pages again and copies the contents back
 * (ttm_tt_swapin()). ttm_tt_populate() first swaps other BOs out (ttm_global_swapout()) while
 * more pages than `ttm_pages_limit` are allocated: the shrinking TTM does on its own.
 * Simplifications: no dma32 limit; the shmem file is never itself swapped to disk.
 */

import { dmaResvAssertHeld } from "@primetime/dma-buf";
import {
  EINVAL,
  ENOMEM,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  ShmemFile,
  SlabObject,
  shouldFail,
} from "@primetime/kernel";
import { bug, opLabel, point, SimLocal, warnOn } from "@primetime/sim";
import type { Page } from "@primetime/simgpu";
import { PAGE_SIZE } from "@primetime/simgpu";
import type { TtmBufferObject } from "./ttm-bo.js";
import type { TtmOperationCtx } from "./ttm-bo-type.js";
import { ttmBoType } from "./ttm-bo-type.js";
import { type TtmDevice, ttmGlobalSwapout } from "./ttm-device.js";

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
  /** Models swap_storage: the shmem file holding the contents while SWAPPED. */
  swapStorage: ShmemFile | null = null;
  /**
   * The BO whose `ttm` this is (a ghost object once it takes the ttm_tt over). The kernel's
   * ttm_tt has no such pointer; the model keeps one so the functions documented as "the BO's
   * reservation held" can assert it (ttmTtAssertHeld()).
   */
  bo: TtmBufferObject | null = null;
}

/**
 * The lockdep-style check behind the "the BO's reservation held" notes of this file:
 * dma_resv_assert_held() on the reservation of the BO owning `ttm` (a warn splat if the current
 * task does not hold it). A ttm_tt not created through ttm_tt_create() (or none) has no known
 * BO and is not checked.
 */
export function ttmTtAssertHeld(ttm: TtmTt | null): void {
  if (ttm?.bo) dmaResvAssertHeld(ttm.bo.resv);
}

/** Models ttm_pages_allocated and ttm_pages_limit (ttm_tt.c), per simulation. */
const ttmPages = new SimLocal(() => ({ allocated: 0, limit: Number.POSITIVE_INFINITY }));

/**
 * Models ttm_tt_mgr_init(num_pages, num_dma32_pages): the number of pages ttm_tts may have
 * populated before ttm_tt_populate() swaps other BOs out (the kernel's default is half of RAM;
 * here unlimited until set).
 * Locking: none (module init). References: none.
 */
export function ttmTtMgrInit(numPages: number): void {
  ttmPages.get().limit = numPages;
}

/** Models atomic_long_read(&ttm_pages_allocated): pages of populated ttm_tts. */
export function ttmTtPagesAllocated(): number {
  return ttmPages.get().allocated;
}

/**
 * Models ttm_tt_is_swapped().
 * Locking: the BO's reservation held (asserted). References: none.
 */
export function ttmTtIsSwapped(ttm: TtmTt): boolean {
  ttmTtAssertHeld(ttm);
  return (ttm.pageFlags & TTM_TT_FLAG_SWAPPED) !== 0;
}

/**
 * Models ttm_tt_is_populated().
 * Locking: the BO's reservation held (asserted). References: none.
 */
export function ttmTtIsPopulated(ttm: TtmTt): boolean {
  ttmTtAssertHeld(ttm);
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
  if (ttmTtIsPopulated(ttm)) warnOn(true, `ttm_tt_fini(${ttm.name}): still populated`);
  ttm.swapStorage?.release();
  ttm.swapStorage = null;
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
  bo.ttm.bo = bo;
  return 0;
}

/**
 * Models ttm_tt_destroy(): the driver's ->ttm_tt_destroy.
 * Locking: the BO's reservation held (asserted). References: consumes the ttm_tt.
 */
export async function ttmTtDestroy(bdev: TtmDevice, ttm: TtmTt): Promise<void> {
  ttmTtAssertHeld(ttm);
  await bdev.funcs.ttmTtDestroy(bdev, ttm);
}

/**
 * Models ttm_pool_alloc(): one page of the pool (the GPU's system memory) per slot, zeroed.
 * On failure nothing stays allocated. 0 or -ENOMEM.
 * Locking: the BO's reservation held (asserted). References: the ttm_tt owns the pages.
 */
export async function ttmPoolAlloc(bdev: TtmDevice, ttm: TtmTt): Promise<number> {
  ttmTtAssertHeld(ttm);
  await point(opLabel("ttm_pool_alloc", ttm.name));
  const pages = shouldFail("ttm_pool_alloc") ? null : bdev.pool.system.allocPages(ttm.numPages);
  if (pages === null) return -ENOMEM;
  ttm.pages = pages;
  return 0;
}

/**
 * Models ttm_pool_free(): gives the pages back to the pool.
 * Locking: the BO's reservation held (asserted). References: drops the pages.
 */
export async function ttmPoolFree(bdev: TtmDevice, ttm: TtmTt): Promise<void> {
  ttmTtAssertHeld(ttm);
  await point(opLabel("ttm_pool_free", ttm.name));
  if (!ttm.pages) return;
  for (let i = 0; i < ttm.pages.length; i++) {
    const p = ttm.pages[i];
    if (p) bdev.pool.system.freePage(p);
    ttm.pages[i] = null;
  }
}

/**
 * Models ttm_tt_populate(): accounts the pages (swapping other BOs out with
 * ttm_global_swapout() while more than ttm_pages_limit are allocated), allocates them (the
 * driver's ->ttm_tt_populate, or the pool), and swaps the contents back in if the ttm_tt was
 * swapped out. 0, -EINVAL (no ttm_tt), -ENOMEM (no pages, no swap storage), or the swapout's
 * error.
 * Locking: the BO's reservation held (asserted); takes ttm_global_mutex and trylocks other
 * BOs when over the limit.
 * References: the ttm_tt owns the pages.
 */
export async function ttmTtPopulate(
  bdev: TtmDevice,
  ttm: TtmTt | null,
  ctx: TtmOperationCtx,
): Promise<number> {
  ttmTtAssertHeld(ttm);
  if (!ttm) return -EINVAL;
  if (ttmTtIsPopulated(ttm)) return 0;
  const acct = ttmPages.get();
  const external = (ttm.pageFlags & TTM_TT_FLAG_EXTERNAL) !== 0;
  let ret = 0;
  if (!external) acct.allocated += ttm.numPages;
  while (acct.allocated > acct.limit) {
    ret = await ttmGlobalSwapout(ctx);
    if (ret === 0) break;
    if (ret < 0) {
      if (!external) acct.allocated -= ttm.numPages;
      return ret;
    }
  }
  ret = bdev.funcs.ttmTtPopulate
    ? await bdev.funcs.ttmTtPopulate(bdev, ttm, ctx)
    : await ttmPoolAlloc(bdev, ttm);
  if (ret) {
    if (!external) acct.allocated -= ttm.numPages;
    return ret;
  }
  ttm.pageFlags |= TTM_TT_FLAG_PRIV_POPULATED;
  if (ttm.pageFlags & TTM_TT_FLAG_SWAPPED) {
    ret = await ttmTtSwapin(ttm);
    if (ret) {
      await ttmTtUnpopulate(bdev, ttm);
      return ret;
    }
  }
  return 0;
}

/**
 * Models ttm_tt_swapin(): copies the contents back from the swap storage into the freshly
 * populated pages and drops the storage (fput). BUG if there is none. 0 or -ENOMEM.
 * Locking: the BO's reservation held (asserted). References: drops the swap storage.
 */
export async function ttmTtSwapin(ttm: TtmTt): Promise<number> {
  ttmTtAssertHeld(ttm);
  const storage = ttm.swapStorage;
  if (!storage) bug(`ttm_tt_swapin(${ttm.name}): BUG_ON(swap_storage == NULL)`);
  await point(`ttm_tt_swapin(${ttm.name})`);
  for (let i = 0; i < ttm.numPages; i++) {
    const from = shouldFail("shmem_read_mapping_page") ? null : storage!.readPage(i);
    if (from === null) return -ENOMEM;
    const to = ttm.pages?.[i];
    if (!to) return -ENOMEM;
    to.data.set(from);
  }
  storage!.release();
  ttm.swapStorage = null;
  ttm.pageFlags &= ~TTM_TT_FLAG_SWAPPED;
  return 0;
}

/**
 * Models ttm_tt_swapout(): copies every page of a populated ttm_tt into a new shmem file,
 * unpopulates it (the pages go back to the pool) and marks it SWAPPED. The number of pages
 * swapped out, or -ENOMEM (no shmem file or page: nothing changes).
 * Locking: the BO's reservation held (asserted), the BO idle. References: the ttm_tt owns the
 * storage.
 */
export async function ttmTtSwapout(bdev: TtmDevice, ttm: TtmTt): Promise<number> {
  ttmTtAssertHeld(ttm);
  await point(`ttm_tt_swapout(${ttm.name})`);
  if (shouldFail("shmem_file_setup")) return -ENOMEM;
  const storage = new ShmemFile(ttm.numPages * PAGE_SIZE);
  for (let i = 0; i < ttm.numPages; i++) {
    const from = ttm.pages?.[i];
    if (!from) continue;
    const to = shouldFail("shmem_read_mapping_page") ? null : storage.readPage(i);
    if (to === null) {
      storage.release();
      return -ENOMEM;
    }
    to.set(from.data);
  }
  await ttmTtUnpopulate(bdev, ttm);
  ttm.swapStorage = storage;
  ttm.pageFlags |= TTM_TT_FLAG_SWAPPED;
  return ttm.numPages;
}

/**
 * Models ttm_tt_unpopulate().
 * Locking: the BO's reservation held (asserted). References: drops the pages.
 */
export async function ttmTtUnpopulate(bdev: TtmDevice, ttm: TtmTt): Promise<void> {
  ttmTtAssertHeld(ttm);
  if (!ttmTtIsPopulated(ttm)) return;
  if (bdev.funcs.ttmTtUnpopulate) await bdev.funcs.ttmTtUnpopulate(bdev, ttm);
  else await ttmPoolFree(bdev, ttm);
  if (!(ttm.pageFlags & TTM_TT_FLAG_EXTERNAL)) ttmPages.get().allocated -= ttm.numPages;
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
