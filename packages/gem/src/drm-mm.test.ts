import { ENOSPC } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import { DRM_MM_INSERT_BEST, DRM_MM_INSERT_HIGH, DRM_MM_INSERT_LOW, DrmMm } from "./drm-mm.js";

/** Nodes of 1 page at the given pages of a 16-page drm_mm, the rest removed: holes between. */
function withHoles(keep: number[]): DrmMm {
  const mm = new DrmMm(0, 16);
  for (let p = 0; p < 16; p++) expect(mm.insertNode(1, 0, DRM_MM_INSERT_LOW)).toBe(p);
  for (let p = 0; p < 16; p++) if (!keep.includes(p)) mm.removeNode(p);
  return mm;
}

describe("drm_mm (drm_mm_insert_node_in_range / drm_mm_remove_node)", () => {
  it("BEST takes the smallest hole that fits, at its bottom, not the lowest one", () => {
    // Holes: [0,4) of 4 pages, [5,7) of 2, [8,16) of 8.
    const mm = withHoles([4, 7]);
    expect(mm.holeList()).toEqual([
      [0, 4],
      [5, 2],
      [8, 8],
    ]);
    expect(mm.insertNode(2)).toBe(5);
    expect(mm.insertNode(3)).toBe(0);
    expect(mm.insertNode(5)).toBe(8);
    // First fit would have put the 2 pages at 0 and the 3 pages at 8.
  });

  it("BEST breaks a tie of sizes for the hole added last", () => {
    // Holes of 2 at [0,2) and [3,5), and [6,16). Free order decides: the merged hole is re-added
    // by each remove, so the one whose last remove came later is newer.
    const mm = new DrmMm(0, 16);
    for (let p = 0; p < 16; p++) mm.insertNode(1, 0, DRM_MM_INSERT_LOW);
    for (const p of [3, 4]) mm.removeNode(p);
    for (const p of [0, 1]) mm.removeNode(p);
    for (let p = 6; p < 16; p++) mm.removeNode(p);
    expect(mm.insertNode(2)).toBe(0);
    const mm2 = new DrmMm(0, 16);
    for (let p = 0; p < 16; p++) mm2.insertNode(1, 0, DRM_MM_INSERT_LOW);
    for (const p of [0, 1]) mm2.removeNode(p);
    for (const p of [3, 4]) mm2.removeNode(p);
    for (let p = 6; p < 16; p++) mm2.removeNode(p);
    expect(mm2.insertNode(2)).toBe(3);
  });

  it("HIGH (TTM_PL_FLAG_TOPDOWN) takes the highest hole and the top of it", () => {
    const mm = new DrmMm(0, 16);
    expect(mm.insertNode(3, 0, DRM_MM_INSERT_HIGH)).toBe(13);
    expect(mm.insertNode(2, 0, DRM_MM_INSERT_HIGH)).toBe(11);
    expect(mm.insertNode(4)).toBe(0);
    expect(mm.holeList()).toEqual([[4, 7]]);
  });

  it("clamps each hole to the range: fpfn/lpfn limit where a node goes, not only whether", () => {
    const mm = new DrmMm(0, 16);
    expect(mm.insertNodeInRange(2, 0, 6, 10, DRM_MM_INSERT_BEST)).toBe(6);
    expect(mm.insertNodeInRange(2, 0, 6, 10, DRM_MM_INSERT_HIGH)).toBe(8);
    expect(mm.insertNodeInRange(1, 0, 6, 10, DRM_MM_INSERT_LOW)).toBe(-ENOSPC);
    expect(mm.insertNodeInRange(5, 0, 2, 6, DRM_MM_INSERT_BEST)).toBe(-ENOSPC);
    expect(mm.insertNodeInRange(4, 0, 2, 6, DRM_MM_INSERT_LOW)).toBe(2);
  });

  it("aligns the start (up, or down for HIGH) and skips a hole the alignment leaves too small", () => {
    const mm = new DrmMm(0, 16);
    expect(mm.insertNode(1, 0, DRM_MM_INSERT_LOW)).toBe(0);
    expect(mm.insertNode(2, 4)).toBe(4);
    expect(mm.insertNode(3, 4, DRM_MM_INSERT_HIGH)).toBe(12);
    // Holes [1,4) and [6,12): 3 pages aligned to 4 fit only at 8.
    expect(mm.insertNode(3, 4)).toBe(8);
  });

  it("is -ENOSPC for a size of 0, a range too small, or no hole large enough", () => {
    const mm = new DrmMm(0, 8);
    expect(mm.insertNode(0)).toBe(-ENOSPC);
    expect(mm.insertNode(9)).toBe(-ENOSPC);
    expect(mm.insertNodeInRange(3, 0, 0, 2, DRM_MM_INSERT_BEST)).toBe(-ENOSPC);
    expect(mm.insertNode(8)).toBe(0);
    expect(mm.insertNode(1)).toBe(-ENOSPC);
    expect(mm.used).toBe(8);
  });

  it("merges a removed node's space with the holes on both sides", () => {
    const mm = new DrmMm(4, 8);
    const a = mm.insertNode(3, 0, DRM_MM_INSERT_LOW);
    const b = mm.insertNode(2, 0, DRM_MM_INSERT_LOW);
    const c = mm.insertNode(3, 0, DRM_MM_INSERT_LOW);
    expect([a, b, c]).toEqual([4, 7, 9]);
    expect(mm.removeNode(4)).toBe(3);
    expect(mm.removeNode(9)).toBe(3);
    expect(mm.insertNode(4)).toBe(-ENOSPC);
    expect(mm.removeNode(7)).toBe(2);
    expect(mm.holeList()).toEqual([[4, 8]]);
    expect(mm.clean()).toBe(true);
    expect(mm.insertNode(8)).toBe(4);
  });

  it("refuses to remove what is not the start of a node, changing nothing", () => {
    const mm = new DrmMm(0, 4);
    mm.insertNode(2);
    expect(mm.removeNode(1)).toBeUndefined();
    expect(mm.removeNode(2)).toBeUndefined();
    expect(mm.used).toBe(2);
    expect(mm.allocations()).toEqual([[0, 2]]);
  });

  it("BUGs on an empty range, as DRM_MM_BUG_ON(range_start >= range_end)", () => {
    expect(() => new DrmMm(0, 8).insertNodeInRange(1, 0, 4, 4, DRM_MM_INSERT_BEST)).toThrow(
      RangeError,
    );
  });

  it("keeps each node's owner and finds the floor node down the interval tree", () => {
    const mm = new DrmMm<string>(100, 10);
    expect(mm.insertNode(2, 0, DRM_MM_INSERT_BEST, "a")).toBe(100);
    expect(mm.insertNode(3, 0, DRM_MM_INSERT_BEST, "b")).toBe(102);
    expect(mm.intervalTreeFloor(99)).toBeNull();
    expect(mm.intervalTreeFloor(100)?.owner).toBe("a");
    expect(mm.intervalTreeFloor(101)).toEqual({ start: 100, size: 2, owner: "a" });
    expect(mm.intervalTreeFloor(102)?.owner).toBe("b");
    // past the last node: still the floor node (the caller checks the span)
    expect(mm.intervalTreeFloor(109)).toEqual({ start: 102, size: 3, owner: "b" });
    mm.removeNode(100);
    expect(mm.intervalTreeFloor(101)).toBeNull();
  });
});
