import { rcuReadLock, rcuReadUnlock } from "@primetime/rcu";
import { point, type RunResult, Simulation, sleep, spawn } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { kasanSaveEnableMultiShot } from "../mm/kasan/kasan.js";
import { kfree, kmalloc, SlabObject } from "../mm/slab.js";
import { Mutex } from "./mutex.js";
import { inAtomic, mightSleep, preemptCount, SpinLock } from "./spinlock.js";

function run(fn: () => Promise<void>): Promise<RunResult> {
  return new Simulation({ seed: 9 }).run(fn);
}

describe("SpinLock", () => {
  const counterScenario = (locked: boolean) => async () => {
    const lock = new SpinLock("counter_lock");
    const outer = new SpinLock("outer_lock");
    let counter = 0;
    const ts = [1, 2, 3].map((i) =>
      spawn(`t${i}`, async () => {
        for (let k = 0; k < 2; k++) {
          if (locked) await outer.lock(); // nested spinlocks: spinning is not sleeping
          if (locked) await lock.lock();
          const v = counter;
          await point("critical section");
          counter = v + 1;
          if (locked) await lock.unlock();
          if (locked) await outer.unlock();
        }
      }),
    );
    for (const t of ts) await t.join();
    if (counter !== 6) throw new Error(`lost update: ${counter}`);
  };

  it("excludes: a racy counter under the lock never loses an update", async () => {
    const res = await explore(counterScenario(true), { strategy: "pct", schedules: 150, seed: 2 });
    expect(res.failures).toEqual([]);
    expect(res.schedules).toBe(150);
    // The same scenario without the lock loses updates (the check above can fail).
    const racy = await explore(counterScenario(false), {
      strategy: "pct",
      schedules: 150,
      seed: 2,
    });
    expect(racy.firstFailure?.splats[0]?.message).toMatch(/lost update/);
  });

  it("reports sleeping while holding a spinlock, once per atomic section", async () => {
    const r = await run(async () => {
      const lock = new SpinLock("table_lock");
      await lock.lock();
      expect(inAtomic()).toBe(true);
      expect(preemptCount()).toBe(1);
      await sleep(10);
      await sleep(10);
      await lock.unlock();
      expect(inAtomic()).toBe(false);
      await sleep(10); // fine again
      await lock.lock();
      await sleep(10); // a new atomic section: reported again
      await lock.unlock();
    });
    const s = r.splats.filter((x) => x.kind === "sleep");
    expect(s).toHaveLength(2);
    expect(s[0]!.message).toMatch(
      /^BUG: sleeping function called from invalid context at sleep\(10\)\nin_atomic\(\): 1, irqs_disabled\(\): 0, non_block: 0, pid: 1, name: main\npreempt_count: 1, expected: 0\n1 lock held by main\/1:\n #0: \(table_lock\)\{\+\.\+\.\}-\{2:2\}, at: spin_lock\(table_lock\)/,
    );
    expect(s[0]!.sites.map((x) => x.role)).toEqual(["holding table_lock", "sleeps"]);
  });

  it("reports mutex_lock() under a spinlock even when the mutex is free (might_sleep)", async () => {
    const r = await run(async () => {
      const s = new SpinLock("s");
      const m = new Mutex("m");
      await s.lock();
      await m.lock();
      await m.unlock();
      await s.unlock();
    });
    const [x] = r.splats.filter((y) => y.kind === "sleep");
    expect(x!.message).toMatch(
      /^BUG: sleeping function called from invalid context at mutex_lock\(m\)/,
    );
  });

  it("reports sleeping in interrupt context, and explicit might_sleep()", async () => {
    const r = await run(async () => {
      const irq = spawn("irq/27", async () => sleep(5), { kind: "irq" });
      await irq.join();
      const s = new SpinLock("s");
      mightSleep("kmalloc(GFP_KERNEL)"); // not atomic: silent
      await s.lock();
      mightSleep("kmalloc(GFP_KERNEL)");
      await s.unlock();
    });
    expect(
      r.splats.map((s) => `${s.task}: ${s.message.split("\n").slice(0, 2).join(" | ")}`),
    ).toEqual([
      "irq/27: BUG: sleeping function called from invalid context at sleep(5) | in_atomic(): 1, irqs_disabled(): 1, non_block: 0, pid: 2, name: irq/27",
      "main: BUG: sleeping function called from invalid context at kmalloc(GFP_KERNEL) | in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: main",
    ]);
  });

  it("spin_trylock, nesting and a deadlock report naming the holder", async () => {
    const r = await run(async () => {
      const a = new SpinLock("a");
      const b = new SpinLock("a");
      expect(a.tryLock()).toBe(true);
      expect(a.heldByCurrent).toBe(true);
      expect(a.tryLock()).toBe(false);
      await b.lockNested(1);
      await b.unlock();
      await a.unlock();
      expect(preemptCount()).toBe(0);
      spawn("holder", async () => {
        await a.lock();
        await sleep(1); // sleeps atomically (reported) while main spins
        await a.lock(); // recursive: spins on itself forever
      });
      await sleep(0);
      await a.lock();
    });
    expect(r.outcome).toBe("deadlock");
    expect(r.message).toMatch(/waits on spinlock a held by holder\[\d+\]/);
    expect(r.splats.map((s) => s.kind)).toEqual(["sleep", "lockdep", "deadlock"]);
  });

  it("spinning on a contended spinlock inside an RCU read-side section is not a sleep", async () => {
    const res = await explore(
      async () => {
        const lock = new SpinLock("fence_lock");
        const reader = async () => {
          await rcuReadLock();
          await lock.lock();
          await point("read under both");
          await lock.unlock();
          await rcuReadUnlock();
        };
        const a = spawn("a", reader);
        const b = spawn("b", reader);
        await a.join();
        await b.join();
      },
      { strategy: "dfs", preemptionBound: 2, schedules: 2000, stopOnFailure: false },
    );
    expect(res.complete).toBe(true);
    expect(res.failures).toEqual([]);
  });

  it("a mutex inside an RCU read-side section is reported even when it is free (might_sleep)", async () => {
    const r = await new Simulation().run(async () => {
      const m = new Mutex("m");
      await rcuReadLock();
      await m.lock();
      await m.unlock();
      await rcuReadUnlock();
    });
    expect(r.splats.map((s) => s.kind)).toContain("rcu");
  });

  it("checks the liveness of its owner", async () => {
    class Fence extends SlabObject {
      readonly lock = new SpinLock("fence_lock", { owner: this });
    }
    const r = await run(async () => {
      kasanSaveEnableMultiShot(); // every report, as KASAN's own tests run (kasan_multi_shot)
      const f = kmalloc("dma_fence", () => new Fence()) as Fence;
      kfree(f);
      expect(f.lock.tryLock()).toBe(true);
      await f.lock.unlock();
    });
    expect(r.splats.map((s) => s.message.split("\n")[0])).toEqual([
      "BUG: KASAN: slab-use-after-free in spin_trylock",
      "BUG: KASAN: slab-use-after-free in spin_unlock",
    ]);
  });
});
