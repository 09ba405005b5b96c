/**
 * The TTM device (drivers/gpu/drm/ttm/ttm_device.c, include/drm/ttm/ttm_device.h): what a driver
 * embeds to use TTM: its callbacks (`TtmDeviceFuncs`), the resource manager of each memory type,
 * the `lruLock` protecting every LRU and the unevictable list, the workqueue that destroys busy
 * buffer objects once idle, the page pool its ttm_tts come from (the simulated GPU's system
 * memory), the mmap offset manager and the address space of its CPU mappings.
 *
 * Also the global TTM state (ttm_global, one per simulation here): `bo_count`, the number of
 * live buffer objects (ghosts included), which must be 0 once every device is gone, and the list
 * of devices ttm_global_swapout() walks under `ttm_global_mutex`.
 */

import type { DrmVmaOffsetManager } from "@primetime/gem";
import {
  AddressSpace,
  allocWorkqueue,
  destroyWorkqueue,
  drainWorkqueue,
  Mutex,
  SpinLock,
  type Workqueue,
} from "@primetime/kernel";
import { RESOLVED, SimLocal } from "@primetime/sim";
import type { SimGpu, SystemMemory } from "@primetime/simgpu";
import { type TtmBufferObject, ttmBoSwapout } from "./ttm-bo.js";
import type { TtmOperationCtx } from "./ttm-bo-type.js";
import type { TtmPlace, TtmPlacement } from "./ttm-placement.js";
import { TTM_NUM_MEM_TYPES, TTM_PL_SYSTEM } from "./ttm-placement.js";
import type { TtmResource, TtmResourceManager } from "./ttm-resource.js";
import { ttmResourceManagerSetUsed } from "./ttm-resource.js";
import { ttmSysManagerNew, ttmSysManInit } from "./ttm-sys-manager.js";
import type { TtmTt } from "./ttm-tt.js";

/**
 * Models struct ttm_device_funcs: the driver's callbacks. `ttmTtCreate`, `evictFlags` and
 * `move` are mandatory; `evictionValuable` is usually ttmBoEvictionValuable().
 */
export interface TtmDeviceFuncs {
  /** Models ->ttm_tt_create: allocate and ttm_tt_init() the BO's ttm_tt, or null (-ENOMEM). */
  ttmTtCreate(bo: TtmBufferObject, pageFlags: number): Promise<TtmTt | null>;
  /** Models ->ttm_tt_populate (default: ttm_pool_alloc()). */
  ttmTtPopulate?(bdev: TtmDevice, ttm: TtmTt, ctx: TtmOperationCtx): Promise<number>;
  /** Models ->ttm_tt_unpopulate (default: ttm_pool_free()). */
  ttmTtUnpopulate?(bdev: TtmDevice, ttm: TtmTt): Promise<void>;
  /** Models ->ttm_tt_destroy: ttm_tt_fini() and free. */
  ttmTtDestroy(bdev: TtmDevice, ttm: TtmTt): Promise<void>;
  /** Models ->eviction_valuable: is evicting `bo` worth it for `place`? */
  evictionValuable(bo: TtmBufferObject, place: TtmPlace): boolean;
  /** Models ->evict_flags: where an evicted `bo` goes (fills `placement`; empty: gutting). */
  evictFlags(bo: TtmBufferObject, placement: TtmPlacement): void;
  /**
   * Models ->move: move `bo` to `newMem` (copying its contents), then assign it
   * (ttm_bo_move_null(), ttm_bo_move_memcpy() or ttm_bo_move_accel_cleanup()). 0 or -errno
   * (-EMULTIHOP with `hop` filled for a bounce).
   */
  move(
    bo: TtmBufferObject,
    evict: boolean,
    ctx: TtmOperationCtx,
    newMem: TtmResource,
    hop: TtmPlace | null,
  ): Promise<number>;
  /** Models ->delete_mem_notify: the BO's backing store is about to be freed. */
  deleteMemNotify?(bo: TtmBufferObject): Promise<void>;
  /** Models ->io_mem_reserve: fill in `mem.bus` for CPU access. 0 or -errno. */
  ioMemReserve?(bdev: TtmDevice, mem: TtmResource): Promise<number>;
  /** Models ->io_mem_free. */
  ioMemFree?(bdev: TtmDevice, mem: TtmResource): Promise<void>;
  /** Models ->release_notify: the BO's last reference is gone (before it is torn down). */
  releaseNotify?(bo: TtmBufferObject): Promise<void>;
  /** Models ->swap_notify: the BO's pages are about to be swapped out. */
  swapNotify?(bo: TtmBufferObject): Promise<void>;
}

/** Models struct ttm_pool, as far as this device uses it: the page source of its ttm_tts. */
export interface TtmPool {
  readonly system: SystemMemory;
}

/** Models struct ttm_global: the BO count and the device list (per simulation). */
const ttmGlob = new SimLocal(() => ({
  boCount: 0,
  devices: 0,
  deviceList: [] as TtmDevice[],
  /** Models ttm_global_mutex. */
  mutex: new Mutex("ttm_global_mutex"),
}));

/** Models atomic_read(&ttm_glob.bo_count): live buffer objects, ghosts included. */
export function ttmGlobBoCount(): number {
  return ttmGlob.get().boCount;
}

/** @internal atomic_inc/dec(&ttm_glob.bo_count). */
export function ttmGlobBoCountAdd(delta: number): void {
  ttmGlob.get().boCount += delta;
}

/**
 * Models struct ttm_device.
 *
 * Locking: `lruLock` protects every manager's LRU, `unevictable`, each resource's `bo` pointer
 * and, in ttm_bo_release(), the switch of a dying BO's `resv`.
 * References: the device owns its managers; BOs hold no device reference (the driver keeps the
 * device alive until every BO is gone, ttmDeviceFini() drains the delayed deletes).
 */
export class TtmDevice {
  /** Models funcs. */
  readonly funcs: TtmDeviceFuncs;
  /** Models sysman. */
  readonly sysman: TtmResourceManager;
  /** Models man_drv[]: the manager of each memory type. */
  readonly manDrv: (TtmResourceManager | null)[] = new Array(TTM_NUM_MEM_TYPES).fill(null);
  /** Models vma_manager: the mmap offsets (the DRM device's). */
  readonly vmaManager: DrmVmaOffsetManager;
  /** Models lru_lock. */
  readonly lruLock: SpinLock;
  /** Models unevictable: resources of pinned BOs. */
  readonly unevictable: TtmResource[] = [];
  /** Models dev_mapping: the address space every CPU mapping of a BO is tracked in. */
  readonly devMapping: AddressSpace;
  /** Models wq: the delayed-delete workqueue. */
  wq: Workqueue | null = null;
  /** Models pool. */
  readonly pool: TtmPool;
  /** The simulated GPU the device drives (its copy engine moves buffers). */
  readonly gpu: SimGpu;

  constructor(
    funcs: TtmDeviceFuncs,
    gpu: SimGpu,
    vmaManager: DrmVmaOffsetManager,
    readonly name = "ttm",
  ) {
    this.funcs = funcs;
    this.gpu = gpu;
    this.vmaManager = vmaManager;
    this.sysman = ttmSysManagerNew();
    this.lruLock = new SpinLock(`${name}.lru_lock`);
    this.devMapping = new AddressSpace(`${name}.dev_mapping`);
    this.pool = { system: gpu.system };
  }
}

/**
 * Models ttm_manager_type(): the manager of `memType`, or null.
 * Locking: none (managers are set up at init).
 * References: none.
 */
export function ttmManagerType(bdev: TtmDevice, memType: number): TtmResourceManager | null {
  return bdev.manDrv[memType] ?? null;
}

/**
 * Models ttm_set_driver_manager().
 * Locking: none (device set-up and tear-down).
 * References: none.
 */
export function ttmSetDriverManager(
  bdev: TtmDevice,
  type: number,
  manager: TtmResourceManager | null,
): void {
  bdev.manDrv[type] = manager;
}

/**
 * Models ttm_device_init(): the delayed-delete workqueue, the SYSTEM manager, the pool, the
 * lru lock. The driver then adds its own managers (ttmRangeManInit() for VRAM and TT, its
 * private ones). Returns 0 (or -ENOMEM).
 * Locking: none (the device is not yet visible).
 * References: the global state gains a device.
 */
export function ttmDeviceInit(bdev: TtmDevice): number {
  const glob = ttmGlob.get();
  glob.devices++;
  glob.deviceList.push(bdev);
  bdev.wq = allocWorkqueue("ttm", { unbound: true, maxActive: 16 });
  ttmSysManInit(bdev);
  return 0;
}

/**
 * Models ttm_device_fini(): takes the device off the global device list first (under
 * ttm_global_mutex, so ttm_global_swapout() no longer walks it), then drains the delayed
 * deletes (every busy BO released so far is destroyed once idle) and takes the SYSTEM manager
 * out of service. The driver has finished its own managers first (ttmRangeManFini()).
 * Locking: none held; takes ttm_global_mutex; may sleep.
 * References: the global state loses a device.
 */
export async function ttmDeviceFini(bdev: TtmDevice): Promise<void> {
  const glob = ttmGlob.get();
  const mutexTaken = glob.mutex.lock();
  if (mutexTaken !== RESOLVED) await mutexTaken;
  const i = glob.deviceList.indexOf(bdev);
  if (i >= 0) glob.deviceList.splice(i, 1);
  glob.mutex.unlockNow();
  if (bdev.wq) {
    await drainWorkqueue(bdev.wq);
    await destroyWorkqueue(bdev.wq);
    bdev.wq = null;
  }
  const man = ttmManagerType(bdev, TTM_PL_SYSTEM);
  if (man) {
    ttmResourceManagerSetUsed(man, false);
    ttmSetDriverManager(bdev, TTM_PL_SYSTEM, null);
  }
  glob.devices--;
}

/**
 * Models ttm_device_swapout(): swaps out (at least) one BO of the first use_tt manager that has
 * one (ttm_bo_swapout() with a target of 1). The pages swapped out (> 0), 0 when nothing could
 * be, or -errno.
 * Locking: none held but the caller's reservation, if any; trylocks the BOs it swaps out.
 * References: temporary ones on each BO.
 */
export async function ttmDeviceSwapout(bdev: TtmDevice, ctx: TtmOperationCtx): Promise<number> {
  for (let i = TTM_PL_SYSTEM; i < TTM_NUM_MEM_TYPES; ++i) {
    const man = ttmManagerType(bdev, i);
    if (!man?.useTt) continue;
    const lret = await ttmBoSwapout(bdev, ctx, man, 1);
    // Can be both positive (num_pages) and negative (error)
    if (lret) return lret;
  }
  return 0;
}

/**
 * Models ttm_global_swapout(): under ttm_global_mutex, asks each device in turn to swap one BO
 * out; a device that did goes to the end of the list. The pages swapped out, 0, or -errno.
 * What ttm_tt_populate() calls while too many pages are allocated (and the kernel's shrinkers
 * of drivers like vmwgfx at suspend).
 * Locking: takes ttm_global_mutex; the caller may hold its own BO's reservation.
 * References: none kept.
 */
export async function ttmGlobalSwapout(ctx: TtmOperationCtx): Promise<number> {
  const glob = ttmGlob.get();
  let ret = 0;
  const mutexTaken2 = glob.mutex.lock();
  if (mutexTaken2 !== RESOLVED) await mutexTaken2;
  for (const bdev of [...glob.deviceList]) {
    ret = await ttmDeviceSwapout(bdev, ctx);
    if (ret > 0) {
      const i = glob.deviceList.indexOf(bdev);
      glob.deviceList.splice(i, 1);
      glob.deviceList.push(bdev);
      break;
    }
  }
  glob.mutex.unlockNow();
  return ret;
}
