/**
 * Every allocation of BO creation, validation and moves (the BO, resources, ttm_tt and its
 * pages, ghost objects, GPU fences, reservation lists), and of swapout and swapin (the shmem
 * file and its pages, the pool pages swapped back into), failed in turn (fail-nth): each
 * failure is an errno to the caller, the BO keeps its bytes where it was, and nothing leaks.
 */

import { drmGemObjectPut } from "@primetime/gem";
import { enumerateFailNth, isErr } from "@primetime/kernel";
import { formatSplat } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { boAccess, bootTtm, SYSTEM, shutdownTtm, testBoCreate, VRAM } from "./test-support.js";
import { ttmBoReserve, ttmBoUnreserve, ttmBoValidate } from "./ttm-bo.js";
import { ttmDeviceSwapout } from "./ttm-device.js";

const CACHES = [
  "ttmtest_bo",
  "ttm_range_mgr_node",
  "ttm_resource",
  "ttm_tt",
  "ttm_tt_alloc_page_directory",
  "ttm_pool_alloc",
  "ttm_transfer_obj",
  "simgpu_fence",
  "dma_resv_list",
];

async function scenario(): Promise<void> {
  const m = await bootTtm({ vramPages: 4, ttPages: 8 });
  const data = new Uint8Array(8192).map((_, i) => (i * 7) & 0xff);
  const a = await testBoCreate(m, 8192, VRAM);
  if (!isErr(a)) {
    expect(await boAccess(a, 0, data, true)).toBe(0);
    const b = await testBoCreate(m, 4 * 4096, VRAM); // evicts a
    if (isErr(b)) expect(b).toBe(-12);
    const ctx = { interruptible: false, noWaitGpu: false, bytesMoved: 0 };
    for (const [bo, pl] of [
      [a, VRAM],
      [a, SYSTEM],
      [a, VRAM],
    ] as const) {
      await ttmBoReserve(bo, false, false);
      const ret = await ttmBoValidate(bo, pl, ctx);
      await ttmBoUnreserve(bo);
      expect([0, -12]).toContain(ret);
      const back = new Uint8Array(8192);
      expect(await boAccess(a, 0, back, false)).toBe(0);
      expect(back).toEqual(data);
    }
    if (!isErr(b)) await drmGemObjectPut(b);
    await drmGemObjectPut(a);
  } else {
    expect(a).toBe(-12);
  }
  await shutdownTtm(m);
}

describe("fail-nth", () => {
  it("over every allocation of creation, validation and moves: errno, contents kept, no leak", async () => {
    const runs = await enumerateFailNth(scenario, { seed: 1, caches: CACHES, maxRuns: 200 });
    const bad = runs.filter((r) => r.result.outcome !== "ok" || r.result.splats.length > 0);
    expect(
      bad.map(
        (r) =>
          `nth ${r.nth} (${r.injected?.what}): ${r.result.message ?? ""}\n${r.result.splats.map((s) => formatSplat(s)).join("\n")}`,
      ),
    ).toEqual([]);
    expect(runs.length).toBeGreaterThan(20);
    expect(runs.at(-1)!.injected).toBeNull();
    const kinds = new Set(runs.map((r) => r.injected?.what).filter(Boolean));
    for (const k of [
      "ttmtest_bo",
      "ttm_range_mgr_node",
      "ttm_tt",
      "ttm_pool_alloc",
      "simgpu_fence",
      "ttm_transfer_obj",
    ])
      expect(kinds).toContain(k);
  });

  it("over every allocation of swapout and swapin: the bytes survive in the pages or in shmem, no leak", async () => {
    const swapCaches = [
      "shmem_file_setup",
      "shmem_read_mapping_page",
      "ttm_pool_alloc",
      "ttm_resource",
      "dma_resv_list",
    ];
    const swapScenario = async () => {
      const m = await bootTtm({ ttPages: 8 });
      const data = new Uint8Array(2 * 4096).map((_, i) => (i * 13) & 0xff);
      const a = await testBoCreate(m, 2 * 4096, SYSTEM);
      if (isErr(a)) {
        expect(a).toBe(-12);
      } else {
        let ret = await boAccess(a, 0, data, true);
        if (ret === 0) {
          const ctx = { interruptible: false, noWaitGpu: false, bytesMoved: 0 };
          expect([0, 2]).toContain(await ttmDeviceSwapout(m.bdev, ctx));
          const back = new Uint8Array(data.length);
          ret = await boAccess(a, 0, back, false);
          // A failed swapin leaves the contents in shmem; the next populate brings them back.
          if (ret === -12) ret = await boAccess(a, 0, back, false);
          expect(ret).toBe(0);
          expect(back).toEqual(data);
        } else expect(ret).toBe(-12);
        await drmGemObjectPut(a);
      }
      await shutdownTtm(m);
    };
    const runs = await enumerateFailNth(swapScenario, {
      seed: 1,
      caches: swapCaches,
      maxRuns: 100,
    });
    const bad = runs.filter((r) => r.result.outcome !== "ok" || r.result.splats.length > 0);
    expect(
      bad.map(
        (r) =>
          `nth ${r.nth} (${r.injected?.what}): ${r.result.message ?? ""}\n${r.result.splats.map((s) => formatSplat(s)).join("\n")}`,
      ),
    ).toEqual([]);
    expect(runs.at(-1)!.injected).toBeNull();
    const kinds = new Set(runs.map((r) => r.injected?.what).filter(Boolean));
    expect(runs.length).toBeGreaterThanOrEqual(10);
    for (const k of ["shmem_file_setup", "shmem_read_mapping_page", "ttm_pool_alloc"])
      expect(kinds).toContain(k);
  });
});
