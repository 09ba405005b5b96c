/**
 * qxl's PRIME hooks (drivers/gpu/drm/qxl/qxl_prime.c, Linux v6.18): exports go through the DRM
 * core's helpers (drm_gem_prime_export, the core's cache and self-import), attaching pins the
 * object (qxl_bo_pin()) and detaching unpins it.
 *
 * Model extension: mainline's ->get_sg_table is -ENOSYS ("there should not be any other driver
 * for a virtual device that might share buffers with qxl"), so no other device can map a qxl
 * export. Here it returns the pinned object's pages (views of the device memory behind the BAR
 * for VRAM/PRIV objects, the ttm_tt pages otherwise), so the cross-driver conformance cases can
 * run against qxl. Foreign imports stay -ENOSYS as in mainline (no ->gem_prime_import_sg_table).
 */

import { type SgTable, sgAllocTableFromPages } from "@primetime/dma-buf";
import type { GemObject } from "@primetime/gem";
import { type Errno, errPtr, type Vma } from "@primetime/kernel";
import { drmGemTtmMmap, ttmBoCpuPage } from "@primetime/ttm";
import { qxlBoPin, qxlBoReserve, qxlBoUnpin, qxlBoUnreserve, toQxlBo } from "./qxl-object.js";

/**
 * Models qxl_gem_prime_pin(): qxl_bo_pin().
 * Locking: takes the reservation. References: the attachment's.
 */
export async function qxlGemPrimePin(obj: GemObject): Promise<number> {
  return qxlBoPin(toQxlBo(obj));
}

/**
 * Models qxl_gem_prime_unpin(): qxl_bo_unpin().
 * Locking: takes the reservation. References: none.
 */
export async function qxlGemPrimeUnpin(obj: GemObject): Promise<void> {
  await qxlBoUnpin(toQxlBo(obj));
}

/**
 * The pages of a pinned object for a foreign importer (a model extension: see the file comment).
 * Locking: takes the reservation. References: the table is the caller's; the pages stay the
 * object's (valid while it is pinned by the attachment).
 */
export async function qxlGemPrimeGetSgTable(obj: GemObject): Promise<SgTable | Errno> {
  const bo = toQxlBo(obj);
  const r = await qxlBoReserve(bo);
  if (r) return errPtr(r);
  const pages: Uint8Array[] = [];
  const n = bo.size / 4096;
  for (let i = 0; i < n; i++) {
    const p = await ttmBoCpuPage(bo, i);
    if (typeof p === "number") {
      await qxlBoUnreserve(bo);
      return errPtr(p);
    }
    pages.push(p);
  }
  await qxlBoUnreserve(bo);
  return sgAllocTableFromPages(pages);
}

/**
 * Models drm_gem_ttm_mmap() as qxl_object_funcs.mmap: the VMA holds a TTM reference.
 * Locking: mmap_lock held. References: see drmGemTtmMmap().
 */
export async function qxlGemPrimeMmap(obj: GemObject, vma: Vma): Promise<number> {
  return drmGemTtmMmap(obj, vma);
}
