/**
 * vgem's uapi (include/uapi/drm/vgem_drm.h): re-exported from @primetime/uapi, where userspace
 * gets it; kept here so that code importing it from @primetime/vgem keeps working.
 */

export {
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  DRM_VGEM_FENCE_ATTACH,
  DRM_VGEM_FENCE_ATTACH_LAYOUT,
  DRM_VGEM_FENCE_SIGNAL,
  DRM_VGEM_FENCE_SIGNAL_LAYOUT,
  type DrmVgemFenceAttach,
  type DrmVgemFenceSignal,
  VGEM_FENCE_WRITE,
} from "@primetime/uapi";
