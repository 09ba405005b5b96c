import {
  EALREADY,
  EDEADLK,
  EINVAL,
  ENOMEM,
  kmemleakScan,
  SpinLock,
  setFailslab,
  WwAcquireCtx,
  wwAcquireFini,
  wwAcquireInit,
} from "@primetime/kernel";
import { rcuBarrier } from "@primetime/rcu";
import { now, point, Simulation, sleep, spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  type DmaFence,
  type DmaFenceOps,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFencePut,
  dmaFenceSignal,
  MAX_SCHEDULE_TIMEOUT,
} from "./dma-fence.js";
import {
  DmaResv,
  DmaResvUsage,
  dmaResvAddFence,
  dmaResvDescribe,
  dmaResvFini,
  dmaResvForEachFence,
  dmaResvForEachFenceUnlocked,
  dmaResvGetFences,
  dmaResvLock,
  dmaResvLockInterruptible,
  dmaResvLockingCtx,
  dmaResvLockSlow,
  dmaResvReplaceFences,
  dmaResvReserveFences,
  dmaResvTestSignaled,
  dmaResvTrylock,
  dmaResvUnlock,
  dmaResvUsageRw,
  dmaResvWaitTimeout,
  reservationWwClass,
} from "./dma-resv.js";
import { runThenScanLeaks, splatLines } from "./test-support.js";

const ops: DmaFenceOps = { getDriverName: () => "test", getTimelineName: () => "ring" };

class Timeline {
  readonly lock = new SpinLock("timeline_lock");
  readonly context = dmaFenceContextAlloc(1);
  private seqno = 0;

  fence(): DmaFence {
    const f = dmaFenceCreate(ops, this.lock, this.context, ++this.seqno);
    if (typeof f === "number") throw new Error(`dmaFenceCreate: ${f}`);
    return f;
  }
}

/** Adds `fence` with `usage` under the lock (reserve first); drops the caller's reference. */
async function add(resv: DmaResv, fence: DmaFence, usage: DmaResvUsage): Promise<void> {
  await dmaResvLock(resv);
  expect(await dmaResvReserveFences(resv, 1)).toBe(0);
  await dmaResvAddFence(resv, fence, usage);
  await dmaResvUnlock(resv);
  await dmaFencePut(fence);
}

async function locked(resv: DmaResv, usage: DmaResvUsage): Promise<string[]> {
  await dmaResvLock(resv);
  const out: string[] = [];
  for await (const e of dmaResvForEachFence(resv, usage))
    out.push(`${e.fence.context}:${e.fence.seqno}:${e.usage}`);
  await dmaResvUnlock(resv);
  return out;
}

describe("DmaResv", () => {
  it("orders usages kernel < write < read < bookkeep; usage_rw picks what to wait for", () => {
    expect(DmaResvUsage.KERNEL).toBeLessThan(DmaResvUsage.WRITE);
    expect(DmaResvUsage.WRITE).toBeLessThan(DmaResvUsage.READ);
    expect(DmaResvUsage.READ).toBeLessThan(DmaResvUsage.BOOKKEEP);
    expect(dmaResvUsageRw(true)).toBe(DmaResvUsage.READ);
    expect(dmaResvUsageRw(false)).toBe(DmaResvUsage.WRITE);
  });

  it("filters fences by usage; a query sees its usage and every lower one", async () => {
    const r = await runThenScanLeaks(async () => {
      const resv = new DmaResv();
      const tl = [new Timeline(), new Timeline(), new Timeline(), new Timeline()];
      const fences = tl.map((t) => t.fence());
      const usages = [
        DmaResvUsage.KERNEL,
        DmaResvUsage.WRITE,
        DmaResvUsage.READ,
        DmaResvUsage.BOOKKEEP,
      ];
      for (let i = 0; i < 4; i++) await add(resv, fences[i]!, usages[i]!);
      expect((await locked(resv, DmaResvUsage.KERNEL)).length).toBe(1);
      expect((await locked(resv, DmaResvUsage.WRITE)).length).toBe(2);
      expect((await locked(resv, DmaResvUsage.READ)).length).toBe(3);
      expect((await locked(resv, DmaResvUsage.BOOKKEEP)).length).toBe(4);
      const unlocked: number[] = [];
      for await (const f of dmaResvForEachFenceUnlocked(resv, DmaResvUsage.READ))
        unlocked.push(f.context);
      expect(unlocked).toEqual([tl[0]!.context, tl[1]!.context, tl[2]!.context]);
      const got = await dmaResvGetFences(resv, DmaResvUsage.WRITE);
      if (typeof got === "number") throw new Error("get_fences");
      expect(got.map((f) => f.context)).toEqual([tl[0]!.context, tl[1]!.context]);
      expect(got[0]!.refcount.read()).toBe(2); // the list's and ours
      for (const f of got) await dmaFencePut(f);
      // Signalled fences drop out of the unlocked view and test_signaled.
      expect(await dmaResvTestSignaled(resv, DmaResvUsage.KERNEL)).toBe(false);
      await dmaFenceSignal(fences[0]!);
      expect(await dmaResvTestSignaled(resv, DmaResvUsage.KERNEL)).toBe(true);
      expect(await dmaResvTestSignaled(resv, DmaResvUsage.WRITE)).toBe(false);
      await dmaFenceSignal(fences[1]!);
      expect(await dmaResvTestSignaled(resv, DmaResvUsage.WRITE)).toBe(true);
      expect(await dmaResvTestSignaled(resv, DmaResvUsage.BOOKKEEP)).toBe(false);
      await dmaResvLock(resv);
      expect(await dmaResvDescribe(resv)).toEqual([
        "\tkernel fence:test ring seq 1 signalled",
        "\twrite fence:test ring seq 1 signalled",
        "\tread fence:test ring seq 1 unsignalled",
      ]);
      await dmaResvUnlock(resv);
      for (const f of fences) await dmaFenceSignal(f);
      await dmaResvFini(resv);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("adding the same fence twice takes no second slot (dma_fence_is_later_or_same)", async () => {
    const r = await runThenScanLeaks(async () => {
      const resv = new DmaResv();
      const t = new Timeline();
      const f = t.fence();
      await dmaResvLock(resv);
      expect(await dmaResvReserveFences(resv, 1)).toBe(0);
      await dmaResvAddFence(resv, f, DmaResvUsage.WRITE);
      // Re-adding it needs no new slot: it replaces itself in place (the reference it took is
      // dropped for the old entry), even with nothing reserved for it.
      await dmaResvAddFence(resv, f, DmaResvUsage.WRITE);
      await dmaResvUnlock(resv);
      expect(await locked(resv, DmaResvUsage.BOOKKEEP)).toEqual([`${t.context}:1:1`]);
      expect(f.refcount.read()).toBe(2); // ours and the list's
      await dmaFenceSignal(f);
      await dmaFencePut(f);
      await dmaResvFini(resv);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("a later fence of the same context replaces the older one and drops its reference", async () => {
    const r = await runThenScanLeaks(async () => {
      const resv = new DmaResv();
      const t = new Timeline();
      const f1 = t.fence();
      const f2 = t.fence();
      const keep1 = f1; // we keep our reference to f1 to watch it
      await dmaResvLock(resv);
      await dmaResvReserveFences(resv, 1);
      await dmaResvAddFence(resv, f1, DmaResvUsage.WRITE);
      await dmaResvUnlock(resv);
      expect(keep1.refcount.read()).toBe(2);
      await add(resv, f2, DmaResvUsage.WRITE);
      expect(await locked(resv, DmaResvUsage.BOOKKEEP)).toEqual([`${t.context}:2:1`]);
      expect(keep1.refcount.read()).toBe(1); // the list dropped its reference
      // A fence of another context gets its own slot; a more restrictive usage is not replaced
      // by a less restrictive one.
      const f3 = t.fence();
      await add(resv, f3, DmaResvUsage.READ);
      expect(await locked(resv, DmaResvUsage.BOOKKEEP)).toEqual([
        `${t.context}:2:1`,
        `${t.context}:3:2`,
      ]);
      for (const f of [f1, f2, f3]) await dmaFenceSignal(f);
      await dmaFencePut(keep1);
      await dmaResvFini(resv);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("a signalled fence's slot is reused; replace_fences swaps a context's fences", async () => {
    const r = await runThenScanLeaks(async () => {
      const resv = new DmaResv();
      const a = new Timeline();
      const b = new Timeline();
      const fa = a.fence();
      await dmaFenceSignal(fa);
      await add(resv, fa, DmaResvUsage.WRITE);
      const fb = b.fence();
      await add(resv, fb, DmaResvUsage.READ);
      expect(await locked(resv, DmaResvUsage.BOOKKEEP)).toEqual([`${b.context}:1:2`]);
      const repl = a.fence();
      await dmaResvLock(resv);
      await dmaResvReplaceFences(resv, b.context, repl, DmaResvUsage.BOOKKEEP);
      await dmaResvUnlock(resv);
      expect(await locked(resv, DmaResvUsage.BOOKKEEP)).toEqual([`${a.context}:2:3`]);
      expect(fb.freed || fb.refcount.read() === 0).toBe(true);
      await dmaFenceSignal(repl);
      await dmaFencePut(repl);
      await dmaResvFini(resv);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("adding without a reserved slot is a BUG (and so is reusing a reservation after unlock)", async () => {
    const never = await new Simulation({ seed: 1 }).run(async () => {
      const resv = new DmaResv();
      const t = spawn("submit", async () => {
        await dmaResvLock(resv);
        await dmaResvAddFence(resv, new Timeline().fence(), DmaResvUsage.WRITE);
      });
      await t.join();
      expect(t.error).toBeDefined();
    });
    expect(never.splats.map((s) => s.kind)).toContain("bug");
    expect(never.splats.find((s) => s.kind === "bug")!.message).toMatch(/NULL pointer/);

    const stale = await new Simulation({ seed: 1 }).run(async () => {
      const resv = new DmaResv();
      const t = spawn("submit", async () => {
        const tl = new Timeline();
        await add(resv, tl.fence(), DmaResvUsage.WRITE);
        // A slot reserved under an earlier lock hold is forgotten at unlock (DEBUG_MUTEXES).
        await dmaResvLock(resv);
        expect(await dmaResvReserveFences(resv, 1)).toBe(0);
        await dmaResvUnlock(resv);
        await dmaResvLock(resv);
        await dmaResvAddFence(resv, new Timeline().fence(), DmaResvUsage.READ);
      });
      await t.join();
    });
    expect(stale.splats.find((s) => s.kind === "bug")?.message).toMatch(
      /BUG_ON\(fobj->num_fences >= fobj->max_fences\)/,
    );
  });

  it("reserve/add without the lock is a lockdep assertion failure", async () => {
    const r = await runThenScanLeaks(async () => {
      const resv = new DmaResv();
      expect(await dmaResvReserveFences(resv, 1)).toBe(0);
      await dmaResvLock(resv);
      await dmaResvFini(resv);
      await dmaResvUnlock(resv);
    });
    expect(r.splats.some((s) => /lockdep_assert_held/.test(s.message))).toBe(true);
  });

  it("reserve grows the list and prunes signalled fences", async () => {
    const r = await runThenScanLeaks(async () => {
      const resv = new DmaResv();
      const tls = Array.from({ length: 6 }, () => new Timeline());
      const fs = tls.map((t) => t.fence());
      await dmaResvLock(resv);
      expect(await dmaResvReserveFences(resv, 4)).toBe(0);
      for (const f of fs.slice(0, 4)) await dmaResvAddFence(resv, f, DmaResvUsage.READ);
      await dmaFenceSignal(fs[0]!);
      await dmaFenceSignal(fs[1]!);
      expect(await dmaResvReserveFences(resv, 2)).toBe(0);
      // The pruned fences lost the list's reference: only ours is left.
      expect(fs[0]!.refcount.read()).toBe(1);
      expect(fs[2]!.refcount.read()).toBe(2);
      for (const f of fs.slice(4)) await dmaResvAddFence(resv, f, DmaResvUsage.READ);
      await dmaResvUnlock(resv);
      expect((await locked(resv, DmaResvUsage.READ)).length).toBe(4);
      for (const f of fs) {
        await dmaFenceSignal(f);
        await dmaFencePut(f);
      }
      await dmaResvFini(resv);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("reserving no slot at all is a WARN and -EINVAL (a miscount in the caller)", async () => {
    const r = await runThenScanLeaks(async () => {
      const resv = new DmaResv();
      await dmaResvLock(resv);
      expect(await dmaResvReserveFences(resv, 0)).toBe(-EINVAL);
      expect(await dmaResvReserveFences(resv, 1)).toBe(0);
      await dmaResvUnlock(resv);
      await dmaResvFini(resv);
    });
    expect(splatLines(r)).toEqual([
      expect.stringContaining("dma_resv_reserve_fences(dma_resv.resv): WARN_ON(!num_fences)"),
    ]);
  });

  it("reserve fails with -ENOMEM under failslab and changes nothing", async () => {
    const r = await runThenScanLeaks(async () => {
      const resv = new DmaResv();
      setFailslab({ caches: ["dma_resv_list"], probability: 1 });
      await dmaResvLock(resv);
      const ret = await dmaResvReserveFences(resv, 1);
      setFailslab(null);
      expect(ret).toBe(-ENOMEM);
      await dmaResvUnlock(resv);
      await dmaResvFini(resv);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("wait_timeout: times out on the virtual clock, succeeds once another task signals", async () => {
    const r = await runThenScanLeaks(async () => {
      const resv = new DmaResv();
      const t = new Timeline();
      const w = t.fence();
      const rd = new Timeline().fence();
      await dmaResvLock(resv);
      await dmaResvReserveFences(resv, 2);
      await dmaResvAddFence(resv, w, DmaResvUsage.WRITE);
      await dmaResvAddFence(resv, rd, DmaResvUsage.READ);
      await dmaResvUnlock(resv);
      const t0 = now();
      expect(await dmaResvWaitTimeout(resv, DmaResvUsage.WRITE, true, 500)).toBe(0);
      expect(now() - t0).toBe(500);
      // A zero timeout only tests: dma_fence_wait_timeout(fence, intr, 0) for each fence, no
      // sleep ("if (timeout) timeout = ret;" keeps passing 0).
      const t1 = now();
      expect(await dmaResvWaitTimeout(resv, DmaResvUsage.WRITE, true, 0)).toBe(0);
      expect(now()).toBe(t1);
      const irq = spawn("irq", async () => {
        await sleep(100);
        await dmaFenceSignal(w);
        await sleep(100);
        await dmaFenceSignal(rd);
      });
      // A reader waits only for the writer.
      expect(await dmaResvWaitTimeout(resv, DmaResvUsage.WRITE, true, 1000)).toBe(900);
      // A writer waits for readers too.
      expect(await dmaResvWaitTimeout(resv, DmaResvUsage.READ, true, MAX_SCHEDULE_TIMEOUT)).toBe(
        MAX_SCHEDULE_TIMEOUT,
      );
      await irq.join();
      expect(await dmaResvWaitTimeout(resv, DmaResvUsage.BOOKKEEP, false, 0)).toBe(1);
      await dmaFencePut(w);
      await dmaFencePut(rd);
      await dmaResvFini(resv);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("trylock fails while another task holds the lock", async () => {
    const r = await runThenScanLeaks(async () => {
      const resv = new DmaResv();
      await dmaResvLock(resv);
      const t = spawn("other", () => {
        expect(dmaResvTrylock(resv)).toBe(false);
      });
      await t.join();
      await dmaResvUnlock(resv);
      expect(dmaResvTrylock(resv)).toBe(true);
      await dmaResvUnlock(resv);
      await dmaResvFini(resv);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("dma_resv_lock with a context: -EALREADY, -EDEADLK to the younger one, lock_slow, then success", async () => {
    const log: string[] = [];
    const r = await runThenScanLeaks(async () => {
      const a = new DmaResv();
      const b = new DmaResv();
      const old = new WwAcquireCtx();
      wwAcquireInit(old, reservationWwClass);
      expect(await dmaResvLock(a, old)).toBe(0);
      expect(await dmaResvLock(a, old)).toBe(-EALREADY);
      expect(dmaResvLockingCtx(a)).toBe(old);
      const t = spawn("young", async () => {
        const ctx = new WwAcquireCtx();
        wwAcquireInit(ctx, reservationWwClass);
        expect(await dmaResvLockInterruptible(b, ctx)).toBe(0);
        expect(await dmaResvLock(a, ctx)).toBe(-EDEADLK);
        log.push("young backs off");
        await dmaResvUnlock(b);
        await dmaResvLockSlow(a, ctx);
        expect(await dmaResvLock(b, ctx)).toBe(0);
        log.push("young holds both");
        await dmaResvUnlock(b);
        await dmaResvUnlock(a);
        wwAcquireFini(ctx);
      });
      while (!b.lock.locked) await point("wait for young");
      expect(await dmaResvLock(b, old)).toBe(0); // the older context waits
      log.push("old holds both");
      await dmaResvUnlock(b);
      await dmaResvUnlock(a);
      wwAcquireFini(old);
      await t.join();
      await dmaResvFini(a);
      await dmaResvFini(b);
    });
    expect(splatLines(r)).toEqual([]);
    expect(log).toEqual(["young backs off", "old holds both", "young holds both"]);
  });

  it("a second reservation without a context, while holding one, is recursive locking", async () => {
    const r = await runThenScanLeaks(async () => {
      const a = new DmaResv();
      const b = new DmaResv();
      await dmaResvLock(a);
      await dmaResvLock(b);
      await dmaResvUnlock(b);
      await dmaResvUnlock(a);
      await dmaResvFini(a);
      await dmaResvFini(b);
    });
    expect(r.splats.map((x) => x.message.split("\n")[0])).toEqual([
      "WARNING: possible recursive locking detected",
    ]);
  });

  it("unlocked readers race with updaters replacing and growing the list without splats", async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = await new Simulation({ seed, strategy: { kind: "pct", depth: 3 } }).run(
        async () => {
          const resv = new DmaResv();
          const t = new Timeline();
          const writer = spawn("writer", async () => {
            for (let i = 0; i < 3; i++) {
              const f = t.fence();
              await add(resv, f, DmaResvUsage.WRITE);
              const g = new Timeline().fence();
              await add(resv, g, DmaResvUsage.READ);
              await dmaFenceSignal(g);
            }
          });
          const reader = spawn("reader", async () => {
            for (let i = 0; i < 3; i++) {
              await dmaResvTestSignaled(resv, DmaResvUsage.BOOKKEEP);
              const fs = await dmaResvGetFences(resv, DmaResvUsage.READ);
              if (typeof fs === "number") throw new Error("get_fences");
              for (const f of fs) await dmaFencePut(f);
            }
          });
          await writer.join();
          await reader.join();
          await dmaResvLock(resv);
          for await (const e of dmaResvForEachFence(resv, DmaResvUsage.BOOKKEEP))
            await dmaFenceSignal(e.fence);
          await dmaResvUnlock(resv);
          await dmaResvFini(resv);
          await rcuBarrier();
          kmemleakScan();
        },
      );
      expect({ seed, outcome: r.outcome, splats: splatLines(r) }).toEqual({
        seed,
        outcome: "ok",
        splats: [],
      });
    }
  });
});
