/**
 * The qxl driver (drivers/gpu/drm/qxl/qxl_drv.c, qxl_kms.c, Linux v6.18): the driver
 * description and the device's set-up (qxl_device_init()) and tear-down (qxl_device_fini()).
 * Mode setting is userspace's framebuffers (ADDFB2/RMFB, qxl-display.ts) and, with the `crtcs`
 * registration option, CRTCs with primary planes that scan out (the fbdev console, cursor and
 * monitors config are not modeled).
 */

import {
  DRIVER_ATOMIC,
  DRIVER_GEM,
  DRIVER_MODESET,
  type DrmDevice,
  type DrmDriver,
  type DrmKernel,
  drmDevAlloc,
  drmDevPut,
  drmDevRegister,
  drmDevUnregister,
} from "@primetime/gem";
import { flushWork, isErr, type Kernel, kfree, kmalloc, PAGE_SIZE } from "@primetime/kernel";
import { RESOLVED, SimLocal, type Simulation, sleep } from "@primetime/sim";
import type { SystemMemory } from "@primetime/simgpu";
import { HZ_NS, qxlGarbageCollect, waitEventTimeout } from "./qxl-cmd.js";
import { QXL_IO_NOTIFY_OOM, QxlHw } from "./qxl-dev.js";
import { QxlDevice, qxlDeviceCache, toQxl } from "./qxl-device.js";
import { qxlModesetFini, qxlModesetInit, qxlModesetInitCrtcs } from "./qxl-display.js";
import { qxlModeDumbCreate, qxlModeDumbMmap } from "./qxl-gem.js";
import { qxlIoctls } from "./qxl-ioctl.js";
import { qxlIrqInit } from "./qxl-irq.js";
import {
  qxlBoForceDelete,
  qxlBoUnpin,
  qxlBoUnref,
  qxlSurfEvict,
  qxlVramEvict,
} from "./qxl-object.js";
import { qxlGemPrimeImportSgTable } from "./qxl-prime.js";
import { qxlTtmFini, qxlTtmInit } from "./qxl-ttm.js";

/** Models DRIVER_NAME. */
export const QXL_DRIVER_NAME = "qxl";
/** Models DRIVER_DESC. */
export const QXL_DRIVER_DESC = "RH QXL";

/**
 * Models the first step of qxl_device_fini(): the current release bos (the cached pages later
 * commands' releases are sub-allocated from, one per release type) are unpinned and put. They
 * are device state, not anything userspace leaked: a leak check of a live device (the stress
 * harness's settle) gives them back the same way.
 * Locking: none held; may sleep. References: drops the device's reference of each cached bo.
 */
export async function qxlDeviceFiniReleaseBos(qdev: QxlDevice): Promise<void> {
  for (let curIdx = 0; curIdx < 3; curIdx++) {
    const bo = qdev.currentReleaseBo[curIdx];
    if (!bo) continue;
    await qxlBoUnpin(bo);
    const qxlBoUnrefDone = qxlBoUnref(bo);
    if (qxlBoUnrefDone !== RESOLVED) await qxlBoUnrefDone;
    qdev.currentReleaseBoOffset[curIdx] = 0;
    qdev.currentReleaseBo[curIdx] = null;
  }
}

/**
 * Waits (in virtual time) until the device is idle and has handed every release back, and the
 * garbage collector has freed them: what unloading the driver needs (qxl_device_fini() waits
 * for the releases, but its count misses the DESTROY commands' releases, as in the kernel). Not
 * a kernel function: a harness's wait before it checks a live device for leaks (tests, the
 * stress app's settle, `driverUnderTest.settle`).
 * Locking: none held; may sleep. References: none.
 */
export async function qxlSettleDevice(kernel: Kernel, qdev: QxlDevice): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    await kernel.quiesce();
    const ring = qdev.hw.ram.cmdRing;
    const rel = qdev.hw.ram.releaseRing;
    if (
      ring.prod === ring.cons &&
      rel.prod === rel.cons &&
      !qdev.hw.gpu.busy &&
      qdev.releaseIdr.isEmpty()
    )
      return;
    await sleep(100_000, "qxl settle");
  }
}

/**
 * Models qxl_drm_release() / qxl_device_fini(), the DRM device's ->release: gives the current
 * release bos back, asks the device to hand back what it holds and waits (1 s) for every
 * release, flushes the garbage collector, evicts the memory types (qxl_surf_evict(), then
 * qxl_vram_evict()), force-deletes what userspace left, and tears TTM down.
 * Locking: none held; may sleep. References: the device's last.
 */
async function qxlDrmRelease(dev: DrmDevice): Promise<void> {
  const qdev = toQxl(dev);
  if (qdev.dumbShadowBo) await qxlModesetFini(qdev);
  await qxlDeviceFiniReleaseBos(qdev);
  // Ask host to release resources (+fill release ring), then wait for the release actually
  // happening.
  qdev.hw.outb(QXL_IO_NOTIFY_OOM);
  await waitEventTimeout(qdev.releaseEvent, () => qdev.releaseCount === 0, HZ_NS);
  await flushWork(qdev.gcWork);
  await qxlSurfEvict(qdev);
  await qxlVramEvict(qdev);
  await qxlBoForceDelete(qdev);
  await qxlTtmFini(qdev);
  // free_irq(): a handler still running (the spice worker's completions raise it at any
  // point) finishes before the device is freed.
  qdev.hw.onInterrupt(null);
  await qdev.hw.synchronizeIrq();
  // A handler that ran after the flush above may have queued the garbage collector again
  // (qxl_queue_garbage_collect()): flush it once more now that no handler can run, or it runs
  // on the freed device. Not in qxl_device_fini(), which never frees its interrupt: a real
  // device stops raising interrupts when it is unplugged, while the model's spice worker runs
  // until the device model is told to stop, so the model pairs free_irq() with the flush a
  // driver that frees its interrupt does (cancel_work_sync() or flush_work() after free_irq()).
  await flushWork(qdev.gcWork);
  await qdev.surfIdIdr.destroy();
  await qdev.releaseIdr.destroy();
  kfree(qdev);
}

/**
 * Models qxl_driver: GEM, mode setting and atomic (no render node); the qxl ioctls; dumb buffers
 * in the CPU domain; PRIME through the core's helpers.
 */
export const qxlDriver: DrmDriver = {
  name: QXL_DRIVER_NAME,
  desc: QXL_DRIVER_DESC,
  major: 0,
  minor: 1,
  patchlevel: 0,
  driverFeatures: DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC,
  ioctls: qxlIoctls,
  dumbCreate: qxlModeDumbCreate,
  dumbMapOffset: qxlModeDumbMmap,
  gemPrimeImportSgTable: qxlGemPrimeImportSgTable,
  release: qxlDrmRelease,
};

/** A registered qxl device. */
export interface QxlDeviceHandle {
  readonly device: DrmDevice;
  readonly qdev: QxlDevice;
  /** "/dev/dri/cardN" (qxl has no render node). */
  readonly card: string;
  readonly render: null;
}

/** The pages of a device's VRAM memory type when CreateQxlOptions.vramPages is not given (4 MiB). */
export const QXL_DEFAULT_VRAM_PAGES = 1024;

export interface CreateQxlOptions {
  /** Hardware surface slots (rom->n_surfaces, ids 1 .. n-1 usable). Default 16. */
  nSurfaces?: number;
  /** Pages of the VRAM memory type (the RAM bar). Default 1024 (4 MiB). */
  vramPages?: number;
  /** Pages of the surface memory type (the surface bar). Default 256. */
  surfacePages?: number;
  /** The host pool the GPU reaches. */
  systemMemory?: SystemMemory;
  /** Bits of the device's client capabilities. */
  clientCaps?: readonly number[];
  /** PCI revision (default 5). */
  revision?: number;
  sim?: Simulation | null;
  /** Runs the device as a spice worker thread (QxlHwOptions.spiceWorker). Default false. */
  spiceWorker?: boolean;
  /** Command ring entries (QxlHwOptions.cmdRingSize, tests only). Default 32, as QEMU's. */
  cmdRingSize?: number;
  /**
   * CRTCs to register (qxl_num_crtc), each with a primary plane and a connector
   * (qxl-display.ts). Default 0: no CRTC, so that runs which do not ask for them are unchanged
   * (the kernel's default is 4).
   */
  crtcs?: number;
}

/** Device numbers, per simulation (names the device and its interrupt task). */
/** kmalloc()'s constructor call for the device (one function, not a closure per call). */
function newQxlDevice(hw: QxlHw): QxlDevice {
  return new QxlDevice(hw, qxlGarbageCollect);
}

const devCounter = new SimLocal(() => ({ next: 0 }));

/**
 * Models qxl_pci_probe() + qxl_device_init(): the device (ROM, RAM header, rings) on a simulated
 * GPU, the driver state, TTM with its two memory types, the interrupt handler, and the DRM
 * device registered on `kernel` (card N). Throws if the DRM core refuses (a bug, not an input
 * error). Call it from a task of the simulation the kernel runs in.
 * Locking: none; may sleep. References: the caller owns the device's creation reference.
 */
export async function createQxl(
  kernel: DrmKernel,
  opts: CreateQxlOptions = {},
): Promise<QxlDeviceHandle> {
  const vramPages = opts.vramPages ?? QXL_DEFAULT_VRAM_PAGES;
  const surfacePages = opts.surfacePages ?? 256;
  const hw = new QxlHw({
    name: `qxl${devCounter.get().next++}`,
    vramPages: vramPages + surfacePages,
    surfacePages,
    nSurfaces: opts.nSurfaces,
    clientCaps: opts.clientCaps,
    revision: opts.revision,
    systemMemory: opts.systemMemory,
    sim: opts.sim,
    spiceWorker: opts.spiceWorker,
    cmdRingSize: opts.cmdRingSize,
  });
  const qdev = kmalloc(qxlDeviceCache, newQxlDevice, hw);
  if (isErr(qdev)) throw new Error(`qxl: kmalloc(qxl_device) failed: ${qdev}`);
  const dev = await drmDevAlloc(qxlDriver, { devName: "qxl", driverPrivate: qdev });
  if (isErr(dev)) throw new Error(`qxl: drm_dev_alloc failed: ${dev}`);
  qdev.ddev = dev;
  const r = qxlTtmInit(qdev, dev.vmaOffsetManager, vramPages, surfacePages);
  if (r) throw new Error(`qxl: qxl_ttm_init failed: ${r}`);
  qdev.vramSize = vramPages * PAGE_SIZE;
  qxlIrqInit(qdev);
  qxlModesetInit(dev);
  if (opts.crtcs) await qxlModesetInitCrtcs(dev, opts.crtcs);
  const ret = await drmDevRegister(dev, kernel);
  if (ret) {
    const drmDevPutDone = drmDevPut(dev);
    if (drmDevPutDone !== RESOLVED) await drmDevPutDone;
    throw new Error(`qxl: drm_dev_register failed: ${ret}`);
  }
  return { device: dev, qdev, card: dev.primary!.path, render: null };
}

/**
 * Models qxl_pci_remove(): unregisters the device and drops the creation reference; the
 * driver state is torn down when the last file and dma-buf are gone (->release).
 * Locking: none; may sleep. References: drops the creation reference.
 */
export async function destroyQxl(q: QxlDeviceHandle): Promise<void> {
  await drmDevUnregister(q.device);
  const drmDevPutDone2 = drmDevPut(q.device);
  if (drmDevPutDone2 !== RESOLVED) await drmDevPutDone2;
}
