/**
 * vgem, the virtual GEM provider (drivers/gpu/drm/vgem/vgem_drv.c): a DRM driver without
 * hardware. Its buffers are plain system pages; userspace creates them as dumb buffers, maps
 * them, names them (flink), shares them as dma-bufs with any other driver (PRIME export and
 * import), and fakes GPU work on them with fences (vgem-fence.ts). Mesa's software renderer and
 * IGT use it to test buffer sharing without a GPU, and it is the template for a driver package
 * here: copy this file, replace the object type and the hooks, and run the conformance suite.
 *
 * What a driver must provide to the DRM core (drm-driver.ts in @primetime/gem):
 * 1. a `DrmDriver` description: name, version, features (DRIVER_GEM, DRIVER_RENDER for a render
 *    node), the ioctl table (indexed by DRM_IOCTL_NR(cmd) - DRM_COMMAND_BASE, holes are entries
 *    without a handler), and the hooks the core calls;
 * 2. a GEM object type extending `GemObject`, with its `DrmGemObjectFuncs`: `free` is mandatory
 *    (it must call drmGemObjectRelease(), drmPrimeGemDestroy() for an import, and kfree()), the
 *    rest (mmap through vm_ops, get_sg_table for exports...) as the driver supports;
 * 3. a way to create objects (dumb buffers here) that hands the object to a handle with
 *    drmGemHandleCreate() and then drops its own reference: from that moment another thread can
 *    close the handle, so the driver must not touch the object afterwards;
 * 4. ->gem_prime_import_sg_table if it can import foreign dma-bufs (the core does the rest);
 * 5. per-file state in ->open / ->postclose, if it has any.
 *
 * This model follows the modern vgem, built on the shmem helpers (drm_gem_shmem_helper.c): the
 * shmem file is the object's `pages` array, populated at creation (the kernel populates shmem
 * pages lazily; the difference is not observable here).
 */

import { RefcountT } from "@primetime/atomics";
import {
  type DmaBufAttachment,
  dmaBufMmap,
  dmaResvAssertHeld,
  dmaResvLock,
  dmaResvUnlock,
  type SgTable,
} from "@primetime/dma-buf";
import {
  DRIVER_GEM,
  DRIVER_RENDER,
  DRM_COMMAND_BASE,
  DRM_IO,
  DRM_RENDER_ALLOW,
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
  drmGemPrivateObjectInit,
  drmGemVmClose,
  drmGemVmOpen,
  drmIoctlDef,
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
  mmapAssertLocked,
  PAGE_SIZE,
  pageAlign,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_SIGBUS,
  VM_MAYWRITE,
  VM_PFNMAP,
  VM_SHARED,
  type Vma,
  type VmOperations,
} from "@primetime/kernel";
import { opLabel, point, RESOLVED, warnOn } from "@primetime/sim";
import {
  type VgemFile,
  vgemFenceAttachIoctl,
  vgemFenceClose,
  vgemFenceOpen,
  vgemFenceSignalIoctl,
} from "./vgem-fence.js";
import {
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  DRM_VGEM_FENCE_ATTACH_LAYOUT,
  DRM_VGEM_FENCE_SIGNAL_LAYOUT,
} from "./vgem-uapi.js";

/** Models DRIVER_NAME. */
export const VGEM_DRIVER_NAME = "vgem";
/** Models DRIVER_DESC. */
export const VGEM_DRIVER_DESC = "Virtual GEM provider";

/** The slab cache of vgem objects (struct drm_gem_shmem_object). */
export const vgemObjectCache = new KmemCache("vgem_object");

/**
 * Models struct drm_gem_shmem_object as vgem allocates it (vgem_gem_create_object()): a GEM
 * object whose `pages` are its shmem pages, or, for an import, the exporter's pages.
 *
 * Locking: set up before the object is published; `sgt` read-only afterwards.
 * References: a GemObject's (see drm-gem.ts); an import also holds its dma-buf through the
 * attachment, dropped by drmPrimeGemDestroy() in free.
 */
export class VgemObject extends GemObject {
  /** Models shmem->sgt: the page table of an import, given back at free. */
  sgt: SgTable | null = null;
  /**
   * Models shmem->map_wc: vgem_gem_create_object() sets it (vgem has no begin/end CPU access
   * ioctls, so its mappings must be coherent, write-combined, or dma-buf sharing would not
   * work); __drm_gem_shmem_create() clears it again for an import, whose mappings go through
   * the exporter. Kept to document the choice: the simulated CPU is coherent anyway.
   */
  mapWc = true;
  /**
   * Models shmem->pages_use_count: holders of the pages array (a pin). The model's `pages` are the
   * shmem file and stay; the count says whether the kernel's array would be there.
   * Locking: changed under the object's reservation lock.
   */
  readonly pagesUseCount = new RefcountT(0);
  /** Models shmem->pages_pin_count (a dma-buf attachment's pin). Locking: the reservation lock. */
  readonly pagesPinCount = new RefcountT(0);
}

/** kmalloc()'s constructor call for a VgemObject (one function, not a closure per call). */
function newVgemObject(): VgemObject {
  return new VgemObject(vgemGemFuncs);
}

/**
 * Models drm_gem_shmem_free() / drm_gem_shmem_release(): an import gives its page table and
 * dma-buf back; an object of its own puts its pages under its reservation lock if they are held
 * (drm_gem_shmem_put_pages_locked()) and WARNs if a pin or a use is left; then the GEM core's
 * release (flink name, reservation, mmap offset) and the kfree.
 * Locking: none held; takes the object's reservation lock (not for an import).
 * References: the last reference is gone; drops the import's dma-buf.
 */
async function vgemGemFree(obj: GemObject): Promise<void> {
  const vobj = obj as VgemObject;
  await point(opLabel("drm_gem_shmem_free", obj.name));
  if (obj.importAttach) {
    await drmPrimeGemDestroy(obj, vobj.sgt);
  } else {
    await dmaResvLock(obj.resv);
    if (vobj.pagesUseCount.read() > 0) drmGemShmemPutPagesLocked(vobj);
    // The messages are built only when the WARN fires (as every warnOn() below).
    if (vobj.pagesUseCount.read() !== 0) warnOn(true, `${obj.name}: drm_WARN_ON(pages_use_count)`);
    if (vobj.pagesPinCount.read() !== 0) warnOn(true, `${obj.name}: drm_WARN_ON(pages_pin_count)`);
    const dmaResvUnlockDone = dmaResvUnlock(obj.resv);
    if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
  }
  vobj.sgt = null;
  await drmGemObjectRelease(obj);
  kfree(obj);
}

/**
 * Models drm_gem_shmem_get_pages_locked(): one more user of the pages array; the first gets it
 * with drm_gem_get_pages(), every page of the shmem file (-ENOMEM, and no user, when they do
 * not fit in RAM). 0 or -ENOMEM.
 * Locking: the object's reservation lock held (asserted).
 */
function drmGemShmemGetPagesLocked(obj: VgemObject): number {
  dmaResvAssertHeld(obj.resv);
  if (obj.pagesUseCount.incNotZero()) return 0;
  const ret = obj.shmem ? obj.shmem.getPages() : 0;
  if (ret) return ret;
  obj.pagesUseCount.set(1);
  return 0;
}

/**
 * Models drm_gem_shmem_put_pages_locked(): one user less; the last one would free the array
 * (drm_gem_put_pages(): the shmem file keeps the contents, as the model's pages do).
 * Locking: the object's reservation lock held (asserted).
 */
function drmGemShmemPutPagesLocked(obj: VgemObject): void {
  dmaResvAssertHeld(obj.resv);
  obj.pagesUseCount.decAndTest();
}

/**
 * Models drm_gem_shmem_object_pin() -> drm_gem_shmem_pin_locked(): a dma-buf attachment pins
 * the pages: the first pin gets them (drm_gem_shmem_get_pages_locked()), later ones count. A
 * pin of an import WARNs (drm_WARN_ON(drm_gem_is_imported())). 0.
 * Locking: the object's reservation lock held (drm_gem_pin() took it; asserted).
 */
async function vgemGemPin(obj: GemObject): Promise<number> {
  const vobj = obj as VgemObject;
  dmaResvAssertHeld(obj.resv);
  if (obj.importAttach !== null) warnOn(true, `${obj.name}: drm_WARN_ON(drm_gem_is_imported())`);
  if (vobj.pagesPinCount.incNotZero()) return 0;
  const ret = drmGemShmemGetPagesLocked(vobj);
  if (!ret) vobj.pagesPinCount.set(1);
  return ret;
}

/**
 * Models drm_gem_shmem_object_unpin() -> drm_gem_shmem_unpin_locked(): the last unpin puts the
 * pages (drm_gem_shmem_put_pages_locked()).
 * Locking: the object's reservation lock held (drm_gem_unpin() took it; asserted).
 */
async function vgemGemUnpin(obj: GemObject): Promise<void> {
  const vobj = obj as VgemObject;
  dmaResvAssertHeld(obj.resv);
  if (vobj.pagesPinCount.decAndTest()) drmGemShmemPutPagesLocked(vobj);
}

/**
 * Models is_cow_mapping() (include/linux/mm.h): a private mapping that may become writable,
 * `(flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE` (MAP_PRIVATE of a file opened for
 * writing).
 */
function isCowMapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}

/**
 * Models drm_gem_shmem_object_mmap() -> drm_gem_shmem_mmap(): an import is mapped by its
 * exporter (vm_private_data and vm_ops reset, dma_buf_mmap() at offset 0; on success the
 * reference drm_gem_mmap_obj() took is dropped, the VMA holds the dma-buf's file instead); an
 * object of its own refuses a copy-on-write mapping (-EINVAL), gets its pages under its
 * reservation lock (a pages user for the VMA, dropped by drm_gem_shmem_vm_close(); -ENOMEM past
 * RAM) and sets VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP (the write-combining page protection is
 * not modeled). 0 or a negative errno.
 * Locking: mmap_lock held (asserted); takes the object's reservation lock.
 * References: an import's success drops the object reference drm_gem_mmap_obj() took.
 */
async function vgemGemMmap(obj: GemObject, vma: Vma): Promise<number> {
  mmapAssertLocked(vma.vmMm);
  const vobj = obj as VgemObject;
  if (obj.importAttach) {
    // Reset both, so the VMA does not keep our vm_ops if the exporter's mmap sets none.
    vma.vmPrivateData = null;
    vma.vmOps = null;
    const ret = await dmaBufMmap(obj.dmaBuf, vma, 0);
    // Drop the reference drm_gem_mmap_obj() acquired.
    if (!ret) await drmGemObjectPut(obj);
    return ret;
  }
  if (isCowMapping(vma.vmFlags)) return -EINVAL;
  await dmaResvLock(obj.resv);
  const ret = drmGemShmemGetPagesLocked(vobj);
  const dmaResvUnlockDone2 = dmaResvUnlock(obj.resv);
  if (dmaResvUnlockDone2 !== RESOLVED) await dmaResvUnlockDone2;
  if (ret) return ret;
  vma.vmFlags |= VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  return 0;
}

/**
 * Models drm_gem_shmem_fault(): the page at the fault's offset within the VMA
 * (`vmf->pgoff - vma->vm_pgoff`), under the object's reservation lock; VM_FAULT_SIGBUS past
 * the object's end or without a pages array (drm_WARN_ON_ONCE). The huge-page path
 * (drm_gem_shmem_try_map_pmd()) and madvise (vgem never purges) are not modeled. Unlike
 * ttm_bo_vm_fault() it ignores vmf->flags: it never drops mmap_lock nor returns VM_FAULT_RETRY,
 * it sleeps on the reservation lock with mmap_lock held (v6.18).
 * Locking: mmap_lock held for reading (asserted); takes the reservation lock.
 */
async function drmGemShmemFault(
  vma: Vma,
  pgoff: number,
  _flags: number,
): Promise<Uint8Array | number> {
  mmapAssertLocked(vma.vmMm);
  const obj = vma.vmPrivateData as VgemObject;
  if (!obj.checkAccess("drm_gem_shmem_fault")) return VM_FAULT_SIGBUS;
  const numPages = obj.size / PAGE_SIZE;
  // Offset to faulty address in the VMA.
  const pageOffset = pgoff - vma.vmPgoff;
  await dmaResvLock(obj.resv);
  let ret: Uint8Array | number;
  if (
    pageOffset >= numPages ||
    (obj.pagesUseCount.read() === 0 && warnOn(true, `${obj.name}: drm_WARN_ON_ONCE(!shmem->pages)`))
  )
    ret = VM_FAULT_SIGBUS;
  else ret = obj.pages?.[pageOffset] ?? VM_FAULT_SIGBUS;
  const dmaResvUnlockDone3 = dmaResvUnlock(obj.resv);
  if (dmaResvUnlockDone3 !== RESOLVED) await dmaResvUnlockDone3;
  return ret;
}

/**
 * Models drm_gem_shmem_vm_open(): a split or copied VMA takes another pages user under the
 * reservation lock (drm_WARN_ON_ONCE if there was none), then drm_gem_vm_open()'s object
 * reference. WARNs for an import (its VMAs are the exporter's).
 * Locking: mmap_lock held (asserted); takes the reservation lock.
 * References: takes an object reference.
 */
async function drmGemShmemVmOpen(vma: Vma): Promise<void> {
  mmapAssertLocked(vma.vmMm);
  const obj = vma.vmPrivateData as VgemObject;
  if (obj.importAttach !== null) warnOn(true, `${obj.name}: drm_WARN_ON(drm_gem_is_imported())`);
  await dmaResvLock(obj.resv);
  if (!obj.pagesUseCount.incNotZero())
    warnOn(true, `${obj.name}: drm_WARN_ON_ONCE(!refcount_inc_not_zero(&shmem->pages_use_count))`);
  const dmaResvUnlockDone4 = dmaResvUnlock(obj.resv);
  if (dmaResvUnlockDone4 !== RESOLVED) await dmaResvUnlockDone4;
  await drmGemVmOpen(vma);
}

/**
 * Models drm_gem_shmem_vm_close(): the VMA's pages user put under the reservation lock, then
 * drm_gem_vm_close()'s object reference.
 * Locking: mmap_lock held (asserted); takes the reservation lock.
 * References: drops an object reference.
 */
async function drmGemShmemVmClose(vma: Vma): Promise<void> {
  mmapAssertLocked(vma.vmMm);
  const obj = vma.vmPrivateData as VgemObject;
  await dmaResvLock(obj.resv);
  drmGemShmemPutPagesLocked(obj);
  const dmaResvUnlockDone5 = dmaResvUnlock(obj.resv);
  if (dmaResvUnlockDone5 !== RESOLVED) await dmaResvUnlockDone5;
  await drmGemVmClose(vma);
}

/** Models drm_gem_shmem_vm_ops. */
const drmGemShmemVmOps: VmOperations = {
  fault: drmGemShmemFault,
  open: drmGemShmemVmOpen,
  close: drmGemShmemVmClose,
};

/**
 * Models drm_gem_shmem_funcs as vgem uses them: free; pin and unpin (drm_gem_shmem_object_pin()/
 * _unpin(): a dma-buf attachment pins the pages, under the reservation lock drm_gem_pin()
 * takes); get_sg_table for foreign importers (drm_gem_shmem_get_sg_table(): the object's
 * pages); mmap (drm_gem_shmem_object_mmap()) with drm_gem_shmem_vm_ops, whose fault handler
 * maps the pages under the reservation lock and whose open/close keep a pages user and the
 * mapping's object reference. Not modeled: print_info, vmap/vunmap.
 */
const vgemGemFuncs: DrmGemObjectFuncs = drmGemObjectFuncs({
  free: vgemGemFree,
  pin: vgemGemPin,
  unpin: vgemGemUnpin,
  getSgTable: drmGemPagesSgTable,
  mmap: vgemGemMmap,
  vmOps: drmGemShmemVmOps,
});

/**
 * Models vgem_gem_create_object() + __drm_gem_shmem_create(): a new object of `size` bytes
 * (page aligned), with zeroed pages (or none when `private_` is set: an import brings its own)
 * and its mmap offset. Returns it with one reference (the caller's), or -ENOMEM / the offset
 * manager's error (-ENOSPC, also for a 0-byte object: drm_mm refuses a node of size 0).
 * Locking: none; the object is not visible yet.
 * References: the caller owns the one reference.
 */
async function vgemObjectCreate(
  dev: DrmDevice,
  size: number,
  private_: boolean,
): Promise<VgemObject | Errno> {
  await point("vgem_gem_create_object");
  const obj = kmalloc(vgemObjectCache, newVgemObject);
  if (isErr(obj)) return obj;
  const aligned = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  if (private_) {
    drmGemPrivateObjectInit(dev, obj, aligned);
    obj.mapWc = false; // dma-buf mappings use always writecombine
  } else {
    drmGemObjectInit(dev, obj, aligned);
  }
  const ret = await drmGemCreateMmapOffset(obj);
  if (ret) {
    await drmGemObjectRelease(obj);
    kfree(obj);
    return errPtr(ret);
  }
  return obj;
}

/**
 * PAGE_ALIGN() of a u32: ALIGN()'s mask has the argument's type, so the sum wraps modulo 2^32
 * (for x < 2^32, pageAlign(x) is at most 2^32, which wraps to 0).
 */
function pageAlignU32(x: number): number {
  return pageAlign(x) >>> 0;
}

/**
 * Models drm_gem_shmem_dumb_create() + drm_gem_shmem_create_with_handle(): MODE_CREATE_DUMB.
 * `u32 min_pitch = DIV_ROUND_UP(args->width * args->bpp, 8)` and
 * `args->size = PAGE_ALIGN(args->pitch * args->height)`; then an object and a handle for it.
 *
 * The arithmetic is 32-bit, as the C types make it (width, bpp, pitch and height are __u32): the
 * product width * bpp, the `+ 7` of DIV_ROUND_UP(), the product pitch * height and
 * PAGE_ALIGN()'s `+ (PAGE_SIZE - 1)` (its mask has the argument's type) all wrap modulo 2^32,
 * here with Math.imul() and `>>> 0`. drm_mode_create_dumb() bounds only cpp * width (cpp =
 * DIV_ROUND_UP(bpp, 8)) and height * stride, so a width of 2^29 at 8 bpp passes it while
 * width * bpp = 2^32 wraps to 0: pitch 0, size 0, and the 0-page object's mmap offset is
 * drm_mm_insert_node_in_range()'s -ENOSPC (vgemObjectCreate()), which MODE_CREATE_DUMB returns.
 * A product that wraps to a small non-zero value (width 2^29 + 1 at 8 bpp: 8 bits) gives a
 * small buffer (pitch 1, one page) and succeeds, as in the kernel.
 *
 * No size check of its own: v6.18's drm_gem_shmem_dumb_create() has none (the pre-v5.14
 * vgem_gem_dumb_create() had `if (size == 0) return -EINVAL;`, gone with the move to the shmem
 * helpers; drm_mode_size_dumb(), whose drm_mode_align_dumb() refuses a zero size and whose
 * check_mul_overflow() refuses the wrap, came in v6.19). A zero geometry is the core's -EINVAL:
 * drm_mode_create_dumb() refuses a zero width, height or bpp and clears pitch and size before
 * calling here, so the `else` branch is reached only by a caller that bypasses the core.
 *
 * The outputs are written before the handle exists: once drmGemHandleCreate() returns, the
 * handle holds the object and the creation reference is dropped, so another thread may close the
 * (guessable) handle and free the object. Reading `obj.size` after the put is the use-after-free
 * that "drm/qxl: fix UAF on handle creation" and its vmwgfx twin fixed.
 *
 * Locking: none held; the handle creation takes object_name_lock and table_lock.
 * References: the creation reference is dropped; the handle keeps the object.
 */
export async function vgemGemDumbCreate(
  file: DrmFile,
  dev: DrmDevice,
  args: DrmModeCreateDumb,
): Promise<number> {
  // u32 min_pitch = DIV_ROUND_UP(args->width * args->bpp, 8), all in u32.
  const minPitch = Math.floor((((Math.imul(args.width, args.bpp) >>> 0) + 8 - 1) >>> 0) / 8);
  if (!args.pitch || !args.size) {
    args.pitch = minPitch;
    args.size = pageAlignU32(Math.imul(args.pitch, args.height) >>> 0);
  } else {
    // ensure sane minimum values
    if (args.pitch < minPitch) args.pitch = minPitch;
    if (args.size < Math.imul(args.pitch, args.height) >>> 0)
      args.size = pageAlignU32(Math.imul(args.pitch, args.height) >>> 0);
  }
  const obj = await vgemObjectCreate(dev, args.size, false);
  if (isErr(obj)) return obj;
  // Allocate an id in the file's handle table; the handle holds the object from now on.
  const ret = await drmGemHandleCreate(file, obj);
  // Drop the reference from the allocation: the handle holds it now.
  const drmGemObjectPutDone = drmGemObjectPut(obj);
  if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
  if (ret < 0) return ret;
  args.handle = ret;
  return 0;
}

/**
 * Models drm_gem_shmem_prime_import_sg_table(): an object over a foreign dma-buf's pages (the
 * core has attached and mapped it). The pages are the exporter's: writes through either side
 * are seen by the other.
 * Locking: object_name_lock held by the core's import.
 * References: returns an object with one reference; the core records the attachment.
 */
async function vgemPrimeImportSgTable(
  dev: DrmDevice,
  attach: DmaBufAttachment,
  sgt: SgTable,
): Promise<GemObject | Errno> {
  lockdepAssertHeld(dev.objectNameLock);
  const obj = await vgemObjectCreate(dev, attach.dmabuf.size, true);
  if (isErr(obj)) return obj;
  obj.sgt = sgt;
  obj.pages = sgt.pages;
  return obj;
}

/**
 * Models vgem_open(): the per-file state (the fence idr).
 * Locking: none. References: none.
 */
async function vgemOpen(_dev: DrmDevice, file: DrmFile): Promise<number> {
  await point("vgem_open");
  file.driverPriv = vgemFenceOpen();
  return 0;
}

/**
 * Models vgem_postclose(): signals and drops the file's remaining fences. Runs after the core
 * has released every handle of the file.
 * Locking: none. References: the fence idr's.
 */
async function vgemPostclose(_dev: DrmDevice, file: DrmFile): Promise<void> {
  await vgemFenceClose(file.driverPriv as VgemFile);
  file.driverPriv = undefined;
}

/**
 * Models vgem_ioctls[]: index 0 is the hole before DRM_VGEM_FENCE_ATTACH (0x1), an entry without
 * a handler (-EINVAL), as the designated initializers of DRM_IOCTL_DEF_DRV leave it. Both fence
 * ioctls are allowed on the render node and need no authentication.
 */
const vgemIoctls = [
  drmIoctlDef(DRM_IO(DRM_COMMAND_BASE + 0x0), null, 0, null, "VGEM_HOLE"),
  drmIoctlDef(
    DRM_IOCTL_VGEM_FENCE_ATTACH,
    vgemFenceAttachIoctl,
    DRM_RENDER_ALLOW,
    DRM_VGEM_FENCE_ATTACH_LAYOUT,
    "VGEM_FENCE_ATTACH",
  ),
  drmIoctlDef(
    DRM_IOCTL_VGEM_FENCE_SIGNAL,
    vgemFenceSignalIoctl,
    DRM_RENDER_ALLOW,
    DRM_VGEM_FENCE_SIGNAL_LAYOUT,
    "VGEM_FENCE_SIGNAL",
  ),
];

/**
 * Models vgem_driver: GEM and a render node; per-file fences; dumb buffers; PRIME through the
 * core's helpers (no primeHandleToFd/primeFdToHandle override), foreign imports through
 * vgemPrimeImportSgTable. The default dumb map offset (drm_gem_dumb_map_offset()) refuses
 * imported objects with -EINVAL.
 */
export const vgemDriver: DrmDriver = {
  name: VGEM_DRIVER_NAME,
  desc: VGEM_DRIVER_DESC,
  major: 1,
  minor: 0,
  patchlevel: 0,
  driverFeatures: DRIVER_GEM | DRIVER_RENDER,
  ioctls: vgemIoctls,
  open: vgemOpen,
  postclose: vgemPostclose,
  dumbCreate: vgemGemDumbCreate,
  gemPrimeImportSgTable: vgemPrimeImportSgTable,
};

/** A registered vgem device and its nodes. */
export interface VgemDevice {
  readonly device: DrmDevice;
  /** "/dev/dri/cardN". */
  readonly card: string;
  /** "/dev/dri/renderD(128+N)". */
  readonly render: string;
}

export interface CreateVgemOptions {
  /** The parent device's name (default "vgem"; the kernel's is the platform device "vgem"). */
  devName?: string;
}

/**
 * Models vgem_init(): allocates a vgem device and registers it on `kernel`, which creates its
 * nodes /dev/dri/cardN and /dev/dri/renderD(128+N) at the lowest free N (so a second vgem gets
 * card1: two devices for cross-device PRIME). Throws if the DRM core refuses (a bug, not an
 * input error). Call it from a task of the simulation the kernel runs in.
 * Locking: none; may sleep.
 * References: the caller owns the device's creation reference (destroyVgem() drops it).
 */
export async function createVgem(
  kernel: DrmKernel,
  opts: CreateVgemOptions = {},
): Promise<VgemDevice> {
  const dev = await drmDevAlloc(vgemDriver, { devName: opts.devName ?? VGEM_DRIVER_NAME });
  if (isErr(dev)) throw new Error(`vgem: drm_dev_alloc failed: ${dev}`);
  const ret = await drmDevRegister(dev, kernel);
  if (ret) {
    const drmDevPutDone = drmDevPut(dev);
    if (drmDevPutDone !== RESOLVED) await drmDevPutDone;
    throw new Error(`vgem: drm_dev_register failed: ${ret}`);
  }
  return { device: dev, card: dev.primary!.path, render: dev.render!.path };
}

/** createVgem() with the defaults: what `modprobe vgem` does. */
export function registerVgem(kernel: DrmKernel): Promise<VgemDevice> {
  return createVgem(kernel);
}

/**
 * Models vgem_exit(): unregisters the device (its nodes disappear; open files keep working) and
 * drops the creation reference; the device is freed when its last file and dma-buf are gone.
 * Locking: none; may sleep.
 * References: drops the creation reference createVgem() returned.
 */
export async function destroyVgem(vgem: VgemDevice): Promise<void> {
  await drmDevUnregister(vgem.device);
  const drmDevPutDone2 = drmDevPut(vgem.device);
  if (drmDevPutDone2 !== RESOLVED) await drmDevPutDone2;
}
