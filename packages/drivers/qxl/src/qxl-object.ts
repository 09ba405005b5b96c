/**
 * qxl buffer objects (drivers/gpu/drm/qxl/qxl_object.c, qxl_object.h, Linux v6.18): a TTM buffer
 * object (which here *is* the GEM object, as the kernel's qxl_bo embeds tbo which embeds base)
 * with qxl's domain, surface state and kernel mapping.
 *
 * Who holds what (mainline, since 2015):
 * - the GEM count (`refcount`) is the main one: handles, lookups, releases (qxl_bo_ref/unref),
 *   mmaps and dma-bufs count there;
 * - the TTM count (`kref`) is held by the GEM object itself (dropped by qxl_gem_object_free()),
 *   plus TTM's own users (the delayed delete);
 * - `surf_id_idr` points at a surfaced object without any reference (qxl-cmd.ts); the GEM free
 *   evicts the surface, clearing that pointer, before dropping the TTM reference.
 * With toggle `qxl.dual-refcount` (Linux before v4.2) qxl_bo_ref/unref use the TTM count and
 * the eviction happens only in qxl_ttm_bo_destroy().
 */

import type { DmaResv } from "@primetime/dma-buf";
import {
  drmGemObjectGet,
  drmGemObjectPut,
  drmGemObjectRelease,
  drmGemPrivateObjectInit,
} from "@primetime/gem";
import { type Errno, errPtr, isErr, KmemCache, kfree, kmalloc, PAGE_SIZE } from "@primetime/kernel";
import { RESOLVED, SimLocal, toggleEnabled, warnOn } from "@primetime/sim";
import { type Page, writePages } from "@primetime/simgpu";
import {
  TTM_PL_FLAG_TOPDOWN,
  TTM_PL_PRIV,
  TTM_PL_SYSTEM,
  TTM_PL_VRAM,
  TtmBufferObject,
  type TtmOperationCtx,
  type TtmPlace,
  type TtmPlacement,
  ttmBoGet,
  ttmBoInitReserved,
  ttmBoPin,
  ttmBoPut,
  ttmBoReserve,
  ttmBoType,
  ttmBoUnpin,
  ttmBoUnreserve,
  ttmBoValidate,
  ttmManagerType,
  ttmResourceManagerEvictAll,
  ttmSimgpuVramOffset,
} from "@primetime/ttm";
import { qxlHwSurfaceAlloc, qxlSurfaceEvict, qxlSurfaceIdAlloc } from "./qxl-cmd.js";
import { QXL_MAIN_SLOT, QXL_SURFACES_SLOT, QxlHw } from "./qxl-dev.js";
import { type QxlDevice, toQxl } from "./qxl-device.js";
import { QXL_GEM_DOMAIN_CPU, QXL_GEM_DOMAIN_SURFACE, QXL_GEM_DOMAIN_VRAM } from "./qxl-drm-uapi.js";
import { qxlObjectFuncs } from "./qxl-gem.js";
import type { QxlRelease } from "./qxl-release.js";
import { QXL_DUAL_REFCOUNT } from "./toggles.js";

/** Models struct qxl_surface: what a surfaced object looks like to the device. */
export interface QxlSurface {
  width: number;
  height: number;
  format: number;
  stride: number;
  data: number;
}

/** The slab cache of qxl buffer objects. */
export const qxlBoCache = new KmemCache("qxl_bo");

/** Creation order of buffer objects: the global order the model locks reservations in. */
const boSeq = new SimLocal(() => ({ next: 0 }));

/** The next position in the model's global reservation order (objects and imports). */
export function nextObjSeq(): number {
  return ++boSeq.get().next;
}

/**
 * Models struct qxl_bo. The kernel's `type` (the GEM domain) is `domain` here, `type` being
 * tbo.type on this merged object.
 * Locking: `surfaceId`, `hwSurfAlloc`, `surfCreate` change under surf_evict_mutex (eviction) or
 * with the object reserved (allocation); `kptr`/`mapCount` under the reservation.
 * References: see the file comment.
 */
export class QxlBo extends TtmBufferObject {
  /** Models placements[] / placement. */
  placement: TtmPlacement = { placement: [] };
  /** Models type: QXL_GEM_DOMAIN_*. */
  domain = QXL_GEM_DOMAIN_CPU;
  /** Models kptr: the kernel mapping while mapped (qxl_bo_vmap()). */
  kptr: Uint8Array | null = null;
  /** Models map_count. */
  mapCount = 0;
  /** Models surf. */
  surf: QxlSurface = { width: 0, height: 0, format: 0, stride: 0, data: 0 };
  /** Models surface_id: 0 while the object has no hardware surface id. */
  surfaceId = 0;
  /** Models surf_create: the release of the CREATE command, kept until DESTROY. */
  surfCreate: QxlRelease | null = null;
  /** Models hw_surf_alloc. */
  hwSurfAlloc = false;
  /** Models is_primary. */
  isPrimary = false;
  /** Models is_dumb. */
  isDumb = false;
  /** Models shadow: a dumb bo's shadow while it is shown (a GEM reference and a pin), or null. */
  shadow: QxlBo | null = null;
  /**
   * A release page (qxl_release_bo_alloc()): the fix switch of the known window
   * qxl.retired-release-bo-evictable never evicts one (qxlEvictionValuable()). Not in v6.18's
   * struct qxl_bo: the proposed fix's.
   */
  isReleaseBo = false;
  /** Position in the model's global reservation order. */
  readonly seq = nextObjSeq();
}

/** kmalloc()'s constructor call for a QxlBo (one function, not a closure per call). */
function newQxlBo(): QxlBo {
  return new QxlBo(qxlObjectFuncs);
}

/** Models to_qxl_bo() / gem_to_qxl_bo(). */
export function toQxlBo(obj: unknown): QxlBo {
  return obj as QxlBo;
}

/**
 * A KASAN-checked access to a buffer object the caller reaches through a pointer that holds no
 * reference (the surface idr's): reports a use-after-free if the object is gone.
 */
export function qxlBoAccess(bo: QxlBo, what: string): boolean {
  return bo.checkAccess(what);
}

/**
 * Models qxl_ttm_bo_destroy(): the TTM destroy callback. Evicts the surface again (a no-op when
 * the GEM free already did it; the only eviction with `qxl.dual-refcount`), WARNs on a still
 * mapped object, unlinks it from the device's list, releases the GEM object and frees it.
 * Locking: none held; takes surf_evict_mutex and gem.mutex.
 * References: both counts are gone.
 */
export async function qxlTtmBoDestroy(tbo: TtmBufferObject): Promise<void> {
  const bo = toQxlBo(tbo);
  const qdev = toQxl(bo.dev);
  await qxlSurfaceEvict(qdev, bo, false);
  if (bo.mapCount > 0)
    warnOn(true, `qxl_ttm_bo_destroy(${bo.name}): WARN_ON_ONCE(bo->map_count > 0)`, {
      object: bo.name,
    });
  const gemMutexTaken = qdev.gemMutex.lock();
  if (gemMutexTaken !== RESOLVED) await gemMutexTaken;
  qdev.gemObjects.delete(bo);
  qdev.gemMutex.unlockNow();
  await drmGemObjectRelease(bo);
  kfree(bo);
}

/** Models qxl_ttm_bo_is_qxl_bo(). */
export function qxlTtmBoIsQxlBo(bo: TtmBufferObject): boolean {
  return bo.destroy === qxlTtmBoDestroy;
}

/** A placement of `memType` with `flags` over the whole range (qxl_ttm_placement_from_domain()). */
function place(memType: number, flags: number): TtmPlace {
  return { fpfn: 0, lpfn: 0, memType, flags };
}

/**
 * Models qxl_ttm_placement_from_domain(): VRAM; SURFACE = PRIV then VRAM; CPU = SYSTEM. Objects
 * of one page or less are placed top-down.
 * Locking: the object reserved (or not yet visible). References: none.
 */
export function qxlTtmPlacementFromDomain(qbo: QxlBo, domain: number): void {
  const pflag = qbo.size <= PAGE_SIZE ? TTM_PL_FLAG_TOPDOWN : 0;
  const places: TtmPlace[] = [];
  if (domain === QXL_GEM_DOMAIN_VRAM) places.push(place(TTM_PL_VRAM, pflag));
  if (domain === QXL_GEM_DOMAIN_SURFACE) {
    places.push(place(TTM_PL_PRIV, pflag));
    places.push(place(TTM_PL_VRAM, pflag));
  }
  if (domain === QXL_GEM_DOMAIN_CPU) places.push(place(TTM_PL_SYSTEM, pflag));
  if (!places.length) places.push(place(TTM_PL_SYSTEM, 0));
  qbo.placement = { placement: places };
}

/**
 * Models qxl_bo_create(): allocates the object, initialises its GEM part, and TTM-initialises
 * it into its domain (reserved), pinning it if asked; returns it unreserved with one GEM and one
 * TTM reference. On a TTM failure the object is already destroyed.
 * Locking: none held; may sleep (validation may evict).
 * References: the caller owns the GEM reference (and the GEM object the TTM one).
 */
export async function qxlBoCreate(
  qdev: QxlDevice,
  size: number,
  kernel: boolean,
  pinned: boolean,
  domain: number,
  priority: number,
  surf: QxlSurface | null,
): Promise<QxlBo | Errno> {
  const ctx: TtmOperationCtx = { interruptible: !kernel, noWaitGpu: false, bytesMoved: 0 };
  const type = kernel ? ttmBoType.kernel : ttmBoType.device;
  const bo = kmalloc(qxlBoCache, newQxlBo);
  if (isErr(bo)) return bo;
  const aligned = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  drmGemPrivateObjectInit(qdev.ddev, bo, aligned);
  bo.domain = domain;
  bo.surfaceId = 0;
  if (surf) bo.surf = { ...surf };
  qxlTtmPlacementFromDomain(bo, domain);
  void priority;
  const r = await ttmBoInitReserved(
    qdev.mman,
    bo,
    type,
    bo.placement,
    0,
    ctx,
    null,
    qxlTtmBoDestroy,
  );
  if (r !== 0) return errPtr(r);
  if (pinned) await ttmBoPin(bo);
  await ttmBoUnreserve(bo);
  return bo;
}

/**
 * Models qxl_bo_reserve(): ttm_bo_reserve(interruptible, no_wait = false, no ticket).
 * Locking: takes the reservation; may sleep. References: the caller must keep `bo` valid.
 */
export async function qxlBoReserve(bo: QxlBo): Promise<number> {
  return ttmBoReserve(bo, true, false);
}

/** Models qxl_bo_unreserve(). */
export async function qxlBoUnreserve(bo: QxlBo): Promise<void> {
  await ttmBoUnreserve(bo);
}

/**
 * Models qxl_bo_physical_address(): the device's address of `offset` bytes into the object:
 * the main memslot for VRAM, the surfaces memslot for PRIV.
 * Locking: the object's placement is stable (reserved, pinned or fenced). References: none.
 */
export function qxlBoPhysicalAddress(_qdev: QxlDevice, bo: QxlBo, offset: number): number {
  const res = bo.resource!;
  const slot = res.memType === TTM_PL_VRAM ? QXL_MAIN_SLOT : QXL_SURFACES_SLOT;
  return QxlHw.physical(slot, res.start * PAGE_SIZE + offset);
}

/**
 * Models qxl_bo_kmap_atomic_page() + qxl_release_map()'s pointer arithmetic: the CPU's view of
 * the object's bytes, `len` bytes at `offset` within one page of the object (a kmap maps one
 * page; a range across a page boundary is a RangeError). VRAM and PRIV objects are device memory
 * (the BARs); others are their ttm_tt pages.
 * Locking: the object's placement is stable. References: none.
 */
export function qxlBoCpuView(qdev: QxlDevice, bo: QxlBo, offset: number, len: number): DataView {
  const res = bo.resource!;
  if (res.memType === TTM_PL_VRAM || res.memType === TTM_PL_PRIV) {
    return qdev.hw.gpu.vram.view(ttmSimgpuVramOffset(qdev.mman, res) + offset, len);
  }
  if ((offset % PAGE_SIZE) + len > PAGE_SIZE)
    throw new RangeError(`view [${offset}, +${len}) of ${bo.name} crosses a page boundary`);
  const page = bo.ttm!.pages![Math.floor(offset / PAGE_SIZE)]!;
  return new DataView(page.data.buffer, page.data.byteOffset + (offset % PAGE_SIZE), len);
}

/**
 * The CPU's stores of `bytes` at `offset` into the object (the writes of apply_reloc() and the
 * command copy of qxl_process_single_command() through their kmaps), across pages where the
 * range spans several. VRAM and PRIV objects are device memory; others their ttm_tt pages.
 * Locking: the object's placement is stable. References: none.
 */
export function qxlBoCpuWrite(qdev: QxlDevice, bo: QxlBo, offset: number, bytes: Uint8Array): void {
  const res = bo.resource!;
  if (res.memType === TTM_PL_VRAM || res.memType === TTM_PL_PRIV) {
    qdev.hw.gpu.vram.write(ttmSimgpuVramOffset(qdev.mman, res) + offset, bytes);
    return;
  }
  writePages(bo.ttm!.pages! as Page[], offset, bytes);
}

/**
 * Models qxl_bo_ref(): a GEM reference (a TTM one with `qxl.dual-refcount`).
 * Locking: none; the caller holds a reference. References: takes one.
 */
export async function qxlBoRef(bo: QxlBo): Promise<QxlBo> {
  const got = qxlBoGet(bo);
  if (got !== RESOLVED) await got;
  return bo;
}

/**
 * qxl_bo_ref() for callers that do not need the BO back: the reference's own promise, the
 * settled RESOLVED when the task went on at the kref's point (no async frame, no await).
 * Locking: none; the caller holds a reference. References: takes one.
 */
export function qxlBoGet(bo: QxlBo): Promise<void> {
  try {
    if (toggleEnabled(QXL_DUAL_REFCOUNT.name)) return ttmBoGet(bo);
    return drmGemObjectGet(bo);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Models qxl_bo_unref(): drops a GEM reference (a TTM one with `qxl.dual-refcount`); the last
 * runs qxl_gem_object_free() (ttm_bo_release()).
 * Locking: none held that the free path takes. References: drops one.
 */
export function qxlBoUnref(bo: QxlBo | null): Promise<void> {
  // No async frame: drm_gem_object_put()'s RESOLVED when the put kept the task and was not the
  // last, so callers may skip their await; a throw becomes a rejected promise.
  if (bo === null) return RESOLVED;
  try {
    if (toggleEnabled(QXL_DUAL_REFCOUNT.name)) return ttmBoPut(bo);
    return drmGemObjectPut(bo);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Models __qxl_bo_pin(): pins in the current placement (validating into the domain first).
 * Locking: the reservation held. References: none.
 */
export async function qxlBoPinLocked(bo: QxlBo): Promise<number> {
  if (bo.pinCount) {
    await ttmBoPin(bo);
    return 0;
  }
  qxlTtmPlacementFromDomain(bo, bo.domain);
  const ctx: TtmOperationCtx = { interruptible: false, noWaitGpu: false, bytesMoved: 0 };
  const r = await ttmBoValidate(bo, bo.placement, ctx);
  if (r === 0) await ttmBoPin(bo);
  return r;
}

/**
 * Models qxl_bo_pin(): reserve, __qxl_bo_pin(), unreserve.
 * Locking: takes the reservation. References: the caller holds one.
 */
export async function qxlBoPin(bo: QxlBo): Promise<number> {
  const r = await qxlBoReserve(bo);
  if (r) return r;
  const ret = await qxlBoPinLocked(bo);
  await qxlBoUnreserve(bo);
  return ret;
}

/**
 * Models qxl_bo_unpin_locked() (__qxl_bo_unpin()): ttm_bo_unpin().
 * Locking: the reservation held (asserted by ttm_bo_unpin()). References: none.
 */
export async function qxlBoUnpinLocked(bo: QxlBo): Promise<void> {
  await ttmBoUnpin(bo);
}

/**
 * Models qxl_bo_unpin().
 * Locking: takes the reservation. References: the caller holds one.
 */
export async function qxlBoUnpin(bo: QxlBo): Promise<number> {
  const r = await qxlBoReserve(bo);
  if (r) return r;
  await qxlBoUnpinLocked(bo);
  await qxlBoUnreserve(bo);
  return 0;
}

/**
 * Models qxl_bo_vmap(): pins the object and maps it for the kernel (map_count++).
 * Locking: takes the reservation. References: the caller holds one.
 */
export async function qxlBoVmap(qdev: QxlDevice, bo: QxlBo): Promise<Uint8Array | Errno> {
  let r = await qxlBoReserve(bo);
  if (r) return errPtr(r);
  r = await qxlBoPinLocked(bo);
  if (r) {
    await qxlBoUnreserve(bo);
    return errPtr(r);
  }
  if (bo.kptr) bo.mapCount++;
  else {
    const v = qxlBoCpuView(qdev, bo, 0, PAGE_SIZE);
    bo.kptr = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    bo.mapCount = 1;
  }
  const ptr = bo.kptr;
  await qxlBoUnreserve(bo);
  return ptr;
}

/**
 * Models qxl_bo_vunmap(): map_count--, unmapping at zero, and unpins.
 * Locking: takes the reservation. References: the caller holds one.
 */
export async function qxlBoVunmap(bo: QxlBo): Promise<number> {
  const r = await qxlBoReserve(bo);
  if (r) return r;
  if (bo.kptr !== null) {
    bo.mapCount--;
    if (bo.mapCount === 0) bo.kptr = null;
  }
  await ttmBoUnpin(bo);
  await qxlBoUnreserve(bo);
  return 0;
}

/**
 * Models qxl_bo_check_id(): a surface-domain object gets a surface id and a hardware surface
 * the first time it is validated for the device.
 * Locking: the object reserved. References: the idr entry holds none.
 */
export async function qxlBoCheckId(qdev: QxlDevice, bo: QxlBo): Promise<number> {
  if (bo.domain === QXL_GEM_DOMAIN_SURFACE && bo.surfaceId === 0) {
    // allocate a surface id for this surface now
    let ret = await qxlSurfaceIdAlloc(qdev, bo);
    if (ret) return ret;
    ret = await qxlHwSurfaceAlloc(qdev, bo);
    if (ret) return ret;
  }
  return 0;
}

/**
 * Models qxl_surf_evict(): evicts everything from the surface memory type.
 * Locking: none held. References: none.
 */
export async function qxlSurfEvict(qdev: QxlDevice): Promise<number> {
  const man = ttmManagerType(qdev.mman, TTM_PL_PRIV)!;
  return ttmResourceManagerEvictAll(qdev.mman, man);
}

/**
 * Models qxl_vram_evict(): evicts everything from the VRAM memory type.
 * Locking: none held. References: none.
 */
export async function qxlVramEvict(qdev: QxlDevice): Promise<number> {
  const man = ttmManagerType(qdev.mman, TTM_PL_VRAM)!;
  return ttmResourceManagerEvictAll(qdev.mman, man);
}

/**
 * Models qxl_bo_force_delete(): at unload, drops the GEM reference of every object userspace
 * left behind (an error the kernel prints).
 * Locking: takes gem.mutex per object. References: drops one per object.
 */
export async function qxlBoForceDelete(qdev: QxlDevice): Promise<void> {
  for (const bo of [...qdev.gemObjects]) {
    const gemMutexTaken2 = qdev.gemMutex.lock();
    if (gemMutexTaken2 !== RESOLVED) await gemMutexTaken2;
    qdev.gemObjects.delete(bo);
    qdev.gemMutex.unlockNow();
    const drmGemObjectPutDone = drmGemObjectPut(bo);
    if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
  }
}

/** The reservation of an object (bo->tbo.base.resv). */
export function qxlBoResv(bo: QxlBo): DmaResv {
  return bo.resv;
}
