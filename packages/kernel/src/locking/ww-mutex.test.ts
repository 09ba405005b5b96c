import { point, type RunResult, Simulation, spawn } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { EALREADY, EDEADLK } from "../include/errno.js";
import { lockdepDependencies } from "./lockdep.js";
import { Mutex } from "./mutex.js";
import { SpinLock } from "./spinlock.js";
import {
  defineWdClass,
  defineWwClass,
  WwAcquireCtx,
  type WwClass,
  WwMutex,
  wwAcquireDone,
  wwAcquireFini,
  wwAcquireInit,
  wwMutexLock,
  wwMutexLockSlow,
  wwMutexTrylock,
  wwMutexUnlock,
} from "./ww-mutex.js";

const wd = defineWdClass("test_wd_class");
const ww = defineWwClass("test_ww_class");

function run(fn: () => Promise<void>, seed = 1): Promise<RunResult> {
  return new Simulation({ seed }).run(fn);
}

function splatsOf(r: RunResult, kind: string): string[] {
  return r.splats.filter((s) => s.kind === kind).map((s) => s.message.split("\n")[0]!);
}

/**
 * The ww-mutex-design.rst acquire loop: lock every mutex of `locks` under one context; on
 * -EDEADLK unlock everything, take the contended one with ww_mutex_lock_slow() and start over.
 * Returns how many times the context backed off.
 */
async function lockAll(locks: WwMutex[], cls: WwClass, inside?: () => Promise<void>) {
  const ctx = new WwAcquireCtx();
  wwAcquireInit(ctx, cls);
  let contended: WwMutex | null = null;
  let backoffs = 0;
  const held: WwMutex[] = [];
  for (;;) {
    let dead: WwMutex | null = null;
    for (const m of locks) {
      if (m === contended) continue;
      const ret = await wwMutexLock(m, ctx);
      if (ret === -EDEADLK) {
        dead = m;
        break;
      }
      expect(ret).toBe(0);
      held.push(m);
    }
    if (!dead) break;
    backoffs++;
    for (const m of held.splice(0).reverse()) await wwMutexUnlock(m);
    if (contended) await wwMutexUnlock(contended);
    contended = dead;
    await wwMutexLockSlow(dead, ctx);
  }
  if (contended) held.push(contended);
  wwAcquireDone(ctx);
  await inside?.();
  for (const m of held.reverse()) await wwMutexUnlock(m);
  wwAcquireFini(ctx);
  return backoffs;
}

describe("ww_mutex: wait-die", () => {
  it("the younger context holding a lock gets -EDEADLK; it backs off and both succeed", async () => {
    const log: string[] = [];
    const r = await run(async () => {
      const m1 = new WwMutex("m1", wd);
      const m2 = new WwMutex("m2", wd);
      const old = new WwAcquireCtx();
      wwAcquireInit(old, wd); // older: stamp 1
      const young = new WwAcquireCtx();
      const ty = spawn("young", async () => {
        wwAcquireInit(young, wd); // stamp 2
        expect(await wwMutexLock(m2, young)).toBe(0);
        while (!m1.locked) await point("wait for old");
        // m1 is held by the older context and young holds m2: die.
        expect(await wwMutexLock(m1, young)).toBe(-EDEADLK);
        expect(young.contendingLock).toBe(m1);
        log.push("young died");
        await wwMutexUnlock(m2);
        await wwMutexLockSlow(m1, young); // waits for the older context
        log.push("young got m1");
        expect(young.contendingLock).toBeNull();
        expect(await wwMutexLock(m2, young)).toBe(0);
        expect(young.acquired).toBe(2);
        await wwMutexUnlock(m2);
        await wwMutexUnlock(m1);
        wwAcquireFini(young);
      });
      expect(await wwMutexLock(m1, old)).toBe(0);
      while (!m2.locked) await point("wait for young");
      // The older context waits for the younger holder instead of dying.
      expect(await wwMutexLock(m2, old)).toBe(0);
      log.push("old got m2");
      expect(old.acquired).toBe(2);
      expect(old.stamp).toBeLessThan(young.stamp);
      await wwMutexUnlock(m2);
      await wwMutexUnlock(m1);
      wwAcquireFini(old);
      await ty.join();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(log).toEqual(["young died", "old got m2", "young got m1"]);
  });

  it("ww_mutex_lock() is a sleeping call even when it returns -EALREADY (might_sleep() first)", async () => {
    const got: number[] = [];
    const r = await run(async () => {
      const m = new WwMutex("m", wd);
      const s = new SpinLock("s");
      const ctx = new WwAcquireCtx();
      wwAcquireInit(ctx, wd);
      got.push(await wwMutexLock(m, ctx));
      await s.lock();
      got.push(await wwMutexLock(m, ctx));
      await s.unlock();
      await wwMutexUnlock(m);
      wwAcquireFini(ctx);
    });
    expect(got).toEqual([0, -EALREADY]);
    expect(splatsOf(r, "sleep")).toEqual([
      "BUG: sleeping function called from invalid context at ww_mutex_lock(m)",
    ]);
  });

  it("-EALREADY for a mutex the context holds; trylock fails on it; a context holding nothing waits", async () => {
    const r = await run(async () => {
      const m = new WwMutex("m", wd);
      const ctx = new WwAcquireCtx();
      wwAcquireInit(ctx, wd);
      expect(await wwMutexLock(m, ctx)).toBe(0);
      expect(await wwMutexLock(m, ctx)).toBe(-EALREADY);
      expect(wwMutexTrylock(m, ctx)).toBe(false);
      expect(ctx.acquired).toBe(1);
      // A younger context that holds nothing never dies: it waits.
      const t = spawn("younger", async () => {
        const y = new WwAcquireCtx();
        wwAcquireInit(y, wd);
        expect(await wwMutexLock(m, y)).toBe(0);
        expect(m.ctx).toBe(y);
        await wwMutexUnlock(m);
        wwAcquireFini(y);
      });
      while (t.state !== "blocked") await point("poll");
      await wwMutexUnlock(m);
      expect(m.ctx).toBeNull();
      expect(ctx.acquired).toBe(0);
      wwAcquireFini(ctx);
      await t.join();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
  });

  it("an older context queueing ahead wakes a younger waiter that holds something: it dies", async () => {
    const r = await run(async () => {
      const a = new WwMutex("a", wd);
      const b = new WwMutex("b", wd);
      const c = new WwMutex("c", wd);
      let go = false;
      let oldReady = false;
      let youngRet = 1;
      expect(await wwMutexLock(b, null)).toBe(0); // b held without a context
      const to = spawn("old", async () => {
        const o = new WwAcquireCtx();
        wwAcquireInit(o, wd); // stamp 1
        oldReady = true;
        while (!go) await point("wait");
        expect(await wwMutexLock(c, o)).toBe(0);
        // Queues ahead of the younger waiter and wakes it (__ww_mutex_die()).
        expect(await wwMutexLock(b, o)).toBe(0);
        await wwMutexUnlock(b);
        await wwMutexUnlock(c);
        wwAcquireFini(o);
      });
      const ty = spawn("young", async () => {
        while (!oldReady) await point("wait for old");
        const y = new WwAcquireCtx();
        wwAcquireInit(y, wd); // stamp 2
        expect(await wwMutexLock(a, y)).toBe(0);
        youngRet = await wwMutexLock(b, y); // waits: the holder has no context
        await wwMutexUnlock(a);
        wwAcquireFini(y);
      });
      while (ty.state !== "blocked") await point("poll");
      go = true;
      await ty.join();
      expect(youngRet).toBe(-EDEADLK);
      await wwMutexUnlock(b);
      await to.join();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
  });

  const abba = (cls: WwClass, n: number) => async () => {
    const locks = [0, 1, 2].map((i) => new WwMutex(`obj${i}`, cls));
    let inside = 0;
    const orders = [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
    ];
    const ts = orders.slice(0, n).map((o, i) =>
      spawn(`t${i}`, async () => {
        await lockAll(
          o.map((k) => locks[k]!),
          cls,
          async () => {
            inside++;
            if (inside > 1) throw new Error("two contexts inside");
            await point("critical section");
            inside--;
          },
        );
      }),
    );
    for (const t of ts) await t.join();
  };

  it("contexts locking in opposite orders never deadlock under pct and dfs", async () => {
    for (const cls of [wd, ww]) {
      const pct = await explore(abba(cls, 3), { strategy: "pct", schedules: 150, seed: 3 });
      expect(pct.failures.map((f) => f.splats[0]?.message ?? f.outcome)).toEqual([]);
      expect(pct.schedules).toBe(150);
      const dfs = await explore(abba(cls, 2), {
        strategy: "dfs",
        preemptionBound: 2,
        schedules: 250,
      });
      expect(dfs.failures.map((f) => f.splats[0]?.message ?? f.outcome)).toEqual([]);
    }
  });

  it("backs off in some schedules (the searches do reach the -EDEADLK path)", async () => {
    let backoffs = 0;
    const scenario = async () => {
      const a = new WwMutex("a", wd);
      const b = new WwMutex("b", wd);
      const t1 = spawn("t1", async () => {
        backoffs += await lockAll([a, b], wd);
      });
      const t2 = spawn("t2", async () => {
        backoffs += await lockAll([b, a], wd);
      });
      await t1.join();
      await t2.join();
    };
    const r = await explore(scenario, { strategy: "pct", schedules: 100, seed: 9 });
    expect(r.failures).toEqual([]);
    expect(backoffs).toBeGreaterThan(0);
  });

  it("the same opposite orders without a context deadlock (the control)", async () => {
    const scenario = async () => {
      const a = new WwMutex("a", wd);
      const b = new WwMutex("b", wd);
      const t1 = spawn("t1", async () => {
        await wwMutexLock(a, null);
        await wwMutexLock(b, null);
        await wwMutexUnlock(b);
        await wwMutexUnlock(a);
      });
      const t2 = spawn("t2", async () => {
        await wwMutexLock(b, null);
        await wwMutexLock(a, null);
        await wwMutexUnlock(a);
        await wwMutexUnlock(b);
      });
      await t1.join();
      await t2.join();
    };
    const r = await explore(scenario, {
      strategy: "pct",
      schedules: 100,
      seed: 2,
      isFailure: (x) => x.outcome === "deadlock",
    });
    expect(r.firstFailure?.outcome).toBe("deadlock");
  });
});

describe("ww_mutex: lockdep", () => {
  it("mutexes of the class under one context are not recursive locking", async () => {
    let deps: string[] = [];
    const r = await run(async () => {
      await lockAll(
        [0, 1, 2].map((i) => new WwMutex(`bo${i}`, wd)),
        wd,
      );
      deps = lockdepDependencies().map((d) => `${d.from} -> ${d.to}`);
    });
    expect(r.splats).toEqual([]);
    // The context's class comes before the mutex class (first_lock_dep_map); no self edge.
    expect(deps).toEqual(["test_wd_class_acquire -> test_wd_class_mutex"]);
  });

  it("a NULL-context lock of the same class nested under a context is reported", async () => {
    const r = await run(async () => {
      const a = new WwMutex("a", wd);
      const b = new WwMutex("b", wd);
      const ctx = new WwAcquireCtx();
      wwAcquireInit(ctx, wd);
      expect(await wwMutexLock(a, ctx)).toBe(0);
      expect(await wwMutexLock(b, null)).toBe(0);
      await wwMutexUnlock(b);
      await wwMutexUnlock(a);
      wwAcquireFini(ctx);
    });
    expect(r.outcome).toBe("ok");
    expect(splatsOf(r, "lockdep")).toEqual(["WARNING: possible recursive locking detected"]);
    const m = r.splats[0]!.message;
    expect(m).toContain("(test_wd_class_mutex){+.+.}-{4:4}, at: ww_mutex_lock(b)");
    expect(m).toContain(" May be due to missing lock nesting notation");
  });

  it("is reported even before the context holds anything (first_lock_dep_map)", async () => {
    const r = await run(async () => {
      const b = new WwMutex("b", wd);
      const ctx = new WwAcquireCtx();
      wwAcquireInit(ctx, wd);
      await wwMutexLock(b, null);
      await wwMutexUnlock(b);
      wwAcquireFini(ctx);
    });
    expect(splatsOf(r, "lockdep")).toEqual(["WARNING: possible recursive locking detected"]);
  });

  it("a context not finished at task exit is a held lock; DEBUG_WW_MUTEXES misuse warns", async () => {
    const r = await run(async () => {
      const a = new WwMutex("a", wd);
      const ctx = new WwAcquireCtx();
      wwAcquireInit(ctx, wd);
      expect(await wwMutexLock(a, ctx)).toBe(0);
      await wwMutexLockSlow(new WwMutex("c", wd), ctx); // never died: !ctx->contending_lock
      wwAcquireDone(ctx);
      expect(await wwMutexLock(new WwMutex("d", wd), ctx)).toBe(0); // after ww_acquire_done
      wwAcquireFini(ctx); // still holds three
      const t = spawn("leaker", async () => {
        const c2 = new WwAcquireCtx();
        wwAcquireInit(c2, wd);
      });
      await t.join();
    });
    expect(splatsOf(r, "warn")).toEqual([
      "DEBUG_LOCKS_WARN_ON(!ctx->contending_lock)",
      "DEBUG_LOCKS_WARN_ON(ww_ctx->done_acquire)",
      "DEBUG_LOCKS_WARN_ON(ctx->acquired)",
    ]);
    expect(splatsOf(r, "lockdep")).toEqual([
      "WARNING: leaker/2 still has locks held!",
      "WARNING: main/1 still has locks held!",
    ]);
    expect(r.splats.find((s) => s.message.includes("leaker"))!.message).toContain(
      "(test_wd_class_acquire)",
    );
  });

  it("locking under a context that was finished is lockdep's nest-lock report", async () => {
    const r = await run(async () => {
      const a = new WwMutex("a", wd);
      const ctx = new WwAcquireCtx();
      wwAcquireInit(ctx, wd);
      wwAcquireFini(ctx);
      expect(await wwMutexLock(a, ctx)).toBe(0);
      await wwMutexUnlock(a);
    });
    expect(splatsOf(r, "lockdep")).toEqual(["WARNING: Nested lock was not taken"]);
    expect(r.splats[0]!.message).toContain("but this task is not holding:\ntest_wd_class_acquire");
  });

  it("a plain Mutex call on a ww_mutex is ww_mutex_lock(lock, NULL)", async () => {
    const r = await run(async () => {
      const a = new WwMutex("a", wd);
      const other = new Mutex("other");
      await a.lock();
      expect(a.heldByCurrent).toBe(true);
      expect(a.ctx).toBeNull();
      await other.lock();
      await other.unlock();
      await a.unlock();
      expect(a.locked).toBe(false);
    });
    expect(r.splats).toEqual([]);
  });
});
