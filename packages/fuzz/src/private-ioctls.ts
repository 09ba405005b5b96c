/**
 * The drivers' private ioctls as the fuzzer issues them (`FuzzOptions.private`): what userspace
 * builds from the drivers' uapi headers alone (@primetime/uapi's qxl_drm.h and vmwgfx_drm.h), as
 * syzkaller's descriptions do, without any code of the driver packages. This file holds the
 * parts that need no run state: which driver a DRM file's device runs (DRM_IOCTL_VERSION's name),
 * the bytes of a qxl EXECBUFFER command page, vmwgfx's command strings, and the argument values
 * the draws pick from. The draws themselves, and what the reference model accepts, are in
 * fuzz.ts (`opPrivate()`); the README's "Driver-private ioctls" says what is checked.
 */

import {
  DRM_QXL_COMMAND_SIZE,
  DRM_QXL_RELOC_SIZE,
  type DrmQxlReloc,
  encodeDrmQxlCommand,
  encodeDrmQxlReloc,
  QXL_RELOC_TYPE_BO,
  QXL_RELOC_TYPE_SURF,
} from "@primetime/uapi";

/** The drivers whose private ioctls the fuzzer knows, by the name DRM_IOCTL_VERSION reports. */
export type PrivateDriver = "qxl" | "vmwgfx" | null;

/** The driver a device runs, from its name (DRM_IOCTL_VERSION's `name`); null: none known. */
export function privateDriver(name: string): PrivateDriver {
  return name === "qxl" || name === "vmwgfx" ? name : null;
}

/**
 * A handle no file ever has: far above any handle an idr hands out in a run (a few dozen per
 * file) and not among GEM_CHANGE_HANDLE's targets (the lowest free number, one above the highest
 * live one, BIG_HANDLES), so a lookup of it fails in any file.
 */
export const NEVER_HANDLE = 0x7fff_ff00;

/**
 * A GEM handle no vmwgfx file has, below VMWGFX_NUM_MOB (53,056): vmwgfx sends handles at or
 * above it to its TTM objects (a command naming NEVER_HANDLE is an unknown surface, -EINVAL),
 * so an unknown buffer in EXECBUF (-ESRCH) needs a number below it.
 */
export const NEVER_BO = 50_000;

/**
 * A vmwgfx surface, fence or context handle no file has: ttm base object handles come from the
 * device's idr above VMWGFX_NUM_MOB (53,056), a few dozen per run.
 */
export const NEVER_OBJECT = 0x7fff_fe00;

// ---- qxl ----------------------------------------------------------------------------------

/** Models QXL_CMD_DRAW (qxl_dev.h): the only command type EXECBUFFER accepts. */
export const QXL_CMD_DRAW = 1;
/** Models QXL_CMD_SURFACE: refused by EXECBUFFER (-EINVAL). */
export const QXL_CMD_SURFACE = 3;
/**
 * The release info qxl puts in front of a command (struct qxl_release_info, 16 bytes): relocation
 * offsets into the command (dst_handle 0) count from the release, so the command's own field at
 * offset k is relocated with dst_offset 16 + k.
 */
export const QXL_RELEASE_INFO_SIZE = 16;
/** Models SPICE_SURFACE_FMT_32_xRGB: the format ALLOC_SURF's surfaces get. */
export const SPICE_SURFACE_FMT_32_XRGB = 32;

/**
 * The drawable of the simulated QXL device (its QXLDrawable: what the device does with a DRAW),
 * as userspace writes it: `op` at 0 (1 fill, 2 copy, 3 checksum; anything else the device
 * refuses and hands back), `value` at 4, `size` at 8, `surfaceId` at 12, `dst` at 16 and `src` at
 * 24 (physical addresses that relocations fill in; with a surface id, `dst` is an offset in the
 * surface). The fuzzer only ever fills (op 1) or writes nothing (op 0): a fill with a constant
 * byte can spoil a buffer's stamp (readStamp() then finds none) but never forge one.
 */
export const QXL_DRAW = { op: 0, value: 4, size: 8, surfaceId: 12, dst: 16, src: 24 } as const;
/** The drawable's size. */
export const QXL_DRAW_SIZE = 32;
/** op: fill `size` bytes at `dst` with `value`. */
export const QXL_DRAW_FILL = 1;
/**
 * Where the fuzzer's fills land in a buffer: past the stamp (STAMP_BYTES) and inside the
 * smallest buffer it makes (a page).
 */
export const QXL_FILL_OFFSET = 64;
export const QXL_FILL_SIZE = 16;

/** Where the parts of a command page go: the drawable, the relocations, the drm_qxl_command. */
const PAGE_CMD_AT = 0;
const PAGE_RELOCS_AT = 256;
const PAGE_COMMAND_AT = 1024;

/** One relocation of a fuzzed drawable: which field it fills, from which handle. */
export interface QxlFuzzReloc {
  /** QXL_RELOC_TYPE_BO (`dst` or `src` gets the address) or QXL_RELOC_TYPE_SURF (the surface id). */
  readonly type: number;
  /** The handle the relocation names (live, closed, or NEVER_HANDLE). */
  readonly handle: number;
}

/** A fuzzed EXECBUFFER: one command on a page of the caller's. */
export interface QxlFuzzCommand {
  /** The command type (QXL_CMD_DRAW, or a refused one). */
  readonly type: number;
  /** The drawable's op (QXL_DRAW_FILL or 0: nothing). */
  readonly op: number;
  readonly relocs: readonly QxlFuzzReloc[];
  /** `command_size` (QXL_DRAW_SIZE, or more than a page: -EINVAL). */
  readonly commandSize: number;
  /** A relocation type that is neither BO nor SURF (-EINVAL). */
  readonly badRelocType?: boolean;
}

/**
 * The bytes of a command page at user address `page`: the drawable at +0, its relocations at
 * +256, `count` copies of the struct drm_qxl_command at +1024 (what `commands` points at: an
 * EXECBUFFER of `count` commands, each the same drawing, each with a release of its own; at most
 * QXL_MAX_COMMANDS_PER_PAGE). A BO relocation writes
 * the address of (handle + QXL_FILL_OFFSET) into `dst`; a SURF relocation writes the handle's
 * surface id into `surfaceId` (and `dst` is QXL_FILL_OFFSET inside the surface).
 */
export function qxlCommandPage(page: number, c: QxlFuzzCommand, count = 1): Uint8Array {
  const b = new Uint8Array(PAGE_COMMAND_AT + count * DRM_QXL_COMMAND_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(PAGE_CMD_AT + QXL_DRAW.op, c.op, true);
  v.setUint32(PAGE_CMD_AT + QXL_DRAW.value, 0x3c, true);
  v.setUint32(PAGE_CMD_AT + QXL_DRAW.size, QXL_FILL_SIZE, true);
  v.setUint32(PAGE_CMD_AT + QXL_DRAW.dst, QXL_FILL_OFFSET, true);
  const relocs: DrmQxlReloc[] = c.relocs.map((r) =>
    r.type === QXL_RELOC_TYPE_SURF
      ? {
          src_offset: 0,
          dst_offset: QXL_RELEASE_INFO_SIZE + QXL_DRAW.surfaceId,
          src_handle: r.handle,
          dst_handle: 0,
          reloc_type: QXL_RELOC_TYPE_SURF,
          pad: 0,
        }
      : {
          src_offset: QXL_FILL_OFFSET,
          dst_offset: QXL_RELEASE_INFO_SIZE + QXL_DRAW.dst,
          src_handle: r.handle,
          dst_handle: 0,
          reloc_type: QXL_RELOC_TYPE_BO,
          pad: 0,
        },
  );
  if (c.badRelocType)
    relocs.push({
      src_offset: 0,
      dst_offset: QXL_RELEASE_INFO_SIZE + QXL_DRAW.src,
      src_handle: 0,
      dst_handle: 0,
      reloc_type: 9,
      pad: 0,
    });
  for (let i = 0; i < relocs.length; i++)
    b.set(encodeDrmQxlReloc(relocs[i]!), PAGE_RELOCS_AT + i * DRM_QXL_RELOC_SIZE);
  const command = encodeDrmQxlCommand({
    command: page + PAGE_CMD_AT,
    relocs: page + PAGE_RELOCS_AT,
    type: c.type,
    command_size: c.commandSize,
    relocs_num: relocs.length,
    pad: 0,
  });
  for (let i = 0; i < count; i++) b.set(command, PAGE_COMMAND_AT + i * DRM_QXL_COMMAND_SIZE);
  return b;
}

/** The most commands a command page holds (the rest of the page past PAGE_COMMAND_AT). */
export const QXL_MAX_COMMANDS_PER_PAGE = Math.floor(
  (4096 - PAGE_COMMAND_AT) / DRM_QXL_COMMAND_SIZE,
);

/** The user address of the (first) struct drm_qxl_command on a command page at `page`. */
export function qxlCommandAt(page: number): number {
  return page + PAGE_COMMAND_AT;
}

/** GETPARAM's parameters: QXL_PARAM_NUM_SURFACES, QXL_PARAM_MAX_RELOCS, and unknown ones. */
export const QXL_PARAMS = [1, 2, 0, 3, 2 ** 40] as const;
/** Models QXL_MAX_RES: what GETPARAM(QXL_PARAM_MAX_RELOCS) returns on every device. */
export const QXL_MAX_RES = 96;
/** CLIENTCAP indexes: bits of the 58-byte capability array, and past it (-ENOSYS). */
export const QXL_CLIENTCAP_INDEXES = [0, 1, 5, 7, 8, 100, 463, 464, 1000, 0xffff_ffff] as const;
/** The first CLIENTCAP index past the device's 58 bytes of client capabilities. */
export const QXL_CLIENTCAP_END = 58 * 8;

// ---- vmwgfx -------------------------------------------------------------------------------

/** SVGA3D_R8G8B8A8_UNORM-like format 2 as the driver's tests use it (any the model accepts). */
export const VMW_SURFACE_FORMAT = 2;

/** A command stream of the model's EXECBUF (vmwgfx-execbuf.ts): `fill <handle> <byte>` etc. */
export function vmwFill(handle: number, byte: number): string {
  return `fill ${handle} ${byte}`;
}

/** A context command of EXECBUF (vmwgfx-execbuf-cmd.ts): `clear <cid>`. */
export function vmwClear(cid: number): string {
  return `clear ${cid}`;
}

/**
 * What the private ioctls made in one DRM file (fuzz.ts keeps one per file): vmwgfx surface,
 * fence and context handles (ttm base objects, not GEM handles: out of the file's GEM
 * bookkeeping), the GEM handles private creations made (`bos`), and the object handles given
 * back (`gone`: a lookup of one may fail or, once the device's idr hands the number out again,
 * reach another object). A handle is listed once per open.
 */
export interface PrivFile {
  readonly bos: number[];
  readonly surfaces: number[];
  readonly fences: number[];
  readonly contexts: number[];
  readonly gone: number[];
}

/** -ENOMEM (include/uapi/asm-generic/errno-base.h). */
const ENOMEM = 12;
/** -EINVAL (include/uapi/asm-generic/errno-base.h). */
const EINVAL = 22;

/**
 * What a QXL_ALLOC of a valid size may return besides what every call may (-EACCES, an
 * allocation failure's errno): 0, and on a device whose VRAM is small (DeviceNodes.scarce,
 * RegisteredDevice.scarceMemory) -ENOMEM: qxl_alloc_ioctl() -> qxl_gem_object_create() ->
 * qxl_bo_create() -> ttm_bo_init_reserved() -> ttm_bo_validate(), whose -ENOSPC from
 * ttm_bo_mem_space() (nothing fits in VRAM, the only placement of QXL_GEM_DOMAIN_VRAM, even after
 * evicting what the LRU walk could lock) becomes -ENOMEM "for backward compatibility with
 * userspace" (v6.12.19 and v6.18.35 alike). On a device of ample VRAM it is a divergence.
 */
export function qxlAllocExpect(scarce: boolean): readonly number[] {
  return scarce ? [0, -ENOMEM] : [0];
}

/**
 * What an EXECBUFFER whose command names a relocation of a bad type or a never-valid handle
 * returns: -EINVAL, and on a device whose VRAM is small (DeviceNodes.scarce) also -ENOMEM:
 * qxl_process_single_command() allocates the command's release (qxl_alloc_release_reserved(),
 * a new release bo in VRAM when the current one is full: qxl_bo_create() -> ttm_bo_validate()'s
 * -ENOMEM when the trylocking eviction walk frees too little, say while the only evictable
 * buffer is locked by its own release) before it reads the relocations (v6.12.19 and v6.18.35
 * alike). On a device of ample VRAM the -ENOMEM is a divergence.
 */
export function qxlExecBadRelocExpect(scarce: boolean): readonly number[] {
  return scarce ? [-EINVAL, -ENOMEM] : [-EINVAL];
}

/**
 * The handle a creation in a file holding `live` is about to get, as a racing thread guesses it
 * (the file's object_idr hands out the lowest free id from 1: idr_alloc(..., 1, 0)): the lowest
 * free one (`lowest`), or one above the highest live one (right after a run of creations).
 */
export function qxlGuessHandle(live: Iterable<number>, lowest: boolean): number {
  const held = new Set(live);
  if (lowest) {
    let g = 1;
    while (held.has(g)) g++;
    return g;
  }
  return Math.max(0, ...held) + 1;
}
