/**
 * What a driver's ->move does on the simulated GPU (amdgpu_bo_move(), amdgpu_move_blit(),
 * amdgpu_fill_buffer()): moves between SYSTEM and TT need no copy (the pages stay, only their
 * binding changes); anything involving fixed memory (VRAM, a VRAM-backed private type) is a
 * copy on the device's engine, whose fence ends the move through ttm_bo_move_accel_cleanup();
 * a BO with nothing to copy yet (new, or never populated) gets its fixed memory cleared by the
 * engine instead. Drivers plug `ttmSimgpuMove` into their TtmDeviceFuncs.move (with their fence
 * driver) and `ttmSimgpuIoMemReserve` into io_mem_reserve.
 *
 * Evictions out of fixed memory wait for the copy (`pipeline` false): the device faults on
 * memory freed after a command naming it was submitted, so the old range may not be handed out
 * before the copy has read it. Other moves are pipelined through a ghost object.
 */

import {
  type DmaFence,
  DmaResvIter,
  DmaResvUsage,
  dmaFencePut,
  dmaFenceWait,
  dmaResvAddFence,
  dmaResvAssertHeld,
} from "@primetime/dma-buf";
import { EINVAL, isErr } from "@primetime/kernel";
import { RESOLVED } from "@primetime/sim";
import type { Page } from "@primetime/simgpu";
import {
  type Command,
  type GpuAddress,
  PAGE_SIZE,
  systemAddress,
  vramAddress,
} from "@primetime/simgpu";
import type { SimgpuFenceDriver } from "./simgpu-fence.js";
import type { TtmBufferObject } from "./ttm-bo.js";
import { ttmBoPopulate, ttmBoTtDestroy, ttmBoWaitCtx } from "./ttm-bo.js";
import type { TtmOperationCtx } from "./ttm-bo-type.js";
import {
  SIMGPU_VRAM_BAR,
  ttmBoAssignMem,
  ttmBoMoveAccelCleanup,
  ttmBoMoveMemcpy,
  ttmBoMoveNull,
} from "./ttm-bo-util.js";
import { type TtmDevice, ttmManagerType } from "./ttm-device.js";
import type { TtmPlace } from "./ttm-placement.js";
import { TtmRangeManager } from "./ttm-range-manager.js";
import { type TtmResource, ttmResourceAssertHeld } from "./ttm-resource.js";
import { ttmTtIsPopulated, ttmTtIsSwapped } from "./ttm-tt.js";

/**
 * The device address of `res` for the engine: the BO's ttm_tt pages for a use_tt type, the VRAM
 * range otherwise. null if a use_tt BO has no populated pages.
 * Locking: the reservation held. References: none.
 */
export function ttmResourceGpuAddress(bo: TtmBufferObject, res: TtmResource): GpuAddress | null {
  dmaResvAssertHeld(bo.resv);
  const man = ttmManagerType(bo.bdev, res.memType)!;
  if (man.useTt) {
    if (!bo.ttm?.pages || !ttmTtIsPopulated(bo.ttm)) return null;
    return systemAddress(bo.ttm.pages as Page[]);
  }
  return vramAddress(ttmSimgpuVramOffset(bo.bdev, res));
}

/**
 * The byte offset in the device's VRAM of a fixed (non-use_tt) resource: its pages in its
 * manager's drm_mm, from where that manager's region of VRAM begins (`VramDrmMm`; a driver's
 * vram_base / surfaceram_base).
 * Locking: the resource is stable (its BO reserved). References: none.
 */
export function ttmSimgpuVramOffset(bdev: TtmDevice, res: TtmResource): number {
  const man = ttmManagerType(bdev, res.memType);
  const first = man instanceof TtmRangeManager ? (man.mm.vramFirstPage ?? 0) : 0;
  return (first + res.start) * PAGE_SIZE;
}

/**
 * What drivers use as ->io_mem_reserve: a fixed (non-use_tt) resource is VRAM behind the BAR
 * (`bus.offset` = SIMGPU_VRAM_BAR + its byte offset, is_iomem); a use_tt one is system pages.
 * Locking: the reservation held (asserted). References: none.
 */
export async function ttmSimgpuIoMemReserve(bdev: TtmDevice, mem: TtmResource): Promise<number> {
  ttmResourceAssertHeld(mem);
  const man = ttmManagerType(bdev, mem.memType);
  if (!man) return -EINVAL;
  if (man.useTt) return 0;
  mem.bus.offset = SIMGPU_VRAM_BAR + ttmSimgpuVramOffset(bdev, mem);
  mem.bus.isIomem = true;
  return 0;
}

/**
 * Waits for the fences of the BO that are not on the engine's timeline (the engine executes in
 * order, so its own fences need no wait: amdgpu's job dependencies).
 * Locking: the reservation held. References: the cursor's.
 */
async function ttmSimgpuSyncForeign(bo: TtmBufferObject, drv: SimgpuFenceDriver): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const foreign: DmaFence[] = [];
  // dma_resv_for_each_fence_unlocked() with the cursor itself (what
  // dmaResvForEachFenceUnlocked() does): no async generator, whose steps cost promises.
  const cursor = new DmaResvIter(bo.resv, DmaResvUsage.BOOKKEEP);
  try {
    for (let f = await cursor.first(); f; f = await cursor.next()) {
      if (f.context !== drv.context) {
        const getDone = f.refcount.get();
        if (getDone !== RESOLVED) await getDone;
        foreign.push(f);
      }
    }
  } finally {
    const ended = cursor.end();
    if (ended !== RESOLVED) await ended;
  }
  let ret = 0;
  for (const f of foreign) {
    if (!ret) ret = await dmaFenceWait(f, false);
    const dmaFencePutDone = dmaFencePut(f);
    if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  }
  return ret;
}

/**
 * Submits `cmd` after the BO's foreign fences, ends the move with
 * ttm_bo_move_accel_cleanup(). 0 or -errno (the fence driver's, or the cleanup's).
 * Locking: the reservation held (a fence slot reserved by ttm_bo_handle_move_mem()).
 * References: the reservation keeps the fence; our reference is dropped.
 */
async function ttmSimgpuBlit(
  bo: TtmBufferObject,
  drv: SimgpuFenceDriver,
  cmds: Command[],
  evict: boolean,
  newMem: TtmResource,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  let ret = await ttmSimgpuSyncForeign(bo, drv);
  if (ret) return ret;
  const fence = await drv.submit(cmds);
  if (isErr(fence)) return fence;
  ret = await ttmBoMoveAccelCleanup(bo, fence, evict, false, newMem);
  const dmaFencePutDone2 = dmaFencePut(fence);
  if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
  return ret;
}

/**
 * A driver ->move on the simulated GPU (amdgpu_bo_move()). See the file comment.
 * Locking: the reservation held. References: `newMem` is the BO's on success.
 */
export async function ttmSimgpuMove(
  drv: SimgpuFenceDriver,
  bo: TtmBufferObject,
  evict: boolean,
  ctx: TtmOperationCtx,
  newMem: TtmResource,
  _hop: TtmPlace | null,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  const bdev = bo.bdev;
  const oldMem = bo.resource;
  const newMan = ttmManagerType(bdev, newMem.memType)!;
  const oldMan = oldMem ? ttmManagerType(bdev, oldMem.memType)! : null;
  let ret: number;
  // Nothing to copy: a new BO, or pages never populated (a swapped-out ttm_tt has contents).
  const nothing =
    !oldMem ||
    (oldMan!.useTt && (!bo.ttm || (!ttmTtIsPopulated(bo.ttm) && !ttmTtIsSwapped(bo.ttm))));
  if (nothing) {
    if (newMan.useTt) {
      await ttmBoMoveNull(bo, newMem);
      return 0;
    }
    // Clear the fixed memory on the engine (AMDGPU_GEM_CREATE_VRAM_CLEARED), then assign.
    const fence = await drv.submit([
      { op: "fill", dst: vramAddress(ttmSimgpuVramOffset(bdev, newMem)), size: bo.size, value: 0 },
    ]);
    if (isErr(fence)) return fence;
    await dmaResvAddFence(bo.resv, fence, DmaResvUsage.KERNEL);
    const dmaFencePutDone3 = dmaFencePut(fence);
    if (dmaFencePutDone3 !== RESOLVED) await dmaFencePutDone3;
    if (!oldMem) ttmBoAssignMem(bo, newMem);
    else {
      await ttmBoTtDestroy(bo);
      await ttmBoMoveNull(bo, newMem);
    }
    return 0;
  }
  // SYSTEM <-> TT: the same pages, bound or not.
  if (oldMan!.useTt && newMan.useTt) {
    if (newMem.memType < oldMem!.memType) {
      // Unbinding from the aperture: the GPU must be done with it.
      ret = await ttmBoWaitCtx(bo, ctx);
      if (ret) return ret;
    }
    await ttmBoMoveNull(bo, newMem);
    return 0;
  }
  // Fixed memory involved: a copy on the engine (of swapped-out pages once swapped back in).
  if (newMan.useTt || (bo.ttm && ttmTtIsSwapped(bo.ttm))) {
    ret = await ttmBoPopulate(bo, ctx);
    if (ret) return ret;
  }
  const src = oldMan!.useTt
    ? ttmResourceGpuAddress(bo, oldMem!)
    : vramAddress(ttmSimgpuVramOffset(bdev, oldMem!));
  const dst = newMan.useTt
    ? ttmResourceGpuAddress(bo, newMem)
    : vramAddress(ttmSimgpuVramOffset(bdev, newMem));
  if (!src || !dst) return ttmBoMoveMemcpy(bo, ctx, newMem);
  ret = await ttmSimgpuBlit(bo, drv, [{ op: "copy", src, dst, size: bo.size }], evict, newMem);
  if (ret === -EINVAL) {
    // The engine refused the batch: the CPU copies instead (amdgpu's memcpy fallback).
    return ttmBoMoveMemcpy(bo, ctx, newMem);
  }
  return ret;
}
