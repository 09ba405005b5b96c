import { rcuReadLock } from "@primetime/rcu";
import {
  Completion,
  now,
  type RunResult,
  report,
  type Simulation as Sim,
  Simulation,
  sleep,
  spawn,
} from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { expectClean } from "@primetime/sim/testing";
import { describe, expect, it } from "vitest";
import { Mutex } from "../locking/mutex.js";
import {
  allocOrderedWorkqueue,
  allocWorkqueue,
  cancelDelayedWork,
  cancelDelayedWorkSync,
  cancelWork,
  cancelWorkSync,
  currentWork,
  DelayedWork,
  delayedWorkPending,
  destroyWorkqueue,
  drainWorkqueue,
  flushDelayedWork,
  flushWork,
  flushWorkqueue,
  modDelayedWork,
  queueDelayedWork,
  queueWork,
  scheduleDelayedWork,
  scheduleWork,
  systemUnboundWq,
  systemWq,
  toDelayedWork,
  WorkStruct,
  workPending,
  workqueueWorkers,
} from "./workqueue.js";

function run(fn: (sim: Sim) => Promise<void>, seed = 1): Promise<RunResult> {
  return new Simulation({ seed }).run(fn);
}

describe("queueing and execution", () => {
  it("an ordered workqueue runs its items one at a time in queue order", async () => {
    const log: string[] = [];
    const r = await run(async () => {
      const wq = allocOrderedWorkqueue("ordered");
      const mk = (n: string) =>
        new WorkStruct(async () => {
          log.push(`${n}+`);
          await sleep(10);
          log.push(`${n}-`);
        }, n);
      for (const w of [mk("a"), mk("b"), mk("c")]) expect(await queueWork(wq, w)).toBe(true);
      await flushWorkqueue(wq);
      log.push("flushed");
      expect(workqueueWorkers(wq)).toHaveLength(1);
    });
    expectClean(r);
    expect(log).toEqual(["a+", "a-", "b+", "b-", "c+", "c-", "flushed"]);
  });

  it("a pending item is not queued twice, and can be queued again once it runs", async () => {
    let runs = 0;
    const r = await run(async () => {
      const w = new WorkStruct(() => {
        runs++;
      }, "once");
      expect(await scheduleWork(w)).toBe(true);
      expect(workPending(w)).toBe(true);
      expect(await scheduleWork(w)).toBe(false);
      expect(await flushWork(w)).toBe(true);
      expect(runs).toBe(1);
      expect(workPending(w)).toBe(false);
      expect(await flushWork(w)).toBe(false);
      expect(await queueWork(systemWq(), w)).toBe(true);
      await flushWork(w);
      expect(runs).toBe(2);
    });
    expectClean(r);
  });

  it("work functions run in daemon kworker tasks; a finished scenario is not a deadlock", async () => {
    const ranIn: string[] = [];
    const seen: (WorkStruct | null)[] = [];
    const r = await run(async (sim) => {
      const probe = new WorkStruct(async () => {
        seen.push(currentWork());
        ranIn.push(sim.current!.name);
        await sleep(5);
      }, "probe");
      const unbound = new WorkStruct(() => {
        ranIn.push(sim.current!.name);
      }, "unbound");
      await scheduleWork(probe);
      await queueWork(systemUnboundWq(), unbound);
      expect(currentWork()).toBeNull();
      seen.push(probe);
      // No flush: main exits while the workers run, then they idle forever.
    });
    expectClean(r);
    expect(ranIn.sort()).toEqual(["kworker/events:0", "kworker/events_unbound:0"]);
    expect(seen[0]).toBe(seen[1]);
  });

  it("max_active bounds concurrency; workers are created lazily up to it", async () => {
    let running = 0;
    let peak = 0;
    const r = await run(async () => {
      const wq = allocWorkqueue("limited", { maxActive: 2 });
      const items = [1, 2, 3, 4, 5].map(
        (i) =>
          new WorkStruct(async () => {
            running++;
            peak = Math.max(peak, running);
            await sleep(100);
            running--;
          }, `item${i}`),
      );
      expect(workqueueWorkers(wq)).toEqual([]);
      for (const w of items) await queueWork(wq, w);
      await flushWorkqueue(wq);
      const workers = workqueueWorkers(wq);
      expect(workers.length).toBe(2);
      for (const n of workers) expect(n).toMatch(/^kworker\/limited:[01]\[\d+\]$/);
      // Three rounds of at most two 100 ns items.
      expect(now()).toBe(300);
    });
    expectClean(r);
    expect(peak).toBe(2);
  });

  it("an item requeued while it runs runs again after, never concurrently with itself", async () => {
    let active = 0;
    let runs = 0;
    const r = await run(async () => {
      const wq = allocWorkqueue("reentry", { maxActive: 4 });
      const started = new Completion("started");
      const w = new WorkStruct(async () => {
        active++;
        runs++;
        if (active > 1) report("warn", "work item reentered");
        started.complete();
        await sleep(50);
        active--;
      }, "reentry");
      await queueWork(wq, w);
      await started.wait();
      // PENDING was cleared before the call: it can be queued again while it runs.
      expect(workPending(w)).toBe(false);
      expect(await queueWork(wq, w)).toBe(true);
      const other = spawn("other", async () => {
        await queueWork(wq, new WorkStruct(() => sleep(10), "filler"));
      });
      await other.join();
      expect(await flushWork(w)).toBe(true);
      expect(runs).toBe(2);
      expect(now()).toBe(100);
    });
    expectClean(r);
  });

  it("a work item may requeue itself; flush_work waits for one instance only", async () => {
    const times: number[] = [];
    const r = await run(async () => {
      const done = new Completion("three");
      const w: WorkStruct = new WorkStruct(async () => {
        times.push(now());
        await sleep(10);
        if (times.length < 3) expect(await scheduleWork(w)).toBe(true);
        else done.complete();
      }, "self");
      await scheduleWork(w);
      expect(await flushWork(w)).toBe(true);
      expect(times.length).toBeGreaterThanOrEqual(1);
      await done.wait();
      expect(times).toEqual([0, 10, 20]);
      await flushWork(w);
    });
    expectClean(r);
  });

  it("flush_workqueue waits for items queued before it, not for later ones", async () => {
    const log: string[] = [];
    const r = await run(async () => {
      const wq = allocWorkqueue("flushme");
      const late = new WorkStruct(async () => {
        await sleep(1000);
        log.push("late");
      }, "late");
      const early = new WorkStruct(async () => {
        await sleep(100);
        log.push("early");
        await queueWork(wq, late);
      }, "early");
      await queueWork(wq, early);
      await flushWorkqueue(wq);
      log.push(`flushed@${now()}`);
      await flushWorkqueue(wq);
      log.push(`flushed@${now()}`);
      // Nothing in flight: returns at once.
      await flushWorkqueue(wq);
    });
    expectClean(r);
    expect(log).toEqual(["early", "flushed@100", "late", "flushed@1100"]);
  });
});

describe("delayed work", () => {
  it("fires at the right virtual time; a pending one is not rearmed; delay 0 queues at once", async () => {
    const fired: number[] = [];
    const r = await run(async () => {
      const dw = new DelayedWork(async (work) => {
        expect(toDelayedWork(work)).toBe(dw);
        fired.push(now());
      }, "timeout");
      expect(await queueDelayedWork(systemWq(), dw, 5000)).toBe(true);
      expect(delayedWorkPending(dw)).toBe(true);
      expect(await scheduleDelayedWork(dw, 10)).toBe(false);
      // Not queued yet: flush_work() has nothing to wait for.
      expect(await flushWork(dw.work)).toBe(false);
      await sleep(4999);
      expect(fired).toEqual([]);
      await sleep(2);
      expect(fired).toEqual([5000]);
      expect(delayedWorkPending(dw)).toBe(false);
      await queueDelayedWork(systemWq(), dw, 0);
      expect(await flushWork(dw.work)).toBe(true);
      expect(fired).toEqual([5000, 5001]);
    });
    expectClean(r);
  });

  it("mod_delayed_work rearms a pending timer (true) or queues an idle item (false)", async () => {
    const fired: number[] = [];
    const r = await run(async () => {
      const wq = allocWorkqueue("mod");
      const dw = new DelayedWork(() => {
        fired.push(now());
      }, "rearm");
      expect(await modDelayedWork(wq, dw, 1000)).toBe(false);
      await sleep(500);
      expect(await modDelayedWork(wq, dw, 1000)).toBe(true);
      await sleep(2000);
      expect(fired).toEqual([1500]);
      // A zero delay runs it at once, pending or not.
      await queueDelayedWork(wq, dw, 700);
      expect(await modDelayedWork(wq, dw, 0)).toBe(true);
      await flushWorkqueue(wq);
      expect(fired).toEqual([1500, 2500]);
    });
    expectClean(r);
  });

  it("flush_delayed_work runs a pending timer's item now and waits for it", async () => {
    const fired: number[] = [];
    const r = await run(async () => {
      const dw = new DelayedWork(async () => {
        await sleep(3);
        fired.push(now());
      }, "flushed");
      await scheduleDelayedWork(dw, 1_000_000);
      expect(await flushDelayedWork(dw)).toBe(true);
      expect(fired).toEqual([3]);
      expect(await flushDelayedWork(dw)).toBe(false);
    });
    expectClean(r);
    // The timer was stopped: the run did not wait for it.
    expect(r.time).toBe(3);
  });

  it("cancel_delayed_work_sync cancels a pending timer", async () => {
    let runs = 0;
    const r = await run(async () => {
      const dw = new DelayedWork(() => {
        runs++;
      }, "cancelled");
      await scheduleDelayedWork(dw, 1000);
      await sleep(10);
      expect(await cancelDelayedWorkSync(dw)).toBe(true);
      expect(delayedWorkPending(dw)).toBe(false);
      expect(await cancelDelayedWorkSync(dw)).toBe(false);
    });
    expectClean(r);
    expect(runs).toBe(0);
    expect(r.time).toBe(10);
  });

  it("cancel_delayed_work_sync waits for a running instance; queueing fails meanwhile", async () => {
    const log: string[] = [];
    const r = await run(async () => {
      const started = new Completion("started");
      const dw: DelayedWork = new DelayedWork(async () => {
        log.push(`start@${now()}`);
        started.complete();
        await sleep(500);
        // Rearming itself while being cancelled fails: the canceller holds PENDING.
        log.push(`requeue=${await scheduleDelayedWork(dw, 10)}`);
        log.push(`end@${now()}`);
      }, "slow");
      await scheduleDelayedWork(dw, 100);
      await started.wait();
      expect(await cancelDelayedWorkSync(dw)).toBe(false);
      log.push(`cancelled@${now()}`);
      expect(delayedWorkPending(dw)).toBe(false);
    });
    expectClean(r);
    expect(log).toEqual(["start@100", "requeue=false", "end@600", "cancelled@600"]);
  });

  it("cancel_delayed_work does not wait; cancel_work takes a queued item off", async () => {
    const log: string[] = [];
    const r = await run(async () => {
      const wq = allocOrderedWorkqueue("nowait");
      const started = new Completion("started");
      const dw = new DelayedWork(async () => {
        started.complete();
        await sleep(50);
        log.push("dw done");
      }, "dw");
      const queued = new WorkStruct(() => {
        log.push("queued ran");
      }, "queued");
      await queueDelayedWork(wq, dw, 0);
      await queueWork(wq, queued);
      await started.wait();
      expect(await cancelDelayedWork(dw)).toBe(false);
      expect(await cancelWork(queued)).toBe(true);
      expect(workPending(queued)).toBe(false);
      log.push(`returned@${now()}`);
      await flushWorkqueue(wq);
    });
    expectClean(r);
    expect(log).toEqual(["returned@0", "dw done"]);
  });
});

describe("cancel and flush", () => {
  it("cancel_work_sync stops a self-requeueing item", async () => {
    let runs = 0;
    const r = await run(async () => {
      const w: WorkStruct = new WorkStruct(async () => {
        runs++;
        await sleep(10);
        await scheduleWork(w);
      }, "forever");
      await scheduleWork(w);
      await sleep(35);
      // The fourth run is executing (PENDING cleared, not yet requeued): not pending.
      expect(await cancelWorkSync(w)).toBe(false);
      const atCancel = runs;
      expect(workPending(w)).toBe(false);
      await sleep(100);
      expect(runs).toBe(atCancel);
    });
    expectClean(r);
    expect(runs).toBe(4);
  });

  it("two concurrent cancel_work_sync calls both return after the execution", async () => {
    const log: string[] = [];
    const r = await run(async () => {
      const started = new Completion("started");
      const w = new WorkStruct(async () => {
        started.complete();
        await sleep(100);
        log.push("work done");
      }, "twice");
      await scheduleWork(w);
      await started.wait();
      const c = spawn("canceller", async () => {
        await cancelWorkSync(w);
        log.push(`canceller@${now()}`);
      });
      await cancelWorkSync(w);
      log.push(`main@${now()}`);
      await c.join();
    });
    expectClean(r);
    expect(log[0]).toBe("work done");
    expect(log.slice(1).sort()).toEqual(["canceller@100", "main@100"]);
  });

  it("flushing or cancelling an item from inside it is a lockdep splat, not a hang", async () => {
    const r = await run(async () => {
      const wq = allocWorkqueue("selfish");
      const w: WorkStruct = new WorkStruct(async () => {
        expect(await flushWork(w)).toBe(false);
        expect(await cancelWorkSync(w)).toBe(false);
        await flushWorkqueue(wq);
      }, "selfish");
      await queueWork(wq, w);
      await flushWork(w);
    });
    expect(r.outcome).toBe("ok");
    const msgs = r.splats.map((s) => `${s.kind}: ${s.message}`);
    expect(msgs).toHaveLength(3);
    expect(msgs[0]).toMatch(/^lockdep: possible recursive locking detected: flush_work\(\)/);
    expect(msgs[1]).toMatch(/^lockdep: .*cancel_work_sync\(\) of \(work_completion\)\(selfish\)/);
    expect(msgs[2]).toMatch(/^lockdep: .*flush_workqueue\(\) of workqueue selfish/);
    for (const s of r.splats) expect(s.task).toBe("kworker/selfish:0");
  });

  it("a worker stuck forever in a work function is reported when the run ends", async () => {
    const r = await run(async () => {
      const never = new Completion("never");
      await scheduleWork(new WorkStruct(() => never.wait(), "stuck"));
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats.map((s) => s.kind)).toEqual(["deadlock"]);
    expect(r.splats[0]!.message).toMatch(
      /^kworker\/events:0\[\d+\] hung executing work stuck on workqueue events: waits on completion never/,
    );
  });

  it("a flush that waits on a hung item is the scheduler's deadlock, with the worker named", async () => {
    const r = await run(async () => {
      const lock = new Mutex("dev_lock");
      const w = new WorkStruct(async () => {
        await lock.lock();
        await lock.unlock();
      }, "needs_lock");
      await lock.lock();
      await scheduleWork(w);
      // flush_work() with a lock the item takes: the classic workqueue deadlock.
      await flushWork(w);
      await lock.unlock();
    });
    expect(r.outcome).toBe("deadlock");
    const kinds = r.splats.map((s) => s.kind);
    expect(kinds.filter((k) => k === "deadlock")).toHaveLength(2);
    expect(r.splats.some((s) => /waits on work needs_lock held by kworker/.test(s.message))).toBe(
      true,
    );
    expect(r.splats.some((s) => /hung executing work needs_lock/.test(s.message))).toBe(true);
    // Lockdep saw it coming: dev_lock -> (work_completion)needs_lock -> dev_lock.
    const dep = r.splats.find((s) => s.kind === "lockdep");
    expect(dep?.message).toMatch(/possible circular locking dependency detected/);
    expect(dep?.message).toMatch(/\(work_completion\)needs_lock/);
  });

  it("lockdep flags flush_work/cancel_work_sync under a lock the item takes, without a hang", async () => {
    for (const op of ["flush", "cancel"] as const) {
      const r = await run(async () => {
        const lock = new Mutex("dev_lock");
        const w = new WorkStruct(async () => {
          await lock.lock();
          await lock.unlock();
        }, `takes_lock_${op}`);
        await scheduleWork(w);
        await sleep(10);
        // The item has run already: this flush does not wait, but the order is recorded.
        await lock.lock();
        if (op === "flush") expect(await flushWork(w)).toBe(false);
        else expect(await cancelWorkSync(w)).toBe(false);
        await lock.unlock();
      });
      expect(r.outcome).toBe("ok");
      expect(r.splats.map((s) => s.kind)).toEqual(["lockdep"]);
      expect(r.splats[0]!.message).toMatch(/possible circular locking dependency detected/);
      expect(r.splats[0]!.message).toContain(`(work_completion)takes_lock_${op}`);
    }
  });

  it("flush_work on an ordered workqueue from another of its items is a lockdep recursion", async () => {
    const r = await run(async () => {
      const wq = allocOrderedWorkqueue("serial");
      const second = new WorkStruct(() => {}, "second");
      const first = new WorkStruct(async () => {
        await queueWork(wq, second);
        // second runs after first on this ordered queue: waiting for it here never ends.
        await flushWork(second);
      }, "first");
      await queueWork(wq, first);
    });
    const dep = r.splats.find((s) => s.kind === "lockdep");
    expect(dep?.message).toMatch(/possible recursive locking detected/);
    expect(dep?.message).toContain("(wq_completion)serial");
    expect(
      r.splats.some((s) => s.kind === "deadlock" && /hung executing work first/.test(s.message)),
    ).toBe(true);
  });

  it("a work function that leaks a lock or an RCU read-side section is reported", async () => {
    const r = await run(async () => {
      const lock = new Mutex("leaky_lock");
      const leaky = new WorkStruct(async () => {
        await lock.lock();
      }, "leaky");
      await scheduleWork(leaky);
      await flushWork(leaky);
    });
    expect(r.splats.map((s) => s.kind)).toContain("lockdep");
    const leak = r.splats.find((s) => /workqueue leaked/.test(s.message))!;
    expect(leak.message).toMatch(
      /^BUG: workqueue leaked atomic, lock or RCU: kworker\/events:0\[\d+\]\n {5}preempt=0x00000000 lock=0->1 RCU=0 workfn=leaky/,
    );
    expect(leak.message).toContain("leaky_lock");
    const r2 = await run(async () => {
      const w = new WorkStruct(() => rcuReadLock(), "rcu_leak");
      await scheduleWork(w);
      await flushWork(w);
    });
    const leak2 = r2.splats.find((s) => /workqueue leaked/.test(s.message));
    expect(leak2?.message).toMatch(/RCU=1 workfn=rcu_leak/);
  });

  it("destroy_workqueue drains it; queueing afterwards is a use-after-free", async () => {
    const log: string[] = [];
    const r = await run(async () => {
      const wq = allocWorkqueue("doomed", { maxActive: 1 });
      const chain2 = new WorkStruct(() => {
        log.push("chain2");
      }, "chain2");
      const chain1 = new WorkStruct(async () => {
        await sleep(10);
        log.push("chain1");
        // Chained work is allowed while draining.
        await queueWork(wq, chain2);
      }, "chain1");
      await queueWork(wq, chain1);
      await destroyWorkqueue(wq);
      log.push(`destroyed@${now()}`);
      expect(await queueWork(wq, new WorkStruct(() => {}, "late"))).toBe(true);
      // A second use of the freed workqueue: KASAN reports only a boot's first bug.
      expect(await queueWork(wq, new WorkStruct(() => {}, "later"))).toBe(true);
    });
    expect(log).toEqual(["chain1", "chain2", "destroyed@10"]);
    expect(r.splats.map((s) => s.kind)).toEqual(["kasan"]);
    expect(r.splats[0]!.message).toMatch(
      /^BUG: KASAN: slab-use-after-free in __queue_work\(\) of late\n/,
    );
    expect(r.splats[0]!.message).toMatch(/workqueue doomed/);
    expect(r.splats[0]!.sites[0]!.role).toBe("freed");
  });

  it("drain_workqueue refuses work queued from outside while it drains", async () => {
    const r = await run(async () => {
      const wq = allocWorkqueue("draining");
      const slow = new WorkStruct(() => sleep(100), "slow");
      const outsider = new WorkStruct(() => {}, "outsider");
      await queueWork(wq, slow);
      const t = spawn("intruder", async () => {
        await sleep(50);
        await queueWork(wq, outsider);
      });
      await drainWorkqueue(wq);
      await t.join();
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn"]);
    expect(r.splats[0]!.message).toMatch(/queue_work\(\) of outsider on draining workqueue/);
  });
});

describe("outside a simulation", () => {
  it("work runs on microtask workers; delayed work is queued at once", async () => {
    const log: string[] = [];
    const wq = allocWorkqueue("plain");
    const gate = new Completion("gate");
    const w = new WorkStruct(async () => {
      await gate.wait();
      log.push("work");
    }, "plain");
    const dw = new DelayedWork(() => {
      log.push("delayed");
    }, "plain-delayed");
    expect(await queueWork(wq, w)).toBe(true);
    expect(await queueDelayedWork(wq, dw, 1_000_000)).toBe(true);
    const flushed = flushWork(w);
    gate.complete();
    expect(await flushed).toBe(true);
    await flushWorkqueue(wq);
    // Two workers: the delayed item did not wait for the gated one.
    expect(log).toEqual(["delayed", "work"]);
    expect(await cancelWorkSync(w)).toBe(false);
  });
});

describe("under explore", () => {
  /**
   * A driver-like mix: an ordered queue of jobs, a watchdog delayed work rearmed by the jobs,
   * a self-requeueing poller, then teardown with cancel_*_sync and destroy. Invariants: each job
   * runs exactly once in order, nothing runs after its cancel returned, every item is idle at the
   * end.
   */
  async function driverScenario(): Promise<void> {
    const wq = allocOrderedWorkqueue("jobs");
    const done: number[] = [];
    let cancelled = false;
    let polls = 0;
    const watchdog = new DelayedWork(async () => {
      if (cancelled) report("warn", "watchdog ran after cancel_delayed_work_sync()");
    }, "watchdog");
    const poller: WorkStruct = new WorkStruct(async () => {
      if (cancelled) report("warn", "poller ran after cancel_work_sync()");
      polls++;
      await sleep(7);
      await queueWork(systemUnboundWq(), poller);
    }, "poller");
    const jobs = [0, 1, 2].map(
      (i) =>
        new WorkStruct(async () => {
          await sleep(5);
          done.push(i);
          await modDelayedWork(systemWq(), watchdog, 20);
        }, `job${i}`),
    );
    await queueWork(systemUnboundWq(), poller);
    const submitters = [0, 1].map((k) =>
      spawn(`submit${k}`, async () => {
        if (k === 0) for (const j of jobs) await queueWork(wq, j);
        else await flushWorkqueue(wq);
      }),
    );
    for (const t of submitters) await t.join();
    await flushWorkqueue(wq);
    if (done.join() !== "0,1,2") report("warn", `jobs ran as ${done.join()}`);
    const c1 = spawn("cancel-poller", async () => {
      await cancelWorkSync(poller);
    });
    await cancelDelayedWorkSync(watchdog);
    await c1.join();
    cancelled = true;
    await sleep(100);
    await destroyWorkqueue(wq);
    if (workPending(poller) || delayedWorkPending(watchdog)) report("warn", "still pending");
    if (polls < 1) report("warn", "poller never ran");
  }

  it("pct finds nothing wrong over many schedules", async () => {
    const res = await explore(driverScenario, { strategy: "pct", schedules: 150, seed: 11 });
    expect(res.firstFailure?.splats ?? []).toEqual([]);
    expect(res.stats.outcomes.ok).toBe(150);
  });

  it("random finds nothing wrong over several seeds, and runs are deterministic", async () => {
    for (const seed of [1, 2, 3]) {
      const res = await explore(driverScenario, { strategy: "random", schedules: 30, seed });
      expect(res.firstFailure?.splats ?? []).toEqual([]);
    }
    const a = await new Simulation({ seed: 9, strategy: { kind: "pct" } }).run(driverScenario);
    const b = await new Simulation({ seed: 9, strategy: { kind: "pct" } }).run(driverScenario);
    expect(a.traceHash).toBe(b.traceHash);
  });

  it("pct finds the use-after-free of a cancel_work() racing with the queueing", async () => {
    const racy = async () => {
      let freed = false;
      const w = new WorkStruct(async () => {
        if (freed) report("kasan", "work touched its freed object");
      }, "racy");
      const t = spawn("queuer", async () => {
        await scheduleWork(w);
      });
      // cancel_work() does not wait for an execution in progress.
      await cancelWork(w);
      freed = true;
      await t.join();
    };
    const res = await explore(racy, { strategy: "pct", schedules: 200, seed: 3 });
    expect(res.firstFailure).not.toBeNull();
    expect(res.firstFailure!.splats[0]!.message).toMatch(/freed object/);
  });
});
