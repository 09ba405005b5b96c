import { Kref } from "@primetime/atomics";
import { outsideDmesg, point, Simulation, spawn } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { isErr } from "../include/errno.js";
import { kfree, kmalloc, SlabObject } from "../mm/slab.js";
import { heldLocks } from "./lockdep.js";
import { Mutex } from "./mutex.js";

describe("Mutex", () => {
  const scenario = (locked: boolean) => async () => {
    const m = new Mutex("object_name_lock");
    let inside = 0;
    let counter = 0;
    const ts = [1, 2, 3].map((i) =>
      spawn(`t${i}`, async () => {
        for (let k = 0; k < 2; k++) {
          if (locked) await m.lock();
          inside++;
          if (inside > 1) throw new Error("two tasks inside the critical section");
          const v = counter;
          await point("critical section");
          counter = v + 1;
          inside--;
          if (locked) await m.unlock();
        }
      }),
    );
    for (const t of ts) await t.join();
    if (counter !== 6) throw new Error(`lost update: ${counter}`);
  };

  it("excludes under every explored schedule; without it updates are lost", async () => {
    const ok = await explore(scenario(true), { strategy: "pct", schedules: 150, seed: 4 });
    expect(ok.failures).toEqual([]);
    const dfs = await explore(scenario(true), {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 300,
    });
    expect(dfs.failures).toEqual([]);
    const racy = await explore(scenario(false), { strategy: "pct", schedules: 150, seed: 4 });
    expect(racy.firstFailure).not.toBeNull();
  });

  it("lock is a labelled scheduling point, unlock is none; contention sleeps", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const m = new Mutex("dev_lock");
      await m.lock();
      expect(m.locked).toBe(true);
      expect(m.heldByCurrent).toBe(true);
      expect(m.holder?.name).toBe("main");
      const t = spawn("waiter", async () => {
        expect(m.heldByCurrent).toBe(false);
        expect(m.tryLock()).toBe(false);
        await m.lock();
        expect(m.heldByCurrent).toBe(true);
        await m.unlock();
      });
      while (t.state !== "blocked") await point("poll");
      await m.unlock();
      await t.join();
      expect(m.locked).toBe(false);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    const labels = r.trace.steps().map((s) => s.label);
    expect(labels).toContain("mutex_lock(dev_lock)");
    expect(labels).toContain("mutex_lock(dev_lock) sleeps");
    // A release is a left mover (Lipton's reduction): no point of its own.
    expect(labels.filter((l) => l.startsWith("mutex_unlock"))).toEqual([]);
  });

  it("unlockNow() is unlock() settled: the same release, wake-up and schedule", async () => {
    // Three tasks contend for one mutex; `now` picks how they release it.
    const contend = (now: boolean) => async () => {
      const m = new Mutex("contended_lock");
      const ts = [1, 2, 3].map((i) =>
        spawn(`t${i}`, async () => {
          for (let k = 0; k < 2; k++) {
            await m.lock();
            await point("inside");
            if (now) m.unlockNow();
            else await m.unlock();
          }
        }),
      );
      for (const t of ts) await t.join();
      expect(m.locked).toBe(false);
    };
    for (const seed of [1, 2, 3, 4, 5]) {
      const a = await new Simulation({ seed, strategy: { kind: "pct", depth: 3 } }).run(
        contend(false),
      );
      const b = await new Simulation({ seed, strategy: { kind: "pct", depth: 3 } }).run(
        contend(true),
      );
      expect(b.outcome).toBe("ok");
      expect(b.splats).toEqual([]);
      expect(b.traceHash).toBe(a.traceHash);
      expect(b.trace.steps().length).toBe(a.trace.steps().length);
    }
    // Not held: lockdep's "bad unlock balance", reported at once (no promise to await).
    const bad = await new Simulation().run(async () => {
      const m = new Mutex("never_taken");
      m.unlockNow();
      expect(m.locked).toBe(false);
    });
    expect(bad.splats.map((x) => x.kind)).toEqual(["lockdep"]);
    expect(bad.splats[0]!.message).toMatch(/bad unlock balance detected/);
  });

  it("tryLock takes a free mutex without a scheduling point", async () => {
    const r = await new Simulation().run(async (sim) => {
      const m = new Mutex("m");
      const before = sim.steps;
      expect(m.tryLock()).toBe(true);
      expect(sim.steps).toBe(before);
      expect(heldLocks()).toEqual([m]);
      await m.unlock();
      expect(heldLocks()).toEqual([]);
    });
    expect(r.splats).toEqual([]);
  });

  it("serves kref_put_mutex(): release runs with the mutex held and unlocks it", async () => {
    class Entry extends SlabObject {
      readonly kref = new Kref(this);
    }
    const r = await new Simulation({ seed: 2 }).run(async () => {
      const lock = new Mutex("table_lock");
      const e = kmalloc("entry", () => new Entry());
      if (isErr(e)) throw new Error("ENOMEM");
      e.kref.init();
      await e.kref.putMutex(async () => {
        expect(lock.heldByCurrent).toBe(true);
        kfree(e);
        await lock.unlock();
      }, lock);
      expect(e.freed).toBe(true);
      expect(lock.locked).toBe(false);
    });
    expect(r.splats).toEqual([]);
  });

  it("works as plain async code outside a simulation", async () => {
    const before = outsideDmesg.length;
    const m = new Mutex("outside_lock");
    await m.lock();
    expect(m.heldByCurrent).toBe(true);
    let second = false;
    const p = m.lock().then(() => {
      second = true;
    });
    expect(second).toBe(false);
    // Outside a simulation lock() goes on in a microtask; unlock() (no scheduling point) acts at
    // once, so let the second lock() reach the held mutex first.
    await null;
    expect(second).toBe(false);
    await m.unlock();
    await p;
    expect(second).toBe(true);
    await m.unlock();
    expect(m.locked).toBe(false);
    // The second lock() by the same (outside) context is a recursion for lockdep.
    expect(outsideDmesg.splats.slice(before).map((s) => s.message.split("\n")[0])).toEqual([
      "WARNING: possible recursive locking detected",
    ]);
  });
});
