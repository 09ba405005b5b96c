/**
 * vgem's uapi (include/uapi/drm/vgem_drm.h): its two driver ioctls, which let userspace play the
 * part of a device that reads or writes a buffer: FENCE_ATTACH puts an unsignalled fence on the
 * object's reservation (what a GPU job in flight looks like to everybody sharing the buffer),
 * FENCE_SIGNAL signals it (the job is done).
 *
 * The structs are plain objects with the uapi field names, laid out with drm.ts's
 * DrmStructLayout so that the ioctl numbers carry the C sizes.
 */

import { DRM_COMMAND_BASE, DRM_IOW, DRM_IOWR, type DrmStructLayout } from "./drm.js";

/** Models DRM_VGEM_FENCE_ATTACH: the driver ioctl number (from DRM_COMMAND_BASE). */
export const DRM_VGEM_FENCE_ATTACH = 0x1;
/** Models DRM_VGEM_FENCE_SIGNAL. */
export const DRM_VGEM_FENCE_SIGNAL = 0x2;

/** Models VGEM_FENCE_WRITE: the fence is a write (exclusive) fence; otherwise a read fence. */
export const VGEM_FENCE_WRITE = 0x1;

/** struct drm_vgem_fence_attach: in `handle`, `flags`, `pad` (must be 0); out `out_fence`. */
export interface DrmVgemFenceAttach {
  handle: number;
  flags: number;
  out_fence: number;
  pad: number;
}
export const DRM_VGEM_FENCE_ATTACH_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["flags", "u32"],
  ["out_fence", "u32"],
  ["pad", "u32"],
];

/** struct drm_vgem_fence_signal: in `fence` (an out_fence of ATTACH), `flags` (must be 0). */
export interface DrmVgemFenceSignal {
  fence: number;
  flags: number;
}
export const DRM_VGEM_FENCE_SIGNAL_LAYOUT: DrmStructLayout = [
  ["fence", "u32"],
  ["flags", "u32"],
];

/** Models DRM_IOCTL_VGEM_FENCE_ATTACH. */
export const DRM_IOCTL_VGEM_FENCE_ATTACH = DRM_IOWR(
  DRM_COMMAND_BASE + DRM_VGEM_FENCE_ATTACH,
  DRM_VGEM_FENCE_ATTACH_LAYOUT,
);
/** Models DRM_IOCTL_VGEM_FENCE_SIGNAL. */
export const DRM_IOCTL_VGEM_FENCE_SIGNAL = DRM_IOW(
  DRM_COMMAND_BASE + DRM_VGEM_FENCE_SIGNAL,
  DRM_VGEM_FENCE_SIGNAL_LAYOUT,
);
