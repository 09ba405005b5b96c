/**
 * qxl as a driver under test (see `DriverUnderTest` of @primetime/gem). Its buffers for the
 * conformance suite are QXL_ALLOC objects (VRAM, reachable by the device: the GPU can fill and
 * checksum them), mapped with QXL_MAP and mmap(); qxl has no render node.
 */

import type { DriverUnderTest } from "@primetime/gem";
import { toQxl } from "./qxl-device.js";
import { DRM_IOCTL_QXL_ALLOC, DRM_IOCTL_QXL_MAP } from "./qxl-drm-uapi.js";
import {
  type CreateQxlOptions,
  createQxl,
  QXL_DRIVER_NAME,
  qxlDeviceFiniReleaseBos,
  qxlSettleDevice,
} from "./qxl-drv.js";

/**
 * The hardware surface slot counts a drawn device gets (QEMU's `-device qxl,num_surfaces=N`;
 * QEMU's default is 1024, the simulated device's 16): the default twice as often, and small
 * counts under which a few surfaces exhaust the ids and qxl_surface_id_alloc() runs the reaper
 * (3: ids 1 and 2, as the stress app's surface-reaper workload).
 */
export const QXL_DRAWN_SURFACES = [16, 16, 4, 3] as const;

/**
 * A qxl device configuration drawn through `draw` (DriverUnderTest.registerDrawn): the surface
 * slot count (QXL_DRAWN_SURFACES) and, half the time, the device run as QEMU runs it with spice:
 * its worker in a thread of its own (`spiceWorker`), which consumes commands and hands releases
 * back concurrently with the CPUs. `base`: sizes the harness gives (VRAM pages). The draws'
 * labels are "qxl num_surfaces" and "qxl spice worker".
 */
export function drawQxlConfig(
  draw: (n: number, label: string) => number,
  base: CreateQxlOptions = {},
): CreateQxlOptions {
  const nSurfaces = QXL_DRAWN_SURFACES[draw(QXL_DRAWN_SURFACES.length, "qxl num_surfaces")]!;
  const spiceWorker = draw(2, "qxl spice worker") === 1;
  return { ...base, nSurfaces, spiceWorker };
}

export const driverUnderTest: DriverUnderTest = {
  name: QXL_DRIVER_NAME,
  register: (kernel) => createQxl(kernel),
  registerDrawn: (kernel, draw) => createQxl(kernel, drawQxlConfig(draw)),
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
