import { type Owner, outsideDmesg, report, SimMutex, Simulation, spawn } from "@primetime/sim";
import { beforeEach, describe, expect, it } from "vitest";
import { Kref } from "./kref.js";
import { type Lockable, REFCOUNT_SATURATED } from "./refcount.js";

// Outside a simulation points resolve at once and splats go to outsideDmesg: these tests pin the
// data semantics. The races of kref.rst run under the scheduler in kref-races.test.ts.

/** A kernel object that knows whether it has been freed, as slab objects do. */
class Obj implements Owner {
  freed = false;
  readonly accesses: string[] = [];
  constructor(readonly name: string) {}
  checkAccess(op: string): boolean {
    this.accesses.push(op);
    if (!this.freed) return true;
    report("kasan", `BUG: KASAN: slab-use-after-free in ${op}`, { object: this.name });
    return false;
  }
}

function recordingLock(events: string[]): Lockable {
  return {
    lock: async () => {
      events.push("lock");
    },
    unlock: async () => {
      events.push("unlock");
    },
  };
}

const splats = () => outsideDmesg.splats.map((s) => [s.kind, s.message, s.object]);

beforeEach(() => outsideDmesg.clear());

describe("Kref", () => {
  it("starts at 0 like zeroed memory; kref_init sets 1", () => {
    const k = new Kref("obj");
    expect(k.read()).toBe(0);
    k.init();
    expect(k.read()).toBe(1);
    expect(k.owner.name).toBe("obj");
  });

  it("kref_get and kref_put: release runs exactly on the last put, put returns 1 then", async () => {
    const k = new Kref("obj");
    k.init();
    await k.get();
    expect(k.read()).toBe(2);
    const released: Kref[] = [];
    const release = (r: Kref) => {
      released.push(r);
    };
    expect(await k.put(release)).toBe(0);
    expect(released).toEqual([]);
    expect(await k.put(release)).toBe(1);
    expect(released).toEqual([k]);
    expect(k.read()).toBe(0);
    expect(splats()).toEqual([]);
  });

  it("awaits an async release before returning", async () => {
    const k = new Kref("obj");
    k.init();
    const events: string[] = [];
    const done = k.put(async () => {
      events.push("release start");
      await Promise.resolve();
      await Promise.resolve();
      events.push("release end");
    });
    expect(await done).toBe(1);
    events.push("put returned");
    expect(events).toEqual(["release start", "release end", "put returned"]);
  });

  it("kref_get on 0 reports the refcount splat naming the object, and saturates", async () => {
    const k = new Kref(new Obj("gem_object#3"));
    await k.get();
    expect(splats()).toEqual([
      ["refcount", "refcount_t: addition on 0; use-after-free.", "gem_object#3"],
    ]);
    expect(k.refcount.refs.read()).toBe(REFCOUNT_SATURATED);
    expect(k.read()).toBe(REFCOUNT_SATURATED >>> 0);
  });

  it("a put too many: underflow; use-after-free, and release is not called", async () => {
    const k = new Kref("obj");
    k.init();
    let releases = 0;
    const release = () => {
      releases++;
    };
    expect(await k.put(release)).toBe(1);
    expect(await k.put(release)).toBe(0);
    expect(releases).toBe(1);
    expect(splats()).toEqual([["refcount", "refcount_t: underflow; use-after-free.", "obj"]]);
    // Saturated: no later put ever releases again.
    for (let i = 0; i < 5; i++) expect(await k.put(release)).toBe(0);
    expect(releases).toBe(1);
  });

  it("kref_get_unless_zero: true on a live object, false and no splat on 0", async () => {
    const k = new Kref("obj");
    k.init();
    expect(await k.getUnlessZero()).toBe(true);
    expect(k.read()).toBe(2);
    await k.put(() => {});
    await k.put(() => {});
    expect(await k.getUnlessZero()).toBe(false);
    expect(k.read()).toBe(0);
    expect(splats()).toEqual([]);
  });

  it("checks the owner's liveness before each operation: KASAN on a freed owner", async () => {
    const obj = new Obj("obj");
    const k = new Kref(obj);
    k.init();
    await k.get();
    await k.getUnlessZero();
    await k.put(() => {});
    await k.putMutex(() => {}, recordingLock([]));
    k.read();
    expect(obj.accesses).toEqual([
      "kref_init",
      "kref_get",
      "kref_get_unless_zero",
      "kref_put",
      "kref_put_mutex",
      "kref_read",
    ]);
    obj.freed = true;
    await k.get();
    expect(splats()).toEqual([["kasan", "BUG: KASAN: slab-use-after-free in kref_get", "obj"]]);
  });

  describe("kref_put_mutex / kref_put_lock", () => {
    for (const which of ["putMutex", "putLock"] as const) {
      it(`${which}: not the last reference: no lock, returns 0`, async () => {
        const k = new Kref("obj");
        k.init();
        await k.get();
        const events: string[] = [];
        expect(await k[which](() => events.push("release"), recordingLock(events))).toBe(0);
        expect(events).toEqual([]);
        expect(k.read()).toBe(1);
      });

      it(`${which}: the last reference: release runs with the lock held and unlocks`, async () => {
        const k = new Kref("obj");
        k.init();
        const events: string[] = [];
        const lock = recordingLock(events);
        const r = await k[which](async () => {
          events.push("release");
          await lock.unlock();
        }, lock);
        expect(r).toBe(1);
        expect(events).toEqual(["lock", "release", "unlock"]);
        expect(k.read()).toBe(0);
      });

      it(`${which}: a reference taken while waiting for the lock: unlock, 0, no release`, async () => {
        const k = new Kref("obj");
        k.init();
        const events: string[] = [];
        const lock: Lockable = {
          lock: async () => {
            events.push("lock");
            await k.get(); // another CPU's lookup got in first
          },
          unlock: () => {
            events.push("unlock");
          },
        };
        expect(await k[which](() => events.push("release"), lock)).toBe(0);
        expect(events).toEqual(["lock", "unlock"]);
        expect(k.read()).toBe(1);
      });

      it(`${which}: on 0: the dec_not_one underflow warning, no lock, no release`, async () => {
        const k = new Kref("obj");
        const events: string[] = [];
        expect(await k[which](() => events.push("release"), recordingLock(events))).toBe(0);
        expect(events).toEqual([]);
        expect(splats()).toEqual([["refcount", "refcount_t: underflow; use-after-free.", "obj"]]);
      });
    }
  });

  it("one scheduling point per operation, labelled kref_*(<object>)", async () => {
    const r = await new Simulation().run(async () => {
      const t = spawn("t", async () => {
        const k = new Kref(new Obj("gem_object#2"));
        const m = new SimMutex("m");
        k.init();
        await k.get();
        await k.getUnlessZero();
        await k.put(() => {});
        await k.putLock(() => {}, m);
        await k.putMutex(() => m.unlock(), m);
      });
      await t.join();
    });
    expect(r.splats).toEqual([]);
    const labels = r.trace
      .steps()
      .filter((s) => s.task === "t")
      .map((s) => s.label);
    expect(labels.slice(labels.indexOf("kref_get(gem_object#2)"))).toEqual([
      "kref_get(gem_object#2)",
      "kref_get_unless_zero(gem_object#2)",
      "kref_put(gem_object#2)",
      "kref_put_lock(gem_object#2)",
      "kref_put_mutex(gem_object#2)",
      "mutex_lock(m)",
      "refcount_dec_and_test(gem_object#2)",
      "mutex_unlock(m)",
      "exit",
    ]);
  });

  it("names the owner as it is when the splat fires (kref constructed in a field initializer)", async () => {
    class Late implements Owner {
      readonly kref = new Kref(this);
      constructor(readonly name: string) {}
    }
    const o = new Late("late#1");
    await o.kref.get();
    expect(splats()).toEqual([
      ["refcount", "refcount_t: addition on 0; use-after-free.", "late#1"],
    ]);
  });
});
