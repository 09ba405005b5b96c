import { describe, expect, it } from "vitest";
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
  DRM_FORMAT_NV12,
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_GEM_CHANGE_HANDLE,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_MODE_RMFB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_SET_MASTER,
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
    }).toEqual({
      VERSION: 0xc0406400,
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
