/**
 * qxl's TTM glue (drivers/gpu/drm/qxl/qxl_ttm.c, Linux v6.18): the device's memory types (VRAM =
 * the RAM bar, PRIV = the surface bar, both ranges of the simulated GPU's VRAM here), where an
 * evicted object goes (system memory), and the move, whose notifier destroys the hardware
 * surface of an object leaving the surface memory (also on delete: delete_mem_notify).
 */

import { dmaResvAssertHeld } from "@primetime/dma-buf";
import type { DrmVmaOffsetManager } from "@primetime/gem";
import { toggleEnabled } from "@primetime/sim";
import {
  TTM_PL_FLAG_TEMPORARY,
  TTM_PL_PRIV,
  TTM_PL_SYSTEM,
  TTM_PL_VRAM,
  type TtmBufferObject,
  TtmDevice,
  type TtmDeviceFuncs,
  type TtmOperationCtx,
  type TtmPlace,
  type TtmPlacement,
  type TtmResource,
  ttmBoEvictionValuable,
  ttmBoMoveMemcpy,
  ttmBoMoveNull,
  ttmBoWaitCtx,
  ttmDeviceFini,
  ttmDeviceInit,
  ttmRangeManFini,
  ttmRangeManInit,
  ttmSimgpuIoMemReserve,
  ttmTtCreateDefault,
  ttmTtDestroyDefault,
  VramDrmMm,
} from "@primetime/ttm";
import { qxlSurfaceEvict } from "./qxl-cmd.js";
import type { QxlDevice } from "./qxl-device.js";
import { toQxl } from "./qxl-device.js";
import { QXL_GEM_DOMAIN_CPU } from "./qxl-drm-uapi.js";
import { qxlTtmBoIsQxlBo, qxlTtmPlacementFromDomain, toQxlBo } from "./qxl-object.js";
import { QXL_RETIRED_RELEASE_BO_EVICTABLE } from "./toggles.js";

/** Models EMULTIHOP (asm-generic/errno.h): the move needs a bounce through another placement. */
const EMULTIHOP = 72;

/**
 * Models qxl_evict_flags(): an evicted qxl object goes to system memory (the CPU domain).
 * Locking: the object reserved. References: none.
 */
function qxlEvictFlags(bo: TtmBufferObject, placement: TtmPlacement): void {
  if (!qxlTtmBoIsQxlBo(bo) || !bo.resource) {
    placement.placement = [{ fpfn: 0, lpfn: 0, memType: TTM_PL_SYSTEM, flags: 0 }];
    return;
  }
  const qbo = toQxlBo(bo);
  qxlTtmPlacementFromDomain(qbo, QXL_GEM_DOMAIN_CPU);
  placement.placement = qbo.placement.placement;
}

/**
 * Models qxl_bo_move_notify(): an object leaving (or freeing) the surface memory loses its
 * hardware surface; when it moves somewhere else its contents are brought up to date first.
 * Locking: the object reserved; takes surf_evict_mutex.
 * References: none.
 */
async function qxlBoMoveNotify(bo: TtmBufferObject, newMem: TtmResource | null): Promise<void> {
  if (!qxlTtmBoIsQxlBo(bo) || !bo.resource) return;
  const qbo = toQxlBo(bo);
  const qdev = toQxl(qbo.dev);
  if (bo.resource.memType === TTM_PL_PRIV && qbo.surfaceId)
    await qxlSurfaceEvict(qdev, qbo, newMem !== null);
}

/**
 * Models qxl_bo_move(): a new object must first appear in system memory (multihop); a move out
 * of an unpopulated system placement needs no copy; anything else is ttm_bo_move_memcpy(),
 * whose error is returned as is (v6.18 calls qxl_bo_move_notify() once, before the wait: no
 * second notify on a failed copy).
 * Locking: the object reserved. References: `newMem` becomes the object's on success.
 */
async function qxlBoMove(
  bo: TtmBufferObject,
  _evict: boolean,
  ctx: TtmOperationCtx,
  newMem: TtmResource,
  hop: TtmPlace | null,
): Promise<number> {
  const oldMem = bo.resource;
  if (!oldMem) {
    if (newMem.memType !== TTM_PL_SYSTEM && hop) {
      hop.memType = TTM_PL_SYSTEM;
      hop.flags = TTM_PL_FLAG_TEMPORARY;
      return -EMULTIHOP;
    }
    await ttmBoMoveNull(bo, newMem);
    return 0;
  }
  await qxlBoMoveNotify(bo, newMem);
  const ret = await ttmBoWaitCtx(bo, ctx);
  if (ret) return ret;
  if (oldMem.memType === TTM_PL_SYSTEM && bo.ttm === null) {
    await ttmBoMoveNull(bo, newMem);
    return 0;
  }
  return ttmBoMoveMemcpy(bo, ctx, newMem);
}

/**
 * Models qxl_bo_delete_mem_notify(): qxl_bo_move_notify(bo, NULL).
 * Locking: the object reserved (or dying). References: none.
 */
async function qxlBoDeleteMemNotify(bo: TtmBufferObject): Promise<void> {
  await qxlBoMoveNotify(bo, null);
}

/**
 * Models qxl_bo_driver.eviction_valuable, which v6.18 leaves to ttm_bo_eviction_valuable(). With
 * the fix switch of the known window qxl.retired-release-bo-evictable on, a release page is never
 * worth evicting: a retired one is unpinned while releases in it that were never fenced may
 * still be on the device's ring (proposed fix; see toggles.ts).
 * Locking: the object's reservation held (asserted).
 * References: the caller holds one.
 */
export function qxlEvictionValuable(bo: TtmBufferObject, place: TtmPlace): boolean {
  dmaResvAssertHeld(bo.resv);
  if (
    qxlTtmBoIsQxlBo(bo) &&
    toQxlBo(bo).isReleaseBo &&
    toggleEnabled(QXL_RETIRED_RELEASE_BO_EVICTABLE.name)
  )
    return false;
  return ttmBoEvictionValuable(bo, place);
}

/** Models qxl_bo_driver. */
export const qxlBoDriver: TtmDeviceFuncs = {
  ttmTtCreate: ttmTtCreateDefault,
  ttmTtDestroy: ttmTtDestroyDefault,
  evictionValuable: qxlEvictionValuable,
  evictFlags: qxlEvictFlags,
  move: qxlBoMove,
  ioMemReserve: ttmSimgpuIoMemReserve,
  deleteMemNotify: qxlBoDeleteMemNotify,
};

/**
 * Models qxl_ttm_init(): the TTM device over the GPU, a range manager for VRAM (`vramPages`, the
 * RAM BAR) and one for the surface memory (`surfacePages`, the surface BAR): two drm_mms over
 * disjoint regions of the device memory.
 * Locking: none (device set-up). References: the device owns its managers.
 */
export function qxlTtmInit(
  qdev: QxlDevice,
  vmaManager: DrmVmaOffsetManager,
  vramPages: number,
  surfacePages: number,
): number {
  const bdev = new TtmDevice(qxlBoDriver, qdev.hw.gpu, vmaManager, `${qdev.hw.name}.ttm`);
  qdev.mman = bdev;
  let r = ttmDeviceInit(bdev);
  if (r) return r;
  const vram = qdev.hw.gpu.vram;
  r = ttmRangeManInit(bdev, TTM_PL_VRAM, false, vramPages, new VramDrmMm(vram, 0, vramPages));
  if (r) return r;
  const surfaceram = new VramDrmMm(vram, qdev.hw.surfaceBase, surfacePages);
  return ttmRangeManInit(bdev, TTM_PL_PRIV, false, surfacePages, surfaceram);
}

/**
 * Models qxl_ttm_fini(): the managers go (evicting what is left), then the device.
 * Locking: none held; may sleep. References: none.
 */
export async function qxlTtmFini(qdev: QxlDevice): Promise<void> {
  await ttmRangeManFini(qdev.mman, TTM_PL_VRAM);
  await ttmRangeManFini(qdev.mman, TTM_PL_PRIV);
  await ttmDeviceFini(qdev.mman);
}
