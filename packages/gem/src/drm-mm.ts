/**
 * drm_mm, the DRM range allocator (drivers/gpu/drm/drm_mm.c, include/drm/drm_mm.h of Linux
 * v6.18), over page numbers: DRM core, used by the mmap offset manager (drm_vma_manager.c's
 * `vm_addr_space_mm`) and by TTM's range manager (the device memory a driver carves up).
 *
 * The kernel keeps the free space as holes, each the space after a node, indexed twice: by size
 * (`holes_size`, an rbtree ordered by descending size, a new hole after the holes of equal size)
 * and by address (`holes_addr`). drm_mm_insert_node_in_range() walks the holes in the order the
 * mode asks for and takes the first that fits once clamped to the range and aligned:
 * - DRM_MM_INSERT_BEST (drm_mm_insert_node()'s mode, TTM's default): the smallest hole that is
 *   large enough (best_hole(): of equal sizes, the hole added last), then ever larger ones
 *   (rb_prev() in the size tree); the node goes at the bottom of the hole.
 * - DRM_MM_INSERT_LOW: holes by ascending address from the range's start, node at the bottom.
 * - DRM_MM_INSERT_HIGH (TTM_PL_FLAG_TOPDOWN): holes by descending address from the range's end,
 *   the node at the top of the hole.
 * Removing a node merges its hole and the one before it into one hole, added anew (so it is the
 * newest of its size), as drm_mm_remove_node() does with rm_hole()/add_hole().
 *
 * Here the holes are an array sorted by address, each with the sequence number of its add_hole();
 * the size order is (size descending, sequence ascending), which is the in-order walk of the
 * kernel's size tree (an rbtree keeps the in-order of its nodes through its rotations). The
 * allocated nodes are a map by first page, each with its owner (the structure the kernel's
 * drm_mm_node is embedded in, what container_of() gives back); `intervalTreeFloor()` is the walk
 * down `mm->interval_tree` (nodes keyed by start) that drm_vma_offset_lookup_locked() does.
 *
 * Not modeled: colors and `color_adjust`, DRM_MM_INSERT_EVICT and _ONCE, the scan (eviction
 * roster) API, drm_mm_reserve_node() and drm_mm_replace_node().
 *
 * Locking: none; synchronous (its owner serialises it: TTM's range manager takes its spinlock, the
 * offset manager its vm_lock).
 */

import { ENOSPC } from "@primetime/kernel";

/** Models enum drm_mm_insert_mode (the three modes modeled; the kernel's values). */
export const DRM_MM_INSERT_BEST = 0;
export const DRM_MM_INSERT_LOW = 1;
export const DRM_MM_INSERT_HIGH = 2;
export type DrmMmInsertMode =
  | typeof DRM_MM_INSERT_BEST
  | typeof DRM_MM_INSERT_LOW
  | typeof DRM_MM_INSERT_HIGH;

/** A hole: free pages `[start, end)`, and when add_hole() added it. */
interface Hole {
  start: number;
  end: number;
  seq: number;
}

/** An allocated node: its first page, its page count and its owner (container_of()). */
export interface DrmMmNode<T> {
  start: number;
  size: number;
  owner: T | undefined;
}

/**
 * Models struct drm_mm over the pages `[start, start + size)`; `T` is the type of the
 * structures its nodes are embedded in.
 */
export class DrmMm<T = undefined> {
  /** Holes sorted by address, never adjacent (a node lies between any two). */
  private readonly holes: Hole[] = [];
  /** Nodes: first page -> the node. */
  private readonly nodes = new Map<number, DrmMmNode<T>>();
  private usedPages = 0;
  private seq = 0;

  /** Models drm_mm_init(): one hole over the whole range (the head node's). */
  constructor(
    readonly start: number,
    readonly size: number,
  ) {
    if (!Number.isInteger(start) || !Number.isInteger(size) || start < 0 || size < 0)
      throw new RangeError(`drm_mm_init: bad range ${start}+${size}`);
    if (size > 0) this.holes.push({ start, end: start + size, seq: this.seq++ });
  }

  /** Pages allocated now (drm_mm_clean() is `used === 0`). */
  get used(): number {
    return this.usedPages;
  }

  /** Models drm_mm_clean(): no node is allocated. */
  clean(): boolean {
    return this.nodes.size === 0;
  }

  /**
   * Models drm_mm_insert_node_in_range(): a node of `size` pages aligned to `alignment` pages
   * (0 or 1: none) inside `[rangeStart, rangeEnd)`, searched in `mode`'s order, embedded in
   * `owner`. Its first page, or -ENOSPC when no hole fits (a size of 0 included). The range
   * must not be empty (DRM_MM_BUG_ON(range_start >= range_end)).
   */
  insertNodeInRange(
    size: number,
    alignment: number,
    rangeStart: number,
    rangeEnd: number,
    mode: DrmMmInsertMode,
    owner?: T,
  ): number {
    if (rangeStart >= rangeEnd)
      throw new RangeError(`drm_mm: empty range [${rangeStart}, ${rangeEnd})`);
    if (size === 0 || rangeEnd - rangeStart < size) return -ENOSPC;
    // The largest hole (rb_first_cached() of the size tree) is too small: nothing to search.
    if (this.largestHole() < size) return -ENOSPC;
    if (alignment <= 1) alignment = 0;
    for (const hole of this.holeOrder(size, rangeStart, rangeEnd, mode)) {
      const holeStart = hole.start;
      const holeEnd = hole.end;
      if (mode === DRM_MM_INSERT_LOW && holeStart >= rangeEnd) break;
      if (mode === DRM_MM_INSERT_HIGH && holeEnd <= rangeStart) break;
      let adjStart = Math.max(holeStart, rangeStart);
      const adjEnd = Math.min(holeEnd, rangeEnd);
      if (adjEnd <= adjStart || adjEnd - adjStart < size) continue;
      if (mode === DRM_MM_INSERT_HIGH) adjStart = adjEnd - size;
      if (alignment) {
        const rem = adjStart % alignment;
        if (rem) {
          adjStart -= rem;
          if (mode !== DRM_MM_INSERT_HIGH) adjStart += alignment;
          if (
            adjStart < Math.max(holeStart, rangeStart) ||
            Math.min(holeEnd, rangeEnd) - adjStart < size
          )
            continue;
          if (adjEnd <= adjStart || adjEnd - adjStart < size) continue;
        }
      }
      this.nodes.set(adjStart, { start: adjStart, size, owner });
      this.usedPages += size;
      // rm_hole(hole); the space before the node stays the hole's (added anew), the space
      // after it becomes the node's hole, added after it.
      const i = this.holes.indexOf(hole);
      const parts: Hole[] = [];
      if (adjStart > holeStart) parts.push({ start: holeStart, end: adjStart, seq: this.seq++ });
      if (adjStart + size < holeEnd)
        parts.push({ start: adjStart + size, end: holeEnd, seq: this.seq++ });
      this.holes.splice(i, 1, ...parts);
      return adjStart;
    }
    return -ENOSPC;
  }

  /**
   * Models drm_mm_insert_node_generic() (drm_mm_insert_node() with `mode` BEST): anywhere in
   * the allocator.
   */
  insertNode(
    size: number,
    alignment = 0,
    mode: DrmMmInsertMode = DRM_MM_INSERT_BEST,
    owner?: T,
  ): number {
    if (this.size === 0) return -ENOSPC;
    return this.insertNodeInRange(size, alignment, this.start, this.start + this.size, mode, owner);
  }

  /**
   * Models drm_mm_remove_node(): frees the node starting at page `start` and merges the space
   * around it into one hole. Its page count, or undefined if no node starts there (the kernel's
   * DRM_MM_BUG_ON(!node->allocated): the caller reports it).
   */
  removeNode(start: number): number | undefined {
    const node = this.nodes.get(start);
    if (node === undefined) return undefined;
    const size = node.size;
    this.nodes.delete(start);
    this.usedPages -= size;
    const end = start + size;
    const h = this.holes;
    let i = 0;
    while (i < h.length && h[i]!.start < start) i++;
    // rm_hole(node) (the hole after it), rm_hole(prev_node) (the hole before it), then
    // add_hole(prev_node): one hole over the three, the newest.
    let from = start;
    let to = end;
    let del = 0;
    const prev = h[i - 1];
    if (prev && prev.end === start) {
      from = prev.start;
      i--;
      del++;
    }
    const next = h[i + del];
    if (next && next.start === end) {
      to = next.end;
      del++;
    }
    h.splice(i, del, { start: from, end: to, seq: this.seq++ });
    return size;
  }

  /** Live nodes as [first page, page count], by first page. */
  allocations(): [number, number][] {
    return [...this.nodes.values()]
      .map((n): [number, number] => [n.start, n.size])
      .sort((a, b) => a[0] - b[0]);
  }

  /**
   * The walk down the interval tree (`mm->interval_tree.rb_root`, nodes keyed by start) of
   * drm_vma_offset_lookup_locked(): right while `start >= node->start` (keeping that node as the
   * best so far, stopping at an equal start), else left. The allocated node with the largest
   * first page not above `start`, or null; whether it spans what the caller wants is the
   * caller's check.
   */
  intervalTreeFloor(start: number): DrmMmNode<T> | null {
    const exact = this.nodes.get(start);
    if (exact) return exact;
    let best: DrmMmNode<T> | null = null;
    for (const n of this.nodes.values())
      if (n.start <= start && (best === null || n.start > best.start)) best = n;
    return best;
  }

  /** The holes as [first page, page count], by address (drm_mm_for_each_hole()). */
  holeList(): [number, number][] {
    return this.holes.map((x) => [x.start, x.end - x.start]);
  }

  private largestHole(): number {
    let max = 0;
    for (const x of this.holes) if (x.end - x.start > max) max = x.end - x.start;
    return max;
  }

  /**
   * first_hole() and the next_hole() walk from it: BEST, from the smallest hole of at least
   * `size` pages (the newest of equal sizes) through ever larger ones; LOW, by address from the
   * hole at `rangeStart`; HIGH, by address downwards from the hole at `rangeEnd`.
   */
  private holeOrder(size: number, rangeStart: number, rangeEnd: number, mode: DrmMmInsertMode) {
    const h = this.holes;
    if (mode === DRM_MM_INSERT_BEST)
      return h
        .filter((x) => x.end - x.start >= size)
        .sort((a, b) => a.end - a.start - (b.end - b.start) || b.seq - a.seq);
    if (mode === DRM_MM_INSERT_LOW) {
      // find_hole(mm, start): holes wholly below the range are skipped by the walk anyway.
      let i = 0;
      while (i < h.length && h[i]!.end < rangeStart) i++;
      return h.slice(i);
    }
    // find_hole(mm, end) then rb_prev(): downwards from the last hole starting at or below end.
    let i = h.length - 1;
    while (i >= 0 && h[i]!.start > rangeEnd) i--;
    return h.slice(0, i + 1).reverse();
  }
}
