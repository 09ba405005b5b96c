import { point, Simulation, spawn, yieldCpu } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { rcuReadLockHeld } from "./rcu-lockdep.js";
import { rcuPreemptDepth, rcuReadLock, rcuReadUnlock, scopedGuardRcu } from "./rcu-read.js";
import { rcuState } from "./rcu-state.js";

describe("rcu_read_lock() nesting", () => {
  it("counts per task", async () => {
    const depths: Record<string, number[]> = { a: [], b: [] };
    const r = await new Simulation({ seed: 9 }).run(async () => {
      const a = spawn("a", async () => {
        await rcuReadLock();
        depths.a!.push(rcuPreemptDepth());
        await rcuReadLock();
        depths.a!.push(rcuPreemptDepth());
        await yieldCpu();
        await rcuReadUnlock();
        depths.a!.push(rcuPreemptDepth());
        await rcuReadUnlock();
        depths.a!.push(rcuPreemptDepth());
      });
      const b = spawn("b", async () => {
        for (let i = 0; i < 4; i++) {
          depths.b!.push(rcuPreemptDepth());
          await point("b runs");
        }
      });
      await a.join();
      await b.join();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(depths.a).toEqual([1, 2, 1, 0]);
    expect(depths.b).toEqual([0, 0, 0, 0]);
  });

  it("tracks which tasks are inside a section (what a grace period snapshots)", async () => {
    const res = await explore(
      async () => {
        const st = rcuState();
        const seen: number[] = [];
        const tasks = [0, 1].map((i) =>
          spawn(`reader${i}`, async () => {
            await rcuReadLock();
            seen.push(st.readers.length);
            await rcuReadLock();
            await rcuReadUnlock();
            expect(rcuReadLockHeld()).toBe(true);
            seen.push(st.readers.length);
            await rcuReadUnlock();
            expect(rcuReadLockHeld()).toBe(false);
          }),
        );
        for (const t of tasks) await t.join();
        expect(st.readers.length).toBe(0);
        expect(Math.min(...seen)).toBeGreaterThanOrEqual(1);
        expect(Math.max(...seen)).toBeLessThanOrEqual(2);
      },
      { strategy: "dfs", preemptionBound: 2, schedules: 5000 },
    );
    expect(res.firstFailure).toBeNull();
    expect(res.complete).toBe(true);
  });

  it("scoped_guard(rcu) holds the lock around its body and returns its value", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const v = await scopedGuardRcu(async () => {
        await point("inside");
        return rcuPreemptDepth() * 10;
      });
      expect(v).toBe(10);
      expect(rcuReadLockHeld()).toBe(false);
    });
    expect(r.splats).toEqual([]);
  });

  it("works outside a simulation on the one fallback reader", async () => {
    expect(rcuReadLockHeld()).toBe(false);
    await rcuReadLock();
    await rcuReadLock();
    expect(rcuPreemptDepth()).toBe(2);
    await rcuReadUnlock();
    expect(rcuReadLockHeld()).toBe(true);
    await rcuReadUnlock();
    expect(rcuReadLockHeld()).toBe(false);
    expect(await scopedGuardRcu(() => rcuPreemptDepth())).toBe(1);
  });
});
