/**
 * include/uapi/drm/drm_mode.h, the parts in use: the dumb-buffer structs of
 * DRM_IOCTL_MODE_CREATE_DUMB, MAP_DUMB and DESTROY_DUMB (their ioctl numbers are in drm.ts, as in
 * drm.h).
 */

import type { DrmStructLayout } from "./drm.js";

/** struct drm_mode_create_dumb: in `height`, `width`, `bpp`, `flags`; out `handle`, `pitch`, `size`. */
export interface DrmModeCreateDumb {
  height: number;
  width: number;
  bpp: number;
  flags: number;
  handle: number;
  pitch: number;
  size: number;
}
export const DRM_MODE_CREATE_DUMB_LAYOUT: DrmStructLayout = [
  ["height", "u32"],
  ["width", "u32"],
  ["bpp", "u32"],
  ["flags", "u32"],
  ["handle", "u32"],
  ["pitch", "u32"],
  ["size", "u64"],
];

/** struct drm_mode_map_dumb: in `handle`, out `offset` (the fake offset to pass to mmap). */
export interface DrmModeMapDumb {
  handle: number;
  pad: number;
  offset: number;
}
export const DRM_MODE_MAP_DUMB_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["pad", "u32"],
  ["offset", "u64"],
];

/** struct drm_mode_destroy_dumb. */
export interface DrmModeDestroyDumb {
  handle: number;
}
export const DRM_MODE_DESTROY_DUMB_LAYOUT: DrmStructLayout = [["handle", "u32"]];
