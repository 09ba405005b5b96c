/**
 * Pixel format descriptions (drivers/gpu/drm/drm_fourcc.c, include/drm/drm_fourcc.h): the
 * `struct drm_format_info` of the formats the model knows, and the helpers framebuffer creation
 * uses to size planes, and legacy ADDFB's bpp/depth translation (drm_mode_legacy_fb_format(),
 * drm_driver_legacy_fb_format()). Every format legacy ADDFB can name is listed; blocks are one
 * pixel except C1, C2 and C4's (eight, four and two pixels a byte: `blockW`), so
 * `char_per_block` is `cpp` and block_h is 1. drm_mode_legacy_fb_format() and
 * drm_driver_legacy_fb_format() read the same in v6.12.19 and v6.18.35.
 */

import {
  DRM_FORMAT_ARGB8888,
  DRM_FORMAT_C1,
  DRM_FORMAT_C2,
  DRM_FORMAT_C4,
  DRM_FORMAT_C8,
  DRM_FORMAT_INVALID,
  DRM_FORMAT_NV12,
  DRM_FORMAT_RGB565,
  DRM_FORMAT_RGB888,
  DRM_FORMAT_XBGR8888,
  DRM_FORMAT_XBGR2101010,
  DRM_FORMAT_XRGB1555,
  DRM_FORMAT_XRGB8888,
  DRM_FORMAT_XRGB2101010,
} from "@primetime/uapi";
import type { DrmDevice } from "./drm-device.js";

/** Models struct drm_format_info (the fields in use). */
export interface DrmFormatInfo {
  /** Models format: the fourcc code. */
  readonly format: number;
  /** Models depth: the legacy color depth, 0 if none. */
  readonly depth: number;
  /** Models num_planes. */
  readonly numPlanes: number;
  /** Models cpp[] (char_per_block[]): bytes per pixel (per block) of each plane. */
  readonly cpp: readonly number[];
  /** Models block_w[0]: pixels per block of the (one) plane; absent for one-pixel blocks. */
  readonly blockW?: number;
  /** Models hsub: horizontal chroma subsampling factor. */
  readonly hsub: number;
  /** Models vsub: vertical chroma subsampling factor. */
  readonly vsub: number;
}

/** Models formats[] of __drm_format_info(): the formats of this model. */
const FORMATS: readonly DrmFormatInfo[] = [
  { format: DRM_FORMAT_C1, depth: 1, numPlanes: 1, cpp: [1], blockW: 8, hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_C2, depth: 2, numPlanes: 1, cpp: [1], blockW: 4, hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_C4, depth: 4, numPlanes: 1, cpp: [1], blockW: 2, hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_C8, depth: 8, numPlanes: 1, cpp: [1], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_XRGB1555, depth: 15, numPlanes: 1, cpp: [2], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_RGB565, depth: 16, numPlanes: 1, cpp: [2], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_RGB888, depth: 24, numPlanes: 1, cpp: [3], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_XRGB8888, depth: 24, numPlanes: 1, cpp: [4], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_XBGR8888, depth: 24, numPlanes: 1, cpp: [4], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_ARGB8888, depth: 32, numPlanes: 1, cpp: [4], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_XRGB2101010, depth: 30, numPlanes: 1, cpp: [4], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_XBGR2101010, depth: 30, numPlanes: 1, cpp: [4], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_NV12, depth: 0, numPlanes: 2, cpp: [1, 2], hsub: 2, vsub: 2 },
];

/**
 * Models __drm_format_info(): the description of fourcc `format`, or null if it is unknown.
 * Locking: none.
 * References: none.
 */
export function drmFormatInfo(format: number): DrmFormatInfo | null {
  return FORMATS.find((f) => f.format === format) ?? null;
}

/**
 * Models drm_format_info_plane_width(): the width of plane `plane` for a framebuffer `width`
 * wide (chroma planes are subsampled, rounded up).
 * Locking: none.
 * References: none.
 */
export function drmFormatInfoPlaneWidth(info: DrmFormatInfo, width: number, plane: number): number {
  if (plane >= info.numPlanes) return 0;
  return plane === 0 ? width : Math.ceil(width / info.hsub);
}

/**
 * Models drm_format_info_plane_height().
 * Locking: none.
 * References: none.
 */
export function drmFormatInfoPlaneHeight(
  info: DrmFormatInfo,
  height: number,
  plane: number,
): number {
  if (plane >= info.numPlanes) return 0;
  return plane === 0 ? height : Math.ceil(height / info.vsub);
}

/**
 * Models drm_format_info_block_width() (block_h is 1 for every format of the model).
 * Locking: none.
 * References: none.
 */
function drmFormatInfoBlockWidth(info: DrmFormatInfo, plane: number): number {
  if (plane < 0 || plane >= info.numPlanes) return 0;
  return plane === 0 && info.blockW ? info.blockW : 1;
}

/**
 * Models drm_format_info_min_pitch(): the smallest pitch of plane `plane` for `bufferWidth`
 * pixels: DIV_ROUND_UP(width * char_per_block, block_w * block_h).
 * Locking: none.
 * References: none.
 */
export function drmFormatInfoMinPitch(
  info: DrmFormatInfo,
  plane: number,
  bufferWidth: number,
): number {
  if (!info || plane < 0 || plane >= info.numPlanes) return 0;
  return Math.ceil((bufferWidth * info.cpp[plane]!) / drmFormatInfoBlockWidth(info, plane));
}

/**
 * Models drm_format_info_bpp(): bits per pixel of plane `plane`: char_per_block * 8 /
 * (block_w * block_h), 0 for a plane the format does not have.
 * Locking: none.
 * References: none.
 */
export function drmFormatInfoBpp(info: DrmFormatInfo, plane: number): number {
  if (!info || plane < 0 || plane >= info.numPlanes) return 0;
  return Math.trunc((info.cpp[plane]! * 8) / drmFormatInfoBlockWidth(info, plane));
}

/**
 * Models drm_mode_legacy_fb_format(): the fourcc of a legacy (bpp, depth) pair, or
 * DRM_FORMAT_INVALID: 1/1 C1, 2/2 C2, 4/4 C4, 8/8 C8, 16/15 XRGB1555, 16/16 RGB565, 24/24
 * RGB888, 32/24 XRGB8888, 32/30 XRGB2101010, 32/32 ARGB8888.
 * Locking: none.
 * References: none.
 */
export function drmModeLegacyFbFormat(bpp: number, depth: number): number {
  let fmt = DRM_FORMAT_INVALID;
  switch (bpp) {
    case 1:
      if (depth === 1) fmt = DRM_FORMAT_C1;
      break;
    case 2:
      if (depth === 2) fmt = DRM_FORMAT_C2;
      break;
    case 4:
      if (depth === 4) fmt = DRM_FORMAT_C4;
      break;
    case 8:
      if (depth === 8) fmt = DRM_FORMAT_C8;
      break;
    case 16:
      if (depth === 15) fmt = DRM_FORMAT_XRGB1555;
      else if (depth === 16) fmt = DRM_FORMAT_RGB565;
      break;
    case 24:
      if (depth === 24) fmt = DRM_FORMAT_RGB888;
      break;
    case 32:
      if (depth === 24) fmt = DRM_FORMAT_XRGB8888;
      else if (depth === 30) fmt = DRM_FORMAT_XRGB2101010;
      else if (depth === 32) fmt = DRM_FORMAT_ARGB8888;
      break;
    default:
      break;
  }
  return fmt;
}

/**
 * Models drm_driver_legacy_fb_format(): drm_mode_legacy_fb_format() with the device's quirks.
 * `quirk_addfb_prefer_host_byte_order` maps to DRM_FORMAT_HOST_*, which on the little-endian
 * machines the model stands for are the same codes (no driver of the model sets it); with
 * `quirk_addfb_prefer_xbgr_30bpp` XRGB2101010 becomes XBGR2101010.
 * Locking: none.
 * References: none.
 */
export function drmDriverLegacyFbFormat(dev: DrmDevice, bpp: number, depth: number): number {
  let fmt = drmModeLegacyFbFormat(bpp, depth);
  // quirk_addfb_prefer_host_byte_order: DRM_FORMAT_HOST_* equal the little-endian codes.
  if (dev.modeConfig.quirkAddfbPreferXbgr30bpp && fmt === DRM_FORMAT_XRGB2101010)
    fmt = DRM_FORMAT_XBGR2101010;
  return fmt;
}
