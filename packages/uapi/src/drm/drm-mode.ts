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

// ---- CRTCs, planes, page flips and their events (drm_mode.h, drm.h) -------------------------

/**
 * struct drm_mode_card_res (GETRESOURCES): in the four user pointers and the counts of the
 * arrays they point to; out the counts of the device's framebuffers (the file's own), CRTCs,
 * connectors and encoders, each array filled with ids when its count covered them, and the
 * size limits.
 */
export interface DrmModeCardRes {
  fb_id_ptr: number;
  crtc_id_ptr: number;
  connector_id_ptr: number;
  encoder_id_ptr: number;
  count_fbs: number;
  count_crtcs: number;
  count_connectors: number;
  count_encoders: number;
  min_width: number;
  max_width: number;
  min_height: number;
  max_height: number;
}
export const DRM_MODE_CARD_RES_LAYOUT: DrmStructLayout = [
  ["fb_id_ptr", "u64"],
  ["crtc_id_ptr", "u64"],
  ["connector_id_ptr", "u64"],
  ["encoder_id_ptr", "u64"],
  ["count_fbs", "u32"],
  ["count_crtcs", "u32"],
  ["count_connectors", "u32"],
  ["count_encoders", "u32"],
  ["min_width", "u32"],
  ["max_width", "u32"],
  ["min_height", "u32"],
  ["max_height", "u32"],
];

/** Models DRM_DISPLAY_MODE_LEN: the length of struct drm_mode_modeinfo's `name`. */
export const DRM_DISPLAY_MODE_LEN = 32;

/**
 * struct drm_mode_crtc (GETCRTC, SETCRTC). Its struct drm_mode_modeinfo `mode` is flattened
 * into `mode_*` fields (the C layout is the same: 68 bytes at offset 36; `mode_name` is the
 * `char name[32]`, as bytes). In `crtc_id`; SETCRTC also `set_connectors_ptr` (a user pointer to
 * `count_connectors` connector ids), `fb_id` (-1 for the current framebuffer), `x`, `y`,
 * `mode_valid` and the mode; GETCRTC returns `x`, `y`, `gamma_size`, `fb_id`, `mode_valid` and
 * the mode.
 */
export interface DrmModeCrtc {
  set_connectors_ptr: number;
  count_connectors: number;
  crtc_id: number;
  fb_id: number;
  x: number;
  y: number;
  gamma_size: number;
  mode_valid: number;
  mode_clock: number;
  mode_hdisplay: number;
  mode_hsync_start: number;
  mode_hsync_end: number;
  mode_htotal: number;
  mode_hskew: number;
  mode_vdisplay: number;
  mode_vsync_start: number;
  mode_vsync_end: number;
  mode_vtotal: number;
  mode_vscan: number;
  mode_vrefresh: number;
  mode_flags: number;
  mode_type: number;
  mode_name: number[];
}
export const DRM_MODE_CRTC_LAYOUT: DrmStructLayout = [
  ["set_connectors_ptr", "u64"],
  ["count_connectors", "u32"],
  ["crtc_id", "u32"],
  ["fb_id", "u32"],
  ["x", "u32"],
  ["y", "u32"],
  ["gamma_size", "u32"],
  ["mode_valid", "u32"],
  ["mode_clock", "u32"],
  ["mode_hdisplay", "u16"],
  ["mode_hsync_start", "u16"],
  ["mode_hsync_end", "u16"],
  ["mode_htotal", "u16"],
  ["mode_hskew", "u16"],
  ["mode_vdisplay", "u16"],
  ["mode_vsync_start", "u16"],
  ["mode_vsync_end", "u16"],
  ["mode_vtotal", "u16"],
  ["mode_vscan", "u16"],
  ["mode_vrefresh", "u32"],
  ["mode_flags", "u32"],
  ["mode_type", "u32"],
  ["mode_name", "u8", DRM_DISPLAY_MODE_LEN],
];

/** Models DRM_MODE_CURSOR_BO: set (or, with handle 0, remove) the cursor image. */
export const DRM_MODE_CURSOR_BO = 0x01;
/** Models DRM_MODE_CURSOR_MOVE: move the cursor to (x, y). */
export const DRM_MODE_CURSOR_MOVE = 0x02;
/** Models DRM_MODE_CURSOR_FLAGS: every flag the cursor ioctls know. */
export const DRM_MODE_CURSOR_FLAGS = 0x03;

/**
 * struct drm_mode_cursor (MODE_CURSOR): in `flags` (DRM_MODE_CURSOR_*), `crtc_id`, the position
 * `x`, `y` (with DRM_MODE_CURSOR_MOVE) and the image `handle` (a buffer handle, 0 to hide) of
 * `width` x `height` (with DRM_MODE_CURSOR_BO).
 */
export interface DrmModeCursor {
  flags: number;
  crtc_id: number;
  x: number;
  y: number;
  width: number;
  height: number;
  handle: number;
}
export const DRM_MODE_CURSOR_LAYOUT: DrmStructLayout = [
  ["flags", "u32"],
  ["crtc_id", "u32"],
  ["x", "s32"],
  ["y", "s32"],
  ["width", "u32"],
  ["height", "u32"],
  ["handle", "u32"],
];

/** struct drm_mode_cursor2 (MODE_CURSOR2): struct drm_mode_cursor and the hotspot. */
export interface DrmModeCursor2 extends DrmModeCursor {
  hot_x: number;
  hot_y: number;
}
export const DRM_MODE_CURSOR2_LAYOUT: DrmStructLayout = [
  ...DRM_MODE_CURSOR_LAYOUT,
  ["hot_x", "s32"],
  ["hot_y", "s32"],
];

/** Models DRM_MODE_PAGE_FLIP_EVENT: send a DRM_EVENT_FLIP_COMPLETE when the flip is done. */
export const DRM_MODE_PAGE_FLIP_EVENT = 0x01;
/** Models DRM_MODE_PAGE_FLIP_ASYNC: flip without waiting for vblank. */
export const DRM_MODE_PAGE_FLIP_ASYNC = 0x02;
/** Models DRM_MODE_PAGE_FLIP_TARGET_ABSOLUTE. */
export const DRM_MODE_PAGE_FLIP_TARGET_ABSOLUTE = 0x4;
/** Models DRM_MODE_PAGE_FLIP_TARGET_RELATIVE. */
export const DRM_MODE_PAGE_FLIP_TARGET_RELATIVE = 0x8;
/** Models DRM_MODE_PAGE_FLIP_TARGET. */
export const DRM_MODE_PAGE_FLIP_TARGET =
  DRM_MODE_PAGE_FLIP_TARGET_ABSOLUTE | DRM_MODE_PAGE_FLIP_TARGET_RELATIVE;
/** Models DRM_MODE_PAGE_FLIP_FLAGS: every flag PAGE_FLIP knows. */
export const DRM_MODE_PAGE_FLIP_FLAGS =
  DRM_MODE_PAGE_FLIP_EVENT | DRM_MODE_PAGE_FLIP_ASYNC | DRM_MODE_PAGE_FLIP_TARGET;

/**
 * struct drm_mode_crtc_page_flip_target (PAGE_FLIP; struct drm_mode_crtc_page_flip has
 * `reserved` where this has `sequence`, the same layout): in `crtc_id`, `fb_id`, `flags`
 * (DRM_MODE_PAGE_FLIP_*), `sequence` (with a TARGET flag only) and `user_data` (copied into the
 * event).
 */
export interface DrmModeCrtcPageFlip {
  crtc_id: number;
  fb_id: number;
  flags: number;
  sequence: number;
  user_data: bigint | number;
}
export const DRM_MODE_CRTC_PAGE_FLIP_LAYOUT: DrmStructLayout = [
  ["crtc_id", "u32"],
  ["fb_id", "u32"],
  ["flags", "u32"],
  ["sequence", "u32"],
  ["user_data", "u64"],
];

/**
 * struct drm_mode_get_plane_res (GETPLANERESOURCES): in `plane_id_ptr` and `count_planes` (the
 * room there); out the number of planes, the ids written when the room sufficed.
 */
export interface DrmModeGetPlaneRes {
  plane_id_ptr: number;
  count_planes: number;
}
export const DRM_MODE_GET_PLANE_RES_LAYOUT: DrmStructLayout = [
  ["plane_id_ptr", "u64"],
  ["count_planes", "u32"],
];

/**
 * struct drm_mode_get_plane (GETPLANE): in `plane_id`, `format_type_ptr`, `count_format_types`;
 * out the CRTC and framebuffer the plane shows (0 for none), `possible_crtcs`, and its formats.
 */
export interface DrmModeGetPlane {
  plane_id: number;
  crtc_id: number;
  fb_id: number;
  possible_crtcs: number;
  gamma_size: number;
  count_format_types: number;
  format_type_ptr: number;
}
export const DRM_MODE_GET_PLANE_LAYOUT: DrmStructLayout = [
  ["plane_id", "u32"],
  ["crtc_id", "u32"],
  ["fb_id", "u32"],
  ["possible_crtcs", "u32"],
  ["gamma_size", "u32"],
  ["count_format_types", "u32"],
  ["format_type_ptr", "u64"],
];

/** Models DRM_EVENT_VBLANK (drm.h). */
export const DRM_EVENT_VBLANK = 0x01;
/** Models DRM_EVENT_FLIP_COMPLETE (drm.h): the event of PAGE_FLIP with DRM_MODE_PAGE_FLIP_EVENT. */
export const DRM_EVENT_FLIP_COMPLETE = 0x02;

/**
 * struct drm_event_vblank (drm.h), what read(2) of the DRM fd returns for a vblank or flip
 * event (32 bytes: struct drm_event `type`, `length`, then `user_data`, `tv_sec`, `tv_usec`,
 * `sequence`, `crtc_id`, little endian).
 */
export interface DrmEventVblank {
  type: number;
  length: number;
  user_data: bigint;
  tv_sec: number;
  tv_usec: number;
  sequence: number;
  crtc_id: number;
}
/** sizeof(struct drm_event_vblank). */
export const DRM_EVENT_VBLANK_SIZE = 32;

/** The bytes of a struct drm_event_vblank. */
export function encodeDrmEventVblank(e: DrmEventVblank): Uint8Array {
  const b = new Uint8Array(DRM_EVENT_VBLANK_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, e.type >>> 0, true);
  v.setUint32(4, e.length >>> 0, true);
  v.setBigUint64(8, BigInt.asUintN(64, e.user_data), true);
  v.setUint32(16, e.tv_sec >>> 0, true);
  v.setUint32(20, e.tv_usec >>> 0, true);
  v.setUint32(24, e.sequence >>> 0, true);
  v.setUint32(28, e.crtc_id >>> 0, true);
  return b;
}

/** A struct drm_event_vblank read back from its bytes at `offset` (userspace's view). */
export function decodeDrmEventVblank(b: Uint8Array, offset = 0): DrmEventVblank {
  const v = new DataView(b.buffer, b.byteOffset + offset, DRM_EVENT_VBLANK_SIZE);
  return {
    type: v.getUint32(0, true),
    length: v.getUint32(4, true),
    user_data: v.getBigUint64(8, true),
    tv_sec: v.getUint32(16, true),
    tv_usec: v.getUint32(20, true),
    sequence: v.getUint32(24, true),
    crtc_id: v.getUint32(28, true),
  };
}

/**
 * struct drm_mode_create_lease (CREATE_LEASE): in `object_ids` (a user pointer to
 * `object_count` u32 object ids) and `flags` (O_CLOEXEC | O_NONBLOCK of the new file); out the
 * new lessee's `lessee_id` and the `fd` of the file that holds it (24 bytes).
 */
export interface DrmModeCreateLease {
  object_ids: number;
  object_count: number;
  flags: number;
  lessee_id: number;
  fd: number;
}
export const DRM_MODE_CREATE_LEASE_LAYOUT: DrmStructLayout = [
  ["object_ids", "u64"],
  ["object_count", "u32"],
  ["flags", "u32"],
  ["lessee_id", "u32"],
  ["fd", "u32"],
];

/**
 * struct drm_mode_list_lessees (LIST_LESSEES): in `count_lessees` (room at `lessees_ptr`) and
 * `pad` (must be 0); out the number of lessees with a lease not revoked (16 bytes).
 */
export interface DrmModeListLessees {
  count_lessees: number;
  pad: number;
  lessees_ptr: number;
}
export const DRM_MODE_LIST_LESSEES_LAYOUT: DrmStructLayout = [
  ["count_lessees", "u32"],
  ["pad", "u32"],
  ["lessees_ptr", "u64"],
];

/**
 * struct drm_mode_get_lease (GET_LEASE): in `count_objects` (room at `objects_ptr`) and `pad`
 * (must be 0); out the number of objects the caller's master may use (16 bytes).
 */
export interface DrmModeGetLease {
  count_objects: number;
  pad: number;
  objects_ptr: number;
}
export const DRM_MODE_GET_LEASE_LAYOUT: DrmStructLayout = [
  ["count_objects", "u32"],
  ["pad", "u32"],
  ["objects_ptr", "u64"],
];

/** struct drm_mode_revoke_lease (REVOKE_LEASE): the `lessee_id` whose lease is emptied. */
export interface DrmModeRevokeLease {
  lessee_id: number;
}
export const DRM_MODE_REVOKE_LEASE_LAYOUT: DrmStructLayout = [["lessee_id", "u32"]];
