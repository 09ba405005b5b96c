/**
 * The atomic modeset helpers (drivers/gpu/drm/drm_atomic_helper.c of Linux v6.18; the functions
 * modeled read the same in v6.12.19): the legacy entry points every atomic driver of the model
 * uses (drm_atomic_helper_set_config() for SETCRTC, drm_atomic_helper_page_flip() for
 * PAGE_FLIP), the check (drm_atomic_helper_check()), and the commit machinery of
 * drm_atomic_helper_commit():
 *
 * 1. drm_atomic_helper_setup_commit(): a `drm_crtc_commit` per CRTC in the state (kref: the new
 *    CRTC state's, the atomic state's, and, through the event's `completion_release`, the
 *    event's), the stall checks (a nonblocking commit is -EBUSY while the CRTC's previous
 *    commit has not flipped), an event the helpers allocate when userspace asked for none, and a
 *    commit reference for each plane state.
 * 2. ->prepare_fb of each new plane state (a driver pins the buffer it will scan out).
 * 3. drm_atomic_helper_swap_state(): the new states become the CRTCs' and planes' current ones;
 *    the commit joins the CRTC's `commit_list`. The atomic state keeps the old states.
 * 4. The commit tail, from a worker for a nonblocking commit (PAGE_FLIP), else at once
 *    (SETCRTC, the RMFB that turns a plane off): wait for the previous commits, program the
 *    planes (->atomic_update), send the event (drm_atomic_helper_fake_vblank(): no device of the
 *    model has vblank interrupts), hw_done, ->cleanup_fb of the old plane states, cleanup_done
 *    (off the commit list), and the tail's atomic state reference: the old states, and with
 *    them the old framebuffer's reference, are freed with the state.
 *
 * Legacy cursor updates (drm_atomic_helper_update_plane() / _disable_plane() of a CRTC's cursor
 * plane) are blocking commits whose flip_done completes at once (no event). Not modeled: async
 * (tearing) updates and async plane updates (->atomic_async_check), self refresh, implicit fences of
 * the framebuffers (drm_gem_plane_helper_prepare_fb() and drm_atomic_helper_wait_for_fences()),
 * private objects, connector states, CRTC mode validation hooks and bandwidth checks,
 * -ERESTARTSYS of the interruptible waits.
 */

import {
  EBUSY,
  ENOMEM,
  isErr,
  kmalloc,
  kmemleakReferenced,
  lockdepAssertHeld,
  queueWork,
  systemUnboundWq,
  WorkStruct,
} from "@primetime/kernel";
import type { Completion } from "@primetime/sim";
import { point, RESOLVED, warnOn } from "@primetime/sim";
import {
  __drmAtomicHelperDisablePlane,
  type DrmAtomicState,
  DrmCrtcCommit,
  drmAtomicAddAffectedPlanes,
  drmAtomicCommit,
  drmAtomicCrtcNeedsModeset,
  drmAtomicGetCrtcState,
  drmAtomicGetNewCrtcState,
  drmAtomicGetPlaneState,
  drmAtomicNonblockingCommit,
  drmAtomicSetCrtcForPlane,
  drmAtomicSetFbForPlane,
  drmAtomicSetModeForCrtc,
  drmAtomicStateAlloc,
  drmAtomicStateGet,
  drmAtomicStatePut,
  drmCrtcCommitCache,
  drmCrtcCommitGet,
  drmCrtcCommitPut,
  drmCrtcCommitWait,
} from "./drm-atomic.js";
import type { DrmCrtc, DrmCrtcState, DrmModeSet } from "./drm-crtc.js";
import type { DrmDevice } from "./drm-device.js";
import type { DrmFramebuffer } from "./drm-framebuffer.js";
import { drmModesetLockAllBegin, drmModesetLockAllEnd } from "./drm-modeset-lock.js";
import type { DrmPlane, DrmPlaneState } from "./drm-plane.js";
import {
  DrmPendingVblankEvent,
  drmCrtcSendVblankEvent,
  drmPendingVblankEventCache,
} from "./drm-vblank.js";

/**
 * Models drm_atomic_helper_set_config(): SETCRTC's ->set_config: a new atomic state with the
 * CRTC's mode and the primary plane's framebuffer (or both off), committed (blocking).
 * Locking: connection_mutex held (DRM_MODESET_LOCK_ALL_BEGIN() in SETCRTC).
 * References: the state's own; the plane state takes a framebuffer reference.
 */
export async function drmAtomicHelperSetConfig(set: DrmModeSet): Promise<number> {
  const dev = set.crtc.dev;
  lockdepAssertHeld(dev.modeConfig.connectionMutex);
  const state = await drmAtomicStateAlloc(dev);
  if (!state) return -ENOMEM;
  let ret = await drmAtomicHelperSetConfigState(set, state);
  if (ret === 0) ret = await drmAtomicCommit(state);
  await drmAtomicStatePut(state);
  return ret;
}

/**
 * Models __drm_atomic_helper_set_config(): the CRTC's state and its primary plane's state in
 * `state`: off (no mode: no CRTC, no framebuffer), or active with the mode, the framebuffer at
 * (x, y) over the whole mode. The connectors are not tracked (connector states are not modeled).
 * Locking: connection_mutex held.
 * References: the plane state takes a framebuffer reference.
 */
async function drmAtomicHelperSetConfigState(
  set: DrmModeSet,
  state: DrmAtomicState,
): Promise<number> {
  const crtc = set.crtc;
  const crtcState = await drmAtomicGetCrtcState(state, crtc);
  if (isErr(crtcState)) return crtcState;
  const primaryState = await drmAtomicGetPlaneState(state, crtc.primary);
  if (isErr(primaryState)) return primaryState;
  if (!set.mode) {
    warnOn(set.fb !== null, "__drm_atomic_helper_set_config: fb without mode");
    warnOn(set.connectors.length !== 0, "__drm_atomic_helper_set_config: connectors without mode");
    drmAtomicSetModeForCrtc(crtcState, null);
    crtcState.active = false;
    const ret = await drmAtomicSetCrtcForPlane(primaryState, null);
    if (ret) return ret;
    await drmAtomicSetFbForPlane(primaryState, null);
    return 0;
  }
  warnOn(!set.fb, "__drm_atomic_helper_set_config: mode without fb");
  warnOn(set.connectors.length === 0, "__drm_atomic_helper_set_config: mode without connectors");
  drmAtomicSetModeForCrtc(crtcState, set.mode);
  crtcState.active = true;
  const ret = await drmAtomicSetCrtcForPlane(primaryState, crtc);
  if (ret) return ret;
  await drmAtomicSetFbForPlane(primaryState, set.fb);
  // drm_mode_get_hv_timing()
  const hdisplay = set.mode.hdisplay;
  const vdisplay = set.mode.vdisplay;
  primaryState.crtcX = 0;
  primaryState.crtcY = 0;
  primaryState.crtcW = hdisplay;
  primaryState.crtcH = vdisplay;
  primaryState.srcX = set.x * 65536;
  primaryState.srcY = set.y * 65536;
  primaryState.srcW = hdisplay * 65536;
  primaryState.srcH = vdisplay * 65536;
  return 0;
}

/**
 * Models page_flip_common(): the CRTC's state gets the event and the primary plane's state the
 * new framebuffer on the same CRTC; the state must not modeset, and a CRTC that is off rejects
 * the flip (-EINVAL).
 * Locking: connection_mutex held.
 * References: the CRTC state takes the event; the plane state a framebuffer reference.
 */
async function pageFlipCommon(
  state: DrmAtomicState,
  crtc: DrmCrtc,
  fb: DrmFramebuffer,
  event: DrmPendingVblankEvent | null,
  flags: number,
): Promise<number> {
  const plane = crtc.primary;
  const crtcState = await drmAtomicGetCrtcState(state, crtc);
  if (isErr(crtcState)) return crtcState;
  crtcState.event = event;
  crtcState.asyncFlip = (flags & 0x02) !== 0; // DRM_MODE_PAGE_FLIP_ASYNC
  const planeState = await drmAtomicGetPlaneState(state, plane);
  if (isErr(planeState)) return planeState;
  const ret = await drmAtomicSetCrtcForPlane(planeState, crtc);
  if (ret !== 0) return ret;
  await drmAtomicSetFbForPlane(planeState, fb);
  // Make sure we don't accidentally do a full modeset.
  state.allowModeset = false;
  if (!crtcState.active) return -EINVAL_ERRNO; // disabled, rejecting legacy flip
  return ret;
}

/** EINVAL (asm-generic/errno-base.h). */
const EINVAL_ERRNO = 22;

/**
 * Models drm_atomic_helper_page_flip(): PAGE_FLIP's ->page_flip: a new atomic state flipping the
 * primary plane to `fb`, committed without blocking (drm_atomic_nonblocking_commit()); the
 * commit tail runs from a worker and sends `event` when the flip is done.
 * Locking: connection_mutex held (PAGE_FLIP's CRTC and plane locks).
 * References: the state's own (put here; the commit tail holds its own).
 */
export async function drmAtomicHelperPageFlip(
  crtc: DrmCrtc,
  fb: DrmFramebuffer,
  event: DrmPendingVblankEvent | null,
  flags: number,
): Promise<number> {
  lockdepAssertHeld(crtc.dev.modeConfig.connectionMutex);
  const plane = crtc.primary;
  const state = await drmAtomicStateAlloc(plane.dev);
  if (!state) return -ENOMEM;
  let ret = await pageFlipCommon(state, crtc, fb, event, flags);
  if (ret === 0) ret = await drmAtomicNonblockingCommit(state);
  await drmAtomicStatePut(state);
  return ret;
}

/**
 * Models drm_atomic_helper_update_plane(): the legacy ->update_plane of the atomic drivers: a new
 * atomic state with the plane on `crtc` showing `fb` at the given rectangles (src 16.16), marked
 * a legacy cursor update when the plane is the CRTC's cursor, committed blocking
 * (drm_atomic_commit()). 0, -ENOMEM, or the errno of the state or the commit.
 * Locking: connection_mutex held (the caller's acquire context).
 * References: the state's own, put here; the plane state takes a framebuffer reference.
 */
export async function drmAtomicHelperUpdatePlane(
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
): Promise<number> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  const state = await drmAtomicStateAlloc(plane.dev);
  if (!state) return -ENOMEM;
  let ret = 0;
  fail: {
    const planeState = await drmAtomicGetPlaneState(state, plane);
    if (isErr(planeState)) {
      ret = planeState;
      break fail;
    }
    ret = await drmAtomicSetCrtcForPlane(planeState, crtc);
    if (ret !== 0) break fail;
    await drmAtomicSetFbForPlane(planeState, fb);
    planeState.crtcX = crtcX;
    planeState.crtcY = crtcY;
    planeState.crtcW = crtcW;
    planeState.crtcH = crtcH;
    planeState.srcX = srcX;
    planeState.srcY = srcY;
    planeState.srcW = srcW;
    planeState.srcH = srcH;
    if (plane === crtc.cursor) state.legacyCursorUpdate = true;
    ret = await drmAtomicCommit(state);
  }
  await drmAtomicStatePut(state);
  return ret;
}

/**
 * Models drm_atomic_helper_disable_plane(): the legacy ->disable_plane of the atomic drivers: a
 * new atomic state with the plane off (__drm_atomic_helper_disable_plane()), a legacy cursor
 * update when the plane is the cursor of the CRTC it was on, committed blocking.
 * Locking: connection_mutex held (the caller's acquire context).
 * References: the state's own, put here; the old plane state's framebuffer reference goes with it.
 */
export async function drmAtomicHelperDisablePlane(plane: DrmPlane): Promise<number> {
  lockdepAssertHeld(plane.dev.modeConfig.connectionMutex);
  const state = await drmAtomicStateAlloc(plane.dev);
  if (!state) return -ENOMEM;
  let ret = 0;
  fail: {
    const planeState = await drmAtomicGetPlaneState(state, plane);
    if (isErr(planeState)) {
      ret = planeState;
      break fail;
    }
    if (planeState.crtc && planeState.crtc.cursor === plane) state.legacyCursorUpdate = true;
    ret = await __drmAtomicHelperDisablePlane(plane, planeState);
    if (ret !== 0) break fail;
    ret = await drmAtomicCommit(state);
  }
  await drmAtomicStatePut(state);
  return ret;
}

/** Models DRM_PLANE_NO_SCALING: a scale factor of exactly 1 (16.16). */
export const DRM_PLANE_NO_SCALING = 1 << 16;

/**
 * Models drm_calc_scale() and drm_rect_calc_hscale()/_vscale(): the 16.16 scale factor of `src`
 * (16.16) onto `dst` pixels, -ERANGE outside [min, max]; 0 for an empty destination.
 */
function drmRectCalcScale(src: number, dst: number, min: number, max: number): number {
  if (dst === 0) return 0;
  const scale = src > dst * 65536 ? Math.ceil(src / dst) : Math.trunc(src / dst);
  if (scale < min || scale > max) return -ERANGE_ERRNO;
  return scale;
}

/** ERANGE (asm-generic/errno-base.h). */
const ERANGE_ERRNO = 34;

/**
 * Models drm_atomic_helper_check_plane_state() without rotation: a state without a framebuffer
 * (or, WARN, without a CRTC) is not visible; a disabled CRTC is -EINVAL unless
 * `canUpdateDisabled`; a scale outside [minScale, maxScale] is -ERANGE; the state is visible when
 * its destination meets the CRTC's mode (an enabled CRTC's hdisplay x vdisplay; nothing for a
 * disabled one), and a visible state that does not cover the whole mode is -EINVAL unless
 * `canPosition`.
 * Locking: none; the state is the caller's. References: none.
 */
export function drmAtomicHelperCheckPlaneState(
  planeState: DrmPlaneState,
  crtcState: DrmCrtcState | null,
  minScale: number,
  maxScale: number,
  canPosition: boolean,
  canUpdateDisabled: boolean,
): number {
  const fb = planeState.fb;
  warnOn(
    planeState.crtc !== null && planeState.crtc !== crtcState?.crtc,
    "drm_atomic_helper_check_plane_state: WARN_ON(plane_state->crtc != crtc_state->crtc)",
  );
  if (!fb) {
    planeState.visible = false;
    return 0;
  }
  // crtc should only be NULL when disabling (i.e., !fb)
  if (
    warnOn(!planeState.crtc, "drm_atomic_helper_check_plane_state: WARN_ON(!plane_state->crtc)")
  ) {
    planeState.visible = false;
    return 0;
  }
  if (!crtcState!.enable && !canUpdateDisabled) return -EINVAL_ERRNO; // disabled CRTC
  // Check scaling
  const hscale = drmRectCalcScale(planeState.srcW, planeState.crtcW, minScale, maxScale);
  const vscale = drmRectCalcScale(planeState.srcH, planeState.crtcH, minScale, maxScale);
  if (hscale < 0 || vscale < 0) return -ERANGE_ERRNO; // Invalid scaling of plane
  const clipW = crtcState!.enable && crtcState!.mode ? crtcState!.mode.hdisplay : 0;
  const clipH = crtcState!.enable && crtcState!.mode ? crtcState!.mode.vdisplay : 0;
  // drm_rect_clip_scaled(): the destination clipped to the mode
  const x1 = Math.max(planeState.crtcX, 0);
  const y1 = Math.max(planeState.crtcY, 0);
  const x2 = Math.min(planeState.crtcX + planeState.crtcW, clipW);
  const y2 = Math.min(planeState.crtcY + planeState.crtcH, clipH);
  planeState.visible = x2 > x1 && y2 > y1;
  if (!planeState.visible) return 0;
  const coversMode =
    planeState.crtcX === 0 &&
    planeState.crtcY === 0 &&
    planeState.crtcW === clipW &&
    planeState.crtcH === clipH;
  if (!canPosition && !coversMode) return -EINVAL_ERRNO; // Plane must cover entire CRTC
  return 0;
}

/**
 * Models drm_atomic_helper_check_modeset() as far as the model's state goes: a CRTC whose mode
 * or enable changed needs a modeset (`mode_changed`, `connectors_changed`), one whose `active`
 * changed too (`active_changed`); `no_vblank` is set, as no device of the model has vblank
 * support.
 * Locking: connection_mutex held.
 * References: none.
 */
async function drmAtomicHelperCheckModeset(
  _dev: DrmDevice,
  state: DrmAtomicState,
): Promise<number> {
  lockdepAssertHeld(state.dev.modeConfig.connectionMutex);
  for (const entry of state.crtcs) {
    if (!entry) continue;
    const oldState = entry.oldState;
    const newState = entry.newState;
    if (!drmModeEqual(oldState, newState)) newState.modeChanged = true;
    if (oldState.enable !== newState.enable) {
      newState.modeChanged = true;
      newState.connectorsChanged = true;
    }
    if (oldState.active !== newState.active) newState.activeChanged = true;
    // drm_dev_has_vblank(dev): false, no device of the model calls drm_vblank_init()
    newState.noVblank = true;
  }
  return 0;
}

function drmModeEqual(a: DrmCrtcState, b: DrmCrtcState): boolean {
  if (!a.mode || !b.mode) return a.mode === b.mode;
  const x = a.mode;
  const y = b.mode;
  return (
    x.clock === y.clock &&
    x.hdisplay === y.hdisplay &&
    x.hsyncStart === y.hsyncStart &&
    x.hsyncEnd === y.hsyncEnd &&
    x.htotal === y.htotal &&
    x.hskew === y.hskew &&
    x.vdisplay === y.vdisplay &&
    x.vsyncStart === y.vsyncStart &&
    x.vsyncEnd === y.vsyncEnd &&
    x.vtotal === y.vtotal &&
    x.vscan === y.vscan &&
    x.flags === y.flags
  );
}

/**
 * Models drm_atomic_helper_check(): drm_atomic_helper_check_modeset(), then
 * drm_atomic_helper_check_planes() (each new plane state's ->atomic_check).
 * Locking: connection_mutex held.
 * References: none.
 */
export async function drmAtomicHelperCheck(dev: DrmDevice, state: DrmAtomicState): Promise<number> {
  lockdepAssertHeld(dev.modeConfig.connectionMutex);
  let ret = await drmAtomicHelperCheckModeset(dev, state);
  if (ret) return ret;
  for (const entry of state.planes) {
    if (!entry) continue;
    const check = entry.ptr.helperPrivate.atomicCheck;
    if (!check) continue;
    ret = await check(entry.ptr, state);
    if (ret) return ret;
  }
  return 0;
}

/**
 * Models init_commit(): the completions and the first reference.
 * Locking: none; the commit is new.
 * References: the caller's one.
 */
function initCommit(commit: DrmCrtcCommit, crtc: DrmCrtc | null): void {
  commit.ref.init();
  commit.crtc = crtc;
}

/**
 * Models release_crtc_commit(), the event's completion_release: drops the commit reference the
 * event held.
 * Locking: event_lock held (from the event's send).
 * References: drops one.
 */
async function releaseCrtcCommit(commit: DrmCrtcCommit, _completion: Completion): Promise<void> {
  lockdepAssertHeld(commit.crtc!.dev.eventLock);
  await drmCrtcCommitPut(commit);
}

/**
 * Models stall_checks(): under the CRTC's commit_lock, the newest commit on its list: a
 * nonblocking commit is -EBUSY while it has not flipped (userspace may not get ahead of the
 * previous commit); the one before it, if any, is waited for (its cleanup_done, 10 s).
 * Locking: takes the CRTC's commit_lock; sleeps without it.
 * References: a reference on the commit it waits for, dropped after.
 */
async function stallChecks(crtc: DrmCrtc, nonblock: boolean): Promise<number> {
  let stallCommit: DrmCrtcCommit | null = null;
  const lockTaken = crtc.commitLock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  for (let i = 0; i < crtc.commitList.length; i++) {
    const commit = crtc.commitList[i]!;
    if (i === 0) {
      commit.checkAccess("stall_checks: try_wait_for_completion(flip_done)");
      const completed = commit.flipDone.completed;
      // Userspace is not allowed to get ahead of the previous commit with nonblocking ones.
      if (!completed && nonblock) {
        crtc.commitLock.unlockNow();
        return -EBUSY; // busy with a previous commit
      }
    } else if (i === 1) {
      stallCommit = await drmCrtcCommitGet(commit);
      break;
    }
  }
  crtc.commitLock.unlockNow();
  if (!stallCommit) return 0;
  // We don't want to wait for the cleanup_done completion here, the hw_done should be
  // sufficient (the kernel waits for cleanup_done).
  await stallCommit.cleanupDone.waitTimeout(10_000_000_000); // "cleanup_done timed out" on 0
  await drmCrtcCommitPut(stallCommit);
  return 0;
}

/**
 * Models crtc_or_fake_commit(): the new CRTC state's commit, or for a plane on no CRTC the
 * state's fake commit (allocated the first time; null when that fails).
 * Locking: none; the state is the caller's.
 * References: none taken (the caller takes its own).
 */
async function crtcOrFakeCommit(
  state: DrmAtomicState,
  crtc: DrmCrtc | null,
): Promise<DrmCrtcCommit | null> {
  if (crtc) return drmAtomicGetNewCrtcState(state, crtc)!.commit;
  if (!state.fakeCommit) {
    const fake = kmalloc(drmCrtcCommitCache, () => new DrmCrtcCommit());
    if (isErr(fake)) return null;
    state.fakeCommit = fake;
    initCommit(fake, null);
  }
  return state.fakeCommit;
}

/**
 * Models drm_atomic_helper_setup_commit(): for each CRTC in the state a new commit (-ENOMEM) that
 * the new CRTC state holds, the stall checks (-EBUSY), and, unless the CRTC is off before and
 * after or the state is a legacy cursor update (flip_done completed at once, no event), the event: the one userspace asked for, or one the helpers allocate (-ENOMEM), whose
 * completion is the commit's flip_done and whose completion_release drops the commit reference
 * it is given here (abort_completion); the atomic state holds one more. Then each plane state
 * takes a reference of its CRTC's commit (-EBUSY for a nonblocking commit while the plane's
 * previous commit has not flipped).
 * Locking: connection_mutex held; takes each CRTC's commit_lock.
 * References: as above.
 */
async function drmAtomicHelperSetupCommit(
  state: DrmAtomicState,
  nonblock: boolean,
): Promise<number> {
  lockdepAssertHeld(state.dev.modeConfig.connectionMutex);
  for (let i = 0; i < state.crtcs.length; i++) {
    const entry = state.crtcs[i];
    if (!entry) continue;
    const crtc = entry.ptr;
    const oldCrtcState = entry.oldState;
    const newCrtcState = entry.newState;
    const commit = kmalloc(drmCrtcCommitCache, () => new DrmCrtcCommit());
    if (isErr(commit)) return -ENOMEM;
    initCommit(commit, crtc);
    newCrtcState.commit = commit;
    const ret = await stallChecks(crtc, nonblock);
    if (ret) return ret;
    // Drivers only send out events when at least either current or new CRTC state is active.
    // Complete right away if everything stays off.
    if (!oldCrtcState.active && !newCrtcState.active) {
      commit.flipDone.completeAll();
      continue;
    }
    // Legacy cursor updates are fully unsynced.
    if (state.legacyCursorUpdate) {
      commit.flipDone.completeAll();
      continue;
    }
    if (!newCrtcState.event) {
      const ev = kmalloc(drmPendingVblankEventCache, () => new DrmPendingVblankEvent());
      if (isErr(ev)) return -ENOMEM;
      commit.event = ev;
      newCrtcState.event = ev;
    }
    const event = newCrtcState.event!;
    event.completion = commit.flipDone;
    event.completionOwner = commit;
    event.completionRelease = (c) => releaseCrtcCommit(commit, c);
    await drmCrtcCommitGet(commit);
    commit.abortCompletion = true;
    entry.commit = commit;
    await drmCrtcCommitGet(commit);
  }
  for (const entry of state.planes) {
    if (!entry) continue;
    const oldPlaneState = entry.oldState;
    const newPlaneState = entry.newState;
    // Userspace is not allowed to get ahead of the previous commit with nonblocking ones.
    if (nonblock && oldPlaneState.commit) {
      oldPlaneState.commit.checkAccess("drm_atomic_helper_setup_commit: try_wait_for_completion");
      if (!oldPlaneState.commit.flipDone.completed) return -EBUSY;
    }
    // Always track planes explicitly for async pageflip support.
    const commit = await crtcOrFakeCommit(state, newPlaneState.crtc ?? oldPlaneState.crtc);
    if (!commit) return -ENOMEM;
    newPlaneState.commit = await drmCrtcCommitGet(commit);
  }
  return 0;
}

/**
 * Models drm_atomic_helper_prepare_planes(): ->prepare_fb of each new plane state; on a failure
 * ->cleanup_fb of those prepared before it.
 * Locking: connection_mutex held.
 * References: what the driver's hooks take (a pin).
 */
async function drmAtomicHelperPreparePlanes(state: DrmAtomicState): Promise<number> {
  lockdepAssertHeld(state.dev.modeConfig.connectionMutex);
  const entries = state.planes.filter((e) => e !== null);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const prepare = entry.ptr.helperPrivate.prepareFb;
    if (!prepare) continue;
    const ret = await prepare(entry.ptr, entry.newState);
    if (ret) {
      for (let j = 0; j < i; j++) {
        const e = entries[j]!;
        await e.ptr.helperPrivate.cleanupFb?.(e.ptr, e.newState);
      }
      return ret;
    }
  }
  return 0;
}

/**
 * Models drm_atomic_helper_unprepare_planes(): ->cleanup_fb of each new plane state (a commit
 * that failed after prepare).
 * Locking: connection_mutex held.
 * References: what the driver's hooks drop.
 */
async function drmAtomicHelperUnpreparePlanes(state: DrmAtomicState): Promise<void> {
  lockdepAssertHeld(state.dev.modeConfig.connectionMutex);
  for (const entry of state.planes) {
    if (!entry) continue;
    await entry.ptr.helperPrivate.cleanupFb?.(entry.ptr, entry.newState);
  }
}

/**
 * Models drm_atomic_helper_swap_state() with `stall`: waits for each old CRTC and plane state's
 * commit to be programmed (hw_done), then makes the new states current: each CRTC's new state
 * with its commit put on the CRTC's commit_list (its helper-allocated event now belongs to
 * the state: `commit->event = NULL`), each plane's new state. The atomic state keeps the old
 * ones.
 * Locking: connection_mutex held; takes each CRTC's commit_lock.
 * References: the states change hands; no count changes.
 */
async function drmAtomicHelperSwapState(state: DrmAtomicState): Promise<number> {
  lockdepAssertHeld(state.dev.modeConfig.connectionMutex);
  for (const entry of state.crtcs) {
    if (!entry?.oldState.commit) continue;
    await entry.oldState.commit.hwDone.wait();
  }
  for (const entry of state.planes) {
    if (!entry?.oldState.commit) continue;
    await entry.oldState.commit.hwDone.wait();
  }
  for (const entry of state.crtcs) {
    if (!entry) continue;
    const crtc = entry.ptr;
    warnOn(crtc.state !== entry.oldState, "drm_atomic_helper_swap_state: crtc->state");
    entry.oldState.state = state;
    entry.newState.state = null;
    entry.state = entry.oldState;
    crtc.state = entry.newState;
    swapReferenced(entry.oldState, entry.newState);
    const commit = entry.newState.commit;
    if (commit) {
      const lockTaken = crtc.commitLock.lock();
      if (lockTaken !== RESOLVED) await lockTaken;
      crtc.commitList.unshift(commit); // list_add()
      commit.onCommitList = true;
      crtc.commitLock.unlockNow();
      commit.event = null;
    }
  }
  for (const entry of state.planes) {
    if (!entry) continue;
    const plane = entry.ptr;
    warnOn(plane.state !== entry.oldState, "drm_atomic_helper_swap_state: plane->state");
    entry.oldState.state = state;
    entry.newState.state = null;
    entry.state = entry.oldState;
    plane.state = entry.newState;
    swapReferenced(entry.oldState, entry.newState);
  }
  return 0;
}

/**
 * The CRTC or plane now points to `newState` (and its commit) instead of `oldState` (and the
 * commit it has held since it became current): what kmemleak's scan would find from the device.
 */
function swapReferenced(
  oldState: DrmCrtcState | DrmPlaneState,
  newState: DrmCrtcState | DrmPlaneState,
): void {
  kmemleakReferenced(oldState, false);
  if (oldState.commit) kmemleakReferenced(oldState.commit, false);
  kmemleakReferenced(newState, true);
  if (newState.commit) kmemleakReferenced(newState.commit, true);
}

/**
 * Models drm_atomic_helper_commit(): drm_atomic_helper_setup_commit(), the commit work,
 * ->prepare_fb of the planes, the swap, and the commit tail: queued on system_unbound_wq for a
 * nonblocking commit, else run now; the tail holds its own state reference. A failure after
 * prepare cleans the planes up again.
 * Locking: connection_mutex held.
 * References: takes a state reference for the tail.
 */
export async function drmAtomicHelperCommit(
  _dev: DrmDevice,
  state: DrmAtomicState,
  nonblock: boolean,
): Promise<number> {
  lockdepAssertHeld(state.dev.modeConfig.connectionMutex);
  let ret = await drmAtomicHelperSetupCommit(state, nonblock);
  if (ret) return ret;
  const work = new DrmCommitWork(state);
  state.commitWork = work;
  ret = await drmAtomicHelperPreparePlanes(state);
  if (ret) return ret;
  // !nonblock: drm_atomic_helper_wait_for_fences() (implicit fences are not modeled)
  ret = await drmAtomicHelperSwapState(state);
  if (ret) {
    await drmAtomicHelperUnpreparePlanes(state);
    return ret;
  }
  // Everything below can be run asynchronously without the need to grab any modeset locks at
  // all under one condition: It must be guaranteed that the asynchronous work has either been
  // cancelled (if the driver supports it, which at least requires that the framebuffers get
  // cleaned up with drm_atomic_helper_cleanup_planes()) or completed before the new state gets
  // committed on the software side with drm_atomic_helper_swap_state().
  await drmAtomicStateGet(state);
  if (nonblock) await queueWork(systemUnboundWq(), work);
  else await commitTail(state);
  return 0;
}

/** Models state->commit_work: runs commit_work(). */
class DrmCommitWork extends WorkStruct {
  constructor(readonly atomicState: DrmAtomicState) {
    super(async () => {
      await commitTail(atomicState);
    }, "commit_work");
  }
}

/**
 * Models commit_tail() (and commit_work(), its worker): waits for the previous commits
 * (drm_atomic_helper_wait_for_dependencies()), runs drm_atomic_helper_commit_tail(), marks the
 * commit cleaned up and puts the tail's state reference (which may free the old states and
 * their framebuffer references).
 * Locking: none held (it may run from a worker).
 * References: drops the tail's state reference.
 */
async function commitTail(state: DrmAtomicState): Promise<void> {
  await point(`commit_tail(${state.name})`);
  state.checkAccess("commit_tail");
  // drm_atomic_helper_wait_for_fences(dev, state, false): not modeled
  await drmAtomicHelperWaitForDependencies(state);
  await drmAtomicHelperCommitTail(state);
  await drmAtomicHelperCommitCleanupDone(state);
  await drmAtomicStatePut(state);
}

/**
 * Models drm_atomic_helper_wait_for_dependencies(): drm_crtc_commit_wait() of each old CRTC and
 * plane state's commit (a timeout is only logged).
 * Locking: none held.
 * References: the old states hold the commits.
 */
async function drmAtomicHelperWaitForDependencies(state: DrmAtomicState): Promise<void> {
  for (const entry of state.crtcs) {
    if (entry) await drmCrtcCommitWait(entry.oldState.commit); // "commit wait timed out"
  }
  for (const entry of state.planes) {
    if (entry) await drmCrtcCommitWait(entry.oldState.commit);
  }
}

/**
 * Models drm_atomic_helper_commit_tail(): modeset disables, planes, modeset enables, the fake
 * vblank (the event), hw_done, the vblank wait (none without vblank support) and
 * drm_atomic_helper_cleanup_planes() (->cleanup_fb of the old plane states).
 * Locking: none held.
 * References: none of its own.
 */
async function drmAtomicHelperCommitTail(state: DrmAtomicState): Promise<void> {
  await drmAtomicHelperCommitModesetDisables(state);
  await drmAtomicHelperCommitPlanes(state);
  await drmAtomicHelperCommitModesetEnables(state);
  await drmAtomicHelperFakeVblank(state);
  await drmAtomicHelperCommitHwDone(state);
  // drm_atomic_helper_wait_for_vblanks(): drm_crtc_vblank_get() fails without vblank support,
  // so no CRTC is waited for.
  await drmAtomicHelperCleanupPlanes(state);
}

/**
 * Models drm_atomic_helper_commit_modeset_disables() (the CRTC part): ->atomic_disable of each
 * CRTC that was active and needs a modeset, then crtc_set_mode(): ->mode_set_nofb of each
 * enabled CRTC whose mode changed (a driver without the hook, as vgem and qxl, gets nothing).
 * Locking: none held.
 * References: none.
 */
async function drmAtomicHelperCommitModesetDisables(state: DrmAtomicState): Promise<void> {
  for (const entry of state.crtcs) {
    if (!entry) continue;
    if (!entry.oldState.active || !drmAtomicCrtcNeedsModeset(entry.newState)) continue;
    await entry.ptr.helperPrivate.atomicDisable?.(entry.ptr, state);
  }
  // crtc_set_mode()
  for (const entry of state.crtcs) {
    if (!entry || !entry.newState.modeChanged) continue;
    const modeSetNofb = entry.ptr.helperPrivate.modeSetNofb;
    if (entry.newState.enable && modeSetNofb) await modeSetNofb(entry.ptr);
  }
}

/**
 * Models drm_atomic_helper_commit_modeset_enables() (the CRTC part): ->atomic_enable of each
 * CRTC that is active and needed a modeset.
 * Locking: none held.
 * References: none.
 */
async function drmAtomicHelperCommitModesetEnables(state: DrmAtomicState): Promise<void> {
  for (const entry of state.crtcs) {
    if (!entry) continue;
    if (!entry.newState.active || !drmAtomicCrtcNeedsModeset(entry.newState)) continue;
    await entry.ptr.helperPrivate.atomicEnable?.(entry.ptr, state);
  }
}

/**
 * Models drm_atomic_helper_commit_planes() with flags 0: each plane that is being disabled gets
 * ->atomic_disable (or ->atomic_update without one), each plane on a CRTC ->atomic_update; then
 * each CRTC's ->atomic_flush.
 * Locking: none held.
 * References: none.
 */
async function drmAtomicHelperCommitPlanes(state: DrmAtomicState): Promise<void> {
  for (const entry of state.planes) {
    if (!entry) continue;
    const funcs = entry.ptr.helperPrivate;
    const oldPlaneState: DrmPlaneState = entry.oldState;
    const newPlaneState: DrmPlaneState = entry.newState;
    // drm_atomic_plane_disabling()
    const disabling = oldPlaneState.crtc !== null && newPlaneState.crtc === null;
    if (disabling && funcs.atomicDisable) await funcs.atomicDisable(entry.ptr, state);
    else if (newPlaneState.crtc || disabling) await funcs.atomicUpdate?.(entry.ptr, state);
  }
  for (const entry of state.crtcs) {
    if (!entry) continue;
    await entry.ptr.helperPrivate.atomicFlush?.(entry.ptr, state);
  }
}

/**
 * Models drm_atomic_helper_fake_vblank(): for each CRTC without vblank support, sends the new
 * state's event (drm_crtc_send_vblank_event()), which completes the commit's flip_done, and
 * clears it.
 * Locking: takes event_lock.
 * References: the event passes to its file (or is freed); its completion_release drops a commit
 * reference.
 */
async function drmAtomicHelperFakeVblank(state: DrmAtomicState): Promise<void> {
  for (const entry of state.crtcs) {
    if (!entry) continue;
    const newCrtcState = entry.newState;
    if (!newCrtcState.noVblank) continue;
    const dev = state.dev;
    await dev.eventLock.lock(); // spin_lock_irqsave()
    newCrtcState.checkAccess("drm_atomic_helper_fake_vblank");
    if (newCrtcState.event) {
      await drmCrtcSendVblankEvent(entry.ptr, newCrtcState.event);
      newCrtcState.event = null;
    }
    dev.eventLock.unlockNow();
  }
}

/**
 * Models drm_atomic_helper_commit_hw_done(): each old CRTC state trades its commit reference for
 * one of the new commit (so the next commit's wait finds it), and the new commit's hw_done
 * completes; the fake commit's hw_done and flip_done too.
 * Locking: none held.
 * References: drops the old state's previous commit reference, takes one of the new commit.
 */
async function drmAtomicHelperCommitHwDone(state: DrmAtomicState): Promise<void> {
  for (const entry of state.crtcs) {
    if (!entry) continue;
    const commit = entry.newState.commit;
    if (!commit) continue;
    // copy new_crtc_state->commit to old_crtc_state->commit, it's unsafe to dereference
    // new_crtc_state->commit after this point.
    if (entry.oldState.commit) await drmCrtcCommitPut(entry.oldState.commit);
    entry.oldState.commit = await drmCrtcCommitGet(commit);
    // backend must have consumed any event by now
    warnOn(entry.newState.event !== null, "drm_atomic_helper_commit_hw_done: event not consumed");
    commit.hwDone.completeAll();
  }
  if (state.fakeCommit) {
    state.fakeCommit.hwDone.completeAll();
    state.fakeCommit.flipDone.completeAll();
  }
}

/**
 * Models drm_atomic_helper_cleanup_planes(): ->cleanup_fb of each old plane state.
 * Locking: none held.
 * References: what the driver's hooks drop (a pin).
 */
async function drmAtomicHelperCleanupPlanes(state: DrmAtomicState): Promise<void> {
  for (const entry of state.planes) {
    if (!entry) continue;
    await entry.ptr.helperPrivate.cleanupFb?.(entry.ptr, entry.oldState);
  }
}

/**
 * Models drm_atomic_helper_commit_cleanup_done(): each old CRTC state's commit (the new commit,
 * after hw_done) completes cleanup_done and leaves its CRTC's commit_list; the fake commit's
 * cleanup_done too.
 * Locking: takes each CRTC's commit_lock.
 * References: none (the list held none).
 */
async function drmAtomicHelperCommitCleanupDone(state: DrmAtomicState): Promise<void> {
  for (const entry of state.crtcs) {
    if (!entry) continue;
    const crtc = entry.ptr;
    const commit = entry.oldState.commit;
    if (warnOn(!commit, "drm_atomic_helper_commit_cleanup_done: no commit")) continue;
    commit!.checkAccess("drm_atomic_helper_commit_cleanup_done");
    commit!.cleanupDone.completeAll();
    warnOn(!commit!.hwDone.completed, "drm_atomic_helper_commit_cleanup_done: !hw_done");
    const lockTaken = crtc.commitLock.lock();
    if (lockTaken !== RESOLVED) await lockTaken;
    const i = crtc.commitList.indexOf(commit!);
    if (i >= 0) crtc.commitList.splice(i, 1);
    commit!.onCommitList = false;
    crtc.commitLock.unlockNow();
  }
  if (state.fakeCommit) {
    state.fakeCommit.cleanupDone.completeAll();
    warnOn(!state.fakeCommit.hwDone.completed, "drm_atomic_helper_commit_cleanup_done: fake");
  }
}

/**
 * Models drm_atomic_helper_disable_all(): one atomic state with every CRTC inactive and without
 * a mode (drm_atomic_set_mode_prop_for_crtc(NULL)), its planes added
 * (drm_atomic_add_affected_planes()) and each moved off its CRTC without a framebuffer, committed
 * blocking (connectors are not modeled: drm_atomic_add_affected_connectors() and
 * drm_atomic_set_crtc_for_connector() have nothing to do). 0, -ENOMEM or the commit's errno.
 * Locking: connection_mutex held (DRM_MODESET_LOCK_ALL_BEGIN() of the caller).
 * References: the state's own, put here; the old plane states' framebuffer references go with
 * the committed state (->cleanup_fb first).
 */
export async function drmAtomicHelperDisableAll(dev: DrmDevice): Promise<number> {
  lockdepAssertHeld(dev.modeConfig.connectionMutex);
  const state = await drmAtomicStateAlloc(dev);
  if (!state) return -ENOMEM;
  let ret = 0;
  free: {
    for (const crtc of dev.modeConfig.crtcList) {
      const crtcState = await drmAtomicGetCrtcState(state, crtc);
      if (isErr(crtcState)) {
        ret = crtcState;
        break free;
      }
      crtcState.active = false;
      drmAtomicSetModeForCrtc(crtcState, null);
      ret = await drmAtomicAddAffectedPlanes(state, crtc);
      if (ret < 0) break free;
    }
    for (const entry of state.planes) {
      if (!entry) continue;
      ret = await drmAtomicSetCrtcForPlane(entry.newState, null);
      if (ret < 0) break free;
      await drmAtomicSetFbForPlane(entry.newState, null);
    }
    ret = await drmAtomicCommit(state);
  }
  await drmAtomicStatePut(state);
  return ret;
}

/**
 * Models drm_atomic_helper_shutdown(): under DRM_MODESET_LOCK_ALL_BEGIN(),
 * drm_atomic_helper_disable_all() (a driver's ->remove or ->shutdown: qxl_pci_remove()). Returns
 * disable_all()'s result (the kernel only prints it: drm_err "Disabling all crtc's during unload
 * failed with %i", not modeled).
 * Locking: takes connection_mutex. References: see drm_atomic_helper_disable_all().
 */
export async function drmAtomicHelperShutdown(dev: DrmDevice): Promise<number> {
  await drmModesetLockAllBegin(dev);
  const ret = await drmAtomicHelperDisableAll(dev);
  return drmModesetLockAllEnd(dev, ret);
}
