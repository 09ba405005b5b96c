/**
 * The SYSTEM memory manager (drivers/gpu/drm/ttm/ttm_sys_manager.c): SYSTEM resources are
 * placeholders (the pages are the BO's ttm_tt), so allocation never runs out.
 */

import { dmaResvAssertHeld } from "@primetime/dma-buf";
import { ENOMEM, isErr, KmemCache, kfree, kmalloc } from "@primetime/kernel";
import type { TtmBufferObject } from "./ttm-bo.js";
import { type TtmDevice, ttmSetDriverManager } from "./ttm-device.js";
import { TTM_PL_SYSTEM, type TtmPlace } from "./ttm-placement.js";
import {
  TtmResource,
  TtmResourceManager,
  ttmResourceFini,
  ttmResourceInit,
  ttmResourceManagerInit,
  ttmResourceManagerSetUsed,
} from "./ttm-resource.js";

/** The slab cache of SYSTEM resources. */
export const ttmSysResourceCache = new KmemCache("ttm_resource");

/**
 * Models ttm_sys_man_alloc(): kzalloc + ttm_resource_init(). -ENOMEM only.
 * Locking: the BO's reservation held.
 * References: the caller owns the resource.
 */
async function ttmSysManAlloc(
  _man: TtmResourceManager,
  bo: TtmBufferObject,
  place: TtmPlace,
): Promise<TtmResource | number> {
  dmaResvAssertHeld(bo.resv);
  const res = kmalloc(ttmSysResourceCache, () => new TtmResource());
  if (isErr(res)) return -ENOMEM;
  await ttmResourceInit(bo, place, res);
  return res;
}

/**
 * Models ttm_sys_man_free().
 * Locking: none beyond ttm_resource_fini()'s.
 * References: the resource is gone.
 */
async function ttmSysManFree(man: TtmResourceManager, res: TtmResource): Promise<void> {
  await ttmResourceFini(man, res);
  kfree(res);
}

/**
 * Models ttm_sys_man_init(): the device's SYSTEM manager (bdev->sysman), use_tt, in service.
 * Locking: none (device set-up).
 * References: embedded in the device.
 */
export function ttmSysManInit(bdev: TtmDevice): void {
  const man = bdev.sysman;
  man.useTt = true;
  ttmResourceManagerInit(man, bdev, 0);
  ttmSetDriverManager(bdev, TTM_PL_SYSTEM, man);
  ttmResourceManagerSetUsed(man, true);
}

/** Models ttm_sys_manager_func. */
export const ttmSysManagerFunc = { alloc: ttmSysManAlloc, free: ttmSysManFree };

/** A new (not yet initialised) SYSTEM manager, what struct ttm_device embeds. */
export function ttmSysManagerNew(): TtmResourceManager {
  return new TtmResourceManager(ttmSysManagerFunc, "ttm_sys_man");
}
