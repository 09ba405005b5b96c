/**
 * vmwgfx's TTM glue (drivers/gpu/drm/vmwgfx/vmwgfx_ttm_buffer.c, identical in v6.12.19 and
 * v6.18.35): the fixed placements (vmw_sys_placement, vmw_vram_placement), where an evicted
 * buffer goes (vmw_evict_flags(): system memory, always), the move (vmw_move(): a GMR or MOB
 * placement binds the buffer's ttm_tt pages to an id the device knows them by, a move between
 * two `use_tt` types only rebinds, anything involving VRAM is a CPU copy) and ->io_mem_reserve.
 *
 * The device's view: the simulated SVGA device reaches a bound buffer's pages directly (its
 * engine's system addresses), so a GMR/MOB bind is bookkeeping here (`VmwTtmBinding`: bound,
 * its id and type), not the SVGA_CMD_DEFINE_GMR2 / DEFINE_GB_MOB64 commands of vmw_gmr_bind() and
 * vmw_mob_bind(); a VRAM resource is a range of the device's VRAM (the range manager's
 * `VramDrmMm`), which the device's MMU checks. Not modeled: vmw_ttm_map_dma() (the DMA mapping
 * modes), vmw_query_move_notify(), the kernel-map cache vmw_bo_move_notify() drops
 * (vmw_bo_unmap(): nothing maps a buffer in the kernel here) and vmw_resource_unbind_list()
 * (resources are not bound to their MOB here).
 */

import { dmaResvAssertHeld } from "@primetime/dma-buf";
import { EINVAL } from "@primetime/kernel";
import { bug } from "@primetime/sim";
import {
  TTM_PL_SYSTEM,
  TTM_PL_VRAM,
  type TtmBufferObject,
  type TtmDevice,
  type TtmDeviceFuncs,
  type TtmOperationCtx,
  type TtmPlace,
  type TtmResource,
  type TtmTt,
  ttmBoAssignMem,
  ttmBoEvictionValuable,
  ttmBoMoveMemcpy,
  ttmBoMoveNull,
  ttmBoWaitCtx,
  ttmManagerType,
  ttmPlace,
  ttmPlacement,
  ttmResourceAssertHeld,
  ttmResourceFree,
  ttmSimgpuIoMemReserve,
  ttmTtCreateDefault,
  ttmTtDestroyDefault,
} from "@primetime/ttm";
import { VMW_PL_GMR, VMW_PL_MOB, VMW_PL_SYSTEM } from "./vmwgfx-gmrid-manager.js";

/** Models vmw_sys_placement: the guest's system memory. */
export const vmwSysPlacement = ttmPlacement(ttmPlace(TTM_PL_SYSTEM));

/** Models vmw_vram_placement. */
export const vmwVramPlacement = ttmPlacement(ttmPlace(TTM_PL_VRAM));

/**
 * Models the binding fields of struct vmw_ttm_tt (bound, gmr_id, mem_type): whether the
 * buffer's pages are bound to a GMR or MOB id.
 */
export interface VmwTtmBinding {
  bound: boolean;
  gmrId: number;
  memType: number;
}

/** The binding of each ttm_tt (the vmw_ttm_tt around it in the kernel). */
const bindings = new WeakMap<TtmTt, VmwTtmBinding>();

/** The binding state of `ttm` (unbound if it was never bound). */
export function vmwTtmBinding(ttm: TtmTt): VmwTtmBinding {
  let b = bindings.get(ttm);
  if (!b) {
    b = { bound: false, gmrId: 0, memType: TTM_PL_SYSTEM };
    bindings.set(ttm, b);
  }
  return b;
}

/**
 * Models vmw_ttm_bind() (with the BO for its assertion): -EINVAL without a resource; nothing if already bound; else the id is
 * the resource's start and the pages are bound to it (vmw_gmr_bind() / vmw_mob_bind(): see the
 * file comment); a system bind does nothing. BUG() for another type.
 * Locking: the BO's reservation held. References: none.
 */
function vmwTtmBind(bo: TtmBufferObject, ttm: TtmTt, boMem: TtmResource | null): number {
  dmaResvAssertHeld(bo.resv);
  if (!boMem) return -EINVAL;
  const be = vmwTtmBinding(ttm);
  if (be.bound) return 0;
  be.gmrId = boMem.start;
  be.memType = boMem.memType;
  if (boMem.memType !== VMW_PL_GMR && boMem.memType !== VMW_PL_MOB) {
    if (boMem.memType !== VMW_PL_SYSTEM) bug(`vmw_ttm_bind: BUG() (mem_type ${boMem.memType})`);
  }
  be.bound = true;
  return 0;
}

/**
 * Models vmw_ttm_unbind() (with the BO for its assertion): nothing if not bound; else the GMR or MOB is unbound
 * (vmw_gmr_unbind() / vmw_mob_unbind()).
 * Locking: the BO's reservation held. References: none.
 */
function vmwTtmUnbind(bo: TtmBufferObject, ttm: TtmTt | null): void {
  dmaResvAssertHeld(bo.resv);
  if (!ttm) return;
  const be = vmwTtmBinding(ttm);
  if (!be.bound) return;
  be.bound = false;
}

/**
 * Models vmw_evict_flags(): `*placement = vmw_sys_placement;` whatever the buffer's type.
 * Locking: the BO's reservation held (asserted). References: none.
 */
export function vmwEvictFlags(bo: TtmBufferObject, placement: { placement: TtmPlace[] }): void {
  dmaResvAssertHeld(bo.resv);
  placement.placement = [...vmwSysPlacement.placement];
}

/** Models vmw_memtype_is_system(). */
function vmwMemtypeIsSystem(memType: number): boolean {
  return memType === TTM_PL_SYSTEM || memType === VMW_PL_SYSTEM;
}

/**
 * Models vmw_move_notify() -> vmw_bo_move_notify(): see the file comment (what it drops is not
 * modeled); kept as the kernel's call sites have it.
 * Locking: the BO's reservation held. References: none.
 */
function vmwMoveNotify(
  bo: TtmBufferObject,
  _oldMem: TtmResource | null,
  _newMem: TtmResource | null,
): void {
  dmaResvAssertHeld(bo.resv);
}

/**
 * Models vmw_move(): a target of a `use_tt` type other than system memory binds the pages first
 * (its error returned as is); a new buffer, or one in system memory without pages, only takes
 * the new resource (ttm_bo_move_null()); between two `use_tt` types the buffer leaves system
 * memory by ttm_bo_move_null(), and any other type (an eviction out of a GMR or MOB) after
 * ttm_bo_wait_ctx() (its error: the failed move notified back), vmw_ttm_unbind(), the old
 * resource's ttm_resource_free() and ttm_bo_assign_mem(); a move from or to VRAM is
 * ttm_bo_move_memcpy() (its error notified back and returned).
 * Locking: the BO's reservation held (asserted). References: `newMem` is the BO's on success.
 */
export async function vmwMove(
  bo: TtmBufferObject,
  _evict: boolean,
  ctx: TtmOperationCtx,
  newMem: TtmResource,
  _hop: TtmPlace | null,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const newMan = ttmManagerType(bo.bdev, newMem.memType)!;
  const oldMan = bo.resource ? ttmManagerType(bo.bdev, bo.resource.memType) : null;
  let ret = 0;
  if (newMan.useTt && !vmwMemtypeIsSystem(newMem.memType)) {
    ret = vmwTtmBind(bo, bo.ttm!, newMem);
    if (ret) return ret;
  }
  if (!bo.resource || (bo.resource.memType === TTM_PL_SYSTEM && bo.ttm === null)) {
    await ttmBoMoveNull(bo, newMem);
    return 0;
  }
  vmwMoveNotify(bo, bo.resource, newMem);
  if (oldMan?.useTt && newMan.useTt) {
    if (vmwMemtypeIsSystem(bo.resource.memType)) {
      await ttmBoMoveNull(bo, newMem);
      return 0;
    }
    ret = await ttmBoWaitCtx(bo, ctx);
    if (ret) {
      vmwMoveNotify(bo, newMem, bo.resource);
      return ret;
    }
    vmwTtmUnbind(bo, bo.ttm);
    await ttmResourceFree(bo.resource);
    bo.resource = null;
    ttmBoAssignMem(bo, newMem);
    return 0;
  }
  ret = await ttmBoMoveMemcpy(bo, ctx, newMem);
  if (ret) {
    vmwMoveNotify(bo, newMem, bo.resource);
    return ret;
  }
  return 0;
}

/**
 * Models vmw_ttm_io_mem_reserve(): system, GMR and MOB resources need nothing (their pages are
 * the ttm_tt's); VRAM is behind the device's BAR; another type is -EINVAL.
 * Locking: the BO's reservation held. References: none.
 */
async function vmwTtmIoMemReserve(bdev: TtmDevice, mem: TtmResource): Promise<number> {
  ttmResourceAssertHeld(mem);
  switch (mem.memType) {
    case TTM_PL_SYSTEM:
    case VMW_PL_SYSTEM:
    case VMW_PL_GMR:
    case VMW_PL_MOB:
      return 0;
    case TTM_PL_VRAM:
      return ttmSimgpuIoMemReserve(bdev, mem);
    default:
      return -EINVAL;
  }
}

/**
 * Models vmw_bo_driver (struct ttm_device_funcs): the default ttm_tt functions (not
 * vmw_ttm_tt_create()'s DMA-mapped variant), ttm_bo_eviction_valuable(), vmw_evict_flags(),
 * vmw_move(), vmw_ttm_io_mem_reserve(). vmw_swap_notify() is not modeled (no kernel maps).
 */
export const vmwBoDriver: TtmDeviceFuncs = {
  ttmTtCreate: ttmTtCreateDefault,
  ttmTtDestroy: ttmTtDestroyDefault,
  evictionValuable: ttmBoEvictionValuable,
  evictFlags: vmwEvictFlags,
  move: vmwMove,
  ioMemReserve: vmwTtmIoMemReserve,
};
