/**
 * struct drm_device and its life cycle (drivers/gpu/drm/drm_drv.c, include/drm/drm_device.h).
 *
 * A device is built from a DrmDriver description with drmDevAlloc(), then registered on a
 * kernel with drmDevRegister(), which creates its minors: the primary node /dev/dri/cardN and,
 * for DRIVER_RENDER drivers, the render node /dev/dri/renderD(128+N). Open files, exported
 * dma-bufs and minors hold references on the device (drm_dev_get/put); the last put releases it.
 *
 * The device also keeps counters of the GEM state it owns (objects, handles, flink names,
 * exported dma-bufs, open files), the model of i915's debugfs object count that IGT's leak
 * checks read: drmDevCounters() returns a snapshot, drmDevCheckLeaks() compares with a baseline.
 */

import { Kref } from "@primetime/atomics";
import {
  EINVAL,
  type Errno,
  errPtr,
  Idr,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  Mutex,
  SlabObject,
  SpinLock,
} from "@primetime/kernel";
import { point, report } from "@primetime/sim";
import type { DrmMaster } from "./drm-auth.js";
import { DRIVER_GEM, DRIVER_LEGACY, DRIVER_RENDER, type DrmDriver } from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";
import type { GemObject } from "./drm-gem.js";
import {
  DRM_MINOR_PRIMARY,
  DRM_MINOR_RENDER,
  type DrmKernel,
  type DrmMinor,
  drmMinorAlloc,
  drmMinorFree,
  drmMinorRegister,
  drmMinorUnregister,
} from "./drm-minor.js";
import { DrmModeConfig } from "./drm-mode-config.js";
import { DrmVmaOffsetManager } from "./drm-vma-manager.js";
import { DRM_COMMAND_BASE, DRM_IOCTL_NR } from "./uapi.js";

/** The slab cache of struct drm_device. */
export const drmDeviceCache = new KmemCache("drm_device");

/** The GEM state a device owns, counted for leak checks. */
export interface DrmDeviceCounters {
  /** GEM objects initialized and not yet released (drm_gem_private_object_init .. release). */
  objects: number;
  /** GEM handles in all files of the device. */
  handles: number;
  /** flink names in object_name_idr. */
  names: number;
  /** dma-bufs exported by drm_gem_dmabuf_export() and not yet released. */
  dmaBufs: number;
  /** Open DRM files. */
  files: number;
  /** PRIME cache entries in all files. */
  primeEntries: number;
}

/**
 * Models struct drm_device.
 *
 * Locking: `objectNameLock` protects `objectNameIdr` and every object's `handleCount`, `name`
 * and `dmaBuf`; `masterMutex` protects `master` and the files' master state; `filelistMutex`
 * protects `filelist`.
 * References: `ref` counts the device's users (files, minors' opens, exported dma-bufs); the
 * creator's reference is dropped with drmDevPut() after drmDevUnregister().
 */
export class DrmDevice extends SlabObject {
  readonly driver: DrmDriver;
  /** Models drm_device.ref. */
  readonly ref: Kref;
  /** Models drm_device.driver_features (a driver may clear bits per device). */
  driverFeatures: number;
  /** Models the parent struct device's name, what dma_buf_attach() is given. */
  readonly devName: string;
  /** The minor index N (card N, renderD 128+N), set by drmDevRegister(). */
  index = -1;
  primary: DrmMinor | null = null;
  render: DrmMinor | null = null;
  registered = false;
  /** Models drm_dev_unplug(): ioctls and opens fail with -ENODEV afterwards. */
  unplugged = false;
  /** Models object_name_lock. */
  readonly objectNameLock: Mutex;
  /** Models object_name_idr: flink names (from 1) to objects; the names hold no reference. */
  readonly objectNameIdr: Idr<GemObject>;
  /** Models vma_offset_manager. */
  readonly vmaOffsetManager = new DrmVmaOffsetManager();
  /** Models master_mutex. */
  readonly masterMutex: Mutex;
  /** Models if_version: the highest interface version SET_VERSION asked for (master_mutex). */
  ifVersion = 0;
  /** Models drm_device.master: the current master of the primary node, if any. */
  master: DrmMaster | null = null;
  /** Models filelist_mutex. */
  readonly filelistMutex: Mutex;
  /** Models filelist. */
  readonly filelist = new Set<DrmFile>();
  /**
   * Models event_lock: protects every file's `eventSpace`, `pendingEventList` and `eventList`
   * and each pending event's `filePriv` (drm_file.c's event machinery).
   */
  readonly eventLock: SpinLock;
  /** Models open_count. */
  openCount = 0;
  /** Models mode_config: the KMS state (framebuffers); a KMS driver sets its funcs and limits. */
  readonly modeConfig: DrmModeConfig;
  /** The GEM state counters (see DrmDeviceCounters). */
  readonly counters: DrmDeviceCounters = {
    objects: 0,
    handles: 0,
    names: 0,
    dmaBufs: 0,
    files: 0,
    primeEntries: 0,
  };
  /** The kernel the device is registered on. */
  kernel: DrmKernel | null = null;
  /** The driver's private data (drm_device embedded in the driver's struct). */
  driverPrivate: unknown = undefined;
  /**
   * The DRM core's drm_err() lines for this device (printk at KERN_ERR), in order: plain log
   * lines, not splats (the simulation's dmesg holds splats only), as the drivers keep theirs.
   */
  readonly drmErrors: string[] = [];

  constructor(driver: DrmDriver, devName: string) {
    super();
    this.driver = driver;
    this.driverFeatures = driver.driverFeatures;
    this.devName = devName;
    this.ref = new Kref(this);
    this.objectNameLock = new Mutex("object_name_lock", { owner: this });
    this.objectNameIdr = new Idr<GemObject>("object_name_idr", {
      lock: this.objectNameLock,
      base: 1,
    });
    this.masterMutex = new Mutex("master_mutex", { owner: this });
    this.filelistMutex = new Mutex("filelist_mutex", { owner: this });
    this.eventLock = new SpinLock("event_lock", { owner: this });
    this.modeConfig = new DrmModeConfig(this);
  }
}

export interface DrmDevAllocOptions {
  /** The parent device's name (default: the driver's name). */
  devName?: string;
  /** Driver private data. */
  driverPrivate?: unknown;
}

/** Checks a driver ioctl table: each entry sits at DRM_IOCTL_NR(cmd) - DRM_COMMAND_BASE. */
function checkIoctlTable(driver: DrmDriver): boolean {
  const table = driver.ioctls ?? [];
  return table.every((d, i) => DRM_IOCTL_NR(d.cmd) - DRM_COMMAND_BASE === i);
}

/**
 * Models devm_drm_dev_alloc() / drm_dev_init(): a device for `driver` with one reference (the
 * caller's), its GEM state initialized (drm_gem_init()). -EINVAL for a driver without a name,
 * with DRIVER_LEGACY, or whose ioctl table is not indexed by command number; -ENOMEM.
 *
 * Locking: none; may sleep.
 * References: returns the device with one reference.
 */
export async function drmDevAlloc(
  driver: DrmDriver,
  opts: DrmDevAllocOptions = {},
): Promise<DrmDevice | Errno> {
  await point("drm_dev_alloc");
  if (!driver.name || driver.driverFeatures & DRIVER_LEGACY) return errPtr(EINVAL);
  if (!checkIoctlTable(driver)) return errPtr(EINVAL);
  const dev = kmalloc(drmDeviceCache, () => new DrmDevice(driver, opts.devName ?? driver.name));
  if (isErr(dev)) return dev;
  dev.ref.init();
  dev.driverPrivate = opts.driverPrivate;
  return dev;
}

/**
 * Models drm_dev_get().
 * Locking: none; the caller holds a reference.
 * References: takes one.
 */
export function drmDevGet(dev: DrmDevice): Promise<void> {
  return dev.ref.get();
}

/**
 * Models drm_dev_put(): the last reference releases the device (driver ->release, then the
 * managed resources: the minors and the device memory).
 * Locking: none.
 * References: drops one.
 */
export function drmDevPut(dev: DrmDevice): Promise<void> {
  // No async frame: kref_put()'s RESOLVED when the put kept the task and was not the last
  // (callers skip their await), else its promise; a throw becomes a rejected promise.
  try {
    return dev.ref.putVoid(() => drmDevRelease(dev));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Models drm_dev_release() + drm_managed_release().
 * Locking: none; the last reference is gone.
 * References: frees the device and its minors' numbers.
 */
async function drmDevRelease(dev: DrmDevice): Promise<void> {
  await point(`drm_dev_release(${dev.name})`);
  if (dev.driver.release) await dev.driver.release(dev);
  if (!dev.objectNameIdr.isEmpty()) {
    report("warn", `drm_dev_release(${dev.name}): flink names left in object_name_idr`, {
      object: dev.name,
    });
  }
  if (dev.render) drmMinorFree(dev.render);
  if (dev.primary) drmMinorFree(dev.primary);
  dev.render = null;
  dev.primary = null;
  kfree(dev);
}

/**
 * Models drm_dev_register(): allocates the minors (primary, and render for DRIVER_RENDER) at
 * the lowest free index N of `kernel` and creates their nodes /dev/dri/cardN and
 * /dev/dri/renderD(128+N). Returns 0 or a negative errno (-EINVAL if already registered or the
 * driver lacks DRIVER_GEM, which this model requires).
 *
 * Locking: none; may sleep.
 * References: the minors hold no device reference of their own (each open takes one).
 */
export async function drmDevRegister(dev: DrmDevice, kernel: DrmKernel): Promise<number> {
  await point(`drm_dev_register(${dev.name})`);
  if (dev.registered || !(dev.driverFeatures & DRIVER_GEM)) return -EINVAL;
  dev.kernel = kernel;
  const primary = await drmMinorAlloc(dev, DRM_MINOR_PRIMARY, kernel);
  if (isErr(primary)) return primary;
  dev.primary = primary;
  dev.index = primary.index;
  if (dev.driverFeatures & DRIVER_RENDER) {
    const render = await drmMinorAlloc(dev, DRM_MINOR_RENDER, kernel, primary.index);
    if (isErr(render)) {
      drmMinorFree(primary);
      dev.primary = null;
      return render;
    }
    dev.render = render;
  }
  let ret = dev.render ? await drmMinorRegister(dev.render) : 0;
  if (ret === 0) ret = await drmMinorRegister(primary);
  if (ret !== 0) {
    if (dev.render) {
      await drmMinorUnregister(dev.render);
      drmMinorFree(dev.render);
      dev.render = null;
    }
    drmMinorFree(primary);
    dev.primary = null;
    return ret;
  }
  dev.registered = true;
  return 0;
}

/**
 * Models drm_dev_unregister() / drm_dev_unplug(): removes the device nodes; with `unplug`, marks
 * the device unplugged so that open files get -ENODEV from now on.
 *
 * Locking: none; may sleep.
 * References: none (open files keep theirs).
 */
export async function drmDevUnregister(dev: DrmDevice, unplug = false): Promise<void> {
  await point(`drm_dev_unregister(${dev.name})`);
  if (unplug) dev.unplugged = true;
  if (!dev.registered) return;
  dev.registered = false;
  if (dev.primary) await drmMinorUnregister(dev.primary);
  if (dev.render) await drmMinorUnregister(dev.render);
}

/** A snapshot of the device's GEM counters. */
export function drmDevCounters(dev: DrmDevice): DrmDeviceCounters {
  return { ...dev.counters };
}

/**
 * Compares the device's counters with `baseline` (a snapshot taken once the test's own files were
 * open) and reports a `warn` splat naming each counter that grew: the model of IGT's object-count
 * leak checks. Call it once the machine is quiesced. Returns the counters that differ.
 */
export function drmDevCheckLeaks(
  dev: DrmDevice,
  baseline: DrmDeviceCounters,
): (keyof DrmDeviceCounters)[] {
  const diff: (keyof DrmDeviceCounters)[] = [];
  for (const k of Object.keys(baseline) as (keyof DrmDeviceCounters)[]) {
    if (dev.counters[k] !== baseline[k]) diff.push(k);
  }
  if (diff.length > 0) {
    report(
      "warn",
      `${dev.driver.name}: GEM state leaked: ${diff
        .map((k) => `${k} ${baseline[k]} -> ${dev.counters[k]}`)
        .join(", ")}`,
      { object: dev.name },
    );
  }
  return diff;
}
