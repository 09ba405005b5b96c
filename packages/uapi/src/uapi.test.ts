import { describe, expect, it } from "vitest";
import * as uapi from "./index.js";
import {
  _IOC_DIR,
  _IOC_NR,
  _IOC_READ,
  _IOC_SIZE,
  _IOC_TYPE,
  _IOC_WRITE,
  _IOWR,
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_HEAP_IOCTL_ALLOC,
  DRM_FORMAT_C1,
  DRM_FORMAT_C2,
  DRM_FORMAT_C4,
  DRM_FORMAT_NV12,
  DRM_FORMAT_RGB888,
  DRM_FORMAT_XBGR2101010,
  DRM_FORMAT_XRGB1555,
  DRM_FORMAT_XRGB8888,
  DRM_FORMAT_XRGB2101010,
  DRM_IOCTL_GEM_CHANGE_HANDLE,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_GET_UNIQUE,
  DRM_IOCTL_MODE_ADDFB,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CLOSEFB,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_CREATE_LEASE,
  DRM_IOCTL_MODE_CURSOR,
  DRM_IOCTL_MODE_CURSOR2,
  DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_DIRTYFB,
  DRM_IOCTL_MODE_GET_LEASE,
  DRM_IOCTL_MODE_GETFB,
  DRM_IOCTL_MODE_GETFB2,
  DRM_IOCTL_MODE_LIST_LESSEES,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_MODE_REVOKE_LEASE,
  DRM_IOCTL_MODE_RMFB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_SET_MASTER,
  DRM_IOCTL_SET_UNIQUE,
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_QUERY,
  DRM_IOCTL_SYNCOBJ_RESET,
  DRM_IOCTL_SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
  DRM_IOCTL_SYNCOBJ_TRANSFER,
  DRM_IOCTL_SYNCOBJ_WAIT,
  DRM_IOCTL_VERSION,
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  DRM_MODE_FB_CMD2_LAYOUT,
  DRM_MODE_FB_DIRTY_CMD_LAYOUT,
  DRM_VERSION_LAYOUT,
  drmStructSize,
  drmStructSlots,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SYNC_IOC_FILE_INFO,
} from "./index.js";

// The values a C program compiled against the kernel's headers sees (x86-64, asm-generic
// ioctl.h), so that a request built here is the request the real kernel decodes.
describe("ioctl numbers", () => {
  it("include/uapi/drm/drm.h and drm_mode.h", () => {
    expect({
      VERSION: DRM_IOCTL_VERSION,
      GET_UNIQUE: DRM_IOCTL_GET_UNIQUE,
      SET_UNIQUE: DRM_IOCTL_SET_UNIQUE,
      GEM_CLOSE: DRM_IOCTL_GEM_CLOSE,
      GEM_FLINK: DRM_IOCTL_GEM_FLINK,
      GEM_OPEN: DRM_IOCTL_GEM_OPEN,
      GET_CAP: DRM_IOCTL_GET_CAP,
      SET_MASTER: DRM_IOCTL_SET_MASTER,
      PRIME_HANDLE_TO_FD: DRM_IOCTL_PRIME_HANDLE_TO_FD,
      PRIME_FD_TO_HANDLE: DRM_IOCTL_PRIME_FD_TO_HANDLE,
      MODE_CREATE_DUMB: DRM_IOCTL_MODE_CREATE_DUMB,
      MODE_MAP_DUMB: DRM_IOCTL_MODE_MAP_DUMB,
      MODE_DESTROY_DUMB: DRM_IOCTL_MODE_DESTROY_DUMB,
      GEM_CHANGE_HANDLE: DRM_IOCTL_GEM_CHANGE_HANDLE,
      SYNCOBJ_CREATE: DRM_IOCTL_SYNCOBJ_CREATE,
      SYNCOBJ_DESTROY: DRM_IOCTL_SYNCOBJ_DESTROY,
      SYNCOBJ_HANDLE_TO_FD: DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
      SYNCOBJ_FD_TO_HANDLE: DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
      SYNCOBJ_WAIT: DRM_IOCTL_SYNCOBJ_WAIT,
      SYNCOBJ_RESET: DRM_IOCTL_SYNCOBJ_RESET,
      SYNCOBJ_SIGNAL: DRM_IOCTL_SYNCOBJ_SIGNAL,
      SYNCOBJ_TIMELINE_WAIT: DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
      SYNCOBJ_QUERY: DRM_IOCTL_SYNCOBJ_QUERY,
      SYNCOBJ_TRANSFER: DRM_IOCTL_SYNCOBJ_TRANSFER,
      SYNCOBJ_TIMELINE_SIGNAL: DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
      MODE_ADDFB2: DRM_IOCTL_MODE_ADDFB2,
      MODE_RMFB: DRM_IOCTL_MODE_RMFB,
      MODE_GETFB: DRM_IOCTL_MODE_GETFB,
      MODE_GETFB2: DRM_IOCTL_MODE_GETFB2,
      MODE_CLOSEFB: DRM_IOCTL_MODE_CLOSEFB,
      MODE_ADDFB: DRM_IOCTL_MODE_ADDFB,
      MODE_DIRTYFB: DRM_IOCTL_MODE_DIRTYFB,
      MODE_CREATE_LEASE: DRM_IOCTL_MODE_CREATE_LEASE,
      MODE_LIST_LESSEES: DRM_IOCTL_MODE_LIST_LESSEES,
      MODE_GET_LEASE: DRM_IOCTL_MODE_GET_LEASE,
      MODE_REVOKE_LEASE: DRM_IOCTL_MODE_REVOKE_LEASE,
      MODE_CURSOR: DRM_IOCTL_MODE_CURSOR,
      MODE_CURSOR2: DRM_IOCTL_MODE_CURSOR2,
    }).toEqual({
      VERSION: 0xc0406400,
      // struct drm_unique: a __kernel_size_t and a char __user * (16 bytes)
      GET_UNIQUE: 0xc0106401,
      SET_UNIQUE: 0x40106410,
      GEM_CLOSE: 0x40086409,
      GEM_FLINK: 0xc008640a,
      GEM_OPEN: 0xc010640b,
      GET_CAP: 0xc010640c,
      SET_MASTER: 0x641e,
      PRIME_HANDLE_TO_FD: 0xc00c642d,
      PRIME_FD_TO_HANDLE: 0xc00c642e,
      MODE_CREATE_DUMB: 0xc02064b2,
      MODE_MAP_DUMB: 0xc01064b3,
      MODE_DESTROY_DUMB: 0xc00464b4,
      GEM_CHANGE_HANDLE: 0xc00864d2,
      // struct drm_syncobj_handle with `point` (24 bytes, v6.15+), drm_syncobj_wait with
      // `deadline_nsec` (40 bytes, v6.4+)
      SYNCOBJ_CREATE: 0xc00864bf,
      SYNCOBJ_DESTROY: 0xc00864c0,
      SYNCOBJ_HANDLE_TO_FD: 0xc01864c1,
      SYNCOBJ_FD_TO_HANDLE: 0xc01864c2,
      SYNCOBJ_WAIT: 0xc02864c3,
      SYNCOBJ_RESET: 0xc01064c4,
      SYNCOBJ_SIGNAL: 0xc01064c5,
      // struct drm_mode_fb_cmd2: 5 u32, handles/pitches/offsets[4], 4 bytes of padding, u64
      // modifier[4] (104 bytes); RMFB's argument is an unsigned int
      SYNCOBJ_TIMELINE_WAIT: 0xc03064ca,
      SYNCOBJ_QUERY: 0xc01864cb,
      SYNCOBJ_TRANSFER: 0xc02064cc,
      SYNCOBJ_TIMELINE_SIGNAL: 0xc01864cd,
      MODE_ADDFB2: 0xc06864b8,
      MODE_RMFB: 0xc00464af,
      // struct drm_mode_fb_cmd: 7 u32 (28 bytes); GETFB2 takes drm_mode_fb_cmd2; struct
      // drm_mode_closefb: 2 u32
      MODE_GETFB: 0xc01c64ad,
      MODE_GETFB2: 0xc06864ce,
      MODE_CLOSEFB: 0xc00864d0,
      // legacy ADDFB takes drm_mode_fb_cmd; struct drm_mode_fb_dirty_cmd: 4 u32 and a u64
      MODE_ADDFB: 0xc01c64ae,
      MODE_DIRTYFB: 0xc01864b1,
      // struct drm_mode_create_lease: u64 object_ids, 4 u32 (24 bytes); list_lessees and
      // get_lease: 2 u32 and a u64 (16 bytes); revoke_lease: one u32
      MODE_CREATE_LEASE: 0xc01864c6,
      MODE_LIST_LESSEES: 0xc01064c7,
      MODE_GET_LEASE: 0xc01064c8,
      MODE_REVOKE_LEASE: 0xc00464c9,
      // struct drm_mode_cursor: 7 32-bit fields (28 bytes); drm_mode_cursor2 adds hot_x, hot_y
      MODE_CURSOR: 0xc01c64a3,
      MODE_CURSOR2: 0xc02464bb,
    });
    expect(drmStructSize(DRM_VERSION_LAYOUT)).toBe(64);
    expect(drmStructSlots(DRM_MODE_FB_CMD2_LAYOUT).slots.map((s) => [s.name, s.offset])).toEqual([
      ["fb_id", 0],
      ["width", 4],
      ["height", 8],
      ["pixel_format", 12],
      ["flags", 16],
      ["handles", 20],
      ["pitches", 36],
      ["offsets", 52],
      ["modifier", 72],
    ]);
    expect(DRM_FORMAT_XRGB8888).toBe(0x34325258);
    expect(DRM_FORMAT_NV12).toBe(0x3231564e);
    // legacy ADDFB's formats (drm_mode_legacy_fb_format())
    expect([
      DRM_FORMAT_C1,
      DRM_FORMAT_C2,
      DRM_FORMAT_C4,
      DRM_FORMAT_XRGB1555,
      DRM_FORMAT_RGB888,
      DRM_FORMAT_XRGB2101010,
      DRM_FORMAT_XBGR2101010,
    ]).toEqual([
      0x20203143, 0x20203243, 0x20203443, 0x35315258, 0x34324752, 0x30335258, 0x30334258,
    ]);
    expect(drmStructSize(DRM_MODE_FB_DIRTY_CMD_LAYOUT)).toBe(24);
  });

  it("vgem_drm.h, dma-buf.h, sync_file.h, dma-heap.h and sw_sync", () => {
    expect({
      VGEM_FENCE_ATTACH: DRM_IOCTL_VGEM_FENCE_ATTACH,
      VGEM_FENCE_SIGNAL: DRM_IOCTL_VGEM_FENCE_SIGNAL,
      DMA_BUF_EXPORT_SYNC_FILE: DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
      DMA_BUF_IMPORT_SYNC_FILE: DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
      SYNC_FILE_INFO: SYNC_IOC_FILE_INFO,
      DMA_HEAP_ALLOC: DMA_HEAP_IOCTL_ALLOC,
      SW_SYNC_CREATE_FENCE: SW_SYNC_IOC_CREATE_FENCE,
      SW_SYNC_INC: SW_SYNC_IOC_INC,
    }).toEqual({
      VGEM_FENCE_ATTACH: 0xc0106441,
      VGEM_FENCE_SIGNAL: 0x40086442,
      DMA_BUF_EXPORT_SYNC_FILE: 0xc0086202,
      DMA_BUF_IMPORT_SYNC_FILE: 0x40086203,
      SYNC_FILE_INFO: 0xc0383e04,
      DMA_HEAP_ALLOC: 0xc0184800,
      SW_SYNC_CREATE_FENCE: 0xc0285700,
      SW_SYNC_INC: 0x40045701,
    });
  });

  // qxl_drm.h's DRM_IOCTL_QXL_* macros: DRM_IOWR/DRM_IOW(DRM_COMMAND_BASE + nr, struct), i.e.
  // dir << 30 | sizeof(struct) << 16 | 'd' << 8 | (0x40 + nr), the struct sizes of x86-64.
  it("qxl_drm.h: every request number is the C macro's", () => {
    const ioc = (dir: number, size: number, nr: number) =>
      ((dir << 30) | (size << 16) | (0x64 << 8) | (0x40 + nr)) >>> 0;
    const W = 1;
    const RW = 3;
    expect({
      ALLOC: uapi.DRM_IOCTL_QXL_ALLOC,
      MAP: uapi.DRM_IOCTL_QXL_MAP,
      EXECBUFFER: uapi.DRM_IOCTL_QXL_EXECBUFFER,
      UPDATE_AREA: uapi.DRM_IOCTL_QXL_UPDATE_AREA,
      GETPARAM: uapi.DRM_IOCTL_QXL_GETPARAM,
      CLIENTCAP: uapi.DRM_IOCTL_QXL_CLIENTCAP,
      ALLOC_SURF: uapi.DRM_IOCTL_QXL_ALLOC_SURF,
    }).toEqual({
      ALLOC: ioc(RW, 8, 0), // struct drm_qxl_alloc { __u32 size; __u32 handle; }
      MAP: ioc(RW, 16, 1), // { __u64 offset; __u32 handle; __u32 pad; }
      EXECBUFFER: ioc(W, 16, 2), // { __u32 flags; __u32 commands_num; __u64 commands; }
      UPDATE_AREA: ioc(W, 24, 3), // six __u32
      GETPARAM: ioc(RW, 16, 4), // { __u64 param; __u64 value; }
      CLIENTCAP: ioc(W, 8, 5), // { __u32 index; __u32 pad; }
      ALLOC_SURF: ioc(RW, 24, 6), // five __u32 and an __s32
    });
    expect(uapi.DRM_IOCTL_QXL_ALLOC).toBe(0xc0086440);
    // The arrays EXECBUFFER points at: struct drm_qxl_command and struct drm_qxl_reloc, 32 bytes.
    const cmd = {
      command: 0x1000_0000_1234,
      relocs: 0x2000,
      type: 1,
      command_size: 48,
      relocs_num: 2,
      pad: 0,
    };
    const cb = uapi.encodeDrmQxlCommand(cmd);
    expect(cb.byteLength).toBe(uapi.DRM_QXL_COMMAND_SIZE);
    expect(uapi.decodeDrmQxlCommand(cb)).toEqual(cmd);
    expect([...cb.subarray(16, 20)]).toEqual([1, 0, 0, 0]);
    const reloc = {
      src_offset: 8,
      dst_offset: 16,
      src_handle: 3,
      dst_handle: 0,
      reloc_type: uapi.QXL_RELOC_TYPE_BO,
      pad: 0,
    };
    expect(uapi.decodeDrmQxlReloc(uapi.encodeDrmQxlReloc(reloc))).toEqual(reloc);
    expect(() => uapi.decodeDrmQxlReloc(new Uint8Array(31))).toThrow(RangeError);
  });

  // vmwgfx_drv.c's DRM_IOCTL_VMW_* macros over vmwgfx_drm.h's numbers and structs.
  it("vmwgfx_drm.h: the request numbers of plain structs are the C macros'", () => {
    const ioc = (dir: number, size: number, nr: number) =>
      ((dir << 30) | (size << 16) | (0x64 << 8) | (0x40 + nr)) >>> 0;
    const W = 1;
    const R = 2;
    const RW = 3;
    expect({
      CREATE_CONTEXT: uapi.DRM_IOCTL_VMW_CREATE_CONTEXT,
      UNREF_CONTEXT: uapi.DRM_IOCTL_VMW_UNREF_CONTEXT,
      HANDLE_CLOSE: uapi.DRM_IOCTL_VMW_HANDLE_CLOSE,
      UNREF_SURFACE: uapi.DRM_IOCTL_VMW_UNREF_SURFACE,
      FENCE_WAIT: uapi.DRM_IOCTL_VMW_FENCE_WAIT,
      FENCE_SIGNALED: uapi.DRM_IOCTL_VMW_FENCE_SIGNALED,
      FENCE_UNREF: uapi.DRM_IOCTL_VMW_FENCE_UNREF,
      FENCE_EVENT: uapi.DRM_IOCTL_VMW_FENCE_EVENT,
      SYNCCPU: uapi.DRM_IOCTL_VMW_SYNCCPU,
    }).toEqual({
      CREATE_CONTEXT: ioc(R, 8, 7), // DRM_IOR(.., struct drm_vmw_context_arg { __s32 cid; __u32 pad64; })
      UNREF_CONTEXT: ioc(W, 8, 8),
      HANDLE_CLOSE: ioc(W, 8, 2), // struct drm_vmw_unref_dmabuf_arg
      UNREF_SURFACE: ioc(W, 8, 10), // struct drm_vmw_surface_arg
      FENCE_WAIT: ioc(RW, 40, 14), // __u32, __s32, __u64, __u64, four __s32
      FENCE_SIGNALED: ioc(RW, 24, 15),
      FENCE_UNREF: ioc(W, 8, 16),
      FENCE_EVENT: ioc(W, 24, 17), // __u64 fence_rep, __u64 user_data, __u32 handle, __u32 flags
      SYNCCPU: ioc(W, 16, 25),
    });
    expect(uapi.DRM_IOCTL_VMW_CREATE_CONTEXT).toBe(0x80086447);
    // The flattened unions (and EXECBUF's text command stream) keep the kernel's command number
    // and direction; only _IOC_SIZE is the flattened struct's (see vmwgfx-drm.ts).
    for (const [cmd, dir, nr] of [
      [uapi.DRM_IOCTL_VMW_ALLOC_BO, RW, 1],
      [uapi.DRM_IOCTL_VMW_GB_SURFACE_CREATE, RW, 23],
      [uapi.DRM_IOCTL_VMW_GB_SURFACE_REF, RW, 24],
      [uapi.DRM_IOCTL_VMW_CREATE_EXTENDED_CONTEXT, RW, 26],
    ] as const) {
      expect([_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd)]).toEqual([dir, 0x64, 0x40 + nr]);
    }
    expect(_IOC_NR(uapi.DRM_IOCTL_VMW_EXECBUF)).toBe(0x40 + 12);
  });

  it("decodes what it encodes, and refuses fields out of range", () => {
    const cmd = _IOWR("d", 0x0b, 16);
    expect({
      dir: _IOC_DIR(cmd),
      type: _IOC_TYPE(cmd),
      nr: _IOC_NR(cmd),
      size: _IOC_SIZE(cmd),
    }).toEqual({ dir: _IOC_READ | _IOC_WRITE, type: 0x64, nr: 0x0b, size: 16 });
    expect(() => _IOWR("d", 0x100, 16)).toThrow(RangeError);
    expect(() => _IOWR("dd", 1, 16)).toThrow(RangeError);
    expect(() => _IOWR("d", 1, 1 << 14)).toThrow(RangeError);
  });
});

// include/uapi/asm-generic/fcntl.h (x86-64 uses the generic values): the O_PATH family of open(2).
describe("open flags", () => {
  it("O_DIRECTORY, O_NOFOLLOW and O_PATH are the header's octal values", () => {
    expect(uapi.O_DIRECTORY).toBe(0o200000);
    expect(uapi.O_NOFOLLOW).toBe(0o400000);
    expect(uapi.O_PATH).toBe(0o10000000);
    expect(uapi.O_PATH & (uapi.O_ACCMODE | uapi.O_CLOEXEC | uapi.O_NONBLOCK)).toBe(0);
  });
});

describe("struct stat (x86-64) and new_encode_dev()", () => {
  it("lays struct stat out in 144 bytes and decodes what it encodes", () => {
    const st: uapi.Stat = {
      st_dev: 0x1d,
      st_ino: 2 ** 40 + 7,
      st_nlink: 1,
      st_mode: uapi.S_IFCHR | 0o600,
      st_uid: 0,
      st_gid: 44,
      st_rdev: 0xe280,
      st_size: 8192,
      st_blksize: 4096,
      st_blocks: 16,
    };
    const bytes = uapi.encodeStat(st);
    expect(bytes.length).toBe(uapi.STAT_SIZE);
    expect(uapi.STAT_SIZE).toBe(144);
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(24, true)).toBe(0o20600); // st_mode after dev, ino, nlink
    expect(view.getBigUint64(40, true)).toBe(0xe280n); // st_rdev after the pad
    expect(uapi.decodeStat(bytes)).toEqual(st);
    expect(() => uapi.decodeStat(bytes.subarray(0, 100))).toThrow(RangeError);
  });

  it("new_encode_dev(): MKDEV(226, 128) is 0xe280, large minors go to bits 20 and up; major()/minor() undo it", () => {
    const mkdev = (ma: number, mi: number) => ma * 2 ** 20 + mi;
    expect(uapi.newEncodeDev(mkdev(226, 0))).toBe(0xe200);
    expect(uapi.newEncodeDev(mkdev(226, 128))).toBe(0xe280);
    expect(uapi.newEncodeDev(mkdev(0, 0x123))).toBe(0x100023);
    for (const [ma, mi] of [
      [226, 0],
      [0, 0x123],
      [4095, 0xfffff],
    ] as const) {
      const d = uapi.newEncodeDev(mkdev(ma, mi));
      expect([uapi.devMajor(d), uapi.devMinor(d)]).toEqual([ma, mi]);
    }
    expect(uapi.S_ISCHR(uapi.S_IFCHR | 0o600)).toBe(true);
    expect(uapi.S_ISSOCK(uapi.S_IFSOCK | 0o777)).toBe(true);
    expect(uapi.S_ISCHR(0o600)).toBe(false);
  });
  it("KMS CRTC, plane and page flip ioctls have the kernel's numbers; drm_mode_crtc's mode sits at 36 (68 bytes), its name at 72", () => {
    expect({
      GETRESOURCES: uapi.DRM_IOCTL_MODE_GETRESOURCES,
      GETCRTC: uapi.DRM_IOCTL_MODE_GETCRTC,
      SETCRTC: uapi.DRM_IOCTL_MODE_SETCRTC,
      PAGE_FLIP: uapi.DRM_IOCTL_MODE_PAGE_FLIP,
      GETPLANERESOURCES: uapi.DRM_IOCTL_MODE_GETPLANERESOURCES,
      GETPLANE: uapi.DRM_IOCTL_MODE_GETPLANE,
    }).toEqual({
      // struct drm_mode_card_res: 4 u64 pointers, 8 u32 (64 bytes); struct drm_mode_crtc: 104
      // bytes; struct drm_mode_crtc_page_flip: 4 u32 and a u64; get_plane_res 16, get_plane 32
      GETRESOURCES: 0xc04064a0,
      GETCRTC: 0xc06864a1,
      SETCRTC: 0xc06864a2,
      PAGE_FLIP: 0xc01864b0,
      GETPLANERESOURCES: 0xc01064b5,
      GETPLANE: 0xc02064b6,
    });
    const slots = uapi.drmStructSlots(uapi.DRM_MODE_CRTC_LAYOUT).slots;
    const at = (n: string) => slots.find((s) => s.name === n)?.offset;
    expect([at("mode_clock"), at("mode_hdisplay"), at("mode_vrefresh"), at("mode_name")]).toEqual([
      36, 40, 60, 72,
    ]);
    const ev = uapi.encodeDrmEventVblank({
      type: uapi.DRM_EVENT_FLIP_COMPLETE,
      length: uapi.DRM_EVENT_VBLANK_SIZE,
      user_data: 0x1234_5678_9abcn,
      tv_sec: 1,
      tv_usec: 2,
      sequence: 3,
      crtc_id: 7,
    });
    expect(ev.length).toBe(32);
    expect(uapi.decodeDrmEventVblank(ev)).toMatchObject({ type: 2, crtc_id: 7, sequence: 3 });
  });
});
