import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { Completion } from "./completion.js";
import { currentTask, point, report, sleep, spawn, yieldCpu } from "./current.js";
import { SimMutex } from "./mutex.js";
import { Simulation } from "./simulation.js";
import { WaitQueue } from "./wait-queue.js";

describe("Simulation", () => {
  it("runs tasks one at a time, interleaving only at points", async () => {
    const log: string[] = [];
    const sim = new Simulation({ seed: 7 });
    const r = await sim.run(async () => {
      const body = (name: string) => async () => {
        for (let i = 0; i < 3; i++) {
          log.push(`${name}${i}:a`);
          log.push(`${name}${i}:b`); // no point between a and b: never split
          await point(`${name} step ${i}`);
        }
      };
      const a = spawn("A", body("A"));
      const b = spawn("B", body("B"));
      await a.join();
      await b.join();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    for (let i = 0; i < log.length; i += 2) {
      expect(log[i]!.replace(":a", "")).toBe(log[i + 1]!.replace(":b", ""));
    }
    expect(log).toHaveLength(12);
  });

  it("gives tasks names, ids, a parent and access to current", async () => {
    const seen: string[] = [];
    const r = await new Simulation().run(async () => {
      const t = spawn("child", async () => {
        const me = currentTask()!;
        seen.push(`${me.name}[${me.id}] parent ${me.parent?.name}`);
        const g = spawn("grandchild", () => {
          seen.push(`${currentTask()!.name} parent ${currentTask()!.parent?.name}`);
        });
        await g.join();
      });
      await t.join();
      expect(t.exited).toBe(true);
    });
    expect(r.splats).toEqual([]);
    expect(seen).toEqual(["child[2] parent main", "grandchild parent child"]);
  });

  it("is deterministic: same seed, same trace", async () => {
    const scenario = async () => {
      for (let i = 0; i < 4; i++) {
        spawn(`w${i}`, async () => {
          for (let j = 0; j < 5; j++) await point(`w${i}.${j}`);
        });
      }
    };
    const a = await new Simulation({ seed: 3 }).run(scenario);
    const b = await new Simulation({ seed: 3 }).run(scenario);
    const c = await new Simulation({ seed: 4 }).run(scenario);
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.trace.firstDifference(b.trace)).toBe(0);
    expect(c.traceHash).not.toBe(a.traceHash);
  });

  it("advances virtual time only when nothing can run", async () => {
    const events: string[] = [];
    const sim = new Simulation();
    const r = await sim.run(async (s) => {
      spawn("sleeper", async () => {
        await sleep(1000);
        events.push(`woke at ${s.now}`);
      });
      spawn("busy", async () => {
        for (let i = 0; i < 10; i++) await point("spin");
        events.push(`busy done at ${s.now}`);
      });
    });
    expect(r.outcome).toBe("ok");
    expect(events).toEqual(["busy done at 0", "woke at 1000"]);
    expect(r.time).toBe(1000);
  });

  it("wait queues block and wake, with and without timeout", async () => {
    const wq = new WaitQueue("wq");
    const got: (string | boolean)[] = [];
    const r = await new Simulation().run(async (s) => {
      const waiter = spawn("waiter", async () => {
        await wq.wait();
        got.push(`woken at ${s.now}`);
      });
      const timed = spawn("timed", async () => {
        got.push(await wq.waitTimeout(500));
        got.push(`timed out at ${s.now}`);
      });
      await sleep(100);
      // wakeOne wakes the longest waiter; the timed waiter is left to time out
      const order = [waiter, timed].filter((t) => !t.exited);
      expect(order).toHaveLength(2);
      wq.wakeOne();
      await waiter.join();
      await timed.join();
    });
    expect(r.outcome).toBe("ok");
    expect(got).toContain("woken at 100");
    expect(got).toContain(false);
    expect(got).toContain("timed out at 500");
  });

  it("completions count complete() calls", async () => {
    const c = new Completion("done");
    const order: string[] = [];
    const r = await new Simulation({ seed: 2 }).run(async () => {
      const t = spawn("waiter", async () => {
        await c.wait();
        order.push("first");
        expect(await c.waitTimeout(50)).toBe(false);
        order.push("timeout");
        await c.wait();
        order.push("second");
      });
      await point("before complete");
      c.complete();
      await sleep(100);
      c.complete();
      await t.join();
    });
    expect(r.outcome).toBe("ok");
    expect(order).toEqual(["first", "timeout", "second"]);
  });

  it("reports a deadlock with both waiters (AB-BA)", async () => {
    const a = new SimMutex("A");
    const b = new SimMutex("B");
    let found = null as null | Awaited<ReturnType<Simulation["run"]>>;
    for (let seed = 1; seed < 200 && !found; seed++) {
      const r = await new Simulation({ seed }).run(async () => {
        spawn("t1", async () => {
          await a.lock();
          await b.lock();
          await b.unlock();
          await a.unlock();
        });
        spawn("t2", async () => {
          await b.lock();
          await a.lock();
          await a.unlock();
          await b.unlock();
        });
      });
      if (r.outcome === "deadlock") found = r;
    }
    expect(found).not.toBeNull();
    const d = found!.splats.find((s) => s.kind === "deadlock")!;
    expect(d.message).toMatch(/t1\[2\] waits on mutex B held by t2\[3\]/);
    expect(d.message).toMatch(/t2\[3\] waits on mutex A held by t1\[2\]/);
    expect(d.sites.map((s) => s.task).sort()).toEqual(["t1", "t2"]);
  });

  it("reports the step limit as a possible livelock", async () => {
    const r = await new Simulation({ stepLimit: 100 }).run(async () => {
      spawn("spinner", async () => {
        for (;;) await yieldCpu("spin");
      });
    });
    expect(r.outcome).toBe("livelock");
    expect(r.splats[0]!.kind).toBe("livelock");
    expect(r.splats[0]!.message).toMatch(/step limit of 100 reached: possible livelock/);
    expect(r.steps).toBe(100);
  });

  it("lets the tasks left suspended by an ended run be garbage collected", async () => {
    // A task that reaches the step limit stays suspended forever. It used to await one
    // module-wide promise that never settles, whose list of reactions kept every such task's
    // frame (and the run's whole model through it) alive for the life of the process.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const left: WeakRef<object>[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await new Simulation({ seed: i + 1, stepLimit: 40 }).run(async () => {
        const state = { n: 0, model: new Array<number>(10_000).fill(i) };
        left.push(new WeakRef(state));
        for (;;) {
          await point("spin");
          state.n++;
        }
      });
      expect(r.outcome).toBe("livelock");
    }
    await new Promise((res) => setImmediate(res));
    gc();
    expect(left.filter((w) => w.deref() !== undefined)).toHaveLength(0);
  });

  it("detects a task that escapes the simulation", async () => {
    // Something outside the simulation that settles only after the run: a real timer here (it
    // was a 5 ms setTimeout) made the test depend on the machine's load, since an expired timer
    // runs before the watchdog's setImmediate when the run starts from a check phase.
    let release!: () => void;
    const outside = new Promise<void>((res) => {
      release = res;
    });
    const r = await new Simulation().run(async () => {
      spawn("escaper", async () => {
        await point("before");
        await outside;
        await point("after");
      });
    });
    release();
    expect(r.outcome).toBe("escape");
    expect(r.splats[0]!.kind).toBe("escape");
    expect(r.splats[0]!.message).toMatch(
      /escaper\[2\] awaited something the simulation does not control/,
    );
  });

  it("detects a task awaiting a foreign promise", async () => {
    let release!: () => void;
    const foreign = new Promise<void>((res) => {
      release = res;
    });
    const r = await new Simulation().run(async () => {
      spawn("t", async () => {
        await foreign;
      });
    });
    release();
    expect(r.outcome).toBe("escape");
  });

  it("turns an exception in a task into a bug splat and goes on", async () => {
    const r = await new Simulation().run(async () => {
      const t = spawn("oops", async () => {
        await point("x");
        throw new Error("boom");
      });
      await t.join();
      report("warn", "main still runs");
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats.map((s) => s.kind)).toEqual(["bug", "warn"]);
    expect(r.splats[0]!.message).toMatch(/unhandled exception in oops\[2\]: boom/);
  });

  it("daemon tasks may stay blocked at the end", async () => {
    const wq = new WaitQueue("idle");
    const r = await new Simulation().run(async () => {
      spawn("kworker", () => wq.wait(), { daemon: true });
      await point("main");
    });
    expect(r.outcome).toBe("ok");
  });

  it("refuses overlapping runs and reuse", async () => {
    const sim = new Simulation();
    await sim.run(() => {});
    expect(() => sim.run(() => {})).toThrow(/runs once/);
    const outer = new Simulation();
    let inner: unknown;
    await outer.run(() => {
      try {
        void new Simulation().run(() => {});
      } catch (e) {
        inner = e;
      }
    });
    expect(String(inner)).toMatch(/another simulation is running/);
  });

  it("works as plain async code outside a simulation", async () => {
    const m = new SimMutex("m");
    await m.lock();
    expect(m.locked).toBe(true);
    const second = m.lock();
    await m.unlock();
    await second;
    expect(m.locked).toBe(true);
    await m.unlock();
    expect(m.locked).toBe(false);
  });

  it("validates options", () => {
    expect(() => new Simulation({ stepLimit: 0 })).toThrow(/stepLimit/);
    expect(() => new Simulation({ strategy: { kind: "pct", depth: 0 } })).toThrow(/depth/);
    expect(() => new Simulation({ strategy: { kind: "replay", token: "nope" } })).toThrow(
      /not a primetime replay token/,
    );
  });
});
