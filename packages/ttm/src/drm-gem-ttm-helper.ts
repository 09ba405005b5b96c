/**
 * GEM helpers for TTM drivers (drivers/gpu/drm/drm_gem_ttm_helper.c): the GEM ->mmap of a BO
 * that embeds its GEM object.
 */

import { drmGemObjectPut, type GemObject } from "@primetime/gem";
import type { Vma } from "@primetime/kernel";
import type { TtmBufferObject } from "./ttm-bo.js";
import { ttmBoMmapObj } from "./ttm-bo-vm.js";

/**
 * Models drm_gem_ttm_mmap(): drm_gem_mmap() found the object and took a GEM reference for the
 * VMA; ttm_bo_mmap_obj() takes a TTM one instead ("ttm has its own object refcounting, so drop
 * gem reference to avoid double accounting counting").
 * Locking: mmap_lock held.
 * References: the VMA holds a TTM reference; the GEM one is dropped.
 */
export async function drmGemTtmMmap(gem: GemObject, vma: Vma): Promise<number> {
  const bo = gem as TtmBufferObject;
  const ret = await ttmBoMmapObj(vma, bo);
  if (ret < 0) return ret;
  await drmGemObjectPut(gem);
  return 0;
}
