/**
 * Modeset locks (drivers/gpu/drm/drm_modeset_lock.c, include/drm/drm_modeset_lock.h of Linux
 * v6.18; the same in v6.12.19), reduced to the one lock the model has: DRM_MODESET_LOCK_ALL_BEGIN()
 * / drm_modeset_lock_all_ctx() takes `mode_config.connection_mutex` and then every CRTC's,
 * plane's and private object's lock; no CRTC, plane or private object is modeled, so it takes
 * connection_mutex alone. The kernel's locks are ww_mutexes under an acquire context that backs
 * off on -EDEADLK; with a single lock no backoff can happen, so the acquire context is not
 * modeled. DRM_MODESET_ACQUIRE_INTERRUPTIBLE's -EINTR on a fatal signal is not modeled either
 * (the lock is taken uninterruptibly).
 */

import { lockdepAssertHeld } from "@primetime/kernel";
import type { DrmDevice } from "./drm-device.js";

/**
 * Models DRM_MODESET_LOCK_ALL_BEGIN(dev, ctx, flags, ret): drm_modeset_acquire_init() and
 * drm_modeset_lock_all_ctx(). Returns 0 (the kernel's `ret`).
 * Locking: takes connection_mutex; DRM_MODESET_LOCK_ALL_END() drops it.
 * References: none.
 */
export async function drmModesetLockAllBegin(dev: DrmDevice): Promise<number> {
  await dev.modeConfig.connectionMutex.lock();
  return 0;
}

/**
 * Models DRM_MODESET_LOCK_ALL_END(dev, ctx, ret): drm_modeset_drop_locks() and
 * drm_modeset_acquire_fini(). Returns `ret`.
 * Locking: connection_mutex held; drops it.
 * References: none.
 */
export async function drmModesetLockAllEnd(dev: DrmDevice, ret: number): Promise<number> {
  lockdepAssertHeld(dev.modeConfig.connectionMutex);
  await dev.modeConfig.connectionMutex.unlock();
  return ret;
}
