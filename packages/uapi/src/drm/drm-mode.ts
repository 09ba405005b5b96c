/**
 * include/uapi/drm/drm_mode.h, the parts in use: the dumb-buffer structs of
 * DRM_IOCTL_MODE_CREATE_DUMB, MAP_DUMB and DESTROY_DUMB, and the framebuffer structs of
 * DRM_IOCTL_MODE_ADDFB, ADDFB2, RMFB, GETFB, GETFB2, CLOSEFB and DIRTYFB (their ioctl numbers are in
 * drm.ts, as in drm.h).
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

/**
 * struct drm_mode_fb_cmd (GETFB: in `fb_id`; out `width`, `height`, `pitch`, `bpp`, `depth` and
 * `handle`, 0 for a file that is not the current master. Legacy ADDFB: in `width`, `height`,
 * `pitch`, `bpp`, `depth`, `handle`; out `fb_id`).
 */
export interface DrmModeFbCmd {
  fb_id: number;
  width: number;
  height: number;
  pitch: number;
  bpp: number;
  depth: number;
  handle: number;
}
export const DRM_MODE_FB_CMD_LAYOUT: DrmStructLayout = [
  ["fb_id", "u32"],
  ["width", "u32"],
  ["height", "u32"],
  ["pitch", "u32"],
  ["bpp", "u32"],
  ["depth", "u32"],
  ["handle", "u32"],
];

/** Models DRM_MODE_FB_INTERLACED: the framebuffer is interlaced (drm_mode_fb_cmd2.flags). */
export const DRM_MODE_FB_INTERLACED = 1 << 0;
/** Models DRM_MODE_FB_MODIFIERS: `modifier[]` is valid (drm_mode_fb_cmd2.flags). */
export const DRM_MODE_FB_MODIFIERS = 1 << 1;

/**
 * struct drm_mode_fb_cmd2 (ADDFB2): in `width`, `height`, `pixel_format` (a fourcc, see
 * drm-fourcc.ts), `flags` and per plane `handles`, `pitches`, `offsets`, `modifier` (4 each);
 * out `fb_id`.
 */
export interface DrmModeFbCmd2 {
  fb_id: number;
  width: number;
  height: number;
  pixel_format: number;
  flags: number;
  handles: number[];
  pitches: number[];
  offsets: number[];
  modifier: number[];
}
export const DRM_MODE_FB_CMD2_LAYOUT: DrmStructLayout = [
  ["fb_id", "u32"],
  ["width", "u32"],
  ["height", "u32"],
  ["pixel_format", "u32"],
  ["flags", "u32"],
  ["handles", "u32", 4],
  ["pitches", "u32", 4],
  ["offsets", "u32", 4],
  ["modifier", "u64", 4],
];

/** The argument of RMFB, a plain `unsigned int` (the framebuffer id) in C. */
export interface DrmModeRmfb {
  fb_id: number;
}
export const DRM_MODE_RMFB_LAYOUT: DrmStructLayout = [["fb_id", "u32"]];

/** struct drm_mode_closefb (CLOSEFB, v6.8+): in `fb_id`; `pad` must be zero. */
export interface DrmModeClosefb {
  fb_id: number;
  pad: number;
}
export const DRM_MODE_CLOSEFB_LAYOUT: DrmStructLayout = [
  ["fb_id", "u32"],
  ["pad", "u32"],
];

/** Models DRM_MODE_FB_DIRTY_ANNOTATE_COPY: the clips come in (destination, source) pairs. */
export const DRM_MODE_FB_DIRTY_ANNOTATE_COPY = 0x01;
/** Models DRM_MODE_FB_DIRTY_ANNOTATE_FILL: the clips were filled with `color`. */
export const DRM_MODE_FB_DIRTY_ANNOTATE_FILL = 0x02;
/** Models DRM_MODE_FB_DIRTY_FLAGS: the flags the kernel keeps (others are masked off). */
export const DRM_MODE_FB_DIRTY_FLAGS = 0x03;
/** Models DRM_MODE_FB_DIRTY_MAX_CLIPS. */
export const DRM_MODE_FB_DIRTY_MAX_CLIPS = 256;

/**
 * struct drm_mode_fb_dirty_cmd (DIRTYFB): in `fb_id`, `flags` (DRM_MODE_FB_DIRTY_*), `color`,
 * `num_clips` and `clips_ptr`, a user pointer to `num_clips` struct drm_clip_rect (8 bytes each:
 * four unsigned short, x1, y1, x2, y2).
 */
export interface DrmModeFbDirtyCmd {
  fb_id: number;
  flags: number;
  color: number;
  num_clips: number;
  clips_ptr: number;
}
export const DRM_MODE_FB_DIRTY_CMD_LAYOUT: DrmStructLayout = [
  ["fb_id", "u32"],
  ["flags", "u32"],
  ["color", "u32"],
  ["num_clips", "u32"],
  ["clips_ptr", "u64"],
];

/** Models sizeof(struct drm_clip_rect) (drm.h): four unsigned short. */
export const DRM_CLIP_RECT_SIZE = 8;

/** struct drm_clip_rect (drm.h): a rectangle of a framebuffer, x2/y2 exclusive. */
export interface DrmClipRect {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}
