import { drmGemObjectPut } from "@primetime/gem";
import { flushWorkqueue, isErr } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import {
  ANY,
  boAccess,
  crc32,
  expectClean,
  gpuChecksum,
  runTtm,
  SYSTEM,
  TT,
  testBoCreate,
  VRAM,
} from "./test-support.js";
import { ttmBoPin, ttmBoReserve, ttmBoUnpin, ttmBoUnreserve, ttmBoValidate } from "./ttm-bo.js";
import { ttmGlobBoCount } from "./ttm-device.js";
import { TTM_PL_SYSTEM, TTM_PL_TT, TTM_PL_VRAM } from "./ttm-placement.js";

const ctx = () => ({ interruptible: false, noWaitGpu: false, bytesMoved: 0 });

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

describe("ttm_bo_init_validate / validate", () => {
  it("creates a VRAM BO cleared by the GPU and moves it VRAM -> TT -> SYSTEM -> VRAM keeping its bytes", async () => {
    const seen: string[] = [];
    const r = await runTtm(async (m) => {
      const bo = await testBoCreate(m, 2 * 4096, VRAM);
      if (isErr(bo)) throw new Error(`create ${bo}`);
      expect(bo.resource!.memType).toBe(TTM_PL_VRAM);
      expect(bo.kref.read()).toBe(1);
      expect(ttmGlobBoCount()).toBe(1);
      const zero = new Uint8Array(8192);
      expect(await boAccess(bo, 0, zero, false)).toBe(0);
      expect(zero.every((x) => x === 0)).toBe(true);
      const data = pattern(8192, 1);
      expect(await boAccess(bo, 0, data, true)).toBe(0);
      for (const [pl, type] of [
        [TT, TTM_PL_TT],
        [SYSTEM, TTM_PL_SYSTEM],
        [VRAM, TTM_PL_VRAM],
        [SYSTEM, TTM_PL_SYSTEM],
      ] as const) {
        await ttmBoReserve(bo, false, false);
        expect(await ttmBoValidate(bo, pl, ctx())).toBe(0);
        await ttmBoUnreserve(bo);
        expect(bo.resource!.memType).toBe(type);
        const back = new Uint8Array(8192);
        expect(await boAccess(bo, 0, back, false)).toBe(0);
        expect(back).toEqual(data);
        expect(await gpuChecksum(m, bo)).toBe(crc32(data));
        seen.push(String(type));
      }
      await drmGemObjectPut(bo);
    });
    expectClean(r);
    expect(seen).toEqual(["1", "0", "2", "0"]);
  });

  it("evicts the least recently used BO under VRAM pressure and never a pinned one; -ENOMEM when nothing can go", async () => {
    const r = await runTtm(
      async (m) => {
        const a = await testBoCreate(m, 4 * 4096, VRAM);
        const b = await testBoCreate(m, 4 * 4096, VRAM);
        if (isErr(a) || isErr(b)) throw new Error("create");
        const da = pattern(4 * 4096, 2);
        const db = pattern(4 * 4096, 3);
        await boAccess(a, 0, da, true);
        await boAccess(b, 0, db, true);
        await ttmBoReserve(a, false, false);
        await ttmBoPin(a);
        await ttmBoUnreserve(a);
        // VRAM is 8 pages: a third BO must evict b (a is pinned).
        const c = await testBoCreate(m, 4 * 4096, VRAM);
        if (isErr(c)) throw new Error(`create c ${c}`);
        expect(a.resource!.memType).toBe(TTM_PL_VRAM);
        expect(b.resource!.memType).toBe(TTM_PL_TT);
        const back = new Uint8Array(4 * 4096);
        await boAccess(b, 0, back, false);
        expect(back).toEqual(db);
        // Pin c too: a fourth VRAM-only BO finds nothing to evict.
        await ttmBoReserve(c, false, false);
        await ttmBoPin(c);
        await ttmBoUnreserve(c);
        expect(await testBoCreate(m, 4096, VRAM)).toBe(-12);
        // A pinned BO may not move.
        await ttmBoReserve(a, false, false);
        expect(await ttmBoValidate(a, SYSTEM, ctx())).toBe(-22);
        await ttmBoUnpin(a);
        await ttmBoUnreserve(a);
        await ttmBoReserve(c, false, false);
        await ttmBoUnpin(c);
        await ttmBoUnreserve(c);
        for (const bo of [a, b, c]) await drmGemObjectPut(bo);
      },
      { vramPages: 8 },
    );
    expectClean(r);
  });

  it("falls back along the placement list when VRAM is fragmented", async () => {
    const r = await runTtm(
      async (m) => {
        const bos = [];
        for (let i = 0; i < 4; i++) {
          const bo = await testBoCreate(m, 2 * 4096, VRAM);
          if (isErr(bo)) throw new Error("create");
          bos.push(bo);
        }
        // Free every other one: 4 free pages in holes of 2.
        await drmGemObjectPut(bos[0]!);
        await drmGemObjectPut(bos[2]!);
        // Released while the GPU clear may still run: destroyed by the delayed delete.
        await flushWorkqueue(m.bdev.wq!);
        expect(m.gpu.vram.freePages).toBe(4);
        for (const bo of [bos[1]!, bos[3]!]) {
          await ttmBoReserve(bo, false, false);
          await ttmBoPin(bo);
          await ttmBoUnreserve(bo);
        }
        const big = await testBoCreate(m, 4 * 4096, ANY);
        if (isErr(big)) throw new Error(`create big ${big}`);
        expect(big.resource!.memType).toBe(TTM_PL_TT);
        for (const bo of [bos[1]!, bos[3]!]) {
          await ttmBoReserve(bo, false, false);
          await ttmBoUnpin(bo);
          await ttmBoUnreserve(bo);
          await drmGemObjectPut(bo);
        }
        await drmGemObjectPut(big);
      },
      { vramPages: 8 },
    );
    expectClean(r);
  });
});
