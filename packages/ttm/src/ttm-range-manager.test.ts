import { DRM_MM_INSERT_BEST, DRM_MM_INSERT_HIGH } from "@primetime/gem";
import { PAGE_SIZE, Vram } from "@primetime/simgpu";
import { describe, expect, it } from "vitest";
import { VramDrmMm } from "./ttm-range-manager.js";

describe("a VRAM range manager's drm_mm", () => {
  it("counts from the manager's page 0, as drm_mm_init(&rman->mm, 0, p_size): alignment too", () => {
    const vram = new Vram(16);
    const mm = new VramDrmMm(vram, 3, 8); // VRAM pages 3..10
    // page_alignment 4 in the manager's numbers: its page 0 (VRAM page 3), not VRAM page 4
    expect(mm.insertNodeInRange(1, 4, 0, 8, DRM_MM_INSERT_BEST)).toBe(0);
    expect(mm.insertNodeInRange(2, 4, 0, 8, DRM_MM_INSERT_BEST)).toBe(4);
    expect(mm.insertNodeInRange(1, 0, 0, 8, DRM_MM_INSERT_HIGH)).toBe(7);
    // the device sees the same ranges, at their VRAM pages
    expect(vram.allocations()).toEqual([
      { offset: 3 * PAGE_SIZE, npages: 1 },
      { offset: 7 * PAGE_SIZE, npages: 2 },
      { offset: 10 * PAGE_SIZE, npages: 1 },
    ]);
    expect(mm.used).toBe(4);
    expect(mm.removeNode(4)).toBe(2);
    expect(vram.isAllocated(7 * PAGE_SIZE)).toBe(false);
    expect(mm.removeNode(5)).toBeUndefined();
    expect(vram.allocatedPages).toBe(2);
  });
});
