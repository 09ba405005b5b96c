/**
 * qxl's mode setting (drivers/gpu/drm/qxl/qxl_display.c of Linux v6.18): qxl_modeset_init()'s
 * mode_config (its limits and funcs), qxl_user_framebuffer_create(), the ->fb_create of ADDFB2,
 * which builds a GEM framebuffer with the core's helpers (drm_gem_fb_create_with_funcs()), and
 * qxl_framebuffer_surface_dirty(), the ->dirty of DIRTYFB (the same in v6.12.19 and v6.18.35).
 *
 * With CreateQxlOptions.crtcs (a registration option, 0 by default so that runs not asking for
 * it are unchanged; the kernel's qxl_num_crtc module parameter defaults to 4) the device also
 * scans out: qdev_crtc_init() registers each CRTC with its primary plane (qxl_create_plane(),
 * XRGB8888/ARGB8888, primary_helper_funcs) and qdev_output_init() a connector. The primary
 * plane's hooks: qxl_primary_atomic_check() (qxl_check_framebuffer(): -EINVAL on overflow,
 * -ENOMEM above vram_size), qxl_plane_prepare_fb() (qxl_prepare_shadow() for dumb buffers, then
 * qxl_bo_pin(): a TTM pin), qxl_plane_cleanup_fb() (unpin; the old shadow unpinned and put),
 * qxl_primary_atomic_update() (qxl_io_destroy_primary()/qxl_io_create_primary() with v6.18's
 * primary_bo GEM reference) and qxl_primary_atomic_disable(). Not modeled: cursor planes (the
 * core has none), encoders, the monitors config object (qxl_crtc_update_monitors_config() is
 * reduced to its primary_bo test and the max_allowed it sets, which qxl_prepare_shadow() reads),
 * qxl_draw_dirty_fb() (qxl_draw.c: the update's copy into the primary; a scheduling point in its
 * place), connector modes and hotplug.
 *
 * Model extension: mainline qxl imports no foreign dma-buf (->gem_prime_import_sg_table is
 * -ENOSYS, qxl-prime.ts), so a framebuffer's object is always a qxl bo there. The model's
 * imports are plain GEM objects (QxlImportObject); qxl_primary_atomic_check() refuses them
 * (-EINVAL) instead of taking gem_to_qxl_bo() of an object that is not one. A self-import (a
 * dma-buf of the same device) is the qxl bo itself and scans out.
 */

import {
  DRM_PLANE_TYPE_PRIMARY,
  type DrmAtomicState,
  type DrmClipRect,
  DrmConnector,
  DrmCrtc,
  type DrmCrtcFuncs,
  type DrmCrtcHelperFuncs,
  type DrmDevice,
  type DrmFile,
  type DrmFormatInfo,
  type DrmFramebuffer,
  type DrmFramebufferFuncs,
  type DrmModeConfigFuncs,
  type DrmModeFbCmd2,
  DrmPlane,
  type DrmPlaneFuncs,
  type DrmPlaneHelperFuncs,
  type DrmPlaneState,
  drmAtomicGetNewPlaneState,
  drmAtomicGetOldPlaneState,
  drmAtomicHelperCheck,
  drmAtomicHelperCommit,
  drmAtomicHelperCrtcDestroyState,
  drmAtomicHelperCrtcDuplicateState,
  drmAtomicHelperCrtcReset,
  drmAtomicHelperPageFlip,
  drmAtomicHelperPlaneDestroyState,
  drmAtomicHelperPlaneDuplicateState,
  drmAtomicHelperPlaneReset,
  drmAtomicHelperSetConfig,
  drmConnectorInit,
  drmCrtcInitWithPlanes,
  drmGemFbCreateHandle,
  drmGemFbCreateWithFuncs,
  drmGemFbDestroy,
  drmGemObjectGet,
  drmGemObjectPut,
  drmModesetLockAllBegin,
  drmModesetLockAllEnd,
  drmUniversalPlaneInit,
} from "@primetime/gem";
import { EINVAL, ENOMEM, type Errno, isErr, lockdepAssertHeld } from "@primetime/kernel";
import { bug, point, RESOLVED, toggleEnabled } from "@primetime/sim";
import { DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888 } from "@primetime/uapi";
import { qxlIoCreatePrimary, qxlIoDestroyPrimary } from "./qxl-cmd.js";
import { type QxlDevice, toQxl } from "./qxl-device.js";
import { QXL_GEM_DOMAIN_SURFACE } from "./qxl-drm-uapi.js";
import { SPICE_SURFACE_FMT_32_xRGB } from "./qxl-gem.js";
import {
  QxlBo,
  type QxlSurface,
  qxlBoCreate,
  qxlBoPin,
  qxlBoUnpin,
  toQxlBo,
} from "./qxl-object.js";
import {
  QXL_DISABLE_PRIMARY_SHADOW_CLEARED,
  QXL_PRIMARY_DESTROY_TWO_TAILS,
  QXL_PRIMARY_UPDATE_SHADOW_PUT,
  QXL_SHADOW_CLEANUP_VS_PREPARE,
} from "./toggles.js";

/**
 * Models qxl_framebuffer_surface_dirty(): under DRM_MODESET_LOCK_ALL_BEGIN() (connection_mutex,
 * the model's one modeset lock), plane 0's bo's `is_primary` (its shadow's if it has one) says
 * whether the framebuffer is the primary surface; if not, the call does nothing. Only the
 * primary surface (a device with CRTCs showing it) reaches qxl_draw_dirty_fb() (a release, the
 * bo reserved with its clips bo, a draw command), which is not modeled: a scheduling point in
 * its place. It returns 0 whatever happens, as the kernel does (the lock macro's `ret` is
 * dropped).
 * Locking: takes connection_mutex.
 * References: the caller's lookup reference of `fb`, whose `obj[0]` reference keeps the bo.
 */
export async function qxlFramebufferSurfaceDirty(
  fb: DrmFramebuffer,
  _file: DrmFile | null,
  _flags: number,
  _color: number,
  _clips: readonly DrmClipRect[] | null,
  _numClips: number,
): Promise<number> {
  const dev = fb.dev;
  const ret = await drmModesetLockAllBegin(dev);
  const qobj = toQxlBo(fb.obj[0]);
  await point(`qxl_framebuffer_surface_dirty(${qobj.name}): is_primary`);
  qobj.checkAccess("qxl_framebuffer_surface_dirty");
  // if we aren't primary surface ignore this
  const isPrimary = qobj.shadow ? qobj.shadow.isPrimary : qobj.isPrimary;
  if (isPrimary) {
    // qxl_draw_dirty_fb() (qxl_draw.c) is not modeled.
    await point(`qxl_draw_dirty_fb(${qobj.name}): not modeled`);
  }
  await drmModesetLockAllEnd(dev, ret);
  return 0;
}

/** Models qxl_fb_funcs. */
const qxlFbFuncs: DrmFramebufferFuncs = {
  destroy: drmGemFbDestroy,
  dirty: qxlFramebufferSurfaceDirty,
  createHandle: drmGemFbCreateHandle,
};

/**
 * Models qxl_user_framebuffer_create(): drm_gem_fb_create_with_funcs() with qxl_fb_funcs.
 * Locking: none held.
 * References: returns the framebuffer with one reference; it holds one per plane's object.
 */
export function qxlUserFramebufferCreate(
  dev: DrmDevice,
  file: DrmFile,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
): Promise<DrmFramebuffer | Errno> {
  return drmGemFbCreateWithFuncs(dev, file, info, cmd, qxlFbFuncs);
}

/** Models qxl_mode_funcs. */
const qxlModeFuncs: DrmModeConfigFuncs = {
  fbCreate: qxlUserFramebufferCreate,
  atomicCheck: drmAtomicHelperCheck,
  atomicCommit: drmAtomicHelperCommit,
};

/**
 * Models qxl_check_mode(): -EINVAL when `width` * 4 or the stride times `height` overflows a u32,
 * -ENOMEM when the frame is larger than vram_size, else 0.
 * Locking: none. References: none.
 */
export function qxlCheckMode(qdev: QxlDevice, width: number, height: number): number {
  const stride = width * 4;
  // check_mul_overflow() on unsigned int
  if (stride > 0xffffffff) return -EINVAL;
  const size = stride * height;
  if (size > 0xffffffff) return -EINVAL;
  if (size > qdev.vramSize) return -ENOMEM;
  return 0;
}

/**
 * Models qxl_check_framebuffer(): qxl_check_mode() of the bo's surface size.
 * Locking: none. References: the caller holds the bo (through its framebuffer).
 */
function qxlCheckFramebuffer(qdev: QxlDevice, bo: QxlBo): number {
  return qxlCheckMode(qdev, bo.surf.width, bo.surf.height);
}

/**
 * Models qxl_crtc_update_monitors_config(), the part the model keeps: nothing without a primary
 * surface (primary_bo) or for an inactive head 0; otherwise monitors_config->max_allowed becomes
 * qxl_num_crtc (the heads and the QXL_IO_MONITORS_CONFIG_ASYNC of qxl_send_monitors_config()
 * are not modeled).
 * Locking: none held (the commit tail owns the CRTC). References: none.
 */
async function qxlCrtcUpdateMonitorsConfig(crtc: DrmCrtc, reason: string): Promise<void> {
  const qdev = toQxl(crtc.dev);
  await point(`qxl_crtc_update_monitors_config(${crtc.index}, ${reason})`);
  if (!qdev.primaryBo) return;
  if (qdev.dumbHeads.length <= crtc.index) return;
  crtc.state!.checkAccess("qxl_crtc_update_monitors_config");
  if (!crtc.state!.active && crtc.index === 0) return;
  qdev.monitorsMaxAllowed = qdev.dumbHeads.length;
}

/** Models qxl_crtc_atomic_flush(). Locking: none held. References: none. */
function qxlCrtcAtomicFlush(crtc: DrmCrtc, _state: DrmAtomicState): Promise<void> {
  return qxlCrtcUpdateMonitorsConfig(crtc, "flush");
}

/** Models qxl_crtc_atomic_enable(). Locking: none held. References: none. */
function qxlCrtcAtomicEnable(crtc: DrmCrtc, _state: DrmAtomicState): Promise<void> {
  return qxlCrtcUpdateMonitorsConfig(crtc, "enable");
}

/** Models qxl_crtc_atomic_disable(). Locking: none held. References: none. */
function qxlCrtcAtomicDisable(crtc: DrmCrtc, _state: DrmAtomicState): Promise<void> {
  return qxlCrtcUpdateMonitorsConfig(crtc, "disable");
}

/** Models qxl_crtc_funcs (->destroy is not modeled: no drm_mode_config_cleanup()). */
const qxlCrtcFuncs: DrmCrtcFuncs = {
  setConfig: drmAtomicHelperSetConfig,
  pageFlip: drmAtomicHelperPageFlip,
  reset: drmAtomicHelperCrtcReset,
  atomicDuplicateState: drmAtomicHelperCrtcDuplicateState,
  atomicDestroyState: drmAtomicHelperCrtcDestroyState,
};

/** Models qxl_crtc_helper_funcs. */
const qxlCrtcHelperFuncs: DrmCrtcHelperFuncs = {
  atomicFlush: qxlCrtcAtomicFlush,
  atomicEnable: qxlCrtcAtomicEnable,
  atomicDisable: qxlCrtcAtomicDisable,
};

/**
 * Models qxl_primary_atomic_check(): nothing to check for a plane turned off; otherwise
 * qxl_check_framebuffer() of the framebuffer's bo. Model extension: -EINVAL for an object that
 * is not a qxl bo (an import of a foreign dma-buf, which mainline cannot make; see the file
 * comment).
 * Locking: connection_mutex held (drm_atomic_check_only()).
 * References: the state holds the framebuffer, which holds the bo.
 */
export async function qxlPrimaryAtomicCheck(
  plane: DrmPlane,
  state: DrmAtomicState,
): Promise<number> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  const newPlaneState = drmAtomicGetNewPlaneState(state, plane)!;
  const qdev = toQxl(plane.dev);
  if (!newPlaneState.crtc || !newPlaneState.fb) return 0;
  const obj = newPlaneState.fb.obj[0];
  if (!(obj instanceof QxlBo)) return -EINVAL;
  const bo = toQxlBo(obj);
  bo.checkAccess("qxl_primary_atomic_check");
  return qxlCheckFramebuffer(qdev, bo);
}

/**
 * Models qxl_primary_atomic_update(): the bo to show is the framebuffer's bo, or its shadow for a
 * dumb buffer; unless it is the primary already, the current primary is destroyed and it becomes
 * the primary (qxl_primary_apply_cursor(): no cursor is modeled); then qxl_draw_dirty_fb() of
 * the whole framebuffer (not modeled). Known window qxl.primary-update-shadow-put: `primary` is
 * held by no reference, and another CRTC's blocking commit (qxl_prepare_shadow()) can put its
 * last references while this tail sleeps in qxl_io_destroy_primary(); the fix switch holds it.
 * Known window qxl.primary-destroy-two-tails: nothing serialises the test and switch of the
 * device's one primary against another CRTC's commit tail doing the same (both destroy it: the
 * second qxl_io_destroy_primary() finds primary_bo NULL); the fix switch holds the proposed
 * primary_mutex across them.
 * Locking: none held (the commit tail; the commit owns the plane); the fix switch of
 * qxl.primary-destroy-two-tails takes primary_mutex, then async_io_mutex in the qxl_io_*() calls.
 * References: the new state holds the framebuffer; qxl_io_create_primary() takes a reference of
 * the primary, qxl_io_destroy_primary() drops the old one's.
 */
export async function qxlPrimaryAtomicUpdate(
  plane: DrmPlane,
  state: DrmAtomicState,
): Promise<void> {
  const newState = drmAtomicGetNewPlaneState(state, plane)!;
  const qdev = toQxl(plane.dev);
  // The known window's fix switch (toggles.ts): the proposed primary_mutex around the test and
  // switch of the primary, so that two CRTCs' tails switch it one after the other.
  const serialize = toggleEnabled(QXL_PRIMARY_DESTROY_TWO_TAILS.name);
  if (serialize) {
    const taken = qdev.primaryMutex.lock();
    if (taken !== RESOLVED) await taken;
  }
  const bo = toQxlBo(newState.fb!.obj[0]);
  bo.checkAccess("qxl_primary_atomic_update");
  const primary = bo.shadow ? bo.shadow : bo;
  primary.checkAccess("qxl_primary_atomic_update: primary");
  // The known window's fix switch (toggles.ts): hold the primary candidate across the sleeps of
  // qxl_io_destroy_primary()/qxl_io_create_primary(), taken with no scheduling point after the
  // read (the proposed patch's lock against qxl_prepare_shadow()'s puts).
  const hold = toggleEnabled(QXL_PRIMARY_UPDATE_SHADOW_PUT.name);
  if (hold) {
    const got = drmGemObjectGet(primary);
    if (got !== RESOLVED) await got;
  }
  if (!primary.isPrimary) {
    if (qdev.primaryBo) await qxlIoDestroyPrimary(qdev);
    await qxlIoCreatePrimary(qdev, primary);
  }
  if (hold) {
    const put = drmGemObjectPut(primary);
    if (put !== RESOLVED) await put;
  }
  if (serialize) qdev.primaryMutex.unlockNow();
  // qxl_draw_dirty_fb(qdev, fb, bo, ..., dumb_shadow_offset): not modeled.
  await point(`qxl_draw_dirty_fb(${bo.name}): not modeled`);
}

/**
 * Models qxl_primary_atomic_disable(): the old framebuffer's bo (its shadow for a dumb buffer)
 * stops being the primary if it is one (known window qxl.disable-primary-shadow-cleared: a dumb
 * bo whose shadow cleanup_fb cleared while it was still shown is not found; its fix switch
 * destroys the device's dumb shadow primary then). Known window qxl.primary-destroy-two-tails:
 * another CRTC's tail may be switching the primary meanwhile; the fix switch holds the proposed
 * primary_mutex across the test and the destroy.
 * Locking: none held (the commit tail); the fix switch of qxl.primary-destroy-two-tails takes
 * primary_mutex. References: the old state holds the framebuffer; qxl_io_destroy_primary() drops
 * the device's reference of the primary.
 */
export async function qxlPrimaryAtomicDisable(
  plane: DrmPlane,
  state: DrmAtomicState,
): Promise<void> {
  const oldState = drmAtomicGetOldPlaneState(state, plane)!;
  const qdev = toQxl(plane.dev);
  if (oldState.fb) {
    // The known window's fix switch (toggles.ts), as in qxlPrimaryAtomicUpdate().
    const serialize = toggleEnabled(QXL_PRIMARY_DESTROY_TWO_TAILS.name);
    if (serialize) {
      const taken = qdev.primaryMutex.lock();
      if (taken !== RESOLVED) await taken;
    }
    let bo = toQxlBo(oldState.fb.obj[0]);
    bo.checkAccess("qxl_primary_atomic_disable");
    const dumb = bo.isDumb;
    if (bo.shadow) bo = bo.shadow;
    if (bo.isPrimary) await qxlIoDestroyPrimary(qdev);
    // The known window's fix switch (toggles.ts): a dumb framebuffer's primary is the device's
    // shadow, even when cleanup_fb already cleared bo->shadow (the bo behind two framebuffers).
    else if (
      toggleEnabled(QXL_DISABLE_PRIMARY_SHADOW_CLEARED.name) &&
      dumb &&
      qdev.primaryBo !== null &&
      qdev.primaryBo === qdev.dumbShadowBo
    )
      await qxlIoDestroyPrimary(qdev);
    if (serialize) qdev.primaryMutex.unlockNow();
  }
}

/**
 * Models qxl_update_dumb_head(): records the dumb bo's size as head `index`'s (0 x 0 for a bo
 * that is not dumb); heads beyond monitors_config->max_allowed are ignored.
 * Locking: none (the caller's connection_mutex). References: none.
 */
function qxlUpdateDumbHead(qdev: QxlDevice, index: number, bo: QxlBo | null): void {
  if (index >= qdev.monitorsMaxAllowed) return;
  let width: number;
  let height: number;
  if (bo?.isDumb) {
    width = bo.surf.width;
    height = bo.surf.height;
  } else {
    width = 0;
    height = 0;
  }
  const head = qdev.dumbHeads[index]!;
  if (head.width === width && head.height === height) return;
  head.width = width;
  head.height = height;
}

/**
 * Models qxl_calc_dumb_shadow(): the shadow surface holds the heads side by side (each head's x
 * is set), at least 64 x 64, 32-bit xRGB.
 * Locking: none (the caller's connection_mutex). References: none.
 */
function qxlCalcDumbShadow(qdev: QxlDevice): QxlSurface {
  const surf: QxlSurface = { width: 0, height: 0, format: 0, stride: 0, data: 0 };
  for (let i = 0; i < qdev.monitorsMaxAllowed; i++) {
    const head = qdev.dumbHeads[i]!;
    head.x = surf.width;
    surf.width += head.width;
    if (surf.height < head.height) surf.height = head.height;
  }
  if (surf.width < 64) surf.width = 64;
  if (surf.height < 64) surf.height = 64;
  surf.format = SPICE_SURFACE_FMT_32_xRGB;
  surf.stride = surf.width * 4;
  return surf;
}

/**
 * Models qxl_prepare_shadow(): the device's dumb shadow bo is (re)created when the heads' size
 * changed (the old one unpinned and put: a primary keeps its own reference), and `user_bo` gets
 * a reference and a pin of the current one (dropping its old shadow's). As in the kernel,
 * qxl_bo_create()'s failure is not checked: the shadow is then NULL and the drm_gem_object_get()
 * of it is a NULL pointer dereference (an oops). Known windows: qxl.primary-update-shadow-put (the
 * old shadow put under another CRTC's commit tail), qxl.shadow-cleanup-vs-prepare (the same old
 * shadow dropped by the previous commit's qxl_plane_cleanup_fb() too).
 * Locking: connection_mutex held (prepare_fb runs in drm_atomic_helper_commit()).
 * References: the device holds one reference of dumb_shadow_bo, each dumb bo showing it one.
 */
async function qxlPrepareShadow(qdev: QxlDevice, userBo: QxlBo, crtcIndex: number): Promise<void> {
  lockdepAssertHeld(qdev.ddev.modeConfig.connectionMutex);
  qxlUpdateDumbHead(qdev, crtcIndex, userBo);
  const surf = qxlCalcDumbShadow(qdev);
  if (
    !qdev.dumbShadowBo ||
    qdev.dumbShadowBo.surf.width !== surf.width ||
    qdev.dumbShadowBo.surf.height !== surf.height
  ) {
    if (qdev.dumbShadowBo) {
      await qxlBoUnpin(qdev.dumbShadowBo);
      const put = drmGemObjectPut(qdev.dumbShadowBo);
      if (put !== RESOLVED) await put;
      qdev.dumbShadowBo = null;
    }
    const created = await qxlBoCreate(
      qdev,
      surf.height * surf.stride,
      true,
      true,
      QXL_GEM_DOMAIN_SURFACE,
      0,
      surf,
    );
    // The kernel ignores qxl_bo_create()'s return value.
    qdev.dumbShadowBo = isErr(created) ? null : created;
  }
  if (userBo.shadow !== qdev.dumbShadowBo) {
    if (toggleEnabled(QXL_SHADOW_CLEANUP_VS_PREPARE.name)) {
      // The known window's fix switch (toggles.ts): xchg(&user_bo->shadow, NULL) before the
      // sleeps, so that a concurrent qxl_plane_cleanup_fb() does not drop the same pin.
      const shadow = userBo.shadow;
      userBo.shadow = null;
      if (shadow) {
        await qxlBoUnpin(shadow);
        const put = drmGemObjectPut(shadow);
        if (put !== RESOLVED) await put;
      }
    } else if (userBo.shadow) {
      await qxlBoUnpin(userBo.shadow);
      const put = drmGemObjectPut(userBo.shadow);
      if (put !== RESOLVED) await put;
      userBo.shadow = null;
    }
    if (!qdev.dumbShadowBo)
      bug("BUG: kernel NULL pointer dereference in qxl_prepare_shadow(): dumb_shadow_bo is NULL");
    const got = drmGemObjectGet(qdev.dumbShadowBo);
    if (got !== RESOLVED) await got;
    userBo.shadow = qdev.dumbShadowBo;
    await qxlBoPin(userBo.shadow);
  }
}

/**
 * Models qxl_plane_prepare_fb(): nothing without a framebuffer; a dumb bo on the primary plane
 * gets the shadow (qxl_prepare_shadow()); then the bo is pinned (qxl_bo_pin(): validated into
 * its domain and pinned, so eviction leaves it where the device reads it) and
 * drm_gem_plane_helper_prepare_fb() (implicit fences: not modeled, 0). 0 or qxl_bo_pin()'s errno.
 * Locking: connection_mutex held (drm_atomic_helper_prepare_planes()).
 * References: the state holds the framebuffer; the pin lasts until ->cleanup_fb.
 */
export async function qxlPlanePrepareFb(plane: DrmPlane, newState: DrmPlaneState): Promise<number> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  const qdev = toQxl(plane.dev);
  if (!newState.fb) return 0;
  const obj = newState.fb.obj[0];
  const userBo = toQxlBo(obj);
  userBo.checkAccess("qxl_plane_prepare_fb");
  if (plane.type === DRM_PLANE_TYPE_PRIMARY && userBo.isDumb)
    await qxlPrepareShadow(qdev, userBo, newState.crtc!.index);
  const ret = await qxlBoPin(userBo);
  if (ret) return ret;
  return 0;
}

/**
 * Models qxl_plane_cleanup_fb(): nothing without a framebuffer (prepare_fb did nothing);
 * otherwise the bo is unpinned, and if the plane no longer shows this framebuffer its shadow is
 * unpinned and put (known window qxl.shadow-cleanup-vs-prepare: the next commit's
 * qxl_prepare_shadow() may drop the same shadow meanwhile; its fix switch takes it out first).
 * Locking: none required (the commit tail, or drm_atomic_helper_unprepare_planes() under
 * connection_mutex). References: drops what ->prepare_fb took.
 */
export async function qxlPlaneCleanupFb(plane: DrmPlane, oldState: DrmPlaneState): Promise<void> {
  if (!oldState.fb) {
    // we never executed prepare_fb, so there's nothing to unpin.
    return;
  }
  const userBo = toQxlBo(oldState.fb.obj[0]);
  userBo.checkAccess("qxl_plane_cleanup_fb");
  await qxlBoUnpin(userBo);
  if (oldState.fb !== plane.state!.fb && userBo.shadow) {
    if (toggleEnabled(QXL_SHADOW_CLEANUP_VS_PREPARE.name)) {
      // The known window's fix switch (toggles.ts): xchg(&user_bo->shadow, NULL) first.
      const shadow = userBo.shadow;
      userBo.shadow = null;
      await qxlBoUnpin(shadow);
      const put = drmGemObjectPut(shadow);
      if (put !== RESOLVED) await put;
      return;
    }
    await qxlBoUnpin(userBo.shadow);
    const put = drmGemObjectPut(userBo.shadow);
    if (put !== RESOLVED) await put;
    userBo.shadow = null;
  }
}

/** Models qxl_primary_plane_formats. */
const qxlPrimaryPlaneFormats: readonly number[] = [DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888];

/** Models primary_helper_funcs. */
const primaryHelperFuncs: DrmPlaneHelperFuncs = {
  atomicCheck: qxlPrimaryAtomicCheck,
  atomicUpdate: qxlPrimaryAtomicUpdate,
  atomicDisable: qxlPrimaryAtomicDisable,
  prepareFb: qxlPlanePrepareFb,
  cleanupFb: qxlPlaneCleanupFb,
};

/** Models qxl_primary_plane_funcs (the state hooks; update/disable_plane are not modeled). */
const qxlPrimaryPlaneFuncs: DrmPlaneFuncs = {
  reset: drmAtomicHelperPlaneReset,
  atomicDuplicateState: drmAtomicHelperPlaneDuplicateState,
  atomicDestroyState: drmAtomicHelperPlaneDestroyState,
};

/**
 * Models qxl_create_plane() for DRM_PLANE_TYPE_PRIMARY (cursor planes are not modeled): a plane
 * with primary_helper_funcs, or -EINVAL when drm_universal_plane_init() fails.
 * Locking: none; the device is not registered yet. References: none.
 */
async function qxlCreatePlane(
  qdev: QxlDevice,
  possibleCrtcs: number,
  type: number,
): Promise<DrmPlane | Errno> {
  if (type !== DRM_PLANE_TYPE_PRIMARY) return -EINVAL as Errno;
  const plane = new DrmPlane(qdev.ddev);
  const err = await drmUniversalPlaneInit(
    qdev.ddev,
    plane,
    possibleCrtcs,
    qxlPrimaryPlaneFuncs,
    qxlPrimaryPlaneFormats,
    type,
  );
  if (err) return -EINVAL as Errno;
  plane.helperPrivate = primaryHelperFuncs;
  return plane;
}

/**
 * Models qdev_crtc_init(): a CRTC with its primary plane (no cursor plane: not modeled) and
 * qxl_crtc_funcs / qxl_crtc_helper_funcs. 0 or -ENOMEM / drm_crtc_init_with_planes()'s errno.
 * Locking: none; the device is not registered yet. References: none.
 */
async function qdevCrtcInit(dev: DrmDevice, crtcId: number): Promise<number> {
  const qdev = toQxl(dev);
  const primary = await qxlCreatePlane(qdev, 1 << crtcId, DRM_PLANE_TYPE_PRIMARY);
  if (isErr(primary)) return -ENOMEM;
  const crtc = new DrmCrtc(dev);
  const r = await drmCrtcInitWithPlanes(dev, crtc, primary, qxlCrtcFuncs);
  if (r) return r;
  crtc.helperPrivate = qxlCrtcHelperFuncs;
  return 0;
}

/**
 * Models qdev_output_init(), the connector (encoders, modes and properties are not modeled).
 * Locking: none; the device is not registered yet. References: none.
 */
async function qdevOutputInit(dev: DrmDevice, _numOutput: number): Promise<number> {
  return drmConnectorInit(dev, new DrmConnector(dev));
}

/**
 * Models qxl_modeset_init(), the mode_config part: funcs and sizes from 0 to 8192. The CRTCs are
 * qxlModesetInitCrtcs()'s.
 * Locking: none; the device is not registered yet.
 * References: none.
 */
export function qxlModesetInit(dev: DrmDevice): void {
  const config = dev.modeConfig;
  config.funcs = qxlModeFuncs;
  // modes will be validated against the framebuffer size
  config.minWidth = 0;
  config.minHeight = 0;
  config.maxWidth = 8192;
  config.maxHeight = 8192;
}

/**
 * Models the rest of qxl_modeset_init() for `numCrtc` CRTCs (qxl_num_crtc; the model's
 * registration option, called only when it is not 0): the dumb heads
 * (qxl_create_monitors_object()'s kcalloc; the monitors object itself is not modeled) and each
 * CRTC with its primary plane and a connector (errors ignored, as the kernel ignores them).
 * Locking: none; the device is not registered yet.
 * References: none.
 */
export async function qxlModesetInitCrtcs(dev: DrmDevice, numCrtc: number): Promise<void> {
  const qdev = toQxl(dev);
  qdev.dumbHeads = Array.from({ length: numCrtc }, () => ({ x: 0, width: 0, height: 0 }));
  for (let i = 0; i < numCrtc; ++i) {
    await qdevCrtcInit(dev, i);
    await qdevOutputInit(dev, i);
  }
}

/**
 * Models qxl_modeset_fini(): the dumb shadow bo unpinned and put (the monitors object is not
 * modeled).
 * Locking: none held; may sleep. References: drops the device's reference of the shadow.
 */
export async function qxlModesetFini(qdev: QxlDevice): Promise<void> {
  if (qdev.dumbShadowBo) {
    await qxlBoUnpin(qdev.dumbShadowBo);
    const put = drmGemObjectPut(qdev.dumbShadowBo);
    if (put !== RESOLVED) await put;
    qdev.dumbShadowBo = null;
  }
}
