import { point, Simulation, type Strategy, spawn, type Task } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { pointNow, RESOLVED } from "./point-now.js";

/** Keeps the running task while `stay` says so, else switches to the first other runnable task. */
function steering(stay: () => boolean): Strategy {
  return {
    name: "random",
    param: 0,
    begin() {},
    pickTask(runnable: readonly Task[], current: Task | null) {
      if (current !== null && stay() && runnable.includes(current)) return current;
      return runnable.find((t) => t !== current) ?? runnable[0]!;
    },
    choose: () => 0,
    spawned() {},
    yielded() {},
    end() {},
  };
}

describe("pointNow", () => {
  it("returns null when the running task goes on, and the step is recorded as point() records it", async () => {
    const sim = new Simulation({ strategy: steering(() => true) });
    const seen: (Promise<void> | null)[] = [];
    const r = await sim.run(async () => {
      spawn("other", async () => {
        await point("other_step");
      });
      seen.push(pointNow("fast_step"));
      await point("slow_step");
    });
    expect(r.outcome).toBe("ok");
    expect(seen).toEqual([null]);
    expect(r.trace.labels).toEqual(["fast_step", "slow_step", "exit", "other_step"]);
  });

  it("returns the promise to await when another task runs first", async () => {
    const sim = new Simulation({ strategy: steering(() => false) });
    const order: string[] = [];
    const r = await sim.run(async () => {
      spawn("other", async () => {
        order.push("other runs");
      });
      const p = pointNow("switch_here");
      order.push(p === null ? "main went on" : "main must wait");
      if (p !== null) await p;
      order.push("main resumed");
    });
    expect(r.outcome).toBe("ok");
    expect(order).toEqual(["main must wait", "other runs", "main resumed"]);
  });

  it("outside a simulation gives point()'s resolved promise", async () => {
    const p = pointNow("outside");
    expect(p).not.toBeNull();
    await expect(p).resolves.toBeUndefined();
    await expect(RESOLVED).resolves.toBeUndefined();
  });
});
