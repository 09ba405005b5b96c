/**
 * Bulk moves (struct ttm_lru_bulk_move): BOs sharing a reservation keep their resources as one
 * range of the LRU, which ttm_lru_bulk_move_tail() moves to the tail at once, so eviction takes
 * the other BOs first; pinning, swapping out and release leave the range.
 */

import { DmaResv, dmaResvFini, dmaResvLock } from "@primetime/dma-buf";
import { drmGemObjectPut } from "@primetime/gem";
import { flushWorkqueue, isErr } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import {
  boAccess,
  expectClean,
  runTtm,
  type TestBo,
  TT,
  testBoCreate,
  testVmBoCreate,
} from "./test-support.js";
import {
  ttmBoPin,
  ttmBoReserve,
  ttmBoSetBulkMove,
  ttmBoUnpin,
  ttmBoUnreserve,
  ttmBoValidate,
} from "./ttm-bo.js";
import { ttmDeviceSwapout, ttmManagerType } from "./ttm-device.js";
import { TTM_PL_SYSTEM, TTM_PL_TT } from "./ttm-placement.js";
import { TtmLruBulkMove, ttmLruBulkMoveInit, ttmLruBulkMoveTail } from "./ttm-resource.js";

const names = (lru: { bo: TestBo | null | { name: string } }[]) => lru.map((res) => res.bo!.name);
const ctx = () => ({ interruptible: false, noWaitGpu: false, bytesMoved: 0 });

describe("bulk moves", () => {
  it("a bulk range moves to the LRU tail at once; eviction takes the others first; pins, moves and swapouts leave it", async () => {
    const r = await runTtm(
      async (m) => {
        const vmResv = new DmaResv();
        const bulk = new TtmLruBulkMove();
        ttmLruBulkMoveInit(bulk);
        await dmaResvLock(vmResv);
        const a = await testVmBoCreate(m, 1, TT, vmResv);
        const b = await testVmBoCreate(m, 1, TT, vmResv);
        await ttmBoSetBulkMove(a, bulk);
        await ttmBoSetBulkMove(b, bulk);
        await ttmBoUnreserve(a);
        const x = await testBoCreate(m, 4096, TT);
        if (isErr(x)) throw new Error("create x");
        const lru = ttmManagerType(m.bdev, TTM_PL_TT)!.lru;
        // Unreserving (through a) bumped a to the end of the VM's range.
        expect(names(lru)).toEqual([b.name, a.name, x.name]);
        // The VM's BOs were used: the whole range goes to the tail, in order.
        await ttmBoReserve(a, false, false);
        await m.bdev.lruLock.lock();
        ttmLruBulkMoveTail(bulk);
        await m.bdev.lruLock.unlock();
        expect(names(lru)).toEqual([x.name, b.name, a.name]);
        // Unreserving a bulk member bumps it to the end of its range.
        await ttmBoUnreserve(b);
        expect(names(lru)).toEqual([x.name, a.name, b.name]);
        // A new BO needing TT evicts x (least recently used), not the VM's BOs.
        const y = await testBoCreate(m, 2 * 4096, TT);
        if (isErr(y)) throw new Error("create y");
        expect(x.resource!.memType).toBe(TTM_PL_SYSTEM);
        expect(names(lru)).toEqual([a.name, b.name, y.name]);
        // Pinning takes a BO out of the range (onto the unevictable list), unpinning back in.
        await ttmBoReserve(b, false, false);
        await ttmBoPin(b);
        expect(bulk.pos[TTM_PL_TT]).toEqual({ first: a.resource, last: a.resource });
        await ttmBoUnpin(b);
        expect(bulk.pos[TTM_PL_TT]).toEqual({ first: a.resource, last: b.resource });
        // A move out of TT leaves the TT range and joins the SYSTEM one.
        expect(
          await ttmBoValidate(
            b,
            { placement: [{ fpfn: 0, lpfn: 0, memType: TTM_PL_SYSTEM, flags: 0 }] },
            ctx(),
          ),
        ).toBe(0);
        expect(bulk.pos[TTM_PL_TT]).toEqual({ first: a.resource, last: a.resource });
        expect(bulk.pos[TTM_PL_SYSTEM]).toEqual({ first: b.resource, last: b.resource });
        await ttmBoUnreserve(b);
        // Swapping out leaves the range (the BO is unevictable while swapped), swapin rejoins.
        expect(await ttmDeviceSwapout(m.bdev, ctx())).toBe(1); // x, the SYSTEM LRU's first
        expect(await ttmDeviceSwapout(m.bdev, ctx())).toBe(1); // b
        expect(bulk.pos[TTM_PL_SYSTEM]).toEqual({ first: null, last: null });
        expect(m.bdev.unevictable).toContain(b.resource);
        expect(await boAccess(b, 0, new Uint8Array(1), false)).toBe(0);
        expect(bulk.pos[TTM_PL_SYSTEM]).toEqual({ first: b.resource, last: b.resource });
        expect(await boAccess(a, 0, new Uint8Array([7]), true)).toBe(0);
        // Leave the bulk before the last reference goes.
        await ttmBoReserve(a, false, false);
        await ttmBoSetBulkMove(a, null);
        await ttmBoSetBulkMove(b, null);
        await ttmBoUnreserve(a);
        expect(bulk.pos.filter((p) => p?.first)).toEqual([]);
        for (const bo of [a, b, x, y]) await drmGemObjectPut(bo);
        await flushWorkqueue(m.bdev.wq!);
        await dmaResvFini(vmResv);
      },
      { ttPages: 4 },
    );
    expectClean(r);
  });

  it("releasing a BO still in a bulk range WARNs (ttm_bo_release)", async () => {
    const r = await runTtm(
      async (m) => {
        const bulk = new TtmLruBulkMove();
        const x = await testBoCreate(m, 4096, TT);
        if (isErr(x)) throw new Error("create x");
        await ttmBoReserve(x, false, false);
        await ttmBoSetBulkMove(x, bulk);
        await ttmBoUnreserve(x);
        await drmGemObjectPut(x);
      },
      { ttPages: 4 },
    );
    expect(r.splats.map((s) => s.message).join("\n")).toMatch(/WARN_ON_ONCE\(bo->bulk_move\)/);
  });
});
