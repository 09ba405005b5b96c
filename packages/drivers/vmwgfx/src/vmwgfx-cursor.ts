/**
 * vmwgfx's cursor plane (the "Display Unit Cursor functions" of drivers/gpu/drm/vmwgfx/vmwgfx_kms.c,
 * Linux v6.12.19), the cursor plane of each screen-target display unit (vmwgfx-stdu.ts): the
 * legacy cursor ioctls (DRM_IOCTL_MODE_CURSOR / CURSOR2) reach it through the DRM core's
 * drm_mode_cursor_universal(), which wraps the buffer handle in a framebuffer (ARGB8888, 64 x 64:
 * a surface handle or a dumb buffer gives a surface framebuffer, any other buffer a buffer
 * framebuffer: vmw_kms_fb_create()) and commits the plane blocking
 * (drm_atomic_helper_update_plane() / _disable_plane(), a legacy cursor update).
 *
 * - ->atomic_check (vmw_du_cursor_plane_atomic_check()): drm_atomic_helper_check_plane_state()
 *   (no scaling, any position, a disabled CRTC allowed), then 64 x 64 only ("A lot of the code
 *   assumes this"), and a surface framebuffer needs a snooper image or guest memory.
 * - ->prepare_fb (vmw_du_cursor_plane_prepare_fb()): the duplicated state's user object unmapped
 *   and unreferenced, the new framebuffer's taken (a reference of its buffer or surface), its
 *   buffer (the buffer, or the surface's guest memory) reserved, validated, pinned and mapped
 *   (vmw_bo_map_and_cache(): map_count), then a cursor MOB for the state (vmw_du_get_cursor_mob():
 *   one of the plane's cache of three, or a new pinned kernel buffer in the MOB domain) mapped.
 * - ->atomic_update (vmw_du_cursor_plane_atomic_update()): with no user object the cursor hidden;
 *   else, with both states' buffers reserved under one ww acquire context, the image compared
 *   with the old state's (vmw_du_cursor_plane_has_changed(): size, hotspot, then memcmp of the
 *   two maps): unchanged, the two states swap their cursor MOBs (the old one stays on screen);
 *   changed, the image is copied into the new state's MOB behind an SVGAGBCursorHeader and the
 *   MOB made the device's cursor (SVGA_REG_CURSOR_MOBID), or without a MOB sent as
 *   SVGA_CMD_DEFINE_ALPHA_CURSOR; then the position (SVGA_REG_CURSOR4_*, under cursor_lock).
 * - ->cleanup_fb (vmw_du_cursor_plane_cleanup_fb()): the old state's user object unmapped (and its
 *   buffer unpinned: vmw_user_object_unmap()), its MOB unmapped and returned to the cache (or
 *   destroyed when the cache is full of larger ones), vmw_du_plane_unpin_surf() and the user
 *   object unreferenced.
 * - vmw_du_cursor_plane_destroy(): the cursor hidden and the cached MOBs destroyed, from
 *   vmw_kms_close()'s drm_mode_config_cleanup() at unload (vmwgfx-drv.ts).
 *
 * v6.18.35 moved this code to vmwgfx_cursor_plane.c ("drm/vmwgfx: Refactor cursor handling",
 * 965544150d1c, for v6.15): an update type per state (legacy snooper, MOB, GB-only define, none)
 * chosen in ->prepare_fb, the MOB taken only when the plane or its buffer changed (no memcmp in
 * ->atomic_update, no MOB swap), ttm_bo_pin() instead of vmw_bo_pin_reserved(), the 64 x 64 check
 * only for the legacy snooper; the references and the MOB cache (vmw_cursor_mob_get()/_put(),
 * vmw_cursor_mob_destroy()) are the same, the unpin without the reservation included (the known
 * window `vmwgfx.cursor-mob-unpin-unreserved`).
 *
 * The device side is a record (`VmwCursorHw`): the MOB shown and the image bytes copied into it,
 * the DEFINE_ALPHA_CURSOR commands, the position and visibility. The simulated SVGA device has
 * SVGA_CAP2_CURSOR_MOB and SVGA_CAP2_EXTRA_REGS (the CURSOR4 registers), a MOB limit of
 * VMW_MOB_MAX_SIZE and a cursor limit of VMW_CURSOR_MAX_DIMENSION. Not modeled: cursor snooping
 * (vmw_kms_cursor_snoop(), vmw_kms_cursor_post_execbuf(): no surface here has a snooper image,
 * the legacy DRM_VMW_CREATE_SURFACE is not modeled), the cursor bypass ioctl (du->hotspot_x/y
 * stay 0), gui_x/gui_y (0), the fence of a new MOB's creation (vmw_execbuf_fence_commands() and
 * dma_fence_wait(): one point), vmw_ttm_map_dma().
 */

import { dmaResvAssertHeld, dmaResvUnlock, reservationWwClass } from "@primetime/dma-buf";
import {
  DRM_PLANE_NO_SCALING,
  type DrmAtomicState,
  DrmPlane,
  type DrmPlaneState,
  drmAtomicGetNewCrtcState,
  drmAtomicGetNewPlaneState,
  drmAtomicGetOldPlaneState,
  drmAtomicHelperCheckPlaneState,
} from "@primetime/gem";
import {
  EINVAL,
  ENOMEM,
  isErr,
  kmemleakReferenced,
  lockdepAssertHeld,
  WwAcquireCtx,
  wwAcquireFini,
  wwAcquireInit,
} from "@primetime/kernel";
import { bug, point, RESOLVED, toggleEnabled, warnOn } from "@primetime/sim";
import type { Page } from "@primetime/simgpu";
import { ttmBoReserve, ttmBoUnpin, ttmBoUnreserve, ttmBoValidate } from "@primetime/ttm";
import { VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED, VMWGFX_CURSOR_SURF_MAPPED_STALE } from "./toggles.js";
import {
  VMW_BO_DOMAIN_MOB,
  type VmwBo,
  vmwBoCreateAndPopulate,
  vmwBoMapAndCache,
  vmwBoMapAndCacheSize,
  vmwBoPinReserved,
  vmwBoUnmap,
  vmwBoUnreference,
} from "./vmwgfx-bo.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import {
  VmwFramebufferBo,
  type VmwFramebufferSurface,
  type VmwUserObject,
  vmwUserObjectBuffer,
  vmwUserObjectRef,
  vmwUserObjectSurface,
  vmwUserObjectUnref,
} from "./vmwgfx-kms.js";
import {
  type VmwPlaneState,
  type VmwScreenTargetDisplayUnit,
  type VmwStduCrtc,
  vmwDuPlaneUnpinSurf,
} from "./vmwgfx-stdu.js";

/** Models SVGA_REG_CURSOR_MAX_DIMENSION: the simulated device's answer. */
export const VMW_CURSOR_MAX_DIMENSION = 256;
/** Models SVGA_REG_MOB_MAX_SIZE: the simulated device's answer (bytes). */
export const VMW_MOB_MAX_SIZE = 1 << 20;
/** sizeof(SVGAGBCursorHeader): type, the union (the color header's 6 u32), sizeInBytes; packed. */
const SVGA_GB_CURSOR_HEADER_SIZE = 32;
/** The number of cached cursor MOBs (struct vmw_cursor_plane's cursor_mobs[3]). */
const VMW_CURSOR_MOB_CACHE = 3;

/**
 * Models struct vmw_cursor_plane_state.
 * Locking: the plane state's owner. References: `bo` (the cursor MOB) is owned by the state
 * (one TTM reference and a pin), until ->cleanup_fb returns it to the plane's cache.
 */
export interface VmwCursorPlaneState {
  /** Models bo: the cursor MOB. */
  bo: VmwBo | null;
  /** Models hotspot_x, hotspot_y. */
  hotspotX: number;
  hotspotY: number;
}

/** A cleared struct vmw_cursor_plane_state (memset()). */
export function vmwCursorPlaneStateZero(): VmwCursorPlaneState {
  return { bo: null, hotspotX: 0, hotspotY: 0 };
}

/**
 * Models struct vmw_cursor_plane: the plane and its cache of cursor MOBs.
 * Locking: the cache is the commits' (the plane's lock, connection_mutex here, or the commit tail
 * that owns the plane's old state). References: each cached MOB is the cache's (a TTM reference
 * and a pin), until vmw_du_cursor_plane_destroy().
 */
export class VmwCursorPlane extends DrmPlane {
  /** Models cursor_mobs[3]. */
  readonly cursorMobs: (VmwBo | null)[] = new Array(VMW_CURSOR_MOB_CACHE).fill(null);
}

/**
 * The device's cursor (what the SVGA device keeps): the MOB SVGA_REG_CURSOR_MOBID names and the
 * image copied into it, the DEFINE_ALPHA_CURSOR commands received, the position and visibility.
 */
export interface VmwCursorHw {
  mob: VmwBo | null;
  /** The image bytes of the last update (MOB or DEFINE_ALPHA_CURSOR), null before the first. */
  image: Uint8Array | null;
  width: number;
  height: number;
  hotspotX: number;
  hotspotY: number;
  defines: number;
  on: boolean;
  x: number;
  y: number;
}

/** A device cursor that never showed anything. */
export function vmwCursorHwInit(): VmwCursorHw {
  return {
    mob: null,
    image: null,
    width: 0,
    height: 0,
    hotspotX: 0,
    hotspotY: 0,
    defines: 0,
    on: false,
    x: 0,
    y: 0,
  };
}

/** Models vmw_plane_to_vcp() (container_of()). Locking: none. References: none. */
function vmwPlaneToVcp(plane: DrmPlane): VmwCursorPlane {
  return plane as VmwCursorPlane;
}

/** Models vmw_plane_state_to_vps(). Locking: none. References: none. */
function toVps(state: DrmPlaneState): VmwPlaneState {
  return state as VmwPlaneState;
}

/** Models vmw_crtc_to_du(). Locking: none. References: none. */
function vmwCrtcToDu(crtc: DrmPlaneState["crtc"]): VmwScreenTargetDisplayUnit {
  return (crtc as VmwStduCrtc).du;
}

/**
 * Models vmw_user_object_is_null(). Locking: none. References: none.
 */
export function vmwUserObjectIsNull(uo: VmwUserObject): boolean {
  return !uo.buffer && !uo.surface;
}

/**
 * Models vmw_user_object_map(): WARN_ON(!bo), then vmw_bo_map_and_cache() of the user object's
 * buffer (a surface's guest memory). Null without a buffer.
 * Locking: the caller's (the buffer pinned or reserved). References: none taken.
 */
async function vmwUserObjectMap(uo: VmwUserObject): Promise<VmwBo | null> {
  const bo = vmwUserObjectBuffer(uo);
  if (warnOn(!bo, "vmw_user_object_map: WARN_ON(!bo)")) return null;
  return vmwBoMapAndCache(bo!);
}

/**
 * Models vmw_user_object_unmap(): WARN_ON(!bo); the buffer reserved (an uninterruptible
 * ttm_bo_reserve(); on failure nothing is done), vmw_bo_unmap(), the pin dropped
 * (vmw_bo_pin_reserved(bo, false)), unreserved.
 * Locking: none held; takes the buffer's reservation. References: none.
 */
export async function vmwUserObjectUnmap(uo: VmwUserObject): Promise<void> {
  const bo = vmwUserObjectBuffer(uo);
  if (warnOn(!bo, "vmw_user_object_unmap: WARN_ON(!bo)")) return;
  // Fence the mob creation so we are guarateed to have the mob
  const ret = await ttmBoReserve(bo!, false, false);
  if (ret !== 0) return;
  await vmwBoUnmap(bo!);
  await vmwBoPinReserved(bo!, false);
  await cursorBoUnreserve(bo!);
}

/**
 * Models vmw_user_object_is_mapped(): false for a null user object; else (WARN_ON(!bo): false)
 * whether its buffer has a cached map.
 * Locking: none. References: none.
 */
function vmwUserObjectIsMapped(uo: VmwUserObject): boolean {
  if (vmwUserObjectIsNull(uo)) return false;
  const bo = vmwUserObjectBuffer(uo);
  if (warnOn(!bo, "vmw_user_object_is_mapped: WARN_ON(!bo)")) return false;
  return bo!.mapped;
}

/** Models vmw_du_cursor_mob_size(): the image (ARGB, 4 bytes a pixel) behind its header. */
function vmwDuCursorMobSize(w: number, h: number): number {
  return w * h * 4 + SVGA_GB_CURSOR_HEADER_SIZE;
}

/**
 * The first `size` bytes of a buffer's pages (what a memcmp() or memcpy() of its kernel map reads;
 * pages not populated read as zeros).
 */
function mappedBytes(bo: VmwBo, size: number): Uint8Array {
  const out = new Uint8Array(size);
  // A TTM buffer's ttm_tt pages; an import's are the exporter's (its sg table's page data).
  const pages = (bo.ttm?.pages ?? bo.pages ?? []) as (Page | Uint8Array | null)[];
  for (let off = 0, i = 0; off < size && i < pages.length; i++, off += 4096) {
    const page = pages[i];
    if (!page) continue;
    const data = page instanceof Uint8Array ? page : page.data;
    out.set(data.subarray(0, Math.min(4096, size - off)), off);
  }
  return out;
}

/**
 * Models ttm_bo_unreserve() of a cursor's buffer. A PRIME import of a foreign dma-buf is the
 * model's reduced sg buffer (vmwImportObjectCreate(): no TTM device, resource or LRU): only its
 * reservation (the exporter's) is released, as vmw_user_bo_synccpu_grab() does here.
 * Locking: the reservation held; drops it. References: the caller's.
 */
async function cursorBoUnreserve(bo: VmwBo): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  if (bo.imported) await dmaResvUnlock(bo.resv);
  else await ttmBoUnreserve(bo);
}

/**
 * Models vmw_du_cursor_plane_acquire_image(): null for a null user object; a surface's snooper
 * image when its buffer is not mapped (no surface here has one: null); else the user object's
 * map (vmw_user_object_map(): a map_count of its own, which nothing drops, as in the kernel).
 * Locking: the caller's. References: none.
 */
async function vmwDuCursorPlaneAcquireImage(vps: VmwPlaneState): Promise<VmwBo | null> {
  if (vmwUserObjectIsNull(vps.uo)) return null;
  const surf = vmwUserObjectSurface(vps.uo);
  if (surf && !vmwUserObjectIsMapped(vps.uo)) return null; // surf->snooper.image
  return vmwUserObjectMap(vps.uo);
}

/**
 * Models vmw_du_cursor_plane_has_changed(): a new size or hotspot is a change; else the two images
 * are compared (memcmp() of crtc_w x crtc_h pixels) when both exist and differ as maps.
 * Locking: both states' buffers reserved (the caller's). References: none.
 */
async function vmwDuCursorPlaneHasChanged(
  oldVps: VmwPlaneState,
  newVps: VmwPlaneState,
): Promise<boolean> {
  if (oldVps.crtcW !== newVps.crtcW || oldVps.crtcH !== newVps.crtcH) return true;
  if (
    oldVps.cursor.hotspotX !== newVps.cursor.hotspotX ||
    oldVps.cursor.hotspotY !== newVps.cursor.hotspotY
  )
    return true;
  const size = newVps.crtcW * newVps.crtcH * 4;
  const oldImage = await vmwDuCursorPlaneAcquireImage(oldVps);
  const newImage = await vmwDuCursorPlaneAcquireImage(newVps);
  if (!oldImage || !newImage || oldImage === newImage) return false;
  await point(`memcmp(${oldImage.name}, ${newImage.name})`);
  oldImage.checkAccess("vmw_du_cursor_plane_has_changed: old image");
  newImage.checkAccess("vmw_du_cursor_plane_has_changed: new image");
  const a = mappedBytes(oldImage, size);
  const b = mappedBytes(newImage, size);
  return a.some((x, i) => x !== b[i]);
}

/**
 * Models vmw_du_destroy_cursor_mob(): ttm_bo_unpin() of the MOB, which the kernel calls without
 * its reservation (ttm_bo_unpin()'s dma_resv_assert_held() warns: the known window
 * `vmwgfx.cursor-mob-unpin-unreserved`, whose fix switch reserves it around the unpin), then
 * vmw_bo_unreference().
 * Locking: none held (see above). References: drops the MOB's owner's TTM reference.
 */
async function vmwDuDestroyCursorMob(vbo: VmwBo | null): Promise<void> {
  if (!vbo) return;
  kmemleakReferenced(vbo, false);
  const fixed = toggleEnabled(VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED.name);
  if (fixed) await ttmBoReserve(vbo, false, false);
  await ttmBoUnpin(vbo);
  if (fixed) await ttmBoUnreserve(vbo);
  await vmwBoUnreference(vbo);
}

/**
 * Models vmw_du_cursor_plane_unmap_cm(): nothing for a state without a mapped MOB; else the MOB
 * reserved (interruptibly), vmw_bo_unmap(), unreserved. 0 or the reservation's errno.
 * Locking: none held; takes the MOB's reservation. References: none.
 */
async function vmwDuCursorPlaneUnmapCm(vps: VmwPlaneState): Promise<number> {
  const vbo = vps.cursor.bo;
  if (!vbo?.mapped) return 0;
  const ret = await ttmBoReserve(vbo, true, false);
  if (ret === 0) {
    await vmwBoUnmap(vbo);
    await ttmBoUnreserve(vbo);
  }
  return ret;
}

/**
 * Models vmw_du_put_cursor_mob(): the state's MOB unmapped and put in a free slot of the plane's
 * cache, else in place of a smaller cached one (which is destroyed), else destroyed.
 * Locking: the plane's (see VmwCursorPlane). References: the state's MOB passes to the cache or is
 * dropped.
 */
async function vmwDuPutCursorMob(vcp: VmwCursorPlane, vps: VmwPlaneState): Promise<void> {
  const bo = vps.cursor.bo;
  if (!bo) return;
  await vmwDuCursorPlaneUnmapCm(vps);
  // Look for a free slot to return this mob to the cache.
  for (let i = 0; i < vcp.cursorMobs.length; i++) {
    if (!vcp.cursorMobs[i]) {
      vcp.cursorMobs[i] = bo;
      vps.cursor.bo = null;
      kmemleakReferenced(bo, true); // the plane's cache points to it
      return;
    }
  }
  // Cache is full: See if this mob is bigger than an existing mob.
  for (let i = 0; i < vcp.cursorMobs.length; i++) {
    const cached = vcp.cursorMobs[i]!;
    cached.checkAccess("vmw_du_put_cursor_mob");
    if (cached.size < bo.size) {
      await vmwDuDestroyCursorMob(cached);
      vcp.cursorMobs[i] = bo;
      vps.cursor.bo = null;
      kmemleakReferenced(bo, true);
      return;
    }
  }
  // Destroy it if it's not worth caching.
  vps.cursor.bo = null;
  await vmwDuDestroyCursorMob(bo);
}

/**
 * Models vmw_du_get_cursor_mob(): -EINVAL when the image (with its header) exceeds the device's MOB
 * limit or the cursor its dimension limit; a MOB the state has that is large enough is kept,
 * else returned; then one large enough from the plane's cache, else a new one
 * (vmw_bo_create_and_populate() in VMW_BO_DOMAIN_MOB, pinned), whose creation is fenced under its
 * reservation (a point: the fence is not modeled); a failed reservation destroys it. 0 or the
 * errno (which ->prepare_fb ignores, as the kernel does: the cursor then goes by command).
 * Locking: the plane's (see VmwCursorPlane); takes the new MOB's reservation.
 * References: the state owns the MOB it gets.
 */
async function vmwDuGetCursorMob(vcp: VmwCursorPlane, vps: VmwPlaneState): Promise<number> {
  const vmw = vcp.dev.driverPrivate as VmwPrivate;
  const size = vmwDuCursorMobSize(vps.crtcW, vps.crtcH);
  // has_mob and SVGA_CAP2_CURSOR_MOB: the simulated device has both.
  if (
    size > VMW_MOB_MAX_SIZE ||
    vps.crtcW > VMW_CURSOR_MAX_DIMENSION ||
    vps.crtcH > VMW_CURSOR_MAX_DIMENSION
  )
    return -EINVAL;
  if (vps.cursor.bo) {
    vps.cursor.bo.checkAccess("vmw_du_get_cursor_mob");
    if (vps.cursor.bo.size >= size) return 0;
    await vmwDuPutCursorMob(vcp, vps);
  }
  // Look for an unused mob in the cache.
  for (let i = 0; i < vcp.cursorMobs.length; i++) {
    const cached = vcp.cursorMobs[i];
    if (cached && cached.size >= size) {
      vps.cursor.bo = cached;
      vcp.cursorMobs[i] = null;
      kmemleakReferenced(cached, false);
      return 0;
    }
  }
  // Create a new mob if we can't find an existing one.
  const bo = await vmwBoCreateAndPopulate(vmw, vmw.drm, size, VMW_BO_DOMAIN_MOB);
  if (isErr(bo)) return bo;
  vps.cursor.bo = bo;
  // Fence the mob creation so we are guarateed to have the mob
  const ret = await ttmBoReserve(bo, false, false);
  if (ret !== 0) {
    vps.cursor.bo = null;
    await vmwDuDestroyCursorMob(bo);
    return ret;
  }
  await point(`vmw_execbuf_fence_commands + dma_fence_wait(${bo.name})`);
  await ttmBoUnreserve(bo);
  return 0;
}

/**
 * Models vmw_du_cursor_plane_map_cm(): -EINVAL without a MOB or with one too small; a mapped MOB
 * is kept; else reserved (-ENOMEM if that fails), mapped (vmw_bo_map_and_cache()), unreserved.
 * Locking: none held; takes the MOB's reservation. References: none.
 */
async function vmwDuCursorPlaneMapCm(vps: VmwPlaneState): Promise<number> {
  const size = vmwDuCursorMobSize(vps.crtcW, vps.crtcH);
  const bo = vps.cursor.bo;
  if (!bo) return -EINVAL;
  bo.checkAccess("vmw_du_cursor_plane_map_cm");
  if (bo.size < size) return -EINVAL;
  if (bo.mapped) return 0;
  const ret = await ttmBoReserve(bo, false, false);
  if (ret !== 0) return -ENOMEM;
  await vmwBoMapAndCache(bo);
  await ttmBoUnreserve(bo);
  return 0;
}

/**
 * Models vmw_cursor_update_position(): under cursor_lock, the CURSOR4 registers (the device has
 * SVGA_CAP2_EXTRA_REGS): x, y, screen id (SVGA3D_INVALID_ID), on (SHOW or HIDE), submit.
 * Locking: takes cursor_lock. References: none.
 */
async function vmwCursorUpdatePosition(
  vmw: VmwPrivate,
  show: boolean,
  x: number,
  y: number,
): Promise<void> {
  const lock = vmw.cursorLock!;
  const taken = lock.lock();
  if (taken !== RESOLVED) await taken;
  vmw.cursorHw.x = x;
  vmw.cursorHw.y = y;
  vmw.cursorHw.on = show;
  lock.unlockNow();
}

/**
 * Models vmw_send_define_cursor_cmd(): SVGA_CMD_DEFINE_ALPHA_CURSOR with a copy of the image
 * (VMW_CMD_RESERVE(), whose failure is swallowed: not modeled, and vmw_cmd_commit_flush()).
 * Locking: none held. References: none; the image's buffer is the caller's.
 */
async function vmwSendDefineCursorCmd(
  vmw: VmwPrivate,
  image: VmwBo,
  width: number,
  height: number,
  hotspotX: number,
  hotspotY: number,
): Promise<void> {
  await point(`vmw_cmd_commit_flush(DEFINE_ALPHA_CURSOR ${image.name})`);
  image.checkAccess("vmw_send_define_cursor_cmd");
  const hw = vmw.cursorHw;
  hw.image = mappedBytes(image, width * height * 4);
  hw.width = width;
  hw.height = height;
  hw.hotspotX = hotspotX;
  hw.hotspotY = hotspotY;
  hw.defines++;
}

/**
 * Models vmw_cursor_update_mob(): the state's MOB mapped (vmw_bo_map_and_cache()), its
 * SVGAGBCursorHeader written (SVGA_ALPHA_CURSOR, the size, hotspot and dimensions) and the image
 * copied behind it, then SVGA_REG_CURSOR_MOBID set to the MOB.
 * Locking: none held (the commit tail). References: the state holds its MOB.
 */
async function vmwCursorUpdateMob(
  vmw: VmwPrivate,
  vps: VmwPlaneState,
  image: VmwBo,
  width: number,
  height: number,
  hotspotX: number,
  hotspotY: number,
): Promise<void> {
  const mob = vps.cursor.bo!;
  await vmwBoMapAndCache(mob);
  await point(`memcpy(${mob.name} <- ${image.name})`);
  image.checkAccess("vmw_cursor_update_mob: image");
  mob.checkAccess("vmw_cursor_update_mob: header");
  const bytes = mappedBytes(image, width * height * 4);
  await point(`vmw_write(SVGA_REG_CURSOR_MOBID, ${mob.name})`);
  const hw = vmw.cursorHw;
  hw.mob = mob;
  hw.image = bytes;
  hw.width = width;
  hw.height = height;
  hw.hotspotX = hotspotX;
  hw.hotspotY = hotspotY;
}

/**
 * Models vmw_cursor_update_image(): through the state's MOB if it has one, else by command.
 * Locking: none held. References: none.
 */
async function vmwCursorUpdateImage(
  vmw: VmwPrivate,
  vps: VmwPlaneState,
  image: VmwBo,
  width: number,
  height: number,
  hotspotX: number,
  hotspotY: number,
): Promise<void> {
  if (vps.cursor.bo)
    await vmwCursorUpdateMob(vmw, vps, image, vps.crtcW, vps.crtcH, hotspotX, hotspotY);
  else await vmwSendDefineCursorCmd(vmw, image, width, height, hotspotX, hotspotY);
}

/**
 * Models vmw_du_cursor_plane_destroy(), from vmw_kms_close()'s drm_mode_config_cleanup(): the
 * cursor hidden and every cached MOB destroyed (drm_plane_cleanup() is not modeled: planes live as
 * long as their device here).
 * Locking: none held (the device is being unloaded). References: drops the cache's MOBs.
 */
export async function vmwDuCursorPlaneDestroy(plane: DrmPlane): Promise<void> {
  const vcp = vmwPlaneToVcp(plane);
  await vmwCursorUpdatePosition(plane.dev.driverPrivate as VmwPrivate, false, 0, 0);
  for (let i = 0; i < vcp.cursorMobs.length; i++) {
    const bo = vcp.cursorMobs[i] ?? null;
    vcp.cursorMobs[i] = null;
    await vmwDuDestroyCursorMob(bo);
  }
}

/**
 * Models vmw_du_cursor_plane_cleanup_fb(): the old state's user object unmapped (and its buffer
 * unpinned), its MOB unmapped and returned to the cache, vmw_du_plane_unpin_surf(), and the user
 * object unreferenced. With `vmwgfx.cursor-surf-mapped-stale` on, first v6.8's
 * `if (vps->surf_mapped) vmw_bo_unmap(vps->surf->res.guest_memory_bo)`: a state marked mapped
 * without a surface is an oops.
 * Locking: none required (the commit tail, or an unprepare under connection_mutex).
 * References: drops the state's reference of its buffer or surface; the MOB goes to the cache.
 */
export async function vmwDuCursorPlaneCleanupFb(
  plane: DrmPlane,
  oldState: DrmPlaneState,
): Promise<void> {
  const vcp = vmwPlaneToVcp(plane);
  const vps = toVps(oldState);
  if (toggleEnabled(VMWGFX_CURSOR_SURF_MAPPED_STALE.name) && vps.surfMapped) {
    // vmw_bo_unmap(vps->surf->res.guest_memory_bo): vps->surf is the surface of a surface
    // framebuffer (a dumb buffer was a buffer in those kernels).
    await point(`vmw_bo_unmap(vps->surf->res.guest_memory_bo) (${vps.name})`);
    if (!vps.uo.surface)
      bug(
        "BUG: kernel NULL pointer dereference in vmw_du_cursor_plane_cleanup_fb(): " +
          "vmw_bo_unmap(vps->surf->res.guest_memory_bo) with vps->surf NULL (surf_mapped copied " +
          "by vmw_du_plane_duplicate_state(), not reset by vmw_du_cursor_plane_prepare_fb())",
      );
    vps.surfMapped = false;
  }
  if (!vmwUserObjectIsNull(vps.uo)) await vmwUserObjectUnmap(vps.uo);
  await vmwDuCursorPlaneUnmapCm(vps);
  await vmwDuPutCursorMob(vcp, vps);
  await vmwDuPlaneUnpinSurf(vps);
  await vmwUserObjectUnref(vps.uo);
}

/**
 * Models vmw_du_cursor_plane_prepare_fb(): the duplicated state's user object unmapped and
 * unreferenced; the framebuffer's taken (a buffer framebuffer's buffer, or a surface
 * framebuffer's user object) with a reference; its buffer reserved (interruptibly: -ENOMEM),
 * validated into its placement (-ENOMEM, returned with the reservation still held, as v6.12.19
 * and v6.18.35 do), pinned, mapped (a buffer framebuffer's crtc_w x crtc_h pixels, a surface's
 * whole guest memory) and unreserved; then, for a non-null user object, a cursor MOB
 * (vmw_du_get_cursor_mob()) mapped (vmw_du_cursor_plane_map_cm()), both results ignored. 0.
 * With `vmwgfx.cursor-surf-mapped-stale` on, v6.8's surface branch: the duplicated surface is
 * dropped without the unmap and without clearing `surf_mapped`, which a surface framebuffer's map
 * sets again.
 * Locking: connection_mutex held (drm_atomic_helper_prepare_planes()).
 * References: the state takes one on its user object and owns the MOB it gets.
 */
export async function vmwDuCursorPlanePrepareFb(
  plane: DrmPlane,
  newState: DrmPlaneState,
): Promise<number> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  const fb = newState.fb;
  const vcp = vmwPlaneToVcp(plane);
  const vps = toVps(newState);
  if (!vmwUserObjectIsNull(vps.uo)) {
    // Before 27571c64f185 the surface was only unreferenced (surf_mapped left as copied).
    const stale = toggleEnabled(VMWGFX_CURSOR_SURF_MAPPED_STALE.name) && vps.uo.surface !== null;
    if (!stale) await vmwUserObjectUnmap(vps.uo);
    await vmwUserObjectUnref(vps.uo);
  }
  if (fb) {
    fb.checkAccess("vmw_du_cursor_plane_prepare_fb");
    if (fb instanceof VmwFramebufferBo) {
      vps.uo.buffer = (fb as VmwFramebufferBo).buffer;
      vps.uo.surface = null;
    } else {
      const vfbs = fb as VmwFramebufferSurface;
      vps.uo.buffer = vfbs.uo.buffer;
      vps.uo.surface = vfbs.uo.surface;
    }
    await vmwUserObjectRef(vps.uo);
  }
  const bo = vmwUserObjectBuffer(vps.uo);
  if (bo) {
    const ctx = { interruptible: false, noWaitGpu: false, bytesMoved: 0 };
    let ret = await ttmBoReserve(bo, true, false);
    if (ret !== 0) return -ENOMEM;
    // A foreign import (the model's reduced sg buffer, no TTM placement) is not validated or
    // pinned: the kernel's sg BO stays where it is, in system memory.
    if (!bo.imported) {
      ret = await ttmBoValidate(bo, bo.placement, ctx);
      if (ret !== 0) return -ENOMEM; // the reservation stays held, as in the kernel
      await vmwBoPinReserved(bo, true);
    }
    if (fb instanceof VmwFramebufferBo) {
      const size = newState.crtcW * newState.crtcH * 4;
      await vmwBoMapAndCacheSize(bo, size);
    } else {
      await vmwBoMapAndCache(bo);
    }
    await cursorBoUnreserve(bo);
    // v6.8's `vps->surf && !vps->bo && vps->surf->res.guest_memory_bo`: surf_mapped = true
    if (toggleEnabled(VMWGFX_CURSOR_SURF_MAPPED_STALE.name) && vps.uo.surface)
      vps.surfMapped = true;
  }
  if (!vmwUserObjectIsNull(vps.uo)) {
    await vmwDuGetCursorMob(vcp, vps);
    await vmwDuCursorPlaneMapCm(vps);
  }
  return 0;
}

/**
 * Models vmw_du_cursor_plane_atomic_update(): the display unit's cursor surface (borrowed, read
 * only by the snooping that is not modeled) becomes the new state's; a null user object hides the
 * cursor. Else the state's hotspot is the display unit's plus the plane state's; both states'
 * buffers are reserved under one ww acquire context (the same buffer once; a failure returns, the
 * cursor as it was); an unchanged image swaps the two states' cursor MOBs (the old stays shown),
 * a changed one is written (vmw_cursor_update_image()); the buffers are unreserved, the position
 * (the plane's crtc_x/y plus the hotspot) sent with the cursor shown, and the core's hotspot kept.
 * Locking: none held (the commit tail); takes the buffers' reservations and cursor_lock.
 * References: the states own their MOBs (a swap exchanges them); `cursorSurface` holds none.
 */
export async function vmwDuCursorPlaneAtomicUpdate(
  plane: DrmPlane,
  state: DrmAtomicState,
): Promise<void> {
  const newState = drmAtomicGetNewPlaneState(state, plane)!;
  const oldState = drmAtomicGetOldPlaneState(state, plane)!;
  const crtc = newState.crtc ?? oldState.crtc;
  const vmw = plane.dev.driverPrivate as VmwPrivate;
  const du = vmwCrtcToDu(crtc);
  const vps = toVps(newState);
  const oldVps = toVps(oldState);
  const hotspotX = du.hotspotX + newState.hotspotX;
  const hotspotY = du.hotspotY + newState.hotspotY;
  du.cursorSurface = vmwUserObjectSurface(vps.uo);
  if (vmwUserObjectIsNull(vps.uo)) {
    await vmwCursorUpdatePosition(vmw, false, 0, 0);
    return;
  }
  vps.cursor.hotspotX = hotspotX;
  vps.cursor.hotspotY = hotspotY;
  // du->cursor_age = du->cursor_surface->snooper.age: snooping is not modeled
  const ctx = new WwAcquireCtx();
  wwAcquireInit(ctx, reservationWwClass);
  let oldBo: VmwBo | null = null;
  let newBo: VmwBo | null = null;
  if (!vmwUserObjectIsNull(oldVps.uo)) {
    oldBo = vmwUserObjectBuffer(oldVps.uo)!;
    const ret = await ttmBoReserve(oldBo, false, false, ctx);
    if (ret !== 0) return;
  }
  if (!vmwUserObjectIsNull(vps.uo)) {
    newBo = vmwUserObjectBuffer(vps.uo)!;
    if (oldBo !== newBo) {
      const ret = await ttmBoReserve(newBo, false, false, ctx);
      if (ret !== 0) {
        if (oldBo) {
          await cursorBoUnreserve(oldBo);
          wwAcquireFini(ctx);
        }
        return;
      }
    } else {
      newBo = null;
    }
  }
  if (!(await vmwDuCursorPlaneHasChanged(oldVps, vps))) {
    // If it hasn't changed, avoid making the device do extra work by keeping the old cursor
    // active.
    const tmp = oldVps.cursor;
    oldVps.cursor = vps.cursor;
    vps.cursor = tmp;
  } else {
    const image = await vmwDuCursorPlaneAcquireImage(vps);
    if (image)
      await vmwCursorUpdateImage(
        vmw,
        vps,
        image,
        newState.crtcW,
        newState.crtcH,
        hotspotX,
        hotspotY,
      );
  }
  if (newBo) await cursorBoUnreserve(newBo);
  if (oldBo) await cursorBoUnreserve(oldBo);
  wwAcquireFini(ctx);
  du.cursorX = newState.crtcX; // + du->set_gui_x (0)
  du.cursorY = newState.crtcY;
  await vmwCursorUpdatePosition(vmw, true, du.cursorX + hotspotX, du.cursorY + hotspotY);
  du.coreHotspotX = hotspotX - du.hotspotX;
  du.coreHotspotY = hotspotY - du.hotspotY;
}

/**
 * Models vmw_du_cursor_plane_atomic_check(): drm_atomic_helper_check_plane_state() (no scaling,
 * any position, a disabled CRTC allowed); turning off is fine; a cursor of another size than
 * 64 x 64 is -EINVAL ("Invalid cursor dimensions"), and a surface framebuffer without a surface
 * (WARN) or whose surface has neither a snooper image nor guest memory -EINVAL ("surface not
 * suitable for cursor").
 * Locking: connection_mutex held (drm_atomic_helper_check_planes()). References: none.
 */
export async function vmwDuCursorPlaneAtomicCheck(
  plane: DrmPlane,
  state: DrmAtomicState,
): Promise<number> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  const newState = drmAtomicGetNewPlaneState(state, plane)!;
  const fb = newState.fb;
  const crtcState = newState.crtc ? drmAtomicGetNewCrtcState(state, newState.crtc) : null;
  const ret = drmAtomicHelperCheckPlaneState(
    newState,
    crtcState,
    DRM_PLANE_NO_SCALING,
    DRM_PLANE_NO_SCALING,
    true,
    true,
  );
  if (ret) return ret;
  // Turning off
  if (!fb) return 0;
  // A lot of the code assumes this
  if (newState.crtcW !== 64 || newState.crtcH !== 64) return -EINVAL; // Invalid cursor dimensions
  if (!(fb instanceof VmwFramebufferBo)) {
    const surface = vmwUserObjectSurface((fb as VmwFramebufferSurface).uo);
    warnOn(!surface, "vmw_du_cursor_plane_atomic_check: WARN_ON(!surface)");
    if (surface) surface.checkAccess("vmw_du_cursor_plane_atomic_check");
    // !surface->snooper.image (always: snoopers are not modeled) && !guest_memory_bo
    if (!surface?.res.guestMemoryBo) return -EINVAL; // surface not suitable for cursor
  }
  return 0;
}
