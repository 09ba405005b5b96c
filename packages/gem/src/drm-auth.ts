/**
 * DRM masters and authentication (drivers/gpu/drm/drm_auth.c).
 *
 * On the primary node the first opener becomes the master (drm_master_open()); every other
 * primary client starts unauthenticated and can only call DRM_AUTH ioctls (GEM_FLINK,
 * GEM_OPEN...) after authenticating: it gets a magic token with GET_MAGIC, passes it to the
 * master (out of band), and the master calls AUTH_MAGIC with it. Render-node clients never need
 * authentication and have no master.
 *
 * Privilege: a process spawned with CAP_SYS_ADMIN (@primetime/kernel's cred.ts; a display server
 * or a test's root process) passes drm_master_check_perm() whatever its file's history, so its
 * SET_MASTER of a file that never was master reaches drm_new_set_master() on a file other tasks
 * can see: the file's master is replaced and the old one put, which is the window of the 2021
 * master-pointer races (drm_getunique(), vmwgfx's surface define). Every other process is
 * unprivileged: SET_MASTER is allowed to a file that was master before (the was_master rule:
 * -EACCES otherwise, for DROP_MASTER too), DROP_MASTER to the current master.
 *
 * `file->master` changes only with master_mutex and the file's master_lookup_lock both held
 * (drm_new_set_master(), drm_master_open()), so either lock protects a reader; readers that
 * cannot take master_mutex take a reference with drm_file_get_master().
 *
 * Leases (drm-lease.ts) give a master a lessor, lessees and leased objects; a lessee file is
 * master while its owner is the device's master and can neither set nor drop master (-EINVAL).
 *
 * Faithfulness: drm_master_check_perm() does not compare the file's opener with the
 * caller's thread group (files are not tagged with a pid here); drm_is_current_master() takes
 * master_mutex, as v5.14-rc's 1f7ef07cfa14 did, where v6.12 and v6.18 take the file's
 * master_lookup_lock (28be2405fb75): both serialize against drm_new_set_master().
 */

import { Kref, RESOLVED } from "@primetime/atomics";
import {
  CAP_SYS_ADMIN,
  capable,
  EACCES,
  EBUSY,
  EINVAL,
  type Errno,
  Idr,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  SlabObject,
} from "@primetime/kernel";
import { point, warnOn } from "@primetime/sim";
import type { DrmDevice } from "./drm-device.js";
import { DRIVER_MODESET, drmCoreCheckFeature } from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";
import { drmLeaseDestroy, drmLeaseOwner, drmLeaseRevoke } from "./drm-lease.js";
import type { DrmAuth } from "./uapi.js";

/** The slab cache of struct drm_master. */
export const drmMasterCache = new KmemCache("drm_master");

/**
 * Models struct drm_master.
 *
 * Locking: `magicMap` under dev->master_mutex.
 * References: `ref`: dev->master holds one, each primary file's `master` one.
 */
export class DrmMaster extends SlabObject {
  readonly ref: Kref;
  /** Models magic_map: magic tokens (from 1) to the files that asked for them. */
  readonly magicMap: Idr<DrmFile>;
  /**
   * Models unique / unique_len: the bus id SET_VERSION 1.1+ set for this master (drm_set_busid()),
   * freed with it (drm_master_destroy()). Under master_mutex.
   */
  unique: string | null = null;
  uniqueLen = 0;
  /**
   * Models lessor: the master this one leases from (drm-lease.ts), holding a reference on it;
   * null for an owner. Set by drm_lease_create(), cleared by drm_lease_destroy().
   */
  lessor: DrmMaster | null = null;
  /** Models lessee_id: the id in the owner's lessee_idr (0 for an owner). */
  lesseeId = 0;
  /** Models lessees (and each lessee's lessee_list): this master's lessees. Under idr_mutex. */
  readonly lessees: DrmMaster[] = [];
  /** Models leases: the ids of the objects a lessee leases. Under idr_mutex once leased. */
  leases: Idr<object>;
  /** Models lessee_idr: on the owner, every lessee of its tree by id (from 1). Under idr_mutex. */
  readonly lesseeIdr: Idr<DrmMaster>;
  constructor(readonly dev: DrmDevice) {
    super();
    this.ref = new Kref(this);
    this.magicMap = new Idr<DrmFile>("magic_map", { lock: dev.masterMutex, base: 1 });
    // initialize the tree of output resource lessees
    this.leases = new Idr<object>("leases");
    this.lesseeIdr = new Idr<DrmMaster>("lessee_idr", {
      lock: dev.modeConfig.idrMutex,
      base: 1,
    });
  }
}

/**
 * Models drm_master_create(): a master with one reference.
 * Locking: none.
 * References: returns one, owned by the caller.
 */
export async function drmMasterCreate(dev: DrmDevice): Promise<DrmMaster | Errno> {
  await point("drm_master_create");
  const m = kmalloc(drmMasterCache, () => new DrmMaster(dev));
  if (isErr(m)) return m;
  m.ref.init();
  return m;
}

/**
 * Models drm_master_get(). References: takes one.
 * Locking: none; the caller holds a master reference or master_mutex.
 */
export async function drmMasterGet(master: DrmMaster): Promise<DrmMaster> {
  const getDone = master.ref.get();
  if (getDone !== RESOLVED) await getDone;
  return master;
}

/**
 * Models drm_master_put() / drm_master_destroy(). References: drops one.
 * Locking: none; the last put frees the master and its magic map.
 */
export function drmMasterPut(master: DrmMaster): Promise<void> {
  // No async frame: kref_put()'s RESOLVED when the put kept the task and was not the last
  // (callers skip their await), else its promise; a throw becomes a rejected promise.
  try {
    return master.ref.putVoid(async () => {
      await point("drm_master_destroy");
      const dev = master.dev;
      if (drmCoreCheckFeature(dev, DRIVER_MODESET)) await drmLeaseDestroy(master);
      await master.magicMap.destroy();
      // idr_destroy() of `leases` and `lessee_idr`: an IDR that holds no id frees nothing, and
      // nobody else reaches a dying master's IDRs, so the model skips the point then (every
      // master outside a lease tree), keeping the steps of runs without leases.
      if (!master.leases.isEmpty()) await master.leases.destroy();
      if (!master.lesseeIdr.isEmpty()) await master.lesseeIdr.destroy();
      kfree(master);
    });
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Models drm_is_current_master_locked(): the file is master and the top of its master's lease
 * tree (drm_lease_owner(): the master itself unless it is a lessee) is the device's.
 * Locking: dev->master_mutex held.
 * References: none.
 */
export function drmIsCurrentMasterLocked(file: DrmFile): boolean {
  lockdepAssertHeld(file.minor.dev.masterMutex);
  return (
    file.isMaster && file.master !== null && drmLeaseOwner(file.master) === file.minor.dev.master
  );
}

/**
 * Models drm_is_current_master().
 * Locking: takes dev->master_mutex.
 * References: none.
 */
export async function drmIsCurrentMaster(file: DrmFile): Promise<boolean> {
  const dev = file.minor.dev;
  const masterMutexTaken = dev.masterMutex.lock();
  if (masterMutexTaken !== RESOLVED) await masterMutexTaken;
  const ret = drmIsCurrentMasterLocked(file);
  dev.masterMutex.unlockNow();
  return ret;
}

/**
 * Models drm_set_master(): the device's master becomes the file's (`dev->master =
 * drm_master_get(fpriv->master)`), and the file was master. It leaves `is_master` alone (set by
 * drm_new_set_master() only). No driver here has a `master_set` hook.
 * Locking: dev->master_mutex held.
 * References: dev->master takes one on the file's master.
 */
async function drmSetMaster(dev: DrmDevice, file: DrmFile, master: DrmMaster): Promise<void> {
  lockdepAssertHeld(dev.masterMutex);
  dev.master = await drmMasterGet(master);
  file.wasMaster = true;
}

/**
 * Takes `file`'s master_lookup_lock to change `file->master`. A file no other task can see yet
 * (drm_open_helper() before `filp->private_data` is set: no fd names it, no other task holds it)
 * takes it with spin_trylock(), which always succeeds and is no scheduling point: no other task
 * can take this lock, so the acquire commutes with everything any other task does
 * (ARCHITECTURE.md section 1), and an open keeps the steps it had before the lock was modeled.
 * A file other tasks can see (SET_MASTER) takes it with spin_lock().
 * Locking: master_mutex held; returns with master_lookup_lock held.
 */
async function masterLookupLock(file: DrmFile): Promise<void> {
  lockdepAssertHeld(file.minor.dev.masterMutex);
  if (file.filp === null && file.masterLookupLock.tryLock()) return;
  const taken = file.masterLookupLock.lock();
  if (taken !== RESOLVED) await taken;
}

/**
 * Models drm_new_set_master(): makes `file` the master of a new master structure, in the
 * kernel's order: the new master replaces the file's (under master_lookup_lock), `is_master` and
 * `authenticated` are set, drm_set_master(), and only then the old master's reference is
 * dropped: the last one frees it (a file that shared the previous master and is made master by
 * a privileged SET_MASTER).
 * Locking: dev->master_mutex held; takes file->master_lookup_lock.
 * References: dev->master and file->master each hold one on the new master; drops the file's
 * reference on its old master.
 */
async function drmNewSetMaster(dev: DrmDevice, file: DrmFile): Promise<number> {
  lockdepAssertHeld(dev.masterMutex);
  warnOn(file.isMaster, "drm_new_set_master: WARN_ON(fpriv->is_master)");
  const old = file.master;
  const master = await drmMasterCreate(dev);
  if (isErr(master)) return master;
  await masterLookupLock(file);
  file.master = master; // the creation reference
  file.masterLookupLock.unlockNow();
  file.isMaster = true;
  file.authenticated = true;
  await drmSetMaster(dev, file, master);
  if (old) {
    const put = drmMasterPut(old);
    if (put !== RESOLVED) await put;
  }
  return 0;
}

/**
 * Models drm_master_open(): the first primary client becomes master; the others share the
 * current master (and stay unauthenticated unless their opener is privileged: drm_file_alloc()).
 * Locking: takes dev->master_mutex, then the new file's master_lookup_lock (see
 * masterLookupLock(): no scheduling point, nobody else can see the file).
 * References: the file holds a master reference until drmMasterRelease().
 */
export async function drmMasterOpen(file: DrmFile): Promise<number> {
  const dev = file.minor.dev;
  let ret = 0;
  const masterMutexTaken2 = dev.masterMutex.lock();
  if (masterMutexTaken2 !== RESOLVED) await masterMutexTaken2;
  if (dev.master === null) ret = await drmNewSetMaster(dev, file);
  else {
    await masterLookupLock(file);
    file.master = await drmMasterGet(dev.master);
    file.masterLookupLock.unlockNow();
  }
  dev.masterMutex.unlockNow();
  return ret;
}

/**
 * Models drm_file_get_master(): a reference on the file's master, or null (a render client has
 * none), taken under the file's master_lookup_lock, so that a drm_new_set_master() cannot put
 * the master between the load and the get. For readers of `file->master` that do not hold
 * master_mutex.
 * Locking: takes file->master_lookup_lock.
 * References: returns one (drop it with drmMasterPut()).
 */
export async function drmFileGetMaster(file: DrmFile): Promise<DrmMaster | null> {
  const taken = file.masterLookupLock.lock();
  if (taken !== RESOLVED) await taken;
  let master: DrmMaster | null = null;
  if (file.master) master = await drmMasterGet(file.master);
  file.masterLookupLock.unlockNow();
  return master;
}

/**
 * Models drm_drop_master(): the device loses its master (drm_master_put(&dev->master)). The
 * file keeps `is_master` (v6.18 drm_auth.c clears it nowhere: a file that dropped master and
 * sets it again takes drm_set_master() with its own master, not drm_new_set_master()). No driver
 * here has a `master_drop` hook.
 * Locking: dev->master_mutex held.
 * References: drops dev->master's master reference.
 */
async function drmDropMaster(dev: DrmDevice, _file: DrmFile): Promise<void> {
  lockdepAssertHeld(dev.masterMutex);
  const m = dev.master;
  dev.master = null;
  if (m) {
    const put = drmMasterPut(m);
    if (put !== RESOLVED) await put;
  }
}

/**
 * Models drm_master_release(): at file close, forgets the file's magic, drops mastership if it
 * held it, and drops its master reference.
 * Locking: takes dev->master_mutex.
 * References: drops the file's master reference.
 */
export async function drmMasterRelease(file: DrmFile): Promise<void> {
  const dev = file.minor.dev;
  const masterMutexTaken3 = dev.masterMutex.lock();
  if (masterMutexTaken3 !== RESOLVED) await masterMutexTaken3;
  const master = file.master;
  if (file.magic && master) {
    await master.magicMap.remove(file.magic);
    file.magic = 0;
  }
  if (drmIsCurrentMasterLocked(file) && dev.master === file.master) await drmDropMaster(dev, file);
  // Revoke any leases held by this or lessees, but only if this is the "real" master
  if (drmCoreCheckFeature(dev, DRIVER_MODESET) && file.isMaster && master)
    await drmLeaseRevoke(master);
  if (master) {
    file.master = null;
    const put = drmMasterPut(master);
    if (put !== RESOLVED) await put;
  }
  dev.masterMutex.unlockNow();
}

/**
 * Models drm_getmagic(): GET_MAGIC. Allocates the file's magic token on first use and returns
 * it (the same token afterwards).
 * Locking: takes dev->master_mutex.
 * References: the magic map holds no reference on the file (drm_master_release() removes it).
 */
export async function drmGetmagic(dev: DrmDevice, data: DrmAuth, file: DrmFile): Promise<number> {
  let ret = 0;
  const masterMutexTaken4 = dev.masterMutex.lock();
  if (masterMutexTaken4 !== RESOLVED) await masterMutexTaken4;
  if (!file.magic) {
    if (file.master === null) ret = -EINVAL;
    else {
      ret = await file.master.magicMap.alloc(file, 1, 0);
      if (ret >= 0) file.magic = ret;
    }
  }
  data.magic = file.magic;
  dev.masterMutex.unlockNow();
  return Math.min(ret, 0);
}

/**
 * Models drm_authmagic(): AUTH_MAGIC (DRM_MASTER). Authenticates the file that holds `magic`
 * under the caller's master; the token is used up. -EINVAL for an unknown token.
 * Locking: takes dev->master_mutex.
 * References: none.
 */
export async function drmAuthmagic(dev: DrmDevice, data: DrmAuth, file: DrmFile): Promise<number> {
  const masterMutexTaken5 = dev.masterMutex.lock();
  if (masterMutexTaken5 !== RESOLVED) await masterMutexTaken5;
  const master = file.master;
  const target = master ? await master.magicMap.find(data.magic) : null;
  if (target && master) {
    target.authenticated = true;
    await master.magicMap.replace(null, data.magic);
  }
  dev.masterMutex.unlockNow();
  return target ? 0 : -EINVAL;
}

/**
 * Models drm_master_check_perm(): 0 for a file that was master before (the kernel also wants the
 * same thread group as the file's opener; files are not checked against their pid here), else 0
 * for a caller with CAP_SYS_ADMIN, else -EACCES.
 * Locking: dev->master_mutex held.
 * References: none.
 */
function drmMasterCheckPerm(dev: DrmDevice, file: DrmFile): number {
  lockdepAssertHeld(dev.masterMutex);
  if (file.wasMaster) return 0;
  if (!capable(CAP_SYS_ADMIN)) return -EACCES;
  return 0;
}

/**
 * Models drm_setmaster_ioctl(): SET_MASTER. -EACCES unless the file was master before or the
 * caller has CAP_SYS_ADMIN (drm_master_check_perm()); 0 if it is the current master; -EBUSY if
 * the device has another master; -EINVAL without a master structure; a file that is not
 * `is_master` (a privileged caller's file that shared another master) gets a master of its own
 * (drm_new_set_master()), the others become the device's master again (drm_set_master()).
 * Locking: takes dev->master_mutex.
 * References: dev->master takes a reference on the file's master.
 */
export async function drmSetmasterIoctl(
  dev: DrmDevice,
  _data: object,
  file: DrmFile,
): Promise<number> {
  // guard(mutex)(&dev->master_mutex)
  const masterMutexTaken6 = dev.masterMutex.lock();
  if (masterMutexTaken6 !== RESOLVED) await masterMutexTaken6;
  const ret = await drmSetmasterLocked(dev, file);
  dev.masterMutex.unlockNow();
  return ret;
}

/** The body of drm_setmaster_ioctl() under its guard(mutex). */
async function drmSetmasterLocked(dev: DrmDevice, file: DrmFile): Promise<number> {
  const ret = drmMasterCheckPerm(dev, file);
  if (ret) return ret;
  if (drmIsCurrentMasterLocked(file)) return ret;
  if (dev.master) return -EBUSY;
  if (!file.master) return -EINVAL;
  // A file that never was is_master: only a CAP_SYS_ADMIN caller gets here
  // (drm_master_check_perm()).
  if (!file.isMaster) return drmNewSetMaster(dev, file);
  // Attempt to set lessee as master
  if (file.master.lessor !== null) return -EINVAL;
  await drmSetMaster(dev, file, file.master);
  return ret;
}

/**
 * Models drm_dropmaster_ioctl(): DROP_MASTER. -EACCES unless the file was master before
 * (drm_master_check_perm()), -EINVAL unless it is the current master.
 * Locking: takes dev->master_mutex.
 * References: drops dev->master's reference.
 */
export async function drmDropmasterIoctl(
  dev: DrmDevice,
  _data: object,
  file: DrmFile,
): Promise<number> {
  // guard(mutex)(&dev->master_mutex)
  const masterMutexTaken7 = dev.masterMutex.lock();
  if (masterMutexTaken7 !== RESOLVED) await masterMutexTaken7;
  const ret = await drmDropmasterLocked(dev, file);
  dev.masterMutex.unlockNow();
  return ret;
}

/** The body of drm_dropmaster_ioctl() under its guard(mutex). */
async function drmDropmasterLocked(dev: DrmDevice, file: DrmFile): Promise<number> {
  const ret = drmMasterCheckPerm(dev, file);
  if (ret) return ret;
  if (!drmIsCurrentMasterLocked(file)) return -EINVAL;
  if (!dev.master) return -EINVAL;
  // Attempt to drop lessee as master
  if (file.master!.lessor !== null) return -EINVAL;
  await drmDropMaster(dev, file);
  return ret;
}
