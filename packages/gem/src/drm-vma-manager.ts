/**
 * The DRM mmap offset manager (drivers/gpu/drm/drm_vma_manager.c, include/drm/drm_vma_manager.h).
 *
 * Every GEM object that userspace maps gets a range of fake page offsets in the device's
 * offset space; userspace passes the offset to mmap() on the DRM fd and drm_gem_mmap() looks the
 * object up by it. Each node also keeps the set of files allowed to map it (one counted entry per
 * file that has a handle), so a file cannot map an object by guessing its offset.
 *
 * Faithfulness: the manager's and the nodes' rwlock_t are modeled as spinlocks (readers exclude
 * each other: fewer interleavings, the same safety). drm_mm is a first-fit allocator over page
 * ranges here. The per-file entries are slab objects (`drm_vma_offset_file`), so an entry that
 * is never revoked is a kmemleak report, as in the kernel.
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import {
  ENOMEM,
  ENOSPC,
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
 * Models struct drm_vma_offset_node, embedded in a GEM object: its range in the offset space (in
 * pages, 0 while unallocated) and the files allowed to map it.
 *
 * Locking: `vmLock` protects `vmFiles`; the range is protected by the manager's lock.
 */
export class DrmVmaOffsetNode {
  readonly vmLock: SpinLock;
  /** drm_mm_node start (pages); meaningful while `allocated`. */
  start = 0;
  /** drm_mm_node size (pages). */
  size = 0;
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
  /** Allocated nodes sorted by start. */
  private readonly nodes: DrmVmaOffsetNode[] = [];

  /** Models drm_vma_offset_manager_init(mgr, page_offset, size). */
  constructor(
    readonly pageOffset: number = DRM_FILE_PAGE_OFFSET_START,
    readonly pageSize: number = DRM_FILE_PAGE_OFFSET_SIZE,
  ) {}

  /** Allocated nodes (inspection, no scheduling point). */
  get count(): number {
    return this.nodes.length;
  }

  /**
   * drm_mm_insert_node() (drm_mm_insert_node_generic() -> drm_mm_insert_node_in_range() over the
   * whole space): first fit, lowest address. -ENOSPC for a 0-page node (drm_mm_insert_node_in_range()
   * refuses `size == 0` before it looks for a hole) and when no hole is large enough.
   */
  insertLocked(node: DrmVmaOffsetNode, pages: number): number {
    // drm_mm_insert_node_in_range(): `if (unlikely(size == 0 || range_end - range_start < size))
    // return -ENOSPC;` (the range is the whole space here, so only the size test can fire).
    if (pages === 0) return -ENOSPC;
    let at = this.pageOffset;
    let i = 0;
    for (; i < this.nodes.length; i++) {
      const n = this.nodes[i]!;
      if (n.start - at >= pages) break;
      at = n.start + n.size;
    }
    if (at + pages > this.pageOffset + this.pageSize) return -ENOSPC;
    node.start = at;
    node.size = pages;
    node.allocated = true;
    this.nodes.splice(i, 0, node);
    return 0;
  }

  /** drm_mm_remove_node(). */
  removeLocked(node: DrmVmaOffsetNode): void {
    const i = this.nodes.indexOf(node);
    if (i >= 0) this.nodes.splice(i, 1);
    node.allocated = false;
    node.start = 0;
    node.size = 0;
  }

  /** The node whose range contains [start, start + pages), or null. */
  findLocked(start: number, pages: number): DrmVmaOffsetNode | null {
    for (const n of this.nodes) {
      if (n.start <= start && start < n.start + n.size) {
        return start + pages <= n.start + n.size ? n : null;
      }
      if (n.start > start) break;
    }
    return null;
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
 * Models drm_vma_offset_add(): allocates a range of `pages` for the node unless it has one
 * (idempotent). Returns 0 or -ENOSPC (no hole of `pages`, or `pages` is 0: drm_mm refuses an
 * empty node; a node that already has a range returns 0 whatever `pages` is).
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
  if (!node.allocated) ret = mgr.insertLocked(node, pages);
  const unlocked = mgr.vmLock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
  return ret;
}

/**
 * Models drm_vma_offset_remove(): frees the node's range (no-op if it has none). After it, a
 * lookup can no longer find the node.
 *
 * Locking: takes mgr->vm_lock for writing.
 * References: none.
 */
export async function drmVmaOffsetRemove(
  mgr: DrmVmaOffsetManager,
  node: DrmVmaOffsetNode,
): Promise<void> {
  const locked = mgr.vmLock.lock();
  if (locked !== RESOLVED) await locked;
  if (node.allocated) mgr.removeLocked(node);
  const unlocked = mgr.vmLock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
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
 * Models drm_vma_offset_lookup_locked(): the node whose range contains [start, start + pages).
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
  return mgr.findLocked(start, pages);
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
  await node.vmLock.lock();
  const ok = node.vmFiles.has(tag);
  await node.vmLock.unlock();
  return ok;
}
