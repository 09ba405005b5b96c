/**
 * The KMS configuration of a device (drivers/gpu/drm/drm_mode_config.c, include/drm/
 * drm_mode_config.h of Linux v6.18; GETRESOURCES reads the same in v6.12.19): the mode object idr
 * under `idr_mutex`, the framebuffer list under `fb_lock`, the property blobs under `blob_lock`
 * (DIRTYFB's damage clips), `connection_mutex` (the one modeset lock: DRM_MODESET_LOCK_ALL_BEGIN()
 * takes it, and it stands for every CRTC's and plane's lock too), the CRTCs, planes and
 * connectors a KMS driver creates at load (drm-crtc.ts, drm-plane.ts, drm-connector.ts), the size
 * limits, legacy ADDFB's quirks and the driver's `fb_create`, `atomic_check` and
 * `atomic_commit`. DRM_IOCTL_MODE_GETRESOURCES lists the file's framebuffers and the device's
 * CRTCs and connectors. Encoders are not modeled (GETRESOURCES reports none).
 */

import { copyU32sToUser, EFAULT, EOPNOTSUPP, type Errno, Idr, Mutex } from "@primetime/kernel";
import type { DrmModeCardRes } from "@primetime/uapi";
import type { DrmAtomicState } from "./drm-atomic.js";
import type { DrmConnector } from "./drm-connector.js";
import type { DrmCrtc } from "./drm-crtc.js";
import type { DrmDevice } from "./drm-device.js";
import { DRIVER_MODESET, drmCoreCheckFeature } from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";
import type { DrmFormatInfo } from "./drm-fourcc.js";
import type { DrmFramebuffer } from "./drm-framebuffer.js";
import { drmLeaseHeld } from "./drm-lease.js";
import type { DrmModeObject } from "./drm-mode-object.js";
import type { DrmPlane } from "./drm-plane.js";
import type { DrmModeFbCmd2 } from "./uapi.js";

/** Models struct drm_mode_config_funcs (the hook in use). */
export interface DrmModeConfigFuncs {
  /**
   * Models ->fb_create: a framebuffer for a validated ADDFB2 request (`info` is the format's
   * description), initialized with drmFramebufferInit() and holding one reference (the
   * caller's), or a negative errno.
   */
  fbCreate(
    dev: DrmDevice,
    file: DrmFile,
    info: DrmFormatInfo,
    cmd: DrmModeFbCmd2,
  ): Promise<DrmFramebuffer | Errno>;
  /** Models ->atomic_check (drm_atomic_helper_check() for every driver with CRTCs). */
  atomicCheck?(dev: DrmDevice, state: DrmAtomicState): Promise<number>;
  /** Models ->atomic_commit (drm_atomic_helper_commit() for every driver with CRTCs). */
  atomicCommit?(dev: DrmDevice, state: DrmAtomicState, nonblock: boolean): Promise<number>;
}

/**
 * Models struct drm_mode_config (the fields in use). drmm_mode_config_init() state: every
 * device has one; a KMS driver sets `funcs` and the limits at load (qxl_modeset_init()...).
 */
export class DrmModeConfig {
  /** Models idr_mutex: protects object_idr. */
  readonly idrMutex: Mutex;
  /** Models object_idr: mode object ids (from 1); the entries hold no reference. */
  readonly objectIdr: Idr<DrmModeObject>;
  /** Models fb_lock: protects fb_list and num_fb. */
  readonly fbLock: Mutex;
  /** Models fb_list: every framebuffer of the device. */
  readonly fbList = new Set<DrmFramebuffer>();
  /** Models num_fb. */
  numFb = 0;
  /** Models min_width, min_height, max_width, max_height (0: not set up). */
  minWidth = 0;
  minHeight = 0;
  maxWidth = 0;
  maxHeight = 0;
  /** Models blob_lock: protects property_blob_list. */
  readonly blobLock: Mutex;
  /** Models property_blob_list: every property blob of the device. */
  readonly propertyBlobList = new Set<object>();
  /**
   * Models connection_mutex (a drm_modeset_lock, a ww_mutex in the kernel; a plain mutex here:
   * it is the only modeset lock, so no acquire context ever backs off).
   */
  readonly connectionMutex: Mutex;
  /** Models quirk_addfb_prefer_xbgr_30bpp (legacy ADDFB's 32/30 gives XBGR2101010). */
  quirkAddfbPreferXbgr30bpp = false;
  /** Models fb_modifiers_not_supported. */
  fbModifiersNotSupported = false;
  /** Models funcs: null until a KMS driver sets it. */
  funcs: DrmModeConfigFuncs | null = null;
  /** Models crtc_list and num_crtc: the CRTCs, by index (fixed after load). */
  readonly crtcList: DrmCrtc[] = [];
  numCrtc = 0;
  /** Models plane_list and num_total_plane (fixed after load). */
  readonly planeList: DrmPlane[] = [];
  numTotalPlane = 0;
  /** Models connector_list and num_connector (fixed after load: no hotplug). */
  readonly connectorList: DrmConnector[] = [];
  numConnector = 0;
  /** Models async_page_flip: no device of the model supports async flips. */
  asyncPageFlip = false;

  constructor(owner: { name: string }) {
    this.idrMutex = new Mutex("mode_config.idr_mutex", { owner });
    this.objectIdr = new Idr<DrmModeObject>("mode_config.object_idr", {
      lock: this.idrMutex,
      base: 1,
    });
    this.fbLock = new Mutex("mode_config.fb_lock", { owner });
    this.blobLock = new Mutex("mode_config.blob_lock", { owner });
    this.connectionMutex = new Mutex("mode_config.connection_mutex", { owner });
  }
}

/**
 * Models drm_mode_getresources(): GETRESOURCES: the ids of the file's framebuffers (under its
 * fbs_lock), the size limits, the CRTCs' ids, none for encoders (not modeled) and the
 * connectors' ids, each array written while its count leaves room (-EFAULT), and each count.
 * -EOPNOTSUPP without DRIVER_MODESET.
 * Locking: takes the file's fbs_lock; the CRTC and connector lists are fixed after load.
 * References: none.
 */
export async function drmModeGetresources(
  dev: DrmDevice,
  r: DrmModeCardRes,
  file: DrmFile,
): Promise<number> {
  const config = dev.modeConfig;
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  await file.fbsLock.lock();
  let count = 0;
  for (const fb of file.fbs) {
    if (count < r.count_fbs && (await copyU32sToUser(r.fb_id_ptr + 4 * count, [fb.base.id]))) {
      await file.fbsLock.unlock();
      return -EFAULT;
    }
    count++;
  }
  r.count_fbs = count;
  await file.fbsLock.unlock();
  r.max_height = config.maxHeight;
  r.min_height = config.minHeight;
  r.max_width = config.maxWidth;
  r.min_width = config.minWidth;
  count = 0;
  for (const crtc of config.crtcList) {
    if (await drmLeaseHeld(file, crtc.base.id)) {
      if (
        count < r.count_crtcs &&
        (await copyU32sToUser(r.crtc_id_ptr + 4 * count, [crtc.base.id]))
      )
        return -EFAULT;
      count++;
    }
  }
  r.count_crtcs = count;
  r.count_encoders = 0; // no encoder is modeled
  count = 0;
  for (const connector of config.connectorList) {
    if (await drmLeaseHeld(file, connector.base.id)) {
      if (
        count < r.count_connectors &&
        (await copyU32sToUser(r.connector_id_ptr + 4 * count, [connector.base.id]))
      )
        return -EFAULT;
      count++;
    }
  }
  r.count_connectors = count;
  return 0;
}
