/**
 * enum ttm_bo_type and struct ttm_operation_ctx (include/drm/ttm/ttm_bo.h).
 */

import type { DmaResv } from "@primetime/dma-buf";

/** Models enum ttm_bo_type. */
export const ttmBoType = {
  /** Models ttm_bo_type_device: userspace-visible, gets an mmap offset. */
  device: 0,
  /** Models ttm_bo_type_kernel: kernel-only, no mmap offset. */
  kernel: 1,
  /** Models ttm_bo_type_sg: pages of an imported sg table. */
  sg: 2,
} as const;
export type TtmBoType = (typeof ttmBoType)[keyof typeof ttmBoType];

/** Models struct ttm_operation_ctx. */
export interface TtmOperationCtx {
  /** Models interruptible (no signals here: never -ERESTARTSYS). */
  interruptible: boolean;
  /** Models no_wait_gpu: return -EBUSY instead of waiting for the GPU. */
  noWaitGpu: boolean;
  /** Models bytes_moved. */
  bytesMoved: number;
  /**
   * Models allow_res_evict: BOs sharing `resv`, which the caller holds, may be evicted (the LRU
   * walk's ttm_lru_walk_trylock() takes them as locked). Default false.
   */
  allowResEvict?: boolean;
  /** Models resv: the reservation `allowResEvict` applies to (default NULL: none). */
  resv?: DmaResv | null;
}

/** Models EMULTIHOP: the driver's move needs a bounce through `hop` first. */
export const EMULTIHOP = 72;
