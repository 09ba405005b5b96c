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
  DRM_IOCTL_GEM_CHANGE_HANDLE,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_SET_MASTER,
  DRM_IOCTL_VERSION,
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  DRM_VERSION_LAYOUT,
  drmStructSize,
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
    });
    expect(drmStructSize(DRM_VERSION_LAYOUT)).toBe(64);
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
