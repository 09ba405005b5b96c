import { type Owner, outsideDmesg, report, Simulation, spawn } from "@primetime/sim";
import { beforeEach, describe, expect, it } from "vitest";
import { Atomic } from "./kernel-atomic.js";

class Obj implements Owner {
  freed = false;
  constructor(readonly name: string) {}
  checkAccess(op: string): boolean {
    if (!this.freed) return true;
    report("kasan", `BUG: KASAN: slab-use-after-free in ${op}`, { object: this.name });
    return false;
  }
}

beforeEach(() => outsideDmesg.clear());

describe("Atomic (kernel-facing atomic_t)", () => {
  it("has AtomicT's semantics outside a simulation", async () => {
    const a = new Atomic("dev", 1);
    await a.inc();
    await a.add(3);
    await a.sub(1);
    await a.dec();
    expect(await a.read()).toBe(3);
    expect(await a.fetchAdd(2)).toBe(3);
    expect(await a.fetchSub(1)).toBe(5);
    expect(await a.addReturn(1)).toBe(5);
    expect(await a.subReturn(2)).toBe(3);
    expect(await a.incReturn()).toBe(4);
    expect(await a.decReturn()).toBe(3);
    expect(await a.subAndTest(2)).toBe(false);
    expect(await a.decAndTest()).toBe(true);
    expect(await a.incNotZero()).toBe(false);
    expect(await a.addUnless(1, 0)).toBe(false);
    expect(await a.decIfPositive()).toBe(-1);
    await a.set(7);
    expect(await a.xchg(8)).toBe(7);
    expect(await a.cmpxchg(8, 9)).toBe(8);
    expect(a.data.read()).toBe(9);
  });

  it("puts one scheduling point, labelled with the kernel function, before each operation", async () => {
    const r = await new Simulation().run(async () => {
      const t = spawn("t", async () => {
        const a = new Atomic(new Obj("gem_object#1"), 0, "handle_count");
        await a.inc();
        await a.decAndTest();
        await a.read();
      });
      await t.join();
    });
    const labels = r.trace
      .steps()
      .filter((s) => s.task === "t")
      .map((s) => s.label);
    expect(labels).toContain("atomic_inc(gem_object#1.handle_count)");
    expect(labels).toContain("atomic_dec_and_test(gem_object#1.handle_count)");
    expect(labels).toContain("atomic_read(gem_object#1.handle_count)");
  });

  it("an operation on a freed owner is a KASAN use-after-free", async () => {
    const obj = new Obj("dev");
    const a = new Atomic(obj);
    obj.freed = true;
    await a.inc();
    expect(outsideDmesg.splats.map((s) => [s.kind, s.message, s.object])).toEqual([
      ["kasan", "BUG: KASAN: slab-use-after-free in atomic_inc", "dev"],
    ]);
  });
});
