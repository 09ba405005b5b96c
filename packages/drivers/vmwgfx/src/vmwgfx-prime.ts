/**
 * vmwgfx PRIME (drivers/gpu/drm/vmwgfx/vmwgfx_prime.c): the driver's two kinds of handles share
 * the PRIME ioctls. Surface handles (above VMWGFX_NUM_MOB) export through ttm prime, buffer
 * handles (1..VMWGFX_NUM_MOB) through the DRM core's GEM PRIME; an import tries ttm prime first
 * (a surface's dma-buf, giving the surface handle) and falls back to GEM PRIME (a buffer's
 * dma-buf, or another driver's, imported as a buffer object through ->gem_prime_import_sg_table).
 *
 * Surface dma-bufs cannot be attached by other devices: their attach and map callbacks return
 * -ENOSYS ("No need to implement these until we have other virtual devices use them").
 *
 * Faithfulness: Linux v6.12 (the GEM fallback and the routing by handle range came with "drm/
 * vmwgfx: Fix prime import/export", 2024; before it every PRIME ioctl went to ttm prime).
 */

import type { DmaBufAttachment, SgTable } from "@primetime/dma-buf";
import {
  type DrmDevice,
  type DrmFile,
  drmGemPrimeFdToHandle,
  drmGemPrimeHandleToFd,
} from "@primetime/gem";
import { ENOSYS, type Errno, errPtr, isErr } from "@primetime/kernel";
import type { TtmDriverDmaBufOps, TtmObjectFile } from "./ttm-object.js";
import { VMWGFX_NUM_MOB } from "./ttm-object.js";
import { ttmPrimeFdToHandle, ttmPrimeHandleToFd } from "./ttm-prime-object.js";
import { vmwUserBoLookup, vmwUserBoUnref } from "./vmwgfx-bo.js";

/** Models vmw_prime_map_attach(): surfaces cannot be attached by another device. */
function vmwPrimeMapAttach(): number {
  return -ENOSYS;
}

/** Models vmw_prime_map_dma_buf(). */
function vmwPrimeMapDmaBuf(_attach: DmaBufAttachment): SgTable | Errno {
  return errPtr(ENOSYS);
}

/**
 * Models vmw_prime_dmabuf_ops: attach and map refuse (-ENOSYS), detach and unmap do nothing,
 * ->release is NULL (ttm_object_device_init() installs ttm_prime_dmabuf_release()).
 */
export const vmwPrimeDmabufOps: TtmDriverDmaBufOps = {
  attach: vmwPrimeMapAttach,
  detach: () => {},
  mapDmaBuf: vmwPrimeMapDmaBuf,
  unmapDmaBuf: () => {},
  release: null,
};

/** Models vmw_fpriv(file_priv)->tfile. */
export type TfileOf = (file: DrmFile) => TtmObjectFile;

/**
 * Models vmw_prime_fd_to_handle(), the driver's ->prime_fd_to_handle: ttm prime first; on any
 * error, GEM PRIME (which imports foreign dma-bufs as buffer objects).
 * Locking: see ttmPrimeFdToHandle(), drmGemPrimeFdToHandle().
 * References: see those. Returns the handle or a negative errno.
 */
export async function vmwPrimeFdToHandle(
  dev: DrmDevice,
  file: DrmFile,
  fd: number,
  tfile: TtmObjectFile,
): Promise<number> {
  const ret = await ttmPrimeFdToHandle(tfile, fd);
  if (ret >= 0) return ret;
  return drmGemPrimeFdToHandle(dev, file, fd);
}

/**
 * Models vmw_prime_handle_to_fd(), the driver's ->prime_handle_to_fd (v6.12.19, the same in
 * v6.18.35): a handle above VMWGFX_NUM_MOB is a surface (ttm prime); any other is first looked
 * up as a buffer with vmw_user_bo_lookup() (a GEM reference; -ESRCH for a handle the file does
 * not have, before GEM PRIME is asked), exported through GEM PRIME (which looks the handle up
 * again: -ENOENT if it was closed meanwhile), and the lookup's reference dropped
 * (vmw_user_bo_unref()) after the export. A buffer that is not a dumb buffer would first be
 * offered to vmw_lookup_surface_handle_for_buffer() (its surface's ttm prime export if it backs
 * one): not modeled, it finds no surface here, so every buffer goes to GEM PRIME.
 * Locking: see ttmPrimeHandleToFd(), vmwUserBoLookup(), drmGemPrimeHandleToFd().
 * References: the new fd owns a dma-buf reference; the lookup's GEM reference is held across the
 * export. Returns the fd or a negative errno.
 */
export async function vmwPrimeHandleToFd(
  dev: DrmDevice,
  file: DrmFile,
  handle: number,
  flags: number,
  tfile: TtmObjectFile,
): Promise<number> {
  if (handle > VMWGFX_NUM_MOB) return ttmPrimeHandleToFd(tfile, handle, flags);
  const vbo = await vmwUserBoLookup(file, handle);
  if (isErr(vbo)) return vbo;
  // vbo->is_dumb, or no surface for the buffer (vmw_lookup_surface_handle_for_buffer()): GEM PRIME.
  const ret = await drmGemPrimeHandleToFd(dev, file, handle, flags);
  await vmwUserBoUnref(vbo);
  return ret;
}
