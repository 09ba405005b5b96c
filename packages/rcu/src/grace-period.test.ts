import {
  Completion,
  currentSimulation,
  outsideDmesg,
  point,
  type RunResult,
  report,
  SimMutex,
  Simulation,
  sleep,
  spawn,
  yieldCpu,
} from "@primetime/sim";
import { type ExploreOptions, explore } from "@primetime/sim/explore";
import { noSplats } from "@primetime/sim/testing";
import { describe, expect, it } from "vitest";
import {
  callRcu,
  RcuHead,
  rcuBarrier,
  rcuGetGpSeq,
  rcuPendingCallbacks,
  synchronizeRcu,
} from "./grace-period.js";
import { RcuPointer, rcuDereference, rcuReplacePointer } from "./rcu-pointer.js";
import { rcuReadLock, rcuReadUnlock } from "./rcu-read.js";
import { rcuSeqState } from "./rcu-state.js";

/**
 * Runs `body` under explore(); after each run `verdict` says what went wrong (null: nothing).
 * Returns the first complaint, if any, with the search result.
 */
async function search<O>(
  init: () => O,
  body: (obs: O) => Promise<void>,
  verdict: (r: RunResult, obs: O) => string | null,
  opts: ExploreOptions,
) {
  let obs = init();
  let why: string | null = null;
  const res = await explore(
    async () => {
      obs = init();
      await body(obs);
    },
    {
      ...opts,
      isFailure: (r) => {
        why = verdict(r, obs);
        return why !== null;
      },
    },
  );
  return { res, why: why as string | null };
}

const gpsCompleted = () => rcuGetGpSeq() >> 2;

describe("synchronizeRcu", () => {
  // Reader 1 is inside when the updater calls synchronize_rcu(); reader 2 enters once the grace
  // period has started and stays inside until the updater has returned. The grace period must
  // wait for reader 1 only.
  interface Obs {
    log: string[];
    r2InsideAtReturn: boolean;
    r2SawReturnInside: boolean;
  }
  const init = (): Obs => ({ log: [], r2InsideAtReturn: false, r2SawReturnInside: false });
  const body = async (obs: Obs) => {
    const r1In = new Completion("reader1 inside");
    const gpStarted = new Completion("grace period started");
    let r2In = false;
    let r2Inside = false;
    let updaterDone = false;
    const r1 = spawn("reader1", async () => {
      await rcuReadLock();
      r1In.complete();
      // Readers must not block in their sections: they spin.
      while (rcuSeqState(rcuGetGpSeq()) === 0) await yieldCpu("reader1 in section");
      gpStarted.complete();
      while (!r2In) await yieldCpu("reader1 in section");
      await rcuReadUnlock();
      obs.log.push("reader1 out");
    });
    const r2 = spawn("reader2", async () => {
      await gpStarted.wait();
      await rcuReadLock();
      r2In = true;
      r2Inside = true;
      for (let i = 0; i < 5000 && !updaterDone; i++) await yieldCpu("reader2 in section");
      obs.r2SawReturnInside = updaterDone;
      await rcuReadUnlock();
      r2Inside = false;
      obs.log.push("reader2 out");
    });
    const up = spawn("updater", async () => {
      await r1In.wait();
      await synchronizeRcu();
      obs.log.push("synchronize_rcu returned");
      obs.r2InsideAtReturn = r2Inside;
      updaterDone = true;
    });
    await r1.join();
    await r2.join();
    await up.join();
  };
  const verdict = (r: RunResult, obs: Obs) => {
    const bad = noSplats(r);
    if (bad) return bad;
    const out1 = obs.log.indexOf("reader1 out");
    const ret = obs.log.indexOf("synchronize_rcu returned");
    if (out1 < 0 || ret < 0 || out1 > ret) return `bad order: ${obs.log.join(", ")}`;
    if (!obs.r2InsideAtReturn) return "synchronize_rcu waited for a reader that began after it";
    if (!obs.r2SawReturnInside) return "reader2 left before synchronize_rcu returned";
    return null;
  };

  // The two readers spin, each until the other moved. Under PCT the task that yielded last
  // outranks every earlier yielder (PctStrategy.yielded() in @primetime/sim), so one spinner
  // starves the other: this model runs under the random strategy, over many seeds.
  it("waits for pre-existing readers and not for new ones", async () => {
    const { res, why } = await search(init, body, verdict, {
      strategy: "random",
      schedules: 300,
      seed: 7,
    });
    expect(why).toBeNull();
    expect(res.schedules).toBe(300);
  });

  it("runs in the lazily spawned daemon kthread rcu_gp", async () => {
    const sim = new Simulation({ seed: 3 });
    const r = await sim.run(async () => {
      expect(sim.allTasks().some((t) => t.name === "rcu_gp")).toBe(false);
      await rcuReadLock();
      await rcuReadUnlock();
      expect(sim.allTasks().some((t) => t.name === "rcu_gp")).toBe(false);
      await synchronizeRcu();
      await synchronizeRcu();
      expect(gpsCompleted()).toBe(2);
    });
    expect(r.outcome).toBe("ok");
    const gp = sim.allTasks().filter((t) => t.name === "rcu_gp");
    expect(gp).toHaveLength(1);
    expect(gp[0]!.daemon).toBe(true);
    expect(gp[0]!.kind).toBe("kernel");
    expect(gp[0]!.state).toBe("blocked");
  });

  it("a reader that never leaves keeps synchronize_rcu() waiting", async () => {
    const sim = new Simulation({ seed: 1, stepLimit: 2000 });
    let returned = false;
    const r = await sim.run(async () => {
      let inside = false;
      spawn("reader", async () => {
        await rcuReadLock();
        inside = true;
        for (;;) await yieldCpu("reader in section");
      });
      while (!inside) await yieldCpu("main waits for the reader");
      await synchronizeRcu();
      returned = true;
    });
    expect(r.outcome).toBe("livelock");
    expect(returned).toBe(false);
    expect(sim.allTasks()[0]!.lastLabel).toBe("wait_rcu_gp");
  });
});

describe("waking the grace-period kthread", () => {
  // PREEMPT_RCU wakes the grace-period kthread from rcu_read_unlock() only through
  // rcu_read_unlock_special() of a reader that was preempted inside its section (on the
  // rcu_node's blkd_tasks list when the grace period began), and only when it was the last one
  // the grace period waited for (rcu_report_unblock_qs_rnp() -> rcu_report_qs_rsp() ->
  // rcu_gp_kthread_wake()). Here every holdout is such a reader: rcu_gp_init() runs in rcu_gp
  // while the reader is switched out. So: a reader that entered after the grace period began
  // wakes nothing, an earlier holdout wakes nothing, the last holdout wakes rcu_gp.
  interface Obs {
    states: string[];
  }
  const init = (): Obs => ({ states: [] });
  const body = async (obs: Obs) => {
    let r1In = false;
    let r2In = false;
    let r3Done = false;
    let r1Done = false;
    const gpStarted = () => rcuSeqState(rcuGetGpSeq()) !== 0;
    const gpState = () =>
      currentSimulation()!
        .allTasks()
        .find((t) => t.name === "rcu_gp")!.state;
    const r1 = spawn("reader1", async () => {
      await rcuReadLock();
      r1In = true;
      while (!gpStarted() || !r3Done) await yieldCpu("reader1 in section");
      await rcuReadUnlock();
      obs.states.push(`reader1 (holdout) out: rcu_gp ${gpState()}`);
      r1Done = true;
    });
    const r2 = spawn("reader2", async () => {
      await rcuReadLock();
      r2In = true;
      while (!r1Done) await yieldCpu("reader2 in section");
      await rcuReadUnlock();
      obs.states.push(`reader2 (last holdout) out: rcu_gp ${gpState()}`);
    });
    const r3 = spawn("reader3", async () => {
      while (!gpStarted()) await yieldCpu("reader3 waits for the grace period");
      await rcuReadLock();
      await rcuReadUnlock();
      obs.states.push(`reader3 (not a holdout) out: rcu_gp ${gpState()}`);
      r3Done = true;
    });
    const up = spawn("updater", async () => {
      while (!r1In || !r2In) await yieldCpu("updater waits for the readers");
      await synchronizeRcu();
    });
    for (const t of [r1, r2, r3, up]) await t.join();
  };
  const expected = [
    "reader3 (not a holdout) out: rcu_gp blocked",
    "reader1 (holdout) out: rcu_gp blocked",
    "reader2 (last holdout) out: rcu_gp runnable",
  ];

  it("only the last holdout's outermost unlock wakes rcu_gp", async () => {
    const { res, why } = await search(
      init,
      body,
      (r, obs) =>
        noSplats(r) ??
        (r.outcome !== "ok" || obs.states.join("|") !== expected.join("|")
          ? `${r.outcome}: ${obs.states.join(", ")}`
          : null),
      { strategy: "random", schedules: 50, seed: 5 },
    );
    expect(why).toBeNull();
    expect(res.schedules).toBe(50);
  });
});

describe("callRcu and rcuBarrier", () => {
  // A reader is inside a section (for a bounded spin) while an updater queues callbacks A..E.
  // A callback queued while the reader was inside must run after it left; each callback must
  // run after the grace periods rcu_seq_snap() asked for at queue time; all run in order; and
  // rcu_barrier() returns after all of them.
  interface Obs {
    ran: string[];
    /** Grace periods completed when each callback ran, and the number it needed. */
    gpOf: Map<string, number>;
    needed: Map<string, number>;
    waitsForReader: Set<string>;
    early: string[];
    afterBarrier: string[];
  }
  const init = (): Obs => ({
    ran: [],
    gpOf: new Map(),
    needed: new Map(),
    waitsForReader: new Set(),
    early: [],
    afterBarrier: [],
  });
  /** rcu_seq_snap(): the grace periods that must complete for a callback queued now. */
  const snap = () => {
    const seq = rcuGetGpSeq();
    return (seq >> 2) + (rcuSeqState(seq) === 0 ? 1 : 2);
  };
  let queuedDuringGp = 0;
  const body = async (obs: Obs) => {
    const entered = new Completion("reader inside");
    let inSection = false;
    let readerOut = false;
    const reader = spawn("reader", async () => {
      await rcuReadLock();
      inSection = true;
      entered.complete();
      for (let i = 0; i < 30; i++) await yieldCpu("reader in section");
      await rcuReadUnlock();
      inSection = false;
      readerOut = true;
    });
    const updater = spawn("updater", async () => {
      await entered.wait();
      for (const name of ["A", "B", "C", "D", "E"]) {
        await callRcu(new RcuHead(name), () => {
          if (obs.waitsForReader.has(name) && !readerOut) obs.early.push(name);
          obs.ran.push(name);
          obs.gpOf.set(name, gpsCompleted());
        });
        // callRcu() queued the callback at its last step: the state now is the state then.
        obs.needed.set(name, snap());
        if (rcuSeqState(rcuGetGpSeq()) !== 0) queuedDuringGp++;
        if (inSection) obs.waitsForReader.add(name);
        await point("updater between callbacks");
      }
      await rcuBarrier();
      obs.afterBarrier = [...obs.ran];
    });
    await reader.join();
    await updater.join();
  };
  const verdict = (r: RunResult, obs: Obs) => {
    const bad = noSplats(r);
    if (bad) return bad;
    if (obs.early.length > 0) return `ran before their grace period: ${obs.early}`;
    if (obs.ran.join("") !== "ABCDE") return `order ${obs.ran.join("")}`;
    if (obs.afterBarrier.join("") !== "ABCDE") return `barrier returned after ${obs.afterBarrier}`;
    for (const [name, gp] of obs.gpOf) {
      if (gp < obs.needed.get(name)!) return `${name} ran after ${gp} grace periods`;
    }
    return null;
  };

  it("invokes callbacks after their grace period, in order; rcu_barrier waits (PCT)", async () => {
    queuedDuringGp = 0;
    const { res, why } = await search(init, body, verdict, { strategy: "pct", schedules: 200 });
    expect(why).toBeNull();
    expect(res.schedules).toBe(200);
    // The search reached callbacks queued while a grace period was in progress.
    expect(queuedDuringGp).toBeGreaterThan(0);
  });

  it("invokes callbacks after their grace period, in order; rcu_barrier waits (random)", async () => {
    const { why } = await search(init, body, verdict, { strategy: "random", schedules: 150 });
    expect(why).toBeNull();
  });

  it("invokes callbacks after their grace period, in order; rcu_barrier waits (DFS)", async () => {
    const { res, why } = await search(init, body, verdict, {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 3000,
    });
    expect(why).toBeNull();
    expect(res.schedules).toBeGreaterThan(20);
  });

  it("rcu_barrier waits for callbacks queued by other tasks, at every stage", async () => {
    // Callbacks from three tasks; each rcu_barrier() must find every callback its own task
    // queued before it already invoked (whatever stage the others are at).
    const { why } = await search(
      () => ({ missing: [] as string[] }),
      async (obs) => {
        const ran = new Set<string>();
        const tasks = [0, 1, 2].map((i) =>
          spawn(`t${i}`, async () => {
            const mine: string[] = [];
            for (let k = 0; k < 2; k++) {
              const name = `t${i}.${k}`;
              mine.push(name);
              await callRcu(new RcuHead(name), async () => {
                await point(`kfree(${name})`);
                ran.add(name);
              });
            }
            await rcuBarrier();
            for (const n of mine) if (!ran.has(n)) obs.missing.push(n);
          }),
        );
        for (const t of tasks) await t.join();
        if (rcuPendingCallbacks() !== 0) obs.missing.push("pending at the end");
      },
      (r, obs) => noSplats(r) ?? (obs.missing.length ? `not run: ${obs.missing}` : null),
      { strategy: "pct", schedules: 150 },
    );
    expect(why).toBeNull();
  });

  it("rcu_barrier with nothing queued returns without a grace period", async () => {
    const sim = new Simulation({ seed: 1 });
    const r = await sim.run(async () => {
      await rcuBarrier();
      expect(sim.allTasks().map((t) => t.name)).toEqual(["main"]);
      await callRcu(new RcuHead("x"), () => {});
      await rcuBarrier();
      expect(rcuPendingCallbacks()).toBe(0);
      expect(gpsCompleted()).toBe(1);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
  });

  it("a callback may queue its own head again; it runs after another grace period", async () => {
    const r = await new Simulation({ seed: 5 }).run(async () => {
      const head = new RcuHead("obj->rcu");
      const gps: number[] = [];
      await callRcu(head, async (h) => {
        gps.push(gpsCompleted());
        await callRcu(h, () => {
          gps.push(gpsCompleted());
        });
      });
      await rcuBarrier();
      expect(gps).toEqual([1]);
      await rcuBarrier();
      expect(gps).toEqual([1, 2]);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
  });

  it("call_rcu() from a timer callback (scheduler context) queues at once", async () => {
    const sim = new Simulation({ seed: 6 });
    const ran: number[] = [];
    const r = await sim.run(async () => {
      sim.addTimer(100, () => {
        void callRcu(new RcuHead("timer"), () => {
          ran.push(sim.now);
        });
        expect(rcuPendingCallbacks()).toBe(1);
      });
      await sleep(200);
      await rcuBarrier();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(ran).toEqual([100]);
  });

  it("a double call_rcu() warns and leaks the object", async () => {
    const r = await new Simulation({ seed: 2 }).run(async () => {
      let frees = 0;
      const head = new RcuHead("obj->rcu");
      await callRcu(head, () => {
        frees++;
      });
      await callRcu(head, () => {
        frees++;
      });
      await rcuBarrier();
      expect(frees).toBe(0);
      expect(head.queued).toBe(false);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats.map((s) => [s.kind, s.message, s.object])).toEqual([
      ["warn", "__call_rcu(): Double-freed CB obj->rcu", "obj->rcu"],
    ]);
  });

  it("a callback that oopses is reported and abandoned; the others still run", async () => {
    const sim = new Simulation({ seed: 4 });
    const order: string[] = [];
    const r = await sim.run(async () => {
      await callRcu(new RcuHead("bad"), () => {
        throw new Error("callback oops");
      });
      await callRcu(new RcuHead("after"), () => {
        order.push("after");
      });
      await synchronizeRcu();
      await callRcu(new RcuHead("later"), () => {
        order.push("later");
      });
      await rcuBarrier();
    });
    expect(r.outcome).toBe("ok");
    expect(order).toEqual(["after", "later"]);
    expect(r.splats.map((s) => [s.kind, s.message, s.task])).toEqual([
      ["bug", "unhandled exception in RCU callback bad: callback oops", "rcu_gp"],
    ]);
    expect(sim.allTasks().filter((t) => t.name === "rcu_gp")).toHaveLength(1);
  });
});

describe("publish, remove, free", () => {
  // The classic RCU update: unpublish under the update-side lock, wait for a grace period, free.
  // Readers dereference under rcu_read_lock() and touch the object; touching a freed object is
  // what KASAN would report (the slab itself lives in @primetime/kernel).
  class Foo {
    freed = false;
    readonly rcu: RcuHead;
    constructor(readonly name: string) {
      this.rcu = new RcuHead(`${name}->rcu`);
    }
    async kfree(): Promise<void> {
      await point(`kfree(${this.name})`);
      this.freed = true;
    }
  }

  type Mode = "synchronize_rcu" | "call_rcu" | "no grace period";
  const scenario = (mode: Mode, readers: number) => async () => {
    const gbl = new RcuPointer<Foo>("gbl_foo", new Foo("foo"));
    const lock = new SimMutex("foo_lock");
    const rs = Array.from({ length: readers }, (_, i) =>
      spawn(`reader${i}`, async () => {
        await rcuReadLock();
        const p = await rcuDereference(gbl);
        if (p) {
          await point(`read ${p.name}->a`);
          if (p.freed)
            report("kasan", "BUG: KASAN: slab-use-after-free in reader", { object: p.name });
        }
        await rcuReadUnlock();
      }),
    );
    const up = spawn("updater", async () => {
      await lock.lock();
      const old = await rcuReplacePointer(gbl, null, () => lock.heldByCurrent || "foo_lock");
      await lock.unlock();
      if (!old) return;
      if (mode === "synchronize_rcu") {
        await synchronizeRcu();
        await old.kfree();
      } else if (mode === "call_rcu") {
        await callRcu(old.rcu, () => old.kfree());
      } else {
        await old.kfree();
      }
    });
    for (const t of rs) await t.join();
    await up.join();
    await rcuBarrier();
  };

  it("with synchronize_rcu(): no reader sees a freed object (DFS, complete)", async () => {
    const res = await explore(scenario("synchronize_rcu", 1), {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 20_000,
    });
    expect(res.firstFailure?.splats ?? []).toEqual([]);
    expect(res.complete).toBe(true);
    expect(res.schedules).toBeGreaterThan(50);
  });

  it("with synchronize_rcu(): no reader sees a freed object (PCT, two readers)", async () => {
    const res = await explore(scenario("synchronize_rcu", 2), { strategy: "pct", schedules: 300 });
    expect(res.firstFailure?.splats ?? []).toEqual([]);
    expect(res.stats.outcomes.ok).toBe(300);
  });

  it("with call_rcu(): no reader sees a freed object (DFS, complete)", async () => {
    const res = await explore(scenario("call_rcu", 1), {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 20_000,
    });
    expect(res.firstFailure?.splats ?? []).toEqual([]);
    expect(res.complete).toBe(true);
  });

  it("with call_rcu(): no reader sees a freed object (PCT, two readers)", async () => {
    const res = await explore(scenario("call_rcu", 2), { strategy: "pct", schedules: 300 });
    expect(res.firstFailure).toBeNull();
  });

  it("without a grace period a reader touches the freed object (PCT finds it)", async () => {
    const res = await explore(scenario("no grace period", 2), { strategy: "pct", schedules: 400 });
    const r = res.firstFailure;
    expect(r).not.toBeNull();
    expect(r!.splats.map((s) => [s.kind, s.object])).toEqual([["kasan", "foo"]]);
    expect(r!.splats[0]!.task).toMatch(/^reader/);
  });

  it("without a grace period DFS finds it too", async () => {
    const res = await explore(scenario("no grace period", 1), {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 20_000,
    });
    expect(res.firstFailure?.splats.map((s) => s.kind)).toEqual(["kasan"]);
  });
});

describe("outside a simulation", () => {
  it("call_rcu() outside a section invokes the callback at once", async () => {
    const ran: string[] = [];
    await callRcu(new RcuHead("a"), () => {
      ran.push("a");
    });
    expect(ran).toEqual(["a"]);
  });

  it("call_rcu() inside a section waits for the outermost unlock", async () => {
    const ran: string[] = [];
    await rcuReadLock();
    await rcuReadLock();
    await callRcu(new RcuHead("a"), () => {
      ran.push("a");
    });
    await callRcu(new RcuHead("b"), () => {
      ran.push("b");
    });
    await rcuReadUnlock();
    expect(ran).toEqual([]);
    expect(rcuPendingCallbacks()).toBe(2);
    await rcuReadUnlock();
    expect(ran).toEqual(["a", "b"]);
    expect(rcuPendingCallbacks()).toBe(0);
  });

  it("synchronize_rcu() and rcu_barrier() return", async () => {
    outsideDmesg.clear();
    await synchronizeRcu();
    await rcuBarrier();
    expect(outsideDmesg.length).toBe(0);
  });
});
