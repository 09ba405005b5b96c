/**
 * @primetime/gem: the DRM core (see README.md): devices and minors, files and authentication,
 * ioctl dispatch, GEM objects, handles and flink names, PRIME, mmap offsets, dumb buffers, the
 * uapi, and the DRM core's historic races as toggles.
 */

export * from "./driver-under-test.js";
export * from "./drm-atomic.js";
export * from "./drm-atomic-helper.js";
export * from "./drm-auth.js";
export * from "./drm-connector.js";
export * from "./drm-crtc.js";
export * from "./drm-damage-helper.js";
export * from "./drm-device.js";
export * from "./drm-driver.js";
export * from "./drm-dumb.js";
export * from "./drm-exec.js";
export * from "./drm-file.js";
export * from "./drm-fourcc.js";
export * from "./drm-framebuffer.js";
export * from "./drm-gem.js";
export * from "./drm-gem-framebuffer-helper.js";
export * from "./drm-ioctl.js";
export * from "./drm-lease.js";
export * from "./drm-minor.js";
export {
  DRM_MM_INSERT_BEST,
  DRM_MM_INSERT_HIGH,
  DRM_MM_INSERT_LOW,
  DrmMm,
  type DrmMmInsertMode,
  type DrmMmNode,
} from "./drm-mm.js";
export * from "./drm-mmap.js";
export * from "./drm-mode-config.js";
export * from "./drm-mode-object.js";
export * from "./drm-modeset-lock.js";
export * from "./drm-plane.js";
export * from "./drm-prime.js";
export * from "./drm-property.js";
export * from "./drm-syncobj.js";
export * from "./drm-vblank.js";
export * from "./drm-vma-manager.js";
export * from "./toggles.js";
export * from "./uapi.js";
