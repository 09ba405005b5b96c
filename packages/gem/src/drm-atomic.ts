/**
 * Atomic modeset state (drivers/gpu/drm/drm_atomic.c of Linux v6.18; the same in v6.12.19),
 * reduced to what drm_atomic_helper_dirtyfb() does with a state when no plane scans its
 * framebuffer out (no CRTC or plane is modeled): allocate it, commit it empty, put it. The
 * state holds a device reference (drm_dev_get()) from drm_atomic_state_init() until it is
 * freed; its per-CRTC and per-plane arrays (two kcalloc()s in drm_atomic_state_init()) are part
 * of the one allocation here. No driver of the model has ->atomic_state_alloc.
 */

import { Kref } from "@primetime/atomics";
import { type Errno, isErr, KmemCache, kfree, kmalloc, SlabObject } from "@primetime/kernel";
import { point } from "@primetime/sim";
import { type DrmDevice, drmDevGet, drmDevPut } from "./drm-device.js";

/** The slab cache of atomic states (kzalloc'ed by drm_atomic_state_alloc()). */
export const drmAtomicStateCache = new KmemCache("drm_atomic_state");

/**
 * Models struct drm_atomic_state (the fields in use).
 * Locking: none; one task builds and commits it.
 * References: `ref`, a kref: the allocator's (a nonblocking commit would take its own).
 */
export class DrmAtomicState extends SlabObject {
  /** Models ref. */
  readonly ref: Kref;
  /** Models dev. */
  dev!: DrmDevice;
  /** Models allow_modeset. */
  allowModeset = false;

  constructor() {
    super();
    this.ref = new Kref(this);
  }
}

/**
 * Models drm_atomic_state_alloc() with drm_atomic_state_init(): a new state with one
 * reference and a device reference, or null when the allocation fails.
 * Locking: none.
 * References: returns one; takes a device reference.
 */
export async function drmAtomicStateAlloc(dev: DrmDevice): Promise<DrmAtomicState | null> {
  const state = kmalloc(drmAtomicStateCache, () => new DrmAtomicState());
  if (isErr(state)) return null;
  state.ref.init();
  // TODO legacy paths should maybe do a better job about setting this appropriately?
  state.allowModeset = true;
  await drmDevGet(dev);
  state.dev = dev;
  return state;
}

/**
 * Models __drm_atomic_state_free(), the kref release: drm_atomic_state_clear() (nothing to
 * clear without CRTCs or planes), the default release, kfree() and the device reference.
 * Locking: none.
 * References: drops the device reference.
 */
async function drmAtomicStateFree(state: DrmAtomicState): Promise<void> {
  const dev = state.dev;
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
 * Models drm_atomic_commit() of a state that holds no CRTC, plane or connector state:
 * drm_atomic_check_only() and the driver's ->atomic_commit find nothing to check or program
 * (one point stands for them). Returns 0.
 * Locking: none held beyond the caller's modeset locks.
 * References: none.
 */
export async function drmAtomicCommit(state: DrmAtomicState): Promise<number | Errno> {
  await point(`drm_atomic_commit(${state.name})`);
  return 0;
}
