/**
 * @primetime/qxl: the qxl driver (see README.md) on TTM and a simulated QXL device: buffer
 * objects with GEM and TTM counts, hardware surfaces with their id table and reaper, releases
 * handed back by the device, the qxl ioctls, dumb buffers, mmap and PRIME, and qxl's historic
 * lifetime races as toggles.
 */

export * from "./driver-under-test.js";
export * from "./qxl-cmd.js";
export * from "./qxl-dev.js";
export * from "./qxl-device.js";
export * from "./qxl-drm-uapi.js";
export * from "./qxl-drv.js";
export * from "./qxl-gem.js";
export * from "./qxl-ioctl.js";
export * from "./qxl-irq.js";
export * from "./qxl-object.js";
export * from "./qxl-prime.js";
export * from "./qxl-release.js";
export * from "./qxl-ttm.js";
export * from "./toggles.js";
