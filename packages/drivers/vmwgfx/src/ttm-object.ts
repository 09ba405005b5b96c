/**
 * ttm_object (drivers/gpu/drm/vmwgfx/ttm_object.c, ttm_object.h): vmwgfx's own user-visible
 * object handles, older than GEM in the driver and still how its surfaces reach userspace.
 *
 * - The **object device** (one per vmwgfx device) owns the idr of every base object, under its
 *   `object_lock` spinlock. Its ids start above VMWGFX_NUM_MOB, so a surface handle never
 *   collides with a GEM buffer handle (1..VMWGFX_NUM_MOB) and an ioctl taking "either handle" can
 *   tell them apart by value.
 * - A **base object** is what a handle names: a kref, the owner file, `shareable` (other files may
 *   open it) and the release callback of the object it is embedded in (a surface). Its handle is
 *   its idr id, allocated at init and removed at release. The idr holds no reference: lookups
 *   through it (ttm_base_object_lookup_for_ref()) run under RCU and take a reference only with
 *   kref_get_unless_zero(), and the embedding object must be freed after a grace period
 *   (kfree_rcu()), never at once.
 * - An **object file** (one per DRM file) holds one **ref object** per base object the file has
 *   opened, found by handle in its hash (RCU readers, writers under the file's spinlock) and listed
 *   for the release at file close. A ref object has its own kref (opening the same object twice
 *   counts twice, one unref per open) and holds one base reference. Ref objects are freed with
 *   kfree_rcu(): ttm_ref_object_add() may find one under RCU whose count already dropped to 0.
 *
 * Faithfulness: Linux v6.12 (the drm_open_hash of older kernels became a hashtable in v6.1; the
 * TTM_REF_SYNCCPU ref types and the memory accounting are gone). The per-file hash is a Map from
 * handle to ref object (hash_add_rcu() of a second ref with the same key, which two racing adds
 * can produce, keeps the first one findable, as hash_for_each_possible_rcu() finds the newer
 * one first in the kernel; either way both are on the release list).
 */

import { Kref } from "@primetime/atomics";
import type { DmaBuf, DmaBufOps } from "@primetime/dma-buf";
import {
  EINVAL,
  ENOMEM,
  EPERM,
  type Errno,
  errPtr,
  Idr,
  isErr,
  KmemCache,
  kfree,
  kfreeRcu,
  kmalloc,
  lockdepAssertHeld,
  SlabObject,
  SpinLock,
} from "@primetime/kernel";
import { rcuLockdepWarn, rcuReadLock, rcuReadLockHeld, rcuReadUnlock } from "@primetime/rcu";
import { bug, point, RESOLVED, toggleEnabled, warnOn } from "@primetime/sim";
import { VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK, VMWGFX_LOOKUP_UNDER_RCU } from "./toggles.js";

// ---- enum ttm_object_type and the vmwgfx types ---------------------------------------------------

/** Models ttm_fence_type. */
export const TTM_FENCE_TYPE = 0;
/** Models ttm_lock_type. */
export const TTM_LOCK_TYPE = 1;
/** Models ttm_prime_type: a base object embedded in a struct ttm_prime_object. */
export const TTM_PRIME_TYPE = 2;
/** Models ttm_driver_type0 .. : the driver's own object types. */
export const TTM_DRIVER_TYPE0 = 256;
/** Models VMW_RES_CONTEXT (ttm_driver_type0). */
export const VMW_RES_CONTEXT = TTM_DRIVER_TYPE0;
/** Models VMW_RES_SURFACE (ttm_driver_type1). */
export const VMW_RES_SURFACE = TTM_DRIVER_TYPE0 + 1;

/** Models VMWGFX_NUM_GB_CONTEXT + _SHADER + _SURFACE + _SCREEN_TARGET (vmwgfx_drv.h, v6.12). */
export const VMWGFX_NUM_MOB = 256 + 20000 + 32768 + 8;

/** The slab caches of the ttm_object structures (kmalloc() in the kernel). */
export const ttmObjectDeviceCache = new KmemCache("ttm_object_device");
export const ttmObjectFileCache = new KmemCache("ttm_object_file");
export const ttmRefObjectCache = new KmemCache("ttm_ref_object");

/** The driver's dma_buf_ops as ttm_object_device_init() takes them: ->release may be NULL. */
export type TtmDriverDmaBufOps = Omit<DmaBufOps, "release"> & {
  readonly release?: DmaBufOps["release"] | null;
};

/** Models the refcount_release callback of a base object: `*p_base` is cleared by the callee. */
export type TtmBaseRelease = (base: TtmBaseObject) => Promise<void>;

/**
 * Models struct ttm_object_device.
 *
 * Locking: `idr` under `objectLock` for writers; readers under rcu_read_lock().
 * References: the idr holds none.
 */
export class TtmObjectDevice extends SlabObject {
  /** Models object_lock: protects the idr. */
  readonly objectLock: SpinLock;
  /** Models idr: every base object by handle, from VMWGFX_NUM_MOB + 1. */
  readonly idr: Idr<TtmBaseObject>;
  /**
   * Models ops: the driver's dma_buf_ops with ->release replaced by ttm_prime_dmabuf_release();
   * a dma-buf "is ours" iff its ops are this very object.
   */
  ops!: DmaBufOps;
  /** Models dmabuf_release: the driver's own ->release, called first by the prime release. */
  dmabufRelease: ((dmabuf: DmaBuf) => Promise<void> | void) | null = null;

  constructor() {
    super(ttmObjectDeviceCache);
    this.objectLock = new SpinLock("ttm_object_device.object_lock", { owner: this });
    this.idr = new Idr<TtmBaseObject>("ttm_object_device.idr", {
      lock: this.objectLock,
      base: VMWGFX_NUM_MOB + 1,
    });
  }
}

/**
 * Models struct ttm_object_file.
 *
 * Locking: `refHash` and `refList` under `lock` for writers; `refHash` readers under RCU.
 * References: each ref object on the list holds a base reference; base objects hold a reference
 * on the file that created them (`base.tfile`), dropped at their release.
 */
export class TtmObjectFile extends SlabObject {
  readonly tdev: TtmObjectDevice;
  /** Models lock: protects ref_list and ref_hash. */
  readonly lock: SpinLock;
  /** Models ref_list: ref objects to release at file close, oldest first. */
  readonly refList: TtmRefObject[] = [];
  /** Models ref_hash: ref objects by handle. */
  readonly refHash = new Map<number, TtmRefObject>();
  /** Models refcount: the file itself and every base object it created. */
  readonly refcount: Kref;

  constructor(tdev: TtmObjectDevice) {
    super(ttmObjectFileCache);
    this.tdev = tdev;
    this.lock = new SpinLock("ttm_object_file.lock", { owner: this });
    this.refcount = new Kref(this);
  }
}

/**
 * Models struct ttm_base_object. Drivers embed it (here: extend it) in their object; the
 * embedding object is freed by `refcountRelease`, after an RCU grace period.
 *
 * Locking: `handle`, `shareable`, `tfile`, `objectType` are set at init and read-only after.
 * References: `refcount`: every ref object, every lookup, and (prime objects) every export.
 */
export class TtmBaseObject extends SlabObject {
  /** Models refcount. */
  readonly refcount: Kref;
  /** Models handle: the idr id, > VMWGFX_NUM_MOB. */
  handle = 0;
  /** Models shareable: other files may open it (ttm_ref_object_add() -EPERM otherwise). */
  shareable = false;
  /** Models tfile: the creator's object file (holds a reference on it until release). */
  tfile: TtmObjectFile | null = null;
  /** Models object_type. */
  objectType = 0;
  /** Models refcount_release. */
  refcountRelease: TtmBaseRelease | null = null;

  constructor(cache?: KmemCache | string) {
    super(cache);
    this.refcount = new Kref(this);
  }
}

/**
 * Models struct ttm_ref_object: one file's opening of one base object.
 *
 * Locking: on the file's hash and list under `tfile.lock`; found under RCU.
 * References: holds one reference on `obj`; `kref` counts the file's opens of it.
 */
export class TtmRefObject extends SlabObject {
  /** Models kref. */
  readonly kref: Kref;
  /** Models hash.key: the base object's handle. */
  key = 0;
  /** Models obj. */
  obj: TtmBaseObject | null = null;
  /** Models tfile. */
  tfile!: TtmObjectFile;

  constructor() {
    super(ttmRefObjectCache);
    this.kref = new Kref(this);
  }
}

/**
 * Models ttm_object_file_ref(): kref_get on the file.
 * Locking: none; the caller holds a reference. References: takes one.
 */
async function ttmObjectFileRef(tfile: TtmObjectFile): Promise<TtmObjectFile> {
  const getDone = tfile.refcount.get();
  if (getDone !== RESOLVED) await getDone;
  return tfile;
}

/**
 * Models ttm_object_file_unref(): kref_put on the file, kfree at 0 (ttm_object_file_destroy()).
 * Locking: none. References: drops one.
 */
/** Models ttm_object_file_destroy(): kfree() (a module-level function, bound per put). */
async function ttmObjectFileDestroy(tfile: TtmObjectFile): Promise<void> {
  kfree(tfile);
}

async function ttmObjectFileUnref(tfile: TtmObjectFile): Promise<void> {
  await tfile.refcount.put(ttmObjectFileDestroy.bind(null, tfile));
}

/**
 * RCU_LOCKDEP_WARN(!rcu_read_lock_held()): an RCU lockdep splat unless the caller is in a
 * read-side critical section.
 * Locking: checks rcu_read_lock(). References: none.
 */
function rcuReadLockAssertHeld(where: string): void {
  // The message is built only when it warns (this runs on every lookup).
  if (!rcuReadLockHeld()) rcuLockdepWarn(true, `${where}() outside rcu_read_lock()`);
}

/**
 * Models ttm_tfile_find_ref_rcu(): the file's ref object for `key`, or -EINVAL.
 * Locking: rcu_read_lock() held (a ref found may be dying: check its kref).
 * References: none taken.
 */
async function ttmTfileFindRefRcu(
  tfile: TtmObjectFile,
  key: number,
): Promise<TtmRefObject | Errno> {
  rcuReadLockAssertHeld("ttm_tfile_find_ref_rcu");
  await point(`hash_for_each_possible_rcu(${tfile.name}, ${key})`);
  tfile.checkAccess("ttm_tfile_find_ref_rcu");
  return tfile.refHash.get(key) ?? errPtr(EINVAL);
}

/**
 * Models ttm_tfile_find_ref(): as ttmTfileFindRefRcu(), under the file's lock.
 * Locking: tfile.lock held. References: none taken.
 */
async function ttmTfileFindRef(tfile: TtmObjectFile, key: number): Promise<TtmRefObject | Errno> {
  lockdepAssertHeld(tfile.lock);
  await point(`hash_for_each_possible(${tfile.name}, ${key})`);
  return tfile.refHash.get(key) ?? errPtr(EINVAL);
}

/**
 * Models ttm_base_object_init(): makes `base` a handle-visible object of `tfile`: takes a file
 * reference, inits the kref (1, the caller's), allocates the handle in the device idr under
 * object_lock, adds the creator's ref object (which takes a second base reference) and drops the
 * initial reference: from here on the ref object keeps the object alive, and a racing unref of
 * the guessed handle may release it. On failure the handle is removed again and the error
 * returned (the caller still owns its reference and must release the object itself).
 *
 * A known window (`vmwgfx.base-object-init-tfile-leak`, KNOWN-WINDOWS.md): v6.12.19 and v6.18.35
 * return both errors (idr_alloc()'s `return ret;`, out_err1 after ttm_ref_object_add()) with
 * the file reference of `base->tfile` still held, and no caller drops it (only
 * ttm_release_base() does, at a kref the error never puts): the ttm_object_file leaks. With the
 * fix switch on, both paths end with ttm_object_file_unref(&base->tfile), as the posted fix.
 *
 * Locking: takes object_lock, then the file's lock (in ttm_ref_object_add()).
 * References: the creator's ref object owns the object on success; on failure the file
 * reference stays in `base.tfile` (the window) or is dropped (its fix switch).
 */
export async function ttmBaseObjectInit(
  tfile: TtmObjectFile,
  base: TtmBaseObject,
  shareable: boolean,
  objectType: number,
  refcountRelease: TtmBaseRelease | null,
): Promise<number> {
  const tdev = tfile.tdev;
  base.shareable = shareable;
  base.tfile = await ttmObjectFileRef(tfile);
  base.refcountRelease = refcountRelease;
  base.objectType = objectType;
  base.refcount.init();
  const objectLockTaken = tdev.objectLock.lock();
  if (objectLockTaken !== RESOLVED) await objectLockTaken;
  const id = await tdev.idr.alloc(base, 1, 0);
  tdev.objectLock.unlockNow();
  if (id < 0) {
    // v6.12.19/v6.18.35: `return ret;` with base->tfile's reference held (the window).
    if (toggleEnabled(VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK.name)) await ttmBaseObjectTfileUnref(base);
    return id;
  }
  base.handle = id;
  const ret = await ttmRefObjectAdd(tfile, base, null, false);
  if (ret !== 0) {
    // out_err1:
    const objectLockTaken2 = tdev.objectLock.lock();
    if (objectLockTaken2 !== RESOLVED) await objectLockTaken2;
    await tdev.idr.remove(base.handle);
    tdev.objectLock.unlockNow();
    if (toggleEnabled(VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK.name)) await ttmBaseObjectTfileUnref(base);
    return ret;
  }
  await ttmBaseObjectUnref(base);
  return 0;
}

/**
 * Models ttm_object_file_unref(&base->tfile) (the inline helper on a base's pointer): clears
 * the pointer, then drops the file reference it held, freeing the file at 0.
 * Locking: none (no spinlock held). References: drops base.tfile's.
 */
async function ttmBaseObjectTfileUnref(base: TtmBaseObject): Promise<void> {
  const tfile = base.tfile!;
  base.tfile = null;
  await ttmObjectFileUnref(tfile);
}

/**
 * Models ttm_release_base(): the last base reference is gone. Removes the handle from the idr
 * (no synchronize_rcu(): the embedding object must be freed with kfree_rcu()), drops the
 * creator file's reference and calls the object's release.
 * Locking: takes object_lock; may sleep in the release (none of the callers holds a spinlock).
 * References: consumes the object.
 */
async function ttmReleaseBase(base: TtmBaseObject): Promise<void> {
  const tfile = base.tfile!;
  const tdev = tfile.tdev;
  const objectLockTaken3 = tdev.objectLock.lock();
  if (objectLockTaken3 !== RESOLVED) await objectLockTaken3;
  await tdev.idr.remove(base.handle);
  tdev.objectLock.unlockNow();
  base.tfile = null;
  await ttmObjectFileUnref(tfile);
  if (base.refcountRelease) await base.refcountRelease(base);
}

/**
 * Models ttm_base_object_unref(): kref_put with ttm_release_base().
 * Locking: none; must not hold a spinlock (the release may sleep).
 * References: drops one; the caller's pointer is dead afterwards.
 */
export async function ttmBaseObjectUnref(base: TtmBaseObject): Promise<void> {
  await base.refcount.put(() => ttmReleaseBase(base));
}

/**
 * Models ttm_base_object_lookup(): the base object the file has opened under `key`, with a new
 * reference, or null (no ref object for that handle in this file, or the object is dying).
 *
 * With `vmwgfx.lookup-under-rcu` on, the lookup before "drm/vmwgfx: Remove rcu locks from user
 * resources" (a309c7194e8a; the 5.10 and 6.1 stable diffs' context lines): the file's hash is
 * walked under rcu_read_lock() only, and `base = ref->obj` is read with no lock against
 * ttm_ref_object_release(), which unhashes the ref under the file's lock, drops the lock and
 * then sets ref->obj to NULL (ttm_base_object_unref(&ref->obj)) before the ref's kfree_rcu(). A
 * lookup that found the ref before the unhash and loads ref->obj after the NULL store
 * dereferences NULL in kref_get_unless_zero(&base->refcount): an oops (`bug`). The load gets a
 * scheduling point of its own there (another CPU's release can run between the hash walk and it);
 * under the file's lock (the default) it is a load the lock protects.
 * Locking: takes the file's lock (v6.12; the toggle: rcu_read_lock()).
 * References: takes one (kref_get_unless_zero()).
 */
export async function ttmBaseObjectLookup(
  tfile: TtmObjectFile,
  key: number,
): Promise<TtmBaseObject | null> {
  if (toggleEnabled(VMWGFX_LOOKUP_UNDER_RCU.name)) return ttmBaseObjectLookupRcu(tfile, key);
  let base: TtmBaseObject | null = null;
  const lockTaken = tfile.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  const ref = await ttmTfileFindRef(tfile, key);
  if (!isErr(ref)) {
    base = ref.obj!;
    if (!(await base.refcount.getUnlessZero())) base = null;
  }
  tfile.lock.unlockNow();
  return base;
}

/**
 * Models ttm_base_object_lookup() before a309c7194e8a (`vmwgfx.lookup-under-rcu`): see
 * ttmBaseObjectLookup().
 * Locking: takes rcu_read_lock(). References: takes one (kref_get_unless_zero()).
 */
async function ttmBaseObjectLookupRcu(
  tfile: TtmObjectFile,
  key: number,
): Promise<TtmBaseObject | null> {
  let base: TtmBaseObject | null = null;
  const rcuReadLockDone = rcuReadLock();
  if (rcuReadLockDone !== RESOLVED) await rcuReadLockDone;
  const ref = await ttmTfileFindRefRcu(tfile, key);
  if (!isErr(ref)) {
    base = await ttmRefObjectObjRcu(ref);
    if (base === null) {
      bug(
        "BUG: kernel NULL pointer dereference in ttm_base_object_lookup(): " +
          `kref_get_unless_zero(&base->refcount) on the NULL ${ref.name}->obj ` +
          "(ttm_ref_object_release() cleared it after the lookup found the ref under RCU)",
        { object: ref.name },
      );
    }
    if (!(await base.refcount.getUnlessZero())) base = null;
  }
  rcuReadUnlock();
  return base;
}

/**
 * The `ref->obj` load of the lookups under RCU (`vmwgfx.lookup-under-rcu`): the ref found by the
 * hash walk lives until a grace period after its release (kfree_rcu()), but its `obj` field is
 * cleared by ttm_ref_object_release() on another CPU without any lock the reader holds, so the
 * load is a scheduling point.
 * Locking: rcu_read_lock() held (asserted). References: none taken.
 */
async function ttmRefObjectObjRcu(ref: TtmRefObject): Promise<TtmBaseObject | null> {
  rcuReadLockAssertHeld("ttm_ref_object->obj");
  await point(`${ref.name}->obj`);
  ref.checkAccess("ttm_ref_object->obj");
  return ref.obj;
}

/**
 * Models ttm_base_object_noref_lookup() (v4.20-era until a309c7194e8a "drm/vmwgfx: Remove rcu
 * locks from user resources", which deleted it; `vmwgfx.lookup-under-rcu`): the base object of
 * the ref the file holds for `key`, without a reference. Not found: rcu_read_unlock() and null.
 * Found: `return ...->obj` with rcu_read_lock() still held (`__release(RCU)`): the pointer is
 * valid only until ttm_base_object_noref_release(), and the object may be doomed (a persistent
 * use needs kref_get_unless_zero()). The loaded ref->obj may also be the NULL a racing
 * ttm_ref_object_release() stored (see ttmBaseObjectLookup()): the caller cannot tell it from
 * "not found" and returns without leaving the read-side section, as the kernel's callers did.
 * Locking: takes rcu_read_lock(); returns with it held unless the ref was not found.
 * References: none.
 */
export async function ttmBaseObjectNorefLookup(
  tfile: TtmObjectFile,
  key: number,
): Promise<TtmBaseObject | null> {
  const rcuReadLockDone2 = rcuReadLock();
  if (rcuReadLockDone2 !== RESOLVED) await rcuReadLockDone2;
  const ref = await ttmTfileFindRefRcu(tfile, key);
  if (isErr(ref)) {
    rcuReadUnlock();
    return null;
  }
  return ttmRefObjectObjRcu(ref);
}

/**
 * Models ttm_base_object_noref_release(): rcu_read_unlock() (`__acquire(RCU)`), ending what a
 * successful ttmBaseObjectNorefLookup() left open.
 * Locking: rcu_read_lock() held by the lookup. References: none.
 */
export function ttmBaseObjectNorefRelease(): void {
  rcuReadLockAssertHeld("ttm_base_object_noref_release");
  rcuReadUnlock();
}

/**
 * Models ttm_base_object_lookup_for_ref(): any base object of the device by handle (whoever
 * created it), with a new reference, or null. For opening another file's object by handle
 * (surface reference ioctls); the caller must then check shareability (ttm_ref_object_add()).
 * Locking: rcu_read_lock(): the idr holds no reference and the object may be past its last put,
 * so only kref_get_unless_zero() may take one; the object's memory lives until a grace period
 * after its release.
 * References: takes one.
 */
export async function ttmBaseObjectLookupForRef(
  tdev: TtmObjectDevice,
  key: number,
): Promise<TtmBaseObject | null> {
  const rcuReadLockDone3 = rcuReadLock();
  if (rcuReadLockDone3 !== RESOLVED) await rcuReadLockDone3;
  let base = await tdev.idr.find(key);
  if (base && !(await base.refcount.getUnlessZero())) base = null;
  const rcuReadUnlockDone = rcuReadUnlock();
  if (rcuReadUnlockDone !== RESOLVED) await rcuReadUnlockDone;
  return base;
}

/**
 * Models ttm_ref_object_add(): makes sure `tfile` has a ref object for `base` and counts one
 * more open of it. -EPERM for another file's non-shareable object, or when `requireExisted` and
 * the file has not opened it yet; -ENOMEM. `existed` (if given) says whether a ref object was
 * already there.
 *
 * The loop: look the ref up under RCU and take a ref-object reference unless it is dying; if
 * none (or dying), allocate a new one and add it under the file's lock, taking a base reference
 * for it. The kernel does not re-check the hash under the lock: two racing first opens both add
 * one, both on the release list.
 *
 * Locking: rcu_read_lock(), then the file's lock.
 * References: a new ref object takes one base reference; an existing one only its own count.
 */
export async function ttmRefObjectAdd(
  tfile: TtmObjectFile,
  base: TtmBaseObject,
  existed: { value: boolean } | null,
  requireExisted: boolean,
): Promise<number> {
  let ret: number = -EINVAL;
  if (base.tfile !== tfile && !base.shareable) return -EPERM;
  if (existed) existed.value = true;
  while (ret === -EINVAL) {
    const rcuReadLockDone4 = rcuReadLock();
    if (rcuReadLockDone4 !== RESOLVED) await rcuReadLockDone4;
    const found = await ttmTfileFindRefRcu(tfile, base.handle);
    if (!isErr(found)) {
      if (await found.kref.getUnlessZero()) {
        const rcuReadUnlockDone2 = rcuReadUnlock();
        if (rcuReadUnlockDone2 !== RESOLVED) await rcuReadUnlockDone2;
        ret = 0;
        break;
      }
    }
    const rcuReadUnlockDone3 = rcuReadUnlock();
    if (rcuReadUnlockDone3 !== RESOLVED) await rcuReadUnlockDone3;
    if (requireExisted) return -EPERM;
    const ref = kmalloc(ttmRefObjectCache, () => new TtmRefObject());
    if (isErr(ref)) return -ENOMEM;
    ref.key = base.handle;
    ref.obj = base;
    ref.tfile = tfile;
    ref.kref.init();
    const lockTaken2 = tfile.lock.lock();
    if (lockTaken2 !== RESOLVED) await lockTaken2;
    await point(`hash_add_rcu(${tfile.name}, ${ref.key})`);
    if (!tfile.refHash.has(ref.key)) tfile.refHash.set(ref.key, ref);
    ret = 0;
    tfile.refList.push(ref);
    const getDone2 = base.refcount.get();
    if (getDone2 !== RESOLVED) await getDone2;
    tfile.lock.unlockNow();
    if (existed) existed.value = false;
  }
  return ret;
}

/**
 * Models ttm_ref_object_release(): unhashes and unlists the ref object, then drops the file's
 * lock, puts the base object (whose release may sleep) and frees the ref object after a grace
 * period (RCU readers of the hash may still look at it), and takes the lock again.
 * Locking: entered and left with the file's lock held; drops it in the middle (__releases /
 * __acquires), so the list may change under the caller.
 * References: drops the ref object's base reference.
 */
async function ttmRefObjectRelease(ref: TtmRefObject): Promise<void> {
  const tfile = ref.tfile;
  lockdepAssertHeld(tfile.lock);
  await point(`hash_del_rcu(${tfile.name}, ${ref.key})`);
  if (tfile.refHash.get(ref.key) === ref) {
    tfile.refHash.delete(ref.key);
    // A twin added by a racing first open becomes findable.
    const twin = tfile.refList.find((r) => r !== ref && r.key === ref.key);
    if (twin) tfile.refHash.set(twin.key, twin);
  }
  const i = tfile.refList.indexOf(ref);
  if (i >= 0) tfile.refList.splice(i, 1);
  tfile.lock.unlockNow();
  const base = ref.obj!;
  ref.obj = null;
  await ttmBaseObjectUnref(base);
  const kfreeRcuDone = kfreeRcu(ref);
  if (kfreeRcuDone !== RESOLVED) await kfreeRcuDone;
  const lockTaken3 = tfile.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
}

/**
 * Models ttm_ref_object_base_unref(): one less open of handle `key` by the file: -EINVAL if the
 * file has no ref object for it (an unknown handle, or one already fully unreferenced); the last
 * unref releases the ref object and its base reference.
 * Locking: takes the file's lock (released and retaken inside the release).
 * References: drops one ref-object count.
 */
export async function ttmRefObjectBaseUnref(tfile: TtmObjectFile, key: number): Promise<number> {
  const lockTaken4 = tfile.lock.lock();
  if (lockTaken4 !== RESOLVED) await lockTaken4;
  const ref = await ttmTfileFindRef(tfile, key);
  if (isErr(ref)) {
    tfile.lock.unlockNow();
    return -EINVAL;
  }
  await ref.kref.put(() => ttmRefObjectRelease(ref));
  tfile.lock.unlockNow();
  return 0;
}

/**
 * Models ttm_object_file_release(): at DRM file close, releases every ref object of the file
 * whatever its count (restarting from the list head each time, since the release drops the lock),
 * then drops the file's own reference (base objects it created may keep it a while).
 * Locking: takes the file's lock.
 * References: drops every ref object's base reference and the file's initial reference.
 */
export async function ttmObjectFileRelease(tfile: TtmObjectFile): Promise<void> {
  const lockTaken5 = tfile.lock.lock();
  if (lockTaken5 !== RESOLVED) await lockTaken5;
  while (tfile.refList.length > 0) {
    const ref = tfile.refList[0]!;
    await ttmRefObjectRelease(ref);
  }
  tfile.lock.unlockNow();
  await ttmObjectFileUnref(tfile);
}

/**
 * Models ttm_object_file_init(): a new object file with one reference (the DRM file's), or
 * -ENOMEM (the kernel returns NULL).
 * Locking: none. References: the caller owns the one reference.
 */
export function ttmObjectFileInit(tdev: TtmObjectDevice): TtmObjectFile | Errno {
  const tfile = kmalloc(ttmObjectFileCache, () => new TtmObjectFile(tdev));
  if (isErr(tfile)) return tfile;
  tfile.refcount.init();
  return tfile;
}

/**
 * Models ttm_object_device_init(ops): the object device, its idr based at VMWGFX_NUM_MOB + 1,
 * and its dma-buf ops: a copy of the driver's with ->release replaced by the prime release
 * (which calls the driver's first). `primeRelease` is ttm_prime_dmabuf_release() (ttm-prime.ts
 * passes it, keeping the two files free of a cycle). -ENOMEM (NULL in the kernel).
 * Locking: none. References: the caller owns the device.
 */
export function ttmObjectDeviceInit(
  ops: TtmDriverDmaBufOps,
  primeRelease: (dmabuf: DmaBuf) => Promise<void>,
): TtmObjectDevice | Errno {
  const tdev = kmalloc(ttmObjectDeviceCache, () => new TtmObjectDevice());
  if (isErr(tdev)) return tdev;
  tdev.dmabufRelease = ops.release ?? null;
  tdev.ops = { ...ops, release: primeRelease };
  return tdev;
}

/**
 * Models ttm_object_device_release(): WARN_ON_ONCE if base objects are left in the idr, then
 * frees the device.
 * Locking: none; no file of the device is left. References: consumes the device.
 */
export async function ttmObjectDeviceRelease(tdev: TtmObjectDevice): Promise<void> {
  warnOn(!tdev.idr.isEmpty(), "ttm_object_device_release: WARN_ON_ONCE(!idr_is_empty(&tdev->idr))");
  await tdev.idr.destroy();
  kfree(tdev);
}
