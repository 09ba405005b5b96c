import { Kref } from "@primetime/atomics";
import { rcuBarrier } from "@primetime/rcu";
import { Simulation, spawn } from "@primetime/sim";
import { afterEach, describe, expect, it } from "vitest";
import { ENOMEM, errnoName, isErr } from "../include/errno.js";
import { Mutex } from "../locking/mutex.js";
import {
  allocationCount,
  enumerateFailNth,
  injectedFailures,
  setFailslab,
  shouldFail,
} from "./failslab.js";
import { kmemleakScan } from "./kmemleak.js";
import { kfree, kfreeRcu, kmalloc, SlabObject, slabStats } from "./slab.js";

class Obj extends SlabObject {
  readonly kref = new Kref(this);
  children: Obj[] = [];
}

afterEach(() => setFailslab(null));

describe("failslab", () => {
  it("fails exactly the N-th allocation with -ENOMEM, then nothing more", async () => {
    const r = await new Simulation().run(() => {
      setFailslab({ failNth: 3 });
      const results = [];
      for (let i = 0; i < 5; i++) {
        const o = kmalloc("obj", () => new Obj());
        results.push(isErr(o) ? errnoName(o) : o.name);
      }
      expect(results).toEqual(["obj#1", "obj#2", "ENOMEM", "obj#3", "obj#4"]);
      expect(allocationCount()).toBe(5);
      expect(injectedFailures()).toEqual([
        expect.objectContaining({
          nth: 3,
          what: "obj",
          site: expect.objectContaining({ task: "main" }),
        }),
      ]);
      // The failed allocation constructed nothing and counts nothing.
      expect(slabStats()).toEqual([{ cache: "obj", live: 4, total: 4 }]);
      expect(kmalloc("obj", () => new Obj())).not.toBe(-ENOMEM);
    });
    expect(r.splats).toEqual([]);
  });

  it("counts marked fallible calls and filters by cache", async () => {
    // (An expect() that throws inside run() is a splat of the run, not a test failure: the
    // runs below check their splats.)
    const r = await new Simulation().run(() => {
      setFailslab({ failNth: 2, caches: ["obj", "idr_alloc"] });
      expect(isErr(kmalloc("other", () => new Obj()))).toBe(false); // not eligible, not counted
      expect(shouldFail("idr_alloc")).toBe(false); // #1
      expect(isErr(kmalloc("obj", () => new Obj()))).toBe(true); // #2
      expect(shouldFail("idr_alloc")).toBe(false); // #3
      expect(allocationCount()).toBe(3);
    });
    expect(r.splats).toEqual([]);
  });

  it("fails by probability with the simulation's recorded choices (replayable)", async () => {
    const pattern = async (strategy?: { kind: "replay"; token: string }) => {
      let seen = "";
      const r = await new Simulation({ seed: 42, strategy }).run(() => {
        setFailslab({ probability: 0.5 });
        for (let i = 0; i < 32; i++) seen += isErr(kmalloc("obj", () => new Obj())) ? "x" : ".";
      });
      return { seen, r };
    };
    const a = await pattern();
    expect(a.seen).toContain("x");
    expect(a.seen).toContain(".");
    const b = await pattern({ kind: "replay", token: a.r.token });
    expect(b.r.outcome).toBe("ok");
    expect(b.seen).toBe(a.seen);
  });

  it("fail-nth decides alone until the N-th call; the probability applies only after it", async () => {
    // lib/fault-inject.c should_fail_ex(): `if (fail_nth) { fail_nth--; ...; if (!fail_nth) goto
    // fail; return false; }` comes before the probability check.
    let failed: boolean[] = [];
    let nths: number[] = [];
    const r = await new Simulation().run(() => {
      setFailslab({ failNth: 4, probability: 1 });
      failed = [1, 2, 3, 4, 5, 6].map(() => shouldFail("x"));
      nths = injectedFailures().map((f) => f.nth);
    });
    expect(r.outcome).toBe("ok");
    expect(failed).toEqual([false, false, false, true, true, true]);
    expect(nths).toEqual([4, 5, 6]);
  });

  it("defaults set outside a simulation apply to simulations started afterwards", async () => {
    setFailslab({ failNth: 1 });
    for (let i = 0; i < 2; i++) {
      const r = await new Simulation().run(() => {
        expect(isErr(kmalloc("obj", () => new Obj()))).toBe(true);
        expect(isErr(kmalloc("obj", () => new Obj()))).toBe(false);
      });
      expect(r.splats).toEqual([]);
    }
    setFailslab(null);
    const r = await new Simulation().run(() => {
      expect(isErr(kmalloc("obj", () => new Obj()))).toBe(false);
    });
    expect(r.splats).toEqual([]);
  });

  it("rejects bad options", () => {
    expect(() => setFailslab({ probability: 2 })).toThrow(RangeError);
    expect(() => setFailslab({ failNth: 1.5 })).toThrow(RangeError);
  });
});

/**
 * A small scenario: create a parent with two children (three allocations, with the kernel's
 * goto-style error unwinding), publish it to a second task that drops the last reference, which
 * frees all three with kfree_rcu(); then quiesce and scan for leaks.
 */
async function createTree(buggyUnwind: boolean): Promise<Obj | number> {
  const parent = kmalloc("parent", () => new Obj());
  if (isErr(parent)) return parent;
  const left = kmalloc("child", () => new Obj());
  if (isErr(left)) {
    kfree(parent);
    return left;
  }
  const right = kmalloc("child", () => new Obj());
  if (isErr(right)) {
    kfree(left);
    if (!buggyUnwind) kfree(parent); // the bug: a forgotten label in the unwind ladder
    return right;
  }
  parent.children = [left, right];
  parent.kref.init();
  return parent;
}

function treeScenario(buggyUnwind: boolean) {
  return async () => {
    const lock = new Mutex("tree_lock");
    const tree = await createTree(buggyUnwind);
    if (typeof tree !== "number") {
      const t = spawn("releaser", async () => {
        await lock.lock();
        await tree.kref.put(async () => {
          for (const c of tree.children) await kfreeRcu(c);
          await kfreeRcu(tree);
        });
        await lock.unlock();
      });
      await t.join();
    } else {
      expect(tree).toBe(-ENOMEM);
    }
    await rcuBarrier(); // quiesce: every kfree_rcu() has run
    kmemleakScan();
  };
}

describe("fail-nth enumeration", () => {
  it("every allocation failure of a 3-allocation scenario is unwound: no leak for any N", async () => {
    const runs = await enumerateFailNth(treeScenario(false), { seed: 5 });
    expect(runs.map((r) => [r.nth, r.injected?.what ?? null, r.calls])).toEqual([
      [1, "parent", 1],
      [2, "child", 2],
      [3, "child", 3],
      [4, null, 3], // N beyond the scenario's allocations: the success path
    ]);
    for (const r of runs) {
      expect(r.result.outcome).toBe("ok");
      expect(r.result.splats).toEqual([]);
    }
  });

  it("the same enumeration finds a broken unwind path, and only that one", async () => {
    const runs = await enumerateFailNth(treeScenario(true), { seed: 5 });
    const leaky = runs.filter((r) => r.result.splats.length > 0);
    expect(leaky.map((r) => r.nth)).toEqual([3]);
    const [s] = leaky[0]!.result.splats;
    expect(s!.kind).toBe("kmemleak");
    expect(s!.message).toMatch(/^unreferenced object parent#1 \(size \d+\):/);
  });

  it("stops at maxRuns", async () => {
    let n = 0;
    const runs = await enumerateFailNth(
      () => {
        n++;
        for (let i = 0; i < n; i++) kmalloc("obj", () => new Obj());
      },
      { maxRuns: 3 },
    );
    expect(runs.map((r) => r.nth)).toEqual([1, 2, 3]);
  });
});
