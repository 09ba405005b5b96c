/**
 * Planes (drivers/gpu/drm/drm_plane.c, include/drm/drm_plane.h of Linux v6.18; GETPLANE,
 * GETPLANERESOURCES and PAGE_FLIP read the same in v6.12.19): a plane scans a framebuffer out on
 * a CRTC. Its current state (`plane->state`) holds a reference on the framebuffer it shows
 * (`plane_state->fb`) and on the commit that put it there; a commit replaces it, and the old
 * state, with its framebuffer reference, is freed when the commit's atomic state is put (after
 * the flip completed). DRM_IOCTL_MODE_PAGE_FLIP (DRM_MASTER) flips a CRTC's primary plane to
 * another framebuffer through ->page_flip (drm_atomic_helper_page_flip(): a nonblocking commit),
 * optionally with a DRM_EVENT_FLIP_COMPLETE event reserved against the file's event space and
 * read with read(2) once the flip is done.
 *
 * Primary planes (one per CRTC) and cursor planes (a CRTC's `cursor`, which the legacy
 * DRM_IOCTL_MODE_CURSOR / CURSOR2 drive through drm_mode_cursor_universal(): a framebuffer made
 * of the buffer handle, then the plane's ->update_plane or ->disable_plane, the atomic helpers'
 * blocking commits) are modeled; overlay planes, rotation, blending, damage clips, plane
 * properties other than the cursor hotspot, the non-atomic ->cursor_set/->cursor_move hooks and
 * leases are not. `plane->mutex` is folded into connection_mutex (drm-crtc.ts).
 */

import {
  copyU32sToUser,
  EACCES,
  EBUSY,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOMEM,
  ENXIO,
  EOPNOTSUPP,
  ERANGE,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  kmemleakReferenced,
  lockdepAssertHeld,
  SlabObject,
} from "@primetime/kernel";
import { warnOn } from "@primetime/sim";
import {
  DRM_EVENT_FLIP_COMPLETE,
  DRM_EVENT_VBLANK_SIZE,
  DRM_FORMAT_ARGB8888,
  DRM_MODE_CURSOR_BO,
  DRM_MODE_CURSOR_FLAGS,
  DRM_MODE_CURSOR_MOVE,
  DRM_MODE_PAGE_FLIP_ASYNC,
  DRM_MODE_PAGE_FLIP_EVENT,
  DRM_MODE_PAGE_FLIP_FLAGS,
  DRM_MODE_PAGE_FLIP_TARGET,
  type DrmModeCrtcPageFlip,
  type DrmModeCursor,
  type DrmModeCursor2,
  type DrmModeFbCmd2,
  type DrmModeGetPlane,
  type DrmModeGetPlaneRes,
} from "@primetime/uapi";
import {
  type DrmAtomicState,
  type DrmCrtcCommit,
  drmCrtcCommitPut,
  drmCrtcMask,
} from "./drm-atomic.js";
import { type DrmCrtc, drmCrtcFind, drmFramebufferCheckSrcCoords } from "./drm-crtc.js";
import type { DrmDevice } from "./drm-device.js";
import { DRIVER_CURSOR_HOTSPOT, DRIVER_MODESET, drmCoreCheckFeature } from "./drm-driver.js";
import { type DrmFile, drmEventCancelFree, drmEventReserveInit } from "./drm-file.js";
import {
  type DrmFramebuffer,
  drmFramebufferGet,
  drmFramebufferLookup,
  drmFramebufferPut,
  drmInternalFramebufferCreate,
} from "./drm-framebuffer.js";
import { drmLeaseFilterCrtcs, drmLeaseHeld } from "./drm-lease.js";
import {
  DRM_MODE_OBJECT_PLANE,
  DrmModeObject,
  drmModeObjectAdd,
  drmModeObjectFind,
} from "./drm-mode-object.js";
import { DrmPendingVblankEvent, drmPendingVblankEventCache } from "./drm-vblank.js";

/** The slab cache of plane states (kzalloc'ed by ->atomic_duplicate_state and ->reset). */
export const drmPlaneStateCache = new KmemCache("drm_plane_state");

/** Models DRM_PLANE_TYPE_OVERLAY, DRM_PLANE_TYPE_PRIMARY, DRM_PLANE_TYPE_CURSOR. */
export const DRM_PLANE_TYPE_OVERLAY = 0;
export const DRM_PLANE_TYPE_PRIMARY = 1;
export const DRM_PLANE_TYPE_CURSOR = 2;

/**
 * Models struct drm_plane_state (the fields in use).
 * Locking: a state in an atomic state is its committer's; the current one is replaced under
 * the modeset locks by drm_atomic_helper_swap_state().
 * References: `fb` holds a framebuffer reference, `commit` a commit reference; both are dropped
 * when the state is destroyed.
 */
export class DrmPlaneState extends SlabObject {
  /** Models plane. */
  plane!: DrmPlane;
  /** Models crtc. */
  crtc: DrmCrtc | null = null;
  /** Models fb. */
  fb: DrmFramebuffer | null = null;
  /** Models crtc_x, crtc_y, crtc_w, crtc_h. */
  crtcX = 0;
  crtcY = 0;
  crtcW = 0;
  crtcH = 0;
  /** Models src_x, src_y, src_w, src_h (16.16 fixed point). */
  srcX = 0;
  srcY = 0;
  srcW = 0;
  srcH = 0;
  /** Models visible. */
  visible = false;
  /** Models hotspot_x, hotspot_y (a cursor plane's, set by CURSOR2). */
  hotspotX = 0;
  hotspotY = 0;
  /** Models commit. */
  commit: DrmCrtcCommit | null = null;
  /** Models state: the atomic state it belongs to, null once it is the current state. */
  state: DrmAtomicState | null = null;
}

/** Models struct drm_plane_funcs (the hooks in use). */
export interface DrmPlaneFuncs {
  /** Models ->reset. */
  reset(plane: DrmPlane): Promise<void>;
  /** Models ->atomic_duplicate_state: null when the allocation fails. */
  atomicDuplicateState(plane: DrmPlane): Promise<DrmPlaneState | null>;
  /** Models ->atomic_destroy_state. */
  atomicDestroyState(plane: DrmPlane, state: DrmPlaneState): Promise<void>;
  /**
   * Models ->update_plane (drm_atomic_helper_update_plane() for the atomic drivers): the legacy
   * entry point of SETPLANE and the universal cursor. Only planes the cursor ioctls reach set it.
   */
  updatePlane?(
    plane: DrmPlane,
    crtc: DrmCrtc,
    fb: DrmFramebuffer,
    crtcX: number,
    crtcY: number,
    crtcW: number,
    crtcH: number,
    srcX: number,
    srcY: number,
    srcW: number,
    srcH: number,
  ): Promise<number>;
  /** Models ->disable_plane (drm_atomic_helper_disable_plane()). */
  disablePlane?(plane: DrmPlane): Promise<number>;
}

/** Models struct drm_plane_helper_funcs (the hooks in use; all optional). */
export interface DrmPlaneHelperFuncs {
  /** Models ->prepare_fb: before the commit (a driver pins the buffer it will scan out). */
  prepareFb?(plane: DrmPlane, newState: DrmPlaneState): Promise<number>;
  /** Models ->cleanup_fb: after the commit, with the old state (unpins). */
  cleanupFb?(plane: DrmPlane, oldState: DrmPlaneState): Promise<void>;
  /** Models ->atomic_check. */
  atomicCheck?(plane: DrmPlane, state: DrmAtomicState): Promise<number>;
  /** Models ->atomic_update: program the plane's new state. */
  atomicUpdate?(plane: DrmPlane, state: DrmAtomicState): Promise<void>;
  /** Models ->atomic_disable. */
  atomicDisable?(plane: DrmPlane, state: DrmAtomicState): Promise<void>;
}

/**
 * Models struct drm_plane.
 * Locking: `state` is replaced under the modeset locks.
 * References: `state` (the current state) is owned by the plane.
 */
export class DrmPlane extends SlabObject {
  /** Models dev. */
  readonly dev: DrmDevice;
  /** Models base. */
  readonly base: DrmModeObject;
  /** Models index (drm_plane_index()). */
  index = 0;
  /** Models type. */
  type = DRM_PLANE_TYPE_PRIMARY;
  /** Models possible_crtcs. */
  possibleCrtcs = 0;
  /** Models format_types (format_count is its length). */
  formatTypes: readonly number[] = [];
  /** Models format_default. */
  formatDefault = false;
  /**
   * Models hotspot_x_property and hotspot_y_property being set (drm_plane_create_hotspot_properties()
   * for a cursor plane of a DRIVER_CURSOR_HOTSPOT driver).
   */
  hotspotProperties = false;
  /** Models funcs. */
  funcs!: DrmPlaneFuncs;
  /** Models helper_private. */
  helperPrivate: DrmPlaneHelperFuncs = {};
  /** Models state. */
  state: DrmPlaneState | null = null;

  constructor(dev: DrmDevice) {
    super("drm_plane");
    this.dev = dev;
    this.base = new DrmModeObject(this);
  }
}

/**
 * Models drm_universal_plane_init(): an id, the plane's formats, type and index, its place in the
 * device's list, and (as drm_mode_config_reset() does at load) its first state. 0 or the id
 * allocation's errno.
 * Locking: takes idr_mutex; at load nobody else can reach the lists.
 * References: none.
 */
export async function drmUniversalPlaneInit(
  dev: DrmDevice,
  plane: DrmPlane,
  possibleCrtcs: number,
  funcs: DrmPlaneFuncs,
  formats: readonly number[],
  type: number,
): Promise<number> {
  const config = dev.modeConfig;
  const ret = await drmModeObjectAdd(dev, plane.base, DRM_MODE_OBJECT_PLANE, true, null);
  if (ret) return ret;
  plane.funcs = funcs;
  plane.formatTypes = [...formats];
  plane.possibleCrtcs = possibleCrtcs;
  plane.type = type;
  plane.index = config.numTotalPlane++;
  config.planeList.push(plane);
  if (drmCoreCheckFeature(dev, DRIVER_CURSOR_HOTSPOT) && type === DRM_PLANE_TYPE_CURSOR)
    plane.hotspotProperties = true; // drm_plane_create_hotspot_properties()
  await funcs.reset(plane);
  return 0;
}

/**
 * Models drm_plane_has_format(): whether the plane scans out `format` (modifiers are not
 * modeled: every plane takes DRM_FORMAT_MOD_LINEAR, 0).
 * Locking: none.
 * References: none.
 */
export function drmPlaneHasFormat(plane: DrmPlane, format: number, modifier: number): boolean {
  if (!plane.formatTypes.includes(format)) return false;
  return modifier === 0;
}

/**
 * Models drm_plane_find().
 * Locking: takes idr_mutex.
 * References: none (planes are not refcounted).
 */
export async function drmPlaneFind(
  dev: DrmDevice,
  file: DrmFile | null,
  id: number,
): Promise<DrmPlane | null> {
  const obj = await drmModeObjectFind(dev, file, id, DRM_MODE_OBJECT_PLANE);
  return obj ? (obj.owner as DrmPlane) : null;
}

/**
 * Models drm_mode_getplane_res(): GETPLANERESOURCES: the ids of the planes the file may see
 * (overlays, and primary and cursor planes once it set DRM_CLIENT_CAP_UNIVERSAL_PLANES; of a
 * lessee, only those of its lease: drm_lease_held()), written
 * to `plane_id_ptr` while `count_planes` leaves room (-EFAULT), and their number.
 * -EOPNOTSUPP without DRIVER_MODESET.
 * Locking: none (the plane list is fixed after load).
 * References: none.
 */
export async function drmModeGetplaneRes(
  dev: DrmDevice,
  r: DrmModeGetPlaneRes,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  let count = 0;
  // This ioctl is called twice, once to determine how much space is needed, and the 2nd time
  // to fill it.
  for (const plane of dev.modeConfig.planeList) {
    // Unless userspace set the 'universal planes' capability bit, only advertise overlays.
    if (plane.type !== DRM_PLANE_TYPE_OVERLAY && !file.universalPlanes) continue;
    if (await drmLeaseHeld(file, plane.base.id)) {
      if (
        count < r.count_planes &&
        (await copyU32sToUser(r.plane_id_ptr + 4 * count, [plane.base.id]))
      )
        return -EFAULT;
      count++;
    }
  }
  r.count_planes = count;
  return 0;
}

/**
 * Models drm_mode_getplane(): GETPLANE: the CRTC (0 for none, or one the file's lease does not
 * hold) and framebuffer the plane shows, its possible CRTCs as the file sees them
 * (drm_lease_filter_crtcs()) and, when `count_format_types` leaves room, its formats (-EFAULT).
 * -EOPNOTSUPP without DRIVER_MODESET, -ENOENT for an unknown id.
 * Locking: takes connection_mutex (standing for plane->mutex).
 * References: none.
 */
export async function drmModeGetplane(
  dev: DrmDevice,
  r: DrmModeGetPlane,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  const plane = await drmPlaneFind(dev, file, r.plane_id);
  if (!plane) return -ENOENT;
  const lock = dev.modeConfig.connectionMutex;
  await lock.lock(); // drm_modeset_lock(&plane->mutex, NULL)
  const state = plane.state!;
  state.checkAccess("drm_mode_getplane");
  if (state.crtc && (await drmLeaseHeld(file, state.crtc.base.id))) r.crtc_id = state.crtc.base.id;
  else r.crtc_id = 0;
  r.fb_id = state.fb ? state.fb.base.id : 0;
  await lock.unlock();
  r.plane_id = plane.base.id;
  r.possible_crtcs = await drmLeaseFilterCrtcs(file, plane.possibleCrtcs);
  r.gamma_size = 0;
  // This ioctl is called twice, once to determine how much space is needed, and the 2nd time
  // to fill it.
  const formatCount = plane.formatTypes.length;
  if (formatCount && r.count_format_types >= formatCount) {
    if (await copyU32sToUser(r.format_type_ptr, plane.formatTypes)) return -EFAULT;
  }
  r.count_format_types = formatCount;
  return 0;
}

const INT_MAX = 0x7fff_ffff;

/**
 * Models __setplane_check(): -EINVAL for a plane that cannot be on `crtc` or a format (with the
 * framebuffer's modifier) it does not scan out, -ERANGE for CRTC coordinates that overflow an int,
 * -ENOSPC for a source rectangle outside the framebuffer (drm_framebuffer_check_src_coords()).
 * Locking: none (the caller holds the plane's lock). References: none.
 */
function __setplaneCheck(
  plane: DrmPlane,
  crtc: DrmCrtc,
  fb: DrmFramebuffer,
  crtcX: number,
  crtcY: number,
  crtcW: number,
  crtcH: number,
  srcX: number,
  srcY: number,
  srcW: number,
  srcH: number,
): number {
  // Check whether this plane is usable on this CRTC
  if (!(plane.possibleCrtcs & drmCrtcMask(crtc))) return -EINVAL; // Invalid crtc for plane
  // Check whether this plane supports the fb pixel format.
  if (!drmPlaneHasFormat(plane, fb.format!.format, fb.modifier)) return -EINVAL;
  // Give drivers some help against integer overflows
  if (crtcW > INT_MAX || crtcX > INT_MAX - crtcW || crtcH > INT_MAX || crtcY > INT_MAX - crtcH)
    return -ERANGE; // Invalid CRTC coordinates
  return drmFramebufferCheckSrcCoords(srcX, srcY, srcW, srcH, fb);
}

/**
 * Models __setplane_atomic(): no framebuffer shuts the plane down (->disable_plane); otherwise
 * __setplane_check() ("redundant with drm_atomic_plane_check(), but the legacy cursor/async
 * .update_plane() tricks don't call that") and ->update_plane. Every driver of the model is
 * atomic (the WARN_ON(!drm_drv_uses_atomic_modeset()) cannot fire).
 * Locking: connection_mutex held (the CRTC's and plane's locks: asserted).
 * References: the caller's on `fb`; the new plane state takes its own.
 */
async function __setplaneAtomic(
  plane: DrmPlane,
  crtc: DrmCrtc,
  fb: DrmFramebuffer | null,
  crtcX: number,
  crtcY: number,
  crtcW: number,
  crtcH: number,
  srcX: number,
  srcY: number,
  srcW: number,
  srcH: number,
): Promise<number> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  // No fb means shut it down
  if (!fb) return plane.funcs.disablePlane!(plane);
  fb.checkAccess("__setplane_atomic");
  const ret = __setplaneCheck(plane, crtc, fb, crtcX, crtcY, crtcW, crtcH, srcX, srcY, srcW, srcH);
  if (ret) return ret;
  return plane.funcs.updatePlane!(
    plane,
    crtc,
    fb,
    crtcX,
    crtcY,
    crtcW,
    crtcH,
    srcX,
    srcY,
    srcW,
    srcH,
  );
}

/**
 * Models drm_mode_cursor_universal(): the CRTC's cursor plane set from a legacy cursor request.
 * With DRM_MODE_CURSOR_BO a framebuffer is made of `handle` (drm_internal_framebuffer_create():
 * ARGB8888, `width` x `height`, pitch width * 4; its errno, e.g. the driver's for a bad handle)
 * and, on a plane with the hotspot properties, the current state's hotspot set from the request
 * (handle 0: no framebuffer, the plane is turned off); without it the plane keeps the
 * framebuffer its state shows (a reference taken). The position is the request's with
 * DRM_MODE_CURSOR_MOVE, else the CRTC's last one; the size the framebuffer's. Then
 * __setplane_atomic(); the framebuffer reference is dropped, and a successful move saved in
 * the CRTC. BUG() without a cursor plane (the caller checked).
 * Locking: connection_mutex held (the CRTC's and the cursor plane's locks: asserted).
 * References: the new framebuffer's creation reference, dropped at the end (the plane state
 * holds its own).
 */
async function drmModeCursorUniversal(
  crtc: DrmCrtc,
  req: DrmModeCursor2,
  file: DrmFile,
): Promise<number> {
  const dev = crtc.dev;
  lockdepAssertHeld(dev.modeConfig.connectionMutex);
  const plane = crtc.cursor!;
  const fbreq: DrmModeFbCmd2 = {
    fb_id: 0,
    width: req.width,
    height: req.height,
    pixel_format: DRM_FORMAT_ARGB8888,
    flags: 0,
    handles: [req.handle, 0, 0, 0],
    pitches: [(req.width * 4) >>> 0, 0, 0, 0],
    offsets: [0, 0, 0, 0],
    modifier: [0, 0, 0, 0],
  };
  let crtcW = 0;
  let crtcH = 0;
  let srcW = 0;
  let srcH = 0;
  // plane->crtc, the legacy pointer, is NULL for atomic drivers: the WARN_ON cannot fire.
  // Obtain fb we'll be using (either new or existing) and take an extra reference to it if fb !=
  // null. setplane will take care of dropping the reference if the plane update fails.
  let fb: DrmFramebuffer | null = null;
  if (req.flags & DRM_MODE_CURSOR_BO) {
    if (req.handle) {
      const created = await drmInternalFramebufferCreate(dev, fbreq, file);
      if (isErr(created)) return created; // failed to wrap cursor buffer in drm framebuffer
      fb = created;
      const state = plane.state;
      if (plane.hotspotProperties && state) {
        state.checkAccess("drm_mode_cursor_universal: hotspot");
        state.hotspotX = req.hot_x;
        state.hotspotY = req.hot_y;
      }
    }
  } else {
    const state = plane.state!;
    state.checkAccess("drm_mode_cursor_universal");
    fb = state.fb;
    if (fb) await drmFramebufferGet(fb);
  }
  const crtcX = req.flags & DRM_MODE_CURSOR_MOVE ? req.x : crtc.cursorX;
  const crtcY = req.flags & DRM_MODE_CURSOR_MOVE ? req.y : crtc.cursorY;
  if (fb) {
    crtcW = fb.width;
    crtcH = fb.height;
    srcW = fb.width * 65536;
    srcH = fb.height * 65536;
  }
  const ret = await __setplaneAtomic(plane, crtc, fb, crtcX, crtcY, crtcW, crtcH, 0, 0, srcW, srcH);
  if (fb) await drmFramebufferPut(fb);
  // Update successful; save new cursor position, if necessary
  if (ret === 0 && req.flags & DRM_MODE_CURSOR_MOVE) {
    crtc.cursorX = req.x;
    crtc.cursorY = req.y;
  }
  return ret;
}

/**
 * Models drm_mode_cursor_common(): -EOPNOTSUPP without DRIVER_MODESET, -EINVAL for no flag or an
 * unknown one, -ENOENT for an unknown CRTC; then, under the CRTC's lock, a CRTC with a cursor
 * plane goes to drm_mode_cursor_universal() (-EACCES when the file's lease does not hold the
 * plane). A CRTC without one would use the driver's ->cursor_set2/->cursor_set and ->cursor_move,
 * which no driver of the model has: -ENXIO for DRM_MODE_CURSOR_BO, -EFAULT for a move.
 * Locking: takes connection_mutex (standing for the CRTC's and the cursor plane's locks; the
 * -EDEADLK backoff cannot happen with one lock).
 * References: see drm_mode_cursor_universal().
 */
async function drmModeCursorCommon(
  dev: DrmDevice,
  req: DrmModeCursor2,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  if (!req.flags || ~DRM_MODE_CURSOR_FLAGS & req.flags) return -EINVAL;
  const crtc = await drmCrtcFind(dev, file, req.crtc_id);
  if (!crtc) return -ENOENT; // Unknown CRTC ID
  const lock = dev.modeConfig.connectionMutex;
  await lock.lock(); // drm_modeset_lock(&crtc->mutex, &ctx)
  let ret = 0;
  out: {
    // If this crtc has a universal cursor plane, call that plane's update handler rather than
    // using legacy cursor handlers.
    if (crtc.cursor) {
      // drm_modeset_lock(&crtc->cursor->mutex, &ctx): connection_mutex already
      if (!(await drmLeaseHeld(file, crtc.cursor.base.id))) {
        ret = -EACCES;
        break out;
      }
      ret = await drmModeCursorUniversal(crtc, req, file);
      break out;
    }
    // No driver of the model has ->cursor_set, ->cursor_set2 or ->cursor_move.
    if (req.flags & DRM_MODE_CURSOR_BO) {
      ret = -ENXIO;
      break out;
    }
    if (req.flags & DRM_MODE_CURSOR_MOVE) ret = -EFAULT;
  }
  await lock.unlock();
  return ret;
}

/**
 * Models drm_mode_cursor_ioctl(): CURSOR (DRM_MASTER): the request as a struct drm_mode_cursor2
 * with a zero hotspot, to drm_mode_cursor_common().
 * Locking: see drm_mode_cursor_common(). References: see drm_mode_cursor_universal().
 */
export function drmModeCursorIoctl(
  dev: DrmDevice,
  req: DrmModeCursor,
  file: DrmFile,
): Promise<number> {
  const newReq: DrmModeCursor2 = { ...req, hot_x: 0, hot_y: 0 };
  return drmModeCursorCommon(dev, newReq, file);
}

/**
 * Models drm_mode_cursor2_ioctl(): CURSOR2 (DRM_MASTER), the cursor with its hotspot.
 * Locking: see drm_mode_cursor_common(). References: see drm_mode_cursor_universal().
 */
export function drmModeCursor2Ioctl(
  dev: DrmDevice,
  req: DrmModeCursor2,
  file: DrmFile,
): Promise<number> {
  return drmModeCursorCommon(dev, req, file);
}

/**
 * Models drm_mode_page_flip_ioctl(): PAGE_FLIP (DRM_MASTER). -EOPNOTSUPP without DRIVER_MODESET;
 * -EINVAL for unknown flags, a `sequence` without a TARGET flag, both TARGET flags, ASYNC on a
 * device without async flips (none of the model's has them); -ENOENT for an unknown CRTC;
 * -EINVAL for a TARGET flag or a CRTC without ->page_flip (no driver of the model has
 * ->page_flip_target). Then, under the CRTC's and the plane's locks: -EBUSY when the plane shows
 * no framebuffer, -ENOENT for an unknown framebuffer, -ENOSPC when the plane's source rectangle
 * does not fit in it, -EINVAL for another format; with DRM_MODE_PAGE_FLIP_EVENT a
 * DRM_EVENT_FLIP_COMPLETE event is allocated (-ENOMEM) and reserved against the file's event
 * space (-ENOMEM); then ->page_flip, whose failure (e.g. -EBUSY while a flip is pending)
 * cancels the event.
 * Locking: takes connection_mutex (standing for crtc->mutex and plane->mutex).
 * References: the lookup's framebuffer reference, dropped at the end (the commit's plane state
 * takes its own); the event passes to the commit.
 */
export async function drmModePageFlipIoctl(
  dev: DrmDevice,
  pageFlip: DrmModeCrtcPageFlip,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  if (pageFlip.flags & ~DRM_MODE_PAGE_FLIP_FLAGS) return -EINVAL;
  if (pageFlip.sequence !== 0 && !(pageFlip.flags & DRM_MODE_PAGE_FLIP_TARGET)) return -EINVAL;
  // Only one of the DRM_MODE_PAGE_FLIP_TARGET_ABSOLUTE/RELATIVE flags can be specified
  if ((pageFlip.flags & DRM_MODE_PAGE_FLIP_TARGET) === DRM_MODE_PAGE_FLIP_TARGET) return -EINVAL;
  if (pageFlip.flags & DRM_MODE_PAGE_FLIP_ASYNC && !dev.modeConfig.asyncPageFlip) return -EINVAL;
  const crtc = await drmCrtcFind(dev, file, pageFlip.crtc_id);
  if (!crtc) return -ENOENT;
  const plane = crtc.primary;
  if (!(await drmLeaseHeld(file, plane.base.id))) return -EACCES;
  // No driver of the model has ->page_flip_target.
  if (crtc.funcs.pageFlip === null || pageFlip.flags & DRM_MODE_PAGE_FLIP_TARGET) return -EINVAL;
  const lock = dev.modeConfig.connectionMutex;
  await lock.lock(); // drm_modeset_lock(&crtc->mutex), drm_modeset_lock(&plane->mutex)
  let fb: DrmFramebuffer | null = null;
  let ret = 0;
  out: {
    const planeState = plane.state!;
    const oldFb = planeState.fb;
    if (oldFb === null) {
      // The framebuffer is currently unbound, presumably due to a hotplug event, that
      // userspace has not yet discovered.
      ret = -EBUSY;
      break out;
    }
    fb = await drmFramebufferLookup(dev, file, pageFlip.fb_id);
    if (!fb) {
      ret = -ENOENT;
      break out;
    }
    ret = drmFramebufferCheckSrcCoords(
      planeState.srcX,
      planeState.srcY,
      planeState.srcW,
      planeState.srcH,
      fb,
    );
    if (ret) break out;
    // Only check the FOURCC format code, excluding modifiers.
    if (oldFb.format!.format !== fb.format!.format) {
      ret = -EINVAL; // Page flip is not allowed to change frame buffer format.
      break out;
    }
    let e: DrmPendingVblankEvent | null = null;
    if (pageFlip.flags & DRM_MODE_PAGE_FLIP_EVENT) {
      const ev = kmalloc(drmPendingVblankEventCache, () => new DrmPendingVblankEvent());
      if (isErr(ev)) {
        ret = -ENOMEM;
        break out;
      }
      e = ev;
      e.vbl.type = DRM_EVENT_FLIP_COMPLETE;
      e.vbl.length = DRM_EVENT_VBLANK_SIZE;
      e.vbl.user_data = BigInt.asUintN(64, BigInt(pageFlip.user_data));
      e.vbl.crtc_id = crtc.base.id;
      ret = await drmEventReserveInit(dev, file, e, e.drmEvent());
      if (ret) {
        kfree(e);
        e = null;
        break out;
      }
    }
    // plane->old_fb = plane->fb: NULL for an atomic driver (plane->fb is not used)
    ret = await crtc.funcs.pageFlip(crtc, fb, e, pageFlip.flags);
    if (ret) {
      if (pageFlip.flags & DRM_MODE_PAGE_FLIP_EVENT) await drmEventCancelFree(dev, e!);
      // Keep the old fb, don't unref it.
    }
    // else: plane->state is set, the commit's plane state holds the fb
  }
  if (fb) await drmFramebufferPut(fb);
  await lock.unlock();
  return ret;
}

/**
 * Models __drm_atomic_helper_plane_duplicate_state(): fills `state` (a driver's copy of the
 * current state, or a new one) from the current state, with its own framebuffer reference and
 * no commit.
 * Locking: connection_mutex held (the plane's lock).
 * References: takes one of the framebuffer.
 */
export async function __drmAtomicHelperPlaneDuplicateState(
  plane: DrmPlane,
  state: DrmPlaneState,
): Promise<void> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  const cur = plane.state!;
  cur.checkAccess("__drm_atomic_helper_plane_duplicate_state");
  state.plane = plane;
  state.crtc = cur.crtc;
  state.fb = cur.fb;
  state.crtcX = cur.crtcX;
  state.crtcY = cur.crtcY;
  state.crtcW = cur.crtcW;
  state.crtcH = cur.crtcH;
  state.srcX = cur.srcX;
  state.srcY = cur.srcY;
  state.srcW = cur.srcW;
  state.srcH = cur.srcH;
  state.visible = cur.visible;
  state.hotspotX = cur.hotspotX;
  state.hotspotY = cur.hotspotY;
  state.commit = null;
  state.state = null;
  if (state.fb) await drmFramebufferGet(state.fb);
  // fence, commit and fb_damage_clips start cleared
}

/**
 * Models drm_atomic_helper_plane_duplicate_state() (__drm_atomic_helper_plane_duplicate_state()
 * into a kmalloc()ed state): a copy of the current state with its own framebuffer reference and
 * no commit. Null when the allocation fails.
 * Locking: connection_mutex held (the plane's lock).
 * References: takes one of the framebuffer.
 */
export async function drmAtomicHelperPlaneDuplicateState(
  plane: DrmPlane,
): Promise<DrmPlaneState | null> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  if (warnOn(!plane.state, "drm_atomic_helper_plane_duplicate_state: no state")) return null;
  const state = kmalloc(drmPlaneStateCache, () => new DrmPlaneState());
  if (isErr(state)) return null;
  await __drmAtomicHelperPlaneDuplicateState(plane, state);
  return state;
}

/**
 * Models __drm_atomic_helper_plane_destroy_state(): drops the state's framebuffer and commit
 * references (the caller frees the state).
 * Locking: none; the state is no longer reachable.
 * References: drops the framebuffer's and the commit's.
 */
export async function __drmAtomicHelperPlaneDestroyState(state: DrmPlaneState): Promise<void> {
  if (state.fb) await drmFramebufferPut(state.fb);
  if (state.commit) await drmCrtcCommitPut(state.commit);
}

/**
 * Models drm_atomic_helper_plane_destroy_state() (__drm_atomic_helper_plane_destroy_state()
 * and kfree()): drops the state's framebuffer and commit references and frees it.
 * Locking: none; the state is no longer reachable.
 * References: drops the framebuffer's and the commit's.
 */
export async function drmAtomicHelperPlaneDestroyState(
  _plane: DrmPlane,
  state: DrmPlaneState,
): Promise<void> {
  await __drmAtomicHelperPlaneDestroyState(state);
  kfree(state);
}

/**
 * Models __drm_atomic_helper_plane_reset(): `state` (a driver's zeroed state) becomes the plane's
 * first state, off.
 * Locking: none (at load). References: the plane owns it.
 */
export function __drmAtomicHelperPlaneReset(plane: DrmPlane, state: DrmPlaneState): void {
  state.plane = plane;
  plane.state = state;
  kmemleakReferenced(state, true);
}

/**
 * Models drm_atomic_helper_plane_reset(): the plane's first state, off.
 * Locking: none (at load).
 * References: the plane owns it.
 */
export async function drmAtomicHelperPlaneReset(plane: DrmPlane): Promise<void> {
  if (plane.state) await plane.funcs.atomicDestroyState(plane, plane.state);
  const state = kmalloc(drmPlaneStateCache, () => new DrmPlaneState());
  if (isErr(state)) {
    plane.state = null;
    return;
  }
  __drmAtomicHelperPlaneReset(plane, state);
}
