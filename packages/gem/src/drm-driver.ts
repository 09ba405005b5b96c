/**
 * struct drm_driver and struct drm_gem_object_funcs (include/drm/drm_drv.h, drm_gem.h,
 * drm_ioctl.h): what a driver tells the DRM core about itself.
 *
 * A driver is a plain description object: its name and version, its feature bits, its ioctl
 * table, and the hooks the core calls (per-file open/postclose, PRIME import, dumb buffers).
 * GEM objects carry their own function table (`GemObject.funcs`), as in the kernel since 5.x.
 *
 * Hooks return a negative errno on failure. Hooks that produce a value return it, or a negative
 * errno (`T | Errno` for objects; a number for fds, handles and offsets, which are never
 * negative on success).
 */

import {
  type DmaBuf,
  type DmaBufAttachment,
  DmaDataDirection,
  type SgTable,
} from "@primetime/dma-buf";
import type { Errno, FileOperations, Vma, VmOperations } from "@primetime/kernel";
import type { DrmDevice } from "./drm-device.js";
import type { DrmFile } from "./drm-file.js";
import type { GemObject } from "./drm-gem.js";
import type { DrmModeCreateDumb, DrmStructLayout } from "./uapi.js";
import { DRM_COMMAND_BASE, DRM_IOCTL_NR } from "./uapi.js";

// ---- Driver features (enum drm_driver_feature) -------------------------------------------------

/** Models DRIVER_GEM: the driver uses the GEM memory manager (handles, names, PRIME). */
export const DRIVER_GEM = 1 << 0;
/** Models DRIVER_MODESET: the driver supports mode setting (KMS); enables the KMS-only caps. */
export const DRIVER_MODESET = 1 << 1;
/** Models DRIVER_RENDER: the driver gets a render node, /dev/dri/renderD(128+N). */
export const DRIVER_RENDER = 1 << 3;
/** Models DRIVER_ATOMIC. */
export const DRIVER_ATOMIC = 1 << 4;
/** Models DRIVER_SYNCOBJ. */
export const DRIVER_SYNCOBJ = 1 << 5;
/** Models DRIVER_SYNCOBJ_TIMELINE. */
export const DRIVER_SYNCOBJ_TIMELINE = 1 << 6;
/**
 * Models DRIVER_CURSOR_HOTSPOT: the driver's cursor planes get the HOTSPOT_X/Y properties
 * (drm_universal_plane_init()), which the legacy CURSOR2 ioctl fills in.
 */
export const DRIVER_CURSOR_HOTSPOT = 1 << 9;
/**
 * Historic DRIVER_PRIME (removed in Linux 5.3, when PRIME became part of every GEM driver).
 * Accepted and ignored: PRIME is available whenever DRIVER_GEM is set.
 */
export const DRIVER_PRIME = 1 << 2;
/** Models DRIVER_LEGACY: not supported by this model (drmDevAlloc() refuses it). */
export const DRIVER_LEGACY = 1 << 26;

// ---- Ioctl flags (enum drm_ioctl_flags) ------------------------------------------------------

/** Models DRM_AUTH: on the primary node, only for authenticated clients (render nodes pass). */
export const DRM_AUTH = 0x1;
/** Models DRM_MASTER: only for the current master. */
export const DRM_MASTER = 0x2;
/** Models DRM_ROOT_ONLY: only for CAP_SYS_ADMIN callers (capable(); @primetime/kernel cred.ts). */
export const DRM_ROOT_ONLY = 0x4;
/** Models DRM_UNLOCKED: a no-op for modern (non-legacy) drivers. */
export const DRM_UNLOCKED = 0x10;
/** Models DRM_RENDER_ALLOW: allowed on render nodes. */
export const DRM_RENDER_ALLOW = 0x20;

/**
 * Models drm_ioctl_t: an ioctl handler. `data` is the kernel's copy of the argument struct
 * (already copied in, zero-extended to the kernel's struct size); fields it writes are copied out.
 * Returns 0 or a positive value, or a negative errno.
 */
export type DrmIoctlFunc<T extends object = object> = (
  dev: DrmDevice,
  data: T,
  file: DrmFile,
) => Promise<number>;

/**
 * Models struct drm_ioctl_desc: one entry of an ioctl table. `func: null` is an invalid entry
 * (-EINVAL, as a NULL func in drm_ioctl()). `layout` is the argument struct (null for _IO
 * commands): drm_ioctl() copies only the fields within `_IOC_SIZE` of both the user's and the
 * kernel's command.
 */
export interface DrmIoctlDesc {
  readonly cmd: number;
  readonly flags: number;
  /** Stored with a `never` argument so any struct-typed handler fits; called through drm_ioctl(). */
  readonly func: ((dev: DrmDevice, data: never, file: DrmFile) => Promise<number>) | null;
  readonly name: string;
  readonly layout: DrmStructLayout | null;
}

/**
 * Models DRM_IOCTL_DEF / DRM_IOCTL_DEF_DRV: an ioctl table entry for `cmd` with its handler,
 * flags and argument layout.
 * Locking: none (a table entry).
 * References: none.
 */
export function drmIoctlDef<T extends object>(
  cmd: number,
  func: DrmIoctlFunc<T> | null,
  flags: number,
  layout: DrmStructLayout | null,
  name: string,
): DrmIoctlDesc {
  return { cmd, func, flags, layout, name };
}

/** The index of a driver ioctl in the driver's table: DRM_IOCTL_NR(cmd) - DRM_COMMAND_BASE. */
export function drmDriverIoctlIndex(cmd: number): number {
  return DRM_IOCTL_NR(cmd) - DRM_COMMAND_BASE;
}

// ---- GEM object functions (struct drm_gem_object_funcs) -------------------------------------

/**
 * Models struct drm_gem_object_funcs. Only `free` is mandatory.
 */
export interface DrmGemObjectFuncs {
  /**
   * Models ->free: called from drm_gem_object_free() when the last reference is gone. Must call
   * drmGemObjectRelease() (and drmPrimeGemDestroy() for an import) and kfree the object.
   */
  free(obj: GemObject): Promise<void>;
  /** Models ->open: a handle to `obj` is being created in `file`. Non-zero fails the creation. */
  open?(obj: GemObject, file: DrmFile): Promise<number>;
  /** Models ->close: a handle of `file` to `obj` is being released. */
  close?(obj: GemObject, file: DrmFile): Promise<void>;
  /** Models ->export: PRIME export; default drmGemPrimeExport(). */
  export?(obj: GemObject, flags: number): Promise<DmaBuf | Errno>;
  /**
   * Models ->pin: called when a dma-buf of the object is attached (drm_gem_pin()), with the
   * object's reservation lock held since v6.10.
   */
  pin?(obj: GemObject): Promise<number>;
  /** Models ->unpin: called at detach (drm_gem_unpin()), with the reservation lock held. */
  unpin?(obj: GemObject): Promise<void>;
  /** Models ->get_sg_table: the backing pages for a foreign importer (dma_buf map). */
  getSgTable?(obj: GemObject): Promise<SgTable | Errno>;
  /**
   * Models ->mmap: set up `vma` for the object (the pages it maps). If absent, drm_gem_mmap_obj()
   * requires `vmOps`.
   */
  mmap?(obj: GemObject, vma: Vma): Promise<number>;
  /** Models ->vm_ops: the VMA's operations; drmGemVmOpen/drmGemVmClose keep the reference. */
  vmOps?: VmOperations;
}

/**
 * A `static const struct drm_gem_object_funcs` initializer: the table with every member present
 * (an unset one undefined, as C leaves it NULL) in one fixed order. Every table made here has
 * the same shape, so the hot `obj->funcs->x` loads of the GEM core (handle open/close, export,
 * pin, free) see one object layout whichever driver made the object; tables written as plain
 * literals each had their own, and those loads went polymorphic and deoptimized as new drivers'
 * objects turned up.
 */
export function drmGemObjectFuncs(funcs: DrmGemObjectFuncs): DrmGemObjectFuncs {
  return {
    free: funcs.free,
    open: funcs.open,
    close: funcs.close,
    export: funcs.export,
    pin: funcs.pin,
    unpin: funcs.unpin,
    getSgTable: funcs.getSgTable,
    mmap: funcs.mmap,
    vmOps: funcs.vmOps,
  };
}

// ---- The driver (struct drm_driver) ------------------------------------------------------------

/**
 * Models struct drm_driver.
 */
export interface DrmDriver {
  /** Models ->name: the driver's name ("vgem"), what DRM_IOCTL_VERSION reports. */
  readonly name: string;
  /** Models ->desc. */
  readonly desc: string;
  /** Models ->major, ->minor, ->patchlevel. */
  readonly major: number;
  readonly minor: number;
  readonly patchlevel: number;
  /** Models ->driver_features: DRIVER_GEM | DRIVER_RENDER | ... */
  readonly driverFeatures: number;
  /**
   * Models ->ioctls / ->num_ioctls: the driver's ioctls. Each command's number must be
   * DRM_COMMAND_BASE + its index in this array (DRM_IOCTL_DEF_DRV's designated initializer).
   */
  readonly ioctls?: readonly DrmIoctlDesc[];
  /** Models ->open: per-file set-up after the core's; non-zero fails the open. */
  open?(dev: DrmDevice, file: DrmFile): Promise<number>;
  /** Models ->postclose: per-file tear-down after every handle is released. */
  postclose?(dev: DrmDevice, file: DrmFile): Promise<void>;
  /** Models ->release: the last reference of the device is gone (drm_dev_put). */
  release?(dev: DrmDevice): Promise<void>;
  /**
   * Models ->prime_handle_to_fd: replaces drm_gem_prime_handle_to_fd(). Returns the new fd or
   * a negative errno.
   */
  primeHandleToFd?(dev: DrmDevice, file: DrmFile, handle: number, flags: number): Promise<number>;
  /**
   * Models ->prime_fd_to_handle: replaces drm_gem_prime_fd_to_handle(). Returns the handle or
   * a negative errno.
   */
  primeFdToHandle?(dev: DrmDevice, file: DrmFile, fd: number): Promise<number>;
  /**
   * Models ->gem_prime_import: called with object_name_lock held; returns an object with a
   * reference for the caller. Default drmGemPrimeImport().
   */
  gemPrimeImport?(dev: DrmDevice, dmaBuf: DmaBuf): Promise<GemObject | Errno>;
  /**
   * Models ->gem_prime_import_sg_table: make a GEM object of a foreign dma-buf's pages
   * (drm_gem_prime_import() has attached and mapped it).
   */
  gemPrimeImportSgTable?(
    dev: DrmDevice,
    attach: DmaBufAttachment,
    sgt: SgTable,
  ): Promise<GemObject | Errno>;
  /**
   * Models ->dumb_create: allocate a buffer for `args` (width, height, bpp, flags in; handle,
   * pitch, size out). Returns 0 or a negative errno.
   */
  dumbCreate?(file: DrmFile, dev: DrmDevice, args: DrmModeCreateDumb): Promise<number>;
  /**
   * Models ->dumb_map_offset: the fake mmap offset of the handle's object. Returns the offset
   * (>= 0) or a negative errno. Default drmGemDumbMapOffset().
   */
  dumbMapOffset?(file: DrmFile, dev: DrmDevice, handle: number): Promise<number>;
  /**
   * Overrides of the device file operations (DEFINE_DRM_GEM_FOPS gives drm_open, drm_release,
   * drm_ioctl, drm_gem_mmap): a driver may replace e.g. mmap.
   */
  readonly fops?: Partial<FileOperations>;
}

/** Models drm_core_check_feature(). * Locking: none; the features are fixed at registration.
 * References: none.
 */
export function drmCoreCheckFeature(dev: DrmDevice, feature: number): boolean {
  return (dev.driver.driverFeatures & dev.driverFeatures & feature) !== 0;
}

/** The direction a foreign import maps with (DMA_BIDIRECTIONAL). */
export const DMA_BIDIRECTIONAL = DmaDataDirection.BIDIRECTIONAL;
