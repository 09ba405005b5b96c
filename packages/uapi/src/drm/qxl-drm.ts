/**
 * qxl's uapi (include/uapi/drm/qxl_drm.h, Linux v6.18): the seven driver ioctls, their structs
 * and constants, as plain objects with the uapi field names laid out with drm.ts's
 * DrmStructLayout (so the ioctl numbers carry the C sizes). Userspace (the fuzzer, a test
 * program) builds qxl requests from here alone; @primetime/qxl decodes them with it and
 * re-exports it.
 *
 * EXECBUFFER passes user pointers (`commands`, and in each command `command` and `relocs`): they
 * are addresses in the calling process's memory, which the kernel reads with copy_from_user().
 * `encodeDrmQxlCommand()` / `encodeDrmQxlReloc()` give userspace the byte layout of the arrays it
 * writes there (little endian, as on x86-64), `decodeDrmQxlCommand()` / `decodeDrmQxlReloc()`
 * the kernel's view of the copied bytes.
 */

import { DRM_COMMAND_BASE, DRM_IOW, DRM_IOWR, type DrmStructLayout } from "./drm.js";

const TWO_32 = 4294967296;

/** A little-endian u32 load (get_unaligned_le32()). */
function getLe32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** A little-endian u32 store of `x >>> 0` (put_unaligned_le32()). */
function putLe32(x: number, b: Uint8Array, at: number): void {
  const v = x >>> 0;
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** A little-endian u64 load, as a number (get_unaligned_le64()). */
function getLe64(b: Uint8Array, at: number): number {
  return getLe32(b, at + 4) * TWO_32 + getLe32(b, at);
}

/** A little-endian u64 store of the number `x` (BigInt(x) as a u64: put_unaligned_le64()). */
function putLe64(x: number, b: Uint8Array, at: number): void {
  if (!(Number.isSafeInteger(x) && x >= 0)) {
    new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(at, BigInt(x), true);
    return;
  }
  const lo = x >>> 0;
  putLe32(lo, b, at);
  putLe32((x - lo) / TWO_32, b, at + 4);
}

/** Models QXL_GEM_DOMAIN_CPU: system pages (TTM_PL_SYSTEM); the device cannot reach them. */
export const QXL_GEM_DOMAIN_CPU = 0;
/** Models QXL_GEM_DOMAIN_VRAM: the device's RAM bar (TTM_PL_VRAM, the main memslot). */
export const QXL_GEM_DOMAIN_VRAM = 1;
/** Models QXL_GEM_DOMAIN_SURFACE: the surface bar (TTM_PL_PRIV), falling back to VRAM. */
export const QXL_GEM_DOMAIN_SURFACE = 2;

/** Models DRM_QXL_ALLOC (driver ioctl number, from DRM_COMMAND_BASE). */
export const DRM_QXL_ALLOC = 0x00;
/** Models DRM_QXL_MAP. */
export const DRM_QXL_MAP = 0x01;
/** Models DRM_QXL_EXECBUFFER. */
export const DRM_QXL_EXECBUFFER = 0x02;
/** Models DRM_QXL_UPDATE_AREA. */
export const DRM_QXL_UPDATE_AREA = 0x03;
/** Models DRM_QXL_GETPARAM. */
export const DRM_QXL_GETPARAM = 0x04;
/** Models DRM_QXL_CLIENTCAP. */
export const DRM_QXL_CLIENTCAP = 0x05;
/** Models DRM_QXL_ALLOC_SURF. */
export const DRM_QXL_ALLOC_SURF = 0x06;

/** struct drm_qxl_alloc: in `size`; out `handle` (0 is an invalid handle). */
export interface DrmQxlAlloc {
  size: number;
  handle: number;
}
export const DRM_QXL_ALLOC_LAYOUT: DrmStructLayout = [
  ["size", "u32"],
  ["handle", "u32"],
];

/** struct drm_qxl_map: in `handle`; out `offset` (for mmap() of the DRM fd). */
export interface DrmQxlMap {
  offset: number;
  handle: number;
  pad: number;
}
export const DRM_QXL_MAP_LAYOUT: DrmStructLayout = [
  ["offset", "u64"],
  ["handle", "u32"],
  ["pad", "u32"],
];

/** Models QXL_RELOC_TYPE_BO: write the physical address of (src_handle + src_offset). */
export const QXL_RELOC_TYPE_BO = 1;
/** Models QXL_RELOC_TYPE_SURF: write the surface id of src_handle (0 for none). */
export const QXL_RELOC_TYPE_SURF = 2;

/**
 * struct drm_qxl_reloc: `*(dst_handle + dst_offset) = physical_address(src_handle + src_offset)`
 * (or the surface id); dst_handle 0 means the command itself.
 */
export interface DrmQxlReloc {
  src_offset: number;
  dst_offset: number;
  src_handle: number;
  dst_handle: number;
  reloc_type: number;
  pad: number;
}
/** sizeof(struct drm_qxl_reloc). */
export const DRM_QXL_RELOC_SIZE = 32;

/** struct drm_qxl_command: user pointers to the command bytes and to the relocation array. */
export interface DrmQxlCommand {
  command: number;
  relocs: number;
  type: number;
  command_size: number;
  relocs_num: number;
  pad: number;
}
/** sizeof(struct drm_qxl_command). */
export const DRM_QXL_COMMAND_SIZE = 32;

/** struct drm_qxl_execbuffer: `commands` points at `commands_num` struct drm_qxl_command. */
export interface DrmQxlExecbuffer {
  flags: number;
  commands_num: number;
  commands: number;
}
export const DRM_QXL_EXECBUFFER_LAYOUT: DrmStructLayout = [
  ["flags", "u32"],
  ["commands_num", "u32"],
  ["commands", "u64"],
];

/** struct drm_qxl_update_area. */
export interface DrmQxlUpdateArea {
  handle: number;
  top: number;
  left: number;
  bottom: number;
  right: number;
  pad: number;
}
export const DRM_QXL_UPDATE_AREA_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["top", "u32"],
  ["left", "u32"],
  ["bottom", "u32"],
  ["right", "u32"],
  ["pad", "u32"],
];

/** Models QXL_PARAM_NUM_SURFACES: rom->n_surfaces. */
export const QXL_PARAM_NUM_SURFACES = 1;
/** Models QXL_PARAM_MAX_RELOCS. */
export const QXL_PARAM_MAX_RELOCS = 2;

/** struct drm_qxl_getparam. */
export interface DrmQxlGetparam {
  param: number;
  value: number;
}
export const DRM_QXL_GETPARAM_LAYOUT: DrmStructLayout = [
  ["param", "u64"],
  ["value", "u64"],
];

/** struct drm_qxl_clientcap: one bit of the device's client capabilities. */
export interface DrmQxlClientcap {
  index: number;
  pad: number;
}
export const DRM_QXL_CLIENTCAP_LAYOUT: DrmStructLayout = [
  ["index", "u32"],
  ["pad", "u32"],
];

/** struct drm_qxl_alloc_surf: a surface of `height` rows of `stride` bytes (negative: bottom-up). */
export interface DrmQxlAllocSurf {
  format: number;
  width: number;
  height: number;
  stride: number;
  handle: number;
  pad: number;
}
export const DRM_QXL_ALLOC_SURF_LAYOUT: DrmStructLayout = [
  ["format", "u32"],
  ["width", "u32"],
  ["height", "u32"],
  ["stride", "s32"],
  ["handle", "u32"],
  ["pad", "u32"],
];

/** Models DRM_IOCTL_QXL_ALLOC. */
export const DRM_IOCTL_QXL_ALLOC = DRM_IOWR(DRM_COMMAND_BASE + DRM_QXL_ALLOC, DRM_QXL_ALLOC_LAYOUT);
/** Models DRM_IOCTL_QXL_MAP. */
export const DRM_IOCTL_QXL_MAP = DRM_IOWR(DRM_COMMAND_BASE + DRM_QXL_MAP, DRM_QXL_MAP_LAYOUT);
/** Models DRM_IOCTL_QXL_EXECBUFFER. */
export const DRM_IOCTL_QXL_EXECBUFFER = DRM_IOW(
  DRM_COMMAND_BASE + DRM_QXL_EXECBUFFER,
  DRM_QXL_EXECBUFFER_LAYOUT,
);
/** Models DRM_IOCTL_QXL_UPDATE_AREA. */
export const DRM_IOCTL_QXL_UPDATE_AREA = DRM_IOW(
  DRM_COMMAND_BASE + DRM_QXL_UPDATE_AREA,
  DRM_QXL_UPDATE_AREA_LAYOUT,
);
/** Models DRM_IOCTL_QXL_GETPARAM. */
export const DRM_IOCTL_QXL_GETPARAM = DRM_IOWR(
  DRM_COMMAND_BASE + DRM_QXL_GETPARAM,
  DRM_QXL_GETPARAM_LAYOUT,
);
/** Models DRM_IOCTL_QXL_CLIENTCAP. */
export const DRM_IOCTL_QXL_CLIENTCAP = DRM_IOW(
  DRM_COMMAND_BASE + DRM_QXL_CLIENTCAP,
  DRM_QXL_CLIENTCAP_LAYOUT,
);
/** Models DRM_IOCTL_QXL_ALLOC_SURF. */
export const DRM_IOCTL_QXL_ALLOC_SURF = DRM_IOWR(
  DRM_COMMAND_BASE + DRM_QXL_ALLOC_SURF,
  DRM_QXL_ALLOC_SURF_LAYOUT,
);

/** A struct's bytes too short for it: the RangeError a DataView read past its end throws. */
function checkStructBytes(b: Uint8Array, size: number): void {
  if (b.byteLength < size)
    throw new RangeError(`${b.byteLength} bytes are too few for a ${size}-byte struct`);
}

/** The bytes of one struct drm_qxl_command (little endian), as userspace writes them. */
export function encodeDrmQxlCommand(c: DrmQxlCommand): Uint8Array {
  const b = new Uint8Array(DRM_QXL_COMMAND_SIZE);
  putLe64(c.command, b, 0);
  putLe64(c.relocs, b, 8);
  putLe32(c.type, b, 16);
  putLe32(c.command_size, b, 20);
  putLe32(c.relocs_num, b, 24);
  putLe32(c.pad, b, 28);
  return b;
}

/** Decodes one struct drm_qxl_command (the kernel's view of the copied bytes). */
export function decodeDrmQxlCommand(b: Uint8Array): DrmQxlCommand {
  checkStructBytes(b, DRM_QXL_COMMAND_SIZE);
  return {
    command: getLe64(b, 0),
    relocs: getLe64(b, 8),
    type: getLe32(b, 16),
    command_size: getLe32(b, 20),
    relocs_num: getLe32(b, 24),
    pad: getLe32(b, 28),
  };
}

/** The bytes of one struct drm_qxl_reloc (little endian). */
export function encodeDrmQxlReloc(r: DrmQxlReloc): Uint8Array {
  const b = new Uint8Array(DRM_QXL_RELOC_SIZE);
  putLe64(r.src_offset, b, 0);
  putLe64(r.dst_offset, b, 8);
  putLe32(r.src_handle, b, 16);
  putLe32(r.dst_handle, b, 20);
  putLe32(r.reloc_type, b, 24);
  putLe32(r.pad, b, 28);
  return b;
}

/** Decodes one struct drm_qxl_reloc. */
export function decodeDrmQxlReloc(b: Uint8Array): DrmQxlReloc {
  checkStructBytes(b, DRM_QXL_RELOC_SIZE);
  return {
    src_offset: getLe64(b, 0),
    dst_offset: getLe64(b, 8),
    src_handle: getLe32(b, 16),
    dst_handle: getLe32(b, 20),
    reloc_type: getLe32(b, 24),
    pad: getLe32(b, 28),
  };
}
