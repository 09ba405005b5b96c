/**
 * DRM files (drivers/gpu/drm/drm_file.c): one DrmFile per open() of a DRM node, with its GEM
 * handle table, its PRIME cache and its authentication state.
 *
 * Open: drm_open() acquires the minor (a device reference), allocates the file (handle table,
 * PRIME cache, driver ->open) and, on the primary node, joins or becomes the master. Release
 * (the file's last fput): drm_file_free() removes the file's framebuffers, releases every GEM
 * handle (and with it the file's
 * PRIME cache entries), the master state, the driver's per-file state (->postclose), and checks
 * that the PRIME cache is empty; then the device reference is dropped.
 */

import {
  EBUSY,
  type Errno,
  type File,
  type FileOperations,
  fileOperations,
  Idr,
  type Inode,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  Mutex,
  O_EXCL,
  SlabObject,
  SpinLock,
} from "@primetime/kernel";
import { opLabel, point } from "@primetime/sim";
import { type DrmMaster, drmMasterOpen, drmMasterRelease } from "./drm-auth.js";
import { type DrmDevice, drmDevPut } from "./drm-device.js";
import { DRIVER_GEM, DRIVER_MODESET, DRIVER_SYNCOBJ, drmCoreCheckFeature } from "./drm-driver.js";
import { type DrmFramebuffer, drmFbRelease } from "./drm-framebuffer.js";
import { drmGemRelease, type GemObject } from "./drm-gem.js";
import { drmIoctl } from "./drm-ioctl.js";
import {
  DRM_MINOR_PRIMARY,
  DRM_MINOR_RENDER,
  type DrmMinor,
  drmMinorAcquire,
} from "./drm-minor.js";
import { drmGemMmap } from "./drm-mmap.js";
import {
  type DrmPrimeFilePrivate,
  drmPrimeDestroyFilePrivate,
  drmPrimeInitFilePrivate,
} from "./drm-prime.js";
import { type DrmSyncobj, drmSyncobjRelease } from "./drm-syncobj.js";

/** The slab cache of struct drm_file. */
export const drmFileCache = new KmemCache("drm_file");

/**
 * Models struct drm_file.
 *
 * Locking: `tableLock` (a spinlock) protects `objectIdr`; `prime.lock` the PRIME cache;
 * the device's master_mutex protects `master`, `isMaster`, `magic`; `authenticated` is written
 * under master_mutex and read without it (as the kernel's bitfield).
 * References: the file holds a device reference (taken by drm_minor_acquire()) and a master
 * reference (primary node); each handle holds a handle count on its object.
 */
export class DrmFile extends SlabObject {
  readonly minor: DrmMinor;
  /** Models filp: the struct file this DrmFile is the private data of. */
  filp: File | null = null;
  /** Models authenticated. */
  authenticated = false;
  /** Models is_master. */
  isMaster = false;
  /** Models was_master. */
  wasMaster = false;
  /** Models master. */
  master: DrmMaster | null = null;
  /** Models magic (0: none). */
  magic = 0;
  /** Models table_lock. */
  readonly tableLock: SpinLock;
  /** Models object_idr: GEM handles (from 1). An entry may be NULL while it is created or deleted. */
  readonly objectIdr: Idr<GemObject>;
  /** Models prime: the PRIME cache. */
  readonly prime: DrmPrimeFilePrivate;
  /** Models syncobj_table_lock. */
  readonly syncobjTableLock: SpinLock;
  /** Models syncobj_idr: sync object handles (from 1); each holds a syncobj reference. */
  readonly syncobjIdr: Idr<DrmSyncobj>;
  /** Models fbs_lock: protects `fbs`. */
  readonly fbsLock: Mutex;
  /** Models fbs: the framebuffers this file created (ADDFB2), each holding a reference. */
  readonly fbs: DrmFramebuffer[] = [];
  /** Models driver_priv. */
  driverPriv: unknown = undefined;

  constructor(minor: DrmMinor) {
    super();
    this.minor = minor;
    this.tableLock = new SpinLock("table_lock", { owner: this });
    this.objectIdr = new Idr<GemObject>("object_idr", { lock: this.tableLock, base: 1 });
    this.prime = drmPrimeInitFilePrivate(this, minor.dev);
    // drm_syncobj_open(): idr_init_base(&syncobj_idr, 1), spin_lock_init(&syncobj_table_lock)
    this.syncobjTableLock = new SpinLock("syncobj_table_lock", { owner: this });
    this.syncobjIdr = new Idr<DrmSyncobj>("syncobj_idr", { lock: this.syncobjTableLock, base: 1 });
    this.fbsLock = new Mutex("fbs_lock", { owner: this });
  }

  /** The device (minor->dev). */
  get dev(): DrmDevice {
    return this.minor.dev;
  }
}

/**
 * Models drm_is_primary_client().
 * Locking: none; the minor is fixed at open.
 * References: none.
 */
export function drmIsPrimaryClient(file: DrmFile): boolean {
  return file.minor.type === DRM_MINOR_PRIMARY;
}

/**
 * Models drm_is_render_client().
 * Locking: none; the minor is fixed at open.
 * References: none.
 */
export function drmIsRenderClient(file: DrmFile): boolean {
  return file.minor.type === DRM_MINOR_RENDER;
}

/**
 * Models drm_file_alloc(): a new file on `minor`: GEM handle table, PRIME cache, then the
 * driver's ->open (whose failure undoes the rest). Unprivileged: not authenticated.
 *
 * Locking: none.
 * References: the caller owns the file.
 */
export async function drmFileAlloc(minor: DrmMinor): Promise<DrmFile | Errno> {
  const dev = minor.dev;
  await point("drm_file_alloc");
  const file = kmalloc(drmFileCache, () => new DrmFile(minor));
  if (isErr(file)) return file;
  dev.counters.files++;
  if (dev.driver.open) {
    const ret = await dev.driver.open(dev, file);
    if (ret < 0) {
      drmPrimeDestroyFilePrivate(file.prime);
      if (drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) await drmSyncobjRelease(file);
      if (drmCoreCheckFeature(dev, DRIVER_GEM)) await drmGemRelease(dev, file);
      dev.counters.files--;
      kfree(file);
      return ret as Errno;
    }
  }
  return file;
}

/**
 * Models drm_file_free(): releases everything the file holds: its framebuffers (KMS drivers,
 * drm_fb_release()), every sync object handle, every GEM handle (which removes
 * their PRIME cache entries), the master state, the driver's per-file state, then checks the
 * PRIME cache is empty and frees the file.
 *
 * Locking: none; nobody else can reach the file.
 * References: drops every handle; the device reference is dropped by the caller.
 */
export async function drmFileFree(file: DrmFile): Promise<void> {
  const dev = file.minor.dev;
  await point(opLabel("drm_file_free", file.name));
  if (drmCoreCheckFeature(dev, DRIVER_MODESET)) await drmFbRelease(file);
  if (drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) await drmSyncobjRelease(file);
  if (drmCoreCheckFeature(dev, DRIVER_GEM)) await drmGemRelease(dev, file);
  if (drmIsPrimaryClient(file)) await drmMasterRelease(file);
  if (dev.driver.postclose) await dev.driver.postclose(dev, file);
  drmPrimeDestroyFilePrivate(file.prime);
  dev.counters.files--;
  kfree(file);
}

/**
 * Models drm_open_helper(): -EBUSY for O_EXCL; allocates the file, joins the master (primary
 * node) and adds it to the device's file list.
 * Locking: takes master_mutex and filelist_mutex.
 * References: the new file is owned by filp->private_data.
 */
async function drmOpenHelper(filp: File, minor: DrmMinor): Promise<number> {
  const dev = minor.dev;
  if (filp.fFlags & O_EXCL) return -EBUSY; // No exclusive opens
  const priv = await drmFileAlloc(minor);
  if (isErr(priv)) return priv;
  if (drmIsPrimaryClient(priv)) {
    const ret = await drmMasterOpen(priv);
    if (ret) {
      await drmFileFree(priv);
      return ret;
    }
  }
  filp.privateData = priv;
  priv.filp = filp;
  await dev.filelistMutex.lock();
  dev.filelist.add(priv);
  await dev.filelistMutex.unlock();
  return 0;
}

/**
 * Models drm_open(): the ->open of DRM nodes.
 * Locking: none held; takes filelist_mutex, master_mutex.
 * References: the file holds a device reference until drm_release().
 */
export async function drmOpen(inode: Inode, filp: File): Promise<number> {
  const minor = await drmMinorAcquire(inode);
  if (isErr(minor)) return minor;
  const dev = minor.dev;
  dev.openCount++;
  const ret = await drmOpenHelper(filp, minor);
  if (ret) {
    dev.openCount--;
    await drmDevPut(dev); // drm_minor_release()
    return ret;
  }
  return 0;
}

/**
 * Models drm_close_helper(): unlinks the file from the device and frees it.
 * Locking: takes filelist_mutex.
 * References: frees the file and everything it holds.
 */
async function drmCloseHelper(filp: File): Promise<void> {
  const file = filp.privateData as DrmFile;
  const dev = file.minor.dev;
  await dev.filelistMutex.lock();
  dev.filelist.delete(file);
  await dev.filelistMutex.unlock();
  await drmFileFree(file);
}

/**
 * Models drm_release(): the ->release of DRM nodes (the file's last fput). The last close of
 * the device runs drm_lastclose(), which only restores the in-kernel DRM clients (not
 * modeled): struct drm_driver has no ->lastclose hook in v6.18.
 * Locking: none held.
 * References: drops the file's handles and its device reference.
 */
export async function drmRelease(_inode: Inode | null, filp: File): Promise<number> {
  const file = filp.privateData as DrmFile;
  const dev = file.minor.dev;
  await drmCloseHelper(filp);
  --dev.openCount; // atomic_dec_and_test(): drm_lastclose() restores in-kernel clients only
  await drmDevPut(dev); // drm_minor_release()
  return 0;
}

/** Models noop_llseek(): the position, unchanged (a module-level function, not one per call). */
async function drmNoopLlseek(file: File): Promise<number> {
  return file.fPos;
}

/**
 * Models DEFINE_DRM_GEM_FOPS: the file operations of a DRM node (drm_open, drm_release,
 * drm_ioctl, drm_gem_mmap, noop_llseek), with the driver's overrides.
 * Locking: none.
 * References: none.
 */
export function drmFops(dev: DrmDevice): FileOperations {
  return fileOperations({
    owner: dev.driver.name,
    open: drmOpen,
    release: drmRelease,
    unlockedIoctl: drmIoctl,
    mmap: drmGemMmap,
    llseek: drmNoopLlseek,
    ...dev.driver.fops,
  });
}
