/**
 * Swapout and swapin (ttm_bo_swapout(), ttm_tt_swapout()/ttm_tt_swapin(), ttm_global_swapout()
 * from ttm_tt_populate() over the page limit): a swapped-out BO keeps its bytes in shmem, sits
 * on the unevictable list, and gets them back when anything populates it again: a CPU access,
 * a GPU checksum, a move into VRAM or TT.
 */

import {
  DmaResvUsage,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvReserveFences,
} from "@primetime/dma-buf";
import { drmGemObjectPut } from "@primetime/gem";
import { isErr, SpinLock } from "@primetime/kernel";
import { choose, spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  ANY,
  boAccess,
  crc32,
  expectClean,
  gpuChecksum,
  runTtm,
  SYSTEM,
  type TestBo,
  TT,
  testBoCreate,
  VRAM,
} from "./test-support.js";
import { ttmBoReserve, ttmBoUnreserve, ttmBoValidate } from "./ttm-bo.js";
import { ttmDeviceSwapout } from "./ttm-device.js";
import { TTM_PL_SYSTEM } from "./ttm-placement.js";
import { TTM_TT_FLAG_SWAPPED, ttmTtPagesAllocated } from "./ttm-tt.js";

/** The SWAPPED flag, read as a test (the model's ttm_tt_is_swapped() asserts the lock). */
const swappedFlag = (bo: TestBo) => (bo.ttm!.pageFlags & TTM_TT_FLAG_SWAPPED) !== 0;

const ops = { getDriverName: () => "test", getTimelineName: () => "sw" };
const ctx = () => ({ interruptible: false, noWaitGpu: false, bytesMoved: 0 });

describe("swapout", () => {
  it("swaps a SYSTEM BO out to shmem and back in on access, contents kept", async () => {
    let swapped = 0;
    const r = await runTtm(async (m) => {
      m.bdev.funcs.swapNotify = async () => {
        swapped++;
      };
      const bo = await testBoCreate(m, 2 * 4096, SYSTEM);
      if (isErr(bo)) throw new Error(`create ${bo}`);
      const bytes = new Uint8Array(2 * 4096).map((_, i) => (i * 7) & 0xff);
      expect(await boAccess(bo, 0, bytes, true)).toBe(0);
      const before = m.gpu.system.allocated;
      expect(await ttmDeviceSwapout(m.bdev, ctx())).toBe(2);
      expect(swappedFlag(bo)).toBe(true);
      expect(m.gpu.system.allocated).toBe(before - 2);
      // A swapped BO is on the unevictable list: a second swapout finds nothing.
      expect(m.bdev.unevictable).toContain(bo.resource);
      expect(await ttmDeviceSwapout(m.bdev, ctx())).toBe(0);
      const back = new Uint8Array(bytes.length);
      expect(await boAccess(bo, 0, back, false)).toBe(0);
      expect(back).toEqual(bytes);
      expect(swappedFlag(bo)).toBe(false);
      expect(m.bdev.unevictable).not.toContain(bo.resource);
      expect(await gpuChecksum(m, bo)).toBe(crc32(bytes));
      await drmGemObjectPut(bo);
    });
    expectClean(r);
    expect(swapped).toBe(1);
  });

  it("swaps a TT BO out through SYSTEM; moving it to VRAM swaps it in first", async () => {
    const r = await runTtm(async (m) => {
      const bo = await testBoCreate(m, 4096, TT);
      if (isErr(bo)) throw new Error(`create ${bo}`);
      const bytes = new Uint8Array(4096).map((_, i) => (i * 13 + 1) & 0xff);
      expect(await boAccess(bo, 0, bytes, true)).toBe(0);
      expect(await ttmDeviceSwapout(m.bdev, ctx())).toBe(1);
      expect(bo.resource!.memType).toBe(TTM_PL_SYSTEM);
      expect(swappedFlag(bo)).toBe(true);
      await ttmBoReserve(bo, false, false);
      expect(await ttmBoValidate(bo, VRAM, ctx())).toBe(0);
      await ttmBoUnreserve(bo);
      const back = new Uint8Array(4096);
      expect(await boAccess(bo, 0, back, false)).toBe(0);
      expect(back).toEqual(bytes);
      expect(await gpuChecksum(m, bo)).toBe(crc32(bytes));
      await drmGemObjectPut(bo);
    });
    expectClean(r);
  });

  it("a deleted (released while busy) BO found by the swapout walk is cleaned up, not swapped", async () => {
    let result = 0;
    const r = await runTtm(async (m) => {
      const bo = await testBoCreate(m, 4096, SYSTEM);
      if (isErr(bo)) throw new Error(`create ${bo}`);
      expect(await boAccess(bo, 0, new Uint8Array([1]), true)).toBe(0);
      const fence = dmaFenceCreate(ops, new SpinLock("sw_fence_lock"), dmaFenceContextAlloc(1), 1);
      if (isErr(fence)) throw new Error("fence");
      await ttmBoReserve(bo, false, false);
      await dmaResvReserveFences(bo.resv, 1);
      await dmaResvAddFence(bo.resv, fence, DmaResvUsage.BOOKKEEP);
      await ttmBoUnreserve(bo);
      await drmGemObjectPut(bo);
      expect(bo.deleted).toBe(true);
      const t = spawn("swapout", async () => {
        result = await ttmDeviceSwapout(m.bdev, ctx());
      });
      await dmaFenceSignal(fence);
      await dmaFencePut(fence);
      await t.join();
    });
    expectClean(r);
    // Either the walk cleaned the deleted BO up (its page counts) or the delayed delete won.
    expect([0, 1]).toContain(result);
  });

  for (const seed of [1, 2]) {
    it(`page limit: populating swaps others out; concurrent owners keep their bytes (seed ${seed})`, async () => {
      let swapped = 0;
      let checks = 0;
      const r = await runTtm(
        async (m) => {
          m.bdev.funcs.swapNotify = async () => {
            swapped++;
          };
          const owners = 3;
          const perOwner = 2;
          const bos: TestBo[] = [];
          const shadow: Uint8Array[] = [];
          for (let i = 0; i < owners * perOwner; i++) {
            const bo = await testBoCreate(m, 2 * 4096, i % 2 ? SYSTEM : TT);
            if (isErr(bo)) throw new Error(`create ${bo}`);
            bos.push(bo);
            shadow.push(new Uint8Array(2 * 4096));
          }
          const workers = [];
          for (let w = 0; w < owners; w++) {
            workers.push(
              spawn(`owner${w}`, async () => {
                for (let round = 0; round < 4; round++) {
                  const i = w * perOwner + choose(perOwner);
                  const bo = bos[i]!;
                  const off = choose(bo.size - 32);
                  const bytes = new Uint8Array(1 + choose(32)).map(() => choose(256));
                  expect(await boAccess(bo, off, bytes, true)).toBe(0);
                  shadow[i]!.set(bytes, off);
                  const back = new Uint8Array(bo.size);
                  expect(await boAccess(bo, 0, back, false)).toBe(0);
                  expect(back).toEqual(shadow[i]);
                  checks++;
                }
              }),
            );
          }
          const mover = spawn("mover", async () => {
            for (let round = 0; round < 4; round++) {
              const bo = bos[choose(bos.length)]!;
              await ttmBoReserve(bo, false, false);
              const ret = await ttmBoValidate(bo, [ANY, TT, SYSTEM][choose(3)]!, ctx());
              await ttmBoUnreserve(bo);
              expect([0, -12]).toContain(ret);
            }
          });
          for (const t of workers) await t.join();
          await mover.join();
          expect(ttmTtPagesAllocated()).toBeLessThanOrEqual(6);
          for (let i = 0; i < bos.length; i++) {
            const back = new Uint8Array(bos[i]!.size);
            expect(await boAccess(bos[i]!, 0, back, false)).toBe(0);
            expect(back).toEqual(shadow[i]);
            expect(await gpuChecksum(m, bos[i]!)).toBe(crc32(shadow[i]!));
          }
          for (const bo of bos) await drmGemObjectPut(bo);
        },
        { seed, strategy: { kind: "pct", depth: 3 }, vramPages: 4, ttPagesLimit: 6 },
      );
      expectClean(r);
      expect(checks).toBe(12);
      expect(swapped).toBeGreaterThan(0);
    });
  }
});
