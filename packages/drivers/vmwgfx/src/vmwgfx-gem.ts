/**
 * vmwgfx's GEM side (drivers/gpu/drm/vmwgfx/vmwgfx_gem.c): buffer objects created with a GEM
 * handle (ALLOC_BO, dumb buffers: vmwDumbCreate() of vmwgfx-surface.ts, as vmw_dumb_create() is
 * in vmwgfx_surface.c) and foreign dma-bufs imported as buffer objects.
 *
 * "drm/vmwgfx: Do not drop the reference to the handle too soon" (a950b989ea29, 2023) moved the
 * drop of the creation reference out of vmw_gem_object_create_with_handle() into its callers,
 * after their last use of the buffer: before it, ALLOC_BO read the buffer's mmap offset after the
 * handle had become the only reference, and a thread guessing the handle could close it in
 * between (toggle `vmwgfx.handle-ref-dropped-too-soon`).
 */

import {
  type DmaBufAttachment,
  dmaResvLock,
  dmaResvUnlock,
  type SgTable,
} from "@primetime/dma-buf";
import {
  type DrmDevice,
  type DrmFile,
  drmGemHandleCreate,
  drmGemObjectLookup,
  drmGemObjectPut,
  drmVmaNodeOffsetAddr,
  type GemObject,
} from "@primetime/gem";
import { ENOENT, type Errno, isErr, lockdepAssertHeld } from "@primetime/kernel";
import { bug, point, RESOLVED, toggleEnabled } from "@primetime/sim";
import {
  VMWGFX_ALLOC_BO_HANDLE_LEAK,
  VMWGFX_HANDLE_REF_DROPPED_TOO_SOON,
  VMWGFX_IMPORT_SG_TABLE_NULL,
} from "./toggles.js";
import { type VmwBo, vmwGemObjectCreate, vmwImportObjectCreate } from "./vmwgfx-bo.js";
import type { DrmVmwAllocBoArg } from "./vmwgfx-uapi.js";

/**
 * What vmw_gem_object_create_with_handle() gives back: its return value and its two out
 * parameters (`*handle`, `*p_vbo`).
 */
export interface VmwGemCreateWithHandle {
  /** 0, or the negative errno of vmw_bo_create() or drm_gem_handle_create(). */
  ret: number;
  /**
   * Models *p_vbo: the buffer with its creation reference, for the caller to drop; set when
   * vmw_bo_create() succeeded, even if drm_gem_handle_create() then failed (NULL with the known
   * window's fix switch, or the toggle, whose put already happened).
   */
  bo: VmwBo | null;
  /** Models *handle (valid when `ret` is 0). */
  handle: number;
}

/**
 * Models vmw_gem_object_create_with_handle(): a buffer of `size` bytes (vmw_bo_create(); *p_vbo
 * NULL if it fails) and a GEM handle for it in `file`. The buffer comes back holding the creation
 * reference whatever drm_gem_handle_create() returned: the caller drops it when done with the
 * buffer (a950b989ea29), or on the error (the raw dumb branch's put, the surface define's
 * resource release); vmw_gem_object_create_ioctl() does not on the error (the known window
 * `vmwgfx.alloc-bo-handle-leak`). With that window's fix switch, a failed handle creation drops
 * the reference here and returns NULL in *p_vbo (the proposed fix).
 * With the toggle `vmwgfx.handle-ref-dropped-too-soon` the creation reference is dropped here,
 * right after drm_gem_handle_create() whatever it returned, as before the fix: the returned
 * buffer is then only as alive as the handle (none, NULL, on an error).
 * Locking: see drmGemHandleCreate(). References: the handle holds one; the caller one more.
 */
export async function vmwGemObjectCreateWithHandle(
  dev: DrmDevice,
  file: DrmFile,
  size: number,
): Promise<VmwGemCreateWithHandle> {
  const bo = await vmwGemObjectCreate(dev, size);
  if (isErr(bo)) return { ret: bo, bo: null, handle: 0 };
  const handle = await drmGemHandleCreate(file, bo);
  const ret = Math.min(handle, 0);
  if (toggleEnabled(VMWGFX_HANDLE_REF_DROPPED_TOO_SOON.name)) {
    // drop reference from allocate - handle holds it now (before the fix)
    const drmGemObjectPutDone = drmGemObjectPut(bo);
    if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
    return { ret, bo: ret ? null : bo, handle: ret ? 0 : handle };
  }
  if (ret && toggleEnabled(VMWGFX_ALLOC_BO_HANDLE_LEAK.name)) {
    // The proposed fix: nothing is left for the caller to drop.
    const drmGemObjectPutDone2 = drmGemObjectPut(bo);
    if (drmGemObjectPutDone2 !== RESOLVED) await drmGemObjectPutDone2;
    return { ret, bo: null, handle: 0 };
  }
  return { ret, bo, handle: ret ? 0 : handle };
}

/**
 * Models vmw_gem_object_create_ioctl() (DRM_VMW_ALLOC_BO): a buffer of `req.size` bytes and its
 * handle; the reply carries the handle, the mmap offset (map_handle) and the handle again as
 * cur_gmr_id. Then the creation reference is dropped (after the last use of the buffer).
 * -ENOSPC for a zero size (the 0-page mmap offset; no size check of its own), -ENOMEM.
 * On an error it returns at once (`goto out_no_bo`): a buffer whose handle could not be created
 * keeps its creation reference and leaks (the known window `vmwgfx.alloc-bo-handle-leak`, as
 * v6.12.19 and v6.18.35 have it; its fix switch drops it in vmwGemObjectCreateWithHandle()).
 * Locking: none held. References: the handle keeps the buffer.
 */
export async function vmwGemObjectCreateIoctl(
  dev: DrmDevice,
  arg: DrmVmwAllocBoArg,
  file: DrmFile,
): Promise<number> {
  const r = await vmwGemObjectCreateWithHandle(dev, file, arg.size);
  if (r.ret) return r.ret; // goto out_no_bo
  const bo = r.bo as VmwBo;
  const handle = r.handle;
  await point(`rep->map_handle = drm_vma_node_offset_addr(${bo.name})`);
  bo.checkAccess("drm_vma_node_offset_addr");
  arg.handle = handle;
  arg.map_handle = drmVmaNodeOffsetAddr(bo.vmaNode);
  arg.cur_gmr_id = handle;
  arg.cur_gmr_offset = 0;
  // drop reference from allocate - handle holds it now
  if (!toggleEnabled(VMWGFX_HANDLE_REF_DROPPED_TOO_SOON.name)) await drmGemObjectPut(bo);
  return 0;
}

/**
 * Models vmw_prime_import_sg_table() (since "drm/vmwgfx: Fix prime import/export", 2024): a
 * buffer object over a foreign dma-buf's pages, sharing its reservation object (the core sets
 * obj->resv and the attachment). As in v6.12.19's vmwgfx_gem.c, vmw_bo_create() runs with the
 * dma-buf's reservation held (`dma_resv_lock(params.resv, NULL)` before it, `dma_resv_unlock()`
 * at `out_no_bo`): the buffer is created reserved on the exporter's reservation object
 * (`.resv = attach->dmabuf->resv`, `.keep_resv = true`), which ttm_bo_init_reserved() asserts,
 * so an import waits for whoever holds the exporter's reservation.
 *
 * When vmw_bo_create() fails the kernel returns `gem`, still NULL (`goto out_no_bo`), not an
 * ERR_PTR, and drm_gem_prime_import_dev() checks only IS_ERR(obj) before storing
 * `obj->import_attach = attach`: a NULL pointer dereference, an oops (the known window
 * `vmwgfx.import-sg-table-null`, as v6.12.19 and v6.18.35 have it). The core is
 * @primetime/gem's, whose callback returns `GemObject | Errno`, so the oops is reported here,
 * after the unlock, as the callback returns: nothing runs between that return and the core's
 * store (no scheduling point), so the task dies at the same step. With the window's fix switch
 * the errno is returned (the proposed ERR_PTR(ret)) and the core unmaps, detaches and drops the
 * dma-buf.
 * Locking: object_name_lock held by the core's import; takes and releases the dma-buf's
 * reservation (non-interruptible, no acquire context).
 * References: returns a buffer with one GEM reference; the core records the attachment, which
 * the buffer's release gives back.
 */
export async function vmwPrimeImportSgTable(
  dev: DrmDevice,
  attach: DmaBufAttachment,
  sgt: SgTable,
): Promise<GemObject | Errno> {
  lockdepAssertHeld(dev.objectNameLock);
  const resv = attach.dmabuf.resv;
  await dmaResvLock(resv, null);
  const vbo = await vmwImportObjectCreate(dev, attach.dmabuf.size, sgt, resv);
  // out_no_bo:
  const dmaResvUnlockDone = dmaResvUnlock(resv);
  if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
  if (isErr(vbo) && !toggleEnabled(VMWGFX_IMPORT_SG_TABLE_NULL.name)) {
    // return gem; (NULL) -> drm_gem_prime_import_dev(): obj->import_attach = attach
    bug(
      "BUG: kernel NULL pointer dereference in drm_gem_prime_import_dev(): obj->import_attach = " +
        `attach on the NULL vmw_prime_import_sg_table() returned (vmw_bo_create() failed: ${vbo})`,
    );
  }
  return vbo;
}

/**
 * Models drm_gem_ttm_dumb_map_offset(), vmwgfx's ->dumb_map_offset: the buffer's fake mmap
 * offset (TTM gives every device and sg buffer one at creation, imports included, which the GEM
 * default refuses). -ENOENT for a bad handle.
 * Locking: table_lock (lookup). References: a lookup reference, dropped.
 */
export async function vmwDumbMapOffset(
  file: DrmFile,
  _dev: DrmDevice,
  handle: number,
): Promise<number> {
  const gem = await drmGemObjectLookup(file, handle);
  if (!gem) return -ENOENT;
  const offset = drmVmaNodeOffsetAddr(gem.vmaNode);
  const drmGemObjectPutDone3 = drmGemObjectPut(gem);
  if (drmGemObjectPutDone3 !== RESOLVED) await drmGemObjectPutDone3;
  return offset;
}
