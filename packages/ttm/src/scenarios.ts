/**
 * TTM's races as harness scenarios (what `races.test.ts` and the stress harness explore): each
 * boots the test driver of `test-support.ts` on a fresh simulated GPU, runs the racing threads,
 * and tears down with the leak checks (kmemleak, ttm bo_count, VRAM and system pages).
 */

import {
  DmaResvUsage,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvReserveFences,
  reservationWwClass,
} from "@primetime/dma-buf";
import { drmGemObjectPut, drmVmaNodeStart } from "@primetime/gem";
import {
  ENOMEM,
  flushWorkqueue,
  isErr,
  SpinLock,
  WwAcquireCtx,
  wwAcquireFini,
  wwAcquireInit,
} from "@primetime/kernel";
import { type Scenario, spawn } from "@primetime/sim";
import { ANY, SYSTEM, TT, testBoCreate, ttmScenario, VRAM } from "./test-support.js";
import {
  TTM_EVICT_BUSY_PLAIN_GET,
  TTM_EVICT_DELETED_EXTRA_PUT,
  TTM_GHOST_RESV_NOT_FINI,
  TTM_LRU_WALK_PLAIN_GET,
  TTM_MMAP_LOOKUP_PLAIN_GET,
  TTM_RELEASE_RESURRECT_WITH_GET,
} from "./toggles.js";
import {
  type TtmBufferObject,
  ttmBoPut,
  ttmBoReserve,
  ttmBoUnreserve,
  ttmBoValidate,
} from "./ttm-bo.js";
import { ttmBoVmLookup } from "./ttm-bo-vm.js";
import type { TtmPlacement } from "./ttm-placement.js";

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

/**
 * A busy BO filling VRAM is released (deleted, its delayed destruction waiting for a fence);
 * thread 1 needs VRAM, so the eviction walk finds the deleted BO and cleans it up once idle;
 * thread 2 signals the fence.
 */
export const evictDeleted = ttmScenario(
  async (m) => {
    const x = await testBoCreate(m, 4 * 4096, VRAM);
    if (isErr(x)) throw new Error("create x");
    const fence = dmaFenceCreate(ops, new SpinLock("sw_fence_lock"), dmaFenceContextAlloc(1), 1);
    if (isErr(fence)) throw new Error("fence");
    await ttmBoReserve(x, false, false);
    await dmaResvReserveFences(x.resv, 1);
    await dmaResvAddFence(x.resv, fence, DmaResvUsage.BOOKKEEP);
    await ttmBoUnreserve(x);
    await drmGemObjectPut(x);
    const t1 = spawn("evict", async () => {
      const y = await testBoCreate(m, 4 * 4096, VRAM);
      if (!isErr(y)) await drmGemObjectPut(y);
      else if (y !== -12) throw new Error(`create y: ${y}`);
    });
    const t2 = spawn("signal", async () => {
      await dmaFenceSignal(fence);
      await dmaFencePut(fence);
    });
    await t1.join();
    await t2.join();
    await flushWorkqueue(m.bdev.wq!);
  },
  { vramPages: 4 },
);

/**
 * Validates `bo` into `placement` inside a ww transaction of its own (the execbuf pattern:
 * reserve with a ticket, validate, unreserve), so an eviction it needs runs the walk's second,
 * ticketlocking pass. 0 or -ENOMEM (nothing could be evicted, or the ticketlock hit -EDEADLK).
 */
export async function validateWithTicket(
  bo: TtmBufferObject,
  placement: TtmPlacement,
): Promise<number> {
  const ticket = new WwAcquireCtx();
  wwAcquireInit(ticket, reservationWwClass);
  let ret = await ttmBoReserve(bo, false, false, ticket);
  if (ret) throw new Error(`reserve: ${ret}`);
  ret = await ttmBoValidate(bo, placement, {
    interruptible: false,
    noWaitGpu: false,
    bytesMoved: 0,
  });
  await ttmBoUnreserve(bo);
  wwAcquireFini(ticket);
  if (ret !== 0 && ret !== -ENOMEM) throw new Error(`validate: ${ret}`);
  return ret;
}

/**
 * Thread 1 drops the last reference of the BO filling the TT aperture; thread 2 validates
 * another BO into TT under a ww ticket, so its eviction walk may meet the dying BO locked by
 * its own release (freeing its pages) and wait for it with the ticket
 * (ttm_lru_walk_ticketlock()).
 */
export const evictBusyVsRelease = ttmScenario(
  async (m) => {
    const x = await testBoCreate(m, 4 * 4096, TT);
    const y = await testBoCreate(m, 4 * 4096, SYSTEM);
    if (isErr(x) || isErr(y)) throw new Error("create");
    const t1 = spawn("release", () => drmGemObjectPut(x));
    const t2 = spawn("evict", async () => {
      await validateWithTicket(y, TT);
    });
    await t1.join();
    await t2.join();
    await drmGemObjectPut(y);
    await flushWorkqueue(m.bdev.wq!);
  },
  { ttPages: 4 },
);

/**
 * A BO moves from VRAM into TT while another task reads it: the move is pipelined, its old
 * VRAM hangs on a ghost object until the copy's fence signals; then the BO is released.
 */
export const ghostMoveRelease = ttmScenario(
  async (m) => {
    const x = await testBoCreate(m, 2 * 4096, VRAM);
    if (isErr(x)) throw new Error("create");
    const mover = spawn("move", async () => {
      await ttmBoReserve(x, false, false);
      const ret = await ttmBoValidate(x, TT, {
        interruptible: false,
        noWaitGpu: false,
        bytesMoved: 0,
      });
      await ttmBoUnreserve(x);
      if (ret) throw new Error(`validate: ${ret}`);
    });
    const reader = spawn("read", async () => {
      await ttmBoReserve(x, false, false);
      await ttmBoUnreserve(x);
    });
    await mover.join();
    await reader.join();
    await drmGemObjectPut(x);
    await flushWorkqueue(m.bdev.wq!);
  },
  { vramPages: 4 },
);

/** A TTM race scenario for the harness (the shape of the stress app's StressScenario). */
export interface TtmRaceScenario {
  readonly name: string;
  readonly description: string;
  readonly expect: "clean";
  readonly scenario: Scenario;
  readonly kernelRef: string;
  /** Toggles with which some schedule fails. */
  readonly finds: readonly string[];
  /** PCT schedules (seed 1, depth 3) within which it finds each toggle. */
  readonly schedules: number;
  /** How the bug shows. */
  readonly how: string;
}

/** The TTM race scenarios, one per toggle, plus the combined clean one. */
export const TTM_RACE_SCENARIOS: readonly TtmRaceScenario[] = [
  {
    name: "ttm/mmap-vs-last-unref",
    description: "the last unref of a BO races a lookup of it by mmap offset (ttm_bo_vm_lookup)",
    expect: "clean",
    scenario: mmapVsLastUnref,
    kernelRef: "drivers/gpu/drm/ttm/ttm_bo_vm.c ttm_bo_vm_lookup(), ttm_bo.c ttm_bo_release()",
    finds: [TTM_MMAP_LOOKUP_PLAIN_GET.name],
    schedules: 200,
    how: "refcount_t: addition on 0; use-after-free",
  },
  {
    name: "ttm/busy-release",
    description: "a BO is released while its fence is unsignalled: delayed destruction",
    expect: "clean",
    scenario: busyRelease,
    kernelRef: "drivers/gpu/drm/ttm/ttm_bo.c ttm_bo_release(), ttm_bo_delayed_delete()",
    finds: [TTM_RELEASE_RESURRECT_WITH_GET.name],
    schedules: 200,
    how: "refcount_t: addition on 0; use-after-free",
  },
  {
    name: "ttm/evict-vs-release",
    description: "an eviction LRU walk finds a BO whose last reference is being dropped",
    expect: "clean",
    scenario: evictVsRelease,
    kernelRef: "drivers/gpu/drm/ttm/ttm_bo_util.c ttm_lru_walk_for_evict(), ttm_bo.c",
    finds: [TTM_LRU_WALK_PLAIN_GET.name],
    schedules: 200,
    how: "refcount_t: addition on 0; use-after-free",
  },
  {
    name: "ttm/evict-deleted",
    description: "an eviction finds a BO released while busy (deleted) and cleans it up",
    expect: "clean",
    scenario: evictDeleted,
    kernelRef:
      "drivers/gpu/drm/ttm/ttm_bo.c ttm_bo_evict_cb()/ttm_mem_evict_first(), ttm_bo_release()",
    finds: [TTM_EVICT_DELETED_EXTRA_PUT.name],
    schedules: 200,
    how: "refcount_t: underflow; use-after-free, or KASAN use-after-free in the delayed delete",
  },
  {
    name: "ttm/evict-busy-vs-release",
    description:
      "an eviction under a ww ticket meets a BO locked by its own release and waits for it",
    expect: "clean",
    scenario: evictBusyVsRelease,
    kernelRef:
      "drivers/gpu/drm/ttm/ttm_bo_util.c ttm_lru_walk_for_evict()/ttm_lru_walk_ticketlock(), ttm_bo.c ttm_bo_evict_alloc()",
    finds: [TTM_EVICT_BUSY_PLAIN_GET.name],
    schedules: 200,
    how: "refcount_t: addition on 0; use-after-free",
  },
  {
    name: "ttm/ghost-move-release",
    description: "a pipelined move leaves the old VRAM on a ghost object; the BO is released",
    expect: "clean",
    scenario: ghostMoveRelease,
    kernelRef:
      "drivers/gpu/drm/ttm/ttm_bo_util.c ttm_buffer_object_transfer(), ttm_transfered_destroy()",
    finds: [TTM_GHOST_RESV_NOT_FINI.name],
    schedules: 20,
    how: "kmemleak: the ghost's dma_resv_list and the move fence",
  },
  {
    name: "ttm/evict-release-mmap",
    description: "eviction racing the release of the evicted BO and an mmap lookup of it",
    expect: "clean",
    scenario: evictReleaseMmap,
    kernelRef: "drivers/gpu/drm/ttm/ttm_bo.c, ttm_bo_util.c, ttm_bo_vm.c",
    finds: [],
    schedules: 0,
    how: "",
  },
];
