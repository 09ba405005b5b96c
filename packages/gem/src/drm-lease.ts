/**
 * DRM leases (drivers/gpu/drm/drm_lease.c of v6.12.19; v6.18.35's file is the same).
 *
 * The device's master (the "owner": a `drm_master` whose `lessor` is null) may lease some of its
 * CRTCs, planes and connectors to a new master, the "lessee", which CREATE_LEASE hands back as a
 * new file on the same device (file_clone_open() of the lessor's file, its master replaced by the
 * lessee). A lessee file is `is_master`: while its lessor is the device's master it may run the
 * DRM_MASTER ioctls (drm_is_current_master_locked() compares drm_lease_owner() with dev->master),
 * but it sees only the objects of its lease: __drm_mode_object_find() refuses every other CRTC,
 * plane and connector (_drm_lease_held()), and GETRESOURCES / GETPLANERESOURCES / GETPLANE leave
 * them out (drm_lease_held(), drm_lease_filter_crtcs()). Leases form a tree of depth 1 (no
 * sub-leases). REVOKE_LEASE empties a lease but keeps the lessee; the lessee master lives until
 * its file's last reference goes, and drm_master_destroy() then unlinks it (drm_lease_destroy()),
 * dropping the reference it held on its lessor.
 *
 * Lifetime rules modeled here: `lessor` holds a master reference (drm_master_get() in
 * drm_lease_create(), dropped by drm_lease_destroy()); `lessees`, `lessee_idr` and the lessees'
 * `leases` change only under dev->mode_config.idr_mutex; every reader of `file_priv->master`
 * here takes a reference with drm_file_get_master() (56f0729a510f "drm: protect drm_master
 * pointers in drm_lease.c"; before it, toggle `gem.lease-held-master-unlocked`).
 *
 * Simplifications: no encoders (drm_lease_filter_crtcs() serves GETPLANE only; a CRTC's cursor
 * plane, which only vmwgfx's display units have, joins its lease as fill_object_idr() does), no
 * drm_sysfs_lease_event() uevent, no
 * DRM_CLIENT_CAP_ATOMIC. The kernel's `leases` IDR is copied by value into the lessee (`lessee->
 * leases = *leases`); here the lessee takes the IDR object itself.
 */

import { RESOLVED } from "@primetime/atomics";
import {
  copyU32sFromUser,
  copyU32sToUser,
  EACCES,
  EBUSY,
  EINVAL,
  ENOENT,
  EOPNOTSUPP,
  type Errno,
  fdInstall,
  fileCloneOpen,
  getUnusedFdFlags,
  Idr,
  isErr,
  lockdepAssertHeld,
  putUnusedFd,
} from "@primetime/kernel";
import { point, toggleEnabled, warnOn } from "@primetime/sim";
import { O_CLOEXEC, O_NONBLOCK } from "@primetime/uapi";
import {
  type DrmMaster,
  drmFileGetMaster,
  drmMasterCreate,
  drmMasterGet,
  drmMasterPut,
} from "./drm-auth.js";
import type { DrmCrtc } from "./drm-crtc.js";
import type { DrmDevice } from "./drm-device.js";
import { DRIVER_MODESET, drmCoreCheckFeature } from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";
import {
  DRM_MODE_OBJECT_ANY,
  DRM_MODE_OBJECT_CONNECTOR,
  DRM_MODE_OBJECT_CRTC,
  DRM_MODE_OBJECT_PLANE,
  type DrmModeObject,
  drmModeObjectFind,
  drmModeObjectPut,
} from "./drm-mode-object.js";
import { GEM_LEASE_HELD_MASTER_UNLOCKED, GEM_LEASE_HELD_PUT_UNDER_IDR_MUTEX } from "./toggles.js";
import type {
  DrmModeCreateLease,
  DrmModeGetLease,
  DrmModeListLessees,
  DrmModeRevokeLease,
} from "./uapi.js";

/** Models drm_lease_idr_object: the non-NULL pointer a lease IDR stores for a leased id. */
const DRM_LEASE_IDR_OBJECT: object = Object.freeze({ name: "drm_lease_idr_object" });

/**
 * Models drm_mode_object_lease_required(): CRTCs, connectors and planes must be owned or leased
 * to be used.
 */
export function drmModeObjectLeaseRequired(type: number): boolean {
  return (
    type === DRM_MODE_OBJECT_CRTC ||
    type === DRM_MODE_OBJECT_CONNECTOR ||
    type === DRM_MODE_OBJECT_PLANE
  );
}

/**
 * Models drm_lease_owner(): the top of the master's lease tree (the master whose lessor is null).
 * Locking: none: a lessee's `lessor` is set before the lessee can be reached and cleared only by
 * its drm_lease_destroy(), when nobody holds it any more.
 * References: none.
 */
export function drmLeaseOwner(master: DrmMaster): DrmMaster {
  let m = master;
  while (m.lessor !== null) m = m.lessor;
  return m;
}

/**
 * Models _drm_find_lessee(): the lessee of `lesseeId` in the owner's lessee_idr, or null.
 * Locking: idr_mutex held.
 * References: none taken (idr_mutex keeps the lessee in the IDR: drm_lease_destroy() removes it
 * under that lock).
 */
async function drmFindLessee(master: DrmMaster, lesseeId: number): Promise<DrmMaster | null> {
  lockdepAssertHeld(master.dev.modeConfig.idrMutex);
  return drmLeaseOwner(master).lesseeIdr.find(lesseeId);
}

/**
 * Models _drm_lease_held_master(): an owner holds every object; a lessee those in its lease.
 * Locking: idr_mutex held.
 * References: none.
 */
async function drmLeaseHeldMaster(master: DrmMaster, id: number): Promise<boolean> {
  lockdepAssertHeld(master.dev.modeConfig.idrMutex);
  if (master.lessor) return (await master.leases.find(id)) !== null;
  return true;
}

/**
 * Models _drm_has_leased(): whether one of the master's lessees holds object `id`.
 * Locking: idr_mutex held.
 * References: none.
 */
async function drmHasLeased(master: DrmMaster, id: number): Promise<boolean> {
  lockdepAssertHeld(master.dev.modeConfig.idrMutex);
  for (const lessee of master.lessees) if (await drmLeaseHeldMaster(lessee, id)) return true;
  return false;
}

/**
 * Models _drm_lease_held(): whether the file's master may use object `id` (called from
 * __drm_mode_object_find() for CRTCs, planes and connectors). A null file (in-kernel lookups)
 * and a file without a master (render node) hold everything.
 *
 * With `gem.lease-held-master-unlocked` (before 56f0729a510f) it reads `file_priv->master`
 * without a reference, as that kernel did; no scheduling point separates the load from the
 * master's accesses: idr_mutex is held, and a master that can be freed under a lease lookup
 * takes idr_mutex in drm_master_destroy() first (drm_lease_destroy()).
 * `dev` is the device whose lookup this is (the kernel's caller holds its idr_mutex).
 * Locking: idr_mutex held (by __drm_mode_object_find()); takes file->master_lookup_lock.
 * References: a master reference for the check, dropped at the end. That put can be the last
 * one (a privileged SET_MASTER of the same file put the file's own meanwhile): drm_master_destroy()
 * then runs here, under idr_mutex, and drm_lease_destroy() takes idr_mutex again: v6.12 and
 * v6.18 have this order (lockdep reports the recursion): the known window
 * gem.lease-held-put-under-idr-mutex (KNOWN-WINDOWS.md). Its fix switch checks under
 * master_lookup_lock and takes no reference (see drmLeaseHeldUnderLookupLock()).
 */
export async function drmLeaseHeldLocked(
  dev: DrmDevice,
  file: DrmFile | null,
  id: number,
): Promise<boolean> {
  lockdepAssertHeld(dev.modeConfig.idrMutex);
  if (!file) return true;
  if (toggleEnabled(GEM_LEASE_HELD_MASTER_UNLOCKED.name)) {
    const m = file.master;
    if (!m) return true;
    m.checkAccess("_drm_lease_held: file_priv->master->lessor");
    return drmLeaseHeldMaster(m, id);
  }
  // Fix switch of the known window gem.lease-held-put-under-idr-mutex (proposed here).
  if (toggleEnabled(GEM_LEASE_HELD_PUT_UNDER_IDR_MUTEX.name))
    return drmLeaseHeldUnderLookupLock(dev, file, id);
  const master = await drmFileGetMaster(file);
  if (!master) return true;
  const ret = await drmLeaseHeldMaster(master, id);
  const put = drmMasterPut(master);
  if (put !== RESOLVED) await put;
  return ret;
}

/**
 * The proposed _drm_lease_held() of the fix switch of the known window
 * gem.lease-held-put-under-idr-mutex (KNOWN-WINDOWS.md; no kernel has it):
 *
 *   spin_lock(&file_priv->master_lookup_lock);
 *   master = file_priv->master;
 *   ret = !master || _drm_lease_held_master(master, id);
 *   spin_unlock(&file_priv->master_lookup_lock);
 *
 * No reference is taken, so no drm_master_put() (and no drm_master_destroy()) can run under the
 * caller's idr_mutex. The master stays alive while the lock is held: the file's reference is
 * dropped only after the pointer is replaced under this lock (drm_new_set_master()), or when the
 * file itself goes (drm_file_free(), which no ioctl of the file can race). So the
 * use-after-free 56f0729a510f fixed stays fixed: the master's access below is KASAN-checked.
 * _drm_lease_held_master() only reads `lessor` and does an idr_find() of the lessee's `leases`,
 * neither of which sleeps, so it may run under the spinlock; idr_mutex -> master_lookup_lock is
 * the order drm_file_get_master() already takes here.
 * Locking: idr_mutex held (by __drm_mode_object_find()); takes file->master_lookup_lock.
 * References: none.
 */
async function drmLeaseHeldUnderLookupLock(
  dev: DrmDevice,
  file: DrmFile,
  id: number,
): Promise<boolean> {
  lockdepAssertHeld(dev.modeConfig.idrMutex);
  const taken = file.masterLookupLock.lock();
  if (taken !== RESOLVED) await taken;
  const master = file.master;
  let ret = true;
  if (master) {
    master.checkAccess("_drm_lease_held: file_priv->master->lessor");
    ret = await drmLeaseHeldMaster(master, id);
  }
  file.masterLookupLock.unlockNow();
  return ret;
}

/**
 * The unlocked `file_priv->master->lessor` test that drm_lease_held() and
 * drm_lease_filter_crtcs() began with before 56f0729a510f (toggle
 * `gem.lease-held-master-unlocked`): the file's master loaded without master_lookup_lock or a
 * reference (a point: another task's SET_MASTER may change it), then its `lessor` read (a
 * point: nothing keeps that master alive). Returns the master, with no reference, when it is a
 * lessee; null when the caller returns "held".
 */
async function leaseMasterUnlocked(file: DrmFile, fn: string): Promise<DrmMaster | null> {
  await point(`${fn}: file_priv->master`);
  const m = file.master;
  if (!m) return null;
  await point(`${fn}: file_priv->master->lessor`);
  m.checkAccess(`${fn}: file_priv->master->lessor`);
  return m.lessor ? m : null;
}

/**
 * Models drm_lease_held(): whether the file's master may use object `id`, for the KMS getters
 * (GETRESOURCES, GETPLANERESOURCES, GETPLANE, SETCRTC's mode, PAGE_FLIP). An owner holds every
 * object without taking idr_mutex.
 * Locking: takes file->master_lookup_lock, then idr_mutex for a lessee.
 * References: a master reference for the check, dropped at the end (the last one frees the
 * master here, outside idr_mutex).
 */
export async function drmLeaseHeld(file: DrmFile | null, id: number): Promise<boolean> {
  if (!file) return true;
  if (toggleEnabled(GEM_LEASE_HELD_MASTER_UNLOCKED.name)) {
    const m = await leaseMasterUnlocked(file, "drm_lease_held");
    if (!m) return true;
    const idrMutex = m.dev.modeConfig.idrMutex;
    const taken = idrMutex.lock();
    if (taken !== RESOLVED) await taken;
    m.checkAccess("drm_lease_held: _drm_lease_held_master");
    const held = await drmLeaseHeldMaster(m, id);
    idrMutex.unlockNow();
    return held;
  }
  const master = await drmFileGetMaster(file);
  if (!master) return true;
  let ret = true;
  if (master.lessor) {
    const idrMutex = master.dev.modeConfig.idrMutex;
    const taken = idrMutex.lock();
    if (taken !== RESOLVED) await taken;
    ret = await drmLeaseHeldMaster(master, id);
    idrMutex.unlockNow();
  }
  const put = drmMasterPut(master);
  if (put !== RESOLVED) await put;
  return ret;
}

/**
 * Models drm_lease_filter_crtcs(): the mask `crtcsIn` (bit i: the i-th CRTC of the device) as
 * the file sees it: a lessee's CRTCs renumbered among the CRTCs it leases.
 * Locking: takes file->master_lookup_lock, then idr_mutex for a lessee.
 * References: a master reference, dropped at the end.
 */
export async function drmLeaseFilterCrtcs(file: DrmFile | null, crtcsIn: number): Promise<number> {
  if (!file) return crtcsIn;
  let master: DrmMaster | null;
  const unlocked = toggleEnabled(GEM_LEASE_HELD_MASTER_UNLOCKED.name);
  if (unlocked) {
    master = await leaseMasterUnlocked(file, "drm_lease_filter_crtcs");
    if (!master) return crtcsIn;
  } else {
    master = await drmFileGetMaster(file);
    if (!master) return crtcsIn;
  }
  let crtcsOut = 0;
  if (!master.lessor) crtcsOut = crtcsIn;
  else {
    const dev = master.dev;
    let countIn = 0;
    let countOut = 0;
    const idrMutex = dev.modeConfig.idrMutex;
    const taken = idrMutex.lock();
    if (taken !== RESOLVED) await taken;
    if (unlocked) master.checkAccess("drm_lease_filter_crtcs: _drm_lease_held_master");
    for (const crtc of dev.modeConfig.crtcList) {
      if (await drmLeaseHeldMaster(master, crtc.base.id)) {
        if ((crtcsIn & (1 << countIn)) !== 0) crtcsOut |= 1 << countOut;
        countOut++;
      }
      countIn++;
    }
    idrMutex.unlockNow();
  }
  if (!unlocked) {
    const put = drmMasterPut(master);
    if (put !== RESOLVED) await put;
  }
  return crtcsOut >>> 0;
}

/**
 * Models drm_lease_create(): a new master leasing the objects of `leases` from `lessor`:
 * -ENOENT for an object id the device does not have (any more), -EBUSY for one another lessee
 * of the lessor holds, -ENOMEM; the lessee gets an id in the owner's lessee_idr, a reference on
 * its lessor and the IDR of its objects.
 * Locking: takes idr_mutex.
 * References: returns the lessee with its creation reference (the caller's); the lessee holds
 * one on the lessor. On failure the lessee is put (freed) and `leases` stays the caller's.
 */
async function drmLeaseCreate(lessor: DrmMaster, leases: Idr<object>): Promise<DrmMaster | Errno> {
  const dev = lessor.dev;
  const lessee = await drmMasterCreate(dev);
  if (isErr(lessee)) return lessee;
  const idrMutex = dev.modeConfig.idrMutex;
  const taken = idrMutex.lock();
  if (taken !== RESOLVED) await taken;
  let error = 0;
  for (let e = await leases.getNext(0); e !== null; e = await leases.getNext(e.id + 1)) {
    if ((await dev.modeConfig.objectIdr.find(e.id)) === null) error = -ENOENT;
    else if (await drmHasLeased(lessor, e.id)) error = -EBUSY;
    if (error !== 0) break;
  }
  if (error === 0) {
    // Insert the new lessee into the tree
    const id = await drmLeaseOwner(lessor).lesseeIdr.alloc(lessee, 1, 0);
    if (id < 0) error = id;
    else {
      lessee.lesseeId = id;
      lessee.lessor = await drmMasterGet(lessor);
      lessor.lessees.push(lessee);
      // Move the leases over
      lessee.leases = leases;
      idrMutex.unlockNow();
      return lessee;
    }
  }
  idrMutex.unlockNow();
  const put = drmMasterPut(lessee);
  if (put !== RESOLVED) await put;
  return error as Errno;
}

/**
 * Models drm_lease_destroy() (from drm_master_destroy() on a DRIVER_MODESET device): WARNs if the
 * master still has lessees (each holds a reference on it), removes it from the owner's lessee_idr
 * and from its lessor's lessees, then drops its reference on the lessor.
 *
 * A master that was never in a lease tree (no lessor, no lessee id, no lessees: every master of
 * a device nobody leased from) has nothing under idr_mutex to change, and no task reaches it
 * through idr_mutex-protected state; the model then skips the lock and its scheduling point (an
 * acquire and a release with only accesses of the dying master between them commute with
 * whatever another task does, ARCHITECTURE.md section 1), so the schedules of runs without
 * leases keep their steps. Unless the running task holds idr_mutex already: then the kernel's
 * mutex_lock() deadlocks, and the model takes it to report that.
 * Locking: takes idr_mutex.
 * References: drops the master's reference on its lessor.
 */
export async function drmLeaseDestroy(master: DrmMaster): Promise<void> {
  const dev = master.dev;
  const idrMutex = dev.modeConfig.idrMutex;
  if (
    master.lessor === null &&
    master.lesseeId === 0 &&
    master.lessees.length === 0 &&
    !idrMutex.heldByCurrent
  )
    return;
  const taken = idrMutex.lock();
  if (taken !== RESOLVED) await taken;
  // This master is referenced by all lessees, hence it cannot be destroyed until all of them
  // have been
  warnOn(master.lessees.length !== 0, "drm_lease_destroy: WARN_ON(!list_empty(&master->lessees))");
  // Remove this master from the lessee idr in the owner
  if (master.lesseeId !== 0) await drmLeaseOwner(master).lesseeIdr.remove(master.lesseeId);
  // Remove this master from any lessee list it may be on
  const lessor = master.lessor;
  if (lessor) {
    const i = lessor.lessees.indexOf(master);
    if (i >= 0) lessor.lessees.splice(i, 1);
  }
  idrMutex.unlockNow();
  if (lessor) {
    // drm_sysfs_lease_event() is not modeled
    master.lessor = null;
    const put = drmMasterPut(lessor);
    if (put !== RESOLVED) await put;
  }
}

/**
 * Models _drm_lease_revoke(): empties the lease of `top` and of every master below it (a
 * depth-first walk of the tree without recursion; depth 1 here).
 * Locking: idr_mutex held.
 * References: none.
 */
async function drmLeaseRevokeLocked(top: DrmMaster): Promise<void> {
  lockdepAssertHeld(top.dev.modeConfig.idrMutex);
  let master = top;
  for (;;) {
    // Evacuate the lease
    for (let e = await master.leases.getNext(0); e !== null; e = await master.leases.getNext(0))
      await master.leases.remove(e.id);
    // Down
    if (master.lessees.length !== 0) master = master.lessees[0]!;
    else {
      // Up
      while (master !== top && master === master.lessor!.lessees.at(-1)) master = master.lessor!;
      if (master === top) break;
      // Over
      const siblings = master.lessor!.lessees;
      master = siblings[siblings.indexOf(master) + 1]!;
    }
  }
}

/**
 * Models drm_lease_revoke(): revokes the leases of `top` and its lessees (drm_master_release()
 * of an is_master file on a DRIVER_MODESET device, under master_mutex). A master with no lease
 * and no lessee has nothing to revoke, and nobody can give it one meanwhile (only CREATE_LEASE
 * through its own file, which is being released, adds lessees): the model then skips idr_mutex
 * and its point, as drmLeaseDestroy() does (the same argument; so does the held-lock exception).
 * Locking: takes idr_mutex.
 * References: none.
 */
export async function drmLeaseRevoke(top: DrmMaster): Promise<void> {
  const idrMutex = top.dev.modeConfig.idrMutex;
  if (top.lessees.length === 0 && top.leases.isEmpty() && !idrMutex.heldByCurrent) return;
  const taken = idrMutex.lock();
  if (taken !== RESOLVED) await taken;
  await drmLeaseRevokeLocked(top);
  idrMutex.unlockNow();
}

/**
 * Models validate_lease(): a lease needs a CRTC and a connector, and a plane when the lessor's
 * file set DRM_CLIENT_CAP_UNIVERSAL_PLANES; -EINVAL otherwise.
 */
function validateLease(objects: readonly DrmModeObject[], universalPlanes: boolean): number {
  const hasCrtc = objects.some((o) => o.type === DRM_MODE_OBJECT_CRTC);
  const hasConnector = objects.some((o) => o.type === DRM_MODE_OBJECT_CONNECTOR);
  const hasPlane = objects.some((o) => o.type === DRM_MODE_OBJECT_PLANE);
  if (!hasCrtc || !hasConnector) return -EINVAL;
  if (universalPlanes && !hasPlane) return -EINVAL;
  return 0;
}

/**
 * Models fill_object_idr(): looks every id up as the lessor's file sees it (-ENOENT for one it
 * cannot see), -EINVAL for an object that is not a CRTC, plane or connector or a lease without a
 * CRTC and a connector (validate_lease()), then adds each id to `leases` (an id given twice, or
 * a plane given with its CRTC by a client without universal planes: idr_alloc() in the one-id
 * range [id, id + 1) fails with -ENOSPC, which the kernel returns although its comment says
 * -EEXIST), with a CRTC's primary plane when the lessor's file is not universal_planes.
 * Locking: none held; the lookups take idr_mutex.
 * References: the lookups' references are dropped at the end.
 */
async function fillObjectIdr(
  dev: DrmDevice,
  lessorPriv: DrmFile,
  leases: Idr<object>,
  objectIds: readonly number[],
): Promise<number> {
  const universalPlanes = lessorPriv.universalPlanes;
  const objects: DrmModeObject[] = [];
  let ret = 0;
  // step one - get references to all the mode objects and check for validity.
  for (const id of objectIds) {
    const obj = await drmModeObjectFind(dev, lessorPriv, id, DRM_MODE_OBJECT_ANY);
    if (!obj) {
      ret = -ENOENT;
      break;
    }
    objects.push(obj);
    if (!drmModeObjectLeaseRequired(obj.type)) {
      ret = -EINVAL;
      break;
    }
  }
  if (ret === 0) ret = validateLease(objects, universalPlanes);
  if (ret === 0) {
    // add their IDs to the lease request - taking into account universal planes
    for (const obj of objects) {
      // idr_alloc(leases, &drm_lease_idr_object, id, id + 1): -ENOSPC when the id is taken
      ret = await leases.alloc(DRM_LEASE_IDR_OBJECT, obj.id, obj.id + 1);
      if (ret < 0) break;
      if (obj.type === DRM_MODE_OBJECT_CRTC && !universalPlanes) {
        const crtc = obj.owner as DrmCrtc;
        const pid = crtc.primary.base.id;
        ret = await leases.alloc(DRM_LEASE_IDR_OBJECT, pid, pid + 1);
        if (ret < 0) break;
        if (crtc.cursor) {
          const cid = crtc.cursor.base.id;
          ret = await leases.alloc(DRM_LEASE_IDR_OBJECT, cid, cid + 1);
          if (ret < 0) break;
        }
      }
    }
    if (ret > 0) ret = 0;
  }
  for (const obj of objects) await drmModeObjectPut(obj);
  return ret;
}

/** The flags CREATE_LEASE passes to the new file's fd. */
const LEASE_FD_FLAGS = O_CLOEXEC | O_NONBLOCK;

/**
 * Models drm_mode_create_lease_ioctl(): CREATE_LEASE (DRM_MASTER). -EOPNOTSUPP without
 * DRIVER_MODESET, -EINVAL for flags other than O_CLOEXEC | O_NONBLOCK or from a lessee (no
 * sub-leases), -EFAULT / fill_object_idr()'s errno for the objects, -EMFILE without a free fd,
 * drm_lease_create()'s errno, file_clone_open()'s errno; then the clone of the lessor's file gets
 * the lessee as its master (is_master, authenticated; the master it joined at open is put), and
 * is installed at the fd returned in `fd` with the lessee's id in `lessee_id`.
 * Locking: none held; takes the lessor file's master_lookup_lock, idr_mutex, master_mutex (the
 * clone's open).
 * References: the new file holds the lessee's creation reference; the lessee holds one on the
 * lessor; the lessor reference taken here is dropped at the end.
 */
export async function drmModeCreateLeaseIoctl(
  dev: DrmDevice,
  cl: DrmModeCreateLease,
  lessorPriv: DrmFile,
): Promise<number> {
  const lessorFile = lessorPriv.filp;
  // Can't lease without MODESET
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  if (cl.flags && cl.flags & ~LEASE_FD_FLAGS) return -EINVAL;
  const lessor = (await drmFileGetMaster(lessorPriv))!;
  let ret = 0;
  const out = async (r: number): Promise<number> => {
    const put = drmMasterPut(lessor);
    if (put !== RESOLVED) await put;
    return r;
  };
  // Do not allow sub-leases
  if (lessor.lessor) return out(-EINVAL);
  const objectCount = cl.object_count >>> 0;
  // Handle leased objects, if any
  const leases = new Idr<object>("leases");
  if (objectCount !== 0) {
    const objectIds = await copyU32sFromUser(cl.object_ids, objectCount);
    if (typeof objectIds === "number") {
      await leases.destroy();
      return out(objectIds);
    }
    // fill and validate the object idr
    ret = await fillObjectIdr(dev, lessorPriv, leases, objectIds);
    if (ret) {
      await leases.destroy();
      return out(ret);
    }
  }
  // Allocate a file descriptor for the lease
  const fd = await getUnusedFdFlags(cl.flags & LEASE_FD_FLAGS);
  if (fd < 0) {
    await leases.destroy();
    return out(fd);
  }
  // lessee will take the ownership of leases
  const lessee = await drmLeaseCreate(lessor, leases);
  if (isErr(lessee)) {
    await leases.destroy();
    await putUnusedFd(fd);
    return out(lessee);
  }
  // Clone the lessor file to create a new file for us
  const lesseeFile = lessorFile ? await fileCloneOpen(lessorFile) : (-EINVAL as Errno);
  if (isErr(lesseeFile)) {
    const put = drmMasterPut(lessee);
    if (put !== RESOLVED) await put;
    await putUnusedFd(fd);
    return out(lesseeFile);
  }
  const lesseePriv = lesseeFile.privateData as DrmFile;
  // Change the file to a master one (the file is not installed yet: no other task sees it)
  const joined = lesseePriv.master;
  lesseePriv.master = null;
  if (joined) {
    const put = drmMasterPut(joined);
    if (put !== RESOLVED) await put;
  }
  lesseePriv.master = lessee;
  lesseePriv.isMaster = true;
  lesseePriv.authenticated = true;
  // Pass fd back to userspace
  cl.fd = fd;
  cl.lessee_id = lessee.lesseeId;
  // Hook up the fd
  await fdInstall(fd, lesseeFile);
  return out(0);
}

/**
 * Models drm_mode_list_lessees_ioctl(): LIST_LESSEES (DRM_MASTER). -EINVAL for a non-zero pad,
 * -EOPNOTSUPP without DRIVER_MODESET; the ids of the caller's master's lessees whose lease is not
 * revoked, as many as `count_lessees` allows, and their number (-EFAULT leaves the count).
 * Locking: takes master_lookup_lock, then idr_mutex.
 * References: a master reference, dropped at the end.
 */
export async function drmModeListLesseesIoctl(
  dev: DrmDevice,
  arg: DrmModeListLessees,
  lessorPriv: DrmFile,
): Promise<number> {
  const countLessees = arg.count_lessees >>> 0;
  if (arg.pad) return -EINVAL;
  // Can't lease without MODESET
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  const lessor = (await drmFileGetMaster(lessorPriv))!;
  const idrMutex = dev.modeConfig.idrMutex;
  const taken = idrMutex.lock();
  if (taken !== RESOLVED) await taken;
  let count = 0;
  let ret = 0;
  for (const lessee of lessor.lessees) {
    // Only list un-revoked leases
    if (!lessee.leases.isEmpty()) {
      if (countLessees > count) {
        ret = await copyU32sToUser(arg.lessees_ptr + 4 * count, [lessee.lesseeId]);
        if (ret) break;
      }
      count++;
    }
  }
  if (ret === 0) arg.count_lessees = count;
  idrMutex.unlockNow();
  const put = drmMasterPut(lessor);
  if (put !== RESOLVED) await put;
  return ret;
}

/**
 * Models drm_mode_get_lease_ioctl(): GET_LEASE (DRM_MASTER). -EINVAL for a non-zero pad,
 * -EOPNOTSUPP without DRIVER_MODESET; the ids of the objects the caller's master may use (an
 * owner: every mode object of the device; a lessee: its lease), as many as `count_objects`
 * allows, and their number.
 * Locking: takes master_lookup_lock, then idr_mutex.
 * References: a master reference, dropped at the end.
 */
export async function drmModeGetLeaseIoctl(
  dev: DrmDevice,
  arg: DrmModeGetLease,
  lesseePriv: DrmFile,
): Promise<number> {
  const countObjects = arg.count_objects >>> 0;
  if (arg.pad) return -EINVAL;
  // Can't lease without MODESET
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  const lessee = (await drmFileGetMaster(lesseePriv))!;
  const idrMutex = dev.modeConfig.idrMutex;
  const taken = idrMutex.lock();
  if (taken !== RESOLVED) await taken;
  // owner can use all objects; lessee can only use allowed object
  const objectIdr: Idr<object> =
    lessee.lessor === null ? (lessee.dev.modeConfig.objectIdr as Idr<object>) : lessee.leases;
  let count = 0;
  let ret = 0;
  for (let e = await objectIdr.getNext(0); e !== null; e = await objectIdr.getNext(e.id + 1)) {
    if (countObjects > count) {
      ret = await copyU32sToUser(arg.objects_ptr + 4 * count, [e.id]);
      if (ret) break;
    }
    count++;
  }
  if (ret === 0) arg.count_objects = count;
  idrMutex.unlockNow();
  const put = drmMasterPut(lessee);
  if (put !== RESOLVED) await put;
  return ret;
}

/**
 * Models drm_mode_revoke_lease_ioctl(): REVOKE_LEASE (DRM_MASTER). -EOPNOTSUPP without
 * DRIVER_MODESET, -ENOENT for an unknown lessee id, -EACCES for a lessee of another lessor;
 * otherwise the lessee's lease (and its lessees') is emptied: the lessee master and its file
 * stay, and see no CRTC, plane or connector any more.
 * Locking: takes master_lookup_lock, then idr_mutex.
 * References: a master reference, dropped at the end.
 */
export async function drmModeRevokeLeaseIoctl(
  dev: DrmDevice,
  arg: DrmModeRevokeLease,
  lessorPriv: DrmFile,
): Promise<number> {
  // Can't lease without MODESET
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  const lessor = (await drmFileGetMaster(lessorPriv))!;
  const idrMutex = dev.modeConfig.idrMutex;
  const taken = idrMutex.lock();
  if (taken !== RESOLVED) await taken;
  let ret = 0;
  const lessee = await drmFindLessee(lessor, arg.lessee_id >>> 0);
  // No such lessee
  if (!lessee) ret = -ENOENT;
  // Lease is not held by lessor
  else if (lessee.lessor !== lessor) ret = -EACCES;
  else await drmLeaseRevokeLocked(lessee);
  idrMutex.unlockNow();
  const put = drmMasterPut(lessor);
  if (put !== RESOLVED) await put;
  return ret;
}
