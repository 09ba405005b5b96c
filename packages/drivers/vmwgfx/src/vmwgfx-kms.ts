/**
 * vmwgfx's KMS framebuffers (drivers/gpu/drm/vmwgfx/vmwgfx_kms.c of Linux v6.12), the part
 * ADDFB2 reaches without a CRTC, plane or display unit: vmw_kms_init()'s mode_config (funcs and
 * size limits), vmw_kms_fb_create() (the ->fb_create), the lookup of a handle as "a buffer or a
 * surface" (struct vmw_user_object, vmw_user_object_lookup() of vmwgfx_resource.c), and the two
 * kinds of framebuffer with their destroy callbacks:
 *
 * - a surface framebuffer (struct vmw_framebuffer_surface) over a surface handle, or over a dumb
 *   buffer's GEM handle (the buffer's `dumb_surface`): it keeps the user object, so a reference
 *   on the buffer (GEM, vmw_user_bo_ref()) or on the surface's resource
 *   (vmw_surface_reference()); its drm_framebuffer has no `obj[]`, so drm_framebuffer_init()
 *   takes no GEM handle reference for it;
 * - a buffer framebuffer (struct vmw_framebuffer_bo) over any other buffer (ALLOC_BO): it keeps
 *   a vmw_bo_reference() (TTM in v6.12) and sets `obj[0]`, so drm_framebuffer_init() takes a GEM
 *   handle reference of it (f6bfc9afc751).
 *
 * Not modeled: display units (STDU/SOU/LDU: the device is a guest-backed one, whose display
 * unit is the screen target, so the legacy unit's -ENOSYS is never returned), CRTCs, planes
 * (drm_any_plane_has_format() is answered from the primary and cursor planes' format lists,
 * with the core's default LINEAR modifier), scanout, dirty/readback (both framebuffer kinds'
 * ->dirty is the core's drm_atomic_helper_dirtyfb(), which with no plane scanning out commits
 * an empty state), vmw_lookup_surface_for_buffer() (the surface of a non-dumb buffer: its resource lists
 * are not modeled, so such a buffer gives a buffer framebuffer), and the DRM_ERROR messages.
 */

import {
  type DrmDevice,
  type DrmFile,
  type DrmFormatInfo,
  DrmFramebuffer,
  type DrmFramebufferFuncs,
  type DrmModeConfigFuncs,
  type DrmModeFbCmd2,
  drmAtomicHelperCheck,
  drmAtomicHelperCommit,
  drmAtomicHelperDirtyfb,
  drmFramebufferCleanup,
  drmFramebufferInit,
  drmGemHandleCreate,
  drmHelperModeFillFbStruct,
} from "@primetime/gem";
import {
  EINVAL,
  ENOMEM,
  ENOSYS,
  type Errno,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
} from "@primetime/kernel";
import { bug, point, warnOn } from "@primetime/sim";
import type { TtmObjectFile } from "./ttm-object.js";
import {
  type VmwBo,
  vmwBoReference,
  vmwBoUnreference,
  vmwUserBoLookup,
  vmwUserBoRef,
  vmwUserBoUnref,
} from "./vmwgfx-bo.js";
import {
  vmwResourceReference,
  vmwResourceUnreference,
  vmwUserResourceLookupHandle,
} from "./vmwgfx-resource.js";
import { userSurfaceConverter, type VmwUserSurface } from "./vmwgfx-surface.js";

/** What the KMS code needs of the device (parts of struct vmw_private). */
export interface VmwKmsDevice {
  /** Models texture_max_width. */
  readonly textureMaxWidth: number;
  /** Models texture_max_height. */
  readonly textureMaxHeight: number;
  /** Models active_display_unit. */
  readonly activeDisplayUnit: VmwDisplayUnitType;
}

/** Models enum vmw_display_unit_type. */
export type VmwDisplayUnitType = "legacy" | "screen_object" | "screen_target";

/** Models fourcc_code() (drm_fourcc.h): four characters, little endian. */
function fourccCode(s: string): number {
  return (
    (s.charCodeAt(0) |
      (s.charCodeAt(1) << 8) |
      (s.charCodeAt(2) << 16) |
      (s.charCodeAt(3) << 24)) >>>
    0
  );
}

/** Models DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888, DRM_FORMAT_RGB565 (drm_fourcc.h). */
const DRM_FORMAT_XRGB8888 = fourccCode("XR24");
const DRM_FORMAT_ARGB8888 = fourccCode("AR24");
const DRM_FORMAT_RGB565 = fourccCode("RG16");
/** Models DRM_FORMAT_XRGB1555 (the core's format table here does not know it: ADDFB2 refuses it first). */
const DRM_FORMAT_XRGB1555 = fourccCode("XR15");
/** Models DRM_FORMAT_MOD_LINEAR. */
const DRM_FORMAT_MOD_LINEAR = 0;

/** Models vmw_primary_plane_formats[] (vmwgfx_kms.h). */
export const VMW_PRIMARY_PLANE_FORMATS: readonly number[] = [
  DRM_FORMAT_XRGB8888,
  DRM_FORMAT_ARGB8888,
  DRM_FORMAT_RGB565,
  DRM_FORMAT_XRGB1555,
];

/** Models vmw_cursor_plane_formats[] (vmwgfx_kms.h). */
export const VMW_CURSOR_PLANE_FORMATS: readonly number[] = [DRM_FORMAT_ARGB8888];

/**
 * Models drm_any_plane_has_format() on vmwgfx's planes (planes are not modeled): a format of the
 * primary or cursor planes, with the LINEAR modifier, the only one drm_universal_plane_init()
 * gives planes registered without a modifier list.
 * Locking: none. References: none.
 */
export function vmwAnyPlaneHasFormat(format: number, modifier: number): boolean {
  if (modifier !== DRM_FORMAT_MOD_LINEAR) return false;
  return VMW_PRIMARY_PLANE_FORMATS.includes(format) || VMW_CURSOR_PLANE_FORMATS.includes(format);
}

/**
 * Models struct vmw_user_object: a buffer or a surface, each holding a reference of the object.
 * Locking: none; owned by its holder. References: one on `buffer` (GEM) or on `surface`'s
 * resource.
 */
export interface VmwUserObject {
  /** Models buffer. */
  buffer: VmwBo | null;
  /** Models surface. */
  surface: VmwUserSurface | null;
}

/**
 * Models vmw_user_object_ref(): vmw_user_bo_ref() of the buffer, or vmw_surface_reference().
 * Locking: none; the caller holds a reference. References: takes one.
 */
export async function vmwUserObjectRef(uo: VmwUserObject): Promise<VmwUserObject> {
  if (uo.buffer) await vmwUserBoRef(uo.buffer);
  else if (uo.surface) await vmwResourceReference(uo.surface.res);
  return uo;
}

/**
 * Models vmw_user_object_unref(): vmw_user_bo_unref() of the buffer, or
 * vmw_surface_unreference(); the pointer is cleared.
 * Locking: none. References: drops one.
 */
export async function vmwUserObjectUnref(uo: VmwUserObject): Promise<void> {
  if (uo.buffer) {
    const bo = uo.buffer;
    uo.buffer = null;
    await vmwUserBoUnref(bo);
  } else if (uo.surface) {
    const srf = uo.surface;
    uo.surface = null;
    await vmwResourceUnreference(srf.res);
  }
}

/**
 * Models vmw_user_object_buffer(): the buffer, or the surface's guest memory buffer.
 * Locking: none. References: none taken.
 */
export function vmwUserObjectBuffer(uo: VmwUserObject): VmwBo | null {
  if (uo.buffer) return uo.buffer;
  if (uo.surface) return uo.surface.res.guestMemoryBo;
  return null;
}

/**
 * Models vmw_user_object_surface(): a buffer's `dumb_surface` (null for other buffers), or the
 * surface.
 * Locking: none. References: none taken.
 */
export function vmwUserObjectSurface(uo: VmwUserObject): VmwUserSurface | null {
  if (uo.buffer) return uo.buffer.dumbSurface as VmwUserSurface | null;
  return uo.surface;
}

/**
 * Models vmw_user_object_lookup() (vmwgfx_resource.c): `handle` as a surface handle of the file
 * (vmw_user_resource_lookup_handle() with user_surface_converter: a resource reference), else
 * as a GEM handle (vmw_user_bo_lookup(): a GEM reference, -ESRCH if there is none). For a buffer
 * that is not a dumb buffer the kernel then looks for the surface backed by it
 * (vmw_lookup_surface_for_buffer()), not modeled: the buffer is kept. A dumb buffer stays a
 * buffer whose vmwUserObjectSurface() is its dumb surface.
 * Locking: none held; takes the locks of the lookups.
 * References: one for the caller in `uo` on success.
 */
export async function vmwUserObjectLookup(
  file: DrmFile,
  tfile: TtmObjectFile,
  handle: number,
  uo: VmwUserObject,
): Promise<number> {
  warnOn(
    uo.surface !== null || uo.buffer !== null,
    "vmw_user_object_lookup: WARN_ON(uo->surface || uo->buffer)",
  );
  const res = await vmwUserResourceLookupHandle(tfile, handle, userSurfaceConverter);
  if (typeof res !== "number") {
    uo.surface = res.owner as VmwUserSurface;
    return 0;
  }
  uo.surface = null;
  const bo = await vmwUserBoLookup(file, handle);
  if (isErr(bo)) return bo;
  uo.buffer = bo;
  // !is_dumb: vmw_lookup_surface_for_buffer() would look for a surface backed by the buffer
  // (not modeled: none is found).
  return 0;
}

/** The slab caches of the two framebuffer kinds (kzalloc() in the kernel). */
export const vmwFramebufferSurfaceCache = new KmemCache("vmw_framebuffer_surface");
export const vmwFramebufferBoCache = new KmemCache("vmw_framebuffer_bo");

/**
 * Models struct vmw_framebuffer_surface (base.bo false).
 * Locking: set before drm_framebuffer_init(). References: `uo` holds one on its object.
 */
export class VmwFramebufferSurface extends DrmFramebuffer {
  /** Models uo. */
  readonly uo: VmwUserObject = { buffer: null, surface: null };
}

/**
 * Models struct vmw_framebuffer_bo (base.bo true).
 * Locking: set before drm_framebuffer_init(). References: `buffer` holds a vmw_bo_reference().
 */
export class VmwFramebufferBo extends DrmFramebuffer {
  /** Models buffer. */
  buffer: VmwBo | null = null;
}

/**
 * Models vmw_framebuffer_surface_destroy(): drm_framebuffer_cleanup(), then
 * vmw_user_object_unref() of the framebuffer's user object, then kfree().
 * Locking: none held. References: drops the framebuffer's on its buffer or surface.
 */
async function vmwFramebufferSurfaceDestroy(fb: DrmFramebuffer): Promise<void> {
  const vfbs = fb as VmwFramebufferSurface;
  await drmFramebufferCleanup(vfbs);
  await vmwUserObjectUnref(vfbs.uo);
  kfree(vfbs);
}

/**
 * Models vmw_framebuffer_surface_create_handle() of v6.12: a GEM handle of the surface's buffer
 * (vmw_user_object_buffer()), -EINVAL with a WARN if it has none.
 * Locking: none held; takes the handle creation's locks.
 * References: the new handle holds a handle count.
 */
async function vmwFramebufferSurfaceCreateHandle(
  fb: DrmFramebuffer,
  file: DrmFile,
): Promise<number> {
  const vfbs = fb as VmwFramebufferSurface;
  const bo = vmwUserObjectBuffer(vfbs.uo);
  if (warnOn(!bo, "vmw_framebuffer_surface_create_handle: no buffer")) return -EINVAL;
  return drmGemHandleCreate(file, bo!);
}

/** Models vmw_framebuffer_surface_funcs (->dirty: drm_atomic_helper_dirtyfb()). */
const vmwFramebufferSurfaceFuncs: DrmFramebufferFuncs = {
  createHandle: vmwFramebufferSurfaceCreateHandle,
  destroy: vmwFramebufferSurfaceDestroy,
  dirty: drmAtomicHelperDirtyfb,
};

/**
 * Models vmw_kms_new_framebuffer_surface(): -ENOSYS on the legacy display unit; -EINVAL for a
 * format or modifier no plane has, a surface not marked scanout, or one whose dimensions do not
 * fit the request (more than one mip level or size, smaller than the framebuffer, depth not 1);
 * else a framebuffer that copies the user object and takes its own reference of it
 * (vmw_user_object_ref()) before drm_framebuffer_init() (whose failure drops it again). No
 * `obj[]` is set.
 * Locking: none held; takes the locks of the calls.
 * References: returns the framebuffer with one reference; it holds one on the user object.
 */
async function vmwKmsNewFramebufferSurface(
  vmw: VmwKmsDevice,
  dev: DrmDevice,
  uo: VmwUserObject,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
): Promise<DrmFramebuffer | Errno> {
  // 3D is only supported on HWv8 and newer hosts
  if (vmw.activeDisplayUnit === "legacy") return -ENOSYS as Errno;
  const surface = vmwUserObjectSurface(uo)!;
  // Sanity checks.
  if (!vmwAnyPlaneHasFormat(cmd.pixel_format, cmd.modifier[0]!)) return -EINVAL as Errno;
  await point(`vmw_kms_new_framebuffer_surface(${surface.name}): metadata`);
  surface.checkAccess("vmw_kms_new_framebuffer_surface");
  const m = surface.metadata;
  // Surface must be marked as a scanout.
  if (!m.scanout) return -EINVAL as Errno;
  if (
    m.mipLevels !== 1 ||
    m.numSizes !== 1 ||
    m.width < cmd.width ||
    m.height < cmd.height ||
    m.depth !== 1
  )
    return -EINVAL as Errno; // Incompatible surface dimensions for requested mode.
  const vfbs = kmalloc(vmwFramebufferSurfaceCache, () => new VmwFramebufferSurface());
  if (isErr(vfbs)) return -ENOMEM as Errno;
  drmHelperModeFillFbStruct(dev, vfbs, info, cmd);
  vfbs.uo.buffer = uo.buffer;
  vfbs.uo.surface = uo.surface;
  await vmwUserObjectRef(vfbs.uo);
  const ret = await drmFramebufferInit(dev, vfbs, vmwFramebufferSurfaceFuncs);
  if (ret) {
    await vmwUserObjectUnref(vfbs.uo);
    kfree(vfbs);
    return ret as Errno;
  }
  return vfbs;
}

/**
 * Models vmw_framebuffer_bo_destroy() of v6.12: drm_framebuffer_cleanup(), then
 * vmw_bo_unreference() of the buffer (TTM), then kfree().
 * Locking: none held. References: drops the framebuffer's TTM reference of its buffer.
 */
async function vmwFramebufferBoDestroy(fb: DrmFramebuffer): Promise<void> {
  const vfbd = fb as VmwFramebufferBo;
  await drmFramebufferCleanup(vfbd);
  const bo = vfbd.buffer;
  vfbd.buffer = null;
  if (bo) await vmwBoUnreference(bo);
  kfree(vfbd);
}

/**
 * Models vmw_framebuffer_bo_create_handle() of v6.12: a GEM handle of the framebuffer's buffer.
 * Locking: none held; takes the handle creation's locks.
 * References: the new handle holds a handle count.
 */
function vmwFramebufferBoCreateHandle(fb: DrmFramebuffer, file: DrmFile): Promise<number> {
  const vfbd = fb as VmwFramebufferBo;
  return drmGemHandleCreate(file, vfbd.buffer!);
}

/** Models vmw_framebuffer_bo_funcs (->dirty: drm_atomic_helper_dirtyfb()). */
const vmwFramebufferBoFuncs: DrmFramebufferFuncs = {
  dirty: drmAtomicHelperDirtyfb,
  destroy: vmwFramebufferBoDestroy,
  createHandle: vmwFramebufferBoCreateHandle,
};

/**
 * Models vmw_kms_new_framebuffer_bo() of v6.12: -EINVAL if height * pitches[0] exceeds the
 * buffer's size ("Screen buffer object size is too small for requested mode"), then -EINVAL for
 * a format or modifier no plane has; else a framebuffer with `obj[0]` = the buffer's GEM object
 * and its own vmw_bo_reference() (TTM in v6.12), then drm_framebuffer_init() (which takes a GEM
 * handle reference of `obj[0]`; on its failure the reference is dropped again).
 * Locking: none held; takes the locks of the calls.
 * References: returns the framebuffer with one reference; it holds a TTM one on the buffer.
 */
async function vmwKmsNewFramebufferBo(
  dev: DrmDevice,
  bo: VmwBo,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
): Promise<DrmFramebuffer | Errno> {
  // unsigned int: framebuffer_check() bounded height * pitches[0] by U32_MAX.
  const requestedSize = cmd.height * cmd.pitches[0]!;
  await point(`vmw_kms_new_framebuffer_bo(${bo.name}): size`);
  bo.checkAccess("vmw_kms_new_framebuffer_bo");
  if (requestedSize > bo.size) return -EINVAL as Errno; // Screen buffer object size is too small
  if (!vmwAnyPlaneHasFormat(cmd.pixel_format, cmd.modifier[0]!)) return -EINVAL as Errno;
  const vfbd = kmalloc(vmwFramebufferBoCache, () => new VmwFramebufferBo());
  if (isErr(vfbd)) return -ENOMEM as Errno;
  vfbd.obj[0] = bo;
  drmHelperModeFillFbStruct(dev, vfbd, info, cmd);
  vfbd.buffer = await vmwBoReference(bo);
  const ret = await drmFramebufferInit(dev, vfbd, vmwFramebufferBoFuncs);
  if (ret) {
    await vmwBoUnreference(bo);
    kfree(vfbd);
    return ret as Errno;
  }
  return vfbd;
}

/**
 * Models vmw_kms_srf_ok(): a surface framebuffer is at most texture_max_width x
 * texture_max_height.
 * Locking: none. References: none.
 */
export function vmwKmsSrfOk(vmw: VmwKmsDevice, width: number, height: number): boolean {
  if (width > vmw.textureMaxWidth || height > vmw.textureMaxHeight) return false;
  return true;
}

/**
 * Models vmw_kms_new_framebuffer(): a surface framebuffer if the user object has a surface
 * (a surface handle, or a dumb buffer's dumb_surface), else a buffer framebuffer; BUG() if it
 * has neither.
 * Locking: none held. References: returns the framebuffer with one reference; the caller's
 * reference of the user object is left to it.
 */
export async function vmwKmsNewFramebuffer(
  vmw: VmwKmsDevice,
  dev: DrmDevice,
  uo: VmwUserObject,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
): Promise<DrmFramebuffer | Errno> {
  // Create the new framebuffer depending one what we have
  if (vmwUserObjectSurface(uo)) return vmwKmsNewFramebufferSurface(vmw, dev, uo, info, cmd);
  if (uo.buffer) return vmwKmsNewFramebufferBo(dev, uo.buffer, info, cmd);
  bug("kernel BUG at vmw_kms_new_framebuffer: a user object with neither buffer nor surface");
  return -EINVAL as Errno;
}

/**
 * Models vmw_kms_fb_create() of v6.12, vmwgfx's ->fb_create: vmw_user_object_lookup() of
 * handles[0] (its errno: -ESRCH for a handle that is neither a surface nor a GEM handle of the
 * file), -EINVAL for a surface framebuffer larger than the texture limits (vmw_kms_srf_ok()),
 * then vmw_kms_new_framebuffer(); the lookup's reference is dropped on every path ("takes one
 * ref so does new_fb").
 * Locking: none held; takes the locks of the calls.
 * References: returns the framebuffer with one reference (the caller's).
 */
export async function vmwKmsFbCreate(
  dev: DrmDevice,
  file: DrmFile,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
): Promise<DrmFramebuffer | Errno> {
  const vmw = dev.driverPrivate as VmwKmsDevice;
  const tfile = vmwFileTfile(file);
  const uo: VmwUserObject = { buffer: null, surface: null };
  let vfb: DrmFramebuffer | Errno = -EINVAL as Errno;
  // returns either a bo or surface
  let ret = await vmwUserObjectLookup(file, tfile, cmd.handles[0]!, uo);
  if (ret === 0) {
    if (vmwUserObjectSurface(uo) && !vmwKmsSrfOk(vmw, cmd.width, cmd.height)) {
      ret = -EINVAL; // Surface size cannot exceed texture_max_width x texture_max_height
    } else {
      vfb = await vmwKmsNewFramebuffer(vmw, dev, uo, info, cmd);
      if (isErr(vfb)) ret = vfb;
    }
  }
  // err_out: vmw_user_object_lookup takes one ref so does new_fb
  await vmwUserObjectUnref(uo);
  if (ret) return ret as Errno; // failed to create vmw_framebuffer
  return vfb;
}

/** vmw_fpriv(file)->tfile (the driver's per-file private data, set at open). */
function vmwFileTfile(file: DrmFile): TtmObjectFile {
  return (file.driverPriv as { tfile: TtmObjectFile }).tfile;
}

/**
 * Models vmw_kms_funcs: ->atomic_check is vmw_kms_atomic_check_modeset() reduced to
 * drm_atomic_helper_check() (the topology and implicit-placement checks are not modeled),
 * ->atomic_commit drm_atomic_helper_commit(). Only a device with display units
 * (VmwgfxOptions.displayUnits) commits states that reach them.
 */
export const vmwKmsFuncs: DrmModeConfigFuncs = {
  fbCreate: vmwKmsFbCreate,
  atomicCheck: drmAtomicHelperCheck,
  atomicCommit: drmAtomicHelperCommit,
};

/**
 * Models vmw_kms_init(), the mode_config part: vmw_kms_funcs, sizes from 1 to the texture
 * limits (display units, properties and the implicit placement are not modeled).
 * Locking: none; the device is not registered yet. References: none.
 */
export function vmwKmsInit(vmw: VmwKmsDevice, dev: DrmDevice): void {
  const config = dev.modeConfig;
  config.funcs = vmwKmsFuncs;
  config.minWidth = 1;
  config.minHeight = 1;
  config.maxWidth = vmw.textureMaxWidth;
  config.maxHeight = vmw.textureMaxHeight;
}
