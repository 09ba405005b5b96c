/**
 * GEM helpers for TTM drivers (drivers/gpu/drm/drm_gem_ttm_helper.c): the GEM ->mmap of a BO
 * that embeds its GEM object, and the PRIME export hooks (pin while attached, the pages).
 */

import { dmaResvAssertHeld, type SgTable, sgAllocTableFromPages } from "@primetime/dma-buf";
import { drmGemObjectPut, type GemObject } from "@primetime/gem";
import { EINVAL, type Errno, errPtr, mmapAssertLocked, type Vma } from "@primetime/kernel";
import { RESOLVED } from "@primetime/sim";
import { type TtmBufferObject, ttmBoPin, ttmBoUnpin, ttmBoValidate } from "./ttm-bo.js";
import { ttmBoMmapObj } from "./ttm-bo-vm.js";
import { TTM_PL_TT, ttmPlace, ttmPlacement } from "./ttm-placement.js";
import { ttmTtIsPopulated } from "./ttm-tt.js";

/**
 * Models drm_gem_ttm_mmap(): drm_gem_mmap() found the object and took a GEM reference for the
 * VMA; ttm_bo_mmap_obj() takes one of its own (a GEM one since v6.14), so the first is dropped
 * ("ttm has its own object refcounting, so drop gem reference to avoid double accounting
 * counting").
 * Locking: mmap_lock held.
 * References: the VMA holds the GEM reference ttm_bo_mmap_obj() took.
 */
export async function drmGemTtmMmap(gem: GemObject, vma: Vma): Promise<number> {
  mmapAssertLocked(vma.vmMm);
  const bo = gem as TtmBufferObject;
  const ret = await ttmBoMmapObj(vma, bo);
  if (ret < 0) return ret;
  const drmGemObjectPutDone = drmGemObjectPut(gem);
  if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
  return 0;
}

/**
 * The GEM ->pin of a TTM BO for a dma-buf attachment (the pattern of amdgpu_dma_buf_pin() and
 * qxl_gem_prime_pin()): importers of this model are static (no move_notify), so while attached
 * the BO is pinned, in a placement whose pages the importer can reach: the first pin validates
 * it into TT (system pages bound to the GPU), then ttm_bo_pin() takes it off the LRU: it is
 * neither evicted nor moved (ttm_bo_validate() -EINVAL) until the last unpin. 0 or -errno.
 * Locking: the reservation held (asserted): drm_gem_pin() takes it around ->pin (v6.10+).
 * References: the attachment's dma-buf holds the object.
 */
export async function ttmGemPrimePin(gem: GemObject): Promise<number> {
  const bo = gem as TtmBufferObject;
  dmaResvAssertHeld(bo.resv);
  let ret = 0;
  if (!bo.pinCount) {
    const ctx = { interruptible: false, noWaitGpu: false, bytesMoved: 0 };
    ret = await ttmBoValidate(bo, ttmPlacement(ttmPlace(TTM_PL_TT)), ctx);
  }
  if (!ret) await ttmBoPin(bo);
  return ret;
}

/**
 * The GEM ->unpin matching ttmGemPrimePin(): the BO may move again after the last detach.
 * Locking: the reservation held (asserted): drm_gem_unpin() takes it.
 * References: none.
 */
export async function ttmGemPrimeUnpin(gem: GemObject): Promise<void> {
  const bo = gem as TtmBufferObject;
  dmaResvAssertHeld(bo.resv);
  await ttmBoUnpin(bo);
}

/**
 * The GEM ->get_sg_table of a pinned TTM BO (drm_prime_pages_to_sg() of its ttm_tt pages): the
 * importer maps the BO's current pages, the same memory the GPU and CPU mappings use. -EINVAL
 * if the BO is not pinned in a ttm_tt placement.
 * Locking: the reservation held (dma_buf_map_attachment()).
 * References: the table belongs to the attachment until unmapped.
 */
export async function ttmGemPrimeGetSgTable(gem: GemObject): Promise<SgTable | Errno> {
  const bo = gem as TtmBufferObject;
  dmaResvAssertHeld(bo.resv);
  if (!bo.pinCount || !bo.ttm?.pages || !ttmTtIsPopulated(bo.ttm)) return errPtr(EINVAL);
  const pages = bo.ttm.pages.map((p) => p!.data);
  return sgAllocTableFromPages(pages);
}
