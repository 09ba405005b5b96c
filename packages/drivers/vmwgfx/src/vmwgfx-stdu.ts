/**
 * vmwgfx's screen-target display unit (drivers/gpu/drm/vmwgfx/vmwgfx_stdu.c, with the plane
 * state helpers of vmwgfx_kms.c, of Linux v6.12.19; the functions modeled read the same in
 * v6.18.35): the display unit of an SVGA3D device with MOBs, one CRTC per unit with its primary
 * plane, its cursor plane and a connector. Registered only with VmwgfxOptions.displayUnits (0 by default, so that
 * every run not asking for it schedules and allocates as before; the kernel registers
 * VMWGFX_NUM_DISPLAY_UNITS, 8).
 *
 * - vmw_stdu_init(): the primary plane (vmw_primary_plane_formats, the plane state of
 *   vmw_du_plane_reset/duplicate/destroy_state: struct vmw_plane_state with its user object
 *   and pin count), the cursor plane (vmw_stdu_cursor_funcs, vmw_stdu_cursor_plane_helper_funcs:
 *   vmwgfx-cursor.ts), the connector and the CRTC with vmw_stdu_crtc_helper_funcs.
 * - vmw_stdu_primary_plane_prepare_fb(): the surface the screen target shows. A surface
 *   framebuffer (a surface, or a dumb buffer's surface) of the display's size is shown itself
 *   (SAME_AS_DISPLAY: the plane state takes a reference of the framebuffer's user object);
 *   otherwise the state keeps (or defines, vmw_gb_surface_define()) a proxy surface of the
 *   display's size (SEPARATE_SURFACE, SEPARATE_BO: a buffer framebuffer). The surface is pinned
 *   (vmw_resource_pin(): its guest memory buffer pinned) until ->cleanup_fb.
 * - vmw_stdu_primary_plane_cleanup_fb() (vmw_du_plane_cleanup_fb(): the unpin);
 *   vmw_du_plane_destroy_state() drops the state's user object.
 * - vmw_stdu_crtc_mode_set_nofb(): the screen target defined for the new mode (destroyed first
 *   if one is defined).
 * - vmw_stdu_primary_plane_atomic_update(): the screen target bound to the plane's surface, then
 *   the framebuffer's contents brought to it (the buffer's CPU blit, or the surface copy): the
 *   framebuffer's buffer or surface is read; or, with no framebuffer, the target blanked.
 * - vmw_stdu_crtc_atomic_disable(): the target blanked and destroyed.
 *
 * The device's side of the screen target commands (DEFINE/BIND/UPDATE/DESTROY_GB_SCREENTARGET)
 * is a record on the display unit (`hw`), each command a scheduling point where the kernel
 * reserves and commits FIFO space. The cursor plane of each unit is vmwgfx-cursor.ts's. Not
 * modeled: the encoder, connector modes,
 * properties and hotplug, gui_x/gui_y (0), vkms (vblank and CRC), the dirty tracking of dumb
 * buffers (vmw_resource_dirty_update()), the fences of the updates, vmw_kms_stdu_surface_dirty()
 * (DIRTYFB still commits no plane: drm_atomic_helper_dirtyfb()), vmw_stdu_destroy() (no
 * drm_mode_config_cleanup()).
 */

import {
  __drmAtomicHelperPlaneDestroyState,
  __drmAtomicHelperPlaneDuplicateState,
  __drmAtomicHelperPlaneReset,
  DRM_PLANE_TYPE_CURSOR,
  DRM_PLANE_TYPE_PRIMARY,
  type DrmAtomicState,
  DrmConnector,
  DrmCrtc,
  type DrmCrtcFuncs,
  type DrmCrtcHelperFuncs,
  type DrmDevice,
  DrmPlane,
  type DrmPlaneFuncs,
  type DrmPlaneHelperFuncs,
  DrmPlaneState,
  drmAtomicGetNewCrtcState,
  drmAtomicGetNewPlaneState,
  drmAtomicGetOldPlaneState,
  drmAtomicHelperCrtcDestroyState,
  drmAtomicHelperCrtcDuplicateState,
  drmAtomicHelperCrtcReset,
  drmAtomicHelperDisablePlane,
  drmAtomicHelperPageFlip,
  drmAtomicHelperSetConfig,
  drmAtomicHelperUpdatePlane,
  drmConnectorInit,
  drmCrtcInitWithPlanes,
  drmUniversalPlaneInit,
} from "@primetime/gem";
import {
  EINVAL,
  ENOSYS,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  SpinLock,
} from "@primetime/kernel";
import { point, warnOn } from "@primetime/sim";
import {
  VmwCursorPlane,
  type VmwCursorPlaneState,
  vmwCursorPlaneStateZero,
  vmwDuCursorPlaneAtomicCheck,
  vmwDuCursorPlaneAtomicUpdate,
  vmwDuCursorPlaneCleanupFb,
  vmwDuCursorPlanePrepareFb,
} from "./vmwgfx-cursor.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import {
  VMW_CURSOR_PLANE_FORMATS,
  VMW_PRIMARY_PLANE_FORMATS,
  VmwFramebufferBo,
  type VmwFramebufferSurface,
  type VmwUserObject,
  vmwUserObjectRef,
  vmwUserObjectSurface,
  vmwUserObjectUnref,
} from "./vmwgfx-kms.js";
import { vmwResourcePin, vmwResourceUnpin } from "./vmwgfx-resource.js";
import {
  SVGA3D_P8,
  SVGA3D_R5G6B5,
  SVGA3D_X8R8G8B8,
  type VmwSurfaceMetadata,
  type VmwUserSurface,
  vmwGbSurfaceDefine,
} from "./vmwgfx-surface.js";

/** Models VMWGFX_NUM_DISPLAY_UNITS (vmwgfx_kms.h). */
export const VMWGFX_NUM_DISPLAY_UNITS = 8;

/** Models SVGA3D_INVALID_ID: the surface id of a blank screen target. */
const SVGA3D_INVALID_ID = 0xffffffff;

/** Models enum stdu_content_type. */
export type StduContentType = "same_as_display" | "separate_surface" | "separate_bo";

/**
 * The device's view of one screen target (what the SVGA device keeps per stid): whether it is
 * defined, its size, and the surface id bound to it (SVGA3D_INVALID_ID: blank).
 */
export interface VmwScreenTargetHw {
  defined: boolean;
  width: number;
  height: number;
  sid: number;
  /** The surface whose contents the last update showed (null: none). */
  shown: VmwUserSurface | null;
}

/**
 * Models struct vmw_screen_target_display_unit (with its struct vmw_display_unit base).
 * Locking: the fields are the commit's (the commit tail owns the CRTC).
 * References: `displaySrf` holds none (the plane state's user object does).
 */
export class VmwScreenTargetDisplayUnit {
  /** Models base.unit. */
  readonly unit: number;
  /** Models base.crtc. */
  crtc!: VmwStduCrtc;
  /** Models base.primary. */
  primary!: DrmPlane;
  /** Models base.cursor: the cursor plane (vmwgfx-cursor.ts). */
  cursor!: VmwCursorPlane;
  /** Models base.cursor_surface: the surface the cursor shows (borrowed: no reference). */
  cursorSurface: VmwUserSurface | null = null;
  /** Models base.cursor_x, cursor_y: the cursor plane's position (plus gui_x/y, 0). */
  cursorX = 0;
  cursorY = 0;
  /** Models base.hotspot_x, hotspot_y: the cursor bypass ioctl's (not modeled: 0). */
  hotspotX = 0;
  hotspotY = 0;
  /** Models base.core_hotspot_x, core_hotspot_y: the plane state's hotspot last shown. */
  coreHotspotX = 0;
  coreHotspotY = 0;
  /** Models base.connector. */
  connector!: DrmConnector;
  /** Models display_srf. */
  displaySrf: VmwUserSurface | null = null;
  /** Models content_fb_type. */
  contentFbType: StduContentType = "same_as_display";
  /** Models cpp. */
  cpp = 0;
  /** Models defined. */
  defined = false;
  /** Models display_width / display_height. */
  displayWidth = 0;
  displayHeight = 0;
  /** The device's screen target `unit` (see VmwScreenTargetHw). */
  readonly hw: VmwScreenTargetHw = {
    defined: false,
    width: 0,
    height: 0,
    sid: SVGA3D_INVALID_ID,
    shown: null,
  };

  constructor(unit: number) {
    this.unit = unit;
  }
}

/** The CRTC embedded in a display unit (vmw_crtc_to_stdu(): container_of()). */
export class VmwStduCrtc extends DrmCrtc {
  /** The display unit the CRTC is embedded in. */
  du!: VmwScreenTargetDisplayUnit;
}

/** Models vmw_crtc_to_stdu(). Locking: none. References: none. */
function vmwCrtcToStdu(crtc: DrmCrtc): VmwScreenTargetDisplayUnit {
  return (crtc as VmwStduCrtc).du;
}

/** The slab cache of the plane states (kzalloc()/kmemdup() in the kernel). */
export const vmwPlaneStateCache = new KmemCache("vmw_plane_state");

/**
 * Models struct vmw_plane_state (the fields kept).
 * Locking: the state's owner (an atomic state under the modeset locks, or the plane).
 * References: `uo` holds one on its buffer or surface.
 */
export class VmwPlaneState extends DrmPlaneState {
  /** Models uo: the surface shown (or the user object it belongs to). */
  uo: VmwUserObject = { buffer: null, surface: null };
  /** Models pinned: how many pins of `uo`'s surface this state holds. */
  pinned = 0;
  /** Models content_fb_type. */
  contentFbType: StduContentType = "same_as_display";
  /** Models cpp. */
  cpp = 0;
  /** Models cursor: a cursor plane's MOB and hotspot (vmwgfx-cursor.ts). */
  cursor: VmwCursorPlaneState = vmwCursorPlaneStateZero();
  /**
   * Models v6.2-v6.8's surf_mapped (a cursor's surface mapped by ->prepare_fb): set and read only
   * with the toggle `vmwgfx.cursor-surf-mapped-stale` on (v6.12.19 tracks the map in the buffer).
   */
  surfMapped = false;
}

/** Models vmw_plane_state_to_vps(). Locking: none. References: none. */
function vmwPlaneStateToVps(state: DrmPlaneState): VmwPlaneState {
  return state as VmwPlaneState;
}

/**
 * Models vmw_du_plane_destroy_state(): drops the state's user object ("Should have been freed
 * by cleanup_fb"), then drm_atomic_helper_plane_destroy_state().
 * Locking: none; the state is no longer reachable.
 * References: drops the state's on its user object, framebuffer and commit.
 */
export async function vmwDuPlaneDestroyState(
  _plane: DrmPlane,
  state: DrmPlaneState,
): Promise<void> {
  const vps = vmwPlaneStateToVps(state);
  await vmwUserObjectUnref(vps.uo);
  await __drmAtomicHelperPlaneDestroyState(state);
  kfree(state);
}

/**
 * Models vmw_du_plane_duplicate_state(): a copy of the current state (kmemdup()) with no pins,
 * its own reference of the user object ("Each ref counted resource needs to be acquired
 * again"), then __drm_atomic_helper_plane_duplicate_state(). Null when the allocation fails.
 * Locking: connection_mutex held (the plane's lock).
 * References: takes one on the user object and one of the framebuffer.
 */
export async function vmwDuPlaneDuplicateState(plane: DrmPlane): Promise<DrmPlaneState | null> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  const cur = vmwPlaneStateToVps(plane.state!);
  cur.checkAccess("vmw_du_plane_duplicate_state");
  const vps = kmalloc(vmwPlaneStateCache, () => new VmwPlaneState());
  if (isErr(vps)) return null;
  vps.uo = { buffer: cur.uo.buffer, surface: cur.uo.surface };
  vps.contentFbType = cur.contentFbType;
  vps.surfMapped = cur.surfMapped;
  vps.pinned = 0;
  vps.cpp = 0;
  vps.cursor = vmwCursorPlaneStateZero(); // memset(&vps->cursor, 0, sizeof(vps->cursor))
  await vmwUserObjectRef(vps.uo);
  await __drmAtomicHelperPlaneDuplicateState(plane, vps);
  return vps;
}

/**
 * Models vmw_du_plane_reset(): the current state destroyed, a zeroed vmw_plane_state installed
 * (__drm_atomic_helper_plane_reset()); on allocation failure the plane keeps none.
 * Locking: none (at load). References: the plane owns the new state.
 */
export async function vmwDuPlaneReset(plane: DrmPlane): Promise<void> {
  if (plane.state) await vmwDuPlaneDestroyState(plane, plane.state);
  plane.state = null;
  const vps = kmalloc(vmwPlaneStateCache, () => new VmwPlaneState());
  if (isErr(vps)) return; // Cannot allocate vmw_plane_state
  __drmAtomicHelperPlaneReset(plane, vps);
}

/**
 * Models vmw_du_plane_unpin_surf(): the state's pin of its surface dropped.
 * Locking: none held; vmw_resource_unpin() takes cmdbuf_mutex. References: none.
 */
export async function vmwDuPlaneUnpinSurf(vps: VmwPlaneState): Promise<void> {
  const surf = vmwUserObjectSurface(vps.uo);
  if (surf && vps.pinned) {
    await vmwResourceUnpin(surf.res);
    vps.pinned--;
  }
}

/**
 * Models vmw_stdu_define_st(): DEFINE_GB_SCREENTARGET for the mode (the FIFO reservation: -ENOMEM
 * is not modeled), then defined with the display's size.
 * Locking: none held (the commit tail). References: none.
 */
async function vmwStduDefineSt(
  stdu: VmwScreenTargetDisplayUnit,
  width: number,
  height: number,
): Promise<number> {
  await point(`vmw_cmd_commit(DEFINE_GB_SCREENTARGET ${stdu.unit})`);
  stdu.hw.defined = true;
  stdu.hw.width = width;
  stdu.hw.height = height;
  stdu.hw.sid = SVGA3D_INVALID_ID;
  stdu.defined = true;
  stdu.displayWidth = width;
  stdu.displayHeight = height;
  return 0;
}

/**
 * Models vmw_stdu_bind_st(): -EINVAL without a defined target ("No screen target defined"),
 * else BIND_GB_SCREENTARGET of the resource's id (SVGA3D_INVALID_ID for null: blank). The
 * resource is only read for its id.
 * Locking: none held (the commit tail). References: none; the plane state holds the surface.
 */
async function vmwStduBindSt(
  stdu: VmwScreenTargetDisplayUnit,
  srf: VmwUserSurface | null,
): Promise<number> {
  if (!stdu.defined) return -EINVAL; // No screen target defined
  if (srf) srf.checkAccess("vmw_stdu_bind_st");
  const sid = srf ? srf.res.id : SVGA3D_INVALID_ID;
  await point(`vmw_cmd_commit(BIND_GB_SCREENTARGET ${stdu.unit})`);
  stdu.hw.sid = sid;
  stdu.hw.shown = srf;
  return 0;
}

/**
 * Models vmw_stdu_update_st(): UPDATE_GB_SCREENTARGET of the whole display; -EINVAL without a
 * defined target.
 * Locking: none held. References: none.
 */
async function vmwStduUpdateSt(stdu: VmwScreenTargetDisplayUnit): Promise<number> {
  if (!stdu.defined) return -EINVAL; // No screen target defined
  await point(`vmw_cmd_commit(UPDATE_GB_SCREENTARGET ${stdu.unit})`);
  return 0;
}

/**
 * Models vmw_stdu_destroy_st(): nothing if no target is defined; else DESTROY_GB_SCREENTARGET
 * and the forced sync (vmw_fallback_wait(): a scheduling point, the device idle), then not
 * defined.
 * Locking: none held. References: none.
 */
async function vmwStduDestroySt(stdu: VmwScreenTargetDisplayUnit): Promise<number> {
  // Nothing to do if not successfully defined
  if (!stdu.defined) return 0;
  await point(`vmw_cmd_commit(DESTROY_GB_SCREENTARGET ${stdu.unit})`);
  stdu.hw.defined = false;
  stdu.hw.sid = SVGA3D_INVALID_ID;
  stdu.hw.shown = null;
  // Force sync
  await point(`vmw_fallback_wait(DESTROY_GB_SCREENTARGET ${stdu.unit})`);
  stdu.defined = false;
  stdu.displayWidth = 0;
  stdu.displayHeight = 0;
  return 0;
}

/**
 * Models vmw_stdu_crtc_mode_set_nofb(): a defined target is blanked, updated and destroyed;
 * then, if the CRTC is enabled, a target is defined for its mode (vmw_svga_enable() is not
 * modeled; gui_x/gui_y are 0). Errors are only logged, as in the kernel.
 * Locking: none held (the commit tail). References: none.
 */
async function vmwStduCrtcModeSetNofb(crtc: DrmCrtc): Promise<void> {
  const stdu = vmwCrtcToStdu(crtc);
  if (stdu.defined) {
    await vmwStduBindSt(stdu, null); // Failed to blank CRTC
    await vmwStduUpdateSt(stdu);
    await vmwStduDestroySt(stdu); // Failed to destroy Screen Target
    stdu.contentFbType = "same_as_display";
  }
  const state = crtc.state!;
  state.checkAccess("vmw_stdu_crtc_mode_set_nofb");
  if (!state.enable || !state.mode) return;
  await vmwStduDefineSt(stdu, state.mode.hdisplay, state.mode.vdisplay);
}

/**
 * Models vmw_stdu_crtc_atomic_disable(): a defined target is blanked and updated, then
 * destroyed unless the CRTC stays enabled, inactive, with its mode (vkms: not modeled).
 * Locking: none held (the commit tail). References: none.
 */
async function vmwStduCrtcAtomicDisable(crtc: DrmCrtc, state: DrmAtomicState): Promise<void> {
  const stdu = vmwCrtcToStdu(crtc);
  const newCrtcState = drmAtomicGetNewCrtcState(state, crtc)!;
  if (stdu.defined) {
    await vmwStduBindSt(stdu, null); // Failed to blank CRTC
    await vmwStduUpdateSt(stdu);
    // Don't destroy the Screen Target if we are only setting the display as inactive
    if (newCrtcState.enable && !newCrtcState.active && !newCrtcState.modeChanged) return;
    await vmwStduDestroySt(stdu); // Failed to destroy Screen Target
    stdu.contentFbType = "same_as_display";
  }
}

/**
 * Models vmw_stdu_primary_plane_cleanup_fb(): WARN_ON a surface state without a pin, then
 * vmw_du_plane_cleanup_fb() (the unpin); the state's content type and cpp reset.
 * Locking: none required (the commit tail, or the unprepare under connection_mutex).
 * References: none dropped (the state's user object goes with the state).
 */
export async function vmwStduPrimaryPlaneCleanupFb(
  _plane: DrmPlane,
  oldState: DrmPlaneState,
): Promise<void> {
  const vps = vmwPlaneStateToVps(oldState);
  if (vmwUserObjectSurface(vps.uo))
    warnOn(!vps.pinned, "vmw_stdu_primary_plane_cleanup_fb: WARN_ON(!vps->pinned)");
  await vmwDuPlaneUnpinSurf(vps);
  vps.contentFbType = "same_as_display";
  vps.cpp = 0;
}

/**
 * Models vmw_stdu_primary_plane_prepare_fb(): see the file comment. With no framebuffer the
 * state's surface reference is dropped. The proxy surface's format for a buffer framebuffer
 * follows cpp (32: X8R8G8B8, 16: R5G6B5, 8: P8, else -EINVAL "Invalid format"); a proxy of
 * another size or format than the state's current one replaces it. 0, vmw_gb_surface_define()'s
 * -ENOMEM, or vmw_resource_pin()'s errno (the state's surface dropped).
 * Locking: connection_mutex held (drm_atomic_helper_prepare_planes()).
 * References: the state may take a reference of the framebuffer's user object or own a new
 * proxy surface; the pin lasts until ->cleanup_fb.
 */
export async function vmwStduPrimaryPlanePrepareFb(
  plane: DrmPlane,
  newState: DrmPlaneState,
): Promise<number> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  const vmw = plane.dev.driverPrivate as VmwPrivate;
  const newFb = newState.fb;
  const vps = vmwPlaneStateToVps(newState);
  const hdisplay = newState.crtcW;
  const vdisplay = newState.crtcH;

  // No FB to prepare
  if (!newFb) {
    if (vmwUserObjectSurface(vps.uo)) {
      warnOn(vps.pinned !== 0, "vmw_stdu_primary_plane_prepare_fb: WARN_ON(vps->pinned != 0)");
      await vmwUserObjectUnref(vps.uo);
    }
    return 0;
  }

  newFb.checkAccess("vmw_stdu_primary_plane_prepare_fb");
  const isBo = newFb instanceof VmwFramebufferBo;
  const newVfbs = isBo ? null : (newFb as VmwFramebufferSurface);
  const fbSurface = newVfbs ? vmwUserObjectSurface(newVfbs.uo) : null;
  if (fbSurface) fbSurface.checkAccess("vmw_stdu_primary_plane_prepare_fb: surface");
  let newContentType: StduContentType;
  if (fbSurface && fbSurface.metadata.width === hdisplay && fbSurface.metadata.height === vdisplay)
    newContentType = "same_as_display";
  else if (isBo) newContentType = "separate_bo";
  else newContentType = "separate_surface";

  if (newContentType !== "same_as_display") {
    let metadata: VmwSurfaceMetadata;
    // If content buffer is a buffer object, then we have to construct surface info
    if (newContentType === "separate_bo") {
      let format: number;
      switch (newFb.format!.cpp[0]! * 8) {
        case 32:
          format = SVGA3D_X8R8G8B8;
          break;
        case 16:
          format = SVGA3D_R5G6B5;
          break;
        case 8:
          format = SVGA3D_P8;
          break;
        default:
          return -EINVAL; // Invalid format
      }
      metadata = {
        flags: 0,
        format,
        mipLevels: 1,
        autogenFilter: 0,
        width: 0,
        height: 0,
        depth: 0,
        scanout: true,
        numSizes: 1,
      };
    } else {
      metadata = { ...fbSurface!.metadata };
    }
    metadata.width = hdisplay;
    metadata.height = vdisplay;
    metadata.depth = 1;

    const cur = vmwUserObjectSurface(vps.uo);
    if (cur) {
      cur.checkAccess("vmw_stdu_primary_plane_prepare_fb: current surface");
      if (
        cur.metadata.width !== metadata.width ||
        cur.metadata.height !== metadata.height ||
        cur.metadata.format !== metadata.format
      ) {
        warnOn(vps.pinned !== 0, "vmw_stdu_primary_plane_prepare_fb: WARN_ON(vps->pinned != 0)");
        await vmwUserObjectUnref(vps.uo);
      }
    }

    if (!vmwUserObjectSurface(vps.uo)) {
      const srf = vmwGbSurfaceDefine(vmw, metadata);
      if (isErr(srf)) return srf; // Couldn't allocate STDU surface.
      vps.uo.surface = srf;
    }
  } else {
    // prepare_fb and clean_fb should only take care of pinning and unpinning. References are
    // tracked by state objects. The only time we add a reference in prepare_fb is if the
    // state object doesn't have a reference to begin with
    if (vmwUserObjectSurface(vps.uo)) {
      warnOn(vps.pinned !== 0, "vmw_stdu_primary_plane_prepare_fb: WARN_ON(vps->pinned != 0)");
      await vmwUserObjectUnref(vps.uo);
    }
    vps.uo = { buffer: newVfbs!.uo.buffer, surface: newVfbs!.uo.surface };
    await vmwUserObjectRef(vps.uo);
  }

  const srf = vmwUserObjectSurface(vps.uo);
  if (srf) {
    // Pin new surface before flipping
    const ret = await vmwResourcePin(srf.res, false);
    if (ret) {
      await vmwUserObjectUnref(vps.uo);
      return ret;
    }
    vps.pinned++;
  }
  vps.contentFbType = newContentType;
  // vmw_resource_dirty_update() of a dumb buffer's surface: not modeled.
  // This should only happen if the buffer object is too large to create a proxy surface for.
  if (vps.contentFbType === "separate_bo") vps.cpp = Math.trunc(newFb.pitches[0]! / newFb.width);
  return 0;
}

/**
 * Models vmw_stdu_plane_update_bo() / vmw_stdu_plane_update_surface() (through
 * vmw_du_helper_plane_update()), reduced to what they read: the buffer framebuffer's CPU blit
 * maps and reads the buffer into the display surface's guest memory; the surface framebuffer's
 * update copies its surface to the display surface (unless it is the display surface) and
 * updates the target. Each a scheduling point where the kernel reserves, validates and submits.
 * Locking: none held (the commit tail; the kernel takes cmdbuf_mutex inside).
 * References: the new plane state holds the framebuffer, which holds its buffer or surface.
 */
async function vmwStduPlaneUpdate(
  stdu: VmwScreenTargetDisplayUnit,
  newState: DrmPlaneState,
): Promise<number> {
  const fb = newState.fb!;
  if (fb instanceof VmwFramebufferBo) {
    const bo = fb.buffer!;
    bo.checkAccess("vmw_stdu_bo_cpu_commit");
    await point(`vmw_stdu_bo_cpu_commit(${bo.name} -> ${stdu.displaySrf?.name ?? "none"})`);
  } else {
    const src = vmwUserObjectSurface((fb as VmwFramebufferSurface).uo)!;
    src.checkAccess("vmw_stdu_surface_populate_copy");
    if (src !== stdu.displaySrf)
      await point(`vmw_stdu_surface_populate_copy(${src.name} -> ${stdu.displaySrf?.name})`);
  }
  return vmwStduUpdateSt(stdu);
}

/**
 * Models vmw_stdu_primary_plane_atomic_update(): with a CRTC and a framebuffer, the display
 * surface becomes the state's, the target is bound to it and updated from the framebuffer;
 * otherwise a defined target is blanked and updated. Errors are only logged.
 * Locking: none held (the commit tail). References: `display_srf` borrows the state's surface.
 */
export async function vmwStduPrimaryPlaneAtomicUpdate(
  plane: DrmPlane,
  state: DrmAtomicState,
): Promise<void> {
  const oldState = drmAtomicGetOldPlaneState(state, plane)!;
  const newState = drmAtomicGetNewPlaneState(state, plane)!;
  const vps = vmwPlaneStateToVps(newState);
  // If case of device error, maintain consistent atomic state
  if (newState.crtc && newState.fb) {
    const stdu = vmwCrtcToStdu(newState.crtc);
    stdu.displaySrf = vmwUserObjectSurface(vps.uo);
    stdu.contentFbType = vps.contentFbType;
    stdu.cpp = vps.cpp;
    await vmwStduBindSt(stdu, stdu.displaySrf); // Failed to bind surface to STDU.
    await vmwStduPlaneUpdate(stdu, newState); // Failed to update STDU.
  } else {
    const stdu = vmwCrtcToStdu(oldState.crtc!);
    // Blank STDU when fb and crtc are NULL
    if (!stdu.defined) return;
    await vmwStduBindSt(stdu, null); // Failed to blank STDU
    await vmwStduUpdateSt(stdu); // Failed to update STDU.
  }
}

/** Models vmw_stdu_crtc_funcs (->destroy is not modeled: no drm_mode_config_cleanup()). */
const vmwStduCrtcFuncs: DrmCrtcFuncs = {
  setConfig: drmAtomicHelperSetConfig,
  pageFlip: drmAtomicHelperPageFlip,
  reset: drmAtomicHelperCrtcReset,
  atomicDuplicateState: drmAtomicHelperCrtcDuplicateState,
  atomicDestroyState: drmAtomicHelperCrtcDestroyState,
};

/**
 * Models vmw_stdu_crtc_helper_funcs (->atomic_check, ->atomic_begin, ->atomic_flush and
 * ->atomic_enable are vkms's or a connector mask check: not modeled).
 */
const vmwStduCrtcHelperFuncs: DrmCrtcHelperFuncs = {
  modeSetNofb: vmwStduCrtcModeSetNofb,
  atomicDisable: vmwStduCrtcAtomicDisable,
};

/** Models vmw_stdu_plane_funcs (the state hooks). */
const vmwStduPlaneFuncs: DrmPlaneFuncs = {
  reset: vmwDuPlaneReset,
  atomicDuplicateState: vmwDuPlaneDuplicateState,
  atomicDestroyState: vmwDuPlaneDestroyState,
};

/**
 * Models vmw_stdu_primary_plane_helper_funcs (->atomic_check, vmw_du_primary_plane_atomic_check()
 * with drm_atomic_helper_check_plane_state(), is not modeled: the core's plane checks apply).
 */
const vmwStduPrimaryPlaneHelperFuncs: DrmPlaneHelperFuncs = {
  atomicUpdate: vmwStduPrimaryPlaneAtomicUpdate,
  prepareFb: vmwStduPrimaryPlanePrepareFb,
  cleanupFb: vmwStduPrimaryPlaneCleanupFb,
};

/**
 * Models vmw_stdu_cursor_funcs: the atomic helpers' legacy entry points (what the cursor ioctls
 * call) and the plane state hooks (->destroy is vmw_du_cursor_plane_destroy(), run by
 * vmw_kms_close(): vmwgfx-drv.ts).
 */
const vmwStduCursorFuncs: DrmPlaneFuncs = {
  reset: vmwDuPlaneReset,
  atomicDuplicateState: vmwDuPlaneDuplicateState,
  atomicDestroyState: vmwDuPlaneDestroyState,
  updatePlane: drmAtomicHelperUpdatePlane,
  disablePlane: drmAtomicHelperDisablePlane,
};

/** Models vmw_stdu_cursor_plane_helper_funcs. */
const vmwStduCursorPlaneHelperFuncs: DrmPlaneHelperFuncs = {
  atomicCheck: vmwDuCursorPlaneAtomicCheck,
  atomicUpdate: vmwDuCursorPlaneAtomicUpdate,
  prepareFb: vmwDuCursorPlanePrepareFb,
  cleanupFb: vmwDuCursorPlaneCleanupFb,
};

/**
 * Models vmw_stdu_init(): the display unit `unit` with its primary plane, its cursor plane
 * (vmw_cursor_plane_formats: ARGB8888), its connector and its CRTC (the encoder is not modeled).
 * 0 or the core's errno.
 * Locking: none; the device is not registered yet. References: none.
 */
async function vmwStduInit(vmw: VmwPrivate, dev: DrmDevice, unit: number): Promise<number> {
  const stdu = new VmwScreenTargetDisplayUnit(unit);
  const primary = new DrmPlane(dev);
  // Initialize primary plane
  let ret = await drmUniversalPlaneInit(
    dev,
    primary,
    0,
    vmwStduPlaneFuncs,
    VMW_PRIMARY_PLANE_FORMATS,
    DRM_PLANE_TYPE_PRIMARY,
  );
  if (ret) return ret; // Failed to initialize primary plane
  primary.helperPrivate = vmwStduPrimaryPlaneHelperFuncs;
  stdu.primary = primary;
  // Initialize cursor plane
  const cursor = new VmwCursorPlane(dev);
  ret = await drmUniversalPlaneInit(
    dev,
    cursor,
    0,
    vmwStduCursorFuncs,
    VMW_CURSOR_PLANE_FORMATS,
    DRM_PLANE_TYPE_CURSOR,
  );
  if (ret) return ret; // Failed to initialize cursor plane
  cursor.helperPrivate = vmwStduCursorPlaneHelperFuncs;
  stdu.cursor = cursor;
  const connector = new DrmConnector(dev);
  ret = await drmConnectorInit(dev, connector);
  if (ret) return ret; // Failed to initialize connector
  stdu.connector = connector;
  const crtc = new VmwStduCrtc(dev);
  crtc.du = stdu;
  ret = await drmCrtcInitWithPlanes(dev, crtc, primary, vmwStduCrtcFuncs, cursor);
  if (ret) return ret; // Failed to initialize CRTC
  crtc.helperPrivate = vmwStduCrtcHelperFuncs;
  stdu.crtc = crtc;
  vmw.stdus.push(stdu);
  return 0;
}

/**
 * Models vmw_kms_stdu_init_display(): -ENOSYS without MOBs; else `numUnits` display units
 * (VMWGFX_NUM_DISPLAY_UNITS in the kernel). The device is a screen-target one already
 * (active_display_unit).
 * Locking: none; the device is not registered yet. References: none.
 */
export async function vmwKmsStduInitDisplay(
  vmw: VmwPrivate,
  dev: DrmDevice,
  numUnits: number,
): Promise<number> {
  // Do nothing if there's no support for MOBs
  if (!vmw.hasMob) return -ENOSYS;
  // vmw_driver_load()'s spin_lock_init(&dev_priv->cursor_lock): made with the display units here
  vmw.cursorLock = new SpinLock("vmw_private.cursor_lock", { owner: vmw });
  for (let i = 0; i < Math.min(numUnits, VMWGFX_NUM_DISPLAY_UNITS); ++i) {
    const ret = await vmwStduInit(vmw, dev, i);
    if (ret) return ret; // Failed to initialize STDU
  }
  return 0;
}
