/**
 * Eviction under ww tickets (ttm_bo_evict_alloc()'s second pass, ttm_lru_walk_ticketlock()) and
 * the -EDEADLK back-off of ttm_bo_reserve()/ttm_bo_reserve_slowpath(): transactions reserving
 * the same BOs in opposite orders both complete; an eviction whose ticketlock dies on an older
 * transaction's BO fails with -ENOMEM (-EDEADLK became -ENOSPC: the caller must back off), and
 * succeeds once the caller has backed off and the older transaction is done.
 */

import { dmaResvUnlock, reservationWwClass } from "@primetime/dma-buf";
import { drmGemObjectPut } from "@primetime/gem";
import {
  EDEADLK,
  ENOMEM,
  isErr,
  WwAcquireCtx,
  wwAcquireFini,
  wwAcquireInit,
} from "@primetime/kernel";
import { Completion, spawn } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { splatText } from "@primetime/sim/testing";
import { describe, expect, it } from "vitest";
import { evictBusyVsRelease } from "./scenarios.js";
import {
  boAccess,
  crc32,
  expectClean,
  gpuChecksum,
  runTtm,
  SYSTEM,
  type TestBo,
  TT,
  testBoCreate,
  ttmScenario,
} from "./test-support.js";
import {
  type TtmBufferObject,
  ttmBoReserve,
  ttmBoReserveSlowpath,
  ttmBoUnreserve,
  ttmBoValidate,
} from "./ttm-bo.js";
import { ttmBoCpuAccess } from "./ttm-bo-util.js";

const ctx = () => ({ interruptible: false, noWaitGpu: false, bytesMoved: 0 });

/**
 * ttm_eu_reserve_buffers()'s loop: reserve every BO under `ticket`; on -EDEADLK unreserve all,
 * take the contended one with ttm_bo_reserve_slowpath() and start over. The back-offs taken.
 */
async function reserveAll(
  bos: TtmBufferObject[],
  ticket: WwAcquireCtx,
  afterFirst?: () => Promise<void>,
): Promise<number> {
  let contended: TtmBufferObject | null = null;
  let backoffs = 0;
  for (;;) {
    const held: TtmBufferObject[] = [];
    if (contended) {
      expect(await ttmBoReserveSlowpath(contended, false, ticket)).toBe(0);
      held.push(contended);
    }
    let ret = 0;
    for (const bo of bos) {
      if (bo === contended) continue;
      ret = await ttmBoReserve(bo, false, false, ticket);
      if (ret === -EDEADLK) {
        for (const h of held) await dmaResvUnlock(h.resv);
        contended = bo;
        backoffs++;
        break;
      }
      expect(ret).toBe(0);
      held.push(bo);
      if (afterFirst && held.length === 1) {
        await afterFirst();
        afterFirst = undefined;
      }
    }
    if (ret === 0) return backoffs;
  }
}

/** Two transactions reserve {p, q} and {q, p}, then each validates its own BO into full TT. */
function oppositeOrders(counts: { backoffs: number; checks: number }) {
  return ttmScenario(
    async (m) => {
      const p = await testBoCreate(m, 2 * 4096, SYSTEM);
      const q = await testBoCreate(m, 2 * 4096, SYSTEM);
      const r = await testBoCreate(m, 2 * 4096, TT);
      const s = await testBoCreate(m, 2 * 4096, TT);
      if (isErr(p) || isErr(q) || isErr(r) || isErr(s)) throw new Error("create");
      const all = [p, q, r, s];
      const bytes = all.map((_, i) => new Uint8Array(2 * 4096).fill(0x11 * (i + 1)));
      for (let i = 0; i < all.length; i++)
        expect(await boAccess(all[i]!, 0, bytes[i]!, true)).toBe(0);
      // Each transaction holds its first BO before either takes its second: the younger one
      // meets the older one's BO and must back off.
      const first = [new Completion("A holds p"), new Completion("B holds q")];
      const txn = (me: number, mine: TestBo, order: TestBo[]) => async () => {
        const ticket = new WwAcquireCtx();
        wwAcquireInit(ticket, reservationWwClass);
        counts.backoffs += await reserveAll(order, ticket, async () => {
          first[me]!.complete();
          await first[1 - me]!.wait();
        });
        const ret = await ttmBoValidate(mine, TT, ctx());
        expect([0, -ENOMEM]).toContain(ret);
        const back = new Uint8Array(mine.size);
        expect(await ttmBoCpuAccess(mine, 0, back, false)).toBe(0);
        expect(back).toEqual(bytes[all.indexOf(mine)]);
        for (const bo of order) await ttmBoUnreserve(bo);
        wwAcquireFini(ticket);
        counts.checks++;
      };
      const a = spawn("txnA", txn(0, p, [p, q]));
      const b = spawn("txnB", txn(1, q, [q, p]));
      await a.join();
      await b.join();
      for (let i = 0; i < all.length; i++) {
        const back = new Uint8Array(all[i]!.size);
        expect(await boAccess(all[i]!, 0, back, false)).toBe(0);
        expect(back).toEqual(bytes[i]);
      }
      for (const bo of all) await drmGemObjectPut(bo);
    },
    { ttPages: 4 },
  );
}

describe("ww tickets", () => {
  it("opposite reservation orders: -EDEADLK, back-off with the slowpath, both complete (pct and bounded DFS)", async () => {
    // p and q are reserved in opposite orders; each then validates its own into TT, full of r
    // and s, evicting them.
    const counts = { backoffs: 0, checks: 0 };
    const scenario = oppositeOrders(counts);
    const pct = await explore(scenario, { schedules: 15, seed: 5 });
    expect(pct.failures.map((f) => splatText(f))).toEqual([]);
    const dfs = await explore(scenario, { strategy: "dfs", preemptionBound: 1, schedules: 15 });
    expect(dfs.failures.map((f) => splatText(f))).toEqual([]);
    expect(counts.checks).toBe(2 * (pct.schedules + dfs.schedules));
    // Every schedule: the younger transaction backs off at least once.
    expect(counts.backoffs).toBeGreaterThanOrEqual(pct.schedules + dfs.schedules);
  });

  it("an eviction ticketlock that dies on an older transaction's BO fails with -ENOMEM; after backing off it succeeds", async () => {
    const seen: number[] = [];
    const r = await runTtm(
      async (m) => {
        const s = await testBoCreate(m, 2 * 4096, TT);
        const t = await testBoCreate(m, 2 * 4096, TT);
        const p = await testBoCreate(m, 2 * 4096, SYSTEM);
        if (isErr(s) || isErr(t) || isErr(p)) throw new Error("create");
        const bytes = new Uint8Array(2 * 4096).map((_, i) => (i * 31) & 0xff);
        expect(await boAccess(p, 0, bytes, true)).toBe(0);
        const sLocked = new Completion("s locked");
        const done = new Completion("backed off");
        const older = spawn("older", async () => {
          const ticket = new WwAcquireCtx();
          wwAcquireInit(ticket, reservationWwClass);
          expect(await ttmBoReserve(s, false, false, ticket)).toBe(0);
          sLocked.complete();
          await done.wait();
          await ttmBoUnreserve(s);
          wwAcquireFini(ticket);
        });
        const younger = spawn("younger", async () => {
          await sLocked.wait();
          const ticket = new WwAcquireCtx();
          wwAcquireInit(ticket, reservationWwClass);
          expect(await reserveAll([p, t], ticket)).toBe(0);
          // TT is full of s (the older transaction's) and t (ours): trylock finds nothing,
          // the ticket pass dies on s: -EDEADLK -> -ENOSPC -> -ENOMEM.
          seen.push(await ttmBoValidate(p, TT, ctx()));
          // The ticketlock's -EDEADLK means: exit the ww transaction (its contended lock is one
          // TTM took, not ours to lock_slow), and start a new one.
          await dmaResvUnlock(p.resv);
          await dmaResvUnlock(t.resv);
          wwAcquireFini(ticket);
          done.complete();
          await older.join();
          wwAcquireInit(ticket, reservationWwClass);
          expect(await reserveAll([p], ticket)).toBe(0);
          seen.push(await ttmBoValidate(p, TT, ctx()));
          const back = new Uint8Array(p.size);
          expect(await ttmBoCpuAccess(p, 0, back, false)).toBe(0);
          expect(back).toEqual(bytes);
          await ttmBoUnreserve(p);
          wwAcquireFini(ticket);
        });
        await younger.join();
        expect(await gpuChecksum(m, p)).toBe(crc32(bytes));
        for (const bo of [s, t, p]) await drmGemObjectPut(bo);
      },
      { ttPages: 4 },
    );
    expectClean(r);
    expect(seen).toEqual([-ENOMEM, 0]);
  });

  it("eviction under a ticket racing release is clean with every toggle off (bounded DFS)", async () => {
    const dfs = await explore(evictBusyVsRelease, {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 120,
    });
    expect(dfs.failures.map((f) => splatText(f))).toEqual([]);
  });
});
