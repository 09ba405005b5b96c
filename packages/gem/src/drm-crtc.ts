/**
 * CRTCs (drivers/gpu/drm/drm_crtc.c, include/drm/drm_crtc.h of Linux v6.18; GETCRTC, SETCRTC and
 * drm_crtc_check_viewport() read the same in v6.12.19): the scanout engines a driver creates at
 * load (drm_crtc_init_with_planes(), each with its primary plane), their mode object ids, their
 * atomic state (`crtc->state`, replaced by each commit's swap) and their list of commits in
 * flight (`commit_list` under `commit_lock`). DRM_IOCTL_MODE_GETCRTC returns what the CRTC
 * shows; DRM_IOCTL_MODE_SETCRTC (DRM_MASTER) sets a mode and a framebuffer on it, or turns it off,
 * through ->set_config (drm_atomic_helper_set_config() for every driver of the model).
 *
 * A CRTC's and a plane's `mutex` (drm_modeset_lock) are folded into `mode_config.connection_mutex`,
 * the model's one modeset lock (drm-modeset-lock.ts): where the kernel takes `crtc->mutex` and
 * `plane->mutex` (PAGE_FLIP, GETCRTC) the model takes connection_mutex. CRTCs, planes and
 * connectors live as long as their device (static objects here); modes are copied by value
 * (no mode blobs); gamma, properties, leases, vblank counters and encoders are not modeled.
 */

import {
  copyU32sFromUser,
  EACCES,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOMEM,
  EOPNOTSUPP,
  ERANGE,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  kmemleakReferenced,
  lockdepAssertHeld,
  SlabObject,
  SpinLock,
  shouldFail,
} from "@primetime/kernel";
import { warnOn } from "@primetime/sim";
import { DRM_DISPLAY_MODE_LEN, type DrmModeCrtc } from "@primetime/uapi";
import { type DrmAtomicState, type DrmCrtcCommit, drmCrtcCommitPut } from "./drm-atomic.js";
import { type DrmConnector, drmConnectorLookup, drmConnectorPut } from "./drm-connector.js";
import type { DrmDevice } from "./drm-device.js";
import { DRIVER_MODESET, drmCoreCheckFeature } from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";
import {
  type DrmFramebuffer,
  drmFramebufferGet,
  drmFramebufferLookup,
  drmFramebufferPut,
} from "./drm-framebuffer.js";
import { drmLeaseHeld } from "./drm-lease.js";
import {
  DRM_MODE_OBJECT_CRTC,
  DrmModeObject,
  drmModeObjectAdd,
  drmModeObjectFind,
} from "./drm-mode-object.js";
import { drmModesetLockAllBegin, drmModesetLockAllEnd } from "./drm-modeset-lock.js";
import type { DrmPlane } from "./drm-plane.js";
import type { DrmPendingVblankEvent } from "./drm-vblank.js";

/** The slab cache of CRTC states (kzalloc'ed by ->atomic_duplicate_state and ->reset). */
export const drmCrtcStateCache = new KmemCache("drm_crtc_state");

/**
 * Models struct drm_display_mode (the timings userspace passes in struct drm_mode_modeinfo).
 */
export interface DrmDisplayMode {
  clock: number;
  hdisplay: number;
  hsyncStart: number;
  hsyncEnd: number;
  htotal: number;
  hskew: number;
  vdisplay: number;
  vsyncStart: number;
  vsyncEnd: number;
  vtotal: number;
  vscan: number;
  vrefresh: number;
  flags: number;
  type: number;
  name: number[];
}

/**
 * Models struct drm_crtc_state (the fields in use).
 * Locking: a state in an atomic state is its committer's; the current one (`crtc->state`) is
 * replaced under the modeset locks (connection_mutex) by drm_atomic_helper_swap_state().
 * References: `commit` holds a commit reference (destroyed with the state); `event` is the
 * event the commit sends (owned by the state until the commit tail sends it).
 */
export class DrmCrtcState extends SlabObject {
  /** Models crtc. */
  crtc!: DrmCrtc;
  /** Models enable. */
  enable = false;
  /** Models active. */
  active = false;
  /** Models mode (and mode_blob: null when no mode is set). */
  mode: DrmDisplayMode | null = null;
  /** Models plane_mask. */
  planeMask = 0;
  /** Models mode_changed, active_changed, connectors_changed. */
  modeChanged = false;
  activeChanged = false;
  connectorsChanged = false;
  /** Models no_vblank: the commit tail sends the event itself (drm_atomic_helper_fake_vblank()). */
  noVblank = false;
  /** Models async_flip. */
  asyncFlip = false;
  /** Models event. */
  event: DrmPendingVblankEvent | null = null;
  /** Models commit. */
  commit: DrmCrtcCommit | null = null;
  /** Models state: the atomic state it belongs to, null once it is the current state. */
  state: DrmAtomicState | null = null;
}

/** Models struct drm_crtc_funcs (the hooks in use). */
export interface DrmCrtcFuncs {
  /** Models ->reset: the CRTC's first state (drm_atomic_helper_crtc_reset()). */
  reset(crtc: DrmCrtc): Promise<void>;
  /** Models ->set_config (SETCRTC). */
  setConfig(set: DrmModeSet): Promise<number>;
  /** Models ->page_flip (PAGE_FLIP); null without one (-EINVAL). */
  pageFlip:
    | ((
        crtc: DrmCrtc,
        fb: DrmFramebuffer,
        event: DrmPendingVblankEvent | null,
        flags: number,
      ) => Promise<number>)
    | null;
  /** Models ->atomic_duplicate_state: a copy of the current state, or null (-ENOMEM). */
  atomicDuplicateState(crtc: DrmCrtc): Promise<DrmCrtcState | null>;
  /** Models ->atomic_destroy_state. */
  atomicDestroyState(crtc: DrmCrtc, state: DrmCrtcState): Promise<void>;
}

/** Models struct drm_crtc_helper_funcs (the hooks in use; all optional). */
export interface DrmCrtcHelperFuncs {
  /** Models ->atomic_flush: after the planes were updated (where drivers arm the event). */
  atomicFlush?(crtc: DrmCrtc, state: DrmAtomicState): Promise<void>;
  /** Models ->atomic_enable. */
  atomicEnable?(crtc: DrmCrtc, state: DrmAtomicState): Promise<void>;
  /** Models ->atomic_disable. */
  atomicDisable?(crtc: DrmCrtc, state: DrmAtomicState): Promise<void>;
  /** Models ->mode_set_nofb: the CRTC's new mode, before the planes (crtc_set_mode()). */
  modeSetNofb?(crtc: DrmCrtc): Promise<void>;
}

/**
 * Models struct drm_crtc.
 * Locking: `state` is replaced under the modeset locks; `commitList` under `commitLock`.
 * References: `state` (the current state) is owned by the CRTC; each commit on `commitList`
 * is kept alive by its states (the list holds no reference).
 */
export class DrmCrtc extends SlabObject {
  /** Models dev. */
  readonly dev: DrmDevice;
  /** Models base: the mode object (id; not refcounted). */
  readonly base: DrmModeObject;
  /** Models index (drm_crtc_index()). */
  index = 0;
  /** Models primary. */
  primary!: DrmPlane;
  /** Models cursor: the cursor plane, or null (the legacy cursor ioctls then have no target). */
  cursor: DrmPlane | null = null;
  /** Models cursor_x, cursor_y: the last position a legacy cursor move set. */
  cursorX = 0;
  cursorY = 0;
  /** Models funcs. */
  funcs!: DrmCrtcFuncs;
  /** Models helper_private. */
  helperPrivate: DrmCrtcHelperFuncs = {};
  /** Models state: the current state. */
  state: DrmCrtcState | null = null;
  /** Models commit_lock: protects commit_list. */
  readonly commitLock: SpinLock;
  /** Models commit_list: the commits in flight, newest first (list_add()). */
  readonly commitList: DrmCrtcCommit[] = [];
  /** Models gamma_size. */
  gammaSize = 0;

  constructor(dev: DrmDevice) {
    super("drm_crtc");
    this.dev = dev;
    this.base = new DrmModeObject(this);
    this.commitLock = new SpinLock("crtc.commit_lock", { owner: this });
  }
}

/**
 * Models struct drm_mode_set: what SETCRTC asks of a CRTC (`mode` null: off).
 * Locking: none; the caller's.
 * References: the caller holds `fb` and each connector.
 */
export interface DrmModeSet {
  crtc: DrmCrtc;
  fb: DrmFramebuffer | null;
  x: number;
  y: number;
  mode: DrmDisplayMode | null;
  connectors: DrmConnector[];
}

/**
 * Models drm_crtc_init_with_planes(): gives the CRTC an id, its index, its primary plane and its
 * cursor plane (`cursor`, null for none; its possible_crtcs set to this CRTC's mask when still
 * 0), adds it to the device's list, and (as drm_mode_config_reset() does at load) its first state
 * (->reset). 0 or the id allocation's errno.
 * Locking: takes idr_mutex; at load nobody else can reach the device's lists.
 * References: none.
 */
export async function drmCrtcInitWithPlanes(
  dev: DrmDevice,
  crtc: DrmCrtc,
  primary: DrmPlane,
  funcs: DrmCrtcFuncs,
  cursor: DrmPlane | null = null,
): Promise<number> {
  const config = dev.modeConfig;
  crtc.funcs = funcs;
  const ret = await drmModeObjectAdd(dev, crtc.base, DRM_MODE_OBJECT_CRTC, true, null);
  if (ret) return ret;
  crtc.index = config.numCrtc++;
  config.crtcList.push(crtc);
  crtc.primary = primary;
  primary.possibleCrtcs |= 1 << crtc.index;
  crtc.cursor = cursor;
  if (cursor && !cursor.possibleCrtcs) cursor.possibleCrtcs = 1 << crtc.index;
  await funcs.reset(crtc);
  return 0;
}

/**
 * Models drm_crtc_find(): the CRTC of `id`, or null.
 * Locking: takes idr_mutex.
 * References: none (CRTCs are not refcounted).
 */
export async function drmCrtcFind(
  dev: DrmDevice,
  file: DrmFile | null,
  id: number,
): Promise<DrmCrtc | null> {
  const obj = await drmModeObjectFind(dev, file, id, DRM_MODE_OBJECT_CRTC);
  return obj ? (obj.owner as DrmCrtc) : null;
}

/** The slab cache of a mode (drm_mode_create()'s kzalloc()). */
const drmDisplayModeCache = new KmemCache("drm_display_mode");

/** A kmalloc()ed struct drm_display_mode (drm_mode_create()). */
class DrmModeAlloc extends SlabObject {
  mode: DrmDisplayMode | null = null;
}

const INT_MAX = 0x7fff_ffff;
/** Models DRM_MODE_TYPE_ALL. */
const DRM_MODE_TYPE_ALL = (1 << 3) | (1 << 5) | (1 << 6);
/** Models DRM_MODE_FLAG_PIC_AR_MASK. */
const DRM_MODE_FLAG_PIC_AR_MASK = 0x0f << 19;
/** Models DRM_MODE_FLAG_3D_MASK and DRM_MODE_FLAG_3D_MAX (DRM_MODE_FLAG_3D_SIDE_BY_SIDE_HALF). */
const DRM_MODE_FLAG_3D_MASK = 0x1f << 14;
const DRM_MODE_FLAG_3D_MAX = 8 << 14;
/** Models DRM_MODE_FLAG_ALL (drm_modes.c): every flag but the deprecated BCAST and PIXMUX. */
const DRM_MODE_FLAG_ALL = 0x3ff | (1 << 12) | (1 << 13) | DRM_MODE_FLAG_3D_MASK;

/**
 * Models drm_mode_convert_umode() with drm_mode_validate_driver()'s basic checks
 * (drm_mode_validate_basic()): -ERANGE for a clock or vrefresh above INT_MAX, -EINVAL for an
 * unknown aspect ratio, unknown flags, a zero clock or timings out of order. No driver of the
 * model has ->mode_valid.
 * Locking: none.
 * References: none.
 */
function drmModeConvertUmode(out: DrmModeAlloc, r: DrmModeCrtc): number {
  if (r.mode_clock > INT_MAX || r.mode_vrefresh > INT_MAX) return -ERANGE;
  const mode: DrmDisplayMode = {
    clock: r.mode_clock,
    hdisplay: r.mode_hdisplay,
    hsyncStart: r.mode_hsync_start,
    hsyncEnd: r.mode_hsync_end,
    htotal: r.mode_htotal,
    hskew: r.mode_hskew,
    vdisplay: r.mode_vdisplay,
    vsyncStart: r.mode_vsync_start,
    vsyncEnd: r.mode_vsync_end,
    vtotal: r.mode_vtotal,
    vscan: r.mode_vscan,
    vrefresh: r.mode_vrefresh,
    // Clearing picture aspect ratio bits from out flags
    flags: r.mode_flags & ~DRM_MODE_FLAG_PIC_AR_MASK,
    // Just ignore any bits we don't like.
    type: r.mode_type & DRM_MODE_TYPE_ALL,
    name: [...(r.mode_name ?? [])].slice(0, DRM_DISPLAY_MODE_LEN),
  };
  // HDMI_PICTURE_ASPECT_NONE, 4_3, 16_9, 64_27, 256_135; anything else is -EINVAL
  if ((r.mode_flags & DRM_MODE_FLAG_PIC_AR_MASK) >>> 19 > 4) return -EINVAL;
  out.mode = mode;
  // drm_mode_validate_driver() -> drm_mode_validate_basic()
  if (mode.flags & ~DRM_MODE_FLAG_ALL) return -EINVAL;
  if ((mode.flags & DRM_MODE_FLAG_3D_MASK) > DRM_MODE_FLAG_3D_MAX) return -EINVAL;
  if (mode.clock === 0) return -EINVAL;
  if (
    mode.hdisplay === 0 ||
    mode.hsyncStart < mode.hdisplay ||
    mode.hsyncEnd < mode.hsyncStart ||
    mode.htotal < mode.hsyncEnd
  )
    return -EINVAL;
  if (
    mode.vdisplay === 0 ||
    mode.vsyncStart < mode.vdisplay ||
    mode.vsyncEnd < mode.vsyncStart ||
    mode.vtotal < mode.vsyncEnd
  )
    return -EINVAL;
  return 0;
}

/**
 * Models drm_mode_convert_to_umode() into GETCRTC's reply.
 * Locking: none.
 * References: none.
 */
function drmModeConvertToUmode(r: DrmModeCrtc, mode: DrmDisplayMode): void {
  r.mode_clock = mode.clock;
  r.mode_hdisplay = mode.hdisplay;
  r.mode_hsync_start = mode.hsyncStart;
  r.mode_hsync_end = mode.hsyncEnd;
  r.mode_htotal = mode.htotal;
  r.mode_hskew = mode.hskew;
  r.mode_vdisplay = mode.vdisplay;
  r.mode_vsync_start = mode.vsyncStart;
  r.mode_vsync_end = mode.vsyncEnd;
  r.mode_vtotal = mode.vtotal;
  r.mode_vscan = mode.vscan;
  r.mode_vrefresh = mode.vrefresh;
  r.mode_flags = mode.flags;
  r.mode_type = mode.type;
  r.mode_name = [...mode.name, ...new Array(DRM_DISPLAY_MODE_LEN).fill(0)].slice(
    0,
    DRM_DISPLAY_MODE_LEN,
  );
}

/**
 * Models drm_framebuffer_check_src_coords(): -ENOSPC unless the source rectangle (16.16 fixed
 * point) lies inside the framebuffer.
 * Locking: none.
 * References: none.
 */
export function drmFramebufferCheckSrcCoords(
  srcX: number,
  srcY: number,
  srcW: number,
  srcH: number,
  fb: DrmFramebuffer,
): number {
  const fbWidth = fb.width * 65536;
  const fbHeight = fb.height * 65536;
  // Make sure source coordinates are inside the fb.
  if (srcW > fbWidth || srcX > fbWidth - srcW || srcH > fbHeight || srcY > fbHeight - srcH)
    return -ENOSPC_ERRNO;
  return 0;
}

/** ENOSPC (asm-generic/errno-base.h). */
const ENOSPC_ERRNO = 28;

/**
 * Models drm_crtc_check_viewport(): -ENOSPC unless the mode's visible area at (x, y) fits in the
 * framebuffer (no rotation is modeled).
 * Locking: none.
 * References: none.
 */
export function drmCrtcCheckViewport(
  _crtc: DrmCrtc,
  x: number,
  y: number,
  mode: DrmDisplayMode,
  fb: DrmFramebuffer,
): number {
  // drm_mode_get_hv_timing()
  const hdisplay = mode.hdisplay;
  const vdisplay = mode.vdisplay;
  return drmFramebufferCheckSrcCoords(x * 65536, y * 65536, hdisplay * 65536, vdisplay * 65536, fb);
}

/**
 * Models drm_mode_getcrtc(): GETCRTC: the primary plane's framebuffer id (0 for none) and source
 * position, then the mode if the CRTC is enabled. -EOPNOTSUPP without DRIVER_MODESET, -ENOENT for
 * an unknown id.
 * Locking: takes connection_mutex twice (standing for plane->mutex, then crtc->mutex).
 * References: none.
 */
export async function drmModeGetcrtc(
  dev: DrmDevice,
  r: DrmModeCrtc,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  const crtc = await drmCrtcFind(dev, file, r.crtc_id);
  if (!crtc) return -ENOENT;
  const plane = crtc.primary;
  r.gamma_size = crtc.gammaSize;
  const lock = dev.modeConfig.connectionMutex;
  await lock.lock(); // drm_modeset_lock(&plane->mutex, NULL)
  const planeState = plane.state!;
  planeState.checkAccess("drm_mode_getcrtc");
  r.fb_id = planeState.fb ? planeState.fb.base.id : 0;
  r.x = Math.floor(planeState.srcX / 65536);
  r.y = Math.floor(planeState.srcY / 65536);
  await lock.unlock();
  await lock.lock(); // drm_modeset_lock(&crtc->mutex, NULL)
  const crtcState = crtc.state!;
  crtcState.checkAccess("drm_mode_getcrtc");
  if (crtcState.enable && crtcState.mode) {
    drmModeConvertToUmode(r, crtcState.mode);
    r.mode_valid = 1;
  } else {
    r.mode_valid = 0;
  }
  // !file_priv->aspect_ratio_allowed (the client cap is not modeled: never set)
  r.mode_flags &= ~DRM_MODE_FLAG_PIC_AR_MASK;
  await lock.unlock();
  return 0;
}

/**
 * Models drm_mode_setcrtc(): SETCRTC (DRM_MASTER). -EOPNOTSUPP without DRIVER_MODESET, -ERANGE
 * for x or y above 0xffff, -ENOENT for an unknown CRTC; then under DRM_MODESET_LOCK_ALL_BEGIN():
 * with `mode_valid`, the framebuffer (`fb_id` -1: the one shown, -EINVAL if none; else a lookup,
 * -ENOENT), the mode (-ENOMEM, -EINVAL for aspect-ratio flags, drm_mode_convert_umode()'s
 * errno), the plane's formats (-EINVAL) and the viewport (-ENOSPC); -EINVAL for a mode without
 * connectors, connectors without a mode, more connectors than the device has; each connector id
 * read from `set_connectors_ptr` (-EFAULT) and looked up (-ENOENT); then ->set_config. Every
 * reference taken is dropped at the end.
 * Locking: takes connection_mutex (DRM_MODESET_LOCK_ALL_BEGIN()).
 * References: the lookup's framebuffer and connector references, dropped at the end; the new
 * plane state takes its own.
 */
export async function drmModeSetcrtc(
  dev: DrmDevice,
  r: DrmModeCrtc,
  file: DrmFile,
): Promise<number> {
  const config = dev.modeConfig;
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  // Universal plane src offsets are only 16.16, prevent havoc for drivers using universal plane
  // code internally.
  if (r.x & 0xffff0000 || r.y & 0xffff0000) return -ERANGE;
  const crtc = await drmCrtcFind(dev, file, r.crtc_id);
  if (!crtc) return -ENOENT;
  const plane = crtc.primary;
  // allow disabling with the primary plane leased
  if (r.mode_valid && !(await drmLeaseHeld(file, plane.base.id))) return -EACCES;
  let ret = await drmModesetLockAllBegin(dev);
  let fb: DrmFramebuffer | null = null;
  let modeAlloc: DrmModeAlloc | null = null;
  const connectorSet: DrmConnector[] = [];
  out: {
    if (r.mode_valid) {
      // If we have a mode we need a framebuffer. If we pass -1, set the mode with the currently
      // bound fb.
      if (r.fb_id === 0xffff_ffff) {
        const oldFb = plane.state!.fb;
        if (!oldFb) {
          ret = -EINVAL;
          break out;
        }
        fb = oldFb;
        // Make refcounting symmetric with the lookup path.
        await drmFramebufferGet(fb);
      } else {
        fb = await drmFramebufferLookup(dev, file, r.fb_id);
        if (!fb) {
          ret = -ENOENT;
          break out;
        }
      }
      // drm_mode_create()
      const m = kmalloc(drmDisplayModeCache, () => new DrmModeAlloc());
      if (isErr(m)) {
        ret = -ENOMEM;
        break out;
      }
      modeAlloc = m;
      // !file_priv->aspect_ratio_allowed (the client cap is not modeled: never set)
      if ((r.mode_flags & DRM_MODE_FLAG_PIC_AR_MASK) !== 0) {
        ret = -EINVAL;
        break out;
      }
      ret = drmModeConvertUmode(modeAlloc, r);
      if (ret) break out;
      // Check whether the primary plane supports the fb pixel format. Drivers not implementing
      // the universal planes API use a default formats list, and expect all fb's to be OK.
      if (!plane.formatDefault && !planeHasFormat(plane, fb)) {
        ret = -EINVAL;
        break out;
      }
      ret = drmCrtcCheckViewport(crtc, r.x, r.y, modeAlloc.mode!, fb);
      if (ret) break out;
    }
    if (r.count_connectors === 0 && modeAlloc) {
      ret = -EINVAL; // Count connectors is 0 but mode set
      break out;
    }
    if (r.count_connectors > 0 && (!modeAlloc || !fb)) {
      ret = -EINVAL; // Count connectors is %d but no mode or fb set
      break out;
    }
    if (r.count_connectors > 0) {
      // Avoid unbounded kernel memory allocation
      if (r.count_connectors > config.numConnector) {
        ret = -EINVAL;
        break out;
      }
      // kmalloc_array(count_connectors, sizeof(struct drm_connector *))
      if (shouldFail("kmalloc_array(connector_set)")) {
        ret = -ENOMEM;
        break out;
      }
      for (let i = 0; i < r.count_connectors; i++) {
        const outId = await copyU32sFromUser(r.set_connectors_ptr + 4 * i, 1);
        if (typeof outId === "number") {
          ret = -EFAULT;
          break out;
        }
        const connector = await drmConnectorLookup(dev, file, outId[0]!);
        if (!connector) {
          ret = -ENOENT;
          break out;
        }
        connectorSet.push(connector);
      }
    }
    const set: DrmModeSet = {
      crtc,
      x: r.x,
      y: r.y,
      mode: modeAlloc?.mode ?? null,
      connectors: connectorSet,
      fb,
    };
    ret = await crtc.funcs.setConfig(set);
  }
  if (fb) await drmFramebufferPut(fb);
  for (const connector of connectorSet) await drmConnectorPut(connector);
  // drm_mode_destroy()
  if (modeAlloc) kfree(modeAlloc);
  return drmModesetLockAllEnd(dev, ret);
}

/** drm_plane_has_format() of the framebuffer's format and modifier. */
function planeHasFormat(plane: DrmPlane, fb: DrmFramebuffer): boolean {
  return plane.formatTypes.includes(fb.format!.format);
}

/**
 * Models __drm_atomic_helper_crtc_duplicate_state() into a new kmalloc()ed state
 * (drm_atomic_helper_crtc_duplicate_state()): a copy of the current state without its event,
 * commit or change flags. Null when the allocation fails.
 * Locking: connection_mutex held (the CRTC's lock).
 * References: none taken (modes are copied by value).
 */
export async function drmAtomicHelperCrtcDuplicateState(
  crtc: DrmCrtc,
): Promise<DrmCrtcState | null> {
  lockdepAssertHeld(crtc.dev.modeConfig.connectionMutex);
  if (warnOn(!crtc.state, "drm_atomic_helper_crtc_duplicate_state: no state")) return null;
  const state = kmalloc(drmCrtcStateCache, () => new DrmCrtcState());
  if (isErr(state)) return null;
  const cur = crtc.state!;
  cur.checkAccess("__drm_atomic_helper_crtc_duplicate_state");
  state.crtc = crtc;
  state.enable = cur.enable;
  state.active = cur.active;
  state.mode = cur.mode ? { ...cur.mode } : null;
  state.planeMask = cur.planeMask;
  state.noVblank = cur.noVblank;
  state.asyncFlip = cur.asyncFlip;
  // mode_changed, active_changed, connectors_changed, event and commit start cleared
  return state;
}

/**
 * Models drm_atomic_helper_crtc_destroy_state() (__drm_atomic_helper_crtc_destroy_state() and
 * kfree()): a state that still holds the commit's extra reference for an event the commit
 * tail never took (abort_completion) drops it, frees the commit's own event if it still has one
 * and drops the state's commit reference.
 * Locking: none; the state is no longer reachable.
 * References: drops the state's commit reference(s).
 */
export async function drmAtomicHelperCrtcDestroyState(
  _crtc: DrmCrtc,
  state: DrmCrtcState,
): Promise<void> {
  const commit = state.commit;
  if (commit) {
    // In the event that a non-blocking commit returns -ERESTARTSYS before the commit_tail work
    // is queued, we will have an extra reference to the commit object. Release it, if the
    // event has not been consumed by the worker.
    //
    // state->event may be freed, so we can't directly look at state->event->base.completion.
    if (state.event && commit.abortCompletion) await drmCrtcCommitPut(commit);
    if (commit.event) kfree(commit.event);
    commit.event = null;
    await drmCrtcCommitPut(commit);
  }
  kfree(state);
}

/**
 * Models drm_atomic_helper_crtc_reset(): the CRTC's first state, off.
 * Locking: none (at load).
 * References: the CRTC owns it.
 */
export async function drmAtomicHelperCrtcReset(crtc: DrmCrtc): Promise<void> {
  if (crtc.state) await crtc.funcs.atomicDestroyState(crtc, crtc.state);
  const state = kmalloc(drmCrtcStateCache, () => new DrmCrtcState());
  if (isErr(state)) {
    crtc.state = null;
    return;
  }
  state.crtc = crtc;
  crtc.state = state;
  kmemleakReferenced(state, true);
}
