import { Simulation, spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { ESRCH } from "../include/errno.js";
import {
  type CallbackHead,
  exitTaskWork,
  initUserThread,
  isUserThread,
  taskWorkAdd,
  taskWorkPending,
  taskWorkRun,
} from "./task-work.js";

describe("task work", () => {
  it("runs a user thread's works newest first, including works queued by works", async () => {
    const order: string[] = [];
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const t = spawn(
        "user",
        async () => {
          const me = t;
          const w = (name: string, then?: CallbackHead): CallbackHead => ({
            label: name,
            func: async () => {
              order.push(name);
              if (then) expect(await taskWorkAdd(me, then)).toBe(0);
            },
          });
          expect(await taskWorkAdd(me, w("a", w("c")))).toBe(0);
          expect(await taskWorkAdd(me, w("b"))).toBe(0);
          expect(taskWorkPending(me)).toBe(2);
          await taskWorkRun();
          expect(taskWorkPending(me)).toBe(0);
        },
        { kind: "user" },
      );
      initUserThread(t);
      expect(isUserThread(t)).toBe(true);
      await t.join();
    });
    expect(r.outcome).toBe("ok");
    expect(order).toEqual(["b", "a", "c"]);
  });

  it("refuses tasks that never return to userspace, and tasks past exit_task_work()", async () => {
    const results: Record<string, number> = {};
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const work: CallbackHead = { func: () => {} };
      const k = spawn("kthread", async () => {}, { kind: "kernel" });
      initUserThread(k);
      expect(isUserThread(k)).toBe(false); // a kthread stays a kthread
      results.kthread = await taskWorkAdd(k, work);
      const bare = spawn("bare", async () => {}, { kind: "user" });
      expect(isUserThread(bare)).toBe(false); // not a process thread
      results.bare = await taskWorkAdd(bare, work);
      const u = spawn(
        "exiting",
        async () => {
          await exitTaskWork();
          results.exiting = await taskWorkAdd(u, work);
        },
        { kind: "user" },
      );
      initUserThread(u);
      await k.join();
      await bare.join();
      await u.join();
    });
    expect(r.outcome).toBe("ok");
    expect(results).toEqual({ kthread: -ESRCH, bare: -ESRCH, exiting: -ESRCH });
  });

  it("exit_task_work() runs what is queued before closing the list", async () => {
    const ran: string[] = [];
    await new Simulation({ seed: 1 }).run(async () => {
      const u = spawn(
        "u",
        async () => {
          await taskWorkAdd(u, { func: () => void ran.push("late fput") });
          await exitTaskWork();
        },
        { kind: "user" },
      );
      initUserThread(u);
      await u.join();
    });
    expect(ran).toEqual(["late fput"]);
  });
});
