import { describe, expect, it } from "vitest";
import { Simulation } from "./simulation.js";
import type { Task } from "./task.js";
import {
  TASK_INTERRUPTIBLE,
  TASK_KILLABLE,
  TASK_UNINTERRUPTIBLE,
  TASK_WAKEKILL,
  WaitQueue,
  wakeUpState,
} from "./wait-queue.js";

describe("wakeUpState() (wake_up_state())", () => {
  it("wakes a task in an interruptible or killable sleep off its queue; an uninterruptible sleep stays asleep", async () => {
    const woken: Record<string, boolean> = {};
    const results: boolean[] = [];
    const r = await new Simulation({ seed: 1 }).run(async (sim) => {
      const wq = new WaitQueue("q");
      const tasks: Task[] = [];
      for (const [name, state] of [
        ["intr", TASK_INTERRUPTIBLE],
        ["killable", TASK_KILLABLE],
        ["unintr", TASK_UNINTERRUPTIBLE],
      ] as const) {
        tasks.push(
          sim.spawn(name, async () => {
            await wq.wait(`wait(${name})`, state);
            woken[name] = true;
          }),
        );
      }
      while (wq.waiting < 3) await sim.yield();
      for (const t of tasks) results.push(wakeUpState(t, TASK_INTERRUPTIBLE | TASK_WAKEKILL));
      await tasks[0]!.join();
      await tasks[1]!.join();
      expect(woken.unintr).toBeUndefined();
      // Only the uninterruptible sleeper is still queued: one wakeOne() reaches it.
      expect(wq.waiting).toBe(1);
      // A task no longer asleep is not woken again.
      expect(wakeUpState(tasks[0]!, TASK_INTERRUPTIBLE)).toBe(false);
      wq.wakeOne();
      await tasks[2]!.join();
    });
    expect(r.outcome).toBe("ok");
    expect(results).toEqual([true, true, false]);
    expect(woken).toEqual({ intr: true, killable: true, unintr: true });
  });

  it("a killable sleep is not woken by a mask without TASK_WAKEKILL; a timed interruptible wait reports the wake as woken", async () => {
    let timed: boolean | null = null;
    const r = await new Simulation({ seed: 1 }).run(async (sim) => {
      const wq = new WaitQueue("q");
      const k = sim.spawn("killable", () => wq.wait("w", TASK_KILLABLE));
      const t = sim.spawn("timed", async () => {
        timed = await wq.waitTimeout(1_000_000, "wt", TASK_INTERRUPTIBLE);
      });
      while (wq.waiting < 2) await sim.yield();
      expect(wakeUpState(k, TASK_INTERRUPTIBLE)).toBe(false);
      expect(wakeUpState(t, TASK_INTERRUPTIBLE)).toBe(true);
      await t.join();
      expect(sim.now).toBe(0);
      expect(wakeUpState(k, TASK_WAKEKILL)).toBe(true);
      await k.join();
    });
    expect(r.outcome).toBe("ok");
    expect(timed).toBe(true);
  });
});
