/**
 * __name__: a DRM driver generated from vgem's shape (`pnpm turbo gen driver`): GEM objects backed
 * by system pages, dumb buffers, mmap, flink and PRIME (export, self-import and foreign import
 * through the DRM core's helpers). Replace the object type and the hooks with your driver's,
 * keeping each hook's `Models foo()` note, its locking and reference rules and its errno, and the
 * conformance suite (src/conformance.test.ts) keeps checking the result.
 *
 * What a driver provides to the DRM core (see @primetime/gem's drm-driver.ts):
 * 1. a `DrmDriver` description: name, version, features (DRIVER_GEM, DRIVER_RENDER for a render
 *    node), its ioctl table and the hooks the core calls;
 * 2. a GEM object type extending `GemObject` with its `DrmGemObjectFuncs` (`free` must call
 *    drmPrimeGemDestroy() for an import, drmGemObjectRelease() and kfree());
 * 3. a way to create objects (dumb buffers here) that hands the object to a handle with
 *    drmGemHandleCreate() and then drops its own reference: from then on another thread can close
 *    the handle, so the driver must not touch the object afterwards;
 * 4. ->gem_prime_import_sg_table to import foreign dma-bufs (the core does the rest).
 */

import type { DmaBufAttachment, SgTable } from "@primetime/dma-buf";
import {
  DRIVER_GEM,
  DRIVER_RENDER,
  type DrmDevice,
  type DrmDriver,
  type DrmFile,
  type DrmGemObjectFuncs,
  type DrmKernel,
  type DrmModeCreateDumb,
  drmDevAlloc,
  drmDevPut,
  drmDevRegister,
  drmDevUnregister,
  drmGemCreateMmapOffset,
  drmGemHandleCreate,
  drmGemObjectFuncs,
  drmGemObjectInit,
  drmGemObjectPut,
  drmGemObjectRelease,
  drmGemPagesSgTable,
  drmGemPageVmOps,
  drmGemPrivateObjectInit,
  drmPrimeGemDestroy,
  GemObject,
} from "@primetime/gem";
import {
  EINVAL,
  type Errno,
  errPtr,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  PAGE_SIZE,
} from "@primetime/kernel";
import { point } from "@primetime/sim";

/** Models DRIVER_NAME. */
export const __NAME___DRIVER_NAME = "__name__";
/** Models DRIVER_DESC. */
export const __NAME___DRIVER_DESC = "__name__ DRM driver";

/** The slab cache of __name__ objects. */
export const __name__ObjectCache = new KmemCache("__name___object");

/**
 * A GEM object whose `pages` are its own system pages, or, for an import, the exporter's.
 * Locking: set up before the object is published; `sgt` read-only afterwards.
 * References: a GemObject's; an import also holds its dma-buf through the attachment, dropped by
 * drmPrimeGemDestroy() in free.
 */
export class __Name__Object extends GemObject {
  /** The page table of an import, given back at free. */
  sgt: SgTable | null = null;
}

/**
 * Models the driver's ->free (drm_gem_shmem_free() for a shmem-helper driver): an import gives
 * its page table and dma-buf back; then the GEM core's release and the kfree.
 * Locking: none; the last reference is gone. References: drops the import's dma-buf.
 */
async function __name__GemFree(obj: GemObject): Promise<void> {
  const o = obj as __Name__Object;
  await point(`__name___gem_free(${obj.name})`);
  if (obj.importAttach) await drmPrimeGemDestroy(obj, o.sgt);
  o.sgt = null;
  await drmGemObjectRelease(obj);
  kfree(obj);
}

/** The object functions: free, get_sg_table for foreign importers, mmap through page vm_ops. */
const __name__GemFuncs: DrmGemObjectFuncs = drmGemObjectFuncs({
  free: __name__GemFree,
  getSgTable: drmGemPagesSgTable,
  vmOps: drmGemPageVmOps,
});

/**
 * Creates an object of `size` bytes (page aligned) with zeroed pages (none when `private_`: an
 * import brings its own) and its mmap offset. Returns it with the caller's reference, or -ENOMEM
 * or the offset manager's error.
 * Locking: none; the object is not visible yet. References: the caller owns the one reference.
 */
async function __name__ObjectCreate(
  dev: DrmDevice,
  size: number,
  private_: boolean,
): Promise<__Name__Object | Errno> {
  await point("__name___gem_create_object");
  const obj = kmalloc(__name__ObjectCache, () => new __Name__Object(__name__GemFuncs));
  if (isErr(obj)) return obj;
  const aligned = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  if (private_) drmGemPrivateObjectInit(dev, obj, aligned);
  else drmGemObjectInit(dev, obj, aligned);
  const ret = await drmGemCreateMmapOffset(obj);
  if (ret) {
    await drmGemObjectRelease(obj);
    kfree(obj);
    return errPtr(ret);
  }
  return obj;
}

/**
 * Models the driver's ->dumb_create (drm_gem_shmem_dumb_create()): MODE_CREATE_DUMB.
 * pitch = DIV_ROUND_UP(width * bpp, 8), size = PAGE_ALIGN(pitch * height); then an object and a
 * handle for it. The outputs are written before the creation reference is dropped: reading the
 * object after the put would be the use-after-free "drm/qxl: fix UAF on handle creation" fixed.
 * Locking: none held; the handle creation takes object_name_lock and table_lock.
 * References: the creation reference is dropped; the handle keeps the object.
 */
export async function __name__GemDumbCreate(
  file: DrmFile,
  dev: DrmDevice,
  args: DrmModeCreateDumb,
): Promise<number> {
  const minPitch = Math.ceil((args.width * args.bpp) / 8);
  if (!args.pitch || !args.size) {
    args.pitch = minPitch;
    args.size = Math.ceil((args.pitch * args.height) / PAGE_SIZE) * PAGE_SIZE;
  } else {
    if (args.pitch < minPitch) args.pitch = minPitch;
    if (args.size < args.pitch * args.height)
      args.size = Math.ceil((args.pitch * args.height) / PAGE_SIZE) * PAGE_SIZE;
  }
  if (args.size === 0) return -EINVAL;
  const obj = await __name__ObjectCreate(dev, args.size, false);
  if (isErr(obj)) return obj;
  const ret = await drmGemHandleCreate(file, obj);
  await drmGemObjectPut(obj);
  if (ret < 0) return ret;
  args.handle = ret;
  return 0;
}

/**
 * Models ->gem_prime_import_sg_table: an object over a foreign dma-buf's pages (the core has
 * attached and mapped it).
 * Locking: object_name_lock held by the core's import.
 * References: returns an object with one reference; the core records the attachment.
 */
async function __name__PrimeImportSgTable(
  dev: DrmDevice,
  attach: DmaBufAttachment,
  sgt: SgTable,
): Promise<GemObject | Errno> {
  lockdepAssertHeld(dev.objectNameLock);
  const obj = await __name__ObjectCreate(dev, attach.dmabuf.size, true);
  if (isErr(obj)) return obj;
  obj.sgt = sgt;
  obj.pages = sgt.pages;
  return obj;
}

/** The driver description: GEM, a render node, dumb buffers, PRIME through the core's helpers. */
export const __name__Driver: DrmDriver = {
  name: __NAME___DRIVER_NAME,
  desc: __NAME___DRIVER_DESC,
  major: 1,
  minor: 0,
  patchlevel: 0,
  driverFeatures: DRIVER_GEM | DRIVER_RENDER,
  ioctls: [],
  dumbCreate: __name__GemDumbCreate,
  gemPrimeImportSgTable: __name__PrimeImportSgTable,
};

/** A registered __name__ device and its nodes. */
export interface __Name__Device {
  readonly device: DrmDevice;
  readonly card: string;
  readonly render: string;
}

/**
 * Allocates a device and registers it on `kernel` (its nodes appear at the lowest free minor).
 * Throws if the DRM core refuses (a bug, not an input error). Call it from a simulation task.
 * Locking: none; may sleep. References: the caller owns the device's creation reference.
 */
export async function create__Name__(kernel: DrmKernel): Promise<__Name__Device> {
  const dev = await drmDevAlloc(__name__Driver, { devName: __NAME___DRIVER_NAME });
  if (isErr(dev)) throw new Error(`__name__: drm_dev_alloc failed: ${dev}`);
  const ret = await drmDevRegister(dev, kernel);
  if (ret) {
    await drmDevPut(dev);
    throw new Error(`__name__: drm_dev_register failed: ${ret}`);
  }
  return { device: dev, card: dev.primary!.path, render: dev.render!.path };
}

/**
 * Unregisters the device and drops the creation reference; it is freed when its last file and
 * dma-buf are gone. Locking: none; may sleep. References: drops create__Name__()'s.
 */
export async function destroy__Name__(d: __Name__Device): Promise<void> {
  await drmDevUnregister(d.device);
  await drmDevPut(d.device);
}
