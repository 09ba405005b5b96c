/**
 * GEM objects, handles and flink names (drivers/gpu/drm/drm_gem.c, include/drm/drm_gem.h).
 *
 * Who holds what:
 * - `refcount` (a kref): the creator until it puts, each lookup (+1, put by the caller), all the
 *   handles of all files together (one reference, taken when `handleCount` goes 0 -> 1 and dropped
 *   at 1 -> 0), each mmap (the VMA), each dma-buf exported from the object.
 * - `handleCount`: a plain counter under the device's object_name_lock, counting the handles of
 *   every file and, since v6.16 (f6bfc9afc751), one per framebuffer plane using the object
 *   (drm-framebuffer.ts), so it can exceed the handles userspace has. It can go from 0 back to
 *   1 (GEM_OPEN of a name, import of the object's dma-buf), which is why it is not a kref.
 * - a flink `name` holds no reference: it is removed when `handleCount` reaches 0.
 * - `dmaBuf` (obj->dma_buf) holds a dma-buf reference while `handleCount` > 0; the last handle
 *   drops it, which breaks the object -> dma-buf -> object cycle of an export.
 *
 * Handles live in the file's `objectIdr` (from 1) under `tableLock`. Creation reserves the id
 * with a NULL entry and publishes the object only after the driver's open (the 2025 fix);
 * deletion first replaces the entry with NULL, releases the handle, and frees the id last, so an
 * id is not reused while the driver still has references to the old handle.
 */

import { Kref, RESOLVED } from "@primetime/atomics";
import {
  type DmaBuf,
  type DmaBufAttachment,
  DmaResv,
  dmaBufPut,
  dmaResvAssertHeld,
  dmaResvFini,
  dmaResvLock,
  dmaResvUnlock,
} from "@primetime/dma-buf";
import {
  EINVAL,
  ENOENT,
  EOPNOTSUPP,
  isErr,
  lockdepAssertHeld,
  PAGE_SIZE,
  ShmemFile,
  SlabObject,
} from "@primetime/kernel";
import { bug, fmtLabel, opLabel, pointNow, toggleEnabled, warnOn } from "@primetime/sim";
import type { DrmDevice } from "./drm-device.js";
import { DRIVER_GEM, type DrmGemObjectFuncs, drmCoreCheckFeature } from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";
import {
  drmGemRemovePrimeHandles,
  drmPrimeAddBufHandle,
  drmPrimeRemoveBufHandle,
} from "./drm-prime.js";
import {
  DrmVmaOffsetNode,
  drmVmaNodeAllow,
  drmVmaNodeOffsetAddr,
  drmVmaNodeReset,
  drmVmaNodeRevoke,
  drmVmaOffsetAdd,
  drmVmaOffsetRemove,
} from "./drm-vma-manager.js";
import {
  GEM_CHANGE_HANDLE_LOOKUP_BEFORE_LOCK,
  GEM_CHANGE_HANDLE_LOOKUP_LEAK,
  GEM_CHANGE_HANDLE_NEW_HANDLE_LEFT_NULL,
  GEM_CHANGE_HANDLE_NEW_HANDLE_ZERO,
  GEM_CHANGE_HANDLE_NO_INT_MAX_CHECK,
  GEM_CHANGE_HANDLE_OLD_HANDLE_LIVE,
  GEM_CHANGE_HANDLE_TWO_LIVE_HANDLES,
  GEM_FLINK_NO_HANDLE_COUNT_CHECK,
  GEM_HANDLE_ID_REUSED_BEFORE_RELEASE,
  GEM_HANDLE_PUBLISHED_BEFORE_OPEN,
  GEM_OPEN_DROPS_NAME_LOCK,
  PRIME_CACHE_REMOVE_BY_DMA_BUF,
  PRIME_CACHE_WITHOUT_LOCK,
} from "./toggles.js";
import type { DrmGemChangeHandle, DrmGemClose, DrmGemFlink, DrmGemOpen } from "./uapi.js";

/**
 * Models struct drm_gem_object. Drivers extend it (the kernel embeds it in the driver's object)
 * and allocate it with `kmalloc(cache, () => new MyObject(funcs))`, then call
 * drmGemPrivateObjectInit() (or drmGemObjectInit()).
 *
 * Locking: `handleCount`, `name` and `dmaBuf` under dev.objectNameLock; `importAttach` is set
 * before the object is published and read-only afterwards.
 * References: see the file comment.
 */
export class GemObject extends SlabObject {
  /** Models refcount. */
  readonly refcount: Kref;
  /** Models handle_count (under object_name_lock). */
  handleCount = 0;
  /**
   * Models name: the flink name, 0 if none (under object_name_lock). (`name` itself is the slab
   * object's name, "gem#3", in this model.)
   */
  flinkName = 0;
  /** Models dma_buf: the exported (or imported) dma-buf while handles exist; holds a reference. */
  dmaBuf: DmaBuf | null = null;
  /**
   * Models export_dma_buf of v3.5-v3.11, the field 319c933c71f3 replaced by dma_buf: the
   * object's export, holding *no* reference, cleared by the dma-buf's release (under prime.lock of
   * the exporting file at most). Set only with toggle `prime.export-outside-name-lock`.
   */
  exportDmaBuf: DmaBuf | null = null;
  /** Models import_attach: the attachment of a foreign import, null otherwise. */
  importAttach: DmaBufAttachment | null = null;
  /** Models size (bytes, page aligned). */
  size = 0;
  /** Models dev; set by drmGemPrivateObjectInit(). */
  dev!: DrmDevice;
  /** Models funcs. */
  funcs: DrmGemObjectFuncs;
  /** Models _resv: the object's own reservation object. */
  readonly _resv: DmaResv;
  /** Models resv: `_resv`, or the imported dma-buf's reservation object. */
  resv: DmaResv;
  /** Models vma_node: the mmap offset and the files allowed to map it. */
  readonly vmaNode: DrmVmaOffsetNode;
  /**
   * The backing pages (PAGE_SIZE Uint8Arrays) when the driver keeps them here (what
   * drmGemPageVmOps and drmGemPagesSgTable() map): real memory shared by every mapping and
   * every importer of the object. Null until the driver populates it. For a shmem-backed
   * object (drmGemObjectInit()) it is the shmem file's page array: each page comes into being
   * (and is charged to RAM) on first touch.
   */
  pages: Uint8Array[] | null = null;
  /** Models filp: the shmem file backing the object (drmGemObjectInit()), or null. */
  shmem: ShmemFile | null = null;

  constructor(funcs: DrmGemObjectFuncs) {
    super();
    this.funcs = funcs;
    this.refcount = new Kref(this);
    this._resv = new DmaResv(this);
    this.resv = this._resv;
    this.vmaNode = new DrmVmaOffsetNode(this);
  }
}

/**
 * Models drm_gem_private_object_init(): initializes an allocated object of `size` bytes (page
 * aligned, else BUG) without backing store: one reference (the caller's), no handles.
 *
 * Locking: none; the object is not yet visible.
 * References: the caller owns the initial reference.
 */
export function drmGemPrivateObjectInit(dev: DrmDevice, obj: GemObject, size: number): void {
  if (size % PAGE_SIZE !== 0) bug(`drm_gem_private_object_init: size ${size} not page aligned`);
  obj.dev = dev;
  obj.refcount.init();
  obj.handleCount = 0;
  obj.size = size;
  obj.resv = obj._resv;
  drmVmaNodeReset(obj.vmaNode);
  dev.counters.objects++;
}

/**
 * Models drm_gem_object_init(): drm_gem_private_object_init() plus backing store: a shmem file
 * of `size` bytes (shmem_file_setup(), VM_NORESERVE) whose pages, `obj.pages`, are allocated
 * zeroed and charged to RAM on first touch, so creating a large object costs nothing until it
 * is used.
 *
 * Locking: none.
 * References: the caller owns the initial reference.
 */
export function drmGemObjectInit(dev: DrmDevice, obj: GemObject, size: number): number {
  drmGemPrivateObjectInit(dev, obj, size);
  obj.shmem = new ShmemFile(size);
  obj.pages = obj.shmem.pages;
  return 0;
}

/**
 * Models drm_gem_object_release(): releases what drm_gem_object_init() set up. Drivers call it
 * from their ->free. WARNs if obj->dma_buf is still set (the last handle must have dropped it).
 *
 * Locking: none; the object is dead.
 * References: none.
 */
export async function drmGemObjectRelease(obj: GemObject): Promise<void> {
  // The message and its options are built only when the WARN fires.
  if (obj.dmaBuf !== null)
    warnOn(true, `drm_gem_object_release(${obj.name}): obj->dma_buf still set`, {
      object: obj.name,
    });
  obj.pages = null;
  // fput(obj->filp): the shmem file's last reference frees its pages.
  obj.shmem?.release();
  obj.shmem = null;
  await dmaResvFini(obj._resv);
  await drmGemFreeMmapOffset(obj);
  obj.dev.counters.objects--;
}

/**
 * Models drm_gem_object_free(): the kref release, calls funcs->free.
 * Locking: none.
 * References: the object's last reference is gone.
 */
export async function drmGemObjectFree(obj: GemObject): Promise<void> {
  const atPoint = pointNow(opLabel("drm_gem_object_free", obj.name));
  if (atPoint !== null) await atPoint;
  if (!obj.funcs.free) {
    warnOn(true, `drm_gem_object_free(${obj.name}): no funcs->free`);
    return;
  }
  await obj.funcs.free(obj);
}

/**
 * Models drm_gem_object_get().
 * Locking: none; the caller must already hold a reference (or the lock of the structure it
 * found the object in).
 * References: takes one.
 */
export function drmGemObjectGet(obj: GemObject): Promise<void> {
  return obj.refcount.get();
}

/**
 * Models drm_gem_object_put(): the last put frees the object (funcs->free).
 * Locking: none.
 * References: drops one.
 */
export function drmGemObjectPut(obj: GemObject): Promise<void> {
  return obj.refcount.putVoid(() => drmGemObjectFree(obj));
}

// ---- Handles -----------------------------------------------------------------------------------

/**
 * Models drm_gem_object_handle_get(): counts one more handle reference; the first takes the
 * handles' object reference. (drm_gem_handle_create_tail() does the same inline here.)
 * Locking: object_name_lock held.
 * References: one handle count (and at 0 -> 1 an object reference).
 */
export async function drmGemObjectHandleGet(obj: GemObject): Promise<void> {
  lockdepAssertHeld(obj.dev.objectNameLock);
  if (obj.handleCount++ === 0) await drmGemObjectGet(obj);
}

/**
 * Models drm_gem_object_handle_get_if_exists_unlocked() (f6bfc9afc751, v6.16): takes a handle
 * reference if the object has a handle, for a framebuffer that uses it; returns whether it did.
 * Objects without handles (in-kernel clients' framebuffers) get none.
 * Locking: takes object_name_lock.
 * References: one handle count if the object had any; the caller drops it with
 * drmGemObjectHandlePutUnlocked().
 */
export async function drmGemObjectHandleGetIfExistsUnlocked(obj: GemObject): Promise<boolean> {
  const dev = obj.dev;
  const objectNameLockTaken = dev.objectNameLock.lock();
  if (objectNameLockTaken !== RESOLVED) await objectNameLockTaken;
  // First ref taken during GEM object creation, if any. Some drivers set up internal
  // framebuffers with GEM objects that do not have a GEM handle. Hence, this counter can be zero.
  if (!obj.handleCount) {
    dev.objectNameLock.unlockNow();
    return false;
  }
  await drmGemObjectHandleGet(obj);
  dev.objectNameLock.unlockNow();
  return true;
}

/**
 * Models drm_gem_object_handle_free(): removes the flink name.
 * Locking: object_name_lock held.
 * References: the name held none.
 */
async function drmGemObjectHandleFree(obj: GemObject): Promise<void> {
  const dev = obj.dev;
  lockdepAssertHeld(dev.objectNameLock);
  if (obj.flinkName) {
    await dev.objectNameIdr.remove(obj.flinkName);
    obj.flinkName = 0;
    dev.counters.names--;
  }
}

/**
 * Models drm_gem_object_exported_dma_buf_free(): breaks the object <-> dma-buf cycle.
 * Locking: object_name_lock held.
 * References: drops obj->dma_buf's dma-buf reference.
 */
async function drmGemObjectExportedDmaBufFree(obj: GemObject): Promise<void> {
  lockdepAssertHeld(obj.dev.objectNameLock);
  // Unbreak the reference cycle if we have an exported dma_buf.
  if (obj.dmaBuf) {
    const dmaBufPutDone = dmaBufPut(obj.dmaBuf);
    if (dmaBufPutDone !== RESOLVED) await dmaBufPutDone;
    obj.dmaBuf = null;
  }
}

/**
 * Models drm_gem_object_handle_put_unlocked(): drops one handle count; the last one removes the
 * flink name and the dma-buf link and then drops the handles' object reference. WARNs (and does
 * nothing) if the count is already 0.
 *
 * Locking: takes object_name_lock; called without it.
 * References: drops the handles' object reference at handle_count 1 -> 0.
 */
export async function drmGemObjectHandlePutUnlocked(obj: GemObject): Promise<void> {
  const dev = obj.dev;
  const atPoint = pointNow(fmtLabel("READ_ONCE(", obj.name, ".handle_count)"));
  if (atPoint !== null) await atPoint;
  if (obj.handleCount === 0) {
    warnOn(true, `${obj.name}: handle_count already 0`, { object: obj.name });
    return;
  }
  let final = false;
  const objectNameLockTaken2 = dev.objectNameLock.lock();
  if (objectNameLockTaken2 !== RESOLVED) await objectNameLockTaken2;
  if (--obj.handleCount === 0) {
    await drmGemObjectHandleFree(obj);
    await drmGemObjectExportedDmaBufFree(obj);
    final = true;
  }
  dev.objectNameLock.unlockNow();
  if (final) await drmGemObjectPut(obj);
}

/**
 * Models drm_gem_object_release_handle(): releases what a handle of `file` holds: the driver's
 * close, the PRIME cache entry of the handle, the mmap permission, the handle count.
 *
 * Toggle `prime.cache-remove-by-dma-buf`: the cache entry removed is the one of obj->dma_buf
 * (drm_gem_remove_prime_handles()), not the one of this handle. Toggle
 * `prime.cache-without-lock`: the by-handle removal runs without prime.lock.
 *
 * Locking: none held on entry; takes prime.lock around the cache removal (v6.18).
 * References: drops one handle count (and maybe the handles' object reference).
 */
export async function drmGemObjectReleaseHandle(
  id: number,
  obj: GemObject,
  file: DrmFile,
): Promise<number> {
  if (warnOn(!file, "drm_gem_object_release_handle without a file")) return 0;
  if (obj.funcs.close) await obj.funcs.close(obj, file);
  if (toggleEnabled(PRIME_CACHE_REMOVE_BY_DMA_BUF.name)) {
    // Before "drm/gem: Fix GEM handle release errors": keyed by the object's dma-buf.
    await drmGemRemovePrimeHandles(obj, file);
  } else {
    const locked = !toggleEnabled(PRIME_CACHE_WITHOUT_LOCK.name);
    if (locked) await file.prime.lock.lock();
    await drmPrimeRemoveBufHandle(file.prime, id);
    if (locked) await file.prime.lock.unlock();
  }
  await drmVmaNodeRevoke(obj.vmaNode, file);
  await drmGemObjectHandlePutUnlocked(obj);
  return 0;
}

/**
 * Models drm_gem_handle_delete(): deletes a handle of `file`, in two stages: the entry is
 * replaced by NULL (so lookups fail), the handle is released, and only then is the id freed.
 * -EINVAL if the handle does not exist (or is still being created or deleted).
 *
 * Toggle `gem.handle-id-reused-before-release`: the id is removed at once (idr_find +
 * idr_remove) and the handle released afterwards, so a new handle can reuse the id while the
 * old one's driver references (its PRIME cache entry) are still being released.
 *
 * Locking: takes file->table_lock around each idr operation.
 * References: the handle's handle count.
 */
export async function drmGemHandleDelete(file: DrmFile, handle: number): Promise<number> {
  if (toggleEnabled(GEM_HANDLE_ID_REUSED_BEFORE_RELEASE.name)) {
    const tableLockTaken = file.tableLock.lock();
    if (tableLockTaken !== RESOLVED) await tableLockTaken;
    const obj = await file.objectIdr.find(handle);
    if (obj === null) {
      file.tableLock.unlockNow();
      return -EINVAL;
    }
    await file.objectIdr.remove(handle);
    file.minor.dev.counters.handles--;
    file.tableLock.unlockNow();
    await drmGemObjectReleaseHandle(handle, obj, file);
    return 0;
  }
  const tableLockTaken2 = file.tableLock.lock();
  if (tableLockTaken2 !== RESOLVED) await tableLockTaken2;
  const obj = await file.objectIdr.replace(null, handle);
  file.tableLock.unlockNow();
  if (obj === null || isErr(obj)) return -EINVAL;
  await drmGemObjectReleaseHandle(handle, obj, file);
  const tableLockTaken3 = file.tableLock.lock();
  if (tableLockTaken3 !== RESOLVED) await tableLockTaken3;
  await file.objectIdr.remove(handle);
  file.minor.dev.counters.handles--;
  file.tableLock.unlockNow();
  return 0;
}

/**
 * Models drm_gem_handle_create_tail(): creates a handle of `file` for `obj`. Entered with
 * object_name_lock held; always drops it. Returns the handle (>= 1) or a negative errno.
 *
 * Order (after "drm/gem: Fix race in drm_gem_handle_create_tail()"): count the handle (the
 * first one takes the handles' object reference), reserve an id with a NULL entry under
 * table_lock, drop object_name_lock, allow mmap for the file, call funcs->open, and only then
 * publish the object in the id. On error: revoke, free the id, drop the handle count.
 *
 * Toggle `gem.handle-published-before-open`: the id is allocated with the object already
 * stored, so another thread can GEM_CLOSE it before the vma allowance and funcs->open.
 *
 * Locking: object_name_lock held on entry, released inside; takes table_lock.
 * References: the new handle holds a handle count (and with it the object).
 */
export async function drmGemHandleCreateTail(file: DrmFile, obj: GemObject): Promise<number> {
  const dev = obj.dev;
  warnOn(!dev.objectNameLock.locked, "drm_gem_handle_create_tail: object_name_lock not held");
  if (obj.handleCount++ === 0) await drmGemObjectGet(obj);
  const early = toggleEnabled(GEM_HANDLE_PUBLISHED_BEFORE_OPEN.name);

  const tableLockTaken4 = file.tableLock.lock();
  if (tableLockTaken4 !== RESOLVED) await tableLockTaken4;
  let ret = await file.objectIdr.alloc(early ? obj : null, 1, 0);
  if (ret >= 0) dev.counters.handles++;
  file.tableLock.unlockNow();
  dev.objectNameLock.unlockNow();
  if (ret < 0) {
    await drmGemObjectHandlePutUnlocked(obj);
    return ret;
  }
  const handle = ret;

  ret = await drmVmaNodeAllow(obj.vmaNode, file);
  if (ret === 0 && obj.funcs.open) {
    ret = await obj.funcs.open(obj, file);
    if (ret) await drmVmaNodeRevoke(obj.vmaNode, file);
  }
  if (ret) {
    const tableLockTaken5 = file.tableLock.lock();
    if (tableLockTaken5 !== RESOLVED) await tableLockTaken5;
    await file.objectIdr.remove(handle);
    dev.counters.handles--;
    file.tableLock.unlockNow();
    await drmGemObjectHandlePutUnlocked(obj);
    return ret;
  }

  if (!early) {
    // mirrors drm_gem_handle_delete() to avoid races
    const tableLockTaken6 = file.tableLock.lock();
    if (tableLockTaken6 !== RESOLVED) await tableLockTaken6;
    const old = await file.objectIdr.replace(obj, handle);
    if (old !== null) warnOn(true, `drm_gem_handle_create_tail: handle ${handle} was not reserved`);
    file.tableLock.unlockNow();
  }
  return handle;
}

/**
 * Models drm_gem_handle_create(): creates a handle for an object the caller holds a reference
 * to. Returns the handle or a negative errno. The object is visible to userspace from here on:
 * a driver must only put its own reference afterwards.
 *
 * Locking: takes object_name_lock (released by the tail).
 * References: the handle takes a handle count; the caller keeps its own reference.
 */
export async function drmGemHandleCreate(file: DrmFile, obj: GemObject): Promise<number> {
  const objectNameLockTaken3 = obj.dev.objectNameLock.lock();
  if (objectNameLockTaken3 !== RESOLVED) await objectNameLockTaken3;
  return drmGemHandleCreateTail(file, obj);
}

/**
 * Models drm_gem_object_lookup(): the object of a handle, with a reference, or null.
 *
 * Locking: takes file->table_lock.
 * References: returns one, which the caller puts.
 */
export async function drmGemObjectLookup(file: DrmFile, handle: number): Promise<GemObject | null> {
  // An uncontended lock, the get and the unlock settle at once (RESOLVED): no awaits of them.
  const locked = file.tableLock.lock();
  if (locked !== RESOLVED) await locked;
  const obj = await file.objectIdr.find(handle);
  if (obj) {
    const got = drmGemObjectGet(obj);
    if (got !== RESOLVED) await got;
  }
  const unlocked = file.tableLock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
  return obj;
}

// ---- Ioctls ------------------------------------------------------------------------------------

/**
 * Models drm_gem_close_ioctl(): GEM_CLOSE. -EOPNOTSUPP without DRIVER_GEM, -EINVAL for a bad
 * handle.
 * Locking: see drmGemHandleDelete().
 * References: the handle's.
 */
export async function drmGemCloseIoctl(
  dev: DrmDevice,
  args: DrmGemClose,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_GEM)) return -EOPNOTSUPP;
  return drmGemHandleDelete(file, args.handle);
}

/**
 * Models drm_gem_flink_ioctl(): GEM_FLINK. Names the handle's object (the same name again if it
 * has one). -ENOENT for a bad handle or an object whose last handle is being closed.
 *
 * Toggle `gem.flink-no-handle-count-check`: no handle_count == 0 check, so a flink racing the
 * last GEM_CLOSE names an object that nothing will unname.
 *
 * Locking: takes object_name_lock.
 * References: the lookup reference, dropped at the end; the name holds none.
 */
export async function drmGemFlinkIoctl(
  dev: DrmDevice,
  args: DrmGemFlink,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_GEM)) return -EOPNOTSUPP;
  const obj = await drmGemObjectLookup(file, args.handle);
  if (obj === null) return -ENOENT;
  let ret = 0;
  const objectNameLockTaken4 = dev.objectNameLock.lock();
  if (objectNameLockTaken4 !== RESOLVED) await objectNameLockTaken4;
  // prevent races with concurrent gem_close.
  if (obj.handleCount === 0 && !toggleEnabled(GEM_FLINK_NO_HANDLE_COUNT_CHECK.name)) {
    ret = -ENOENT;
  } else if (!obj.flinkName) {
    ret = await dev.objectNameIdr.alloc(obj, 1, 0);
    if (ret >= 0) {
      obj.flinkName = ret;
      dev.counters.names++;
    }
  }
  if (ret >= 0) {
    args.name = obj.flinkName;
    ret = 0;
  }
  dev.objectNameLock.unlockNow();
  const drmGemObjectPutDone = drmGemObjectPut(obj);
  if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
  return ret;
}

/**
 * Models drm_gem_open_ioctl(): GEM_OPEN. A handle for the named object, and its size. -ENOENT for
 * an unknown name. The lookup and the handle creation happen under one hold of
 * object_name_lock, so the name cannot go away in between.
 *
 * Toggle `gem.open-drops-name-lock`: the lock is dropped after the lookup and the handle is
 * created with drm_gem_handle_create(), which takes it again.
 *
 * Locking: takes object_name_lock (released by the handle creation).
 * References: a temporary reference across the creation; the handle takes its own.
 */
export async function drmGemOpenIoctl(
  dev: DrmDevice,
  args: DrmGemOpen,
  file: DrmFile,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_GEM)) return -EOPNOTSUPP;
  const objectNameLockTaken5 = dev.objectNameLock.lock();
  if (objectNameLockTaken5 !== RESOLVED) await objectNameLockTaken5;
  const obj = await dev.objectNameIdr.find(args.name);
  if (obj) {
    const drmGemObjectGetDone = drmGemObjectGet(obj);
    if (drmGemObjectGetDone !== RESOLVED) await drmGemObjectGetDone;
  } else {
    dev.objectNameLock.unlockNow();
    return -ENOENT;
  }
  let ret: number;
  if (toggleEnabled(GEM_OPEN_DROPS_NAME_LOCK.name)) {
    dev.objectNameLock.unlockNow();
    ret = await drmGemHandleCreate(file, obj);
  } else {
    // drm_gem_handle_create_tail unlocks dev->object_name_lock.
    ret = await drmGemHandleCreateTail(file, obj);
  }
  if (ret > 0) {
    args.handle = ret;
    args.size = obj.size;
    ret = 0;
  }
  const drmGemObjectPutDone2 = drmGemObjectPut(obj);
  if (drmGemObjectPutDone2 !== RESOLVED) await drmGemObjectPutDone2;
  return ret;
}

/** INT_MAX: idr ids are ints. */
const INT_MAX = 0x7fff_ffff;

/**
 * The GEM_CHANGE_HANDLE body a toggle brings back: 0 = v6.18.0 (53096728b891), 1 = with the
 * lookup reference put (630efee9493c), 2 = with 5e28b7b94408, 3 = with dc366607c41c, 4 = with
 * 7164d78559b0; 5 = the current code (1a4f03d22fb6). The oldest enabled toggle wins.
 */
function changeHandleStage(): number {
  if (toggleEnabled(GEM_CHANGE_HANDLE_LOOKUP_LEAK.name)) return 0;
  if (toggleEnabled(GEM_CHANGE_HANDLE_TWO_LIVE_HANDLES.name)) return 1;
  if (toggleEnabled(GEM_CHANGE_HANDLE_NEW_HANDLE_LEFT_NULL.name)) return 2;
  if (toggleEnabled(GEM_CHANGE_HANDLE_OLD_HANDLE_LIVE.name)) return 3;
  if (toggleEnabled(GEM_CHANGE_HANDLE_LOOKUP_BEFORE_LOCK.name)) return 4;
  return 5;
}

/**
 * The fix switch of the known window gem.change-handle-new-handle-zero (KNOWN-WINDOWS.md): DRM
 * handles are never 0, so new_handle 0 is -EINVAL right after the same-handle check (0 -> 0
 * stays 0), before prime.lock and any allocation (proposed here, in every body; 1a4f03d22fb6's
 * re-enable list names "handle == 0"). With the switch off each body does what its kernel did
 * with 0 (see the window's text).
 */
function newHandleZeroRejected(args: DrmGemChangeHandle): boolean {
  return args.new_handle === 0 && toggleEnabled(GEM_CHANGE_HANDLE_NEW_HANDLE_ZERO.name);
}

/**
 * Models drm_gem_change_handle_ioctl(): GEM_CHANGE_HANDLE (v6.18, for CRIU restore) moves the
 * object of `args.handle` to the free id `args.new_handle`, with its PRIME cache entry, so that
 * FD_TO_HANDLE of its dma-buf returns the new handle. The handle count does not change (one
 * handle moves). Errno: -EOPNOTSUPP without DRIVER_GEM, -EINVAL for new_handle > INT_MAX,
 * -EINVAL for new_handle 0 with the known window's fix switch on (baselineFixes(); without it
 * idr_alloc(0, 1) reserves another id and the final idr_replace() WARNs), -ENOSPC if new_handle
 * is taken, -ENOENT for an unknown or dying handle, -ENOMEM from the cache entry; handle ==
 * new_handle is 0 without a look.
 *
 * The current code (1a4f03d22fb6, "attempt 4"): under prime.lock and table_lock, reserve the
 * new id with NULL and take the object out of the old id (idr_replace(NULL): a concurrent
 * GEM_CLOSE of either id now finds NULL and fails); then move the PRIME entry (add the new
 * handle's, remove the old one's); last, under table_lock, free the old id and publish the
 * object at the new one. The errors undo it in reverse. No object reference is taken: the
 * handle's own is inherited. (Mainline since 1a4f03d22fb6 also routes the ioctl to
 * drm_invalid_op, -EINVAL, until IGT covers it; the model keeps this fixed handler reachable so
 * that its behaviour and the historic bodies can be compared.)
 *
 * Toggles `gem.change-handle-*` bring back the earlier bodies (drmGemChangeHandleHistoric()).
 *
 * Locking: takes prime.lock, then file->table_lock (three sections).
 * References: none taken; the handle's reference moves to the new id.
 */
export async function drmGemChangeHandleIoctl(
  dev: DrmDevice,
  args: DrmGemChangeHandle,
  file: DrmFile,
): Promise<number> {
  const stage = changeHandleStage();
  if (stage < 5) return drmGemChangeHandleHistoric(dev, args, file, stage);
  if (!drmCoreCheckFeature(dev, DRIVER_GEM)) return -EOPNOTSUPP;
  // idr_alloc() limitation.
  if (args.new_handle > INT_MAX && !toggleEnabled(GEM_CHANGE_HANDLE_NO_INT_MAX_CHECK.name))
    return -EINVAL;
  const newHandle = args.new_handle | 0;
  if (args.handle === newHandle) return 0;
  if (newHandleZeroRejected(args)) return -EINVAL;

  const prime = file.prime;
  let ret: number;
  const lockTaken = prime.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  const tableLockTaken7 = file.tableLock.lock();
  if (tableLockTaken7 !== RESOLVED) await tableLockTaken7;
  ret = await file.objectIdr.alloc(null, newHandle, newHandle + 1);
  if (ret < 0) {
    file.tableLock.unlockNow();
    await prime.lock.unlock(); // out_unlock
    return ret;
  }
  dev.counters.handles++;
  const obj = await file.objectIdr.replace(null, args.handle);
  if (obj === null || isErr(obj)) {
    await file.objectIdr.remove(newHandle);
    dev.counters.handles--;
    file.tableLock.unlockNow();
    prime.lock.unlockNow();
    return -ENOENT;
  }
  file.tableLock.unlockNow();

  if (obj.dmaBuf) {
    ret = await drmPrimeAddBufHandle(prime, obj.dmaBuf, newHandle);
    if (ret < 0) {
      const tableLockTaken8 = file.tableLock.lock();
      if (tableLockTaken8 !== RESOLVED) await tableLockTaken8;
      await file.objectIdr.remove(newHandle);
      dev.counters.handles--;
      await file.objectIdr.replace(obj, args.handle);
      file.tableLock.unlockNow();
      prime.lock.unlockNow();
      return ret;
    }
    await drmPrimeRemoveBufHandle(prime, args.handle);
  }
  ret = 0;
  const tableLockTaken9 = file.tableLock.lock();
  if (tableLockTaken9 !== RESOLVED) await tableLockTaken9;
  await file.objectIdr.remove(args.handle);
  dev.counters.handles--;
  const old = await file.objectIdr.replace(obj, newHandle);
  file.tableLock.unlockNow();
  warnOn(old !== null, `drm_gem_change_handle_ioctl: handle ${newHandle} was not reserved`);
  await prime.lock.unlock(); // out_unlock
  return ret;
}

/**
 * Models drm_gem_change_handle_ioctl() as the kernels before 1a4f03d22fb6 had it, `stage` (see
 * changeHandleStage()) saying which fixes are in: look the object up (a reference) before any
 * lock; under prime.lock and table_lock allocate the new id *with the object*; from 5e28b7b94408
 * (stage >= 2) replace the new id with NULL (the wrong slot: the local `handle` is the new
 * handle); from 7164d78559b0 (stage 4) also the old id; move the PRIME entry; free the old id;
 * from dc366607c41c (stage >= 3) put the object back at the new id; from 630efee9493c (stage
 * >= 1) put the lookup reference. v6.18.0 (stage 0) has no INT_MAX check either (d8129446edea).
 *
 * Locking: takes prime.lock, then file->table_lock (in up to three sections).
 * References: a lookup reference, put from stage 1 on (leaked in stage 0).
 */
async function drmGemChangeHandleHistoric(
  dev: DrmDevice,
  args: DrmGemChangeHandle,
  file: DrmFile,
  stage: number,
): Promise<number> {
  if (!drmCoreCheckFeature(dev, DRIVER_GEM)) return -EOPNOTSUPP;
  if (
    stage >= 1 &&
    args.new_handle > INT_MAX &&
    !toggleEnabled(GEM_CHANGE_HANDLE_NO_INT_MAX_CHECK.name)
  )
    return -EINVAL;
  // `int handle = args->new_handle` (v6.18.0 passed args->new_handle to idr_alloc()'s int).
  const handle = args.new_handle | 0;
  const obj = await drmGemObjectLookup(file, args.handle);
  if (!obj) return -ENOENT;
  const prime = file.prime;
  const out = async (ret: number): Promise<number> => {
    if (stage >= 1) await drmGemObjectPut(obj);
    return ret;
  };
  const outUnlock = async (ret: number): Promise<number> => {
    prime.lock.unlockNow();
    return out(ret);
  };
  if (args.handle === handle) return out(0);
  if (newHandleZeroRejected(args)) return out(-EINVAL);

  const lockTaken2 = prime.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  const tableLockTaken10 = file.tableLock.lock();
  if (tableLockTaken10 !== RESOLVED) await tableLockTaken10;
  let ret = await file.objectIdr.alloc(obj, handle, handle + 1);
  if (ret >= 0) dev.counters.handles++;
  if (stage < 2) {
    file.tableLock.unlockNow();
    if (ret < 0) return outUnlock(ret);
  } else {
    if (ret < 0) {
      file.tableLock.unlockNow();
      return outUnlock(ret);
    }
    // 5e28b7b94408: "idrobj = idr_replace(..., NULL, handle)" where handle is the new one.
    const idrobj = await file.objectIdr.replace(null, handle);
    if (idrobj !== obj) {
      await file.objectIdr.replace(idrobj as GemObject | null, handle);
      await file.objectIdr.remove(args.new_handle);
      dev.counters.handles--;
      file.tableLock.unlockNow();
      return outUnlock(-ENOENT);
    }
    // 7164d78559b0: the old handle too, result unchecked.
    if (stage >= 4) await file.objectIdr.replace(null, args.handle);
    file.tableLock.unlockNow();
    // 5e28b7b94408 kept "if (ret < 0) goto out_unlock;" (dc366607c41c removed it): ret >= 0.
  }

  if (obj.dmaBuf) {
    ret = await drmPrimeAddBufHandle(prime, obj.dmaBuf, handle);
    if (ret < 0) {
      const tableLockTaken11 = file.tableLock.lock();
      if (tableLockTaken11 !== RESOLVED) await tableLockTaken11;
      await file.objectIdr.remove(handle);
      dev.counters.handles--;
      if (stage === 2) {
        // "idrobj = idr_replace(..., obj, handle); WARN_ON(idrobj != NULL);" on the removed id.
        const idrobj = await file.objectIdr.replace(obj, handle);
        warnOn(
          idrobj !== null,
          `drm_gem_change_handle_ioctl: idr_replace() of removed id ${handle}`,
        );
      } else if (stage === 4) {
        await file.objectIdr.replace(obj, args.handle);
      }
      file.tableLock.unlockNow();
      return outUnlock(ret);
    }
    await drmPrimeRemoveBufHandle(prime, args.handle);
  }
  ret = 0;
  const tableLockTaken12 = file.tableLock.lock();
  if (tableLockTaken12 !== RESOLVED) await tableLockTaken12;
  await file.objectIdr.remove(args.handle);
  dev.counters.handles--;
  if (stage >= 3) {
    // dc366607c41c: "idrobj = idr_replace(..., obj, handle);"
    const idrobj = await file.objectIdr.replace(obj, handle);
    file.tableLock.unlockNow();
    warnOn(idrobj !== null, `drm_gem_change_handle_ioctl: handle ${handle} was not reserved`);
  } else {
    file.tableLock.unlockNow();
  }
  return outUnlock(ret);
}

/**
 * Models drm_gem_open(): sets up the file's handle table (done by the DrmFile constructor).
 * Locking: none.
 * References: none.
 */
export function drmGemOpen(_dev: DrmDevice, _file: DrmFile): void {}

/**
 * Models drm_gem_release(): at file close, releases every handle of the file (each through
 * drm_gem_object_release_handle()) and destroys the handle table.
 *
 * Locking: none; nobody else can reach the file any more.
 * References: every handle's handle count.
 */
export async function drmGemRelease(dev: DrmDevice, file: DrmFile): Promise<void> {
  let n = 0;
  await file.objectIdr.forEach(async (id, obj) => {
    n++;
    await drmGemObjectReleaseHandle(id, obj, file);
  });
  dev.counters.handles -= n;
  await file.objectIdr.destroy();
}

// ---- mmap offsets -------------------------------------------------------------------------------

/**
 * Models drm_gem_create_mmap_offset_size(): allocates the object's fake offset range
 * (idempotent). 0 or -ENOSPC.
 * Locking: takes the offset manager's lock.
 * References: none.
 */
export async function drmGemCreateMmapOffsetSize(obj: GemObject, size: number): Promise<number> {
  return drmVmaOffsetAdd(obj.dev.vmaOffsetManager, obj.vmaNode, size / PAGE_SIZE);
}

/**
 * Models drm_gem_create_mmap_offset().
 * Locking: takes the offset manager's lock.
 * References: none.
 */
export async function drmGemCreateMmapOffset(obj: GemObject): Promise<number> {
  return drmGemCreateMmapOffsetSize(obj, obj.size);
}

/**
 * Models drm_gem_free_mmap_offset(): frees the offset range; lookups stop finding the object.
 * Locking: takes the offset manager's lock.
 * References: none.
 */
export async function drmGemFreeMmapOffset(obj: GemObject): Promise<void> {
  const removed = drmVmaOffsetRemove(obj.dev.vmaOffsetManager, obj.vmaNode);
  if (removed !== RESOLVED) await removed;
}

/**
 * Models drm_gem_dumb_map_offset(): the fake mmap offset of a handle's object (created on
 * demand). Returns the offset or -ENOENT (bad handle), -EINVAL (imported object).
 * Locking: see drmGemObjectLookup(), drmGemCreateMmapOffset().
 * References: a lookup reference, dropped.
 */
export async function drmGemDumbMapOffset(
  file: DrmFile,
  _dev: DrmDevice,
  handle: number,
): Promise<number> {
  const obj = await drmGemObjectLookup(file, handle);
  if (!obj) return -ENOENT;
  let ret: number;
  // Don't allow imported objects to be mapped
  if (obj.importAttach) {
    ret = -EINVAL;
  } else {
    ret = await drmGemCreateMmapOffset(obj);
    if (ret === 0) ret = drmVmaNodeOffsetAddr(obj.vmaNode);
  }
  const drmGemObjectPutDone3 = drmGemObjectPut(obj);
  if (drmGemObjectPutDone3 !== RESOLVED) await drmGemObjectPutDone3;
  return ret;
}

// ---- pinning (drm_gem.c, v6.10+: "drm/gem: Acquire reservation lock in drm_gem_{pin/unpin}()") --

/**
 * Models drm_gem_pin_locked(): the driver's ->pin, if any.
 * Locking: the object's reservation lock held (asserted), as every ->pin callback expects since
 * v6.10.
 * References: none.
 */
export async function drmGemPinLocked(obj: GemObject): Promise<number> {
  dmaResvAssertHeld(obj.resv);
  return obj.funcs.pin ? obj.funcs.pin(obj) : 0;
}

/**
 * Models drm_gem_unpin_locked(): the driver's ->unpin, if any.
 * Locking: the object's reservation lock held (asserted).
 * References: none.
 */
export async function drmGemUnpinLocked(obj: GemObject): Promise<void> {
  dmaResvAssertHeld(obj.resv);
  if (obj.funcs.unpin) await obj.funcs.unpin(obj);
}

/**
 * Models drm_gem_pin(): drm_gem_pin_locked() under the object's reservation lock
 * (non-interruptible dma_resv_lock(obj->resv, NULL)).
 * Locking: takes the reservation lock.
 * References: none.
 */
export async function drmGemPin(obj: GemObject): Promise<number> {
  await dmaResvLock(obj.resv);
  const ret = await drmGemPinLocked(obj);
  const dmaResvUnlockDone = dmaResvUnlock(obj.resv);
  if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
  return ret;
}

/**
 * Models drm_gem_unpin(): drm_gem_unpin_locked() under the object's reservation lock.
 * Locking: takes the reservation lock.
 * References: none.
 */
export async function drmGemUnpin(obj: GemObject): Promise<void> {
  await dmaResvLock(obj.resv);
  await drmGemUnpinLocked(obj);
  const dmaResvUnlockDone2 = dmaResvUnlock(obj.resv);
  if (dmaResvUnlockDone2 !== RESOLVED) await dmaResvUnlockDone2;
}
