/**
 * qxl as a driver under test (see `DriverUnderTest` of @primetime/gem). Its buffers for the
 * conformance suite are QXL_ALLOC objects (VRAM, reachable by the device: the GPU can fill and
 * checksum them), mapped with QXL_MAP and mmap(); qxl has no render node.
 */

import {
  type DrawnDeviceWants,
  type DriverUnderTest,
  drmAtomicHelperShutdown,
  type RegisteredDevice,
} from "@primetime/gem";
import type { Kernel } from "@primetime/kernel";
import { toQxl } from "./qxl-device.js";
import { qxlModesetFini } from "./qxl-display.js";
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
 * The VRAM of a drawn device with a small one, in pages of its RAM bar's VRAM memory type (QEMU's
 * `-device qxl,vram_size_mb=N,ram_size_mb=N`, scaled down as the simulated device is): a few
 * buffers' worth (QXL_ALLOC takes 1-4 pages, each release bo one), so that allocations evict
 * (ttm_bo_mem_space() -> ttm_bo_evict_alloc()) and sometimes fail with ttm_bo_validate()'s
 * -ENOMEM. Other drawn devices keep the harness's size (`base`, or QXL_DEFAULT_VRAM_PAGES).
 */
export const QXL_SMALL_VRAM_PAGES = 12;

/**
 * The surface memory a drawn device with a small VRAM gets (pages of the surface bar): ALLOC_SURF's
 * objects (QXL_GEM_DOMAIN_SURFACE: the surface bar first, then VRAM) spill into VRAM once it is full.
 */
export const QXL_SMALL_SURFACE_PAGES = 4;

/**
 * The one draw of the surface slot count and the VRAM size: QXL_DRAWN_SURFACES[i % 4], with a
 * small VRAM (QXL_SMALL_VRAM_PAGES) for values QXL_SMALL_VRAM_FROM (12) and up: one device in two
 * (one in four while the draw had 16 values, 12-15 small). Values 0-3 are the draws of the runs
 * before the VRAM was drawn (then `draw(4, ...)`), and 0-15 keep the meaning they had with 16
 * values: a token recorded then replays the same device.
 */
export const QXL_DRAWN_CONFIGS = 6 * QXL_DRAWN_SURFACES.length;

/** The first value of that draw with a small VRAM (12 of its 24: one device in two). */
export const QXL_SMALL_VRAM_FROM = 3 * QXL_DRAWN_SURFACES.length;

/**
 * The CRTC counts (qxl_num_crtc, QEMU's `-device qxl,max_outputs=N`; the module's default is 4)
 * a drawn device that is to scan out (DrawnDeviceWants.scanout) gets: one or two heads (two: the
 * dumb shadow of qxl_prepare_shadow() spans both heads side by side).
 */
export const QXL_DRAWN_CRTCS = [1, 2] as const;

/**
 * A qxl device configuration drawn through `draw` (DriverUnderTest.registerDrawn): the surface
 * slot count (QXL_DRAWN_SURFACES) and, one device in two, a small VRAM (QXL_SMALL_VRAM_PAGES with
 * QXL_SMALL_SURFACE_PAGES of surface memory), in one draw (QXL_DRAWN_CONFIGS); then, half the
 * time, the device run as QEMU runs it with spice: its worker in a thread of its own
 * (`spiceWorker`), which consumes commands and hands releases back concurrently with the CPUs.
 * `base`: sizes the harness gives (VRAM pages), kept unless the small VRAM is drawn. The draws'
 * labels are "qxl num_surfaces" and "qxl spice worker"; with `want.scanout`, a third, "qxl
 * crtcs", draws the CRTC count (QXL_DRAWN_CRTCS: CreateQxlOptions.crtcs), and the VRAM stays the
 * harness's (no small VRAM). Without it nothing more is drawn and the device has no CRTC, as
 * before.
 */
export function drawQxlConfig(
  draw: (n: number, label: string) => number,
  base: CreateQxlOptions = {},
  want: DrawnDeviceWants = {},
): CreateQxlOptions {
  const k = draw(QXL_DRAWN_CONFIGS, "qxl num_surfaces");
  const nSurfaces = QXL_DRAWN_SURFACES[k % QXL_DRAWN_SURFACES.length]!;
  const spiceWorker = draw(2, "qxl spice worker") === 1;
  const crtcs = want.scanout
    ? { crtcs: QXL_DRAWN_CRTCS[draw(QXL_DRAWN_CRTCS.length, "qxl crtcs")]! }
    : {};
  // A device that scans out keeps the harness's VRAM: the scaled-down one cannot hold the dumb
  // shadow (64x64 at first, heads side by side) and the pinned scanout bos beside the release
  // bos, and qxl_prepare_shadow() does not check qxl_bo_create(): a NULL dereference no real
  // device's VRAM (megabytes) meets.
  if (k < QXL_SMALL_VRAM_FROM || want.scanout) return { ...base, nSurfaces, spiceWorker, ...crtcs };
  return {
    ...base,
    nSurfaces,
    spiceWorker,
    vramPages: QXL_SMALL_VRAM_PAGES,
    surfacePages: QXL_SMALL_SURFACE_PAGES,
    ...crtcs,
  };
}

/**
 * A qxl device of a drawn configuration (drawQxlConfig(draw, base, want)), registered on `kernel`, with
 * `scarceMemory` set when its VRAM is smaller than the default (DriverUnderTest.registerDrawn).
 * Call it from a task of the simulation the kernel runs in.
 */
export async function registerDrawnQxl(
  kernel: Kernel,
  draw: (n: number, label: string) => number,
  base: CreateQxlOptions = {},
  want: DrawnDeviceWants = {},
): Promise<RegisteredDevice> {
  const opts = drawQxlConfig(draw, base, want);
  const q = await createQxl(kernel, opts);
  const scarceMemory = (opts.vramPages ?? QXL_DEFAULT_VRAM_PAGES) < QXL_DEFAULT_VRAM_PAGES;
  return { device: q.device, card: q.card, render: q.render, scarceMemory };
}

export const driverUnderTest: DriverUnderTest = {
  name: QXL_DRIVER_NAME,
  register: (kernel) => createQxl(kernel),
  registerDrawn: (kernel, draw, want) => registerDrawnQxl(kernel, draw, {}, want),
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
  // The releases the device has not handed back, the cached release bos (device state until
  // qxl_device_fini()) and the dumb shadow bo of the scanout (device state until
  // qxl_modeset_fini(): a device with CRTCs that showed a dumb framebuffer keeps it), before a
  // leak check of the live device. A device with CRTCs is first shut down as qxl_pci_remove()
  // does (drm_atomic_helper_shutdown(): every plane off, so that a framebuffer still shown, one
  // CLOSEFB left on its plane or one whose fd is closed while the plane shows it through another
  // reference, is put as at device removal); a device without CRTCs skips it (nothing to
  // disable, and runs without flips keep their steps).
  async settle(kernel, device) {
    const qdev = toQxl(device);
    if (device.modeConfig.crtcList.length > 0) await drmAtomicHelperShutdown(device);
    await qxlSettleDevice(kernel, qdev);
    await qxlDeviceFiniReleaseBos(qdev);
    await qxlModesetFini(qdev);
  },
};

/** The same descriptor under a name that says which driver it is. */
export const qxlUnderTest: DriverUnderTest = driverUnderTest;
