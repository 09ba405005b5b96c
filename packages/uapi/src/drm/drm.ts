/**
 * include/uapi/drm/drm.h: the DRM ioctl numbers, argument structs, flags and capabilities shared
 * by the DRM core and userspace (the drm_mode.h structs the core's ioctls use are in
 * drm-mode.ts).
 *
 * An ioctl argument is a plain JS object standing for the C struct, with the uapi field names
 * (`{ handle, pad }` for `struct drm_gem_close`). Each struct also has a {@link DrmStructLayout}:
 * its fields in C order with their C types, from which its size (and so the `_IOC_SIZE` of the
 * ioctl number) is computed exactly as the C compiler lays it out on a 64-bit machine. drm_ioctl()
 * uses the layout to copy in only the first `_IOC_SIZE(cmd)` bytes userspace passed and to zero
 * the rest, as the real drm_ioctl() does, so an old userspace with a shorter struct still works.
 *
 * Integer fields are JS numbers; a u64 is a number within Number.MAX_SAFE_INTEGER. Strings
 * (`drm_version.name`) are JS strings with their `*_len` companions, as the C `char *` buffers.
 *
 * The ioctl number helpers are asm-generic/ioctl.h's (`_IOWR` etc., ../asm-generic/ioctl.ts).
 */

import { _IO, _IOC_NR, _IOC_TYPE, _IOR, _IOW, _IOWR } from "../asm-generic/ioctl.js";
import {
  DRM_MODE_CARD_RES_LAYOUT,
  DRM_MODE_CLOSEFB_LAYOUT,
  DRM_MODE_CREATE_DUMB_LAYOUT,
  DRM_MODE_CREATE_LEASE_LAYOUT,
  DRM_MODE_CRTC_LAYOUT,
  DRM_MODE_CRTC_PAGE_FLIP_LAYOUT,
  DRM_MODE_CURSOR_LAYOUT,
  DRM_MODE_CURSOR2_LAYOUT,
  DRM_MODE_DESTROY_DUMB_LAYOUT,
  DRM_MODE_FB_CMD_LAYOUT,
  DRM_MODE_FB_CMD2_LAYOUT,
  DRM_MODE_FB_DIRTY_CMD_LAYOUT,
  DRM_MODE_GET_LEASE_LAYOUT,
  DRM_MODE_GET_PLANE_LAYOUT,
  DRM_MODE_GET_PLANE_RES_LAYOUT,
  DRM_MODE_LIST_LESSEES_LAYOUT,
  DRM_MODE_MAP_DUMB_LAYOUT,
  DRM_MODE_REVOKE_LEASE_LAYOUT,
  DRM_MODE_RMFB_LAYOUT,
} from "./drm-mode.js";

/** Models DRM_IOCTL_BASE: the ioctl type of every DRM command. */
export const DRM_IOCTL_BASE = "d";
/** DRM_IOCTL_BASE as a number ('d' = 0x64), what `_IOC_TYPE(cmd)` returns. */
export const DRM_IOCTL_BASE_CODE = 0x64;
/** Models DRM_COMMAND_BASE: driver ioctls are numbered from here. */
export const DRM_COMMAND_BASE = 0x40;
/** Models DRM_COMMAND_END: the end (exclusive) of the driver ioctl range. */
export const DRM_COMMAND_END = 0xa0;

/**
 * A C scalar type of a uapi field. `str` is a `char *` buffer (a JS string here); `u8` and `u16`
 * are `__u8` and `__u16` (struct drm_mode_modeinfo's timings and name).
 */
export type DrmFieldType = "u8" | "u16" | "u32" | "s32" | "u64" | "s64" | "str";

/**
 * A uapi struct's fields in C order with their types; a third element `count` makes the field a
 * C array of that many elements (`__u32 handles[4]`), a JS array of numbers in the struct object.
 */
export type DrmStructLayout = readonly (
  | readonly [name: string, type: DrmFieldType]
  | readonly [name: string, type: DrmFieldType, count: number]
)[];

const FIELD_SIZE: Record<DrmFieldType, number> = {
  u8: 1,
  u16: 2,
  u32: 4,
  s32: 4,
  u64: 8,
  s64: 8,
  str: 8,
};

/** One field of a laid-out struct: its byte offset and size (of the whole array for an array). */
export interface DrmFieldSlot {
  readonly name: string;
  readonly type: DrmFieldType;
  readonly offset: number;
  readonly size: number;
  /** The number of elements of an array field; absent for a scalar. */
  readonly count?: number;
}

/**
 * Lays a struct out as a 64-bit C compiler does (natural alignment, tail padding to the largest
 * member): returns the field slots and the struct size, `sizeof(struct ...)`.
 */
export function drmStructSlots(layout: DrmStructLayout): {
  slots: DrmFieldSlot[];
  size: number;
} {
  let off = 0;
  let align = 1;
  const slots: DrmFieldSlot[] = [];
  for (const [name, type, count] of layout) {
    const elem = FIELD_SIZE[type];
    off = Math.ceil(off / elem) * elem;
    const size = elem * (count ?? 1);
    slots.push(
      count === undefined
        ? { name, type, offset: off, size }
        : { name, type, offset: off, size, count },
    );
    off += size;
    align = Math.max(align, elem);
  }
  return { slots, size: Math.ceil(off / align) * align };
}

/** `sizeof` of a uapi struct. */
export function drmStructSize(layout: DrmStructLayout): number {
  return drmStructSlots(layout).size;
}

/** Models DRM_IO(nr). */
export function DRM_IO(nr: number): number {
  return _IO(DRM_IOCTL_BASE, nr);
}
/** Models DRM_IOR(nr, type): the kernel fills the struct. */
export function DRM_IOR(nr: number, layout: DrmStructLayout): number {
  return _IOR(DRM_IOCTL_BASE, nr, drmStructSize(layout));
}
/** Models DRM_IOW(nr, type): userspace passes the struct. */
export function DRM_IOW(nr: number, layout: DrmStructLayout): number {
  return _IOW(DRM_IOCTL_BASE, nr, drmStructSize(layout));
}
/** Models DRM_IOWR(nr, type): both. */
export function DRM_IOWR(nr: number, layout: DrmStructLayout): number {
  return _IOWR(DRM_IOCTL_BASE, nr, drmStructSize(layout));
}
/** Models DRM_IOCTL_NR(cmd). */
export function DRM_IOCTL_NR(cmd: number): number {
  return _IOC_NR(cmd);
}
/** Models DRM_IOCTL_TYPE(cmd). */
export function DRM_IOCTL_TYPE(cmd: number): number {
  return _IOC_TYPE(cmd);
}

// ---- Structs (include/uapi/drm/drm.h) -------------------------------------------------------

/** struct drm_version: `name`, `date`, `desc` are filled up to their `*_len`; lengths are set to the full length. */
export interface DrmVersion {
  version_major: number;
  version_minor: number;
  version_patchlevel: number;
  name_len: number;
  name: string;
  date_len: number;
  date: string;
  desc_len: number;
  desc: string;
}
export const DRM_VERSION_LAYOUT: DrmStructLayout = [
  ["version_major", "s32"],
  ["version_minor", "s32"],
  ["version_patchlevel", "s32"],
  ["name_len", "u64"],
  ["name", "str"],
  ["date_len", "u64"],
  ["date", "str"],
  ["desc_len", "u64"],
  ["desc", "str"],
];

/** struct drm_set_version: -1 in a major means "don't care". */
export interface DrmSetVersion {
  drm_di_major: number;
  drm_di_minor: number;
  drm_dd_major: number;
  drm_dd_minor: number;
}
export const DRM_SET_VERSION_LAYOUT: DrmStructLayout = [
  ["drm_di_major", "s32"],
  ["drm_di_minor", "s32"],
  ["drm_dd_major", "s32"],
  ["drm_dd_minor", "s32"],
];
/** Models DRM_IF_MAJOR / DRM_IF_MINOR: the DRM interface version (1.4). */
export const DRM_IF_MAJOR = 1;
export const DRM_IF_MINOR = 4;

/**
 * struct drm_unique (GET_UNIQUE): `unique` is filled with the master's bus id when `unique_len`
 * is at least its length; `unique_len` is set to that length.
 */
export interface DrmUnique {
  unique_len: number;
  unique: string;
}
export const DRM_UNIQUE_LAYOUT: DrmStructLayout = [
  ["unique_len", "u64"],
  ["unique", "str"],
];

/** struct drm_auth: `magic` (drm_magic_t). */
export interface DrmAuth {
  magic: number;
}
export const DRM_AUTH_LAYOUT: DrmStructLayout = [["magic", "u32"]];

/** struct drm_gem_close. */
export interface DrmGemClose {
  handle: number;
  pad: number;
}
export const DRM_GEM_CLOSE_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["pad", "u32"],
];

/** struct drm_gem_flink: in `handle`, out `name`. */
export interface DrmGemFlink {
  handle: number;
  name: number;
}
export const DRM_GEM_FLINK_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["name", "u32"],
];

/** struct drm_gem_open: in `name`, out `handle` and `size`. */
export interface DrmGemOpen {
  name: number;
  handle: number;
  size: number;
}
export const DRM_GEM_OPEN_LAYOUT: DrmStructLayout = [
  ["name", "u32"],
  ["handle", "u32"],
  ["size", "u64"],
];

/** struct drm_get_cap: in `capability`, out `value`. */
export interface DrmGetCap {
  capability: number;
  value: number;
}
export const DRM_GET_CAP_LAYOUT: DrmStructLayout = [
  ["capability", "u64"],
  ["value", "u64"],
];

/** struct drm_set_client_cap. */
export interface DrmSetClientCap {
  capability: number;
  value: number;
}
export const DRM_SET_CLIENT_CAP_LAYOUT: DrmStructLayout = [
  ["capability", "u64"],
  ["value", "u64"],
];

/** struct drm_prime_handle: `handle` and `flags` in, `fd` out (HANDLE_TO_FD); `fd` in, `handle` out (FD_TO_HANDLE). */
export interface DrmPrimeHandle {
  handle: number;
  flags: number;
  fd: number;
}
export const DRM_PRIME_HANDLE_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["flags", "u32"],
  ["fd", "s32"],
];

/**
 * struct drm_gem_change_handle (v6.18): moves the object of `handle` to `new_handle`, which must
 * be free (DRM_IOCTL_GEM_CHANGE_HANDLE, for CRIU restore).
 */
export interface DrmGemChangeHandle {
  handle: number;
  new_handle: number;
}
export const DRM_GEM_CHANGE_HANDLE_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["new_handle", "u32"],
];

/** struct drm_syncobj_create: `flags` in (DRM_SYNCOBJ_CREATE_SIGNALED), `handle` out. */
export interface DrmSyncobjCreate {
  handle: number;
  flags: number;
}
export const DRM_SYNCOBJ_CREATE_SIGNALED = 1 << 0;
export const DRM_SYNCOBJ_CREATE_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["flags", "u32"],
];

/** struct drm_syncobj_destroy. */
export interface DrmSyncobjDestroy {
  handle: number;
  pad: number;
}
export const DRM_SYNCOBJ_DESTROY_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["pad", "u32"],
];

export const DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE = 1 << 0;
export const DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE = 1 << 1;
export const DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE = 1 << 0;
export const DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE = 1 << 1;
/**
 * struct drm_syncobj_handle (with `point`, v6.15+): HANDLE_TO_FD takes `handle` and gives `fd`;
 * FD_TO_HANDLE takes `fd` and gives `handle` (or, importing a sync_file, takes both).
 */
export interface DrmSyncobjHandle {
  handle: number;
  flags: number;
  fd: number;
  pad: number;
  point: number;
}
export const DRM_SYNCOBJ_HANDLE_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["flags", "u32"],
  ["fd", "s32"],
  ["pad", "u32"],
  ["point", "u64"],
];

export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL = 1 << 0;
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT = 1 << 1;
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE = 1 << 2;
export const DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE = 1 << 3;
/**
 * struct drm_syncobj_wait: `handles` is a user pointer to `count_handles` u32 handles;
 * `timeout_nsec` an absolute CLOCK_MONOTONIC time (0 polls); `first_signaled` out.
 */
export interface DrmSyncobjWait {
  handles: number;
  timeout_nsec: number;
  count_handles: number;
  flags: number;
  first_signaled: number;
  pad: number;
  deadline_nsec: number;
}
export const DRM_SYNCOBJ_WAIT_LAYOUT: DrmStructLayout = [
  ["handles", "u64"],
  ["timeout_nsec", "s64"],
  ["count_handles", "u32"],
  ["flags", "u32"],
  ["first_signaled", "u32"],
  ["pad", "u32"],
  ["deadline_nsec", "u64"],
];

/**
 * struct drm_syncobj_timeline_wait (TIMELINE_WAIT): drm_syncobj_wait with `points`, a user
 * pointer to `count_handles` u64 points.
 */
export interface DrmSyncobjTimelineWait {
  handles: number;
  points: number;
  timeout_nsec: number;
  count_handles: number;
  flags: number;
  first_signaled: number;
  pad: number;
  deadline_nsec: number;
}
export const DRM_SYNCOBJ_TIMELINE_WAIT_LAYOUT: DrmStructLayout = [
  ["handles", "u64"],
  ["points", "u64"],
  ["timeout_nsec", "s64"],
  ["count_handles", "u32"],
  ["flags", "u32"],
  ["first_signaled", "u32"],
  ["pad", "u32"],
  ["deadline_nsec", "u64"],
];

/** Models DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED: QUERY reports the last point submitted. */
export const DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED = 1 << 0;

/**
 * struct drm_syncobj_timeline_array (QUERY, TIMELINE_SIGNAL): `handles` and `points` are user
 * pointers to `count_handles` u32 handles and u64 points.
 */
export interface DrmSyncobjTimelineArray {
  handles: number;
  points: number;
  count_handles: number;
  flags: number;
}
export const DRM_SYNCOBJ_TIMELINE_ARRAY_LAYOUT: DrmStructLayout = [
  ["handles", "u64"],
  ["points", "u64"],
  ["count_handles", "u32"],
  ["flags", "u32"],
];

/** struct drm_syncobj_transfer (TRANSFER): a point of one syncobj to a point of another. */
export interface DrmSyncobjTransfer {
  src_handle: number;
  dst_handle: number;
  src_point: number;
  dst_point: number;
  flags: number;
  pad: number;
}
export const DRM_SYNCOBJ_TRANSFER_LAYOUT: DrmStructLayout = [
  ["src_handle", "u32"],
  ["dst_handle", "u32"],
  ["src_point", "u64"],
  ["dst_point", "u64"],
  ["flags", "u32"],
  ["pad", "u32"],
];

/** struct drm_syncobj_array: `handles` is a user pointer to `count_handles` u32 handles. */
export interface DrmSyncobjArray {
  handles: number;
  count_handles: number;
  pad: number;
}
export const DRM_SYNCOBJ_ARRAY_LAYOUT: DrmStructLayout = [
  ["handles", "u64"],
  ["count_handles", "u32"],
  ["pad", "u32"],
];

// ---- Ioctl numbers ---------------------------------------------------------------------------

export const DRM_IOCTL_VERSION = DRM_IOWR(0x00, DRM_VERSION_LAYOUT);
export const DRM_IOCTL_GET_UNIQUE = DRM_IOWR(0x01, DRM_UNIQUE_LAYOUT);
export const DRM_IOCTL_GET_MAGIC = DRM_IOR(0x02, DRM_AUTH_LAYOUT);
export const DRM_IOCTL_SET_VERSION = DRM_IOWR(0x07, DRM_SET_VERSION_LAYOUT);
export const DRM_IOCTL_GEM_CLOSE = DRM_IOW(0x09, DRM_GEM_CLOSE_LAYOUT);
export const DRM_IOCTL_GEM_FLINK = DRM_IOWR(0x0a, DRM_GEM_FLINK_LAYOUT);
export const DRM_IOCTL_GEM_OPEN = DRM_IOWR(0x0b, DRM_GEM_OPEN_LAYOUT);
export const DRM_IOCTL_GET_CAP = DRM_IOWR(0x0c, DRM_GET_CAP_LAYOUT);
export const DRM_IOCTL_SET_CLIENT_CAP = DRM_IOW(0x0d, DRM_SET_CLIENT_CAP_LAYOUT);
export const DRM_IOCTL_SET_UNIQUE = DRM_IOW(0x10, DRM_UNIQUE_LAYOUT);
export const DRM_IOCTL_AUTH_MAGIC = DRM_IOW(0x11, DRM_AUTH_LAYOUT);
export const DRM_IOCTL_SET_MASTER = DRM_IO(0x1e);
export const DRM_IOCTL_DROP_MASTER = DRM_IO(0x1f);
export const DRM_IOCTL_PRIME_HANDLE_TO_FD = DRM_IOWR(0x2d, DRM_PRIME_HANDLE_LAYOUT);
export const DRM_IOCTL_PRIME_FD_TO_HANDLE = DRM_IOWR(0x2e, DRM_PRIME_HANDLE_LAYOUT);
export const DRM_IOCTL_MODE_GETRESOURCES = DRM_IOWR(0xa0, DRM_MODE_CARD_RES_LAYOUT);
export const DRM_IOCTL_MODE_GETCRTC = DRM_IOWR(0xa1, DRM_MODE_CRTC_LAYOUT);
export const DRM_IOCTL_MODE_SETCRTC = DRM_IOWR(0xa2, DRM_MODE_CRTC_LAYOUT);
export const DRM_IOCTL_MODE_CURSOR = DRM_IOWR(0xa3, DRM_MODE_CURSOR_LAYOUT);
export const DRM_IOCTL_MODE_GETFB = DRM_IOWR(0xad, DRM_MODE_FB_CMD_LAYOUT);
export const DRM_IOCTL_MODE_ADDFB = DRM_IOWR(0xae, DRM_MODE_FB_CMD_LAYOUT);
export const DRM_IOCTL_MODE_RMFB = DRM_IOWR(0xaf, DRM_MODE_RMFB_LAYOUT);
export const DRM_IOCTL_MODE_PAGE_FLIP = DRM_IOWR(0xb0, DRM_MODE_CRTC_PAGE_FLIP_LAYOUT);
export const DRM_IOCTL_MODE_DIRTYFB = DRM_IOWR(0xb1, DRM_MODE_FB_DIRTY_CMD_LAYOUT);
export const DRM_IOCTL_MODE_CREATE_DUMB = DRM_IOWR(0xb2, DRM_MODE_CREATE_DUMB_LAYOUT);
export const DRM_IOCTL_MODE_MAP_DUMB = DRM_IOWR(0xb3, DRM_MODE_MAP_DUMB_LAYOUT);
export const DRM_IOCTL_MODE_DESTROY_DUMB = DRM_IOWR(0xb4, DRM_MODE_DESTROY_DUMB_LAYOUT);
export const DRM_IOCTL_MODE_GETPLANERESOURCES = DRM_IOWR(0xb5, DRM_MODE_GET_PLANE_RES_LAYOUT);
export const DRM_IOCTL_MODE_GETPLANE = DRM_IOWR(0xb6, DRM_MODE_GET_PLANE_LAYOUT);
export const DRM_IOCTL_MODE_ADDFB2 = DRM_IOWR(0xb8, DRM_MODE_FB_CMD2_LAYOUT);
export const DRM_IOCTL_MODE_CURSOR2 = DRM_IOWR(0xbb, DRM_MODE_CURSOR2_LAYOUT);
export const DRM_IOCTL_MODE_GETFB2 = DRM_IOWR(0xce, DRM_MODE_FB_CMD2_LAYOUT);
export const DRM_IOCTL_MODE_CREATE_LEASE = DRM_IOWR(0xc6, DRM_MODE_CREATE_LEASE_LAYOUT);
export const DRM_IOCTL_MODE_LIST_LESSEES = DRM_IOWR(0xc7, DRM_MODE_LIST_LESSEES_LAYOUT);
export const DRM_IOCTL_MODE_GET_LEASE = DRM_IOWR(0xc8, DRM_MODE_GET_LEASE_LAYOUT);
export const DRM_IOCTL_MODE_REVOKE_LEASE = DRM_IOWR(0xc9, DRM_MODE_REVOKE_LEASE_LAYOUT);
export const DRM_IOCTL_MODE_CLOSEFB = DRM_IOWR(0xd0, DRM_MODE_CLOSEFB_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_CREATE = DRM_IOWR(0xbf, DRM_SYNCOBJ_CREATE_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_DESTROY = DRM_IOWR(0xc0, DRM_SYNCOBJ_DESTROY_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD = DRM_IOWR(0xc1, DRM_SYNCOBJ_HANDLE_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE = DRM_IOWR(0xc2, DRM_SYNCOBJ_HANDLE_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_WAIT = DRM_IOWR(0xc3, DRM_SYNCOBJ_WAIT_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_RESET = DRM_IOWR(0xc4, DRM_SYNCOBJ_ARRAY_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_SIGNAL = DRM_IOWR(0xc5, DRM_SYNCOBJ_ARRAY_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT = DRM_IOWR(0xca, DRM_SYNCOBJ_TIMELINE_WAIT_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_QUERY = DRM_IOWR(0xcb, DRM_SYNCOBJ_TIMELINE_ARRAY_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_TRANSFER = DRM_IOWR(0xcc, DRM_SYNCOBJ_TRANSFER_LAYOUT);
export const DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL = DRM_IOWR(0xcd, DRM_SYNCOBJ_TIMELINE_ARRAY_LAYOUT);
/** v6.18 (53096728b891); wired to drm_invalid_op in mainline since 1a4f03d22fb6. */
export const DRM_IOCTL_GEM_CHANGE_HANDLE = DRM_IOWR(0xd2, DRM_GEM_CHANGE_HANDLE_LAYOUT);

// ---- Flags and capabilities -------------------------------------------------------------------

/** Models DRM_CLOEXEC (= O_CLOEXEC, 02000000) for PRIME_HANDLE_TO_FD. */
export const DRM_CLOEXEC = 0o2000000;
/** Models DRM_RDWR (= O_RDWR) for PRIME_HANDLE_TO_FD. */
export const DRM_RDWR = 0o2;

export const DRM_CAP_DUMB_BUFFER = 0x1;
export const DRM_CAP_VBLANK_HIGH_CRTC = 0x2;
export const DRM_CAP_DUMB_PREFERRED_DEPTH = 0x3;
export const DRM_CAP_DUMB_PREFER_SHADOW = 0x4;
export const DRM_CAP_PRIME = 0x5;
export const DRM_PRIME_CAP_IMPORT = 0x1;
export const DRM_PRIME_CAP_EXPORT = 0x2;
export const DRM_CAP_TIMESTAMP_MONOTONIC = 0x6;
export const DRM_CAP_ASYNC_PAGE_FLIP = 0x7;
export const DRM_CAP_CURSOR_WIDTH = 0x8;
export const DRM_CAP_CURSOR_HEIGHT = 0x9;
export const DRM_CAP_ADDFB2_MODIFIERS = 0x10;
export const DRM_CAP_PAGE_FLIP_TARGET = 0x11;
export const DRM_CAP_CRTC_IN_VBLANK_EVENT = 0x12;
export const DRM_CAP_SYNCOBJ = 0x13;
export const DRM_CAP_SYNCOBJ_TIMELINE = 0x14;
export const DRM_CAP_ATOMIC_ASYNC_PAGE_FLIP = 0x15;

/** Models DRM_MAJOR. */
export const DRM_MAJOR = 226;
