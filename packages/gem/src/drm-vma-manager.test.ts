import { ENOSPC, liveObjects, PAGE_SIZE, SlabObject } from "@primetime/kernel";
import { Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  DRM_FILE_PAGE_OFFSET_START,
  DrmVmaOffsetManager,
  DrmVmaOffsetNode,
  drmVmaNodeAllow,
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
  it("allocates first fit, idempotently, reuses holes, and runs out with ENOSPC", async () => {
    const out: unknown[] = [];
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const mgr = new DrmVmaOffsetManager(DRM_FILE_PAGE_OFFSET_START, 10);
      const [a, b, c] = [new Owner(), new Owner(), new Owner()].map((o) => new DrmVmaOffsetNode(o));
      out.push(await drmVmaOffsetAdd(mgr, a!, 2), await drmVmaOffsetAdd(mgr, a!, 5));
      out.push(await drmVmaOffsetAdd(mgr, b!, 3));
      out.push(a!.start - DRM_FILE_PAGE_OFFSET_START, b!.start - DRM_FILE_PAGE_OFFSET_START);
      out.push(drmVmaNodeOffsetAddr(a!) === DRM_FILE_PAGE_OFFSET_START * PAGE_SIZE);
      out.push(await drmVmaOffsetAdd(mgr, c!, 6)); // 5 pages left
      await drmVmaOffsetRemove(mgr, a!);
      out.push(await drmVmaOffsetAdd(mgr, c!, 2), c!.start - DRM_FILE_PAGE_OFFSET_START);
      await drmVmaOffsetLockLookup(mgr);
      out.push((await drmVmaOffsetLookupLocked(mgr, b!.start + 1, 2)) === b);
      out.push(await drmVmaOffsetLookupLocked(mgr, b!.start + 1, 3));
      out.push(await drmVmaOffsetExactLookupLocked(mgr, b!.start + 1, 1));
      out.push((await drmVmaOffsetExactLookupLocked(mgr, c!.start, 2)) === c);
      await drmVmaOffsetUnlockLookup(mgr);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(out).toEqual([0, 0, 0, 0, 2, true, -ENOSPC, 0, 0, true, null, null, true]);
  });

  it("counts allowances per file and frees the entry with the last revoke", async () => {
    const out: unknown[] = [];
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const node = new DrmVmaOffsetNode(new Owner());
      const f1 = {};
      const f2 = {};
      const entries = () => liveObjects().filter((o) => o.cache.name === "drm_vma_offset_file");
      await drmVmaNodeAllow(node, f1);
      await drmVmaNodeAllow(node, f1);
      await drmVmaNodeAllow(node, f2);
      out.push(entries().length);
      await drmVmaNodeRevoke(node, f1);
      out.push(await drmVmaNodeIsAllowed(node, f1));
      await drmVmaNodeRevoke(node, f1);
      out.push(await drmVmaNodeIsAllowed(node, f1), entries().length);
      await drmVmaNodeRevoke(node, f1); // not allowed: nothing happens
      await drmVmaNodeRevoke(node, f2);
      out.push(entries().length, await drmVmaNodeIsAllowed(node, f2));
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(out).toEqual([2, true, false, 1, 0, false]);
  });
});
