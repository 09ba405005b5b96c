/**
 * KMS framebuffers (drivers/gpu/drm/drm_framebuffer.c, include/drm/drm_framebuffer.h of Linux
 * v6.18): DRM_IOCTL_MODE_ADDFB2, legacy ADDFB, RMFB, CLOSEFB (v6.8+), GETFB, GETFB2 and DIRTYFB,
 * the framebuffer's mode object and refcount, and its reaping when the file that created it is
 * closed (drm_fb_release()). ADDFB, CLOSEFB, GETFB, GETFB2 and DIRTYFB read the same in v6.12.19
 * and v6.18.35.
 *
 * Who holds what:
 * - `base.refcount` (a kref, released by drm_framebuffer_free()): the creator until it gives
 *   the reference to the file's `fbs` list (ADDFB2), each lookup, and in the kernel each plane
 *   state that scans it out (planes are not modeled). The mode object idr holds none.
 * - `obj[i]`: one GEM object reference per plane (taken by the driver's fb_create, e.g.
 *   drm_gem_fb_init_with_funcs()'s lookup, dropped by its ->destroy).
 * - a GEM handle reference per plane whose object had a handle at drm_framebuffer_init()
 *   (`DRM_FRAMEBUFFER_HAS_HANDLE_REF(i)` in `internalFlags`), dropped by
 *   drm_framebuffer_cleanup(): f6bfc9afc751 ("drm/framebuffer: Acquire internal references on
 *   GEM handles", v6.16), so that the last GEM_CLOSE of userspace does not release the flink
 *   name and obj->dma_buf of an object a framebuffer still uses; handle_count then exceeds the
 *   handles userspace has. Toggle `gem.fb-without-handle-ref` brings back the kernels before it.
 *
 * Locking: the file's `fbs` list under its `fbs_lock`; the device's fb list under
 * `mode_config.fb_lock`; ids under `mode_config.idr_mutex` (drm-mode-object.ts).
 */

import {
  accessVm,
  CAP_SYS_ADMIN,
  capable,
  currentMm,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOENT,
  ENOMEM,
  ENOSYS,
  EOPNOTSUPP,
  ERANGE,
  type Errno,
  flushWork,
  isErr,
  KmemCache,
  SlabObject,
  scheduleWork,
  shouldFail,
  WorkStruct,
} from "@primetime/kernel";
import { point, RESOLVED, toggleEnabled, warnOn } from "@primetime/sim";
import {
  DRM_CLIP_RECT_SIZE,
  DRM_FORMAT_INVALID,
  DRM_MODE_FB_DIRTY_ANNOTATE_COPY,
  DRM_MODE_FB_DIRTY_FLAGS,
  DRM_MODE_FB_DIRTY_MAX_CLIPS,
  DRM_MODE_FB_INTERLACED,
  DRM_MODE_FB_MODIFIERS,
} from "@primetime/uapi";
import {
  drmAtomicCommit,
  drmAtomicGetNewCrtcState,
  drmAtomicGetPlaneState,
  drmAtomicSetCrtcForPlane,
  drmAtomicSetFbForPlane,
  drmAtomicSetModeForCrtc,
  drmAtomicStateAlloc,
  drmAtomicStatePut,
} from "./drm-atomic.js";
import { drmIsCurrentMaster } from "./drm-auth.js";
import type { DrmDevice } from "./drm-device.js";
import { DRIVER_MODESET, drmCoreCheckFeature } from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";
import {
  type DrmFormatInfo,
  drmDriverLegacyFbFormat,
  drmFormatInfo,
  drmFormatInfoBpp,
  drmFormatInfoMinPitch,
  drmFormatInfoPlaneHeight,
  drmFormatInfoPlaneWidth,
} from "./drm-fourcc.js";
import {
  drmGemHandleCreate,
  drmGemHandleDelete,
  drmGemObjectHandleGetIfExistsUnlocked,
  drmGemObjectHandlePutUnlocked,
  type GemObject,
} from "./drm-gem.js";
import {
  DRM_MODE_OBJECT_FB,
  DrmModeObject,
  drmModeObjectAdd,
  drmModeObjectFind,
  drmModeObjectGet,
  drmModeObjectPut,
  drmModeObjectRegister,
  drmModeObjectUnregister,
} from "./drm-mode-object.js";
import { drmModesetLockAllBegin, drmModesetLockAllEnd } from "./drm-modeset-lock.js";
import { GEM_FB_WITHOUT_HANDLE_REF, GEM_REMOVE_FB_ENOMEM_WARN } from "./toggles.js";
import type {
  DrmClipRect,
  DrmModeClosefb,
  DrmModeFbCmd,
  DrmModeFbCmd2,
  DrmModeFbDirtyCmd,
  DrmModeRmfb,
} from "./uapi.js";

/** Models DRM_FORMAT_MAX_PLANES. */
export const DRM_FORMAT_MAX_PLANES = 4;

/** Models DRM_FRAMEBUFFER_HAS_HANDLE_REF(i): the framebuffer holds a handle reference of plane i. */
export function DRM_FRAMEBUFFER_HAS_HANDLE_REF(i: number): number {
  return 1 << i;
}

/** The slab cache of framebuffers (kzalloc'ed by the drivers' fb_create). */
export const drmFramebufferCache = new KmemCache("drm_framebuffer");

/** Models struct drm_framebuffer_funcs (the hooks in use). */
export interface DrmFramebufferFuncs {
  /**
   * Models ->destroy: the framebuffer's last reference is gone; drop what the driver holds, call
   * drmFramebufferCleanup() and free it.
   */
  destroy(fb: DrmFramebuffer): Promise<void>;
  /**
   * Models ->create_handle (optional): a new GEM handle of `file` for the framebuffer's buffer
   * (GETFB, and GETFB2 of a framebuffer without `obj[0]`); returns the handle or a negative
   * errno, as drm_gem_handle_create() does.
   */
  createHandle?(fb: DrmFramebuffer, file: DrmFile): Promise<number>;
  /**
   * Models ->dirty (optional): flush `numClips` damaged rectangles of the framebuffer (with
   * DRM_MODE_FB_DIRTY_ANNOTATE_COPY `clips` holds twice as many, in pairs); `clips` is null
   * when userspace passed none (the whole framebuffer). 0 or a negative errno. DIRTYFB calls it
   * holding a lookup reference of `fb`.
   */
  dirty?(
    fb: DrmFramebuffer,
    file: DrmFile | null,
    flags: number,
    color: number,
    clips: readonly DrmClipRect[] | null,
    numClips: number,
  ): Promise<number>;
}

/**
 * Models struct drm_framebuffer.
 * Locking: `filpList` under the owning file's fbs_lock; the device's list under fb_lock.
 * References: see the file comment.
 */
export class DrmFramebuffer extends SlabObject {
  /** Models dev. */
  dev!: DrmDevice;
  /** Models base: the mode object (id, refcount). */
  readonly base: DrmModeObject;
  /** Models format. */
  format: DrmFormatInfo | null = null;
  /** Models funcs. */
  funcs: DrmFramebufferFuncs | null = null;
  /** Models pitches[]. */
  readonly pitches = [0, 0, 0, 0];
  /** Models offsets[]. */
  readonly offsets = [0, 0, 0, 0];
  /** Models modifier. */
  modifier = 0;
  /** Models width, height. */
  width = 0;
  height = 0;
  /** Models flags (DRM_MODE_FB_*). */
  flags = 0;
  /** Models internal_flags (DRM_FRAMEBUFFER_HAS_HANDLE_REF()). */
  internalFlags = 0;
  /** Models obj[]: the GEM objects backing the planes (each holding an object reference). */
  readonly obj: (GemObject | null)[] = [null, null, null, null];
  /**
   * Models filp_head: the list the framebuffer is on (its file's `fbs`, or the list of an rmfb
   * work), null when list_empty().
   */
  filpList: DrmFramebuffer[] | null = null;

  constructor() {
    super();
    this.base = new DrmModeObject(this);
  }
}

/** Models list_del_init(&fb->filp_head). */
function filpListDel(fb: DrmFramebuffer): void {
  const list = fb.filpList;
  if (list) list.splice(list.indexOf(fb), 1);
  fb.filpList = null;
}

/** Models list_add_tail(&fb->filp_head, list). */
function filpListAdd(fb: DrmFramebuffer, list: DrmFramebuffer[]): void {
  list.push(fb);
  fb.filpList = list;
}

/**
 * Models list_add(&fb->filp_head, list): at the head, so that list_for_each_entry() (RMFB's
 * search, drm_fb_release()) meets the newest framebuffer first.
 */
function filpListAddHead(fb: DrmFramebuffer, list: DrmFramebuffer[]): void {
  list.unshift(fb);
  fb.filpList = list;
}

/**
 * Models drm_framebuffer_read_refcount() (kref_read()).
 * Locking: none (a snapshot).
 * References: none.
 */
export function drmFramebufferReadRefcount(fb: DrmFramebuffer): number {
  return fb.base.refcount.read();
}

/**
 * Models drm_framebuffer_get().
 * Locking: none; the caller holds a reference.
 * References: takes one.
 */
export async function drmFramebufferGet(fb: DrmFramebuffer): Promise<void> {
  await drmModeObjectGet(fb.base);
}

/**
 * Models drm_framebuffer_put(): the last put runs drm_framebuffer_free().
 * Locking: none.
 * References: drops one.
 */
export async function drmFramebufferPut(fb: DrmFramebuffer): Promise<void> {
  await drmModeObjectPut(fb.base);
}

/**
 * Models drm_framebuffer_free(), the kref release: unregisters the id if it is still there
 * (the idr holds a weak reference) and calls ->destroy.
 * Locking: none.
 * References: the framebuffer's last is gone.
 */
async function drmFramebufferFree(fb: DrmFramebuffer): Promise<void> {
  const dev = fb.dev;
  warnOn(fb.filpList !== null, `drm_framebuffer_free(${fb.name}): still on a file's fbs list`);
  await drmModeObjectUnregister(dev, fb.base);
  await fb.funcs!.destroy(fb);
}

/**
 * Models drm_framebuffer_init(): publishes a framebuffer the driver filled in (format, size,
 * `obj[]`): takes a GEM handle reference of each plane's object that has a handle (recording
 * it in `internalFlags`), gives it an id and adds it to the device's list. -EINVAL without a
 * format or for another device; the id allocation's errno (the handle references are dropped
 * again).
 *
 * Toggle `gem.fb-without-handle-ref`: no handle reference is taken (the code before
 * f6bfc9afc751 and 5307dce878d4): the framebuffer holds only the objects.
 *
 * Locking: takes object_name_lock (per plane), idr_mutex and fb_lock in turn.
 * References: the framebuffer's kref starts at one (the caller's); a handle reference per plane.
 */
export async function drmFramebufferInit(
  dev: DrmDevice,
  fb: DrmFramebuffer,
  funcs: DrmFramebufferFuncs,
): Promise<number> {
  if (warnOn(fb.dev !== dev || !fb.format, "drm_framebuffer_init: bad device or format"))
    return -EINVAL;
  const numPlanes = fb.format!.numPlanes;
  if (!toggleEnabled(GEM_FB_WITHOUT_HANDLE_REF.name)) {
    for (let i = 0; i < numPlanes; i++) {
      if (warnOn((fb.internalFlags & DRM_FRAMEBUFFER_HAS_HANDLE_REF(i)) !== 0, "handle ref set"))
        fb.internalFlags &= ~DRM_FRAMEBUFFER_HAS_HANDLE_REF(i);
      const obj = fb.obj[i];
      if (obj) {
        const exists = await drmGemObjectHandleGetIfExistsUnlocked(obj);
        if (exists) fb.internalFlags |= DRM_FRAMEBUFFER_HAS_HANDLE_REF(i);
      }
    }
  }
  fb.filpList = null;
  fb.funcs = funcs;
  const ret = await drmModeObjectAdd(dev, fb.base, DRM_MODE_OBJECT_FB, false, () =>
    drmFramebufferFree(fb),
  );
  if (ret) {
    for (let i = 0; i < numPlanes; i++) {
      if (fb.internalFlags & DRM_FRAMEBUFFER_HAS_HANDLE_REF(i)) {
        await drmGemObjectHandlePutUnlocked(fb.obj[i]!);
        fb.internalFlags &= ~DRM_FRAMEBUFFER_HAS_HANDLE_REF(i);
      }
    }
    return ret;
  }
  const config = dev.modeConfig;
  const fbLockTaken = config.fbLock.lock();
  if (fbLockTaken !== RESOLVED) await fbLockTaken;
  config.numFb++;
  config.fbList.add(fb);
  config.fbLock.unlockNow();
  await drmModeObjectRegister(dev, fb.base);
  return 0;
}

/**
 * Models drm_framebuffer_cleanup(): drops the handle references drmFramebufferInit() took and
 * takes the framebuffer off the device's list. Drivers call it from ->destroy.
 * Locking: takes object_name_lock (per plane) and fb_lock.
 * References: drops the framebuffer's handle references.
 */
export async function drmFramebufferCleanup(fb: DrmFramebuffer): Promise<void> {
  const dev = fb.dev;
  for (let i = 0; i < fb.format!.numPlanes; i++) {
    if (fb.internalFlags & DRM_FRAMEBUFFER_HAS_HANDLE_REF(i))
      await drmGemObjectHandlePutUnlocked(fb.obj[i]!);
  }
  const config = dev.modeConfig;
  const fbLockTaken2 = config.fbLock.lock();
  if (fbLockTaken2 !== RESOLVED) await fbLockTaken2;
  config.fbList.delete(fb);
  config.numFb--;
  config.fbLock.unlockNow();
}

/**
 * Models drm_framebuffer_lookup(): the framebuffer of `id` with a reference, or null.
 * Locking: takes idr_mutex.
 * References: returns one, which the caller puts.
 */
export async function drmFramebufferLookup(
  dev: DrmDevice,
  file: DrmFile | null,
  id: number,
): Promise<DrmFramebuffer | null> {
  const obj = await drmModeObjectFind(dev, file, id, DRM_MODE_OBJECT_FB);
  return obj ? (obj.owner as DrmFramebuffer) : null;
}

/**
 * Models atomic_remove_fb(): under every modeset lock, each plane whose current state shows
 * `fb` is turned off in a new atomic state (no CRTC, no framebuffer; on the second try, after
 * an -EINVAL, its CRTC too if it is the CRTC's primary plane), which is committed (blocking).
 * On a device without planes the loop finds none. 0 or the errno of the allocation or commit.
 * Locking: takes connection_mutex (drm_modeset_lock_all_ctx()).
 * References: the commit's old plane states drop their framebuffer references when the state
 * is put.
 */
async function atomicRemoveFb(fb: DrmFramebuffer): Promise<number> {
  const dev = fb.dev;
  let disableCrtcs = false;
  for (;;) {
    let ret = 0;
    const state = await drmAtomicStateAlloc(dev);
    if (!state) {
      ret = -ENOMEM;
    } else {
      await drmModesetLockAllBegin(dev);
      let planeMask = 0;
      unlock: {
        for (const plane of dev.modeConfig.planeList) {
          if (plane.state!.fb !== fb) continue;
          // Disabling [PLANE] because [FB] is removed
          const planeState = await drmAtomicGetPlaneState(state, plane);
          if (isErr(planeState)) {
            ret = planeState;
            break unlock;
          }
          if (disableCrtcs && planeState.crtc!.primary === plane) {
            // Disabling [CRTC] because [FB] is removed
            const crtcState = drmAtomicGetNewCrtcState(state, planeState.crtc!)!;
            crtcState.active = false;
            ret = drmAtomicSetModeForCrtc(crtcState, null);
            if (ret) break unlock;
          }
          await drmAtomicSetFbForPlane(planeState, null);
          ret = await drmAtomicSetCrtcForPlane(planeState, null);
          if (ret) break unlock;
          planeMask |= 1 << plane.index;
        }
        if (planeMask) ret = await drmAtomicCommit(state);
      }
      await drmAtomicStatePut(state);
      await drmModesetLockAllEnd(dev, ret);
    }
    if (ret === -EINVAL && !disableCrtcs) {
      disableCrtcs = true;
      continue;
    }
    return ret;
  }
}

/**
 * Models drm_framebuffer_remove(): takes the framebuffer out of use and drops the caller's
 * reference. If others hold references (planes scanning it out), it first turns those planes
 * off (atomic_remove_fb(): every driver of the model is atomic; a failure WARNs). A failed
 * atomic_remove_fb() leaves the planes as they were: they keep showing the framebuffer (and
 * holding it) until a later commit replaces it.
 *
 * Known window `gem.remove-fb-enomem-warn` (KNOWN-WINDOWS.md): an allocation failure inside
 * atomic_remove_fb() (-ENOMEM) is enough for the WARN, which userspace reaches with RMFB or
 * close() of a framebuffer on screen. Its fix switch prints -ENOMEM with drm_err() (the
 * device's `drmErrors`) instead; any other errno keeps the WARN.
 * Locking: none held.
 * References: drops the caller's.
 */
export async function drmFramebufferRemove(fb: DrmFramebuffer | null): Promise<void> {
  if (!fb) return;
  warnOn(fb.filpList !== null, `drm_framebuffer_remove(${fb.name}): still on a fbs list`);
  // drm ABI mandates that we remove any deleted framebuffers from active usage. But since most
  // sane clients only remove framebuffers they no longer need, try to optimize this away.
  if (drmFramebufferReadRefcount(fb) > 1) {
    await point(`atomic_remove_fb(${fb.name})`);
    if (fb.dev.modeConfig.planeList.length > 0) {
      const ret = await atomicRemoveFb(fb);
      if (ret === -ENOMEM && toggleEnabled(GEM_REMOVE_FB_ENOMEM_WARN.name))
        fb.dev.drmErrors.push(`atomic remove_fb failed with ${ret}`);
      else warnOn(ret !== 0, `atomic remove_fb failed with ${ret}`);
    }
  }
  await drmFramebufferPut(fb);
}

/**
 * Models drm_helper_mode_fill_fb_struct() (drm_modeset_helper.c): copies the request's size,
 * format, pitches, offsets and modifier into the framebuffer.
 * Locking: none; the framebuffer is not yet visible.
 * References: none.
 */
export function drmHelperModeFillFbStruct(
  dev: DrmDevice,
  fb: DrmFramebuffer,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
): void {
  fb.dev = dev;
  fb.format = info;
  fb.width = cmd.width;
  fb.height = cmd.height;
  for (let i = 0; i < DRM_FORMAT_MAX_PLANES; i++) {
    fb.pitches[i] = cmd.pitches[i]!;
    fb.offsets[i] = cmd.offsets[i]!;
  }
  fb.modifier = cmd.modifier[0]!;
  fb.flags = cmd.flags;
}

const UINT_MAX = 0xffff_ffff;

/**
 * Models framebuffer_check(): validates an ADDFB2 request against its format: -EINVAL for an
 * unknown format, a zero width or height, a plane without handle, a pitch below the plane's
 * minimum, modifiers without DRM_MODE_FB_MODIFIERS or differing between planes, and (with
 * DRM_MODE_FB_MODIFIERS) anything set for planes the format does not have; -ERANGE when a
 * plane's size overflows 32 bits.
 * Locking: none.
 * References: none.
 */
function framebufferCheck(_dev: DrmDevice, r: DrmModeFbCmd2): number {
  // check if the format is supported at all
  const info = drmFormatInfo(r.pixel_format);
  if (!info) return -EINVAL;
  if (r.width === 0) return -EINVAL;
  if (r.height === 0) return -EINVAL;
  // now let the driver pick its own format info (no driver of the model overrides it)
  for (let i = 0; i < info.numPlanes; i++) {
    const width = drmFormatInfoPlaneWidth(info, r.width, i);
    const height = drmFormatInfoPlaneHeight(info, r.height, i);
    const minPitch = drmFormatInfoMinPitch(info, i, width);
    if (!r.handles[i]) return -EINVAL; // no buffer object handle for plane
    if (minPitch > UINT_MAX) return -ERANGE;
    if (height * r.pitches[i]! + r.offsets[i]! > UINT_MAX) return -ERANGE;
    if (r.pitches[i]! < minPitch) return -EINVAL; // bad pitch
    if (r.modifier[i] && !(r.flags & DRM_MODE_FB_MODIFIERS)) return -EINVAL;
    if (r.flags & DRM_MODE_FB_MODIFIERS && r.modifier[i] !== r.modifier[0]) return -EINVAL;
  }
  for (let i = info.numPlanes; i < DRM_FORMAT_MAX_PLANES; i++) {
    if (r.modifier[i]) return -EINVAL; // non-zero modifier for unused plane
    // Pre-FB_MODIFIERS userspace didn't clear the structs properly.
    if (!(r.flags & DRM_MODE_FB_MODIFIERS)) continue;
    if (r.handles[i]) return -EINVAL; // buffer object handle for unused plane
    if (r.pitches[i]) return -EINVAL; // non-zero pitch for unused plane
    if (r.offsets[i]) return -EINVAL; // non-zero offset for unused plane
  }
  return 0;
}

/**
 * Models drm_internal_framebuffer_create(): checks the request (flags, the device's size
 * limits, modifiers, framebuffer_check()) and calls the driver's ->fb_create. Returns the
 * framebuffer with one reference or a negative errno (-EINVAL for bad input).
 * Locking: none held.
 * References: returns one.
 */
export async function drmInternalFramebufferCreate(
  dev: DrmDevice,
  r: DrmModeFbCmd2,
  file: DrmFile,
): Promise<DrmFramebuffer | Errno> {
  const config = dev.modeConfig;
  if (r.flags & ~(DRM_MODE_FB_INTERLACED | DRM_MODE_FB_MODIFIERS)) return -EINVAL as Errno;
  if (config.minWidth > r.width || r.width > config.maxWidth) return -EINVAL as Errno;
  if (config.minHeight > r.height || r.height > config.maxHeight) return -EINVAL as Errno;
  if (r.flags & DRM_MODE_FB_MODIFIERS && config.fbModifiersNotSupported) return -EINVAL as Errno;
  const ret = framebufferCheck(dev, r);
  if (ret) return ret as Errno;
  const info = drmFormatInfo(r.pixel_format)!;
  if (!config.funcs) return -EINVAL as Errno;
  return config.funcs.fbCreate(dev, file, info, r);
}

/**
 * Models drm_mode_addfb2() / drm_mode_addfb2_ioctl(): ADDFB2. -EOPNOTSUPP without
 * DRIVER_MODESET; otherwise a new framebuffer whose id is returned in `fb_id` and whose
 * reference is given to the file's `fbs` list (list_add(): at its head, so drm_fb_release()
 * reaps the newest first).
 * Locking: takes the file's fbs_lock.
 * References: the file's list keeps the creation reference.
 */
export async function drmModeAddfb2Ioctl(
  dev: DrmDevice,
  r: DrmModeFbCmd2,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  const fb = await drmInternalFramebufferCreate(dev, r, file);
  if (isErr(fb)) return fb;
  r.fb_id = fb.base.id;
  // Transfer ownership to the filp for reaping on close (list_add(): at the head)
  const fbsLockTaken = file.fbsLock.lock();
  if (fbsLockTaken !== RESOLVED) await fbsLockTaken;
  filpListAddHead(fb, file.fbs);
  file.fbsLock.unlockNow();
  return 0;
}

/**
 * Models drm_mode_addfb() / drm_mode_addfb_ioctl(): legacy ADDFB. -EOPNOTSUPP without
 * DRIVER_MODESET; -EINVAL for a (bpp, depth) pair drm_driver_legacy_fb_format() does not know;
 * otherwise drm_mode_addfb2() of a one-plane request (flags and modifiers 0) made of `width`,
 * `height`, `pitch` and `handle`, and `fb_id` is written back only on success.
 * Locking: as drm_mode_addfb2().
 * References: as drm_mode_addfb2(): the file's list keeps the creation reference.
 */
export async function drmModeAddfbIoctl(
  dev: DrmDevice,
  or: DrmModeFbCmd,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  const pixelFormat = drmDriverLegacyFbFormat(dev, or.bpp, or.depth);
  if (pixelFormat === DRM_FORMAT_INVALID) return -EINVAL; // bad {bpp, depth}
  // convert to new format and call new ioctl
  const r: DrmModeFbCmd2 = {
    fb_id: or.fb_id,
    width: or.width,
    height: or.height,
    pixel_format: pixelFormat,
    flags: 0,
    handles: [or.handle, 0, 0, 0],
    pitches: [or.pitch, 0, 0, 0],
    offsets: [0, 0, 0, 0],
    modifier: [0, 0, 0, 0],
  };
  const ret = await drmModeAddfb2Ioctl(dev, r, file);
  if (ret) return ret;
  or.fb_id = r.fb_id;
  return 0;
}

/**
 * Models drm_mode_closefb(): takes `fb` off the file's list and drops the list's reference.
 * -ENOENT if the file did not create it.
 * Locking: takes the file's fbs_lock.
 * References: drops the list's.
 */
async function drmModeClosefb(fb: DrmFramebuffer, file: DrmFile): Promise<number> {
  const fbsLockTaken2 = file.fbsLock.lock();
  if (fbsLockTaken2 !== RESOLVED) await fbsLockTaken2;
  const found = file.fbs.includes(fb);
  if (!found) {
    file.fbsLock.unlockNow();
    return -ENOENT;
  }
  filpListDel(fb);
  file.fbsLock.unlockNow();
  // Drop the reference that was stored in the fbs list
  await drmFramebufferPut(fb);
  return 0;
}

/** Models struct drm_mode_rmfb_work: a list of framebuffers removed from a worker. */
class DrmModeRmfbWork extends WorkStruct {
  readonly fbs: DrmFramebuffer[] = [];

  constructor() {
    super(async () => {
      await drmModeRmfbWorkFn(this);
    }, "drm_mode_rmfb_work_fn");
  }
}

/**
 * Models drm_mode_rmfb_work_fn(): removes each framebuffer of the work's list.
 * Locking: none held (a worker).
 * References: drops the reference each list entry carries.
 */
async function drmModeRmfbWorkFn(arg: DrmModeRmfbWork): Promise<void> {
  while (arg.fbs.length > 0) {
    const fb = arg.fbs[0]!;
    filpListDel(fb);
    await drmFramebufferRemove(fb);
  }
}

/**
 * Models drm_mode_rmfb() / drm_mode_rmfb_ioctl(): RMFB. -EOPNOTSUPP without DRIVER_MODESET,
 * -ENOENT for an id that is no framebuffer or one this file did not create; otherwise the
 * framebuffer leaves the file's list and is removed (from a worker if others still hold it,
 * since the removal may be interrupted).
 * Locking: takes the file's fbs_lock.
 * References: drops the file list's reference and the lookup's.
 */
export async function drmModeRmfbIoctl(
  dev: DrmDevice,
  arg: DrmModeRmfb,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  const fb = await drmFramebufferLookup(dev, file, arg.fb_id);
  if (!fb) return -ENOENT;
  const ret = await drmModeClosefb(fb, file);
  if (ret !== 0) {
    await drmFramebufferPut(fb);
    return ret;
  }
  // We now own the reference we picked up in drm_framebuffer_lookup.
  if (drmFramebufferReadRefcount(fb) > 1) {
    const work = new DrmModeRmfbWork();
    filpListAdd(fb, work.fbs);
    await scheduleWork(work);
    await flushWork(work);
  } else {
    await drmFramebufferPut(fb);
  }
  return 0;
}

/**
 * Models drm_fb_release(): the file is being closed: every framebuffer it created is removed
 * (those others still hold from a worker). No fbs_lock: nobody else can reach the list.
 * Locking: none held.
 * References: drops the list's reference of each.
 */
export async function drmFbRelease(file: DrmFile): Promise<void> {
  const work = new DrmModeRmfbWork();
  for (const fb of [...file.fbs]) {
    if (drmFramebufferReadRefcount(fb) > 1) {
      filpListDel(fb);
      filpListAdd(fb, work.fbs);
    } else {
      filpListDel(fb);
      // This drops the fpriv->fbs reference.
      await drmFramebufferPut(fb);
    }
  }
  if (work.fbs.length > 0) {
    await scheduleWork(work);
    await flushWork(work);
  }
}

/**
 * Models drm_mode_closefb_ioctl(): CLOSEFB (v6.8+; in v6.12 and v6.18). Like RMFB, but the
 * framebuffer is only taken off the file's list: planes still scanning it out keep it (none are
 * modeled). -EOPNOTSUPP without DRIVER_MODESET, -EINVAL for a non-zero `pad`, -ENOENT for an id
 * that is no framebuffer or one this file did not create.
 * Locking: takes idr_mutex (the lookup), then the file's fbs_lock.
 * References: drops the file list's reference and the lookup's.
 */
export async function drmModeClosefbIoctl(
  dev: DrmDevice,
  r: DrmModeClosefb,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  if (r.pad) return -EINVAL;
  const fb = await drmFramebufferLookup(dev, file, r.fb_id);
  if (!fb) return -ENOENT;
  const ret = await drmModeClosefb(fb, file);
  await drmFramebufferPut(fb);
  return ret;
}

/**
 * Models drm_mode_getfb(): GETFB, the size, depth, bpp and pitch of any framebuffer of the
 * device (not only the file's own: the lookup checks no owner), and a new GEM handle of its
 * buffer (->create_handle) for the current master or a CAP_SYS_ADMIN caller only: GETFB is
 * unprivileged, so any other file gets handle 0 and success. -EOPNOTSUPP without
 * DRIVER_MODESET, -ENOENT for an unknown id, -EINVAL for a multi-planar framebuffer (GETFB2's),
 * -ENODEV without ->create_handle, else the handle creation's errno.
 * Locking: takes idr_mutex (the lookup), master_mutex (drm_is_current_master()), then the
 * handle creation's object_name_lock and table_lock.
 * References: the lookup's, dropped at the end; a new handle holds a handle count.
 */
export async function drmModeGetfb(
  dev: DrmDevice,
  r: DrmModeFbCmd,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  const fb = await drmFramebufferLookup(dev, file, r.fb_id);
  if (!fb) return -ENOENT;
  let ret = 0;
  if (fb.format!.numPlanes > 1) {
    // Multi-planar framebuffers need getfb2.
    ret = -EINVAL;
  } else if (!fb.funcs!.createHandle) {
    ret = -ENODEV;
  } else {
    r.height = fb.height;
    r.width = fb.width;
    r.depth = fb.format!.depth;
    r.bpp = drmFormatInfoBpp(fb.format!, 0);
    r.pitch = fb.pitches[0]!;
    // GET_FB() is an unprivileged ioctl so we must not return a buffer-handle to non-master
    // processes!
    if (!(await drmIsCurrentMaster(file)) && !capable(CAP_SYS_ADMIN)) {
      r.handle = 0;
    } else {
      const handle = await fb.funcs!.createHandle(fb, file);
      if (handle < 0) ret = handle;
      else r.handle = handle;
    }
  }
  await drmFramebufferPut(fb);
  return ret;
}

/**
 * Models drm_mode_getfb2_ioctl(): GETFB2, the framebuffer's size, format, flags
 * (DRM_MODE_FB_MODIFIERS unless the device does not support modifiers), per-plane pitches,
 * offsets and modifiers, and for the current master or a CAP_SYS_ADMIN caller a new GEM handle per plane
 * (drm_gem_handle_create() of `obj[i]`, the same handle for a plane reusing an earlier plane's
 * object; ->create_handle for a framebuffer without `obj[0]`); any other file gets handles 0 and
 * success. On a failed handle creation every handle created so far is deleted again
 * (drm_gem_handle_delete(); on -ENODEV, reached before `handles[]` is cleared, the kernel
 * deletes the handles userspace passed in). -EINVAL (not -EOPNOTSUPP) without DRIVER_MODESET, -ENOENT for an
 * unknown id, -ENODEV for a framebuffer without `obj[0]` that is multi-planar or has no
 * ->create_handle.
 * Locking: takes idr_mutex (the lookup), master_mutex, then the handle creations' locks.
 * References: the lookup's, dropped at the end; each new handle holds a handle count.
 */
export async function drmModeGetfb2Ioctl(
  dev: DrmDevice,
  r: DrmModeFbCmd2,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EINVAL;
  const fb = await drmFramebufferLookup(dev, file, r.fb_id);
  if (!fb) return -ENOENT;
  let ret = 0;
  const info = fb.format!;
  // For multi-plane framebuffers, we require the driver to place the GEM objects directly in
  // the drm_framebuffer. For single-plane framebuffers, we can fall back to create_handle.
  if (!fb.obj[0] && (info.numPlanes > 1 || !fb.funcs!.createHandle)) {
    ret = -ENODEV;
  } else {
    r.height = fb.height;
    r.width = fb.width;
    r.pixel_format = info.format;
    r.flags = 0;
    if (!dev.modeConfig.fbModifiersNotSupported) r.flags |= DRM_MODE_FB_MODIFIERS;
    for (let i = 0; i < DRM_FORMAT_MAX_PLANES; i++) {
      r.handles[i] = 0;
      r.pitches[i] = 0;
      r.offsets[i] = 0;
      r.modifier[i] = 0;
    }
    for (let i = 0; i < info.numPlanes; i++) {
      r.pitches[i] = fb.pitches[i]!;
      r.offsets[i] = fb.offsets[i]!;
      if (!dev.modeConfig.fbModifiersNotSupported) r.modifier[i] = fb.modifier;
    }
    // GET_FB2() is an unprivileged ioctl: handles (0) only for non masters/root.
    if ((await drmIsCurrentMaster(file)) || capable(CAP_SYS_ADMIN)) {
      for (let i = 0; i < info.numPlanes; i++) {
        // If we reuse the same object for multiple planes, also return the same handle.
        for (let j = 0; j < i; j++) {
          if (fb.obj[i] === fb.obj[j]) {
            r.handles[i] = r.handles[j]!;
            break;
          }
        }
        if (r.handles[i]) continue;
        let handle: number;
        if (fb.obj[i]) {
          handle = await drmGemHandleCreate(file, fb.obj[i]!);
        } else {
          warnOn(i > 0, "drm_mode_getfb2_ioctl: create_handle for a plane > 0");
          handle = await fb.funcs!.createHandle!(fb, file);
        }
        if (handle < 0) {
          ret = handle;
          break;
        }
        r.handles[i] = handle;
      }
    }
  }
  if (ret !== 0) {
    // Delete any previously-created handles on failure. (On -ENODEV `handles[]` is still what
    // userspace passed in, and the kernel deletes those handles of the file all the same.)
    for (let i = 0; i < DRM_FORMAT_MAX_PLANES; i++) {
      if (r.handles[i]) await drmGemHandleDelete(file, r.handles[i]!);
      // Zero out any handles identical to the one we just deleted.
      for (let j = i + 1; j < DRM_FORMAT_MAX_PLANES; j++) {
        if (r.handles[j] === r.handles[i]) r.handles[j] = 0;
      }
    }
  }
  await drmFramebufferPut(fb);
  return ret;
}

/**
 * Models copy_from_user() of `count` struct drm_clip_rect at the user address `ptr` (the
 * current process's memory). The rectangles, or -EFAULT.
 * Locking: may fault (takes mmap_lock); no spinlock held.
 * References: none.
 */
async function copyClipsFromUser(ptr: number, count: number): Promise<DrmClipRect[] | number> {
  const mm = currentMm();
  if (!mm || !Number.isSafeInteger(ptr) || ptr <= 0) return -EFAULT;
  const bytes = await accessVm(mm, ptr, count * DRM_CLIP_RECT_SIZE, null);
  if (typeof bytes === "number") return -EFAULT;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => ({
    x1: view.getUint16(i * 8, true),
    y1: view.getUint16(i * 8 + 2, true),
    x2: view.getUint16(i * 8 + 4, true),
    y2: view.getUint16(i * 8 + 6, true),
  }));
}

/**
 * Models drm_mode_dirtyfb_ioctl(): DIRTYFB (DRM_MASTER in the ioctl table). -EOPNOTSUPP without
 * DRIVER_MODESET; -ENOENT for an id that is no framebuffer (any file's: the lookup checks no
 * owner); then, holding the lookup's reference: -EINVAL when exactly one of `num_clips` and
 * `clips_ptr` is zero, for DRM_MODE_FB_DIRTY_ANNOTATE_COPY with an odd count, for a count that
 * is negative as an int or above DRM_MODE_FB_DIRTY_MAX_CLIPS; -ENOMEM when the clips' kcalloc()
 * fails, -EFAULT when copying them fails; the framebuffer's ->dirty's result, or -ENOSYS
 * without one. Flags outside DRM_MODE_FB_DIRTY_FLAGS are masked off, not refused.
 * Locking: takes idr_mutex (the lookup); ->dirty takes what it takes.
 * References: the lookup's, dropped at the end.
 */
export async function drmModeDirtyfbIoctl(
  dev: DrmDevice,
  r: DrmModeFbDirtyCmd,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  const fb = await drmFramebufferLookup(dev, file, r.fb_id);
  if (!fb) return -ENOENT;
  const ret = await drmModeDirtyfbLocked(fb, r, file);
  await drmFramebufferPut(fb);
  return ret;
}

/**
 * The body of drm_mode_dirtyfb_ioctl() between its lookup and its drm_framebuffer_put() (its
 * out_err1/out_err2 labels).
 * Locking: none held.
 * References: the caller holds one of `fb`.
 */
async function drmModeDirtyfbLocked(
  fb: DrmFramebuffer,
  r: DrmModeFbDirtyCmd,
  file: DrmFile,
): Promise<number> {
  // int num_clips = r->num_clips: a u32 above INT_MAX is negative
  const numClips = r.num_clips | 0;
  const clipsPtr = r.clips_ptr;
  if (!numClips !== !clipsPtr) return -EINVAL;
  const flags = DRM_MODE_FB_DIRTY_FLAGS & r.flags;
  // If userspace annotates copy, clips must come in pairs
  if (flags & DRM_MODE_FB_DIRTY_ANNOTATE_COPY && numClips % 2 !== 0) return -EINVAL;
  let clips: DrmClipRect[] | null = null;
  if (numClips && clipsPtr) {
    if (numClips < 0 || numClips > DRM_MODE_FB_DIRTY_MAX_CLIPS) return -EINVAL;
    // kcalloc(num_clips, sizeof(*clips))
    if (shouldFail("kcalloc(drm_clip_rect)")) return -ENOMEM;
    const copied = await copyClipsFromUser(clipsPtr, numClips);
    if (typeof copied === "number") return -EFAULT;
    clips = copied;
  }
  if (fb.funcs!.dirty) return fb.funcs!.dirty(fb, file, flags, r.color, clips, numClips);
  return -ENOSYS;
}
