/**
 * qxl's mode setting (drivers/gpu/drm/qxl/qxl_display.c of Linux v6.18), the part userspace's
 * framebuffers reach: qxl_modeset_init()'s mode_config (its limits and funcs) and
 * qxl_user_framebuffer_create(), the ->fb_create of ADDFB2, which builds a GEM framebuffer with
 * the core's helpers (drm_gem_fb_create_with_funcs()). CRTCs, planes, the primary surface,
 * cursor and monitors config are not modeled.
 */

import {
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
} from "@primetime/gem";
import type { Errno } from "@primetime/kernel";

/** Models qxl_fb_funcs (its ->dirty is not modeled). */
const qxlFbFuncs: DrmFramebufferFuncs = {
  destroy: drmGemFbDestroy,
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
