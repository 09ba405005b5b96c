/**
 * qxl as a driver under test (see `DriverUnderTest` of @primetime/gem). Its buffers for the
 * conformance suite are QXL_ALLOC objects (VRAM, reachable by the device: the GPU can fill and
 * checksum them), mapped with QXL_MAP and mmap(); qxl has no render node.
 */

import type { DriverUnderTest, RegisteredDevice } from "@primetime/gem";
import type { Kernel } from "@primetime/kernel";
import { toQxl } from "./qxl-device.js";
import { DRM_IOCTL_QXL_ALLOC, DRM_IOCTL_QXL_MAP } from "./qxl-drm-uapi.js";
import {
  type CreateQxlOptions,
  createQxl,
  QXL_DEFAULT_VRAM_PAGES,
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
 * The VRAM a drawn device gets, in pages of its RAM bar's VRAM memory type (QEMU's
 * `-device qxl,vram_size_mb=N,ram_size_mb=N`): `null` keeps the harness's size (`base`, or
 * QXL_DEFAULT_VRAM_PAGES), three times in four; otherwise 12 pages, a few buffers' worth (QXL_ALLOC
 * takes 1-4 pages, each release bo one), so that allocations evict (ttm_bo_mem_space() ->
 * ttm_bo_evict_alloc()) and sometimes fail with ttm_bo_validate()'s -ENOMEM.
 */
export const QXL_DRAWN_VRAM_PAGES = [null, null, null, 12] as const;

/**
 * The surface memory a drawn device with a small VRAM gets (pages of the surface bar): ALLOC_SURF's
 * objects (QXL_GEM_DOMAIN_SURFACE: the surface bar first, then VRAM) spill into VRAM once it is full.
 */
export const QXL_SMALL_SURFACE_PAGES = 4;

/**
 * A qxl device configuration drawn through `draw` (DriverUnderTest.registerDrawn): the surface
 * slot count (QXL_DRAWN_SURFACES) and, half the time, the device run as QEMU runs it with spice:
 * its worker in a thread of its own (`spiceWorker`), which consumes commands and hands releases
 * back concurrently with the CPUs; then the VRAM size (QXL_DRAWN_VRAM_PAGES: a small VRAM comes
 * with QXL_SMALL_SURFACE_PAGES of surface memory). `base`: sizes the harness gives (VRAM pages),
 * kept unless the small size is drawn. The draws' labels are "qxl num_surfaces", "qxl spice
 * worker" and "qxl vram".
 */
export function drawQxlConfig(
  draw: (n: number, label: string) => number,
  base: CreateQxlOptions = {},
): CreateQxlOptions {
  const nSurfaces = QXL_DRAWN_SURFACES[draw(QXL_DRAWN_SURFACES.length, "qxl num_surfaces")]!;
  const spiceWorker = draw(2, "qxl spice worker") === 1;
  const vram = QXL_DRAWN_VRAM_PAGES[draw(QXL_DRAWN_VRAM_PAGES.length, "qxl vram")]!;
  if (vram === null) return { ...base, nSurfaces, spiceWorker };
  return {
    ...base,
    nSurfaces,
    spiceWorker,
    vramPages: vram,
    surfacePages: QXL_SMALL_SURFACE_PAGES,
  };
}

/**
 * A qxl device of a drawn configuration (drawQxlConfig(draw, base)), registered on `kernel`, with
 * `scarceMemory` set when its VRAM is smaller than the default (DriverUnderTest.registerDrawn).
 * Call it from a task of the simulation the kernel runs in.
 */
export async function registerDrawnQxl(
  kernel: Kernel,
  draw: (n: number, label: string) => number,
  base: CreateQxlOptions = {},
): Promise<RegisteredDevice> {
  const opts = drawQxlConfig(draw, base);
  const q = await createQxl(kernel, opts);
  const scarceMemory = (opts.vramPages ?? QXL_DEFAULT_VRAM_PAGES) < QXL_DEFAULT_VRAM_PAGES;
  return { device: q.device, card: q.card, render: q.render, scarceMemory };
}

export const driverUnderTest: DriverUnderTest = {
  name: QXL_DRIVER_NAME,
  register: (kernel) => createQxl(kernel),
  registerDrawn: (kernel, draw) => registerDrawnQxl(kernel, draw),
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
