/**
 * qxl's GEM side (drivers/gpu/drm/qxl/qxl_gem.c, qxl_dumb.c, Linux v6.18): the object's free,
 * creation with a handle, dumb buffers and their mmap offset.
 */

import {
  type DrmDevice,
  type DrmFile,
  type DrmGemObjectFuncs,
  type DrmModeCreateDumb,
  drmGemHandleCreate,
  drmGemObjectFuncs,
  drmGemObjectLookup,
  drmGemObjectPut,
  drmVmaNodeOffsetAddr,
  type GemObject,
} from "@primetime/gem";
import { EINVAL, ENOENT, ENOMEM, type Errno, isErr, PAGE_SIZE } from "@primetime/kernel";
import { opLabel, pointNow, RESOLVED, toggleEnabled } from "@primetime/sim";
import { ttmBoPut } from "@primetime/ttm";
import { qxlSurfaceEvict } from "./qxl-cmd.js";
import { type QxlDevice, toQxl } from "./qxl-device.js";
import { QXL_GEM_DOMAIN_CPU } from "./qxl-drm-uapi.js";
import {
  type QxlBo,
  type QxlSurface,
  qxlBoAccess,
  qxlBoCreate,
  qxlBoUnref,
  toQxlBo,
} from "./qxl-object.js";
import {
  qxlGemPrimeGetSgTable,
  qxlGemPrimeMmap,
  qxlGemPrimePin,
  qxlGemPrimeUnpin,
} from "./qxl-prime.js";
import { QXL_DUAL_REFCOUNT, QXL_HANDLE_CREATE_LEAK, QXL_HANDLE_CREATE_UAF } from "./toggles.js";

/** Models SPICE_SURFACE_FMT_16_565. */
export const SPICE_SURFACE_FMT_16_565 = 80;
/** Models SPICE_SURFACE_FMT_32_xRGB. */
export const SPICE_SURFACE_FMT_32_xRGB = 32;

/**
 * Models qxl_gem_object_free(): the GEM count hit zero. Evicts the surface first, while the
 * object is still fully valid (this clears the surface idr's unowned pointer), then drops the
 * TTM reference the GEM object held.
 * With `qxl.dual-refcount` (before v4.2): qxl_bo_unref(), i.e. only the TTM put; the surface
 * stays in the idr until qxl_ttm_bo_destroy().
 * Locking: none held; takes surf_evict_mutex. References: drops the TTM one.
 */
export async function qxlGemObjectFree(gobj: GemObject): Promise<void> {
  const qobj = toQxlBo(gobj);
  const atPoint = pointNow(opLabel("qxl_gem_object_free", qobj.name));
  if (atPoint !== null) await atPoint;
  if (toggleEnabled(QXL_DUAL_REFCOUNT.name)) {
    const qxlBoUnrefDone = qxlBoUnref(qobj);
    if (qxlBoUnrefDone !== RESOLVED) await qxlBoUnrefDone;
    return;
  }
  const qdev = toQxl(gobj.dev);
  await qxlSurfaceEvict(qdev, qobj, false);
  const ttmBoPutDone = ttmBoPut(qobj);
  if (ttmBoPutDone !== RESOLVED) await ttmBoPutDone;
}

/** Models qxl_gem_object_open(): nothing to do. */
async function qxlGemObjectOpen(_obj: GemObject, _file: DrmFile): Promise<number> {
  return 0;
}

/** Models qxl_gem_object_close(): nothing to do. */
async function qxlGemObjectClose(_obj: GemObject, _file: DrmFile): Promise<void> {}

/**
 * Models qxl_object_funcs: free, open/close, PRIME pin/unpin/get_sg_table, mmap through TTM.
 * (vmap/vunmap are qxlBoVmap()/qxlBoVunmap().)
 */
export const qxlObjectFuncs: DrmGemObjectFuncs = drmGemObjectFuncs({
  free: qxlGemObjectFree,
  open: qxlGemObjectOpen,
  close: qxlGemObjectClose,
  pin: qxlGemPrimePin,
  unpin: qxlGemPrimeUnpin,
  getSgTable: qxlGemPrimeGetSgTable,
  mmap: qxlGemPrimeMmap,
});

/**
 * Models qxl_gem_object_create(): a buffer object on the device's object list.
 * Locking: takes gem.mutex. References: the caller owns the GEM reference.
 */
export async function qxlGemObjectCreate(
  qdev: QxlDevice,
  size: number,
  initialDomain: number,
  kernel: boolean,
  surf: QxlSurface | null,
): Promise<QxlBo | Errno> {
  const qbo = await qxlBoCreate(qdev, size, kernel, false, initialDomain, 0, surf);
  if (isErr(qbo)) return qbo;
  const gemMutexTaken = qdev.gemMutex.lock();
  if (gemMutexTaken !== RESOLVED) await gemMutexTaken;
  qdev.gemObjects.add(qbo);
  qdev.gemMutex.unlockNow();
  return qbo;
}

/**
 * Models qxl_gem_object_create_with_handle(): an object and a handle to it in `file`. With
 * `wantObj` the caller gets the object back WITH the creation reference (it must put it);
 * otherwise the reference is dropped here and the handle holds the object. Returns the handle or
 * a negative errno (-ENOMEM for any creation failure, as the kernel).
 *
 * Mainline returns the handle creation's error without dropping the creation reference: the
 * object leaks until unload (modeled as is; known window `qxl.handle-create-leak`, whose fix
 * switch drops the reference first; qxl-failnth.test.ts shows both).
 *
 * With `qxl.handle-create-uaf` (before v6.5) the reference is always dropped and the caller gets
 * a bare pointer, which a racing GEM_CLOSE of the guessed handle can free.
 * Locking: none held. References: see above.
 */
export async function qxlGemObjectCreateWithHandle(
  qdev: QxlDevice,
  file: DrmFile,
  domain: number,
  size: number,
  surf: QxlSurface | null,
  wantObj: boolean,
): Promise<{ handle: number; obj: QxlBo | null } | Errno> {
  const localGobj = await qxlGemObjectCreate(qdev, size, domain, false, surf);
  if (isErr(localGobj)) return -ENOMEM as Errno;
  const r = await drmGemHandleCreate(file, localGobj);
  if (r < 0) {
    if (toggleEnabled(QXL_HANDLE_CREATE_LEAK.name)) await drmGemObjectPut(localGobj);
    return r as Errno;
  }
  if (toggleEnabled(QXL_HANDLE_CREATE_UAF.name)) {
    // drop reference from allocate - handle holds it now
    const drmGemObjectPutDone = drmGemObjectPut(localGobj);
    if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
    return { handle: r, obj: wantObj ? localGobj : null };
  }
  if (wantObj) return { handle: r, obj: localGobj };
  // drop reference from allocate - handle holds it now
  const drmGemObjectPutDone2 = drmGemObjectPut(localGobj);
  if (drmGemObjectPutDone2 !== RESOLVED) await drmGemObjectPutDone2;
  return { handle: r, obj: null };
}

/**
 * Models qxl_mode_dumb_create(): pitch = width * ((bpp + 1) / 8), a CPU-domain object with a
 * surface description, marked is_dumb, and its handle. The pitch and `pitch * height` are u32 in
 * the kernel (then ALIGN() on the u64 size), but through MODE_CREATE_DUMB nothing wraps:
 * drm_mode_create_dumb() bounds width * cpp and height * stride by U32_MAX, and (bpp + 1) / 8 is at
 * most cpp. No size check of its own: a zero size (a direct call only) fails in the buffer's
 * creation (its 0-page mmap offset is -ENOSPC) and qxl_gem_object_create_with_handle() makes any
 * creation failure -ENOMEM.
 * Locking: none held. References: the handle holds the object.
 */
export async function qxlModeDumbCreate(
  file: DrmFile,
  dev: DrmDevice,
  args: DrmModeCreateDumb,
): Promise<number> {
  const qdev = toQxl(dev);
  const pitch = args.width * Math.floor((args.bpp + 1) / 8);
  let size = pitch * args.height;
  size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  let format: number;
  switch (args.bpp) {
    case 16:
      format = SPICE_SURFACE_FMT_16_565;
      break;
    case 32:
      format = SPICE_SURFACE_FMT_32_xRGB;
      break;
    default:
      return -EINVAL;
  }
  const surf: QxlSurface = {
    width: args.width,
    height: args.height,
    stride: pitch,
    format,
    data: 0,
  };
  const r = await qxlGemObjectCreateWithHandle(qdev, file, QXL_GEM_DOMAIN_CPU, size, surf, true);
  if (isErr(r)) return r;
  const qobj = r.obj!;
  const atPoint = pointNow("qxl_mode_dumb_create: qobj->is_dumb = true");
  if (atPoint !== null) await atPoint;
  qxlBoAccess(qobj, "qxl_mode_dumb_create: qobj->is_dumb");
  qobj.isDumb = true;
  if (!toggleEnabled(QXL_HANDLE_CREATE_UAF.name)) await drmGemObjectPut(qobj);
  args.size = size;
  args.pitch = pitch;
  args.handle = r.handle;
  return 0;
}

/**
 * Models drm_gem_ttm_dumb_map_offset(), qxl's ->dumb_map_offset and what QXL_MAP calls (v6.18;
 * qxl_mode_dumb_mmap() in older kernels): the object's fake mmap offset. -ENOENT for an unknown
 * handle. The import check is the model's (imports are a model extension: see the README).
 * Locking: none. References: a temporary lookup reference.
 */
export async function qxlModeDumbMmap(
  file: DrmFile,
  _dev: DrmDevice,
  handle: number,
): Promise<number> {
  const gobj = await drmGemObjectLookup(file, handle);
  if (gobj === null) return -ENOENT;
  // Don't allow imported objects to be mapped (drm_gem_dumb_map_offset())
  if (gobj.importAttach) {
    const drmGemObjectPutDone3 = drmGemObjectPut(gobj);
    if (drmGemObjectPutDone3 !== RESOLVED) await drmGemObjectPutDone3;
    return -EINVAL;
  }
  const offset = drmVmaNodeOffsetAddr(gobj.vmaNode);
  const drmGemObjectPutDone4 = drmGemObjectPut(gobj);
  if (drmGemObjectPutDone4 !== RESOLVED) await drmGemObjectPutDone4;
  return offset;
}
