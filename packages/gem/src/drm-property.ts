/**
 * Property blobs (drivers/gpu/drm/drm_property.c of Linux v6.18; the same in v6.12.19): the
 * refcounted mode objects that carry a property's data, here only as DIRTYFB's damage clips
 * (drm_atomic_helper_dirtyfb() makes one per call and puts it before returning). Properties
 * themselves, userspace's CREATEPROPBLOB/DESTROYPROPBLOB and the file's blob list
 * (`head_file`) are not modeled.
 *
 * Locking: the device's `property_blob_list` under `mode_config.blob_lock`; the id under
 * `idr_mutex` (drm-mode-object.ts).
 */

import {
  EINVAL,
  ENOMEM,
  type Errno,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  SlabObject,
} from "@primetime/kernel";
import type { DrmDevice } from "./drm-device.js";
import {
  DrmModeObject,
  drmModeObjectAdd,
  drmModeObjectGet,
  drmModeObjectPut,
  drmModeObjectUnregister,
} from "./drm-mode-object.js";

/** Models DRM_MODE_OBJECT_BLOB. */
export const DRM_MODE_OBJECT_BLOB = 0xbbbbbbbb;

/** Models INT_MAX - sizeof(struct drm_property_blob): the largest blob length. */
const BLOB_MAX_LENGTH = 0x7fff_ffff - 64;

/** The slab cache of property blobs (kvzalloc'ed with their data). */
export const drmPropertyBlobCache = new KmemCache("drm_property_blob");

/**
 * Models struct drm_property_blob (the fields in use).
 * Locking: `dev`'s property_blob_list under blob_lock.
 * References: `base.refcount`: the creator's and each user's; the idr holds none.
 */
export class DrmPropertyBlob extends SlabObject {
  /** Models base: the mode object (id, refcount). */
  readonly base: DrmModeObject;
  /** Models dev. */
  dev!: DrmDevice;
  /** Models length. */
  length = 0;
  /** Models data (what the model keeps of it). */
  data: unknown = null;

  constructor() {
    super();
    this.base = new DrmModeObject(this);
  }
}

/**
 * Models drm_property_free_blob(), the kref release: off the device's list, the id freed,
 * kvfree().
 * Locking: takes blob_lock, then idr_mutex.
 * References: the blob's last is gone.
 */
async function drmPropertyFreeBlob(blob: DrmPropertyBlob): Promise<void> {
  const config = blob.dev.modeConfig;
  await config.blobLock.lock();
  config.propertyBlobList.delete(blob);
  await config.blobLock.unlock();
  await drmModeObjectUnregister(blob.dev, blob.base);
  kfree(blob);
}

/**
 * Models drm_property_create_blob(): a blob of `length` bytes holding `data`, registered with
 * an id and on the device's list. -EINVAL for a zero or too large length, -ENOMEM when the
 * allocation fails, -EINVAL (not the idr's errno) when no id can be had.
 * Locking: takes idr_mutex, then blob_lock.
 * References: returns the blob with one, the caller's.
 */
export async function drmPropertyCreateBlob(
  dev: DrmDevice,
  length: number,
  data: unknown,
): Promise<DrmPropertyBlob | Errno> {
  if (!length || length > BLOB_MAX_LENGTH) return -EINVAL as Errno;
  const blob = kmalloc(drmPropertyBlobCache, () => new DrmPropertyBlob());
  if (isErr(blob)) return -ENOMEM as Errno;
  blob.length = length;
  blob.dev = dev;
  blob.data = data;
  const ret = await drmModeObjectAdd(dev, blob.base, DRM_MODE_OBJECT_BLOB, true, () =>
    drmPropertyFreeBlob(blob),
  );
  if (ret) {
    kfree(blob);
    return -EINVAL as Errno;
  }
  const config = dev.modeConfig;
  await config.blobLock.lock();
  config.propertyBlobList.add(blob);
  await config.blobLock.unlock();
  return blob;
}

/**
 * Models drm_property_blob_get().
 * Locking: none; the caller holds a reference.
 * References: takes one.
 */
export async function drmPropertyBlobGet(blob: DrmPropertyBlob): Promise<DrmPropertyBlob> {
  await drmModeObjectGet(blob.base);
  return blob;
}

/**
 * Models drm_property_blob_put(): NULL is allowed; the last put frees the blob.
 * Locking: none.
 * References: drops one.
 */
export async function drmPropertyBlobPut(blob: DrmPropertyBlob | null): Promise<void> {
  if (!blob) return;
  await drmModeObjectPut(blob.base);
}
