/**
 * KMS mode objects (drivers/gpu/drm/drm_mode_object.c): the ids userspace names CRTCs, planes,
 * framebuffers... by, in the device's `mode_config.object_idr` under `idr_mutex`. Framebuffers
 * and connectors are refcounted: their `refcount` is a kref whose release is `free_cb`; CRTCs and
 * planes are not (they live as long as their device). The idr holds no reference, so a lookup takes one with kref_get_unless_zero() under
 * `idr_mutex`. An object is added with a NULL idr entry and published by
 * drm_mode_object_register() once it is set up.
 */

import { Kref } from "@primetime/atomics";
import { RESOLVED } from "@primetime/sim";
import type { DrmDevice } from "./drm-device.js";
import type { DrmFile } from "./drm-file.js";
import { drmLeaseHeldLocked, drmModeObjectLeaseRequired } from "./drm-lease.js";

/** Models DRM_MODE_OBJECT_CRTC. */
export const DRM_MODE_OBJECT_CRTC = 0xcccccccc;
/** Models DRM_MODE_OBJECT_CONNECTOR. */
export const DRM_MODE_OBJECT_CONNECTOR = 0xc0c0c0c0;
/** Models DRM_MODE_OBJECT_FB. */
export const DRM_MODE_OBJECT_FB = 0xfbfbfbfb;
/** Models DRM_MODE_OBJECT_PLANE. */
export const DRM_MODE_OBJECT_PLANE = 0xeeeeeeee;
/** Models DRM_MODE_OBJECT_ANY. */
export const DRM_MODE_OBJECT_ANY = 0;

/**
 * Models struct drm_mode_object: `id` (0 once unregistered), `type`, and for refcounted objects
 * `refcount` and `freeCb` (the kref release).
 * Locking: the idr entry under mode_config.idr_mutex.
 * References: `refcount` counts the object's users; the idr holds none.
 */
export class DrmModeObject {
  /** Models id. */
  id = 0;
  /** Models type. */
  type = 0;
  /** Models refcount. */
  readonly refcount: Kref;
  /** Models free_cb. */
  freeCb: (() => Promise<void>) | null = null;
  /** What embeds it (the framebuffer), for obj_to_fb(). */
  readonly owner: object;

  constructor(owner: object & { name: string }) {
    this.owner = owner;
    this.refcount = new Kref(owner);
  }
}

/**
 * Models __drm_mode_object_add(): reserves an id for `obj` (the entry is NULL unless
 * `registerObj`), sets its type and, for a refcounted object, its kref (one reference, the
 * caller's) and release. Returns 0 or a negative errno.
 * Locking: takes mode_config.idr_mutex.
 * References: a refcounted object starts with one, the caller's.
 */
export async function drmModeObjectAdd(
  dev: DrmDevice,
  obj: DrmModeObject,
  objType: number,
  registerObj: boolean,
  freeCb: (() => Promise<void>) | null,
): Promise<number> {
  const config = dev.modeConfig;
  const idrMutexTaken = config.idrMutex.lock();
  if (idrMutexTaken !== RESOLVED) await idrMutexTaken;
  const ret = await config.objectIdr.alloc(registerObj ? obj : null, 1, 0);
  if (ret >= 0) {
    // Set up the object linking under the protection of the idr lock so that other users
    // can't see inconsistent state.
    obj.id = ret;
    obj.type = objType;
    if (freeCb) {
      obj.freeCb = freeCb;
      obj.refcount.init();
    }
  }
  config.idrMutex.unlockNow();
  return Math.min(ret, 0);
}

/**
 * Models drm_mode_object_register(): publishes an object added without registering it.
 * Locking: takes mode_config.idr_mutex.
 * References: none.
 */
export async function drmModeObjectRegister(dev: DrmDevice, obj: DrmModeObject): Promise<void> {
  const config = dev.modeConfig;
  const idrMutexTaken2 = config.idrMutex.lock();
  if (idrMutexTaken2 !== RESOLVED) await idrMutexTaken2;
  await config.objectIdr.replace(obj, obj.id);
  config.idrMutex.unlockNow();
}

/**
 * Models drm_mode_object_unregister(): frees the object's id, if it still has one, so lookups
 * fail from here on.
 * Locking: takes mode_config.idr_mutex.
 * References: none (the idr held none).
 */
export async function drmModeObjectUnregister(dev: DrmDevice, obj: DrmModeObject): Promise<void> {
  const config = dev.modeConfig;
  const idrMutexTaken3 = config.idrMutex.lock();
  if (idrMutexTaken3 !== RESOLVED) await idrMutexTaken3;
  if (obj.id) {
    await config.objectIdr.remove(obj.id);
    obj.id = 0;
  }
  config.idrMutex.unlockNow();
}

/**
 * Models __drm_mode_object_find(): the object of `id` and `type` with a reference (a refcounted
 * object whose count already hit zero is not found), or null. A CRTC, plane or connector the
 * file's master does not hold (a lessee's lookup of an object outside its lease: _drm_lease_held())
 * is not found either.
 * Locking: takes mode_config.idr_mutex; _drm_lease_held() takes the file's master_lookup_lock.
 * References: returns one for a refcounted object, which the caller puts.
 */
export async function drmModeObjectFind(
  dev: DrmDevice,
  file: DrmFile | null,
  id: number,
  type: number,
): Promise<DrmModeObject | null> {
  const config = dev.modeConfig;
  const idrMutexTaken4 = config.idrMutex.lock();
  if (idrMutexTaken4 !== RESOLVED) await idrMutexTaken4;
  let obj = await config.objectIdr.find(id);
  if (obj && type !== DRM_MODE_OBJECT_ANY && obj.type !== type) obj = null;
  if (obj && obj.id !== id) obj = null;
  if (obj && drmModeObjectLeaseRequired(obj.type) && !(await drmLeaseHeldLocked(dev, file, obj.id)))
    obj = null;
  if (obj?.freeCb) {
    if (!(await obj.refcount.getUnlessZero())) obj = null;
  }
  config.idrMutex.unlockNow();
  return obj;
}

/**
 * Models drm_mode_object_put(): drops a reference of a refcounted object; the last one calls
 * its free_cb.
 * Locking: none.
 * References: drops one.
 */
export async function drmModeObjectPut(obj: DrmModeObject): Promise<void> {
  const free = obj.freeCb;
  if (free) await obj.refcount.put(() => free());
}

/**
 * Models drm_mode_object_get().
 * Locking: none; the caller holds a reference.
 * References: takes one.
 */
export async function drmModeObjectGet(obj: DrmModeObject): Promise<void> {
  if (obj.freeCb) await obj.refcount.get();
}
