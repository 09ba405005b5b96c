/**
 * PRIME: sharing GEM objects as dma-bufs (drivers/gpu/drm/drm_prime.c).
 *
 * Reference chain: an importing GEM object holds its dma-buf (through its attachment), and a
 * dma-buf exported from GEM holds its GEM object (dma_buf->priv) and its device: references
 * always flow importer -> dma-buf -> exporter. The one back link, obj->dma_buf, holds a dma-buf
 * reference only while the object has handles, and is dropped with the last handle, which breaks
 * the cycle of an export.
 *
 * Each file has a PRIME cache (struct drm_prime_file_private): a mutex and two trees of members
 * {dma_buf, handle}, one sorted by dma-buf and one by handle, so that exporting a handle twice
 * gives the same dma-buf and importing a dma-buf twice (or importing the file's own export)
 * gives the same handle. Each member holds a dma-buf reference; a handle's member is removed
 * when the handle is released (keyed by handle).
 *
 * The trees are modeled as arrays updated read-copy-write across a scheduling point (the
 * rebalancing of an rb-tree is not atomic): under prime.lock this is invisible, without it a
 * concurrent update can be lost, which is how the unlocked removal corrupted the real trees.
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import {
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufDevice,
  type DmaBufOps,
  dmaBufAttach,
  dmaBufDetach,
  dmaBufExport,
  dmaBufGet,
  dmaBufMapAttachmentUnlocked,
  dmaBufPut,
  dmaBufUnmapAttachmentUnlocked,
  dmaResvAssertHeld,
  getDmaBuf,
  getDmaBufLegacy,
  type SgTable,
  sgAllocTableFromPages,
  sgFreeTable,
} from "@primetime/dma-buf";
import {
  EINVAL,
  ENOENT,
  ENOSYS,
  type Errno,
  errPtr,
  fdInstall,
  getUnusedFdFlags,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  Mutex,
  mmapAssertLocked,
  putUnusedFd,
  SlabObject,
  type Vma,
} from "@primetime/kernel";
import { fmtLabel, opLabel, toggleEnabled, warnOn } from "@primetime/sim";
import { type DrmDevice, drmDevGet, drmDevPut } from "./drm-device.js";
import { DMA_BIDIRECTIONAL } from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";
import {
  drmGemHandleCreateTail,
  drmGemHandleDelete,
  drmGemObjectGet,
  drmGemObjectLookup,
  drmGemObjectPut,
  drmGemPin,
  drmGemUnpin,
  type GemObject,
} from "./drm-gem.js";
import { drmGemMmapTagged } from "./drm-mmap.js";
import { drmVmaNodeAllow, drmVmaNodeRevoke, drmVmaNodeStart } from "./drm-vma-manager.js";
import { PRIME_CACHE_WITHOUT_LOCK, PRIME_EXPORT_OUTSIDE_NAME_LOCK } from "./toggles.js";
import { DRM_CLOEXEC, DRM_RDWR, type DrmPrimeHandle } from "./uapi.js";

// ---- The per-file cache -----------------------------------------------------------------------

/** The slab cache of struct drm_prime_member. */
export const drmPrimeMemberCache = new KmemCache("drm_prime_member");

/** Models struct drm_prime_member: one cache entry; holds a dma-buf reference. */
export class DrmPrimeMember extends SlabObject {
  constructor(
    readonly dmaBuf: DmaBuf,
    readonly handle: number,
  ) {
    super();
  }
}

/**
 * One of the two rb-trees of the cache. Lookups walk it (touching every member on the way, so a
 * freed member left in a tree is a KASAN report); insert and erase read the tree, rebalance
 * (a scheduling point), and write it back.
 */
export class PrimeTree {
  private nodes: DrmPrimeMember[] = [];

  constructor(
    readonly name: string,
    private readonly key: (m: DrmPrimeMember) => unknown,
  ) {}

  get size(): number {
    return this.nodes.length;
  }

  get empty(): boolean {
    return this.nodes.length === 0;
  }

  /** The members, for inspection. */
  members(): readonly DrmPrimeMember[] {
    return this.nodes;
  }

  /** rb-tree walk: the newest member whose key is `k`, or null. */
  find(k: unknown): DrmPrimeMember | null {
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const m = this.nodes[i]!;
      if (!m.checkAccess(opLabel("rb_entry", this.name))) continue;
      if (this.key(m) === k) return m;
    }
    return null;
  }

  /** rb_link_node() + rb_insert_color(). */
  insert(m: DrmPrimeMember): Promise<void> {
    return this.update([...this.nodes, m], opLabel("rb_insert_color", this.name));
  }

  /** rb_erase(). */
  erase(m: DrmPrimeMember): Promise<void> {
    return this.update(
      this.nodes.filter((x) => x !== m),
      opLabel("rb_erase", this.name),
    );
  }

  /**
   * The tree becomes `next` (computed before the point) after the point `label`: settled at once
   * when the running task goes on (pointNow(): no async frame per update).
   */
  private update(next: DrmPrimeMember[], label: string): Promise<void> {
    const p = pointNow(label);
    if (p !== null)
      return p.then(() => {
        this.nodes = next;
      });
    this.nodes = next;
    return RESOLVED;
  }
}

/**
 * Models struct drm_prime_file_private.
 *
 * Locking: `lock` protects both trees.
 * References: each member holds one dma-buf reference.
 */
export class DrmPrimeFilePrivate {
  readonly lock: Mutex;
  readonly dmabufs = new PrimeTree("prime.dmabufs", (m) => m.dmaBuf);
  readonly handles = new PrimeTree("prime.handles", (m) => m.handle);

  constructor(
    readonly owner: SlabObject,
    readonly dev: DrmDevice,
  ) {
    this.lock = new Mutex("prime.lock", { owner });
  }
}

/**
 * Models drm_prime_init_file_private() (the constructor): the mutex and two empty trees.
 * Locking: none; the file is not visible yet.
 * References: none.
 */
export function drmPrimeInitFilePrivate(owner: SlabObject, dev: DrmDevice): DrmPrimeFilePrivate {
  return new DrmPrimeFilePrivate(owner, dev);
}

/**
 * Models drm_prime_destroy_file_private(): by now drm_gem_release() has emptied the cache;
 * WARNs if the dma-buf tree is not empty (the kernel checks that tree only).
 * Locking: none; nobody else can reach the file.
 * References: none.
 */
export function drmPrimeDestroyFilePrivate(prime: DrmPrimeFilePrivate): void {
  warnOn(!prime.dmabufs.empty, `drm_prime_destroy_file_private: dmabufs tree not empty`, {
    object: prime.owner.name,
  });
}

/**
 * Models drm_prime_add_buf_handle(): adds {dma_buf, handle} to both trees. -ENOMEM.
 * Locking: prime.lock held.
 * References: the member takes a dma-buf reference.
 */
export async function drmPrimeAddBufHandle(
  prime: DrmPrimeFilePrivate,
  dmaBuf: DmaBuf,
  handle: number,
): Promise<number> {
  lockdepAssertHeld(prime.lock);
  const atPoint = pointNow("kmalloc(drm_prime_member)");
  if (atPoint !== null) await atPoint;
  const member = kmalloc(drmPrimeMemberCache, () => new DrmPrimeMember(dmaBuf, handle));
  if (isErr(member)) return member;
  await getDmaBuf(dmaBuf);
  await prime.dmabufs.insert(member);
  await prime.handles.insert(member);
  prime.dev.counters.primeEntries++;
  return 0;
}

/**
 * Models drm_prime_lookup_buf_by_handle(): the dma-buf cached for `handle`, or null.
 * Locking: prime.lock held.
 * References: none taken; the caller gets its own with get_dma_buf().
 */
export async function drmPrimeLookupBufByHandle(
  prime: DrmPrimeFilePrivate,
  handle: number,
): Promise<DmaBuf | null> {
  lockdepAssertHeld(prime.lock);
  const atPoint = pointNow("drm_prime_lookup_buf_by_handle");
  if (atPoint !== null) await atPoint;
  return prime.handles.find(handle)?.dmaBuf ?? null;
}

/**
 * Models drm_prime_lookup_buf_handle(): the handle cached for `dmaBuf`, or -ENOENT.
 * Locking: prime.lock held.
 * References: none.
 */
export async function drmPrimeLookupBufHandle(
  prime: DrmPrimeFilePrivate,
  dmaBuf: DmaBuf,
): Promise<number> {
  lockdepAssertHeld(prime.lock);
  const atPoint = pointNow("drm_prime_lookup_buf_handle");
  if (atPoint !== null) await atPoint;
  const m = prime.dmabufs.find(dmaBuf);
  return m ? m.handle : -ENOENT;
}

/** Erases a member from both trees, drops its dma-buf reference and frees it. */
async function drmPrimeEraseMember(prime: DrmPrimeFilePrivate, m: DrmPrimeMember): Promise<void> {
  await prime.handles.erase(m);
  await prime.dmabufs.erase(m);
  prime.dev.counters.primeEntries--;
  const dmaBufPutDone = dmaBufPut(m.dmaBuf);
  if (dmaBufPutDone !== RESOLVED) await dmaBufPutDone;
  kfree(m);
}

/**
 * Models drm_prime_remove_buf_handle(): removes the member of `handle` (if any). Since v6.18
 * (53096728b891, for GEM_CHANGE_HANDLE) the callers hold prime.lock: drm_gem_object_release_handle()
 * takes it around the call.
 *
 * Toggle `prime.cache-without-lock`: the caller does not take prime.lock (no assertion then).
 *
 * Locking: prime.lock held.
 * References: drops the member's dma-buf reference.
 */
export async function drmPrimeRemoveBufHandle(
  prime: DrmPrimeFilePrivate,
  handle: number,
): Promise<void> {
  if (!toggleEnabled(PRIME_CACHE_WITHOUT_LOCK.name)) lockdepAssertHeld(prime.lock);
  const atPoint = pointNow("drm_prime_remove_buf_handle");
  if (atPoint !== null) await atPoint;
  const m = prime.handles.find(handle);
  if (m) await drmPrimeEraseMember(prime, m);
}

/**
 * Models drm_gem_remove_prime_handles() + drm_prime_remove_buf_handle_locked(dma_buf), the code
 * before "drm/gem: Fix GEM handle release errors": removes the member of obj->dma_buf, whichever
 * handle it belongs to (only with toggle `prime.cache-remove-by-dma-buf`).
 *
 * Locking: takes prime.lock; reads obj->dma_buf without object_name_lock (a handle is held).
 * References: drops the member's dma-buf reference.
 */
export async function drmGemRemovePrimeHandles(obj: GemObject, file: DrmFile): Promise<void> {
  const prime = file.prime;
  const lockTaken = prime.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  const atPoint = pointNow(fmtLabel("READ_ONCE(", obj.name, ".dma_buf)"));
  if (atPoint !== null) await atPoint;
  if (obj.dmaBuf) {
    const m = prime.dmabufs.find(obj.dmaBuf);
    if (m) await drmPrimeEraseMember(prime, m);
  }
  prime.lock.unlockNow();
}

// ---- dma_buf_ops for GEM exports ----------------------------------------------------------------

/**
 * Models drm_gem_map_attach(): -ENOSYS if the object has no get_sg_table (drm_gem_map_dma_buf()
 * needs it); else pins it with drm_gem_pin(), which takes the object's reservation lock around
 * the driver's ->pin (v6.10+).
 * Locking: the dma-buf core calls it without the reservation lock; drm_gem_pin() takes it.
 * References: none.
 */
async function drmGemMapAttach(dmaBuf: DmaBuf, _attach: DmaBufAttachment): Promise<number> {
  const obj = dmaBuf.priv as GemObject;
  if (!obj.funcs.getSgTable) return -ENOSYS;
  if (!obj.funcs.pin) return 0;
  return drmGemPin(obj);
}

/**
 * Models drm_gem_map_detach(): nothing without ->unpin (it returns before taking the lock);
 * else ->unpin under the object's reservation lock (dma_resv_lock(obj->resv, NULL), as
 * drm_gem_unpin() does).
 * Locking: called by dma_buf_detach() after it dropped the reservation lock; takes it only for
 * ->unpin.
 * References: none.
 */
async function drmGemMapDetach(dmaBuf: DmaBuf, _attach: DmaBufAttachment): Promise<void> {
  const obj = dmaBuf.priv as GemObject;
  if (!obj.funcs.unpin) return;
  await drmGemUnpin(obj);
}

/**
 * Models drm_gem_map_dma_buf(): the object's pages through funcs->get_sg_table.
 * Locking: the reservation lock held.
 * References: the table is owned by the attachment until unmap.
 */
async function drmGemMapDmaBuf(attach: DmaBufAttachment, _dir: number): Promise<SgTable | Errno> {
  dmaResvAssertHeld(attach.dmabuf.resv);
  const obj = attach.dmabuf.priv as GemObject;
  if (warnOn(!obj.funcs.getSgTable, "drm_gem_map_dma_buf: no get_sg_table")) return errPtr(ENOSYS);
  return obj.funcs.getSgTable!(obj);
}

/**
 * Models drm_gem_unmap_dma_buf(): frees the table.
 * Locking: the reservation lock held.
 * References: frees the table.
 */
async function drmGemUnmapDmaBuf(
  attach: DmaBufAttachment,
  sgt: SgTable,
  _dir: number,
): Promise<void> {
  dmaResvAssertHeld(attach.dmabuf.resv);
  sgFreeTable(sgt);
}

/**
 * Models drm_gem_dmabuf_release(): the dma-buf's release: drops the exported object's and the
 * device's references. With toggle `prime.export-outside-name-lock` it first clears
 * obj->export_dma_buf if it is this dma-buf (the v3.5-v3.11 release).
 * References: drops the references drm_gem_dmabuf_export() took.
 * Locking: none; runs from the dma-buf file's release.
 */
export async function drmGemDmabufRelease(dmaBuf: DmaBuf): Promise<void> {
  const obj = dmaBuf.priv as GemObject;
  const dev = obj.dev;
  if (toggleEnabled(PRIME_EXPORT_OUTSIDE_NAME_LOCK.name)) {
    // v3.5-v3.11: "if (obj->export_dma_buf == dma_buf) obj->export_dma_buf = NULL;"
    const atPoint = pointNow(fmtLabel("", obj.name, ".export_dma_buf = NULL"));
    if (atPoint !== null) await atPoint;
    if (obj.exportDmaBuf === dmaBuf) obj.exportDmaBuf = null;
  }
  dev.counters.dmaBufs--;
  // drop the reference on the export fd holds
  const drmGemObjectPutDone = drmGemObjectPut(obj);
  if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
  const drmDevPutDone = drmDevPut(dev);
  if (drmDevPutDone !== RESOLVED) await drmDevPutDone;
}

/**
 * Models drm_gem_prime_mmap(): maps an exported object through its dma-buf: the fake offset is
 * added to vm_pgoff; with funcs->mmap the object maps itself (holding a reference for the VMA),
 * else drm_gem_mmap() runs on behalf of a temporary file allowed for the object.
 * References: the VMA holds an object reference (dropped by its close).
 * Locking: mmap_lock held.
 */
export async function drmGemPrimeMmap(obj: GemObject, vma: Vma): Promise<number> {
  mmapAssertLocked(vma.vmMm);
  vma.vmPgoff += drmVmaNodeStart(obj.vmaNode);
  if (obj.funcs.mmap) {
    vma.vmOps = obj.funcs.vmOps ?? null;
    const drmGemObjectGetDone = drmGemObjectGet(obj);
    if (drmGemObjectGetDone !== RESOLVED) await drmGemObjectGetDone;
    const ret = await obj.funcs.mmap(obj, vma);
    if (ret) {
      const drmGemObjectPutDone2 = drmGemObjectPut(obj);
      if (drmGemObjectPutDone2 !== RESOLVED) await drmGemObjectPutDone2;
      return ret;
    }
    vma.vmPrivateData = obj;
    return 0;
  }
  const tag = {}; // the temporary drm_file
  let ret = await drmVmaNodeAllow(obj.vmaNode, tag);
  if (ret) return ret;
  ret = await drmGemMmapTagged(obj.dev, tag, vma);
  await drmVmaNodeRevoke(obj.vmaNode, tag);
  return ret;
}

/**
 * Models drm_gem_dmabuf_mmap().
 * Locking: mmap_lock held.
 * References: see drmGemPrimeMmap().
 */
async function drmGemDmabufMmap(dmaBuf: DmaBuf, vma: Vma): Promise<number> {
  return drmGemPrimeMmap(dmaBuf.priv as GemObject, vma);
}

/**
 * Models drm_gem_prime_dmabuf_ops: the dma_buf_ops of every GEM export (without
 * ->cache_sgt_mapping since b72f66f22c0e, "dma-buf: drop caching of sg_tables", v6.15).
 */
export const drmGemPrimeDmabufOps: DmaBufOps = {
  attach: drmGemMapAttach,
  detach: drmGemMapDetach,
  mapDmaBuf: drmGemMapDmaBuf,
  unmapDmaBuf: drmGemUnmapDmaBuf,
  release: drmGemDmabufRelease,
  mmap: drmGemDmabufMmap,
};

/**
 * Models drm_prime_pages_to_sg() over `obj.pages`: the table a driver's get_sg_table returns.
 * A shmem-backed object's pages are all brought in first (drm_gem_get_pages(), as the pin of
 * drm_gem_shmem_get_pages_sgt() does): -ENOMEM when they do not fit in RAM. -EINVAL if the
 * object has no pages.
 * Locking: none.
 * References: the caller owns the table (freed by the unmap).
 */
export async function drmGemPagesSgTable(obj: GemObject): Promise<SgTable | Errno> {
  if (!obj.pages) return errPtr(EINVAL);
  if (obj.shmem) {
    const ret = obj.shmem.getPages();
    if (ret) return errPtr(ret);
  }
  return sgAllocTableFromPages(obj.pages);
}

// ---- Export -------------------------------------------------------------------------------------

/**
 * Models drm_gem_dmabuf_export(): dma_buf_export(), then the dma-buf's device and object
 * references.
 * References: the new dma-buf (file count 1) holds the device and the object.
 * Locking: none; may sleep.
 */
export async function drmGemDmabufExport(
  dev: DrmDevice,
  obj: GemObject,
  flags: number,
  ops: DmaBufOps = drmGemPrimeDmabufOps,
): Promise<DmaBuf | Errno> {
  const dmaBuf = await dmaBufExport({
    // drm_gem_prime_export(): ".exp_name = KBUILD_MODNAME, /* white lie for debug */", i.e.
    // "drm" for every GEM export; the driver shows as the owner.
    expName: "drm",
    owner: dev.driver.name,
    ops,
    size: obj.size,
    flags,
    priv: obj,
    resv: obj.resv,
  });
  if (isErr(dmaBuf)) return dmaBuf;
  const drmDevGetDone = drmDevGet(dev);
  if (drmDevGetDone !== RESOLVED) await drmDevGetDone;
  const drmGemObjectGetDone2 = drmGemObjectGet(obj);
  if (drmGemObjectGetDone2 !== RESOLVED) await drmGemObjectGetDone2;
  dev.counters.dmaBufs++;
  return dmaBuf;
}

/**
 * Models drm_gem_prime_export(): the default funcs->export.
 * References: see drmGemDmabufExport().
 * Locking: none; may sleep.
 */
export async function drmGemPrimeExport(obj: GemObject, flags: number): Promise<DmaBuf | Errno> {
  return drmGemDmabufExport(obj.dev, obj, flags);
}

/**
 * Models export_and_register_object(): exports the object and links it as obj->dma_buf.
 * -ENOENT if its handles are gone (a racing GEM_CLOSE): nobody would drop the link.
 *
 * Locking: object_name_lock held.
 * References: the returned dma-buf carries the caller's reference; obj->dma_buf takes one more.
 */
async function exportAndRegisterObject(
  _dev: DrmDevice,
  obj: GemObject,
  flags: number,
): Promise<DmaBuf | Errno> {
  if (!toggleEnabled(PRIME_EXPORT_OUTSIDE_NAME_LOCK.name))
    lockdepAssertHeld(obj.dev.objectNameLock);
  // prevent races with concurrent gem_close.
  if (obj.handleCount === 0) return errPtr(ENOENT);
  const dmaBuf = obj.funcs.export
    ? await obj.funcs.export(obj, flags)
    : await drmGemPrimeExport(obj, flags);
  if (isErr(dmaBuf)) return dmaBuf;
  // Callers need not clean up the export cache: the handle_count check guarantees someone will.
  obj.dmaBuf = dmaBuf;
  await getDmaBuf(dmaBuf);
  return dmaBuf;
}

/**
 * The middle of drm_gem_prime_handle_to_fd(): the dma-buf of an object without a cache entry:
 * the import's original dma-buf, obj->dma_buf, or a new export linked as obj->dma_buf.
 * Locking: object_name_lock held.
 * References: returns one dma-buf reference for the caller.
 */
async function drmGemPrimeDmabufOf(
  dev: DrmDevice,
  obj: GemObject,
  flags: number,
): Promise<DmaBuf | Errno> {
  if (!toggleEnabled(PRIME_EXPORT_OUTSIDE_NAME_LOCK.name)) lockdepAssertHeld(dev.objectNameLock);
  if (obj.importAttach) {
    // re-export the original imported object
    const d = obj.importAttach.dmabuf;
    await getDmaBuf(d);
    return d;
  }
  if (obj.dmaBuf) {
    await getDmaBuf(obj.dmaBuf);
    return obj.dmaBuf;
  }
  return exportAndRegisterObject(dev, obj, flags);
}

/**
 * Models drm_gem_prime_handle_to_dmabuf(): the dma-buf of a handle, for PRIME export. Returns it
 * with a reference for the caller, or -ENOENT (a bad handle, or an object whose last handle is
 * being closed), the export's errno, -ENOMEM (cache entry).
 *
 * Steps: under prime.lock, look the handle up; a cached dma-buf for it is reused; else, under
 * object_name_lock, reuse the import's original dma-buf or obj->dma_buf, or export and link a new
 * one, and add the cache entry before dropping object_name_lock (so a racing GEM_CLOSE cannot miss
 * it). A fresh export ends with three dma-buf references once the caller installs its fd: the
 * fd, obj->dma_buf and the cache.
 *
 * Toggle `prime.export-outside-name-lock`: the code of v3.5-v3.11 instead
 * (drmGemPrimeHandleToDmabufV311()).
 *
 * Locking: takes prime.lock, then object_name_lock.
 * References: a lookup reference on the object, dropped; returns one dma-buf reference.
 */
export async function drmGemPrimeHandleToDmabuf(
  dev: DrmDevice,
  file: DrmFile,
  handle: number,
  flags: number,
): Promise<DmaBuf | Errno> {
  if (toggleEnabled(PRIME_EXPORT_OUTSIDE_NAME_LOCK.name))
    return drmGemPrimeHandleToDmabufV311(dev, file, handle, flags);
  const lockTaken2 = file.prime.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  const obj = await drmGemObjectLookup(file, handle);
  if (!obj) {
    await file.prime.lock.unlock(); // out_unlock
    return errPtr(ENOENT);
  }
  let dmaBuf: DmaBuf | Errno | null = await drmPrimeLookupBufByHandle(file.prime, handle);
  if (dmaBuf) {
    await getDmaBuf(dmaBuf); // goto out
  } else {
    const objectNameLockTaken = dev.objectNameLock.lock();
    if (objectNameLockTaken !== RESOLVED) await objectNameLockTaken;
    dmaBuf = await drmGemPrimeDmabufOf(dev, obj, flags);
    // out_have_obj: add the cache entry under object_name_lock, so that a racing GEM_CLOSE
    // does not miss it. (On an export failure there is no dma-buf: goto out.)
    let ret = 0;
    if (!isErr(dmaBuf)) ret = await drmPrimeAddBufHandle(file.prime, dmaBuf, handle);
    dev.objectNameLock.unlockNow();
    if (ret && !isErr(dmaBuf)) {
      const dmaBufPutDone2 = dmaBufPut(dmaBuf);
      if (dmaBufPutDone2 !== RESOLVED) await dmaBufPutDone2;
      dmaBuf = errPtr(ret);
    }
  }
  await drmGemObjectPut(obj); // out
  await file.prime.lock.unlock(); // out_unlock
  return dmaBuf;
}

/**
 * Models drm_gem_prime_handle_to_fd() of v3.5-v3.11, up to dma_buf_fd(): the code
 * "drm/prime: proper locking+refcounting for obj->dma_buf link" (319c933c71f3) replaced, behind
 * toggle `prime.export-outside-name-lock`. The object is looked up before prime.lock (the
 * exporting file's lock: no device-wide lock is taken and handle_count is not looked at); an
 * import re-exports its original dma-buf; an object with an obj->export_dma_buf reuses it with
 * get_dma_buf(); otherwise a new export becomes obj->export_dma_buf and gets the file's cache
 * entry ("cheat and add it to the import list so we get the correct handle back").
 *
 * obj->export_dma_buf holds no reference and only the dma-buf's release clears it: after the
 * last dma_buf fd is closed and the last cache entry dropped (GEM_CLOSE of the exporting
 * handle), the dma-buf is doomed but still linked, and an export through another handle (or a
 * lookup made before that GEM_CLOSE) runs get_dma_buf() on it. The get_file() of those kernels
 * was atomic_long_inc(): the file comes back from 0, its pending release frees it under the new
 * fd, and that fd's close releases it again (the Oops of IGT prime_self_import's
 * export-vs-gem_close-race). The rest of the file (by-handle cache removal, the import's
 * obj->dma_buf link) is the current code.
 *
 * Locking: takes prime.lock.
 * References: a lookup reference on the object, dropped; returns one dma-buf reference (taken
 * with the historic get_dma_buf() on a reused one).
 */
async function drmGemPrimeHandleToDmabufV311(
  _dev: DrmDevice,
  file: DrmFile,
  handle: number,
  flags: number,
): Promise<DmaBuf | Errno> {
  const obj = await drmGemObjectLookup(file, handle);
  if (!obj) return errPtr(ENOENT);
  const lockTaken3 = file.prime.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  let dmaBuf: DmaBuf | Errno;
  // re-export the original imported object
  const imported = obj.importAttach?.dmabuf ?? null;
  const atPoint = pointNow(fmtLabel("READ(", obj.name, ".export_dma_buf)"));
  if (atPoint !== null) await atPoint;
  const reuse = imported ?? obj.exportDmaBuf;
  if (reuse) {
    // out_have_obj: get_dma_buf(dmabuf)
    dmaBuf = await getDmaBufLegacy(reuse);
  } else {
    dmaBuf = obj.funcs.export
      ? await obj.funcs.export(obj, flags)
      : await drmGemPrimeExport(obj, flags);
    if (!isErr(dmaBuf)) {
      obj.exportDmaBuf = dmaBuf;
      const ret = await drmPrimeAddBufHandle(file.prime, dmaBuf, handle);
      if (ret) {
        // fail_put_dmabuf: clear NOT to be checked when releasing dma_buf
        obj.exportDmaBuf = null;
        const dmaBufPutDone3 = dmaBufPut(dmaBuf);
        if (dmaBufPutDone3 !== RESOLVED) await dmaBufPutDone3;
        dmaBuf = errPtr(ret);
      }
    }
  }
  const drmGemObjectPutDone3 = drmGemObjectPut(obj);
  if (drmGemObjectPutDone3 !== RESOLVED) await drmGemObjectPutDone3;
  file.prime.lock.unlockNow();
  return dmaBuf;
}

/**
 * Models drm_gem_prime_handle_to_fd(): PRIME export of a handle to a new fd of the current
 * process. The fd is reserved first (get_unused_fd_flags(): -EMFILE...), then
 * drm_gem_prime_handle_to_dmabuf() finds or makes the dma-buf (on failure the fd is given back
 * and its errno returned), and the dma-buf's file is installed at the fd after both locks are
 * dropped. Returns the fd or a negative errno.
 *
 * The cache entry stays even if anything after it fails: obj->dma_buf is linked while a handle
 * exists, and closing the handle cleans the cache.
 *
 * Locking: see drmGemPrimeHandleToDmabuf(); takes the fd table's lock.
 * References: the fd owns the dma-buf reference drmGemPrimeHandleToDmabuf() returned.
 */
export async function drmGemPrimeHandleToFd(
  dev: DrmDevice,
  file: DrmFile,
  handle: number,
  flags: number,
): Promise<number> {
  const fd = await getUnusedFdFlags(flags);
  if (fd < 0) return fd;
  const dmaBuf = await drmGemPrimeHandleToDmabuf(dev, file, handle, flags);
  if (isErr(dmaBuf)) {
    await putUnusedFd(fd);
    return dmaBuf;
  }
  const fdInstallDone = fdInstall(fd, dmaBuf.file!);
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  return fd;
}

// ---- Import -------------------------------------------------------------------------------------

/**
 * Models drm_gem_prime_import_dev(): the GEM object for a dma-buf. A dma-buf exported by this
 * device's GEM is a self-import: the exporter's object itself (+1), no attachment. Otherwise:
 * attach, take a dma-buf reference, map, and let the driver build an object from the pages
 * (-EINVAL if it cannot import); the object records the attachment and shares the dma-buf's
 * reservation object.
 *
 * Locking: object_name_lock held by the caller (drm_gem_prime_fd_to_handle()).
 * References: returns an object reference for the caller; a foreign import's object holds a
 * dma-buf reference (dropped by drmPrimeGemDestroy()).
 */
export async function drmGemPrimeImportDev(
  dev: DrmDevice,
  dmaBuf: DmaBuf,
  attachDev: DmaBufDevice,
): Promise<GemObject | Errno> {
  lockdepAssertHeld(dev.objectNameLock);
  if (dmaBuf.ops === drmGemPrimeDmabufOps) {
    const obj = dmaBuf.priv as GemObject;
    if (obj.dev === dev) {
      // Importing our own export increases the refcount of the GEM object, not the dma-buf's.
      const drmGemObjectGetDone3 = drmGemObjectGet(obj);
      if (drmGemObjectGetDone3 !== RESOLVED) await drmGemObjectGetDone3;
      return obj;
    }
  }
  if (!dev.driver.gemPrimeImportSgTable) return errPtr(EINVAL);
  const attach = await dmaBufAttach(dmaBuf, attachDev);
  if (isErr(attach)) return attach;
  await getDmaBuf(dmaBuf);
  const sgt = await dmaBufMapAttachmentUnlocked(attach, DMA_BIDIRECTIONAL);
  let ret: number;
  if (isErr(sgt)) {
    ret = sgt;
  } else {
    const obj = await dev.driver.gemPrimeImportSgTable(dev, attach, sgt);
    if (!isErr(obj)) {
      obj.importAttach = attach;
      obj.resv = dmaBuf.resv;
      return obj;
    }
    ret = obj;
    await dmaBufUnmapAttachmentUnlocked(attach, sgt, DMA_BIDIRECTIONAL);
  }
  await dmaBufDetach(dmaBuf, attach);
  const dmaBufPutDone4 = dmaBufPut(dmaBuf);
  if (dmaBufPutDone4 !== RESOLVED) await dmaBufPutDone4;
  return errPtr(ret);
}

/**
 * Models drm_gem_prime_import(): drm_gem_prime_import_dev() with the device itself.
 * Locking: object_name_lock held by the caller.
 * References: see drmGemPrimeImportDev().
 */
export async function drmGemPrimeImport(
  dev: DrmDevice,
  dmaBuf: DmaBuf,
): Promise<GemObject | Errno> {
  return drmGemPrimeImportDev(dev, dmaBuf, dev);
}

/**
 * Models drm_prime_gem_destroy(): the importer's side of an imported object's free: unmap,
 * detach, drop the dma-buf reference the import took. Drivers call it from their ->free.
 * References: drops the import's dma-buf reference.
 * Locking: none; called from the object's free.
 */
export async function drmPrimeGemDestroy(obj: GemObject, sg: SgTable | null): Promise<void> {
  const attach = obj.importAttach;
  if (!attach) return;
  if (sg) await dmaBufUnmapAttachmentUnlocked(attach, sg, DMA_BIDIRECTIONAL);
  const dmaBuf = attach.dmabuf;
  await dmaBufDetach(dmaBuf, attach);
  // remove the reference
  const dmaBufPutDone5 = dmaBufPut(dmaBuf);
  if (dmaBufPutDone5 !== RESOLVED) await dmaBufPutDone5;
}

/**
 * Models drm_gem_prime_fd_to_handle(): PRIME import of a dma-buf fd. Returns the handle or a
 * negative errno (-EBADF closed fd, -EINVAL not a dma-buf or not importable).
 *
 * Steps: get the dma-buf; under prime.lock a cached handle for it is returned; else, under
 * object_name_lock, import it (self-import gives the exporter's object), link obj->dma_buf if
 * unset (it must be this dma-buf otherwise), create the handle (which drops object_name_lock),
 * put the import reference, add the cache entry; finally drop the temporary dma-buf reference.
 * If the cache entry cannot be added the handle is deleted again.
 *
 * Locking: takes prime.lock, then object_name_lock.
 * References: the temporary dma-buf reference of dma_buf_get(), dropped; the handle keeps the
 * object; obj->dma_buf and the cache entry each hold a dma-buf reference.
 */
export async function drmGemPrimeFdToHandle(
  dev: DrmDevice,
  file: DrmFile,
  fd: number,
): Promise<number> {
  const dmaBuf = await dmaBufGet(fd);
  if (isErr(dmaBuf)) return dmaBuf;
  const prime = file.prime;
  const lockTaken4 = prime.lock.lock();
  if (lockTaken4 !== RESOLVED) await lockTaken4;
  let ret = await drmPrimeLookupBufHandle(prime, dmaBuf);
  if (ret >= 0) {
    prime.lock.unlockNow();
    const dmaBufPutDone6 = dmaBufPut(dmaBuf);
    if (dmaBufPutDone6 !== RESOLVED) await dmaBufPutDone6;
    return ret;
  }
  // never seen this one, need to import
  const objectNameLockTaken2 = dev.objectNameLock.lock();
  if (objectNameLockTaken2 !== RESOLVED) await objectNameLockTaken2;
  const obj = dev.driver.gemPrimeImport
    ? await dev.driver.gemPrimeImport(dev, dmaBuf)
    : await drmGemPrimeImport(dev, dmaBuf);
  if (isErr(obj)) {
    dev.objectNameLock.unlockNow();
    prime.lock.unlockNow();
    const dmaBufPutDone7 = dmaBufPut(dmaBuf);
    if (dmaBufPutDone7 !== RESOLVED) await dmaBufPutDone7;
    return obj;
  }
  if (obj.dmaBuf) {
    warnOn(obj.dmaBuf !== dmaBuf, `${obj.name}: imported through a dma-buf other than its own`);
  } else {
    obj.dmaBuf = dmaBuf;
    await getDmaBuf(dmaBuf);
  }
  // drm_gem_handle_create_tail() unconditionally unlocks object_name_lock.
  const handle = await drmGemHandleCreateTail(file, obj);
  const drmGemObjectPutDone4 = drmGemObjectPut(obj);
  if (drmGemObjectPutDone4 !== RESOLVED) await drmGemObjectPutDone4;
  if (handle < 0) {
    prime.lock.unlockNow();
    const dmaBufPutDone8 = dmaBufPut(dmaBuf);
    if (dmaBufPutDone8 !== RESOLVED) await dmaBufPutDone8;
    return handle;
  }
  ret = await drmPrimeAddBufHandle(prime, dmaBuf, handle);
  prime.lock.unlockNow();
  if (ret) {
    // if the driver attached, the free-object path detaches
    await drmGemHandleDelete(file, handle);
    const dmaBufPutDone9 = dmaBufPut(dmaBuf);
    if (dmaBufPutDone9 !== RESOLVED) await dmaBufPutDone9;
    return ret;
  }
  const dmaBufPutDone10 = dmaBufPut(dmaBuf);
  if (dmaBufPutDone10 !== RESOLVED) await dmaBufPutDone10;
  return handle;
}

// ---- Ioctls -------------------------------------------------------------------------------------

/**
 * Models drm_prime_handle_to_fd_ioctl(): PRIME_HANDLE_TO_FD. -EINVAL for flags other than
 * DRM_CLOEXEC | DRM_RDWR; the driver's hook if it has one, else drm_gem_prime_handle_to_fd().
 * Locking: see drmGemPrimeHandleToFd().
 * References: the new fd owns one dma-buf reference.
 */
export async function drmPrimeHandleToFdIoctl(
  dev: DrmDevice,
  args: DrmPrimeHandle,
  file: DrmFile,
): Promise<number> {
  // check flags are valid
  if (args.flags & ~(DRM_CLOEXEC | DRM_RDWR)) return -EINVAL;
  const ret = dev.driver.primeHandleToFd
    ? await dev.driver.primeHandleToFd(dev, file, args.handle, args.flags)
    : await drmGemPrimeHandleToFd(dev, file, args.handle, args.flags);
  if (ret < 0) return ret;
  args.fd = ret;
  return 0;
}

/**
 * Models drm_prime_fd_to_handle_ioctl(): PRIME_FD_TO_HANDLE: the driver's hook if it has one,
 * else drm_gem_prime_fd_to_handle().
 * Locking: see drmGemPrimeFdToHandle().
 * References: the new handle holds a handle count.
 */
export async function drmPrimeFdToHandleIoctl(
  dev: DrmDevice,
  args: DrmPrimeHandle,
  file: DrmFile,
): Promise<number> {
  const ret = dev.driver.primeFdToHandle
    ? await dev.driver.primeFdToHandle(dev, file, args.fd)
    : await drmGemPrimeFdToHandle(dev, file, args.fd);
  if (ret < 0) return ret;
  args.handle = ret;
  return 0;
}
