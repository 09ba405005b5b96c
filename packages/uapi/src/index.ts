/**
 * @primetime/uapi: the kernel/userspace ABI (see README.md): ioctl numbers, argument structs and
 * flags, laid out as the kernel's include/uapi tree. It depends on nothing: the DRM core and the
 * dma-buf package decode requests with it, libdrm builds them with it.
 */

export * from "./asm/stat.js";
export * from "./asm-generic/fcntl.js";
export * from "./asm-generic/ioctl.js";
export * from "./asm-generic/ioctls.js";
export * from "./drm/drm.js";
export * from "./drm/drm-fourcc.js";
export * from "./drm/drm-mode.js";
export * from "./drm/qxl-drm.js";
export * from "./drm/vgem-drm.js";
export * from "./drm/vmwgfx-drm.js";
export * from "./linux/dma-buf.js";
export * from "./linux/dma-heap.js";
export * from "./linux/fs.js";
export * from "./linux/stat.js";
export * from "./linux/sw-sync.js";
export * from "./linux/sync-file.js";
