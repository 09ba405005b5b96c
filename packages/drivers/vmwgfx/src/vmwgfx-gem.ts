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

import type { DmaBufAttachment, SgTable } from "@primetime/dma-buf";
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
import { point, toggleEnabled } from "@primetime/sim";
import { VMWGFX_HANDLE_REF_DROPPED_TOO_SOON } from "./toggles.js";
import { type VmwBo, vmwGemObjectCreate, vmwImportObjectCreate } from "./vmwgfx-bo.js";
import type { DrmVmwAllocBoArg } from "./vmwgfx-uapi.js";

/**
 * Models vmw_gem_object_create_with_handle(): a buffer of `size` bytes and a GEM handle for it
 * in `file`. Returns the buffer, still holding the creation reference (the caller drops it when
 * done with the buffer: a950b989ea29), and the handle; or a negative errno (nothing left).
 * With the toggle, the creation reference is dropped here, right after the handle is created,
 * as before the fix: the returned buffer is then only as alive as the handle.
 * Locking: see drmGemHandleCreate(). References: the handle holds one; the caller one more.
 */
export async function vmwGemObjectCreateWithHandle(
  dev: DrmDevice,
  file: DrmFile,
  size: number,
): Promise<{ bo: VmwBo; handle: number } | Errno> {
  const bo = await vmwGemObjectCreate(dev, size);
  if (isErr(bo)) return bo;
  const handle = await drmGemHandleCreate(file, bo);
  if (handle < 0) {
    await drmGemObjectPut(bo);
    return handle as Errno;
  }
  // drop reference from allocate - handle holds it now (before the fix)
  if (toggleEnabled(VMWGFX_HANDLE_REF_DROPPED_TOO_SOON.name)) await drmGemObjectPut(bo);
  return { bo, handle };
}

/**
 * Models vmw_gem_object_create_ioctl() (DRM_VMW_ALLOC_BO): a buffer of `req.size` bytes and its
 * handle; the reply carries the handle, the mmap offset (map_handle) and the handle again as
 * cur_gmr_id. Then the creation reference is dropped (after the last use of the buffer).
 * -ENOSPC for a zero size (the 0-page mmap offset; no size check of its own), -ENOMEM.
 * Locking: none held. References: the handle keeps the buffer.
 */
export async function vmwGemObjectCreateIoctl(
  dev: DrmDevice,
  arg: DrmVmwAllocBoArg,
  file: DrmFile,
): Promise<number> {
  const r = await vmwGemObjectCreateWithHandle(dev, file, arg.size);
  if (isErr(r)) return r;
  const { bo, handle } = r;
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
 * obj->resv and the attachment).
 * Locking: object_name_lock held by the core's import.
 * References: returns a buffer with one GEM reference; the core records the attachment, which
 * the buffer's release gives back.
 */
export async function vmwPrimeImportSgTable(
  dev: DrmDevice,
  attach: DmaBufAttachment,
  sgt: SgTable,
): Promise<GemObject | Errno> {
  lockdepAssertHeld(dev.objectNameLock);
  return vmwImportObjectCreate(dev, attach.dmabuf.size, sgt);
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
  await drmGemObjectPut(gem);
  return offset;
}
