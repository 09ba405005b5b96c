/**
 * CPU mappings of buffer objects (drivers/gpu/drm/ttm/ttm_bo_vm.c): the mmap set-up, the VMA's
 * open/close keeping a GEM reference (since v6.14: 39b1acfddfd5 "drm/ttm: use GEM references
 * for VM mappings"), and the fault handler, which takes the BO's reservation,
 * waits for a pipelined move to finish (the KERNEL fences), reserves the io space and maps the
 * page of the BO's *current* placement: a ttm_tt page or VRAM through the BAR. A move zaps
 * every mapping first (ttm_bo_unmap_virtual()), so the next access faults again and sees the
 * bytes where they are now.
 *
 * Also the historic TTM mmap (ttm_bo_mmap(), removed in Linux 5.14 when drivers went through
 * drm_gem_mmap()): the lookup of the BO by its fake offset, with ttm_bo_get_unless_zero(), its
 * VMAs holding TTM references as they did then.
 *
 * A fault maps up to TTM_BO_VM_NUM_PREFAULT pages from the faulting one on (to the end of the
 * VMA), as the kernel's speculative prefault does, all under the one reservation: a read of a
 * fresh mapping faults once per 16 pages, and a move's unmap still zaps them all.
 *
 * VM_FAULT_RETRY (v6.15/v6.16 ttm_bo_vm.c, unchanged in v6.18): on the first attempt of a fault
 * that allows retry, a contended reservation (ttm_bo_vm_reserve()) or a pipelined move still in
 * flight (ttm_bo_vm_fault_idle()) is waited for with mmap_lock released, holding a GEM reference
 * on the BO across the wait (since v6.14, 39b1acfddfd5; a TTM one before), and the fault returns
 * VM_FAULT_RETRY; the core mm takes mmap_lock again and retries with FAULT_FLAG_TRIED, when
 * the handler waits with mmap_lock held.
 *
 * Simplifications: no dummy page for unplugged devices (drm_dev_enter() is not modelled); no
 * signals, so the interruptible waits never fail (the kernel's VM_FAULT_NOPAGE for a signal
 * is unreachable).
 */

import {
  DmaResvUsage,
  dmaResvAssertHeld,
  dmaResvLockInterruptible,
  dmaResvTestSignaled,
  dmaResvTrylock,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  MAX_SCHEDULE_TIMEOUT,
} from "@primetime/dma-buf";
import {
  drmGemObjectGet,
  drmGemObjectPut,
  drmVmaNodeIsAllowed,
  drmVmaNodeStart,
  drmVmaOffsetLockLookup,
  drmVmaOffsetLookupLocked,
  drmVmaOffsetUnlockLookup,
} from "@primetime/gem";
import {
  EACCES,
  EINVAL,
  ERESTARTSYS,
  FAULT_FLAG_RETRY_NOWAIT,
  faultFlagAllowRetryFirst,
  mmapAssertLocked,
  mmapReadUnlock,
  PAGE_SIZE,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_MAYWRITE,
  VM_PFNMAP,
  VM_SHARED,
  type Vma,
  type VmOperations,
} from "@primetime/kernel";
import { point, RESOLVED, toggleEnabled } from "@primetime/sim";
import { TTM_MMAP_LOOKUP_PLAIN_GET } from "./toggles.js";
import {
  type TtmBufferObject,
  ttmBoGet,
  ttmBoGetUnlessZero,
  ttmBoPopulate,
  ttmBoPut,
} from "./ttm-bo.js";
import { ttmBoCpuPageReserved, ttmMemIoReserve } from "./ttm-bo-util.js";
import type { TtmDevice } from "./ttm-device.js";
import { TTM_TT_FLAG_EXTERNAL, TTM_TT_FLAG_EXTERNAL_MAPPABLE } from "./ttm-tt.js";

/**
 * Models ttm_bo_vm_reserve(bo, vmf) (v6.15/v6.16): takes the BO's reservation for the fault of
 * `vma` with fault flags `flags` (vmf->flags). A trylock first; if the reservation is contended
 * and this is the first attempt of a retryable fault (fault_flag_allow_retry_first()), then
 * unless FAULT_FLAG_RETRY_NOWAIT it takes a GEM reference, releases mmap_lock, waits for the
 * reservation (dma_resv_lock_interruptible(), then unlocks it at once) and drops the reference;
 * either way VM_FAULT_RETRY without the reservation (a kill during that wait: the lock fails
 * with -EINTR, nothing to unlock; the fault path then sees the signal and does not retry).
 * Otherwise it sleeps on the reservation with mmap_lock held (VM_FAULT_NOPAGE if interrupted by
 * a signal: the access is retried, or the thread dies first). Then refuses to fault
 * imported pages (VM_FAULT_SIGBUS). 0 with the reservation held.
 * Locking: mmap_lock held for reading; takes the reservation; on VM_FAULT_RETRY (without
 * FAULT_FLAG_RETRY_NOWAIT) mmap_lock has been released.
 * References: the VMA's; a GEM one held across the wait without mmap_lock (the VMA may be
 * unmapped and the last handle closed meanwhile).
 */
export function ttmBoVmReserve(bo: TtmBufferObject, vma: Vma, flags: number): Promise<number> {
  return vmReserve(bo, vma, flags, GEM_REFS);
}

/**
 * The references a fault holds on its BO while it waits without mmap_lock: GEM ones since v6.14
 * (39b1acfddfd5 "drm/ttm: use GEM references for VM mappings"), TTM ones (ttm_bo_get() /
 * ttm_bo_put()) before, as the historic ttm_bo_mmap()'s vm ops use.
 */
interface VmRefs {
  get(bo: TtmBufferObject): Promise<void>;
  put(bo: TtmBufferObject): Promise<void>;
}

const GEM_REFS: VmRefs = { get: drmGemObjectGet, put: drmGemObjectPut };
const TTM_REFS: VmRefs = { get: ttmBoGet, put: ttmBoPut };

/**
 * ttmBoVmReserve() with the era's references (`refs`).
 * Locking: mmap_lock held for reading; takes the reservation; on VM_FAULT_RETRY (without
 * FAULT_FLAG_RETRY_NOWAIT) mmap_lock has been released.
 * References: takes and drops one of `refs` across the wait.
 */
async function vmReserve(
  bo: TtmBufferObject,
  vma: Vma,
  flags: number,
  refs: VmRefs,
): Promise<number> {
  mmapAssertLocked(vma.vmMm);
  // Work around locking order reversal in fault / nopfn between mmap_lock and bo_reserve:
  // Perform a trylock operation for reserve, and if it fails, retry the fault after waiting
  // for the buffer to become unreserved.
  if (!dmaResvTrylock(bo.resv)) {
    // If the fault allows retry and this is the first fault attempt, we try to release the
    // mmap_lock before waiting.
    if (faultFlagAllowRetryFirst(flags)) {
      if (!(flags & FAULT_FLAG_RETRY_NOWAIT)) {
        const getDone = refs.get(bo);
        if (getDone !== RESOLVED) await getDone;
        const mmapReadUnlockDone = mmapReadUnlock(vma.vmMm);
        if (mmapReadUnlockDone !== RESOLVED) await mmapReadUnlockDone;
        if (!(await dmaResvLockInterruptible(bo.resv, null))) await dmaResvUnlock(bo.resv);
        await refs.put(bo);
      }
      return VM_FAULT_RETRY;
    }
    if (await dmaResvLockInterruptible(bo.resv, null)) return VM_FAULT_NOPAGE;
  }
  // Refuse to fault imported pages. This should be handled (if at all) by redirecting mmap to
  // the exporter.
  if (bo.ttm && bo.ttm.pageFlags & TTM_TT_FLAG_EXTERNAL) {
    if (!(bo.ttm.pageFlags & TTM_TT_FLAG_EXTERNAL_MAPPABLE)) {
      const dmaResvUnlockDone = dmaResvUnlock(bo.resv);
      if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
      return VM_FAULT_SIGBUS;
    }
  }
  return 0;
}

/**
 * Models ttm_bo_vm_fault_idle(bo, vmf) (v6.15/v6.16): waits for buffer data in transit (a
 * pipelined move: the KERNEL fences). 0 at once if they have signalled
 * (dma_resv_test_signaled()). On the first attempt of a retryable fault: VM_FAULT_RETRY at once
 * with FAULT_FLAG_RETRY_NOWAIT (reservation still held); otherwise it takes a GEM reference,
 * releases mmap_lock, waits (interruptibly; its result is ignored), unlocks the reservation,
 * drops the reference and returns VM_FAULT_RETRY. Otherwise an ordinary interruptible wait with
 * both locks held: "return (err != -ERESTARTSYS) ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;" if it
 * fails (a kill: NOPAGE, the thread dies before the access is retried).
 * Locking: the reservation and mmap_lock (read) held; both released on VM_FAULT_RETRY without
 * FAULT_FLAG_RETRY_NOWAIT.
 * References: the VMA's; a GEM one across the wait without mmap_lock.
 */
async function ttmBoVmFaultIdle(
  bo: TtmBufferObject,
  vma: Vma,
  flags: number,
  refs: VmRefs,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  // Quick non-stalling check for idle.
  if (await dmaResvTestSignaled(bo.resv, DmaResvUsage.KERNEL)) return 0;
  // If possible, avoid waiting for GPU with mmap_lock held. We only do this if the fault allows
  // retry and this is the first attempt.
  if (faultFlagAllowRetryFirst(flags)) {
    if (flags & FAULT_FLAG_RETRY_NOWAIT) return VM_FAULT_RETRY;
    const getDone2 = refs.get(bo);
    if (getDone2 !== RESOLVED) await getDone2;
    const mmapReadUnlockDone2 = mmapReadUnlock(vma.vmMm);
    if (mmapReadUnlockDone2 !== RESOLVED) await mmapReadUnlockDone2;
    await dmaResvWaitTimeout(bo.resv, DmaResvUsage.KERNEL, true, MAX_SCHEDULE_TIMEOUT);
    const dmaResvUnlockDone2 = dmaResvUnlock(bo.resv);
    if (dmaResvUnlockDone2 !== RESOLVED) await dmaResvUnlockDone2;
    await refs.put(bo);
    return VM_FAULT_RETRY;
  }
  // Ordinary wait.
  const err = await dmaResvWaitTimeout(bo.resv, DmaResvUsage.KERNEL, true, MAX_SCHEDULE_TIMEOUT);
  if (err < 0) return err !== -ERESTARTSYS ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;
  return 0;
}

/** Models TTM_BO_VM_NUM_PREFAULT: how many pages one fault maps at most. */
export const TTM_BO_VM_NUM_PREFAULT = 16;

/**
 * Models ttm_bo_vm_fault_reserved(): with the reservation held, waits for moves, reserves the
 * io space (VM_FAULT_SIGBUS if that fails), checks the offset (VM_FAULT_SIGBUS past the end),
 * populates a ttm_tt placement (VM_FAULT_SIGBUS if that fails: the kernel's NOPAGE for
 * -EINTR/-ERESTARTSYS/-EAGAIN is not modeled, the model's ttm_tt population never sleeps
 * interruptibly and so never returns them), and maps the page at
 * `pgoff` of the BO's current placement into `vma` (vmf_insert_pfn_prot()), VM_FAULT_OOM if
 * the ttm_tt has no page there; then speculatively the pages after it, up to `numPrefault`
 * pages in all and no further than the end of the VMA (a page already mapped is left as it is,
 * as insert_pfn() does; a missing one ends the prefault: only the first page's failure is an
 * error). The faulting page, or a VM_FAULT_* code: VM_FAULT_RETRY from ttm_bo_vm_fault_idle()
 * (a move in flight on the first attempt of a fault with `flags` allowing retry; 0, the
 * default, is a fault that may not retry).
 * Locking: the reservation and mmap_lock (read) held; both released on VM_FAULT_RETRY without
 * FAULT_FLAG_RETRY_NOWAIT.
 * References: the VMA's.
 */
export function ttmBoVmFaultReserved(
  vma: Vma,
  bo: TtmBufferObject,
  pgoff: number,
  flags = 0,
  numPrefault = TTM_BO_VM_NUM_PREFAULT,
): Promise<Uint8Array | number> {
  return vmFaultReserved(vma, bo, pgoff, flags, numPrefault, GEM_REFS);
}

/**
 * ttmBoVmFaultReserved() with the era's references (`refs`).
 * Locking: the reservation and mmap_lock (read) held; both released on VM_FAULT_RETRY without
 * FAULT_FLAG_RETRY_NOWAIT.
 * References: the VMA's; one of `refs` across a wait without mmap_lock.
 */
async function vmFaultReserved(
  vma: Vma,
  bo: TtmBufferObject,
  pgoff: number,
  flags: number,
  numPrefault: number,
  refs: VmRefs,
): Promise<Uint8Array | number> {
  dmaResvAssertHeld(bo.resv);
  // Wait for buffer data in transit, due to a pipelined move.
  const ret = await ttmBoVmFaultIdle(bo, vma, flags, refs);
  if (ret) return ret;
  // A BO without backing store (gutted): the kernel would dereference NULL here.
  const mem = bo.resource;
  if (!mem) return VM_FAULT_SIGBUS;
  let err = await ttmMemIoReserve(bo.bdev, mem);
  if (err) return VM_FAULT_SIGBUS;
  const nodeStart = drmVmaNodeStart(bo.vmaNode);
  let pageOffset = pgoff - nodeStart;
  const pageLast = vma.nrPages + vma.vmPgoff - nodeStart;
  if (pageOffset >= Math.ceil(bo.size / PAGE_SIZE) || pageOffset < 0) return VM_FAULT_SIGBUS;
  if (!mem.bus.isIomem) {
    err = await ttmBoPopulate(bo, { interruptible: true, noWaitGpu: false, bytesMoved: 0 });
    if (err) return VM_FAULT_SIGBUS;
  }
  const page = ttmBoCpuPageReserved(bo, pageOffset);
  if (!page) return VM_FAULT_OOM;
  // vmf_insert_pfn_prot(), under the reservation: a racing move's unmap comes after it.
  let vpn = (vma.vmStart + (pgoff - vma.vmPgoff) * PAGE_SIZE) / PAGE_SIZE;
  vma.pages.set(vpn, page);
  // Speculatively prefault a number of pages. Only error on first page.
  for (let i = 1; i < numPrefault; i++) {
    vpn++;
    if (++pageOffset >= pageLast) break;
    const next = ttmBoCpuPageReserved(bo, pageOffset);
    if (!next) break;
    if (!vma.pages.has(vpn)) vma.pages.set(vpn, next);
  }
  return page;
}

/**
 * Models ttm_bo_vm_fault(vmf): reserve, fault, unreserve, for the fault of `vma` at `pgoff` with
 * fault flags `flags` (vmf->flags); a VM_FAULT_RETRY of ttm_bo_vm_fault_reserved() without
 * FAULT_FLAG_RETRY_NOWAIT has already dropped the reservation and mmap_lock.
 * Locking: mmap_lock held for reading; takes the reservation; on VM_FAULT_RETRY (without
 * FAULT_FLAG_RETRY_NOWAIT) mmap_lock has been released.
 * References: the VMA's.
 */
export function ttmBoVmFault(vma: Vma, pgoff: number, flags: number): Promise<Uint8Array | number> {
  return vmFault(vma, pgoff, flags, GEM_REFS);
}

/**
 * ttmBoVmFault() with the era's references (`refs`).
 * Locking: mmap_lock held for reading; takes the reservation; on VM_FAULT_RETRY (without
 * FAULT_FLAG_RETRY_NOWAIT) mmap_lock has been released.
 * References: the VMA's; one of `refs` across a wait without mmap_lock.
 */
async function vmFault(
  vma: Vma,
  pgoff: number,
  flags: number,
  refs: VmRefs,
): Promise<Uint8Array | number> {
  mmapAssertLocked(vma.vmMm);
  const bo = vma.vmPrivateData as TtmBufferObject;
  if (!bo.checkAccess("ttm_bo_vm_fault")) return VM_FAULT_SIGBUS;
  const ret = await vmReserve(bo, vma, flags, refs);
  if (ret) return ret;
  const r = await vmFaultReserved(vma, bo, pgoff, flags, TTM_BO_VM_NUM_PREFAULT, refs);
  if (r === VM_FAULT_RETRY && !(flags & FAULT_FLAG_RETRY_NOWAIT)) return r;
  const dmaResvUnlockDone3 = dmaResvUnlock(bo.resv);
  if (dmaResvUnlockDone3 !== RESOLVED) await dmaResvUnlockDone3;
  return r;
}

/**
 * Models ttm_bo_vm_open(): a VMA copy (split, fork) takes its own GEM reference (since v6.14,
 * 39b1acfddfd5 "drm/ttm: use GEM references for VM mappings"; a TTM one before) and joins the
 * device's address space.
 * Locking: mmap_lock held.
 * References: takes a GEM one.
 */
export async function ttmBoVmOpen(vma: Vma): Promise<void> {
  mmapAssertLocked(vma.vmMm);
  const bo = vma.vmPrivateData as TtmBufferObject;
  bo.bdev.devMapping.iMmap.add(vma);
  const drmGemObjectGetDone = drmGemObjectGet(bo);
  if (drmGemObjectGetDone !== RESOLVED) await drmGemObjectGetDone;
}

/**
 * Models ttm_bo_vm_close(): the VMA goes away: drops its GEM reference (the last one frees the
 * object through the driver's GEM ->free, which drops the TTM reference), then clears
 * vm_private_data.
 * Locking: mmap_lock held.
 * References: drops a GEM one.
 */
export async function ttmBoVmClose(vma: Vma): Promise<void> {
  mmapAssertLocked(vma.vmMm);
  const bo = vma.vmPrivateData as TtmBufferObject;
  bo.bdev.devMapping.iMmap.delete(vma);
  const drmGemObjectPutDone = drmGemObjectPut(bo);
  if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
  vma.vmPrivateData = null;
}

/** Models ttm_bo_vm_ops. */
export const ttmBoVmOps: VmOperations = {
  open: ttmBoVmOpen,
  close: ttmBoVmClose,
  fault: ttmBoVmFault,
};

/**
 * ttm_bo_vm_open() of the historic ttm_bo_mmap() (v3.8-v5.13): the VMA copy takes a TTM
 * reference.
 * Locking: mmap_lock held. References: takes a TTM one.
 */
async function ttmBoVmOpenHistoric(vma: Vma): Promise<void> {
  mmapAssertLocked(vma.vmMm);
  const bo = vma.vmPrivateData as TtmBufferObject;
  bo.bdev.devMapping.iMmap.add(vma);
  const ttmBoGetDone = ttmBoGet(bo);
  if (ttmBoGetDone !== RESOLVED) await ttmBoGetDone;
}

/**
 * ttm_bo_vm_close() of the historic ttm_bo_mmap(): drops the VMA's TTM reference.
 * Locking: mmap_lock held. References: drops a TTM one.
 */
async function ttmBoVmCloseHistoric(vma: Vma): Promise<void> {
  mmapAssertLocked(vma.vmMm);
  const bo = vma.vmPrivateData as TtmBufferObject;
  bo.bdev.devMapping.iMmap.delete(vma);
  const ttmBoPutDone = ttmBoPut(bo);
  if (ttmBoPutDone !== RESOLVED) await ttmBoPutDone;
  vma.vmPrivateData = null;
}

/**
 * ttm_bo_vm_fault() of the historic ttm_bo_mmap(): a fault waiting without mmap_lock holds a
 * TTM reference (ttm_bo_get(), as before v6.14's 39b1acfddfd5).
 * Locking: mmap_lock held for reading; takes the reservation; on VM_FAULT_RETRY (without
 * FAULT_FLAG_RETRY_NOWAIT) mmap_lock has been released.
 * References: the VMA's; a TTM one across a wait without mmap_lock.
 */
function ttmBoVmFaultHistoric(
  vma: Vma,
  pgoff: number,
  flags: number,
): Promise<Uint8Array | number> {
  return vmFault(vma, pgoff, flags, TTM_REFS);
}

/** The ttm_bo_vm_ops of the historic ttm_bo_mmap(): VMAs (and waiting faults) hold TTM references. */
const ttmBoVmOpsHistoric: VmOperations = {
  open: ttmBoVmOpenHistoric,
  close: ttmBoVmCloseHistoric,
  fault: ttmBoVmFaultHistoric,
};

/**
 * Models ttm_bo_mmap_obj(): sets `vma` up to map `bo`: refuses copy-on-write mappings
 * (-EINVAL), takes a GEM reference for the VMA (since v6.14, 39b1acfddfd5; dropped by
 * ttm_bo_vm_close()), installs ttm_bo_vm_ops unless the driver set its own, and links the VMA
 * into the device's address space (the DRM file's f_mapping is the device's in the kernel;
 * here TTM keeps that address space itself).
 * Locking: mmap_lock held.
 * References: the VMA takes a GEM one.
 */
export async function ttmBoMmapObj(vma: Vma, bo: TtmBufferObject): Promise<number> {
  mmapAssertLocked(vma.vmMm);
  // Enforce no COW since would have really strange behavior with it.
  if (!(vma.vmFlags & VM_SHARED) && vma.vmFlags & VM_MAYWRITE) return -EINVAL;
  const drmGemObjectGetDone2 = drmGemObjectGet(bo);
  if (drmGemObjectGetDone2 !== RESOLVED) await drmGemObjectGetDone2;
  // Drivers may want to override the vm_ops field. Otherwise we use TTM's default callbacks.
  if (!vma.vmOps) vma.vmOps = ttmBoVmOps;
  // Note: We're transferring the bo reference to vma->vm_private_data here.
  vma.vmPrivateData = bo;
  vma.vmFlags |= VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP;
  bo.bdev.devMapping.iMmap.add(vma);
  return 0;
}

/**
 * Models ttm_bo_vm_lookup() of the historic ttm_bo_mmap(): the BO at the fake offset
 * `[offset, offset + pages)`, with a TTM reference, or null (none there, or dying).
 *
 * Toggle `ttm.mmap-lookup-plain-get`: a plain kref_get() instead of kref_get_unless_zero().
 *
 * Locking: takes the offset manager's lookup lock.
 * References: returns one.
 */
export async function ttmBoVmLookup(
  bdev: TtmDevice,
  offset: number,
  pages: number,
): Promise<TtmBufferObject | null> {
  let bo: TtmBufferObject | null = null;
  const drmVmaOffsetLockLookupDone = drmVmaOffsetLockLookup(bdev.vmaManager);
  if (drmVmaOffsetLockLookupDone !== RESOLVED) await drmVmaOffsetLockLookupDone;
  const node = await drmVmaOffsetLookupLocked(bdev.vmaManager, offset, pages);
  if (node) {
    bo = node.owner as TtmBufferObject;
    if (toggleEnabled(TTM_MMAP_LOOKUP_PLAIN_GET.name)) await ttmBoGet(bo);
    else bo = await ttmBoGetUnlessZero(bo);
  }
  const drmVmaOffsetUnlockLookupDone = drmVmaOffsetUnlockLookup(bdev.vmaManager);
  if (drmVmaOffsetUnlockLookupDone !== RESOLVED) await drmVmaOffsetUnlockLookupDone;
  if (!bo) await point("ttm_bo_vm_lookup: no buffer object");
  return bo;
}

/**
 * Models the historic ttm_bo_mmap() (v3.8-v5.13): the driver's file ->mmap for BOs: lookup by
 * offset, permission check (`tag`, the DRM file: -EACCES), then ttm_bo_mmap_vma_setup(): the
 * lookup's TTM reference becomes the VMA's, with that era's vm ops (TTM references in
 * open/close). -EINVAL when no live BO is there.
 * Locking: mmap_lock held.
 * References: the VMA keeps the lookup's TTM one.
 */
export async function ttmBoMmap(bdev: TtmDevice, tag: object, vma: Vma): Promise<number> {
  mmapAssertLocked(vma.vmMm);
  const bo = await ttmBoVmLookup(bdev, vma.vmPgoff, vma.nrPages);
  if (!bo) return -EINVAL;
  if (!(await drmVmaNodeIsAllowed(bo.vmaNode, tag))) {
    const ttmBoPutDone2 = ttmBoPut(bo);
    if (ttmBoPutDone2 !== RESOLVED) await ttmBoPutDone2;
    return -EACCES;
  }
  // ttm_bo_mmap_vma_setup()
  vma.vmOps = ttmBoVmOpsHistoric;
  vma.vmPrivateData = bo;
  vma.vmFlags |= VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP;
  bo.bdev.devMapping.iMmap.add(vma);
  return 0;
}
