/**
 * qxl's PRIME hooks (drivers/gpu/drm/qxl/qxl_prime.c, Linux v6.18): exports go through the DRM
 * core's helpers (drm_gem_prime_export, the core's cache and self-import), attaching pins the
 * object (qxl_bo_pin_locked(), under the reservation drm_gem_pin() holds) and detaching unpins it.
 *
 * Model extension: mainline's ->get_sg_table is -ENOSYS ("there should not be any other driver
 * for a virtual device that might share buffers with qxl"), so no other device can map a qxl
 * export. Here it returns the pinned object's pages (views of the device memory behind the BAR
 * for VRAM/PRIV objects, the ttm_tt pages otherwise), so the cross-driver conformance cases can
 * run against qxl; and ->gem_prime_import_sg_table (mainline: -ENOSYS) makes a plain GEM object
 * over the exporter's pages (`QxlImportObject`), mapped for the device through a DMA window
 * (QxlHw.dmaMap(), the model's third memslot), so drawables can read and write it; UPDATE_AREA
 * refuses it (-EINVAL: not a surface) and QXL_MAP too, as drm_gem_dumb_map_offset() refuses
 * imports (the CPU maps it through its dma-buf).
 */

import {
  type DmaBufAttachment,
  dmaResvAssertHeld,
  type SgTable,
  sgAllocTableFromPages,
} from "@primetime/dma-buf";
import {
  type DrmDevice,
  type DrmGemObjectFuncs,
  drmGemObjectFuncs,
  drmGemObjectRelease,
  drmGemPageVmOps,
  drmGemPrivateObjectInit,
  drmPrimeGemDestroy,
  GemObject,
} from "@primetime/gem";
import {
  type Errno,
  errPtr,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  type Vma,
} from "@primetime/kernel";
import { drmGemTtmMmap, ttmBoCpuPage } from "@primetime/ttm";
import { QXL_DMA_SLOT, QxlHw } from "./qxl-dev.js";
import { toQxl } from "./qxl-device.js";
import { nextObjSeq, qxlBoPinLocked, qxlBoUnpinLocked, toQxlBo } from "./qxl-object.js";

/**
 * Models qxl_gem_prime_pin() (v6.10+): qxl_bo_pin_locked(); drm_gem_pin() holds the reservation
 * ("drm/gem: Acquire reservation lock in drm_gem_{pin/unpin}()").
 * Locking: the reservation held (asserted). References: the attachment's.
 */
export async function qxlGemPrimePin(obj: GemObject): Promise<number> {
  const bo = toQxlBo(obj);
  dmaResvAssertHeld(bo.resv);
  return qxlBoPinLocked(bo);
}

/**
 * Models qxl_gem_prime_unpin() (v6.10+): qxl_bo_unpin_locked().
 * Locking: the reservation held (asserted). References: none.
 */
export async function qxlGemPrimeUnpin(obj: GemObject): Promise<void> {
  const bo = toQxlBo(obj);
  dmaResvAssertHeld(bo.resv);
  await qxlBoUnpinLocked(bo);
}

/**
 * The pages of a pinned object for a foreign importer (a model extension: see the file comment).
 * Locking: the reservation held (drm_gem_map_dma_buf() is called under it).
 * References: the table is the caller's; the pages stay the object's (valid while the
 * attachment keeps the object pinned).
 */
export async function qxlGemPrimeGetSgTable(obj: GemObject): Promise<SgTable | Errno> {
  const bo = toQxlBo(obj);
  dmaResvAssertHeld(bo.resv);
  const pages: Uint8Array[] = [];
  const n = bo.size / 4096;
  for (let i = 0; i < n; i++) {
    const p = await ttmBoCpuPage(bo, i);
    if (typeof p === "number") return errPtr(p);
    pages.push(p);
  }
  return sgAllocTableFromPages(pages);
}

/**
 * Models drm_gem_ttm_mmap() as qxl_object_funcs.mmap: the VMA holds a TTM reference.
 * Locking: mmap_lock held. References: see drmGemTtmMmap().
 */
export async function qxlGemPrimeMmap(obj: GemObject, vma: Vma): Promise<number> {
  return drmGemTtmMmap(obj, vma);
}

/** The slab cache of imported objects. */
export const qxlImportCache = new KmemCache("qxl_import");

/**
 * An object imported from another device (model extension, see the file comment): the
 * exporter's pages, mapped for the CPU; the import holds the dma-buf through its attachment.
 * Locking: set up before publication, read-only afterwards. References: a GemObject's.
 */
export class QxlImportObject extends GemObject {
  /** The page table of the import, given back at free. */
  sgt: SgTable | null = null;
  /** The device's DMA window over the pages (QxlHw.dmaMap()), 0 while unmapped. */
  dmaIndex = 0;
  /** Position in the model's global reservation order. */
  readonly seq = nextObjSeq();
}

/**
 * The device's physical address of `offset` bytes into an import (its DMA window).
 * Locking: none (the window lives as long as the import). References: none.
 */
export function qxlImportPhysicalAddress(obj: QxlImportObject, offset: number): number {
  return QxlHw.physical(QXL_DMA_SLOT, obj.dmaIndex * 2 ** 32 + offset);
}

/**
 * The import's free: unmap, detach and drop the dma-buf (drm_prime_gem_destroy()), release, free.
 * Locking: none. References: drops the import's dma-buf.
 */
async function qxlImportFree(obj: GemObject): Promise<void> {
  const imp = obj as QxlImportObject;
  if (imp.dmaIndex) toQxl(obj.dev).hw.dmaUnmap(imp.dmaIndex);
  imp.dmaIndex = 0;
  await drmPrimeGemDestroy(obj, imp.sgt);
  imp.sgt = null;
  await drmGemObjectRelease(obj);
  kfree(obj);
}

const qxlImportFuncs: DrmGemObjectFuncs = drmGemObjectFuncs({
  free: qxlImportFree,
  vmOps: drmGemPageVmOps,
});

/** kmalloc()'s constructor call for an import (one function, not a closure per call). */
function newQxlImportObject(): QxlImportObject {
  return new QxlImportObject(qxlImportFuncs);
}

/**
 * ->gem_prime_import_sg_table (model extension; mainline: -ENOSYS): a GEM object over the
 * foreign dma-buf's pages.
 * Locking: object_name_lock held by the core's import.
 * References: returns an object with one reference; the core records the attachment.
 */
export async function qxlGemPrimeImportSgTable(
  dev: DrmDevice,
  attach: DmaBufAttachment,
  sgt: SgTable,
): Promise<GemObject | Errno> {
  lockdepAssertHeld(dev.objectNameLock);
  const obj = kmalloc(qxlImportCache, newQxlImportObject);
  if (isErr(obj)) return obj;
  drmGemPrivateObjectInit(dev, obj, attach.dmabuf.size);
  obj.sgt = sgt;
  obj.pages = sgt.pages;
  obj.dmaIndex = toQxl(dev).hw.dmaMap(sgt.pages);
  return obj;
}
