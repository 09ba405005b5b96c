/**
 * @primetime/vgem: the minimal reference DRM driver (see README.md): GEM objects backed by system
 * pages, dumb buffers, PRIME export and import, and vgem's fence ioctls.
 */

export { driverUnderTest, vgemUnderTest } from "./driver-under-test.js";
export {
  type CreateVgemOptions,
  createVgem,
  destroyVgem,
  registerVgem,
  VGEM_DRIVER_DESC,
  VGEM_DRIVER_NAME,
  type VgemDevice,
  VgemObject,
  vgemDriver,
  vgemGemDumbCreate,
  vgemObjectCache,
} from "./vgem-drv.js";
export {
  VGEM_FENCE_TIMEOUT,
  VgemFence,
  type VgemFile,
  vgemFenceAttachIoctl,
  vgemFenceCache,
  vgemFenceClose,
  vgemFenceOpen,
  vgemFenceSignalIoctl,
} from "./vgem-fence.js";
export * from "./vgem-uapi.js";
