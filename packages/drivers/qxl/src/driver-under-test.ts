/**
 * qxl as a driver under test (see `DriverUnderTest` of @primetime/gem). Its buffers for the
 * conformance suite are QXL_ALLOC objects (VRAM, reachable by the device: the GPU can fill and
 * checksum them), mapped with QXL_MAP and mmap(); qxl has no render node.
 */

import type { DriverUnderTest } from "@primetime/gem";
import { toQxl } from "./qxl-device.js";
import { DRM_IOCTL_QXL_ALLOC, DRM_IOCTL_QXL_MAP } from "./qxl-drm-uapi.js";
import { createQxl, QXL_DRIVER_NAME, qxlDeviceFiniReleaseBos, qxlSettleDevice } from "./qxl-drv.js";

export const driverUnderTest: DriverUnderTest = {
  name: QXL_DRIVER_NAME,
  register: (kernel) => createQxl(kernel),
  async createBo(drm, size) {
    const arg = { size, handle: 0 };
    await drm.ioctl(DRM_IOCTL_QXL_ALLOC, arg, "QXL_ALLOC");
    return arg.handle;
  },
  async mapBo(drm, handle, size) {
    const arg = { offset: 0, handle, pad: 0 };
    await drm.ioctl(DRM_IOCTL_QXL_MAP, arg, "QXL_MAP");
    return drm.mmap(arg.offset, size);
  },
  // The releases the device has not handed back, and the cached release bos (device state
  // until qxl_device_fini()), before a leak check of the live device.
  async settle(kernel, device) {
    const qdev = toQxl(device);
    await qxlSettleDevice(kernel, qdev);
    await qxlDeviceFiniReleaseBos(qdev);
  },
};

/** The same descriptor under a name that says which driver it is. */
export const qxlUnderTest: DriverUnderTest = driverUnderTest;
