/**
 * vmwgfx buffer objects (drivers/gpu/drm/vmwgfx/vmwgfx_bo.c, vmwgfx_bo.h, vmwgfx_gem.c): GEM
 * objects with a second, TTM reference count, as every TTM driver's BO is (struct vmw_bo embeds
 * struct ttm_buffer_object, which embeds struct drm_gem_object).
 *
 * Two counts, one object. The GEM count (`refcount`) is what userspace holds through handles,
 * dma-bufs and mmaps; when it drops to 0 the GEM ->free (vmw_gem_object_free()) drops one TTM
 * reference. The TTM count (`tboKref`, tbo.kref) is what the kernel side held (validation, the
 * resources a buffer backs, until Linux 6.15 moved everything to GEM references); its last put
 * destroys the buffer (drm_gem_object_release() and the kfree). So a GEM count of 0 with TTM
 * references left is a *dead GEM object in live memory*: any later GEM get is "addition on 0",
 * the bug of "drm/vmwgfx: Keep a gem reference to user bos in surfaces".
 *
 * Backing store: a buffer is a TTM buffer object (@primetime/ttm) of type device, created in
 * the system placement (the guest's memory, which the simulated GPU reaches by DMA) and moved
 * by EXECBUF's validation into the placement its command asks for (vmw_bo_placement_set(): a
 * MOB, see vmwgfx-ttm-buffer.ts and vmwgfx-gmrid-manager.ts), from which TTM evicts it back to
 * system memory under pressure (vmw_evict_flags()); the pages stay the same throughout (GMR and
 * MOB are ids bound to them): they are the ttm_tt's, populated at validation, mapped by drm_gem_ttm_mmap() and given to
 * importers through ->get_sg_table; its release is TTM's (a busy buffer is destroyed only once
 * its fences signal, by the delayed delete). An *import* of a foreign dma-buf is the exception:
 * the kernel makes it a ttm_bo_type_sg BO over the exporter's sg table; here it is a VmwBo that
 * TTM never initialized, over the exporter's pages, with its own count and release
 * (`imported`).
 *
 * Faithfulness: Linux v6.12 (GEM plus TTM references; vmw_user_bo_lookup() returns a GEM
 * reference only, since "drm/vmwgfx: Keep a gem reference to user bos in surfaces").
 */

import {
  type DmaResv,
  DmaResvUsage,
  dmaResvAssertHeld,
  dmaResvTestSignaled,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  type SgTable,
  sgAllocTableFromPages,
} from "@primetime/dma-buf";
import {
  type DrmDevice,
  type DrmFile,
  type DrmGemObjectFuncs,
  drmGemCreateMmapOffset,
  drmGemHandleDelete,
  drmGemObjectFuncs,
  drmGemObjectGet,
  drmGemObjectLookup,
  drmGemObjectPut,
  drmGemObjectRelease,
  drmGemPagesSgTable,
  drmGemPageVmOps,
  drmGemPrivateObjectInit,
  drmPrimeGemDestroy,
  type GemObject,
} from "@primetime/gem";
import {
  EBUSY,
  EINVAL,
  ENOMEM,
  ERESTARTSYS,
  type Errno,
  ESRCH,
  errPtr,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  type Mutex,
  pageAlign,
} from "@primetime/kernel";
import { bug, opLabel, point, RESOLVED, toggleEnabled, warnOn } from "@primetime/sim";
import type { Page } from "@primetime/simgpu";
import {
  drmGemTtmMmap,
  TTM_PL_FLAG_DESIRED,
  TTM_PL_FLAG_FALLBACK,
  TTM_PL_SYSTEM,
  TTM_PL_VRAM,
  TtmBufferObject,
  type TtmDevice,
  type TtmPlace,
  type TtmPlacement,
  ttmBoGet,
  ttmBoInitReserved,
  ttmBoInitValidate,
  ttmBoPin,
  ttmBoPopulate,
  ttmBoPut,
  ttmBoReserve,
  ttmBoType,
  ttmBoUnpin,
  ttmBoUnreserve,
  ttmBoWaitCtx,
  ttmTtIsPopulated,
} from "@primetime/ttm";
import { VMWGFX_BO_ACCESS_AFTER_FAILED_INIT, VMWGFX_INVALID_GEM_PUT } from "./toggles.js";
import { VMW_PL_GMR, VMW_PL_MOB, VMW_PL_SYSTEM } from "./vmwgfx-gmrid-manager.js";
import { type VmwResource, vmwResourceUnreference } from "./vmwgfx-resource.js";
import {
  type DrmVmwHandleCloseArg,
  type DrmVmwSynccpuArg,
  drm_vmw_synccpu_allow_cs,
  drm_vmw_synccpu_dontblock,
  drm_vmw_synccpu_grab,
  drm_vmw_synccpu_read,
  drm_vmw_synccpu_release,
  drm_vmw_synccpu_write,
} from "./vmwgfx-uapi.js";

/** The slab cache of vmwgfx buffer objects (kzalloc() in vmw_bo_create()). */
export const vmwBoCache = new KmemCache("vmw_bo");

/**
 * Models struct vmw_bo (its tbo's GEM object is the class itself).
 *
 * Locking: `cpuWriters` atomic (SYNCCPU grabs minus releases, may go negative); the rest set at
 * creation.
 * References: `refcount` (GEM) and `tboKref` (TTM), see the file comment.
 */
export class VmwBo extends TtmBufferObject {
  /** Models cpu_writers: SYNCCPU grabs without allow_cs. */
  cpuWriters = 0;
  /** Models tbo.sg: the exporter's sg table of an import. */
  sgt: SgTable | null = null;
  /** An import: not a TTM object here (see the file comment). */
  imported = false;
  /** Models tbo.base.funcs being set (vmw_gem_object_create() sets them after vmw_bo_create()). */
  gemFuncsSet = false;
  /** Models is_dumb: the buffer of a surface-backed dumb buffer (vmw_dumb_create()). */
  isDumb = false;
  /**
   * Models dumb_surface: the surface behind a dumb buffer. The buffer owns one reference to its
   * resource (the one the surface's base object held: v6.12.y), dropped by vmwBoRelease().
   */
  dumbSurface: { readonly res: VmwResource } | null = null;
  /** Models places[] and placement: where the buffer may live (vmw_bo_placement_set()). */
  placement: TtmPlacement = { placement: [] };
  /**
   * Models map_count: the users of the cached kernel map (vmw_bo_map_and_cache_size() increments
   * it, vmw_bo_unmap() decrements it and unmaps at 0). An atomic_t.
   */
  mapCount = 0;
  /**
   * Models map.bo / map.virtual being set: the buffer has a cached kernel map (ttm_bo_kmap()). The
   * map is bookkeeping: the model reads a buffer's pages directly.
   */
  mapped = false;
}

/** Models VMW_BO_DOMAIN_SYS. */
export const VMW_BO_DOMAIN_SYS = 1 << 0;
/** Models VMW_BO_DOMAIN_WAITABLE_SYS. */
export const VMW_BO_DOMAIN_WAITABLE_SYS = 1 << 1;
/** Models VMW_BO_DOMAIN_VRAM. */
export const VMW_BO_DOMAIN_VRAM = 1 << 2;
/** Models VMW_BO_DOMAIN_GMR. */
export const VMW_BO_DOMAIN_GMR = 1 << 3;
/** Models VMW_BO_DOMAIN_MOB. */
export const VMW_BO_DOMAIN_MOB = 1 << 4;

/** Models placement_flags(): 0 if desired and fallback, DESIRED if desired only, else FALLBACK. */
function placementFlags(domain: number, desired: number, fallback: number): number {
  if (desired & fallback & domain) return 0;
  if (desired & domain) return TTM_PL_FLAG_DESIRED;
  return TTM_PL_FLAG_FALLBACK;
}

/**
 * Models set_placement_list(): the places of `desired | fallback` in the driver's order of
 * preference (MOB, GMR, VRAM, waitable system, system), each flagged by placementFlags(); none
 * at all is a WARN and the system place.
 */
function setPlacementList(desired: number, fallback: number): TtmPlace[] {
  const domain = desired | fallback;
  const pl: TtmPlace[] = [];
  const order: [number, number][] = [
    [VMW_BO_DOMAIN_MOB, VMW_PL_MOB],
    [VMW_BO_DOMAIN_GMR, VMW_PL_GMR],
    [VMW_BO_DOMAIN_VRAM, TTM_PL_VRAM],
    [VMW_BO_DOMAIN_WAITABLE_SYS, VMW_PL_SYSTEM],
    [VMW_BO_DOMAIN_SYS, TTM_PL_SYSTEM],
  ];
  for (const [d, memType] of order) {
    if (domain & d)
      pl.push({ memType, flags: placementFlags(d, desired, fallback), fpfn: 0, lpfn: 0 });
  }
  warnOn(pl.length === 0, "set_placement_list: WARN_ON(!n)");
  if (pl.length === 0) pl.push({ memType: TTM_PL_SYSTEM, flags: 0, fpfn: 0, lpfn: 0 });
  return pl;
}

/**
 * Models vmw_bo_placement_set(): the buffer's placement becomes the list of `domain` (desired)
 * and `busyDomain` (fallback). The debug-only "Incompatible transition" warning is not modeled.
 * Locking: none (vmw_translate_mob_ptr() sets it before reserving the buffer; the validation
 * reads it under the reservation). References: the caller's.
 */
export function vmwBoPlacementSet(bo: VmwBo, domain: number, busyDomain: number): void {
  bo.placement = { placement: setPlacementList(domain, busyDomain) };
}

/** kmalloc()'s constructor call for a VmwBo (one function, not a closure per call). */
function newVmwBo(funcs: DrmGemObjectFuncs): VmwBo {
  return new VmwBo(funcs);
}

/** What the buffer code needs of the device (parts of struct vmw_private). */
export interface VmwBoDevice {
  /** Models dev_priv->bdev. */
  readonly bdev: TtmDevice;
  /** Models dev_priv->cmdbuf_mutex: protects res->guest_memory_bo. */
  readonly cmdbufMutex: Mutex;
  /** Models dev_priv->has_mob: new buffers go to system memory, else to VRAM. */
  readonly hasMob: boolean;
}

/**
 * Models vmw_bo_reference() (ttm_bo_get()).
 * Locking: none; the caller holds a reference. References: takes a TTM one.
 */
export async function vmwBoReference(bo: VmwBo): Promise<VmwBo> {
  if (bo.imported) await bo.kref.get();
  else await ttmBoGet(bo);
  return bo;
}

/**
 * Models vmw_bo_unreference() (ttm_bo_put(); the kernel also NULLs the caller's pointer: the
 * callers here drop theirs). The last TTM put destroys the buffer.
 * Locking: none held that the release takes. References: drops a TTM one.
 */
export async function vmwBoUnreference(bo: VmwBo): Promise<void> {
  if (bo.imported) await bo.kref.put(() => vmwBoRelease(bo));
  else await ttmBoPut(bo);
}

/**
 * Models vmw_bo_free() / vmw_bo_release() (the TTM destroy): WARN if a GEM object still has GEM
 * references (a TTM reference outlived the GEM ones' owners wrongly); a dumb buffer's surface is
 * detached from it (under cmdbuf_mutex: res->guest_memory_bo = NULL, which held no reference)
 * and unreferenced (vmw_surface_unreference(): the resource reference the buffer owns); then
 * the GEM release (mmap offset, reservation, pages) and the kfree. An import gives its dma-buf
 * back first. Not modeled of v6.12.y's dumb branch: the resource reserve/unreserve around the
 * detach, vmw_resource_mob_detach(), and the dirty tracking (dirty_free, vmw_bo_dirty_release()).
 * Locking: none held; takes cmdbuf_mutex for a dumb buffer. References: consumes the buffer and,
 * for a dumb buffer, one reference of its surface's resource.
 */
async function vmwBoRelease(tbo: TtmBufferObject): Promise<void> {
  const bo = tbo as VmwBo;
  await point(opLabel("vmw_bo_release", bo.name));
  // vmw_bo_unmap(): only a buffer with a cached map does anything (no point otherwise).
  if (bo.mapped) await vmwBoUnmap(bo);
  if (bo.gemFuncsSet && bo.refcount.read() !== 0)
    warnOn(
      true,
      `vmw_bo_release(${bo.name}): WARN_ON(vbo->tbo.base.funcs && kref_read(&vbo->tbo.base.refcount) != 0)`,
    );
  warnOn(
    bo.isDumb && !bo.dumbSurface,
    `vmw_bo_release(${bo.name}): WARN_ON(vbo->is_dumb && !vbo->dumb_surface)`,
  );
  if (bo.isDumb && bo.dumbSurface) {
    const res = bo.dumbSurface.res;
    warnOn(
      bo !== res.guestMemoryBo,
      `vmw_bo_release(${bo.name}): WARN_ON(vbo != res->guest_memory_bo)`,
    );
    warnOn(!res.guestMemoryBo, `vmw_bo_release(${bo.name}): WARN_ON(!res->guest_memory_bo)`);
    if (res.guestMemoryBo) {
      // Reserve and switch the backing mob.
      const vmw = bo.dev.driverPrivate as VmwBoDevice;
      const cmdbufMutexTaken = vmw.cmdbufMutex.lock();
      if (cmdbufMutexTaken !== RESOLVED) await cmdbufMutexTaken;
      await point(`res->guest_memory_bo = NULL (${res.owner.name})`);
      res.guestMemoryBo = null;
      vmw.cmdbufMutex.unlockNow();
    }
    const dumbSurface = bo.dumbSurface;
    bo.dumbSurface = null; // vmw_surface_unreference(&vbo->dumb_surface)
    await vmwResourceUnreference(dumbSurface.res);
  }
  if (bo.importAttach) await drmPrimeGemDestroy(bo, bo.sgt);
  bo.sgt = null;
  await drmGemObjectRelease(bo);
  kfree(bo);
}

/**
 * Models vmw_bo_map_and_cache_size() (vmw_bo_map_and_cache() maps the whole buffer): map_count
 * incremented, then the cached map, or a new one (ttm_bo_kmap() of PFN_UP(size) pages) cached in
 * the buffer. "The virtual address remains valid as long as the buffer object is pinned or
 * reserved" (the caller's rule, not asserted: the kernel does not). Returns the buffer, standing
 * for the kernel address (the model reads the pages themselves); ttm_bo_kmap() does not fail here
 * (its DRM_ERROR path is not modeled).
 * Locking: see above. References: the caller's.
 */
export async function vmwBoMapAndCacheSize(bo: VmwBo, _size: number): Promise<VmwBo> {
  await point(`atomic_inc(${bo.name}.map_count)`);
  bo.checkAccess("vmw_bo_map_and_cache_size");
  bo.mapCount++;
  if (bo.mapped) return bo; // ttm_kmap_obj_virtual()
  await point(`ttm_bo_kmap(${bo.name})`);
  bo.checkAccess("ttm_bo_kmap");
  bo.mapped = true;
  return bo;
}

/**
 * Models vmw_bo_map_and_cache(): vmw_bo_map_and_cache_size() of the whole buffer.
 * Locking: see vmw_bo_map_and_cache_size(). References: the caller's.
 */
export function vmwBoMapAndCache(bo: VmwBo): Promise<VmwBo> {
  return vmwBoMapAndCacheSize(bo, bo.size);
}

/**
 * Models vmw_bo_unmap(): nothing without a cached map (map.bo NULL); else map_count decremented
 * (atomic_dec_return()) and, at 0, the map torn down (ttm_bo_kunmap()). A count taken by
 * vmw_bo_map_and_cache() without a matching unmap keeps the map (the kernel's bookkeeping).
 * Locking: the reservation may be held (vmw_user_object_unmap() reserves, vmw_bo_release() of a
 * dying buffer does not; the kernel asserts nothing). References: the caller's.
 */
export async function vmwBoUnmap(bo: VmwBo): Promise<void> {
  if (!bo.mapped) return;
  await point(`atomic_dec_return(${bo.name}.map_count)`);
  bo.checkAccess("vmw_bo_unmap");
  const mapCount = --bo.mapCount;
  if (!mapCount) bo.mapped = false; // ttm_bo_kunmap(&vbo->map); vbo->map.bo = NULL
}

/**
 * Models vmw_bo_create_and_populate() (vmwgfx_ttm_buffer.c) with vmw_bo_create()/vmw_bo_init():
 * a kernel buffer (ttm_bo_type_kernel, no GEM functions: its one TTM reference is the caller's)
 * of `size` bytes (page aligned) in `domain` (busy domain the same), validated there, pinned,
 * populated (vmw_ttm_populate(); vmw_ttm_map_dma() is not modeled), then unreserved. -ENOMEM,
 * ttm_bo_init_reserved()'s error (the buffer destroyed by TTM), or the population's error, after
 * which the buffer is left pinned and referenced by nobody, as the kernel leaves it.
 * Locking: none held; takes and drops the new buffer's reservation.
 * References: the caller owns the TTM one.
 */
export async function vmwBoCreateAndPopulate(
  vmw: VmwBoDevice,
  dev: DrmDevice,
  size: number,
  domain: number,
): Promise<VmwBo | Errno> {
  await point("vmw_bo_create(ttm_bo_type_kernel)");
  const bo = kmalloc(vmwBoCache, newVmwBo, vmwGemObjectFuncs);
  if (isErr(bo)) return errPtr(ENOMEM); // Failed to allocate a buffer.
  drmGemPrivateObjectInit(dev, bo, pageAlign(size));
  vmwBoPlacementSet(bo, domain, domain);
  // vmw_bo_init(): .interruptible = bo_type != ttm_bo_type_kernel
  const ctx = { interruptible: false, noWaitGpu: false, bytesMoved: 0 };
  const ret = await ttmBoInitReserved(
    vmw.bdev,
    bo,
    ttmBoType.kernel,
    bo.placement,
    0,
    ctx,
    null,
    vmwBoRelease,
  );
  if (ret) return errPtr(ret); // vmw_bo_init will delete the *p_bo object if it fails
  await ttmBoPin(bo); // params->pin; params->keep_resv: still reserved
  const populated = await ttmBoPopulate(bo, ctx);
  await ttmBoUnreserve(bo);
  if (populated) return errPtr(populated);
  return bo;
}

/**
 * Models vmw_gem_object_free(), the GEM ->free: the GEM count hit 0, drop the TTM reference the
 * GEM side owned (ttm_bo_put()).
 * Locking: none. References: drops one TTM reference.
 */
async function vmwGemObjectFree(obj: GemObject): Promise<void> {
  await vmwBoUnreference(obj as VmwBo);
}

/**
 * Models vmw_gem_object_funcs: free, get_sg_table (the pages, for foreign importers), mmap
 * through vm_ops (drm_gem_ttm_mmap / vmw_vm_ops in the kernel).
 */
export const vmwGemObjectFuncs: DrmGemObjectFuncs = drmGemObjectFuncs({
  free: vmwGemObjectFree,
  pin: vmwGemObjectPin,
  unpin: vmwGemObjectUnpin,
  getSgTable: vmwGemObjectGetSgTable,
  mmap: drmGemTtmMmap,
});

/** The GEM functions of an import: its pages are the exporter's (see the file comment). */
const vmwGemImportFuncs: DrmGemObjectFuncs = drmGemObjectFuncs({
  free: vmwGemObjectFree,
  getSgTable: drmGemPagesSgTable,
  vmOps: drmGemPageVmOps,
});

/**
 * Models vmw_bo_pin_reserved() (vmwgfx_bo.c): pins or unpins the buffer where it is, and only
 * when its pinned state changes ("if (pin == !!bo->pin_count) return;"): a second pin of a
 * pinned buffer does not count, and one unpin unpins it whatever the number of pins before. The
 * ttm_bo_validate() into the buffer's current placement (no_wait_gpu; BUG_ON if it fails or
 * moves the buffer) is not modeled: a placed buffer stays where it is.
 * Locking: the reservation held (asserted: dma_resv_assert_held()). References: the caller's.
 */
export async function vmwBoPinReserved(bo: VmwBo, pin: boolean): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  if (pin === (bo.pinCount !== 0)) return;
  if (pin) await ttmBoPin(bo);
  else await ttmBoUnpin(bo);
}

/**
 * Models vmw_gem_object_pin(): vmw_bo_pin_reserved(vbo, true), 0 (drm_gem_pin() holds the
 * reservation since v6.10's "drm/gem: Acquire reservation lock in drm_gem_{pin/unpin}()").
 * Locking: the reservation held (asserted). References: the caller's.
 */
async function vmwGemObjectPin(obj: GemObject): Promise<number> {
  const bo = obj as VmwBo;
  dmaResvAssertHeld(bo.resv);
  await vmwBoPinReserved(bo, true);
  return 0;
}

/**
 * Models vmw_gem_object_unpin(): vmw_bo_pin_reserved(vbo, false).
 * Locking: the reservation held (asserted). References: none.
 */
async function vmwGemObjectUnpin(obj: GemObject): Promise<void> {
  const bo = obj as VmwBo;
  dmaResvAssertHeld(bo.resv);
  await vmwBoPinReserved(bo, false);
}

/**
 * Models vmw_gem_object_get_sg_table(): the buffer's ttm_tt pages as an sg table
 * (drm_prime_pages_to_sg()), populated first if they are not yet (the attachment pinned the
 * buffer, so they stay where they are).
 * Locking: the reservation held (dma_buf_map_attachment()). References: the caller's; the table
 * borrows the pages.
 */
async function vmwGemObjectGetSgTable(obj: GemObject): Promise<SgTable | Errno> {
  const bo = obj as VmwBo;
  dmaResvAssertHeld(bo.resv);
  if (bo.ttm && !ttmTtIsPopulated(bo.ttm)) {
    const err = await ttmBoPopulate(bo, { interruptible: false, noWaitGpu: false, bytesMoved: 0 });
    if (err) return errPtr(err);
  }
  const pages = bo.ttm?.pages ?? null;
  if (!pages || pages.some((p) => p === null)) return errPtr(EINVAL);
  return sgAllocTableFromPages(pages.map((p) => (p as Page).data));
}

/**
 * Models vmw_bo_create() + vmw_gem_object_create(): a TTM buffer of `size` bytes (page aligned
 * up) validated into the placement vmw_gem_object_create_with_handle() asks for (system memory
 * on a device with MOBs, VRAM else, system memory when busy: vmw_bo_placement_set()), with one GEM reference holding the one TTM reference,
 * and an mmap offset (ttm_bo_init_reserved() adds it), then the GEM functions. -ENOMEM, or
 * ttm_bo_init_reserved()'s error (the failed buffer is already destroyed by TTM): -ENOSPC for a
 * zero size, whose 0-page mmap offset drm_mm_insert_node_in_range() refuses (vmw_bo_init() has no
 * size check of its own).
 * Locking: none; the buffer is not visible yet.
 * References: the caller owns the GEM reference.
 */
export async function vmwGemObjectCreate(dev: DrmDevice, size: number): Promise<VmwBo | Errno> {
  await point("vmw_bo_create");
  const vmw = dev.driverPrivate as VmwBoDevice;
  const bo = kmalloc(vmwBoCache, newVmwBo, vmwGemObjectFuncs);
  if (isErr(bo)) return errPtr(ENOMEM);
  const aligned = pageAlign(size);
  drmGemPrivateObjectInit(dev, bo, aligned);
  // vmw_gem_object_create_with_handle()'s params: .domain = has_mob ? SYS : VRAM,
  // .busy_domain = SYS; vmw_bo_init() sets the placement before ttm_bo_init_reserved().
  vmwBoPlacementSet(bo, vmw.hasMob ? VMW_BO_DOMAIN_SYS : VMW_BO_DOMAIN_VRAM, VMW_BO_DOMAIN_SYS);
  const ret = await ttmBoInitValidate(
    vmw.bdev,
    bo,
    ttmBoType.device,
    bo.placement,
    1,
    false,
    null,
    vmwBoRelease,
  );
  if (toggleEnabled(VMWGFX_BO_ACCESS_AFTER_FAILED_INIT.name)) {
    // Before 1a6897921f52: (*p_vbo)->tbo.base.funcs = &vmw_gem_object_funcs; then the check.
    await point("(*p_vbo)->tbo.base.funcs = &vmw_gem_object_funcs");
    if (bo.checkAccess("vmw_gem_object_create_with_handle")) bo.gemFuncsSet = true;
  }
  if (ret) return errPtr(ret);
  bo.gemFuncsSet = true;
  return bo;
}

/**
 * Models vmw_prime_import_sg_table()'s buffer (see the file comment): a buffer over the foreign
 * dma-buf's pages, one GEM reference holding one count of its own. `resv` is the dma-buf's
 * reservation object, which the kernel passes to vmw_bo_create() (`.resv`, `.keep_resv = true`):
 * ttm_bo_init_reserved() (v6.12.19 ttm_bo.c) asserts a passed reservation held
 * (`dma_resv_assert_held(resv)`, after the mmap offset), as this does.
 * Locking: object_name_lock held by the core's import; `resv` held (asserted: dma_resv_assert_held()).
 * References: the caller owns the GEM one.
 */
export async function vmwImportObjectCreate(
  dev: DrmDevice,
  size: number,
  sgt: SgTable,
  resv: DmaResv,
): Promise<VmwBo | Errno> {
  lockdepAssertHeld(dev.objectNameLock);
  await point("vmw_bo_create(ttm_bo_type_sg)");
  const bo = kmalloc(vmwBoCache, newVmwBo, vmwGemImportFuncs);
  if (isErr(bo)) return errPtr(ENOMEM);
  drmGemPrivateObjectInit(dev, bo, pageAlign(size));
  bo.imported = true;
  bo.kref.init();
  bo.sgt = sgt;
  bo.pages = sgt.pages;
  // ttm_bo_init_reserved() gives sg BOs an mmap offset too.
  const ret = await drmGemCreateMmapOffset(bo);
  if (ret) {
    const drmGemObjectPutDone = drmGemObjectPut(bo);
    if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
    return errPtr(ret);
  }
  // ttm_bo_init_reserved(): passed reservation objects should already be locked.
  dmaResvAssertHeld(resv);
  bo.gemFuncsSet = true;
  return bo;
}

/**
 * Models vmw_user_bo_lookup(): the buffer of a GEM handle with a GEM reference (v6.12; before
 * "drm/vmwgfx: Keep a gem reference to user bos in surfaces" it took a TTM one as well), or
 * -ESRCH for a bad handle.
 * Locking: see drmGemObjectLookup(). References: one GEM reference for the caller.
 */
export async function vmwUserBoLookup(file: DrmFile, handle: number): Promise<VmwBo | Errno> {
  const gobj = await drmGemObjectLookup(file, handle);
  if (!gobj) return errPtr(ESRCH);
  return gobj as VmwBo;
}

/**
 * Models vmw_user_bo_ref(): drm_gem_object_get().
 * Locking: none; the caller holds a reference. References: takes a GEM one.
 */
export async function vmwUserBoRef(bo: VmwBo): Promise<VmwBo> {
  const drmGemObjectGetDone = drmGemObjectGet(bo);
  if (drmGemObjectGetDone !== RESOLVED) await drmGemObjectGetDone;
  return bo;
}

/**
 * Models vmw_user_bo_unref(): drm_gem_object_put() (tolerating NULL, as the kernel's does).
 * Locking: none. References: drops a GEM one.
 */
export async function vmwUserBoUnref(bo: VmwBo | null): Promise<void> {
  if (bo) await drmGemObjectPut(bo);
}

/**
 * Models vmw_bo_unref_ioctl() (DRM_VMW_HANDLE_CLOSE / UNREF_DMABUF) of v6.12: "return
 * drm_gem_handle_delete(file_priv, arg->handle);", so a handle the file does not have is
 * -EINVAL (the v5.17-era body, "drm_gem_handle_delete(); return 0;", answered 0 whatever
 * happened, as the older IGT vmw_ref_count mob_repeated_unref asserted).
 * Locking: see drmGemHandleDelete(). References: the handle's.
 */
export async function vmwBoUnrefIoctl(
  _dev: DrmDevice,
  arg: DrmVmwHandleCloseArg,
  file: DrmFile,
): Promise<number> {
  return drmGemHandleDelete(file, arg.handle);
}

/**
 * Models vmw_user_bo_synccpu_grab(): with allow_cs, only a wait for the buffer's fences up to
 * READ usage (dma_resv_wait_timeout(), -EBUSY with dontblock if busy); otherwise, under the
 * buffer's reservation (ttm_bo_reserve(), -EBUSY with dontblock if contended), a wait for every
 * fence (vmwgfx's ttm_bo_wait(): ttm_bo_wait_ctx(), BOOKKEEP usage), then one more CPU writer.
 * Locking: none held; takes and drops the reservation (without allow_cs); may sleep.
 * References: the caller's.
 */
async function vmwUserBoSynccpuGrab(bo: VmwBo, flags: number): Promise<number> {
  const nonblock = (flags & drm_vmw_synccpu_dontblock) !== 0;
  if (flags & drm_vmw_synccpu_allow_cs) {
    if (nonblock) return (await dmaResvTestSignaled(bo.resv, DmaResvUsage.READ)) ? 0 : -EBUSY;
    const lret = await dmaResvWaitTimeout(
      bo.resv,
      DmaResvUsage.READ,
      true,
      Number.MAX_SAFE_INTEGER,
    );
    if (lret <= 0) return lret === 0 ? -EBUSY : lret;
    return 0;
  }
  let ret = await ttmBoReserve(bo, true, nonblock, null);
  if (ret) return ret;
  ret = await ttmBoWaitCtx(bo, { interruptible: true, noWaitGpu: nonblock, bytesMoved: 0 });
  if (ret === 0) bo.cpuWriters++;
  // A PRIME import is the model's reduced sg buffer (vmwImportObjectCreate(): no TTM device,
  // resource or LRU): ttm_bo_unreserve()'s move of its resource to the LRU tail has nothing to
  // move, only the reservation (the exporter's) is released.
  if (bo.imported) await dmaResvUnlock(bo.resv);
  else await ttmBoUnreserve(bo);
  return ret;
}

/**
 * Drops the two references the pre-6.6 vmw_user_bo_lookup() took (toggle
 * `vmwgfx.invalid-gem-put`): vmw_bo_unreference(&vbo) NULLs `vbo`, and the
 * drm_gem_object_put(&vbo->tbo.base) that follows dereferences NULL, an oops. The fixed code
 * (vmw_user_bo_unref()) drops the GEM reference only (the lookup took nothing else).
 */
async function synccpuUnrefLookup(bo: VmwBo): Promise<void> {
  if (toggleEnabled(VMWGFX_INVALID_GEM_PUT.name)) {
    let vbo: VmwBo | null = bo;
    await vmwBoUnreference(vbo);
    vbo = null; // vmw_bo_unreference(&vbo)
    await point("drm_gem_object_put(&vbo->tbo.base)");
    if (vbo === null)
      bug(
        "BUG: kernel NULL pointer dereference, address: 0000000000000000 in vmw_user_bo_synccpu_ioctl (drm_gem_object_put(&vbo->tbo.base) after vmw_bo_unreference(&vbo))",
      );
    return;
  }
  await vmwUserBoUnref(bo);
}

/**
 * Models vmw_user_bo_synccpu_release(): looks the handle up (-ESRCH) and, without allow_cs,
 * uncounts a CPU writer (atomic_dec(): unconditionally, so a release without a grab leaves the
 * count negative, and non-zero), then drops the lookup reference.
 * Locking: none held. References: a lookup reference, dropped.
 */
async function vmwUserBoSynccpuRelease(
  file: DrmFile,
  handle: number,
  flags: number,
): Promise<number> {
  const bo = await vmwUserBoLookup(file, handle);
  if (isErr(bo)) return bo;
  if (!(flags & drm_vmw_synccpu_allow_cs)) bo.cpuWriters--;
  await vmwUserBoUnref(bo);
  return 0;
}

/**
 * Models vmw_user_bo_synccpu_ioctl() (DRM_VMW_SYNCCPU): -EINVAL for flags without read/write or
 * with unknown bits, or an unknown op. Grab: look the handle up (-ESRCH), wait for idle, count a
 * CPU writer, drop the lookup reference; a grab that failed with -ERESTARTSYS (a fatal signal in
 * its reservation or wait) or -EBUSY (dontblock) answers -EBUSY, any other error as is. Release:
 * vmwUserBoSynccpuRelease(). A counted CPU writer makes EXECBUF of the buffer -EBUSY
 * (vmw_validation_bo_validate_single()).
 * Locking: none held; may sleep. References: a lookup reference, dropped.
 */
export async function vmwUserBoSynccpuIoctl(
  _dev: DrmDevice,
  arg: DrmVmwSynccpuArg,
  file: DrmFile,
): Promise<number> {
  const rw = drm_vmw_synccpu_read | drm_vmw_synccpu_write;
  if (
    (arg.flags & rw) === 0 ||
    (arg.flags & ~(rw | drm_vmw_synccpu_dontblock | drm_vmw_synccpu_allow_cs)) !== 0
  )
    return -EINVAL;
  if (arg.op === drm_vmw_synccpu_grab) {
    const bo = await vmwUserBoLookup(file, arg.handle);
    if (isErr(bo)) return bo;
    // The pre-6.6 lookup took a TTM reference too; the toggle's unref path drops both.
    if (toggleEnabled(VMWGFX_INVALID_GEM_PUT.name)) await vmwBoReference(bo);
    const ret = await vmwUserBoSynccpuGrab(bo, arg.flags);
    await synccpuUnrefLookup(bo);
    if (ret !== 0) {
      if (ret === -ERESTARTSYS || ret === -EBUSY) return -EBUSY;
      return ret; // "Failed synccpu grab on handle"
    }
    return 0;
  }
  if (arg.op === drm_vmw_synccpu_release)
    return vmwUserBoSynccpuRelease(file, arg.handle, arg.flags);
  return -EINVAL; // Invalid synccpu operation.
}
