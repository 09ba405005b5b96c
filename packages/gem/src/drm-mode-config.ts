/**
 * The KMS configuration of a device (drivers/gpu/drm/drm_mode_config.c, include/drm/
 * drm_mode_config.h), reduced to what framebuffers need: the mode object idr under `idr_mutex`,
 * the framebuffer list under `fb_lock`, the property blobs under `blob_lock` (DIRTYFB's damage
 * clips), `connection_mutex` (the one modeset lock: DRM_MODESET_LOCK_ALL_BEGIN() takes it, and
 * no CRTC or plane lock exists to take after it), the size limits, legacy ADDFB's quirks and the
 * driver's `fb_create`. CRTCs, planes, connectors and atomic state are not modeled.
 */

import { type Errno, Idr, Mutex } from "@primetime/kernel";
import type { DrmDevice } from "./drm-device.js";
import type { DrmFile } from "./drm-file.js";
import type { DrmFormatInfo } from "./drm-fourcc.js";
import type { DrmFramebuffer } from "./drm-framebuffer.js";
import type { DrmModeObject } from "./drm-mode-object.js";
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
