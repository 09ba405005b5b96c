/**
 * The DRM mmap offset manager (drivers/gpu/drm/drm_vma_manager.c, include/drm/drm_vma_manager.h).
 *
 * Every GEM object that userspace maps gets a range of fake page offsets in the device's
 * offset space; userspace passes the offset to mmap() on the DRM fd and drm_gem_mmap() looks the
 * object up by it. Each node also keeps the set of files allowed to map it (one counted entry per
 * file that has a handle), so a file cannot map an object by guessing its offset.
 *
 * Faithfulness: the manager's and the nodes' rwlock_t are modeled as spinlocks (readers exclude
 * each other: fewer interleavings, the same safety). The offset space is a drm_mm (`DrmMm`,
 * drm-mm.ts) as in the kernel: drm_vma_offset_add() inserts with drm_mm_insert_node()
 * (DRM_MM_INSERT_BEST: the smallest hole that fits), and the lookup walks its interval tree. The
 * per-file entries are slab objects (`drm_vma_offset_file`), so an entry that is never revoked
 * is a kmemleak report, as in the kernel.
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import {
  ENOMEM,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  PAGE_SIZE,
  SlabObject,
  SpinLock,
} from "@primetime/kernel";
import { point } from "@primetime/sim";
import { DRM_MM_INSERT_BEST, DrmMm } from "./drm-mm.js";

/** Models DRM_FILE_PAGE_OFFSET_START (64-bit): the first fake page offset, 4 GiB in. */
export const DRM_FILE_PAGE_OFFSET_START = Math.floor(0xffffffff / PAGE_SIZE) + 1;
/** Models DRM_FILE_PAGE_OFFSET_SIZE (64-bit). */
export const DRM_FILE_PAGE_OFFSET_SIZE = Math.floor(0xffffffff / PAGE_SIZE) * 256;

/** The slab cache of struct drm_vma_offset_file. */
export const drmVmaOffsetFileCache = new KmemCache("drm_vma_offset_file");

/**
 * Models struct drm_vma_offset_file: one file allowed to map a node, counted (one count per
 * handle the file has on the object).
 */
export class DrmVmaOffsetFile extends SlabObject {
  vmCount = 1;
  constructor(readonly vmTag: object) {
    super();
  }
}

/**
 * Models struct drm_vma_offset_node, embedded in a GEM object: its drm_mm node (`vm_node`: the
 * range in the offset space, in pages, 0 while unallocated) and the files allowed to map it.
 *
 * Locking: `vmLock` protects `vmFiles`; the range is protected by the manager's lock.
 */
export class DrmVmaOffsetNode {
  readonly vmLock: SpinLock;
  /** vm_node.start (pages), as drm_mm_insert_node() fills it; 0 while unallocated. */
  start = 0;
  /** vm_node.size (pages). */
  size = 0;
  /** drm_mm_node_allocated(&vm_node). */
  allocated = false;
  /** vm_files: allowed files by tag (the DrmFile). */
  readonly vmFiles = new Map<object, DrmVmaOffsetFile>();

  /** `owner` is the object the node is embedded in (container_of()). */
  constructor(readonly owner: SlabObject) {
    this.vmLock = new SpinLock("drm_vma_offset_node.vm_lock", { owner });
  }
}

/**
 * Models struct drm_vma_offset_manager: the offset space of a device.
 *
 * Locking: `vmLock` (an rwlock in the kernel) protects the allocated ranges; lookups run under it
 * (drm_vma_offset_lock_lookup()) so that a found node's object is still allocated and a
 * kref_get_unless_zero() on it is safe.
 */
export class DrmVmaOffsetManager {
  readonly vmLock = new SpinLock("drm_vma_offset_manager.vm_lock");
  /** vm_addr_space_mm: the offset space, its nodes embedded in the offset nodes. */
  readonly vmAddrSpaceMm: DrmMm<DrmVmaOffsetNode>;

  /**
   * Models drm_vma_offset_manager_init(mgr, page_offset, size): rwlock_init(), then
   * drm_mm_init(&mgr->vm_addr_space_mm, page_offset, size).
   */
  constructor(
    readonly pageOffset: number = DRM_FILE_PAGE_OFFSET_START,
    readonly pageSize: number = DRM_FILE_PAGE_OFFSET_SIZE,
  ) {
    this.vmAddrSpaceMm = new DrmMm<DrmVmaOffsetNode>(pageOffset, pageSize);
  }

  /** Allocated nodes (inspection, no scheduling point). */
  get count(): number {
    return this.vmAddrSpaceMm.allocations().length;
  }
}

/**
 * Models drm_vma_node_reset(): an unallocated node.
 * Locking: none; the node's object is not visible yet.
 * References: none.
 */
export function drmVmaNodeReset(node: DrmVmaOffsetNode): void {
  node.start = 0;
  node.size = 0;
  node.allocated = false;
}

/**
 * Models drm_vma_node_start(): the first page offset (0 if unallocated).
 * Locking: the offset manager's lock, or a reference keeping the node allocated.
 * References: none.
 */
export function drmVmaNodeStart(node: DrmVmaOffsetNode): number {
  return node.start;
}

/**
 * Models drm_vma_node_size(): the size in pages.
 * Locking: see drmVmaNodeStart().
 * References: none.
 */
export function drmVmaNodeSize(node: DrmVmaOffsetNode): number {
  return node.size;
}

/**
 * Models drm_vma_node_has_offset().
 * Locking: see drmVmaNodeStart().
 * References: none.
 */
export function drmVmaNodeHasOffset(node: DrmVmaOffsetNode): boolean {
  return node.allocated;
}

/**
 * Models drm_vma_node_offset_addr(): the byte offset userspace passes to mmap().
 * Locking: see drmVmaNodeStart().
 * References: none.
 */
export function drmVmaNodeOffsetAddr(node: DrmVmaOffsetNode): number {
  return node.start * PAGE_SIZE;
}

/**
 * Models drm_vma_offset_add(): unless the node is allocated already (idempotent),
 * drm_mm_insert_node(&mgr->vm_addr_space_mm, &node->vm_node, pages): DRM_MM_INSERT_BEST, the
 * smallest hole of at least `pages` pages (the newest of equal ones), the node at its bottom.
 * Returns 0 or -ENOSPC (no hole of `pages`, or `pages` is 0: drm_mm_insert_node_in_range()
 * refuses an empty node; a node that already has a range returns 0 whatever `pages` is).
 *
 * Locking: takes mgr->vm_lock for writing.
 * References: none.
 */
export async function drmVmaOffsetAdd(
  mgr: DrmVmaOffsetManager,
  node: DrmVmaOffsetNode,
  pages: number,
): Promise<number> {
  const locked = mgr.vmLock.lock();
  if (locked !== RESOLVED) await locked;
  let ret = 0;
  if (!node.allocated) {
    const start = mgr.vmAddrSpaceMm.insertNode(pages, 0, DRM_MM_INSERT_BEST, node);
    if (start < 0) ret = start;
    else {
      // drm_mm_insert_node() fills the embedded node
      node.start = start;
      node.size = pages;
      node.allocated = true;
    }
  }
  const unlocked = mgr.vmLock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
  return ret;
}

/**
 * Models drm_vma_offset_remove(): if the node is allocated, drm_mm_remove_node() and the node
 * zeroed (memset(&node->vm_node, 0, ...)); a no-op otherwise. After it, a lookup can no longer
 * find the node.
 *
 * Locking: takes mgr->vm_lock for writing.
 * References: none.
 */
export function drmVmaOffsetRemove(
  mgr: DrmVmaOffsetManager,
  node: DrmVmaOffsetNode,
): Promise<void> {
  // No async frame: when write_lock()'s point keeps the task and the lock is free (RESOLVED),
  // the removal and the unlock run at once; a throw becomes a rejected promise.
  try {
    const locked = mgr.vmLock.lock();
    if (locked !== RESOLVED) return locked.then(() => drmVmaOffsetRemoveLocked(mgr, node));
    return drmVmaOffsetRemoveLocked(mgr, node);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** drmVmaOffsetRemove() under vm_lock: the node leaves the address space, then the unlock. */
function drmVmaOffsetRemoveLocked(mgr: DrmVmaOffsetManager, node: DrmVmaOffsetNode): Promise<void> {
  if (node.allocated) {
    mgr.vmAddrSpaceMm.removeNode(node.start);
    node.start = 0;
    node.size = 0;
    node.allocated = false;
  }
  return mgr.vmLock.unlock();
}

/**
 * Models drm_vma_offset_lock_lookup(): read_lock(&mgr->vm_lock).
 * Locking: takes mgr->vm_lock; pairs with drmVmaOffsetUnlockLookup().
 * References: none.
 */
export function drmVmaOffsetLockLookup(mgr: DrmVmaOffsetManager): Promise<void> {
  return mgr.vmLock.lock();
}

/**
 * Models drm_vma_offset_unlock_lookup().
 * Locking: releases mgr->vm_lock.
 * References: none.
 */
export function drmVmaOffsetUnlockLookup(mgr: DrmVmaOffsetManager): Promise<void> {
  return mgr.vmLock.unlock();
}

/**
 * Models drm_vma_offset_lookup_locked(): walks the drm_mm's interval tree for the node with the
 * largest start not above `start` (the best match), then verifies that it spans the requested
 * area (`best->start + best->size < start + pages`: none). So `start` may point into a node.
 *
 * Locking: mgr->vm_lock held (drmVmaOffsetLockLookup()); the node's object may be dying, so the
 * caller must kref_get_unless_zero() it before dropping the lock.
 * References: none.
 */
export async function drmVmaOffsetLookupLocked(
  mgr: DrmVmaOffsetManager,
  start: number,
  pages: number,
): Promise<DrmVmaOffsetNode | null> {
  lockdepAssertHeld(mgr.vmLock);
  await point("drm_vma_offset_lookup_locked");
  let best = mgr.vmAddrSpaceMm.intervalTreeFloor(start);
  // verify that the node spans the requested area
  if (best && best.start + best.size < start + pages) best = null;
  if (!best) return null;
  return best.owner ?? null; // container_of(best, struct drm_vma_offset_node, vm_node)
}

/**
 * Models drm_vma_offset_exact_lookup_locked(): like the lookup, but the range must start at
 * `start`.
 *
 * Locking: mgr->vm_lock held.
 * References: none.
 */
export async function drmVmaOffsetExactLookupLocked(
  mgr: DrmVmaOffsetManager,
  start: number,
  pages: number,
): Promise<DrmVmaOffsetNode | null> {
  const node = await drmVmaOffsetLookupLocked(mgr, start, pages);
  return node && node.start === start ? node : null;
}

/**
 * Models drm_vma_node_allow() (vma_node_allow(..., ref_counted = true)): adds `tag` to the
 * files allowed to map the node, or counts one more allowance. The entry is allocated before
 * the lock (GFP_KERNEL) and freed if unused. Returns 0 or -ENOMEM.
 *
 * Locking: takes node->vm_lock.
 * References: none (the entry is owned by the node until the matching revoke).
 */
export async function drmVmaNodeAllow(node: DrmVmaOffsetNode, tag: object): Promise<number> {
  // The point and an uncontended lock settle at once (pointNow(), RESOLVED): no awaits.
  const p = pointNow("kmalloc(drm_vma_offset_file)");
  if (p !== null) await p;
  const fresh = kmalloc(drmVmaOffsetFileCache, () => new DrmVmaOffsetFile(tag));
  const locked = node.vmLock.lock();
  if (locked !== RESOLVED) await locked;
  let ret = 0;
  let unused: DrmVmaOffsetFile | null = isErr(fresh) ? null : fresh;
  const entry = node.vmFiles.get(tag);
  if (entry) {
    entry.vmCount++;
  } else if (unused === null) {
    ret = -ENOMEM;
  } else {
    node.vmFiles.set(tag, unused);
    unused = null;
  }
  const unlocked = node.vmLock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
  kfree(unused);
  return ret;
}

/**
 * Models drm_vma_node_revoke(): drops one allowance of `tag`; the last one removes and frees
 * the entry. No-op if `tag` is not allowed.
 *
 * Locking: takes node->vm_lock.
 * References: none.
 */
export async function drmVmaNodeRevoke(node: DrmVmaOffsetNode, tag: object): Promise<void> {
  const locked = node.vmLock.lock();
  if (locked !== RESOLVED) await locked;
  const entry = node.vmFiles.get(tag);
  if (entry && --entry.vmCount === 0) {
    node.vmFiles.delete(tag);
    kfree(entry);
  }
  const unlocked = node.vmLock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
}

/**
 * Models drm_vma_node_is_allowed(): whether `tag` may map the node.
 *
 * Locking: takes node->vm_lock (for reading).
 * References: none.
 */
export async function drmVmaNodeIsAllowed(node: DrmVmaOffsetNode, tag: object): Promise<boolean> {
  const vmLockTaken = node.vmLock.lock();
  if (vmLockTaken !== RESOLVED) await vmLockTaken;
  const ok = node.vmFiles.has(tag);
  node.vmLock.unlockNow();
  return ok;
}
