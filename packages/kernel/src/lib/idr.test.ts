import { rcuReadLock, rcuReadUnlock } from "@primetime/rcu";
import { type RunResult, report, type Simulation as Sim, Simulation, spawn } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { expectClean } from "@primetime/sim/testing";
import { describe, expect, it } from "vitest";
import { EINVAL, ENOENT, ENOMEM, ENOSPC, isErr } from "../include/errno.js";
import { Mutex } from "../locking/mutex.js";
import { SpinLock } from "../locking/spinlock.js";
import { setFailslab } from "../mm/failslab.js";
import { IDR_INT_MAX, Idr } from "./idr.js";

interface Obj {
  name: string;
}

const obj = (name: string): Obj => ({ name });

function run(fn: (sim: Sim) => Promise<void>, seed = 1): Promise<RunResult> {
  return new Simulation({ seed }).run(fn);
}

async function ids<T extends object>(idr: Idr<T>): Promise<number[]> {
  const out: number[] = [];
  await idr.forEach((id) => {
    out.push(id);
  });
  return out;
}

describe("Idr allocation", () => {
  it("hands out the lowest free id in [start, end) and -ENOSPC when the range is full", async () => {
    const r = await run(async () => {
      const idr = new Idr<Obj>("test");
      expect(await idr.alloc(obj("a"), 1, 0)).toBe(1);
      expect(await idr.alloc(obj("b"), 1, 0)).toBe(2);
      expect(await idr.alloc(obj("c"), 0, 0)).toBe(0);
      expect(await idr.alloc(obj("d"), 10, 12)).toBe(10);
      expect(await idr.alloc(obj("e"), 10, 12)).toBe(11);
      expect(await idr.alloc(obj("f"), 10, 12)).toBe(-ENOSPC);
      // The search skips the allocated run 10..11 and finds 12.
      expect(await idr.alloc(obj("g"), 10, 0)).toBe(12);
      // start beyond end-1, and an empty range.
      expect(await idr.alloc(obj("h"), 5, 5)).toBe(-ENOSPC);
      expect(await idr.alloc(obj("i"), 7, 3)).toBe(-ENOSPC);
      // end <= 0: up to INT_MAX inclusive.
      expect(await idr.alloc(obj("top"), IDR_INT_MAX, 0)).toBe(IDR_INT_MAX);
      expect(await idr.alloc(obj("over"), IDR_INT_MAX, -1)).toBe(-ENOSPC);
      expect(await ids(idr)).toEqual([0, 1, 2, 10, 11, 12, IDR_INT_MAX]);
    });
    expectClean(r);
  });

  it("a negative start is -EINVAL with one warning", async () => {
    const r = await run(async () => {
      const idr = new Idr<Obj>("neg");
      expect(await idr.alloc(obj("a"), -1, 0)).toBe(-EINVAL);
      expect(await idr.alloc(obj("a"), -5, 0)).toBe(-EINVAL);
      expect(idr.isEmpty()).toBe(true);
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn"]);
    expect(r.splats[0]!.message).toMatch(/idr_alloc\(neg\): bad range \[-1, 0\)/);
  });

  it("allocCyclic has no negative-start check: the search starts at idr_next and never wraps", async () => {
    // lib/idr.c idr_alloc_cyclic(): no WARN_ON_ONCE(start < 0) (idr_alloc() has one); `u32 id =
    // idr->idr_next; if ((int)id < start) id = start;` and the wrap test `id > start` is unsigned.
    const got: number[] = [];
    const r = await run(async () => {
      const idr = new Idr<Obj>("cyc-neg");
      got.push(await idr.allocCyclic(obj("a"), -1, 0));
      got.push(await idr.allocCyclic(obj("b"), -1, 0));
      got.push(await idr.allocCyclic(obj("c"), -3, 2));
      await idr.remove(0);
      got.push(await idr.allocCyclic(obj("d"), -3, 3));
    });
    expect(r.splats).toEqual([]);
    // 0, 1; then [.., 2) is full above idr_next (2) and no wrap: -ENOSPC; then 2 (0 stays free).
    expect(got).toEqual([0, 1, -ENOSPC, 2]);
  });

  it("removal frees the id: the lowest free one is reused first", async () => {
    const r = await run(async () => {
      const idr = new Idr<Obj>("reuse");
      const a = obj("a");
      for (let i = 1; i <= 5; i++) expect(await idr.alloc(obj(`o${i}`), 1, 0)).toBe(i);
      expect((await idr.remove(4))?.name).toBe("o4");
      expect((await idr.remove(2))?.name).toBe("o2");
      expect(await idr.find(2)).toBeNull();
      expect(await idr.alloc(a, 1, 0)).toBe(2);
      expect(await idr.find(2)).toBe(a);
      expect(await idr.alloc(a, 1, 0)).toBe(4);
      expect(await idr.alloc(a, 1, 0)).toBe(6);
      // Removing something that is not allocated changes nothing.
      expect(await idr.remove(100)).toBeNull();
      expect(await idr.remove(-3)).toBeNull();
      expect(await ids(idr)).toEqual([1, 2, 3, 4, 5, 6]);
    });
    expectClean(r);
  });

  it("allocCyclic goes on after the last id, wraps once, and -ENOSPC when full", async () => {
    const r = await run(async () => {
      const idr = new Idr<Obj>("cyclic");
      const o = obj("o");
      expect(await idr.allocCyclic(o, 1, 4)).toBe(1);
      expect(await idr.allocCyclic(o, 1, 4)).toBe(2);
      await idr.remove(1);
      // Not the freed 1: the search starts after the last allocated id.
      expect(await idr.allocCyclic(o, 1, 4)).toBe(3);
      // Range top reached: wraps to start and finds 1.
      expect(await idr.allocCyclic(o, 1, 4)).toBe(1);
      // Full.
      expect(await idr.allocCyclic(o, 1, 4)).toBe(-ENOSPC);
      await idr.remove(3);
      // next is 2 (after 1): 2 is taken, the lowest free above is 3.
      expect(await idr.allocCyclic(o, 1, 4)).toBe(3);
      // alloc() keeps using the lowest free id, independently of the cyclic cursor.
      await idr.remove(1);
      await idr.remove(3);
      expect(await idr.alloc(o, 1, 4)).toBe(1);
      // A start above the cursor moves the search up.
      expect(await idr.allocCyclic(o, 50, 0)).toBe(50);
      expect(await idr.allocCyclic(o, 1, 0)).toBe(51);
    });
    expectClean(r);
  });

  it("base: ids below idr_init_base() are never handed out", async () => {
    const idr = new Idr<Obj>("based", { base: 1 });
    expect(await idr.alloc(obj("a"), 0, 0)).toBe(1);
    expect(await idr.allocCyclic(obj("b"), 0, 0)).toBe(2);
    expect(await idr.find(0)).toBeNull();
    // [0, 1) lies below the base: `max - base` wraps in idr_alloc_u32(), so the range bounds
    // nothing and the lowest free id comes back (what GEM_CHANGE_HANDLE to handle 0 runs into).
    expect(await idr.alloc(obj("c"), 0, 1)).toBe(3);
    expect(() => new Idr<Obj>("bad", { base: -1 })).toThrow(RangeError);
  });

  it("fault injection: idr_alloc fails with -ENOMEM and consumes no id", async () => {
    const r = await run(async () => {
      setFailslab({ failNth: 1, caches: ["idr_alloc"] });
      const idr = new Idr<Obj>("fallible");
      expect(await idr.alloc(obj("a"), 1, 0)).toBe(-ENOMEM);
      expect(idr.isEmpty()).toBe(true);
      expect(await idr.alloc(obj("a"), 1, 0)).toBe(1);
      // -ENOSPC is decided before the allocation: a full range is not a fallible call.
      setFailslab({ probability: 1, caches: ["idr_alloc"] });
      expect(await idr.alloc(obj("b"), 1, 2)).toBe(-ENOSPC);
      expect(await idr.allocCyclic(obj("b"), 1, 0)).toBe(-ENOMEM);
      setFailslab(null);
    });
    expectClean(r);
  });

  it("stays fast with thousands of ids", async () => {
    const idr = new Idr<Obj>("big");
    const o = obj("o");
    for (let i = 0; i < 5000; i++) expect(await idr.alloc(o, 1, 0)).toBe(i + 1);
    for (let i = 2; i <= 5000; i += 2) await idr.remove(i);
    // The freed even ids come back in increasing order.
    for (let i = 2; i <= 200; i += 2) expect(await idr.alloc(o, 1, 0)).toBe(i);
    expect(await idr.alloc(o, 4000, 0)).toBe(4000);
    expect(await idr.alloc(o, 4000, 0)).toBe(4002);
    expect((await ids(idr)).length).toBe(2500 + 100 + 2);
    await idr.destroy();
    expect(idr.isEmpty()).toBe(true);
    expect(await idr.find(1)).toBeNull();
  });
});

describe("Idr entries", () => {
  it("a NULL entry reserves the id; replace() publishes the object", async () => {
    const r = await run(async () => {
      const idr = new Idr<Obj>("object_idr");
      const gem = obj("gem");
      const handle = await idr.alloc(null, 1, 0);
      expect(handle).toBe(1);
      expect(idr.isEmpty()).toBe(false);
      // Reserved: lookups find nothing, iteration skips it, but the id is not handed out again.
      expect(await idr.find(handle)).toBeNull();
      expect(await idr.getNext(0)).toBeNull();
      expect(await ids(idr)).toEqual([]);
      expect(await idr.alloc(obj("other"), 1, 0)).toBe(2);
      // Publish.
      expect(await idr.replace(gem, handle)).toBeNull();
      expect(await idr.find(handle)).toBe(gem);
      expect(await idr.getNext(0)).toEqual({ id: 1, ptr: gem });
      // drm_gem_handle_delete(): replace with NULL first, then remove.
      expect(await idr.replace(null, handle)).toBe(gem);
      expect(await idr.find(handle)).toBeNull();
      expect(await idr.alloc(obj("third"), 1, 0)).toBe(3);
      expect(await idr.remove(handle)).toBeNull();
      expect(await idr.alloc(obj("fourth"), 1, 0)).toBe(1);
    });
    expectClean(r);
  });

  it("replace() of an id that is not allocated is ERR_PTR(-ENOENT) and changes nothing", async () => {
    const idr = new Idr<Obj>("enoent");
    const ret = await idr.replace(obj("x"), 7);
    expect(isErr(ret)).toBe(true);
    expect(ret).toBe(-ENOENT);
    expect(idr.isEmpty()).toBe(true);
    await idr.alloc(obj("a"), 7, 8);
    await idr.remove(7);
    expect(await idr.replace(obj("x"), 7)).toBe(-ENOENT);
    expect(await idr.find(7)).toBeNull();
  });

  it("iterates in id order whatever the allocation order; forEach stops on non-zero", async () => {
    const idr = new Idr<Obj>("order");
    for (const start of [40, 3, 17, 1, 1000, 2]) await idr.alloc(obj(`at${start}`), start, 0);
    await idr.alloc(null, 5, 6);
    const seen: string[] = [];
    expect(
      await idr.forEach((id, p) => {
        seen.push(`${id}:${p.name}`);
      }),
    ).toBe(0);
    expect(seen).toEqual(["1:at1", "2:at2", "3:at3", "17:at17", "40:at40", "1000:at1000"]);
    // idr_for_each_entry() over getNext().
    const viaNext: number[] = [];
    for (let e = await idr.getNext(0); e; e = await idr.getNext(e.id + 1)) viaNext.push(e.id);
    expect(viaNext).toEqual([1, 2, 3, 17, 40, 1000]);
    expect((await idr.getNext(18))?.id).toBe(40);
    expect(await idr.getNext(1001)).toBeNull();
    // A non-zero return ends the walk and is returned; the callback may be async.
    const visited: number[] = [];
    const ret = await idr.forEach(async (id) => {
      visited.push(id);
      return id === 17 ? -ENOENT : 0;
    });
    expect(ret).toBe(-ENOENT);
    expect(visited).toEqual([1, 2, 3, 17]);
  });
});

describe("Idr locking", () => {
  it("modifications under the named lock and find() under RCU or the lock are silent", async () => {
    const r = await run(async () => {
      const lock = new SpinLock("table_lock");
      const idr = new Idr<Obj>("object_idr", { lock });
      const o = obj("o");
      await lock.lock();
      const id = await idr.alloc(null, 1, 0);
      expect(await idr.replace(o, id)).toBeNull();
      expect(await idr.find(id)).toBe(o);
      await lock.unlock();
      await rcuReadLock();
      expect(await idr.find(id)).toBe(o);
      await rcuReadUnlock();
      await lock.lock();
      expect(await idr.remove(id)).toBe(o);
      await lock.unlock();
    });
    expectClean(r);
  });

  it("find() with neither rcu_read_lock() nor the lock is an rcu splat", async () => {
    const r = await run(async () => {
      const lock = new Mutex("object_name_lock");
      const idr = new Idr<Obj>("object_name_idr", { lock });
      await lock.lock();
      await idr.alloc(obj("o"), 1, 0);
      await lock.unlock();
      expect((await idr.find(1))?.name).toBe("o");
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["rcu"]);
    expect(r.splats[0]!.message).toMatch(
      /suspicious rcu_dereference_check\(\) usage \(object_name_lock not held\)/,
    );
    expect(r.splats[0]!.object).toBe("idr object_name_idr");
  });

  it("a modification without the named lock held is a lockdep_assert_held() warning", async () => {
    const r = await run(async () => {
      const lock = new Mutex("idr_lock");
      const idr = new Idr<Obj>("guarded", { lock });
      expect(await idr.alloc(obj("o"), 1, 0)).toBe(1);
      // Held by another task does not count either.
      const t = spawn("holder", async () => {
        await lock.lock();
        await idr.remove(1);
        await lock.unlock();
      });
      await t.join();
      await idr.replace(obj("p"), 1);
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn", "warn"]);
    const warns = r.splats.filter((s) => s.kind === "warn");
    for (const w of warns) expect(w.message).toMatch(/lockdep_assert_held\(idr_lock\) failed/);
    expect(warns.map((w) => w.task)).toEqual(["main", "main"]);
  });

  it("an IDR without a named lock asserts nothing", async () => {
    const r = await run(async () => {
      const idr = new Idr<Obj>("unchecked");
      await idr.alloc(obj("o"), 1, 0);
      expect((await idr.find(1))?.name).toBe("o");
    });
    expectClean(r);
  });

  /**
   * Two writers allocate and remove under a mutex while a reader looks ids up under RCU.
   * Invariants: an id is never held by two writers, a removed entry is the one stored, what the
   * reader finds is an object some writer published at that id.
   */
  function concurrentScenario(readerUsesRcu: boolean) {
    return async () => {
      const lock = new Mutex("handles_lock");
      const idr = new Idr<Obj>("handles", { lock });
      const owners = new Map<number, string>();
      const writer = (name: string) =>
        spawn(name, async () => {
          for (let i = 0; i < 3; i++) {
            const mine = obj(`${name}.${i}`);
            await lock.lock();
            const id = await idr.alloc(null, 1, 0);
            await lock.unlock();
            if (owners.has(id)) report("warn", `id ${id} handed out twice`);
            owners.set(id, name);
            await lock.lock();
            await idr.replace(mine, id);
            await lock.unlock();
            await lock.lock();
            const old = await idr.remove(id);
            owners.delete(id);
            await lock.unlock();
            if (old !== mine) report("warn", `removed ${old?.name} instead of ${mine.name}`);
          }
        });
      const reader = spawn("reader", async () => {
        for (let i = 0; i < 4; i++) {
          if (readerUsesRcu) await rcuReadLock();
          for (const id of [1, 2]) {
            const p = await idr.find(id);
            if (p && !p.name.startsWith(owners.get(id) ?? "?"))
              report("warn", `found ${p.name} at ${id}, owned by ${owners.get(id)}`);
          }
          if (readerUsesRcu) await rcuReadUnlock();
        }
      });
      const ws = [writer("w1"), writer("w2")];
      for (const t of [...ws, reader]) await t.join();
      if (!idr.isEmpty()) report("warn", "ids left allocated");
    };
  }

  it("under explore(pct): writers under a mutex and an RCU reader never splat", async () => {
    const res = await explore(concurrentScenario(true), {
      strategy: "pct",
      schedules: 60,
      seed: 7,
    });
    expect(res.firstFailure?.splats ?? []).toEqual([]);
    expect(res.schedules).toBe(60);
    expect(res.stats.outcomes.ok).toBe(60);
  });

  it("under explore(pct): the same reader without RCU is caught", async () => {
    const res = await explore(concurrentScenario(false), { strategy: "pct", schedules: 20 });
    expect(res.firstFailure).not.toBeNull();
    expect(res.firstFailure!.splats.some((s) => s.kind === "rcu" && s.task === "reader")).toBe(
      true,
    );
  });
});
