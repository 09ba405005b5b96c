import { EDEADLK, EINVAL, ENOENT, kmemleakScan, SpinLock } from "@primetime/kernel";
import { rcuBarrier } from "@primetime/rcu";
import { now, point, Simulation, sleep, spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT,
  type DmaFence,
  DmaFenceCb,
  type DmaFenceOps,
  dmaFenceAddCallback,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFenceDefaultWait,
  dmaFenceEnableSwSignaling,
  dmaFenceGet,
  dmaFenceGetRcu,
  dmaFenceGetStatus,
  dmaFenceIsLater,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceRemoveCallback,
  dmaFenceSetError,
  dmaFenceSignal,
  dmaFenceTestSignaledFlag,
  dmaFenceWait,
  dmaFenceWaitTimeout,
  MAX_SCHEDULE_TIMEOUT,
} from "./dma-fence.js";
import { runThenScanLeaks, splatLines } from "./test-support.js";

const ops: DmaFenceOps = {
  getDriverName: () => "test",
  getTimelineName: () => "ring0",
};

function mustFence(lock: SpinLock, context: number, seqno: number, o = ops): DmaFence {
  const f = dmaFenceCreate(o, lock, context, seqno);
  if (typeof f === "number") throw new Error(`dmaFenceCreate: ${f}`);
  return f;
}

describe("DmaFence", () => {
  it("allocates distinct contexts, starting after the stub's context 0", async () => {
    const r = await runThenScanLeaks(async () => {
      const a = dmaFenceContextAlloc(1);
      const b = dmaFenceContextAlloc(3);
      const c = dmaFenceContextAlloc(1);
      expect(a).toBe(1);
      expect(b).toBe(2);
      expect(c).toBe(5);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("signals once and runs callbacks in the order they were added, then clears them", async () => {
    const r = await runThenScanLeaks(async () => {
      const lock = new SpinLock("ring0_lock");
      const f = mustFence(lock, dmaFenceContextAlloc(1), 1);
      const order: string[] = [];
      const cbs = ["a", "b", "c"].map((n) => new DmaFenceCb(n));
      for (const cb of cbs) {
        expect(
          await dmaFenceAddCallback(f, cb, (fence, c) => {
            expect(fence).toBe(f);
            expect(lock.heldByCurrent).toBe(true);
            order.push(c.label);
          }),
        ).toBe(0);
      }
      expect(f.cbList.length).toBe(3);
      expect(await dmaFenceGetStatus(f)).toBe(0);
      expect(await dmaFenceSignal(f)).toBe(0);
      expect(order).toEqual(["a", "b", "c"]);
      expect(f.cbList.length).toBe(0);
      expect(cbs.every((cb) => cb.fence === null)).toBe(true);
      expect(await dmaFenceSignal(f)).toBe(-EINVAL);
      expect(order).toEqual(["a", "b", "c"]);
      expect(await dmaFenceIsSignaled(f)).toBe(true);
      expect(await dmaFenceGetStatus(f)).toBe(1);
      // A callback on a signalled fence is refused and never runs.
      const late = new DmaFenceCb("late");
      expect(await dmaFenceAddCallback(f, late, () => void order.push("late"))).toBe(-ENOENT);
      expect(order).toEqual(["a", "b", "c"]);
      expect(late.fence).toBeNull();
      await dmaFencePut(f);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("removes a queued callback; removing it again or after the signal returns false", async () => {
    const r = await runThenScanLeaks(async () => {
      const lock = new SpinLock("ring0_lock");
      const f = mustFence(lock, dmaFenceContextAlloc(1), 1);
      let ran = 0;
      const cb = new DmaFenceCb();
      expect(await dmaFenceAddCallback(f, cb, () => void ran++)).toBe(0);
      expect(await dmaFenceRemoveCallback(f, cb)).toBe(true);
      expect(await dmaFenceRemoveCallback(f, cb)).toBe(false);
      await dmaFenceSignal(f);
      expect(ran).toBe(0);
      await dmaFencePut(f);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("records an error set before the signal in the status", async () => {
    const r = await runThenScanLeaks(async () => {
      const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 1);
      dmaFenceSetError(f, -EINVAL);
      await dmaFenceSignal(f);
      expect(await dmaFenceGetStatus(f)).toBe(-EINVAL);
      expect(f.timestamp).toBe(now());
      await dmaFencePut(f);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("calls ->enable_signaling once; false from it signals the fence at once", async () => {
    const r = await runThenScanLeaks(async () => {
      let enabled = 0;
      const lazy: DmaFenceOps = {
        ...ops,
        enableSignaling: () => {
          enabled++;
          return true;
        },
      };
      const passed: DmaFenceOps = { ...ops, enableSignaling: () => false };
      const lock = new SpinLock("ring0_lock");
      const ctx = dmaFenceContextAlloc(2);
      const f = mustFence(lock, ctx, 1, lazy);
      await dmaFenceAddCallback(f, new DmaFenceCb(), () => {});
      await dmaFenceAddCallback(f, new DmaFenceCb(), () => {});
      await dmaFenceEnableSwSignaling(f);
      expect(enabled).toBe(1);
      await dmaFenceSignal(f);
      const g = mustFence(lock, ctx + 1, 1, passed);
      expect(await dmaFenceAddCallback(g, new DmaFenceCb(), () => {})).toBe(-ENOENT);
      expect(dmaFenceTestSignaledFlag(g)).toBe(true);
      await dmaFencePut(f);
      await dmaFencePut(g);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("dma_fence_enable_sw_signaling() of a signalled fence still sets ENABLE_SIGNAL (6ad9aa476ce2, v6.1)", async () => {
    const r = await runThenScanLeaks(async () => {
      const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 1);
      await dmaFenceSignal(f);
      expect(f.flags & (1 << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT)).toBe(0);
      await dmaFenceEnableSwSignaling(f);
      expect(f.flags & (1 << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT)).not.toBe(0);
      await dmaFencePut(f);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("dma_fence_wait_timeout() enables signalling before a driver's ->wait (b96fb1e724ae, v6.1)", async () => {
    const r = await runThenScanLeaks(async () => {
      const calls: string[] = [];
      const o: DmaFenceOps = {
        ...ops,
        enableSignaling: () => {
          calls.push("enable_signaling");
          return true;
        },
        wait: async (fence, _intr, timeout) => {
          calls.push("wait");
          await dmaFenceSignal(fence);
          return timeout;
        },
      };
      const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 1, o);
      expect(await dmaFenceWaitTimeout(f, false, 1000)).toBe(1000);
      expect(calls).toEqual(["enable_signaling", "wait"]);
      await dmaFencePut(f);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("dma_fence_default_wait() leaves enabling to its caller, dma_fence_wait_timeout() (b96fb1e724ae, v6.1)", async () => {
    const r = await runThenScanLeaks(async () => {
      let enabled = 0;
      const o: DmaFenceOps = {
        ...ops,
        enableSignaling: () => {
          enabled++;
          return true;
        },
      };
      const lock = new SpinLock("ring0_lock");
      const ctx = dmaFenceContextAlloc(2);
      const f = mustFence(lock, ctx, 1, o);
      // Called directly (as a driver's ->wait may), with no time: no ->enable_signaling.
      expect(await dmaFenceDefaultWait(f, false, 0)).toBe(0);
      expect(enabled).toBe(0);
      expect(f.flags & (1 << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT)).toBe(0);
      // Through dma_fence_wait_timeout(): enabled once, by the wait itself.
      expect(await dmaFenceWaitTimeout(f, false, 0)).toBe(0);
      expect(enabled).toBe(1);
      await dmaFenceSignal(f);
      expect(await dmaFenceWaitTimeout(f, false, 0)).toBe(1);
      expect(enabled).toBe(1);
      await dmaFencePut(f);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("->signaled makes dma_fence_is_signaled() signal the fence", async () => {
    const r = await runThenScanLeaks(async () => {
      let hw = 0;
      const o: DmaFenceOps = { ...ops, signaled: (f) => hw >= f.seqno };
      const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 2, o);
      let ran = false;
      await dmaFenceAddCallback(f, new DmaFenceCb(), () => {
        ran = true;
      });
      hw = 1;
      expect(await dmaFenceIsSignaled(f)).toBe(false);
      hw = 2;
      expect(await dmaFenceIsSignaled(f)).toBe(true);
      expect(ran).toBe(true);
      expect(dmaFenceTestSignaledFlag(f)).toBe(true);
      await dmaFencePut(f);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("orders seqnos within a context (with wrap-around) and warns across contexts", async () => {
    const r = await runThenScanLeaks(async () => {
      const lock = new SpinLock("ring0_lock");
      const ctx = dmaFenceContextAlloc(2);
      const a = mustFence(lock, ctx, 1);
      const b = mustFence(lock, ctx, 2);
      const wrapped = mustFence(lock, ctx, 0xffffffff);
      const other = mustFence(lock, ctx + 1, 3);
      expect(dmaFenceIsLater(b, a)).toBe(true);
      expect(dmaFenceIsLater(a, b)).toBe(false);
      expect(dmaFenceIsLater(a, wrapped)).toBe(true);
      expect(dmaFenceIsLater(other, a)).toBe(false);
      for (const f of [a, b, wrapped, other]) {
        await dmaFenceSignal(f);
        await dmaFencePut(f);
      }
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn"]);
    expect(r.splats[0]!.message).toMatch(/contexts differ/);
  });

  it("is freed after a grace period; get_rcu fails on a fence being released", async () => {
    const r = await runThenScanLeaks(async () => {
      const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 1);
      expect(await dmaFenceGet(f)).toBe(f);
      expect(f.refcount.read()).toBe(2);
      expect(await dmaFenceGetRcu(f)).toBe(f);
      await dmaFenceSignal(f);
      await dmaFencePut(f);
      await dmaFencePut(f);
      await dmaFencePut(f);
      expect(f.refcount.read()).toBe(0);
      expect(await dmaFenceGetRcu(f)).toBeNull();
      expect(f.freed).toBe(false); // kfree_rcu(): not before a grace period
      await rcuBarrier();
      expect(f.freed).toBe(true);
      await dmaFencePut(null);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("warns when released with pending callbacks and force-signals with -EDEADLK", async () => {
    let seen: number | null = null;
    const r = await runThenScanLeaks(async () => {
      const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 7);
      const cb = new DmaFenceCb();
      expect(
        await dmaFenceAddCallback(f, cb, (fence) => {
          seen = fence.error;
        }),
      ).toBe(0);
      await dmaFencePut(f);
      expect(dmaFenceTestSignaledFlag(f)).toBe(true);
      expect(cb.fence).toBeNull();
    });
    expect(seen).toBe(-EDEADLK);
    expect(r.splats.map((s) => s.kind)).toEqual(["warn"]);
    expect(r.splats[0]!.message).toMatch(/^Fence test:ring0:1:7 released with pending signals!$/);
    expect(r.splats[0]!.object).toMatch(/^dma_fence#/);
  });

  it("using a freed fence is a KASAN use-after-free", async () => {
    const r = await runThenScanLeaks(async () => {
      const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 1);
      await dmaFenceSignal(f);
      await dmaFencePut(f);
      await rcuBarrier();
      await dmaFenceAddCallback(f, new DmaFenceCb(), () => {});
    });
    expect(r.splats.map((s) => s.kind)).toContain("kasan");
    expect(r.splats.find((s) => s.kind === "kasan")!.message).toMatch(/use-after-free/);
  });

  it("wait with a timeout: times out on the virtual clock, then returns the time left once another task signals", async () => {
    const r = await runThenScanLeaks(async () => {
      const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 1);
      const t0 = now();
      expect(await dmaFenceWaitTimeout(f, true, 1000)).toBe(0);
      expect(now() - t0).toBe(1000);
      expect(f.cbList.length).toBe(0); // the waiter's callback is gone
      expect(await dmaFenceWaitTimeout(f, false, 0)).toBe(0);
      const signaller = spawn("irq", async () => {
        await sleep(300);
        await dmaFenceSignal(f);
      });
      const t1 = now();
      const left = await dmaFenceWaitTimeout(f, true, 5000);
      expect(now() - t1).toBe(300);
      expect(left).toBe(4700);
      await signaller.join();
      expect(await dmaFenceWaitTimeout(f, false, 0)).toBe(1);
      expect(await dmaFenceWaitTimeout(f, false, 10)).toBe(10);
      expect(await dmaFenceWait(f, true)).toBe(0);
      await dmaFencePut(f);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("a negative timeout is -EINVAL with a warning", async () => {
    const r = await runThenScanLeaks(async () => {
      const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 1);
      expect(await dmaFenceWaitTimeout(f, false, -1)).toBe(-EINVAL);
      await dmaFenceSignal(f);
      await dmaFencePut(f);
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn"]);
  });

  it("an endless wait on a fence nobody signals is reported as a deadlock", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 1);
      await dmaFenceWaitTimeout(f, false, MAX_SCHEDULE_TIMEOUT);
    });
    expect(r.outcome).toBe("deadlock");
  });

  it("waiters and the signaller never lose a wakeup under any explored schedule", async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = await new Simulation({ seed, strategy: { kind: "pct", depth: 3 } }).run(
        async () => {
          const f = mustFence(new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 1);
          const results: number[] = [];
          const waiters = [1, 2].map((i) =>
            spawn(`waiter${i}`, async () => {
              await dmaFenceGet(f);
              results.push(await dmaFenceWaitTimeout(f, true, MAX_SCHEDULE_TIMEOUT));
              await dmaFencePut(f);
            }),
          );
          const irq = spawn("irq", async () => {
            await point("hw completes");
            await dmaFenceSignal(f);
          });
          for (const t of [...waiters, irq]) await t.join();
          await dmaFencePut(f);
          if (results.length !== 2 || results.some((x) => x !== MAX_SCHEDULE_TIMEOUT))
            throw new Error(`bad wait results ${results}`);
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

  it("a missing name op is a BUG at init", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const t = spawn("driver", () => {
        mustFence(new SpinLock("l"), 1, 1, { getDriverName: () => "x" } as unknown as DmaFenceOps);
      });
      await t.join();
    });
    expect(r.splats.map((s) => s.kind)).toContain("bug");
  });
});
