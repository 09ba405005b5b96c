/**
 * qxl's mode setting (drivers/gpu/drm/qxl/qxl_display.c of Linux v6.18), the part userspace's
 * framebuffers reach: qxl_modeset_init()'s mode_config (its limits and funcs) and
 * qxl_user_framebuffer_create(), the ->fb_create of ADDFB2, which builds a GEM framebuffer with
 * the core's helpers (drm_gem_fb_create_with_funcs()), and qxl_framebuffer_surface_dirty(), the
 * ->dirty of DIRTYFB (the same in v6.12.19 and v6.18.35). CRTCs, planes, the primary surface
 * (so `is_primary` and the dumb buffers' `shadow`, which the primary plane's atomic update and
 * prepare_fb set), qxl_draw_dirty_fb() (qxl_draw.c), cursor and monitors config are not
 * modeled.
 */

import {
  type DrmClipRect,
  type DrmDevice,
  type DrmFile,
  type DrmFormatInfo,
  type DrmFramebuffer,
  type DrmFramebufferFuncs,
  type DrmModeConfigFuncs,
  type DrmModeFbCmd2,
  drmGemFbCreateHandle,
  drmGemFbCreateWithFuncs,
  drmGemFbDestroy,
  drmModesetLockAllBegin,
  drmModesetLockAllEnd,
} from "@primetime/gem";
import type { Errno } from "@primetime/kernel";
import { point } from "@primetime/sim";
import { toQxlBo } from "./qxl-object.js";

/**
 * Models qxl_framebuffer_surface_dirty(): under DRM_MODESET_LOCK_ALL_BEGIN() (connection_mutex,
 * the model's one modeset lock), plane 0's bo's `is_primary` (its shadow's if it has one) says
 * whether the framebuffer is the primary surface; if not, the call does nothing. Only the
 * primary surface reaches qxl_draw_dirty_fb() (a release, the bo reserved with its clips bo, a
 * draw command), and nothing in the model makes a bo primary (no plane, no shadow), so every
 * call takes the early exit: the lock, a KASAN-checked read of the bo the framebuffer holds, and
 * 0. It returns 0 whatever happens, as the kernel does (the lock macro's `ret` is dropped).
 * Locking: takes connection_mutex.
 * References: the caller's lookup reference of `fb`, whose `obj[0]` reference keeps the bo.
 */
export async function qxlFramebufferSurfaceDirty(
  fb: DrmFramebuffer,
  _file: DrmFile | null,
  _flags: number,
  _color: number,
  _clips: readonly DrmClipRect[] | null,
  _numClips: number,
): Promise<number> {
  const dev = fb.dev;
  const ret = await drmModesetLockAllBegin(dev);
  const qobj = toQxlBo(fb.obj[0]);
  await point(`qxl_framebuffer_surface_dirty(${qobj.name}): is_primary`);
  qobj.checkAccess("qxl_framebuffer_surface_dirty");
  // if we aren't primary surface ignore this (no shadow: the primary plane is not modeled)
  const isPrimary = qobj.isPrimary;
  if (isPrimary) {
    // qxl_draw_dirty_fb(): unreachable, nothing makes a bo the primary surface.
    await point(`qxl_draw_dirty_fb(${qobj.name}): not modeled`);
  }
  await drmModesetLockAllEnd(dev, ret);
  return 0;
}

/** Models qxl_fb_funcs. */
const qxlFbFuncs: DrmFramebufferFuncs = {
  destroy: drmGemFbDestroy,
  dirty: qxlFramebufferSurfaceDirty,
  createHandle: drmGemFbCreateHandle,
};

/**
 * Models qxl_user_framebuffer_create(): drm_gem_fb_create_with_funcs() with qxl_fb_funcs.
 * Locking: none held.
 * References: returns the framebuffer with one reference; it holds one per plane's object.
 */
export function qxlUserFramebufferCreate(
  dev: DrmDevice,
  file: DrmFile,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
): Promise<DrmFramebuffer | Errno> {
  return drmGemFbCreateWithFuncs(dev, file, info, cmd, qxlFbFuncs);
}

/** Models qxl_mode_funcs. */
const qxlModeFuncs: DrmModeConfigFuncs = { fbCreate: qxlUserFramebufferCreate };

/**
 * Models qxl_modeset_init(), the mode_config part: funcs and sizes from 0 to 8192 (CRTCs,
 * outputs and the monitors object are not modeled).
 * Locking: none; the device is not registered yet.
 * References: none.
 */
export function qxlModesetInit(dev: DrmDevice): void {
  const config = dev.modeConfig;
  config.funcs = qxlModeFuncs;
  // modes will be validated against the framebuffer size
  config.minWidth = 0;
  config.minHeight = 0;
  config.maxWidth = 8192;
  config.maxHeight = 8192;
}
