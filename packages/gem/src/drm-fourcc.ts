/**
 * Pixel format descriptions (drivers/gpu/drm/drm_fourcc.c, include/drm/drm_fourcc.h): the
 * `struct drm_format_info` of the formats the model knows, and the helpers framebuffer creation
 * uses to size planes. Only formats whose blocks are one pixel are listed, so `char_per_block`
 * is `cpp`.
 */

import {
  DRM_FORMAT_ARGB8888,
  DRM_FORMAT_C8,
  DRM_FORMAT_NV12,
  DRM_FORMAT_RGB565,
  DRM_FORMAT_XBGR8888,
  DRM_FORMAT_XRGB8888,
} from "@primetime/uapi";

/** Models struct drm_format_info (the fields in use). */
export interface DrmFormatInfo {
  /** Models format: the fourcc code. */
  readonly format: number;
  /** Models depth: the legacy color depth, 0 if none. */
  readonly depth: number;
  /** Models num_planes. */
  readonly numPlanes: number;
  /** Models cpp[]: bytes per pixel of each plane. */
  readonly cpp: readonly number[];
  /** Models hsub: horizontal chroma subsampling factor. */
  readonly hsub: number;
  /** Models vsub: vertical chroma subsampling factor. */
  readonly vsub: number;
}

/** Models formats[] of __drm_format_info(): the formats of this model. */
const FORMATS: readonly DrmFormatInfo[] = [
  { format: DRM_FORMAT_C8, depth: 8, numPlanes: 1, cpp: [1], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_RGB565, depth: 16, numPlanes: 1, cpp: [2], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_XRGB8888, depth: 24, numPlanes: 1, cpp: [4], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_XBGR8888, depth: 24, numPlanes: 1, cpp: [4], hsub: 1, vsub: 1 },
  { format: DRM_FORMAT_ARGB8888, depth: 32, numPlanes: 1, cpp: [4], hsub: 1, vsub: 1 },
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
 * Models drm_format_info_min_pitch(): the smallest pitch of plane `plane` for `bufferWidth`
 * pixels (one-pixel blocks: width * cpp).
 * Locking: none.
 * References: none.
 */
export function drmFormatInfoMinPitch(
  info: DrmFormatInfo,
  plane: number,
  bufferWidth: number,
): number {
  if (!info || plane < 0 || plane >= info.numPlanes) return 0;
  return bufferWidth * info.cpp[plane]!;
}
