/**
 * Placements (include/drm/ttm/ttm_placement.h): where a buffer object may live, in the driver's
 * order of preference.
 */

/** Models TTM_PL_SYSTEM: system memory not bound to the GPU (a ttm_tt, CPU only). */
export const TTM_PL_SYSTEM = 0;
/** Models TTM_PL_TT: system pages the GPU reaches through its aperture (a ttm_tt, bound). */
export const TTM_PL_TT = 1;
/** Models TTM_PL_VRAM: the device's own memory (fixed, not a ttm_tt). */
export const TTM_PL_VRAM = 2;
/** Models TTM_PL_PRIV: the first driver-private memory type (qxl's surface RAM, vmwgfx's GMR). */
export const TTM_PL_PRIV = 3;
/** Models TTM_NUM_MEM_TYPES. */
export const TTM_NUM_MEM_TYPES = 8;

/** Models TTM_PL_FLAG_CONTIGUOUS: the range must be physically contiguous. */
export const TTM_PL_FLAG_CONTIGUOUS = 1 << 0;
/** Models TTM_PL_FLAG_TOPDOWN: allocate from the top of the range. */
export const TTM_PL_FLAG_TOPDOWN = 1 << 1;
/** Models TTM_PL_FLAG_TEMPORARY: a bounce placement of a multihop move. */
export const TTM_PL_FLAG_TEMPORARY = 1 << 2;
/** Models TTM_PL_FLAG_DESIRED: only tried before anything is evicted. */
export const TTM_PL_FLAG_DESIRED = 1 << 3;
/** Models TTM_PL_FLAG_FALLBACK: only tried once evicting is allowed. */
export const TTM_PL_FLAG_FALLBACK = 1 << 4;

/**
 * Models struct ttm_place: one acceptable placement: a memory type, an optional page range
 * [fpfn, lpfn) inside it (lpfn 0: to the end) and TTM_PL_FLAG_* flags.
 */
export interface TtmPlace {
  fpfn: number;
  lpfn: number;
  memType: number;
  flags: number;
}

/** Models struct ttm_placement: the acceptable placements, best first. */
export interface TtmPlacement {
  placement: TtmPlace[];
}

/** A whole-range place of `memType` (what drivers write as `{ .mem_type = X }`). */
export function ttmPlace(memType: number, flags = 0, fpfn = 0, lpfn = 0): TtmPlace {
  return { fpfn, lpfn, memType, flags };
}

/** The placement list of the given places. */
export function ttmPlacement(...places: TtmPlace[]): TtmPlacement {
  return { placement: places };
}
