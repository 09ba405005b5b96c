import { ENOSPC, liveObjects, PAGE_SIZE, SlabObject } from "@primetime/kernel";
import { Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  DRM_FILE_PAGE_OFFSET_START,
  DrmVmaOffsetManager,
  DrmVmaOffsetNode,
  drmVmaNodeAllow,
  drmVmaNodeHasOffset,
  drmVmaNodeIsAllowed,
  drmVmaNodeOffsetAddr,
  drmVmaNodeRevoke,
  drmVmaOffsetAdd,
  drmVmaOffsetExactLookupLocked,
  drmVmaOffsetLockLookup,
  drmVmaOffsetLookupLocked,
  drmVmaOffsetRemove,
  drmVmaOffsetUnlockLookup,
} from "./drm-vma-manager.js";

class Owner extends SlabObject {}

describe("drm_vma_manager", () => {
  it("allocates idempotently, reuses holes, and runs out with ENOSPC", async () => {
    const got: Record<string, unknown> = {};
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const mgr = new DrmVmaOffsetManager(DRM_FILE_PAGE_OFFSET_START, 10);
      const [a, b, c] = [new Owner(), new Owner(), new Owner()].map((o) => new DrmVmaOffsetNode(o));
      got.addA = await drmVmaOffsetAdd(mgr, a!, 2);
      got.addAAgain = await drmVmaOffsetAdd(mgr, a!, 5); // idempotent: keeps its 2 pages
      got.addB = await drmVmaOffsetAdd(mgr, b!, 3);
      got.startA = a!.start - DRM_FILE_PAGE_OFFSET_START;
      got.startB = b!.start - DRM_FILE_PAGE_OFFSET_START;
      got.offsetAddrA = drmVmaNodeOffsetAddr(a!) === DRM_FILE_PAGE_OFFSET_START * PAGE_SIZE;
      got.addCTooBig = await drmVmaOffsetAdd(mgr, c!, 6); // 5 pages left
      await drmVmaOffsetRemove(mgr, a!);
      got.addCInHole = await drmVmaOffsetAdd(mgr, c!, 2);
      got.startC = c!.start - DRM_FILE_PAGE_OFFSET_START;
      await drmVmaOffsetLockLookup(mgr);
      got.lookupInsideB = (await drmVmaOffsetLookupLocked(mgr, b!.start + 1, 2)) === b;
      got.lookupPastB = await drmVmaOffsetLookupLocked(mgr, b!.start + 1, 3);
      got.exactLookupInsideB = await drmVmaOffsetExactLookupLocked(mgr, b!.start + 1, 1);
      got.exactLookupC = (await drmVmaOffsetExactLookupLocked(mgr, c!.start, 2)) === c;
      await drmVmaOffsetUnlockLookup(mgr);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(got).toEqual({
      addA: 0,
      addAAgain: 0,
      addB: 0,
      startA: 0,
      startB: 2,
      offsetAddrA: true,
      addCTooBig: -ENOSPC,
      addCInHole: 0,
      startC: 0,
      lookupInsideB: true,
      lookupPastB: null,
      exactLookupInsideB: null,
      exactLookupC: true,
    });
  });

  it("inserts as drm_mm_insert_node() does (DRM_MM_INSERT_BEST: the smallest hole that fits, not the lowest), and looks up through the drm_mm", async () => {
    const got: Record<string, unknown> = {};
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const mgr = new DrmVmaOffsetManager(DRM_FILE_PAGE_OFFSET_START, 10);
      const [a, b, c, d, e] = [1, 2, 3, 4, 5].map(() => new DrmVmaOffsetNode(new Owner()));
      for (const [n, pages] of [
        [a!, 3],
        [b!, 1],
        [c!, 2],
        [d!, 4],
      ] as const)
        await drmVmaOffsetAdd(mgr, n, pages);
      got.full = mgr.vmAddrSpaceMm.holeList();
      await drmVmaOffsetRemove(mgr, a!);
      await drmVmaOffsetRemove(mgr, c!);
      got.removedC = { start: c!.start, size: c!.size, hasOffset: drmVmaNodeHasOffset(c!) };
      // Holes of 3 pages at 0 and of 2 at 4: first fit would take page 0.
      got.addE = await drmVmaOffsetAdd(mgr, e!, 2);
      got.startE = e!.start - DRM_FILE_PAGE_OFFSET_START;
      got.holes = mgr.vmAddrSpaceMm
        .holeList()
        .map(([start, n]) => [start - DRM_FILE_PAGE_OFFSET_START, n]);
      await drmVmaOffsetLockLookup(mgr);
      got.lookupInHole = await drmVmaOffsetLookupLocked(mgr, DRM_FILE_PAGE_OFFSET_START + 1, 1);
      got.lookupE = (await drmVmaOffsetLookupLocked(mgr, e!.start + 1, 1)) === e;
      got.lookupD = (await drmVmaOffsetLookupLocked(mgr, d!.start, 4)) === d;
      got.lookupPastEnd = await drmVmaOffsetLookupLocked(mgr, d!.start + 4, 1);
      await drmVmaOffsetUnlockLookup(mgr);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(got).toEqual({
      full: [],
      removedC: { start: 0, size: 0, hasOffset: false },
      addE: 0,
      startE: 4,
      holes: [[0, 3]],
      lookupInHole: null,
      lookupE: true,
      lookupD: true,
      lookupPastEnd: null,
    });
  });

  it("refuses a 0-page node with ENOSPC, as drm_mm_insert_node_in_range() does", async () => {
    const got: Record<string, unknown> = {};
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const mgr = new DrmVmaOffsetManager(DRM_FILE_PAGE_OFFSET_START, 10);
      const [a, b] = [new Owner(), new Owner()].map((o) => new DrmVmaOffsetNode(o));
      got.addEmpty = await drmVmaOffsetAdd(mgr, a!, 0);
      got.emptyHasOffset = drmVmaNodeHasOffset(a!);
      got.emptyAddr = drmVmaNodeOffsetAddr(a!);
      got.count = mgr.count;
      // Nothing was taken: the next node still starts at the beginning of the space.
      got.addB = await drmVmaOffsetAdd(mgr, b!, 1);
      got.startB = b!.start - DRM_FILE_PAGE_OFFSET_START;
      // A node that already has a range is not inserted again: 0 whatever the size.
      got.addBAgainEmpty = await drmVmaOffsetAdd(mgr, b!, 0);
      // A retry with a real size works (drm_vma_offset_add(): "safe to retry").
      got.addRetry = await drmVmaOffsetAdd(mgr, a!, 2);
      got.startA = a!.start - DRM_FILE_PAGE_OFFSET_START;
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(got).toEqual({
      addEmpty: -ENOSPC,
      emptyHasOffset: false,
      emptyAddr: 0,
      count: 0,
      addB: 0,
      startB: 0,
      addBAgainEmpty: 0,
      addRetry: 0,
      startA: 1,
    });
  });

  it("counts allowances per file and frees the entry with the last revoke", async () => {
    const got: Record<string, unknown> = {};
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const node = new DrmVmaOffsetNode(new Owner());
      const f1 = {};
      const f2 = {};
      const entries = () => liveObjects().filter((o) => o.cache.name === "drm_vma_offset_file");
      await drmVmaNodeAllow(node, f1);
      await drmVmaNodeAllow(node, f1);
      await drmVmaNodeAllow(node, f2);
      got.entries = entries().length;
      await drmVmaNodeRevoke(node, f1);
      got.allowedAfterOneRevoke = await drmVmaNodeIsAllowed(node, f1);
      await drmVmaNodeRevoke(node, f1);
      got.allowedAfterTwoRevokes = await drmVmaNodeIsAllowed(node, f1);
      got.entriesAfterTwoRevokes = entries().length;
      await drmVmaNodeRevoke(node, f1); // not allowed: nothing happens
      await drmVmaNodeRevoke(node, f2);
      got.entriesAtEnd = entries().length;
      got.f2AllowedAtEnd = await drmVmaNodeIsAllowed(node, f2);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(got).toEqual({
      entries: 2, // one per file
      allowedAfterOneRevoke: true,
      allowedAfterTwoRevokes: false,
      entriesAfterTwoRevokes: 1,
      entriesAtEnd: 0,
      f2AllowedAtEnd: false,
    });
  });
});
