/**
 * mmap of GEM objects through the DRM fd (drivers/gpu/drm/drm_gem.c: drm_gem_mmap(),
 * drm_gem_mmap_obj(), drm_gem_vm_open/close()).
 *
 * Userspace gets a fake offset (MODE_MAP_DUMB or a driver ioctl) and passes it to mmap() on the
 * DRM fd; drm_gem_mmap() finds the object by offset under the offset manager's lock, takes a
 * reference with kref_get_unless_zero() (the object may be dying: its free path removes the
 * offset under that same lock), checks that the file may map it, and hands it to the VMA: the
 * mapping holds an object reference, dropped by the VMA's close (munmap, exit).
 */

import {
  EACCES,
  EINVAL,
  ENODEV,
  type File,
  mmapAssertLocked,
  PAGE_SIZE,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_PFNMAP,
  type Vma,
  type VmOperations,
} from "@primetime/kernel";
import { bug, RESOLVED, warnOn } from "@primetime/sim";
import type { DrmDevice } from "./drm-device.js";
import type { DrmFile } from "./drm-file.js";
import { drmGemObjectGet, drmGemObjectPut, type GemObject } from "./drm-gem.js";
import {
  drmVmaNodeIsAllowed,
  drmVmaNodeSize,
  drmVmaNodeStart,
  drmVmaOffsetExactLookupLocked,
  drmVmaOffsetLockLookup,
  drmVmaOffsetUnlockLookup,
} from "./drm-vma-manager.js";

/**
 * Models drm_gem_vm_open(): a VMA split or copied: the new VMA takes its own object reference.
 * References: takes one.
 * Locking: mmap_lock held.
 */
export async function drmGemVmOpen(vma: Vma): Promise<void> {
  mmapAssertLocked(vma.vmMm);
  const drmGemObjectGetDone = drmGemObjectGet(vma.vmPrivateData as GemObject);
  if (drmGemObjectGetDone !== RESOLVED) await drmGemObjectGetDone;
}

/**
 * Models drm_gem_vm_close(): the VMA goes away (munmap, exit): drops its object reference.
 * References: drops one.
 * Locking: mmap_lock held.
 */
export async function drmGemVmClose(vma: Vma): Promise<void> {
  mmapAssertLocked(vma.vmMm);
  const drmGemObjectPutDone = drmGemObjectPut(vma.vmPrivateData as GemObject);
  if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
}

/**
 * A fault handler for objects whose pages are in `obj.pages`: the page at the faulting offset
 * (relative to the object's fake offset), VM_FAULT_OOM when a shmem page cannot be allocated,
 * or VM_FAULT_SIGBUS past the end or without pages.
 * Locking: mmap_lock held for reading.
 */
export async function drmGemPageFault(vma: Vma, pgoff: number): Promise<Uint8Array | number> {
  mmapAssertLocked(vma.vmMm);
  const obj = vma.vmPrivateData as GemObject;
  if (!obj.checkAccess("drm_gem_fault")) return VM_FAULT_SIGBUS;
  const index = pgoff - drmVmaNodeStart(obj.vmaNode);
  const page = obj.pages?.[index];
  if (page) return page;
  // A shmem page that could not be allocated (RAM exhausted): shmem_fault()'s VM_FAULT_OOM.
  return obj.shmem && index >= 0 && index < obj.shmem.pages.length ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
}

/**
 * vm_operations for page-backed GEM objects: drm_gem_vm_open/close keep the VMA's object
 * reference, faults map `obj.pages`. Use as `funcs.vmOps` (without `funcs.mmap`).
 */
export const drmGemPageVmOps: VmOperations = {
  open: drmGemVmOpen,
  close: drmGemVmClose,
  fault: drmGemPageFault,
};

/**
 * Models drm_gem_mmap_obj(): maps `obj` into `vma` (-EINVAL if the VMA is larger than
 * `objSize`, or the object has neither funcs->mmap nor vm_ops).
 * Locking: mmap_lock held.
 * References: the VMA takes an object reference (kept on success).
 */
export async function drmGemMmapObj(obj: GemObject, objSize: number, vma: Vma): Promise<number> {
  mmapAssertLocked(vma.vmMm);
  // Check for valid size.
  if (objSize < vma.vmEnd - vma.vmStart) return -EINVAL;
  // A reference for this mapping, dropped by the vm_close.
  const drmGemObjectGetDone2 = drmGemObjectGet(obj);
  if (drmGemObjectGetDone2 !== RESOLVED) await drmGemObjectGetDone2;
  vma.vmPrivateData = obj;
  vma.vmOps = obj.funcs.vmOps ?? null;
  if (obj.funcs.mmap) {
    const ret = await obj.funcs.mmap(obj, vma);
    if (ret) {
      const drmGemObjectPutDone2 = drmGemObjectPut(obj);
      if (drmGemObjectPutDone2 !== RESOLVED) await drmGemObjectPutDone2;
      return ret;
    }
    if (!(vma.vmFlags & VM_DONTEXPAND))
      warnOn(true, `${obj.name}: funcs->mmap did not set VM_DONTEXPAND`);
  } else {
    if (!vma.vmOps) {
      const drmGemObjectPutDone3 = drmGemObjectPut(obj);
      if (drmGemObjectPutDone3 !== RESOLVED) await drmGemObjectPutDone3;
      return -EINVAL;
    }
    vma.vmFlags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  }
  return 0;
}

/**
 * drm_gem_mmap() for an explicit allowance tag (the DrmFile, or drm_gem_prime_mmap()'s temporary
 * file): lookup by offset, kref_get_unless_zero, permission check, drm_gem_mmap_obj().
 */
export async function drmGemMmapTagged(dev: DrmDevice, tag: object, vma: Vma): Promise<number> {
  if (dev.unplugged) return -ENODEV;
  const mgr = dev.vmaOffsetManager;
  let obj: GemObject | null = null;
  const drmVmaOffsetLockLookupDone = drmVmaOffsetLockLookup(mgr);
  if (drmVmaOffsetLockLookupDone !== RESOLVED) await drmVmaOffsetLockLookupDone;
  const node = await drmVmaOffsetExactLookupLocked(mgr, vma.vmPgoff, vma.nrPages);
  if (node) {
    obj = node.owner as GemObject;
    // A zero refcount means the object is being freed: its free path is waiting for this lock
    // to remove the offset. Treat it as gone.
    if (!(await obj.refcount.getUnlessZero())) obj = null;
  }
  const drmVmaOffsetUnlockLookupDone = drmVmaOffsetUnlockLookup(mgr);
  if (drmVmaOffsetUnlockLookupDone !== RESOLVED) await drmVmaOffsetUnlockLookupDone;
  if (!obj || !node) return -EINVAL;
  if (!(await drmVmaNodeIsAllowed(node, tag))) {
    const drmGemObjectPutDone4 = drmGemObjectPut(obj);
    if (drmGemObjectPutDone4 !== RESOLVED) await drmGemObjectPutDone4;
    return -EACCES;
  }
  const ret = await drmGemMmapObj(obj, drmVmaNodeSize(node) * PAGE_SIZE, vma);
  const drmGemObjectPutDone5 = drmGemObjectPut(obj);
  if (drmGemObjectPutDone5 !== RESOLVED) await drmGemObjectPutDone5;
  return ret;
}

/**
 * Models drm_gem_mmap(): the DRM fd's ->mmap. -ENODEV (unplugged), -EINVAL (no object at that
 * offset, or it is dying), -EACCES (this file has no handle to it).
 * Locking: mmap_lock held; takes the offset manager's lock.
 * References: see drmGemMmapObj().
 */
export async function drmGemMmap(filp: File, vma: Vma): Promise<number> {
  mmapAssertLocked(vma.vmMm);
  const file = filp.privateData as DrmFile | null;
  // A file whose drm_open() has not set private_data (see drmIoctl()): a NULL pointer oops.
  if (!file)
    bug("BUG: kernel NULL pointer dereference in drm_gem_mmap(): file->private_data is NULL");
  return drmGemMmapTagged(file.minor.dev, file, vma);
}
