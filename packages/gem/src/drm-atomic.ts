/**
 * Atomic modeset state (drivers/gpu/drm/drm_atomic.c and drm_atomic_uapi.c of Linux v6.18; the
 * same in v6.12.19): a `drm_atomic_state` collects the new CRTC and plane states of an update
 * (duplicated from the current ones by drm_atomic_get_crtc_state() / _plane_state()), is
 * checked (drm_atomic_check_only()) and committed by the driver's ->atomic_commit (the helpers'
 * drm_atomic_helper_commit(), drm-atomic-helper.ts), then put; its last put clears it
 * (drm_atomic_state_default_clear(): each state it holds is destroyed, each commit reference
 * dropped) and frees it. A `drm_crtc_commit` (kref) tracks one CRTC's commit: `flip_done`,
 * `hw_done`, `cleanup_done` and the event the commit sends.
 *
 * The state holds a device reference (drm_dev_get()) from drm_atomic_state_init() until it is
 * freed; its per-CRTC and per-plane arrays (kcalloc()s in drm_atomic_state_init()) are part of
 * the one allocation here. No driver of the model has ->atomic_state_alloc. Connector states and
 * private objects are not modeled (a connector's CRTC link is not tracked), nor property blobs
 * of modes (a mode is copied by value), color management, damage clips of plane states, or the
 * acquire context (the model's one modeset lock, connection_mutex, stands for every CRTC and
 * plane lock: drm-modeset-lock.ts).
 */

import { Kref } from "@primetime/atomics";
import {
  EINVAL,
  ENOMEM,
  ENOSPC,
  ERANGE,
  type Errno,
  errPtr,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  SlabObject,
} from "@primetime/kernel";
import { Completion, point, warnOn } from "@primetime/sim";
import type { DrmCrtc, DrmCrtcState, DrmDisplayMode } from "./drm-crtc.js";
import { type DrmDevice, drmDevGet, drmDevPut } from "./drm-device.js";
import { DRIVER_ATOMIC, drmCoreCheckFeature } from "./drm-driver.js";
import { type DrmFramebuffer, drmFramebufferGet, drmFramebufferPut } from "./drm-framebuffer.js";
import { type DrmPlane, type DrmPlaneState, drmPlaneHasFormat } from "./drm-plane.js";
import type { DrmPendingVblankEvent } from "./drm-vblank.js";

/** The slab cache of atomic states (kzalloc'ed by drm_atomic_state_alloc()). */
export const drmAtomicStateCache = new KmemCache("drm_atomic_state");
/** The slab cache of CRTC commits (kzalloc'ed by drm_atomic_helper_setup_commit()). */
export const drmCrtcCommitCache = new KmemCache("drm_crtc_commit");

/**
 * Models struct drm_crtc_commit: one CRTC's commit, from drm_atomic_helper_setup_commit() until
 * its last reference is gone.
 * Locking: `commitEntry` (membership of the CRTC's commit_list) under the CRTC's commit_lock;
 * `event` is set and cleared by the committing task only.
 * References: `ref`, a kref: the new CRTC state's `commit`, the atomic state's `crtcs[i].commit`,
 * the event's completion (release_crtc_commit()), each plane state's `commit`, the old CRTC
 * state's (commit_hw_done()), a stall check's while it waits.
 */
export class DrmCrtcCommit extends SlabObject {
  /** Models crtc (null for a state's fake_commit). */
  crtc: DrmCrtc | null = null;
  /** Models ref. */
  readonly ref: Kref;
  /** Models flip_done: the new state is on screen (its event was sent). */
  readonly flipDone: Completion;
  /** Models hw_done: the hardware was programmed (drm_atomic_helper_commit_hw_done()). */
  readonly hwDone: Completion;
  /** Models cleanup_done: the old state was cleaned up (drm_atomic_helper_commit_cleanup_done()). */
  readonly cleanupDone: Completion;
  /** Models commit_entry: whether the commit is on its CRTC's commit_list. */
  onCommitList = false;
  /** Models event: the event the helpers allocated when userspace asked for none, until swap. */
  event: DrmPendingVblankEvent | null = null;
  /** Models abort_completion: the event's completion holds a reference (setup_commit()). */
  abortCompletion = false;

  constructor() {
    super();
    this.ref = new Kref(this);
    this.flipDone = new Completion(`${this.name}.flip_done`);
    this.hwDone = new Completion(`${this.name}.hw_done`);
    this.cleanupDone = new Completion(`${this.name}.cleanup_done`);
  }
}

/**
 * Models drm_crtc_commit_get().
 * Locking: none; the caller holds a reference (or the CRTC's commit_lock over the list's entry).
 * References: takes one; returns `commit`.
 */
export async function drmCrtcCommitGet(commit: DrmCrtcCommit): Promise<DrmCrtcCommit> {
  await commit.ref.get();
  return commit;
}

/**
 * Models drm_crtc_commit_put(): the last put runs __drm_crtc_commit_free() (kfree()).
 * Locking: none.
 * References: drops one.
 */
export async function drmCrtcCommitPut(commit: DrmCrtcCommit): Promise<void> {
  await commit.ref.put(async () => {
    kfree(commit);
  });
}

/**
 * Models drm_crtc_commit_wait(): waits for `commit`'s hw_done, then its flip_done, each for up
 * to 10 s of virtual time (-ETIMEDOUT after that, with the kernel's drm_err()). 0 for no commit.
 * Locking: none held (it sleeps).
 * References: the caller keeps `commit` alive (a state's reference).
 */
export async function drmCrtcCommitWait(commit: DrmCrtcCommit | null): Promise<number> {
  if (!commit) return 0;
  const timeout = 10_000_000_000; // 10 * HZ
  commit.checkAccess("drm_crtc_commit_wait");
  if (!(await commit.hwDone.waitTimeout(timeout))) return -ETIMEDOUT_ERRNO;
  // Currently no support for overwriting flips, hence stall for previous one to execute
  // completely.
  if (!(await commit.flipDone.waitTimeout(timeout))) return -ETIMEDOUT_ERRNO;
  return 0;
}

/** ETIMEDOUT (asm-generic/errno.h). */
const ETIMEDOUT_ERRNO = 110;

/** Models one entry of drm_atomic_state's crtcs[] (struct __drm_crtcs_state). */
export interface DrmAtomicCrtcEntry {
  ptr: DrmCrtc;
  /** Models state: the new state until drm_atomic_helper_swap_state(), the old one after. */
  state: DrmCrtcState;
  oldState: DrmCrtcState;
  newState: DrmCrtcState;
  /** Models commit: the reference setup_commit() gives the state. */
  commit: DrmCrtcCommit | null;
}

/** Models one entry of drm_atomic_state's planes[] (struct __drm_planes_state). */
export interface DrmAtomicPlaneEntry {
  ptr: DrmPlane;
  state: DrmPlaneState;
  oldState: DrmPlaneState;
  newState: DrmPlaneState;
}

/**
 * Models struct drm_atomic_state (the fields in use).
 * Locking: one task builds and commits it; the commit work owns it after queue_work().
 * References: `ref`, a kref: the allocator's, and the commit tail's (drm_atomic_state_get() in
 * drm_atomic_helper_commit()). It holds a device reference, a state of each CRTC and plane it
 * collected (which hold framebuffer and commit references), and a commit reference per CRTC.
 */
export class DrmAtomicState extends SlabObject {
  /** Models ref. */
  readonly ref: Kref;
  /** Models dev. */
  dev!: DrmDevice;
  /** Models allow_modeset. */
  allowModeset = false;
  /**
   * Models legacy_cursor_update: an update of a cursor plane through the legacy cursor ioctls
   * ("fully unsynced": the commit completes its flip_done at once and sends no event).
   * async_update is not modeled: no plane of the model has ->atomic_async_check.
   */
  legacyCursorUpdate = false;
  /** Models crtcs[] (num_crtc entries, indexed by drm_crtc_index()). */
  crtcs: (DrmAtomicCrtcEntry | null)[] = [];
  /** Models planes[] (num_total_plane entries, indexed by drm_plane_index()). */
  planes: (DrmAtomicPlaneEntry | null)[] = [];
  /** Models fake_commit: the commit of planes on no CRTC. */
  fakeCommit: DrmCrtcCommit | null = null;
  /** Models commit_work: set by drm_atomic_helper_commit() (drm-atomic-helper.ts). */
  commitWork: unknown = null;

  constructor() {
    super();
    this.ref = new Kref(this);
  }
}

/**
 * Models drm_atomic_state_alloc() with drm_atomic_state_init(): a new state with one
 * reference, a device reference and room for every CRTC and plane of the device, or null when
 * the allocation fails.
 * Locking: none.
 * References: returns one; takes a device reference.
 */
export async function drmAtomicStateAlloc(dev: DrmDevice): Promise<DrmAtomicState | null> {
  const state = kmalloc(drmAtomicStateCache, () => new DrmAtomicState());
  if (isErr(state)) return null;
  state.ref.init();
  // TODO legacy paths should maybe do a better job about setting this appropriately?
  state.allowModeset = true;
  state.crtcs = new Array(dev.modeConfig.numCrtc).fill(null);
  state.planes = new Array(dev.modeConfig.numTotalPlane).fill(null);
  await drmDevGet(dev);
  state.dev = dev;
  return state;
}

/**
 * Models drm_atomic_state_get().
 * Locking: none; the caller holds a reference.
 * References: takes one.
 */
export async function drmAtomicStateGet(state: DrmAtomicState): Promise<DrmAtomicState> {
  await state.ref.get();
  return state;
}

/**
 * Models drm_atomic_state_default_clear() (drm_atomic_state_clear() without ->atomic_state_clear):
 * destroys each CRTC state the state holds (->atomic_destroy_state) and drops its commit
 * reference, then each plane state, then the fake commit.
 * Locking: none; the state is its caller's alone.
 * References: drops what the entries hold.
 */
export async function drmAtomicStateDefaultClear(state: DrmAtomicState): Promise<void> {
  for (let i = 0; i < state.crtcs.length; i++) {
    const entry = state.crtcs[i];
    if (!entry) continue;
    await entry.ptr.funcs.atomicDestroyState(entry.ptr, entry.state);
    state.crtcs[i] = null;
    if (entry.commit) await drmCrtcCommitPut(entry.commit);
  }
  for (let i = 0; i < state.planes.length; i++) {
    const entry = state.planes[i];
    if (!entry) continue;
    await entry.ptr.funcs.atomicDestroyState(entry.ptr, entry.state);
    state.planes[i] = null;
  }
  if (state.fakeCommit) {
    await drmCrtcCommitPut(state.fakeCommit);
    state.fakeCommit = null;
  }
}

/**
 * Models __drm_atomic_state_free(), the kref release: drm_atomic_state_clear(), the default
 * release, kfree() and the device reference.
 * Locking: none.
 * References: drops the device reference and what the state holds.
 */
async function drmAtomicStateFree(state: DrmAtomicState): Promise<void> {
  const dev = state.dev;
  await drmAtomicStateDefaultClear(state);
  kfree(state);
  await drmDevPut(dev);
}

/**
 * Models drm_atomic_state_put().
 * Locking: none.
 * References: drops one; the last frees the state.
 */
export async function drmAtomicStatePut(state: DrmAtomicState): Promise<void> {
  await state.ref.put(() => drmAtomicStateFree(state));
}

/**
 * Models drm_atomic_get_crtc_state(): the CRTC's state in `state`, duplicated from its current
 * state (->atomic_duplicate_state) the first time. -ENOMEM when the duplicate fails.
 * Locking: connection_mutex held (it stands for the CRTC's lock, which the kernel takes here).
 * References: the state's entry owns the new CRTC state.
 */
export async function drmAtomicGetCrtcState(
  state: DrmAtomicState,
  crtc: DrmCrtc,
): Promise<DrmCrtcState | Errno> {
  lockdepAssertHeld(state.dev.modeConfig.connectionMutex);
  const index = crtc.index;
  const existing = state.crtcs[index];
  if (existing) return existing.state;
  const crtcState = await crtc.funcs.atomicDuplicateState(crtc);
  if (!crtcState) return errPtr(ENOMEM);
  state.crtcs[index] = {
    ptr: crtc,
    state: crtcState,
    oldState: crtc.state!,
    newState: crtcState,
    commit: null,
  };
  crtcState.state = state;
  return crtcState;
}

/**
 * Models drm_atomic_get_plane_state(): the plane's state in `state`, duplicated from its current
 * state the first time; the CRTC the plane is on joins the state too. -ENOMEM.
 * Locking: connection_mutex held (it stands for the plane's lock).
 * References: the state's entry owns the new plane state (and its framebuffer reference).
 */
export async function drmAtomicGetPlaneState(
  state: DrmAtomicState,
  plane: DrmPlane,
): Promise<DrmPlaneState | Errno> {
  lockdepAssertHeld(state.dev.modeConfig.connectionMutex);
  const index = plane.index;
  const existing = state.planes[index];
  if (existing) return existing.state;
  const planeState = await plane.funcs.atomicDuplicateState(plane);
  if (!planeState) return errPtr(ENOMEM);
  state.planes[index] = {
    ptr: plane,
    state: planeState,
    oldState: plane.state!,
    newState: planeState,
  };
  planeState.state = state;
  if (planeState.crtc) {
    const crtcState = await drmAtomicGetCrtcState(state, planeState.crtc);
    if (isErr(crtcState)) return crtcState;
  }
  return planeState;
}

/**
 * Models drm_atomic_get_new_crtc_state() / drm_atomic_get_existing_crtc_state().
 * Locking: none.
 * References: none.
 */
export function drmAtomicGetNewCrtcState(
  state: DrmAtomicState,
  crtc: DrmCrtc,
): DrmCrtcState | null {
  return state.crtcs[crtc.index]?.newState ?? null;
}

/**
 * Models drm_atomic_get_new_plane_state(): the plane's new state in `state`, or null.
 * Locking: none.
 * References: none.
 */
export function drmAtomicGetNewPlaneState(
  state: DrmAtomicState,
  plane: DrmPlane,
): DrmPlaneState | null {
  return state.planes[plane.index]?.newState ?? null;
}

/**
 * Models drm_atomic_get_old_plane_state(): the plane's old state in `state`, or null.
 * Locking: none.
 * References: none.
 */
export function drmAtomicGetOldPlaneState(
  state: DrmAtomicState,
  plane: DrmPlane,
): DrmPlaneState | null {
  return state.planes[plane.index]?.oldState ?? null;
}

/**
 * Models drm_atomic_set_mode_for_crtc(): copies `mode` into the state and enables it, or
 * disables it for null.
 * Locking: none; the state is the caller's.
 * References: none (the mode blob is not modeled: the mode is copied).
 */
export function drmAtomicSetModeForCrtc(
  crtcState: DrmCrtcState,
  mode: DrmDisplayMode | null,
): number {
  if (mode) {
    crtcState.mode = { ...mode };
    crtcState.enable = true;
  } else {
    crtcState.mode = null;
    crtcState.enable = false;
  }
  return 0;
}

/**
 * Models drm_atomic_set_crtc_for_plane(): moves the plane to `crtc` (null: none), updating the
 * `plane_mask` of the old and the new CRTC's state (both join the state).
 * Locking: connection_mutex held (drm_atomic_get_crtc_state()).
 * References: none.
 */
export async function drmAtomicSetCrtcForPlane(
  planeState: DrmPlaneState,
  crtc: DrmCrtc | null,
): Promise<number> {
  lockdepAssertHeld(planeState.plane.dev.modeConfig.connectionMutex);
  const plane = planeState.plane;
  // Nothing to do for same crtc
  if (planeState.crtc === crtc) return 0;
  if (planeState.crtc) {
    const crtcState = await drmAtomicGetCrtcState(planeState.state!, planeState.crtc);
    if (warnOn(isErr(crtcState), "drm_atomic_set_crtc_for_plane")) return crtcState as Errno;
    (crtcState as DrmCrtcState).planeMask &= ~drmPlaneMask(plane);
  }
  planeState.crtc = crtc;
  if (crtc) {
    const crtcState = await drmAtomicGetCrtcState(planeState.state!, crtc);
    if (isErr(crtcState)) return crtcState;
    crtcState.planeMask |= drmPlaneMask(plane);
  }
  return 0;
}

/**
 * Models drm_atomic_set_fb_for_plane(): drm_framebuffer_assign() of the plane state's `fb`.
 * Locking: none; the state is the caller's.
 * References: takes one of `fb`, drops the state's old one.
 */
export async function drmAtomicSetFbForPlane(
  planeState: DrmPlaneState,
  fb: DrmFramebuffer | null,
): Promise<void> {
  // drm_framebuffer_assign(&plane_state->fb, fb)
  if (fb) await drmFramebufferGet(fb);
  const old = planeState.fb;
  planeState.fb = fb;
  if (old) await drmFramebufferPut(old);
}

/**
 * Models __drm_atomic_helper_disable_plane(): the plane state off (no CRTC, no framebuffer) with
 * its rectangles zeroed. 0 or drm_atomic_set_crtc_for_plane()'s errno.
 * Locking: connection_mutex held (drm_atomic_set_crtc_for_plane()).
 * References: drops the state's framebuffer reference.
 */
export async function __drmAtomicHelperDisablePlane(
  _plane: DrmPlane,
  planeState: DrmPlaneState,
): Promise<number> {
  lockdepAssertHeld(planeState.plane.dev.modeConfig.connectionMutex);
  const ret = await drmAtomicSetCrtcForPlane(planeState, null);
  if (ret !== 0) return ret;
  await drmAtomicSetFbForPlane(planeState, null);
  planeState.crtcX = 0;
  planeState.crtcY = 0;
  planeState.crtcW = 0;
  planeState.crtcH = 0;
  planeState.srcX = 0;
  planeState.srcY = 0;
  planeState.srcW = 0;
  planeState.srcH = 0;
  return 0;
}

/**
 * Models drm_atomic_add_affected_planes(): every plane on `crtc` in its old state (`plane_mask`)
 * joins `state`. 0 or drm_atomic_get_plane_state()'s errno.
 * Locking: connection_mutex held (it stands for the planes' locks).
 * References: the state's entries own the new plane states.
 */
export async function drmAtomicAddAffectedPlanes(
  state: DrmAtomicState,
  crtc: DrmCrtc,
): Promise<number> {
  lockdepAssertHeld(state.dev.modeConfig.connectionMutex);
  const entry = state.crtcs[crtc.index];
  warnOn(!entry, "drm_atomic_add_affected_planes: CRTC not in the state");
  if (!entry) return 0;
  const oldCrtcState = entry.oldState;
  for (const plane of state.dev.modeConfig.planeList) {
    if ((oldCrtcState.planeMask & drmPlaneMask(plane)) === 0) continue;
    const planeState = await drmAtomicGetPlaneState(state, plane);
    if (isErr(planeState)) return planeState;
  }
  return 0;
}

/** Models drm_plane_mask(). */
export function drmPlaneMask(plane: DrmPlane): number {
  return 1 << plane.index;
}

/** Models drm_crtc_mask(). */
export function drmCrtcMask(crtc: DrmCrtc): number {
  return 1 << crtc.index;
}

/**
 * Models drm_atomic_crtc_needs_modeset().
 * Locking: none.
 * References: none.
 */
export function drmAtomicCrtcNeedsModeset(crtcState: DrmCrtcState): boolean {
  return crtcState.modeChanged || crtcState.activeChanged || crtcState.connectorsChanged;
}

const INT_MAX = 0x7fff_ffff;

/**
 * Models drm_atomic_plane_check(): a plane state needs both a CRTC and a framebuffer or neither
 * (-EINVAL), a CRTC it can be on and a format it supports (-EINVAL), CRTC coordinates that do
 * not overflow (-ERANGE) and source coordinates inside the framebuffer (-ENOSPC).
 * Locking: none.
 * References: none.
 */
function drmAtomicPlaneCheck(newPlaneState: DrmPlaneState): number {
  const plane = newPlaneState.plane;
  const crtc = newPlaneState.crtc;
  const fb = newPlaneState.fb;
  // either *both* CRTC and FB must be set, or neither
  if (crtc && !fb) return -EINVAL;
  if (fb && !crtc) return -EINVAL;
  // if disabled, we don't care about the rest of the state:
  if (!crtc || !fb) return 0;
  // Check whether this plane is usable on this CRTC
  if (!(plane.possibleCrtcs & drmCrtcMask(crtc))) return -EINVAL;
  // Check whether this plane supports the fb pixel format.
  if (!drmPlaneHasFormat(plane, fb.format!.format, fb.modifier)) return -EINVAL;
  // Give drivers some help against integer overflows
  if (
    newPlaneState.crtcW > INT_MAX ||
    newPlaneState.crtcX > INT_MAX - newPlaneState.crtcW ||
    newPlaneState.crtcH > INT_MAX ||
    newPlaneState.crtcY > INT_MAX - newPlaneState.crtcH
  )
    return -ERANGE;
  const fbWidth = fb.width * 65536;
  const fbHeight = fb.height * 65536;
  // Make sure source coordinates are inside the fb.
  if (
    newPlaneState.srcW > fbWidth ||
    newPlaneState.srcX > fbWidth - newPlaneState.srcW ||
    newPlaneState.srcH > fbHeight ||
    newPlaneState.srcY > fbHeight - newPlaneState.srcH
  )
    return -ENOSPC;
  return 0;
}

/**
 * Models drm_atomic_crtc_check(): an active CRTC must be enabled, an enabled one (of an atomic
 * driver) needs a mode and a disabled one has none, and an event needs the CRTC on before or
 * after (-EINVAL each).
 * Locking: none.
 * References: none.
 */
function drmAtomicCrtcCheck(
  dev: DrmDevice,
  oldCrtcState: DrmCrtcState,
  newCrtcState: DrmCrtcState,
): number {
  // NOTE: we explicitly don't enforce constraints such as primary layer covering entire screen
  // or that cursor has to be enabled if any of the other planes are.
  if (newCrtcState.active && !newCrtcState.enable) return -EINVAL;
  // The state->enable vs. state->mode_blob checks can be WARN_ON, as this is all handled by
  // the helpers (drm_atomic_set_mode_for_crtc()).
  if (drmCoreCheckFeature(dev, DRIVER_ATOMIC) && newCrtcState.enable && !newCrtcState.mode)
    return -EINVAL;
  if (drmCoreCheckFeature(dev, DRIVER_ATOMIC) && !newCrtcState.enable && newCrtcState.mode)
    return -EINVAL;
  // Reject event generation for when a CRTC is off and stays off.
  if (newCrtcState.event && !newCrtcState.active && !oldCrtcState.active) return -EINVAL;
  return 0;
}

/**
 * Models drm_atomic_check_only(): every plane state (drm_atomic_plane_check()) and CRTC state
 * (drm_atomic_crtc_check()), then the driver's ->atomic_check (drm_atomic_helper_check() for
 * every driver of the model: drm-atomic-helper.ts), then, for a state that must not modeset
 * (legacy page flips), -EINVAL for a CRTC that needs one.
 * Locking: connection_mutex held.
 * References: none.
 */
export async function drmAtomicCheckOnly(state: DrmAtomicState): Promise<number> {
  const dev = state.dev;
  lockdepAssertHeld(dev.modeConfig.connectionMutex);
  await point(`drm_atomic_check_only(${state.name})`);
  for (const entry of state.planes) {
    if (!entry) continue;
    const ret = drmAtomicPlaneCheck(entry.newState);
    if (ret) return ret;
  }
  for (const entry of state.crtcs) {
    if (!entry) continue;
    const ret = drmAtomicCrtcCheck(dev, entry.oldState, entry.newState);
    if (ret) return ret;
  }
  const check = dev.modeConfig.funcs?.atomicCheck;
  if (check) {
    const ret = await check(dev, state);
    if (ret) return ret;
  }
  if (!state.allowModeset) {
    for (const entry of state.crtcs) {
      if (entry && drmAtomicCrtcNeedsModeset(entry.newState)) return -EINVAL;
    }
  }
  return 0;
}

/**
 * Models drm_atomic_commit(): drm_atomic_check_only(), then the driver's ->atomic_commit
 * (blocking). A state that holds no CRTC or plane state (DIRTYFB's, or any state on a device
 * without CRTCs) finds nothing to check or program: one point stands for it and it returns 0.
 * Locking: takes none; for a state that holds CRTC or plane states the caller holds
 * connection_mutex (drm_atomic_check_only() asserts it).
 * References: none (the caller keeps its state reference).
 */
export async function drmAtomicCommit(state: DrmAtomicState): Promise<number | Errno> {
  if (isEmptyState(state)) {
    await point(`drm_atomic_commit(${state.name})`);
    return 0;
  }
  const ret = await drmAtomicCheckOnly(state);
  if (ret) return ret;
  return state.dev.modeConfig.funcs!.atomicCommit!(state.dev, state, false);
}

/**
 * Models drm_atomic_nonblocking_commit(): drm_atomic_check_only(), then ->atomic_commit with
 * `nonblock`: the commit tail runs from a worker.
 * Locking: connection_mutex held.
 * References: none (the commit takes its own state reference).
 */
export async function drmAtomicNonblockingCommit(state: DrmAtomicState): Promise<number> {
  const ret = await drmAtomicCheckOnly(state);
  if (ret) return ret;
  return state.dev.modeConfig.funcs!.atomicCommit!(state.dev, state, true);
}

function isEmptyState(state: DrmAtomicState): boolean {
  return state.crtcs.every((e) => e === null) && state.planes.every((e) => e === null);
}
