/**
 * Faithfulness checks against the kernel (Linux v6.18, read in the 6.18.35 stable tree; see
 * the README's "Kernel version"): one test per departure the audit fixed, each failing on the
 * code before the fix.
 */

import {
  DmaResv,
  DmaResvUsage,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvFini,
  dmaResvIsLocked,
  dmaResvLock,
  dmaResvReserveFences,
} from "@primetime/dma-buf";
import {
  DRM_IOCTL_GEM_CLOSE,
  drmDevPut,
  drmGemObjectPut,
  drmGemObjectRelease,
  drmGemPrivateObjectInit,
  drmVmaNodeStart,
} from "@primetime/gem";
import {
  allocationCount,
  EBUSY,
  isErr,
  kfree,
  kmalloc,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  SpinLock,
  setFailslab,
  VM_FAULT_SIGBUS,
  type Vma,
} from "@primetime/kernel";
import { Simulation, sleep, spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  boAccess,
  bootTtm,
  createMapDumb,
  expectClean,
  runTtm,
  SYSTEM,
  TestBo,
  TT,
  testBoCache,
  testBoCreate,
  testGemFuncs,
  testVmBoCreate,
  VRAM,
} from "./test-support.js";
import {
  type TtmBufferObject,
  ttmBoInitValidate,
  ttmBoReserve,
  ttmBoSetBulkMove,
  ttmBoSwapout,
  ttmBoUnreserve,
  ttmBoValidate,
} from "./ttm-bo.js";
import { ttmBoType } from "./ttm-bo-type.js";
import { ttmBoMoveAccelCleanup, ttmBoMoveMemcpy, ttmBoMoveNull } from "./ttm-bo-util.js";
import { ttmBoVmFaultReserved } from "./ttm-bo-vm.js";
import { ttmDeviceFini, ttmGlobalSwapout, ttmManagerType } from "./ttm-device.js";
import {
  TTM_PL_FLAG_TEMPORARY,
  TTM_PL_FLAG_TOPDOWN,
  TTM_PL_SYSTEM,
  TTM_PL_TT,
  TTM_PL_VRAM,
  ttmPlace,
  ttmPlacement,
} from "./ttm-placement.js";
import { ttmRangeManFini } from "./ttm-range-manager.js";
import {
  TtmLruBulkMove,
  ttmLruBulkMoveInit,
  ttmResourceAlloc,
  ttmResourceCompatible,
  ttmResourceFree,
} from "./ttm-resource.js";
import { ttmTtIsPopulated, ttmTtIsSwapped } from "./ttm-tt.js";

const ctx = () => ({ interruptible: false, noWaitGpu: false, bytesMoved: 0 });
const ops = { getDriverName: () => "test", getTimelineName: () => "sw" };

describe("ttm_resource_compatible", () => {
  it("a TEMPORARY resource (a multihop bounce) satisfies no placement: validate moves the BO out of it", async () => {
    const r = await runTtm(async (m) => {
      const bo = await testBoCreate(m, 4096, SYSTEM);
      if (isErr(bo)) throw new Error("create");
      await ttmBoReserve(bo, false, false);
      expect(ttmResourceCompatible(bo.resource, SYSTEM, false)).toBe(true);
      // Where a multihop move leaves a BO whose second hop failed: the bounce resource.
      const bounce = await ttmResourceAlloc(bo, ttmPlace(TTM_PL_SYSTEM, TTM_PL_FLAG_TEMPORARY));
      if (typeof bounce === "number") throw new Error(`alloc ${bounce}`);
      await ttmBoMoveNull(bo, bounce);
      expect(ttmResourceCompatible(bounce, SYSTEM, false)).toBe(false);
      expect(ttmResourceCompatible(bounce, SYSTEM, true)).toBe(false);
      expect(await ttmBoValidate(bo, SYSTEM, ctx())).toBe(0);
      expect(bo.resource).not.toBe(bounce);
      expect(bo.resource!.memType).toBe(TTM_PL_SYSTEM);
      expect(bo.resource!.placement & TTM_PL_FLAG_TEMPORARY).toBe(0);
      await ttmBoUnreserve(bo);
      await drmGemObjectPut(bo);
    });
    expectClean(r);
  });
});

describe("ttm_range_man_alloc", () => {
  it("places as drm_mm_insert_node_in_range(): TOPDOWN at the top, [fpfn, lpfn) clamped, else the smallest hole", async () => {
    const r = await runTtm(
      async (m) => {
        const starts: number[] = [];
        const bos: TestBo[] = [];
        const create = async (pages: number, flags = 0, fpfn = 0, lpfn = 0) => {
          const bo = await testBoCreate(
            m,
            pages * 4096,
            ttmPlacement(ttmPlace(TTM_PL_VRAM, flags, fpfn, lpfn)),
          );
          if (isErr(bo)) throw new Error(`create: ${bo}`);
          starts.push(bo.resource!.start);
          bos.push(bo);
          return bo;
        };
        // A small BO with TTM_PL_FLAG_TOPDOWN (qxl's placement for objects of one page) goes
        // to the top of VRAM (DRM_MM_INSERT_HIGH), not the bottom.
        await create(1, TTM_PL_FLAG_TOPDOWN);
        // A place that starts at page 4: the hole clamped to it, not refused because the
        // lowest hole starts below it.
        await create(2, 0, 4, 8);
        // Holes now [0,4) and [6,15): 7 pages fit only the second.
        await create(7);
        // Holes [0,4) and [13,15): 2 pages go to the smallest hole that fits (DRM_MM_INSERT_BEST),
        // not the lowest (first fit would say 0).
        await create(2);
        expect(starts).toEqual([15, 4, 6, 13]);
        for (const bo of bos) await drmGemObjectPut(bo);
      },
      { vramPages: 16 },
    );
    expectClean(r);
  });
});

describe("ttm_bo_move_accel_cleanup", () => {
  it("an eviction that waits (ttm_bo_wait_free_node()) and times out after 15 s is -EBUSY; the BO keeps its resource", async () => {
    const r = await runTtm(async (m) => {
      const bo = await testBoCreate(m, 4096, TT);
      if (isErr(bo)) throw new Error("create");
      expect(await boAccess(bo, 0, new Uint8Array([1, 2, 3]), true)).toBe(0);
      const fence = dmaFenceCreate(ops, new SpinLock("sw_fence_lock"), dmaFenceContextAlloc(1), 1);
      if (isErr(fence)) throw new Error("fence");
      await ttmBoReserve(bo, false, false);
      expect(await dmaResvReserveFences(bo.resv, 1)).toBe(0);
      await dmaResvAddFence(bo.resv, fence, DmaResvUsage.BOOKKEEP);
      const sys = await ttmResourceAlloc(bo, ttmPlace(TTM_PL_SYSTEM));
      if (typeof sys === "number") throw new Error(`alloc ${sys}`);
      expect(await dmaResvReserveFences(bo.resv, 1)).toBe(0);
      // An eviction out of TT (not pipelined: the old pages must be idle first).
      expect(await ttmBoMoveAccelCleanup(bo, fence, true, false, sys)).toBe(-EBUSY);
      expect(bo.resource!.memType).toBe(TTM_PL_TT);
      await ttmResourceFree(sys);
      await dmaFenceSignal(fence);
      await dmaFencePut(fence);
      await ttmBoUnreserve(bo);
      await drmGemObjectPut(bo);
    });
    expectClean(r);
  });
});

describe("ttm_bo_move_memcpy", () => {
  it("clears the destination for an unpopulated source only if its ttm_tt is ZERO_ALLOC (a kernel BO's is not)", async () => {
    const r = await runTtm(async (m) => {
      const seen: number[] = [];
      for (const type of [ttmBoType.kernel, ttmBoType.device]) {
        const bo = kmalloc(testBoCache, () => new TestBo(testGemFuncs));
        if (isErr(bo)) throw new Error("kmalloc");
        drmGemPrivateObjectInit(m.drm, bo, 4096);
        const destroy = async (b: TestBo) => {
          await drmGemObjectRelease(b);
          kfree(b);
        };
        expect(
          await ttmBoInitValidate(m.bdev, bo, type, SYSTEM, 1, false, null, (b) =>
            destroy(b as TestBo),
          ),
        ).toBe(0);
        await ttmBoReserve(bo, false, false);
        expect(ttmTtIsPopulated(bo.ttm!)).toBe(false);
        const vram = await ttmResourceAlloc(bo, ttmPlace(TTM_PL_VRAM));
        if (typeof vram === "number") throw new Error(`alloc ${vram}`);
        // What the VRAM range held before (another BO's bytes).
        m.gpu.vram.page(vram.start).fill(0xab);
        expect(await ttmBoMoveMemcpy(bo, ctx(), vram)).toBe(0);
        expect(bo.resource).toBe(vram);
        seen.push(m.gpu.vram.page(vram.start)[0]!);
        await ttmBoUnreserve(bo);
        await drmGemObjectPut(bo);
      }
      // The kernel BO's destination is left as it was; the device BO's is cleared.
      expect(seen).toEqual([0xab, 0]);
    });
    expectClean(r);
  });
});

describe("ttm_buffer_object_transfer", () => {
  it("reserves the ghost's fence slot before taking the resource over: a failure leaves the BO's bulk range as it was", async () => {
    let failedMoves = 0;
    for (let n = 1; n <= 8; n++) {
      const r = await runTtm(async (m) => {
        const vmResv = new DmaResv();
        const bulk = new TtmLruBulkMove();
        ttmLruBulkMoveInit(bulk);
        await dmaResvLock(vmResv);
        const a = await testVmBoCreate(m, 1, VRAM, vmResv);
        const b = await testVmBoCreate(m, 1, VRAM, vmResv);
        await ttmBoSetBulkMove(a, bulk);
        await ttmBoSetBulkMove(b, bulk);
        const lru = ttmManagerType(m.bdev, TTM_PL_VRAM)!.lru;
        const before = lru.map((res) => res.bo!.name);
        // The first of the range moves to TT: a pipelined move through a ghost object.
        const first = lru[0]!.bo!;
        setFailslab({ caches: ["dma_resv_list"], failNth: allocationCount() + n });
        const ret = await ttmBoValidate(first, TT, ctx());
        setFailslab(null);
        if (ret !== 0) {
          failedMoves++;
          expect(ret).toBe(-12);
          expect(first.resource!.memType).toBe(TTM_PL_VRAM);
          expect(lru.map((res) => res.bo!.name)).toEqual(before);
        }
        await ttmBoSetBulkMove(a, null);
        await ttmBoSetBulkMove(b, null);
        await ttmBoUnreserve(a);
        await drmGemObjectPut(a);
        await drmGemObjectPut(b);
        await m.kernel.quiesce();
        await dmaResvFini(vmResv);
      });
      expectClean(r);
    }
    expect(failedMoves).toBeGreaterThan(0);
  });
});

describe("ttm_bo_vm_fault_reserved", () => {
  it("a ttm_tt that cannot be populated is VM_FAULT_SIGBUS (not OOM)", async () => {
    const r = await runTtm(async (m) => {
      const bo = await testBoCreate(m, 4096, SYSTEM);
      if (isErr(bo)) throw new Error("create");
      await ttmBoReserve(bo, false, false);
      expect(ttmTtIsPopulated(bo.ttm!)).toBe(false);
      const start = drmVmaNodeStart(bo.vmaNode);
      const vma = {
        vmStart: 0x1000_0000,
        vmEnd: 0x1000_1000,
        vmPgoff: start,
        nrPages: 1,
        pages: new Map(),
      } as unknown as Vma;
      setFailslab({ caches: ["ttm_pool_alloc"], failNth: allocationCount() + 1 });
      expect(await ttmBoVmFaultReserved(vma, bo, start)).toBe(VM_FAULT_SIGBUS);
      setFailslab(null);
      expect(vma.pages.size).toBe(0);
      expect(await ttmBoVmFaultReserved(vma, bo, start)).toBeInstanceOf(Uint8Array);
      expect(vma.pages.size).toBe(1);
      await ttmBoUnreserve(bo);
      await drmGemObjectPut(bo);
    });
    expectClean(r);
  });
});

describe("ttm_bo_mmap_obj / ttm_bo_vm_open / ttm_bo_vm_close", () => {
  it("a CPU mapping holds a GEM reference (v6.14+), not a TTM one: the GEM object outlives its handle until munmap", async () => {
    const counts: Record<string, [number, number, boolean]> = {};
    const r = await runTtm(
      async (m) => {
        const p = m.kernel.spawnProcess("user", async (proc) => {
          const fd = await proc.open("/dev/dri/card0", O_RDWR);
          const c = await createMapDumb(proc, fd, 2);
          const addr = await proc.mmap(0, c.size, PROT_READ, MAP_SHARED, fd, c.offset);
          const bo = [...m.bdev.devMapping.iMmap][0]!.vmPrivateData as TtmBufferObject;
          const snap = (k: string) => {
            counts[k] = [bo.refcount.read(), bo.kref.read(), bo.freed || bo.deleted];
          };
          snap("mapped");
          // A split (munmap of the second page) opens a copy (+1) and closes the part unmapped.
          expect(await proc.munmap(addr + 4096, 4096)).toBe(0);
          snap("split");
          expect(await proc.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: c.handle, pad: 0 })).toBe(0);
          snap("handle closed");
          expect(await proc.munmap(addr, 4096)).toBe(0);
          snap("unmapped");
          expect(await proc.close(fd)).toBe(0);
        });
        expect(await p.wait()).toBe(0);
      },
      { register: true },
    );
    expectClean(r);
    // [GEM count, TTM count, released]: the handle's and the VMA's GEM references; TTM's one
    // (the GEM object's) until the last GEM reference goes at munmap: then ttm_bo_release()
    // (the freshly cleared BO is still busy: resurrected with a count of 1 for its delayed
    // destruction).
    expect(counts).toEqual({
      mapped: [2, 1, false],
      split: [2, 1, false],
      "handle closed": [1, 1, false],
      unmapped: [0, 1, true],
    });
  });
});

describe("ttm_device_fini", () => {
  it("leaves the global device list before draining its delayed deletes: ttm_global_swapout() no longer walks it", async () => {
    let swapped = -1;
    let ySwapped = true;
    const sim = new Simulation({ seed: 1 });
    const r = await sim.run(async () => {
      const m = await bootTtm({ ttPages: 8 });
      // y: populated and idle in TT, what a global swapout would take.
      const y = await testBoCreate(m, 4096, TT);
      if (isErr(y)) throw new Error("create y");
      expect(await boAccess(y, 0, new Uint8Array([9]), true)).toBe(0);
      // x: released while busy, so the drain in ttm_device_fini() waits for its fence.
      const x = await testBoCreate(m, 4096, SYSTEM);
      if (isErr(x)) throw new Error("create x");
      const fence = dmaFenceCreate(ops, new SpinLock("sw_fence_lock"), dmaFenceContextAlloc(1), 1);
      if (isErr(fence)) throw new Error("fence");
      await ttmBoReserve(x, false, false);
      expect(await dmaResvReserveFences(x.resv, 1)).toBe(0);
      await dmaResvAddFence(x.resv, fence, DmaResvUsage.BOOKKEEP);
      await ttmBoUnreserve(x);
      await drmGemObjectPut(x);
      const fini = spawn("fini", () => ttmDeviceFini(m.bdev));
      await sleep(1_000_000);
      swapped = await ttmGlobalSwapout(ctx());
      await ttmBoReserve(y, false, false);
      ySwapped = ttmTtIsSwapped(y.ttm!);
      await ttmBoUnreserve(y);
      await drmGemObjectPut(y);
      await dmaFenceSignal(fence);
      await dmaFencePut(fence);
      await fini.join();
      await ttmRangeManFini(m.bdev, TTM_PL_VRAM);
      await ttmRangeManFini(m.bdev, TTM_PL_TT);
      await m.fences.fini();
      await drmDevPut(m.drm);
      await m.kernel.checkLeaks();
    });
    expectClean(r);
    expect(swapped).toBe(0);
    expect(ySwapped).toBe(false);
  });
});

describe("ttm_lru_walk_for_evict (v6.18: ttm_bo_lru_cursor)", () => {
  it("leaving the walk runs ttm_bo_lru_cursor_fini(): the last BO is unlocked and put, then lru_lock is taken for ttm_resource_cursor_fini()", async () => {
    // At each lru_lock acquisition after the walk's BO was processed: is its reservation held,
    // and its TTM count (the walk's reference dropped: back to 1).
    const seen: { locked: boolean; kref: number }[] = [];
    let swapped = -1;
    const r = await runTtm(
      async (m) => {
        const y = await testBoCreate(m, 4096, TT);
        if (isErr(y)) throw new Error("create y");
        expect(await boAccess(y, 0, new Uint8Array([9]), true)).toBe(0);
        const lruLock = m.bdev.lruLock;
        const lock = lruLock.lock.bind(lruLock);
        let processed = false;
        lruLock.lock = () => {
          if (processed) seen.push({ locked: dmaResvIsLocked(y.resv), kref: y.kref.read() });
          else if (dmaResvIsLocked(y.resv) && y.kref.read() === 2) processed = true;
          return lock();
        };
        // One page: the walk breaks after swapping y out.
        swapped = await ttmBoSwapout(m.bdev, ctx(), ttmManagerType(m.bdev, TTM_PL_TT)!, 1);
        lruLock.lock = lock;
        await drmGemObjectPut(y);
      },
      { ttPages: 8 },
    );
    expectClean(r);
    expect(swapped).toBe(1);
    expect(seen.at(-1)).toEqual({ locked: false, kref: 1 });
  });
});
