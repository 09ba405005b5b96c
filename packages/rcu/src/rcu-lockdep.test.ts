import {
  Completion,
  currentTask,
  dmesg,
  outsideDmesg,
  point,
  type RunResult,
  SimMutex,
  Simulation,
  sleep,
  spawn,
  WaitQueue,
  yieldCpu,
} from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { callRcu, RcuHead, rcuBarrier, synchronizeRcu } from "./grace-period.js";
import { RCU_SPLAT, rcuLockdepWarn, rcuReadLockHeld, rcuSleepCheck } from "./rcu-lockdep.js";
import { RcuPointer, rcuDereference, rcuDereferenceProtected } from "./rcu-pointer.js";
import { rcuReadLock, rcuReadUnlock } from "./rcu-read.js";

const run = (body: () => Promise<void>, seed = 1): Promise<RunResult> =>
  new Simulation({ seed }).run(body);

const brief = (r: RunResult) => r.splats.map((s) => [s.kind, s.message, s.object ?? null, s.task]);

describe("rcu_dereference() lockdep", () => {
  it("outside a read-side section: suspicious rcu_dereference_check() usage", async () => {
    const r = await run(async () => {
      const gp = new RcuPointer("gbl_foo", { a: 1 });
      const v = await rcuDereference(gp);
      expect(v).toEqual({ a: 1 }); // the load itself still happens
    });
    expect(r.outcome).toBe("ok");
    expect(brief(r)).toEqual([["rcu", RCU_SPLAT.dereferenceCheck, "gbl_foo", "main"]]);
    expect(RCU_SPLAT.dereferenceCheck).toBe("suspicious rcu_dereference_check() usage");
  });

  it("inside a (nested) section: no splat; after the outermost unlock: splat", async () => {
    const r = await run(async () => {
      const gp = new RcuPointer("gbl_foo", 1);
      await rcuReadLock();
      await rcuDereference(gp);
      await rcuReadLock();
      await rcuDereference(gp);
      await rcuReadUnlock();
      await rcuDereference(gp);
      await rcuReadUnlock();
      expect(dmesg().length).toBe(0);
      await rcuDereference(gp);
    });
    expect(brief(r)).toEqual([["rcu", RCU_SPLAT.dereferenceCheck, "gbl_foo", "main"]]);
  });

  it("with the update-side lock the condition names: no splat", async () => {
    const r = await run(async () => {
      const lock = new SimMutex("foo_lock");
      const gp = new RcuPointer("gbl_foo", 1);
      await lock.lock();
      expect(await rcuDereference(gp, () => lock.heldByCurrent || "foo_lock")).toBe(1);
      await lock.unlock();
    });
    expect(r.splats).toEqual([]);
  });

  it("without it: the splat names the missing lock", async () => {
    const r = await run(async () => {
      const lock = new SimMutex("foo_lock");
      const gp = new RcuPointer("gbl_foo", 1);
      await rcuDereference(gp, () => lock.heldByCurrent || "foo_lock");
      await rcuDereference(gp, () => false);
    });
    expect(brief(r)).toEqual([
      ["rcu", `${RCU_SPLAT.dereferenceCheck} (foo_lock not held)`, "gbl_foo", "main"],
      ["rcu", RCU_SPLAT.dereferenceCheck, "gbl_foo", "main"],
    ]);
  });

  it("the read lock satisfies rcu_dereference_check() whatever the condition says", async () => {
    const r = await run(async () => {
      const gp = new RcuPointer("gbl_foo", 1);
      await rcuReadLock();
      await rcuDereference(gp, () => "foo_lock");
      await rcuReadUnlock();
    });
    expect(r.splats).toEqual([]);
  });

  it("rcu_dereference_protected() needs its condition, not the read lock", async () => {
    const r = await run(async () => {
      const lock = new SimMutex("foo_lock");
      const gp = new RcuPointer("gbl_foo", 1);
      await rcuReadLock();
      await rcuDereferenceProtected(gp, () => lock.heldByCurrent || "foo_lock");
      await rcuReadUnlock();
      await lock.lock();
      await rcuDereferenceProtected(gp, () => lock.heldByCurrent || "foo_lock");
      await lock.unlock();
    });
    expect(brief(r)).toEqual([
      ["rcu", `${RCU_SPLAT.dereferenceProtected} (foo_lock not held)`, "gbl_foo", "main"],
    ]);
  });

  it("fires once per pointer and task, like RCU_LOCKDEP_WARN()'s __warned", async () => {
    const r = await run(async () => {
      const a = new RcuPointer("a", 1);
      const b = new RcuPointer("b", 1);
      for (let i = 0; i < 5; i++) await rcuDereference(a);
      await rcuDereference(b);
      await spawn("other", async () => {
        await rcuDereference(a);
      }).join();
    });
    expect(brief(r)).toEqual([
      ["rcu", RCU_SPLAT.dereferenceCheck, "a", "main"],
      ["rcu", RCU_SPLAT.dereferenceCheck, "b", "main"],
      ["rcu", RCU_SPLAT.dereferenceCheck, "a", "other"],
    ]);
  });

  it("a reader that forgot rcu_read_lock() is found among the schedules", async () => {
    const res = await explore(
      async () => {
        const gp = new RcuPointer("gbl_foo", 1);
        const good = spawn("good", async () => {
          await rcuReadLock();
          await rcuDereference(gp);
          await rcuReadUnlock();
        });
        const bad = spawn("bad", async () => {
          await rcuDereference(gp);
        });
        await good.join();
        await bad.join();
      },
      { strategy: "pct", schedules: 20 },
    );
    expect(res.firstFailure?.splats.map((s) => [s.message, s.task])).toEqual([
      [RCU_SPLAT.dereferenceCheck, "bad"],
    ]);
  });
});

describe("blocking inside a read-side section", () => {
  it("sleep(): Illegal context switch in RCU read-side critical section", async () => {
    const r = await run(async () => {
      await rcuReadLock();
      await sleep(1000);
      await rcuReadUnlock();
    });
    expect(r.outcome).toBe("ok");
    expect(brief(r)).toEqual([["rcu", RCU_SPLAT.sleepInReader, "sleep", "main"]]);
    expect(RCU_SPLAT.sleepInReader).toBe(
      "Illegal context switch in RCU read-side critical section",
    );
    // The splat points at the rcu_read_lock() that opened the section.
    expect(r.splats[0]!.sites).toEqual([
      expect.objectContaining({ role: "rcu_read_lock", task: "main", label: "rcu_read_lock" }),
    ]);
  });

  it("a wait queue, a completion, a contended mutex: one splat per section", async () => {
    const r = await run(async () => {
      const wq = new WaitQueue("foo_wait");
      const done = new Completion("foo_done");
      const lock = new SimMutex("foo_lock");
      const me = currentTask()!;
      let locked = false;
      let waiting = false;
      const waker = spawn("waker", async () => {
        await lock.lock();
        locked = true;
        while (!waiting || me.state !== "blocked") await yieldCpu();
        wq.wakeAll();
        done.complete();
        while (me.waitingOn?.name !== "mutex foo_lock") await yieldCpu();
        await lock.unlock();
      });
      while (!locked) await yieldCpu();
      await rcuReadLock();
      waiting = true;
      await wq.wait(); // splat
      await done.wait(); // the same section: already reported
      await rcuReadUnlock();
      await rcuReadLock();
      await lock.lock(); // contended, in a new section: a new splat
      await lock.unlock();
      await rcuReadUnlock();
      await waker.join();
    });
    expect(r.outcome).toBe("ok");
    expect(brief(r)).toEqual([
      ["rcu", RCU_SPLAT.sleepInReader, "foo_wait", "main"],
      ["rcu", RCU_SPLAT.sleepInReader, "mutex foo_lock", "main"],
    ]);
  });

  it("preemption points inside a section are fine: other tasks run, no splat", async () => {
    const res = await explore(
      async () => {
        let shared = 0;
        const other = spawn("other", async () => {
          for (let i = 0; i < 3; i++) {
            await point("other works");
            shared++;
          }
        });
        await rcuReadLock();
        for (let i = 0; i < 5; i++) {
          await point("reader works");
          await yieldCpu("cond_resched");
        }
        expect(rcuReadLockHeld()).toBe(true);
        await rcuReadUnlock();
        await other.join();
        expect(shared).toBe(3);
      },
      { strategy: "dfs", preemptionBound: 2, schedules: 5000 },
    );
    expect(res.firstFailure).toBeNull();
    expect(res.complete).toBe(true);
  });

  it("rcu_barrier() in a section is a sleep check even with nothing queued", async () => {
    const r = await run(async () => {
      await rcuReadLock();
      await rcuBarrier();
      await rcuReadUnlock();
    });
    expect(r.outcome).toBe("ok");
    expect(brief(r)).toEqual([["rcu", RCU_SPLAT.sleepInReader, "rcu_barrier", "main"]]);
  });

  it("rcuSleepCheck() outside a section says nothing", async () => {
    const r = await run(async () => {
      rcuSleepCheck("mutex_lock");
      await rcuReadLock();
      rcuSleepCheck("mutex_lock");
      await rcuReadUnlock();
    });
    expect(brief(r)).toEqual([["rcu", RCU_SPLAT.sleepInReader, "mutex_lock", "main"]]);
  });
});

describe("synchronize_rcu() inside a read-side section", () => {
  it("splats, then waits for its own section: a deadlock", async () => {
    const r = await run(async () => {
      await rcuReadLock();
      await synchronizeRcu();
      await rcuReadUnlock();
    });
    expect(r.outcome).toBe("deadlock");
    expect(brief(r)).toEqual([
      ["rcu", RCU_SPLAT.synchronizeInReader, "synchronize_rcu", "main"],
      ["rcu", RCU_SPLAT.sleepInReader, "completion rcu_synchronize", "main"],
      [
        "deadlock",
        expect.stringContaining("main[1] waits on completion rcu_synchronize"),
        null,
        null,
      ],
    ]);
    expect(RCU_SPLAT.synchronizeInReader).toBe(
      "Illegal synchronize_rcu() in RCU read-side critical section",
    );
  });
});

describe("task exit and unbalanced unlock", () => {
  it("a task exiting inside a section: still has locks held!, and RCU goes on", async () => {
    const r = await run(async () => {
      const t = spawn("leaky", async () => {
        await rcuReadLock();
        await rcuReadLock();
      });
      await t.join();
      // exit_rcu() closed the dead task's section: the grace period does not wait for it.
      await synchronizeRcu();
    });
    expect(r.outcome).toBe("ok");
    expect(brief(r)).toEqual([
      ["rcu", `${RCU_SPLAT.exitInReader} (nesting 2)`, "leaky/2", "leaky"],
    ]);
    expect(r.splats[0]!.sites.map((s) => s.role)).toEqual(["rcu_read_lock"]);
  });

  it("a task killed inside a section does not hold up a grace period", async () => {
    const r = await run(async () => {
      let inside = false;
      const t = spawn("oops", async () => {
        await rcuReadLock();
        inside = true;
        await point("about to oops");
        throw new Error("NULL pointer dereference");
      });
      while (!inside) await yieldCpu();
      await synchronizeRcu();
      await t.join();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats.map((s) => s.kind)).toEqual(["bug", "rcu"]);
    expect(r.splats[1]!.message).toBe(`${RCU_SPLAT.exitInReader} (nesting 1)`);
  });

  it("rcu_read_unlock() without rcu_read_lock(): bad unlock balance", async () => {
    const r = await run(async () => {
      await rcuReadUnlock();
      expect(rcuReadLockHeld()).toBe(false);
      await rcuReadLock();
      expect(rcuReadLockHeld()).toBe(true);
      await rcuReadUnlock();
    });
    expect(brief(r)).toEqual([["rcu", RCU_SPLAT.unbalancedUnlock, "rcu_read_lock", "main"]]);
  });
});

describe("RCU callbacks run in softirq context", () => {
  it("a callback that sleeps is a sleep splat", async () => {
    const r = await run(async () => {
      await callRcu(new RcuHead("foo->rcu"), async () => {
        await sleep(10);
      });
      await rcuBarrier();
    });
    expect(r.outcome).toBe("ok");
    expect(brief(r)).toEqual([["sleep", RCU_SPLAT.sleepInCallback, "foo->rcu", "rcu_gp"]]);
  });

  it("a callback that takes scheduling points is fine", async () => {
    const r = await run(async () => {
      await callRcu(new RcuHead("foo->rcu"), async () => {
        await point("kfree(foo)");
      });
      await rcuBarrier();
    });
    expect(r.splats).toEqual([]);
  });
});

describe("rcuLockdepWarn()", () => {
  it("reports its message when the condition holds", async () => {
    const r = await run(async () => {
      expect(rcuLockdepWarn(!rcuReadLockHeld(), "idr_find() needs rcu_read_lock()")).toBe(true);
      await rcuReadLock();
      expect(rcuLockdepWarn(!rcuReadLockHeld(), "idr_find() needs rcu_read_lock()")).toBe(false);
      await rcuReadUnlock();
    });
    expect(brief(r)).toEqual([["rcu", "idr_find() needs rcu_read_lock()", null, "main"]]);
  });
});

describe("outside a simulation", () => {
  it("splats go to outsideDmesg, every time", async () => {
    outsideDmesg.clear();
    const gp = new RcuPointer("gbl_foo", 1);
    await rcuDereference(gp);
    await rcuDereference(gp);
    await rcuReadLock();
    await rcuDereference(gp);
    await synchronizeRcu();
    await rcuReadUnlock();
    expect(outsideDmesg.splats.map((s) => s.message)).toEqual([
      RCU_SPLAT.dereferenceCheck,
      RCU_SPLAT.dereferenceCheck,
      RCU_SPLAT.synchronizeInReader,
    ]);
    outsideDmesg.clear();
  });
});
