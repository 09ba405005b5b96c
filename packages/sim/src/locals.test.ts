import { describe, expect, it } from "vitest";
import { currentTask, point, report, spawn } from "./current.js";
import { onBlock, Simulation } from "./simulation.js";
import { SimLocal, TaskLocal } from "./task.js";
import { WaitQueue } from "./wait-queue.js";

describe("per-task and per-simulation state", () => {
  it("TaskLocal keeps one value per task", async () => {
    const depth = new TaskLocal(() => 0);
    const seen: string[] = [];
    await new Simulation({ seed: 3 }).run(async () => {
      const body = (n: number) => async () => {
        const t = currentTask()!;
        depth.set(t, n);
        await point("switch");
        seen.push(`${t.name}=${depth.get(t)}`);
      };
      const a = spawn("a", body(1));
      const b = spawn("b", body(2));
      await a.join();
      await b.join();
      seen.push(`main=${depth.get(currentTask()!)}`);
    });
    expect(seen.sort()).toEqual(["a=1", "b=2", "main=0"]);
  });

  it("SimLocal keeps one value per simulation, and a fallback outside", async () => {
    const counter = new SimLocal(() => ({ n: 0 }));
    const a = new Simulation();
    await a.run(() => {
      counter.get().n++;
      counter.get().n++;
    });
    const b = new Simulation();
    await b.run(() => {
      counter.get().n++;
    });
    expect(counter.get(a).n).toBe(2);
    expect(counter.get(b).n).toBe(1);
    counter.get().n = 7;
    expect(counter.get(null).n).toBe(7);
    counter.resetFallback();
    expect(counter.get().n).toBe(0);
  });

  it("onBlock hooks see every task about to sleep", async () => {
    const inAtomic = new TaskLocal(() => false);
    onBlock((task, wq, label) => {
      if (inAtomic.get(task))
        report(
          "sleep",
          `BUG: sleeping function called from invalid context (${label} on ${wq.name})`,
        );
    });
    const wq = new WaitQueue("q");
    const r = await new Simulation().run(async () => {
      const t = spawn("sleeper", async () => {
        inAtomic.set(currentTask()!, true);
        await wq.waitTimeout(10, "wait_event_timeout(q)");
      });
      await t.join();
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["sleep"]);
    expect(r.splats[0]!.message).toMatch(/wait_event_timeout\(q\) on q/);
    expect(r.splats[0]!.task).toBe("sleeper");
  });
});
