/**
 * TTM's lifetime races, one scenario per toggle: with the toggle on, PCT finds it within a
 * bounded number of schedules (refcount "addition on 0", KASAN, kmemleak); with every toggle
 * off, the same scenarios, and one combining eviction, release and mmap lookup, are clean over
 * many PCT seeds and a bounded DFS.
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
import { drmGemObjectPut, drmVmaNodeStart } from "@primetime/gem";
import { flushWorkqueue, isErr, SpinLock } from "@primetime/kernel";
import { explore, formatSplat, type RunResult, spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { ANY, SYSTEM, testBoCreate, ttmScenario, VRAM } from "./test-support.js";
import {
  TTM_LRU_WALK_PLAIN_GET,
  TTM_MMAP_LOOKUP_PLAIN_GET,
  TTM_RELEASE_RESURRECT_WITH_GET,
} from "./toggles.js";
import { ttmBoPut, ttmBoReserve, ttmBoUnreserve } from "./ttm-bo.js";
import { ttmBoVmLookup } from "./ttm-bo-vm.js";

const ops = { getDriverName: () => "test", getTimelineName: () => "sw" };

/** Thread 1 drops the last reference of a BO; thread 2 looks it up by its mmap offset. */
export const mmapVsLastUnref = ttmScenario(async (m) => {
  const bo = await testBoCreate(m, 4096, SYSTEM);
  if (isErr(bo)) throw new Error("create");
  const start = drmVmaNodeStart(bo.vmaNode);
  const t1 = spawn("unref", () => drmGemObjectPut(bo));
  const t2 = spawn("mmap", async () => {
    const found = await ttmBoVmLookup(m.bdev, start, 1);
    if (found) await ttmBoPut(found);
  });
  await t1.join();
  await t2.join();
  await flushWorkqueue(m.bdev.wq!);
});

/** Thread 1 drops the last reference of the BO filling VRAM; thread 2 needs VRAM (eviction). */
export const evictVsRelease = ttmScenario(
  async (m) => {
    const x = await testBoCreate(m, 4 * 4096, VRAM);
    if (isErr(x)) throw new Error("create x");
    const t1 = spawn("release", () => drmGemObjectPut(x));
    const t2 = spawn("evict", async () => {
      const y = await testBoCreate(m, 4 * 4096, VRAM);
      if (!isErr(y)) await drmGemObjectPut(y);
      else if (y !== -12) throw new Error(`create y: ${y}`);
    });
    await t1.join();
    await t2.join();
    await flushWorkqueue(m.bdev.wq!);
  },
  { vramPages: 4 },
);

/** A BO released while a fence it holds has not signalled. */
export const busyRelease = ttmScenario(async (m) => {
  const bo = await testBoCreate(m, 4096, SYSTEM);
  if (isErr(bo)) throw new Error("create");
  const fence = dmaFenceCreate(ops, new SpinLock("sw_fence_lock"), dmaFenceContextAlloc(1), 1);
  if (isErr(fence)) throw new Error("fence");
  await ttmBoReserve(bo, false, false);
  await dmaResvReserveFences(bo.resv, 1);
  await dmaResvAddFence(bo.resv, fence, DmaResvUsage.BOOKKEEP);
  await ttmBoUnreserve(bo);
  const t1 = spawn("release", () => drmGemObjectPut(bo));
  const t2 = spawn("signal", async () => {
    await dmaFenceSignal(fence);
    await dmaFencePut(fence);
  });
  await t1.join();
  await t2.join();
  await flushWorkqueue(m.bdev.wq!);
});

/** Eviction racing the release of the evicted BO and an mmap lookup of it, plus a mover. */
export const evictReleaseMmap = ttmScenario(
  async (m) => {
    const x = await testBoCreate(m, 2 * 4096, VRAM);
    const z = await testBoCreate(m, 2 * 4096, ANY);
    if (isErr(x) || isErr(z)) throw new Error("create");
    const start = drmVmaNodeStart(x.vmaNode);
    const ts = [
      spawn("release", () => drmGemObjectPut(x)),
      spawn("mmap", async () => {
        const found = await ttmBoVmLookup(m.bdev, start, 1);
        if (found) await ttmBoPut(found);
      }),
      spawn("evict", async () => {
        const y = await testBoCreate(m, 4 * 4096, VRAM);
        if (!isErr(y)) await drmGemObjectPut(y);
      }),
    ];
    for (const t of ts) await t.join();
    await drmGemObjectPut(z);
    await flushWorkqueue(m.bdev.wq!);
  },
  { vramPages: 4 },
);

function splats(r: RunResult): string {
  return r.splats.map((s) => formatSplat(s)).join("\n");
}

const CASES = [
  { toggle: TTM_MMAP_LOOKUP_PLAIN_GET.name, scenario: mmapVsLastUnref, name: "mmap-vs-last-unref" },
  { toggle: TTM_RELEASE_RESURRECT_WITH_GET.name, scenario: busyRelease, name: "busy-release" },
  { toggle: TTM_LRU_WALK_PLAIN_GET.name, scenario: evictVsRelease, name: "evict-vs-release" },
];

describe("TTM races as toggles", () => {
  for (const c of CASES) {
    it(`${c.toggle}: found by pct in ${c.name}`, async () => {
      const r = await explore(c.scenario, { toggles: [c.toggle], schedules: 200, seed: 1 });
      expect(r.failures.length).toBe(1);
      const text = splats(r.failures[0]!);
      expect(text).toMatch(/refcount_t: addition on 0|use-after-free/);
    });
  }

  for (const c of CASES) {
    it(`${c.name} is clean with every toggle off (pct, 150 schedules)`, async () => {
      const r = await explore(c.scenario, { schedules: 150, seed: 7 });
      expect(r.failures.map(splats)).toEqual([]);
    });
  }

  it("eviction racing release and mmap is clean with every toggle off (pct and bounded DFS)", async () => {
    const pct = await explore(evictReleaseMmap, { schedules: 150, seed: 3 });
    expect(pct.failures.map(splats)).toEqual([]);
    const dfs = await explore(evictReleaseMmap, {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 150,
    });
    expect(dfs.failures.map(splats)).toEqual([]);
  });
});
