/**
 * A first-fit allocator of contiguous page ranges over `[0, pages)`: the free space is a sorted
 * list of holes that are coalesced on free, so it fragments as a drm_mm in first-fit mode does.
 * The device's VRAM allocator (vram.ts) keeps its free space in one, and TTM's range manager uses
 * one for an aperture that has no memory of its own.
 *
 * Locking: none; synchronous (the owner serialises it).
 */
export class PageRanges {
  /** Free ranges, sorted by start, never adjacent (coalesced). */
  private readonly holes: { start: number; npages: number }[];
  /** Allocations: first page -> page count. */
  private readonly nodes = new Map<number, number>();
  private usedPages = 0;

  constructor(readonly pages: number) {
    this.holes = pages > 0 ? [{ start: 0, npages: pages }] : [];
  }

  /** Pages allocated now. */
  get used(): number {
    return this.usedPages;
  }

  /** The first page of `npages` contiguous free pages (first fit), or null when none is. */
  insert(npages: number): number | null {
    const i = this.holes.findIndex((h) => h.npages >= npages);
    if (i < 0) return null;
    const hole = this.holes[i]!;
    const start = hole.start;
    hole.start += npages;
    hole.npages -= npages;
    if (hole.npages === 0) this.holes.splice(i, 1);
    this.nodes.set(start, npages);
    this.usedPages += npages;
    return start;
  }

  /** Frees the range starting at page `start`; its page count, or undefined if none starts there. */
  remove(start: number): number | undefined {
    const npages = this.nodes.get(start);
    if (npages === undefined) return undefined;
    this.nodes.delete(start);
    this.usedPages -= npages;
    const h = this.holes;
    let i = 0;
    while (i < h.length && h[i]!.start < start) i++;
    h.splice(i, 0, { start, npages });
    // Merge with the next hole, then with the previous one.
    const next = h[i + 1];
    if (next && start + npages === next.start) {
      h[i]!.npages += next.npages;
      h.splice(i + 1, 1);
    }
    const prev = h[i - 1];
    if (prev && prev.start + prev.npages === start) {
      prev.npages += h[i]!.npages;
      h.splice(i, 1);
    }
    return npages;
  }

  /** Live allocations as [first page, page count], by first page. */
  allocations(): [number, number][] {
    return [...this.nodes].sort((a, b) => a[0] - b[0]);
  }
}
