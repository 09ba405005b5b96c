/**
 * The bytes a BO holds survive every move: random writes into many BOs by several tasks while
 * an evictor forces moves and evictions under VRAM pressure; every read by the CPU and every
 * checksum by the GPU agrees with what the owning task wrote.
 */

import { drmGemObjectPut } from "@primetime/gem";
import { isErr } from "@primetime/kernel";
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

const PLACEMENTS = [VRAM, TT, SYSTEM, ANY];

describe("contents under moves", () => {
  for (const seed of [1, 2, 3]) {
    it(`random writes, forced evictions and moves, concurrent readers (seed ${seed})`, async () => {
      let checks = 0;
      let moved = 0;
      const r = await runTtm(
        async (m) => {
          const owners = 3;
          const perOwner = 3;
          const bos: TestBo[] = [];
          const shadow: Uint8Array[] = [];
          for (let i = 0; i < owners * perOwner; i++) {
            const pages = 1 + choose(3);
            const bo = await testBoCreate(m, pages * 4096, ANY);
            if (isErr(bo)) throw new Error(`create ${bo}`);
            bos.push(bo);
            shadow.push(new Uint8Array(pages * 4096));
          }
          const workers = [];
          for (let w = 0; w < owners; w++) {
            workers.push(
              spawn(`owner${w}`, async () => {
                for (let round = 0; round < 6; round++) {
                  const i = w * perOwner + choose(perOwner);
                  const bo = bos[i]!;
                  const off = choose(bo.size - 64);
                  const len = 1 + choose(64);
                  const bytes = new Uint8Array(len).map(() => choose(256));
                  expect(await boAccess(bo, off, bytes, true)).toBe(0);
                  shadow[i]!.set(bytes, off);
                  const back = new Uint8Array(bo.size);
                  expect(await boAccess(bo, 0, back, false)).toBe(0);
                  expect(back).toEqual(shadow[i]);
                  expect(await gpuChecksum(m, bo)).toBe(crc32(shadow[i]!));
                  checks++;
                }
              }),
            );
          }
          const evictor = spawn("evictor", async () => {
            for (let round = 0; round < 12; round++) {
              const bo = bos[choose(bos.length)]!;
              await ttmBoReserve(bo, false, false);
              const ctx = { interruptible: false, noWaitGpu: false, bytesMoved: 0 };
              const ret = await ttmBoValidate(bo, PLACEMENTS[choose(PLACEMENTS.length)]!, ctx);
              moved += ctx.bytesMoved;
              await ttmBoUnreserve(bo);
              expect([0, -12]).toContain(ret);
            }
          });
          for (const t of workers) await t.join();
          await evictor.join();
          for (let i = 0; i < bos.length; i++) {
            const back = new Uint8Array(bos[i]!.size);
            expect(await boAccess(bos[i]!, 0, back, false)).toBe(0);
            expect(back).toEqual(shadow[i]);
            expect(await gpuChecksum(m, bos[i]!)).toBe(crc32(shadow[i]!));
          }
          for (const bo of bos) await drmGemObjectPut(bo);
        },
        { seed, strategy: { kind: "pct", depth: 3 }, vramPages: 8, ttPages: 8 },
      );
      expectClean(r);
      expect(checks).toBe(18);
      expect(moved).toBeGreaterThan(0);
    });
  }
});
