import { describe, expect, it } from "vitest";
import { Completion } from "../completion.js";
import { choose, point, report, spawn } from "../current.js";
import { type RunResult, Simulation } from "../simulation.js";
import { explore, replay } from "./explore.js";
import { bugSignature, MINIMIZE_PASSES, minimize, sameBug, tokenPreemptions } from "./minimize.js";
import { raceTable } from "./race-table.js";
import { type GuidedSegment, GuidedStrategy } from "./strategies/guided.js";

/** A lost update buried in noise: each incrementer and a bystander take many unrelated steps. */
const noisyLostUpdate = async (_sim: Simulation) => {
  const shared = { n: 0 };
  const inc = (name: string) =>
    spawn(name, async () => {
      for (let i = 0; i < 15; i++) await point(`${name}: unrelated work ${i}`);
      await point("load(counter)");
      const v = shared.n;
      await point("store(counter)");
      shared.n = v + 1;
      for (let i = 0; i < 10; i++) await point(`${name}: more work ${i}`);
    });
  const bystander = spawn("bystander", async () => {
    for (let i = 0; i < 40; i++) await point(`bystander step ${i}`);
  });
  const a = inc("inc0");
  const b = inc("inc1");
  await a.join();
  await b.join();
  await bystander.join();
  if (shared.n !== 2) report("warn", `lost update: counter is ${shared.n}, expected 2`);
};

/**
 * A lost update among bystanders: four bystanders draw how many steps they take and what each
 * does; two incrementers work (drawing data as they go), then each spawns a child that, unless
 * its own draw says otherwise, does the increment. The bug: an increment lost.
 */
const crowdedLostUpdate = async () => {
  const shared = { n: 0, ran: 0 };
  const tasks = [];
  for (let k = 0; k < 4; k++)
    tasks.push(
      spawn(`bystander${k}`, async () => {
        const ops = 4 + choose(4);
        for (let i = 0; i < ops; i++) await point(`bystander${k}: op ${choose(3)}(scratch${k})`);
      }),
    );
  for (let k = 0; k < 2; k++)
    tasks.push(
      spawn(`inc${k}`, async () => {
        for (let i = 0; i < 6; i++) await point(`inc${k}: work ${choose(4)}`);
        const child = spawn(`inc${k}-child`, async () => {
          if (choose(3) === 0) return;
          shared.ran++;
          await point("load(counter)");
          const v = shared.n;
          await point("store(counter)");
          shared.n = v + 1;
        });
        await child.join();
      }),
    );
  for (const t of tasks) await t.join();
  if (shared.n !== shared.ran)
    report("warn", `lost update: counter is ${shared.n}, expected ${shared.ran}`);
};

/**
 * A lost update that is reported only when two bystanders' steps run in a consistent order: for
 * each pair (x, y), x's `a` and `c` each run before or after y's `b` and `d` alike (both before
 * or both after). A preemption that puts one of them on the other side of y's step can go only
 * together with the one that puts the other there: in a round of the minimizer, removing the
 * later of the two fails while the earlier is there, so the later one goes in the next round.
 * The main task first draws 300 data choices (nearly all non-zero) that the bug ignores.
 */
const orderedLostUpdate = async () => {
  let draws = 0;
  for (let i = 0; i < 300; i++) draws += choose(10);
  const shared = { n: 0 };
  const consistent: boolean[] = [];
  const tasks = [];
  for (let k = 0; k < 3; k++) {
    const seen = { b: false, d: false };
    let aFirst = false;
    tasks.push(
      spawn(`x${k}`, async () => {
        for (let i = 0; i < 6; i++) await point(`x${k}: work ${i}`);
        await point(`x${k}: a`);
        aFirst = !seen.b;
        for (let i = 0; i < 6; i++) await point(`x${k}: more ${i}`);
        await point(`x${k}: c`);
        consistent[k] = aFirst === !seen.d;
      }),
      spawn(`y${k}`, async () => {
        for (let i = 0; i < 6; i++) await point(`y${k}: work ${i}`);
        await point(`y${k}: b`);
        seen.b = true;
        for (let i = 0; i < 6; i++) await point(`y${k}: more ${i}`);
        await point(`y${k}: d`);
        seen.d = true;
      }),
    );
  }
  for (let k = 0; k < 2; k++)
    tasks.push(
      spawn(`inc${k}`, async () => {
        for (let i = 0; i < 6; i++) await point(`inc${k}: work ${i}`);
        await point("load(counter)");
        const v = shared.n;
        await point("store(counter)");
        shared.n = v + 1;
      }),
    );
  for (const t of tasks) await t.join();
  if (draws >= 0 && shared.n !== 2 && consistent.every(Boolean))
    report("warn", `lost update: counter is ${shared.n}, expected 2`);
};

describe("minimize", () => {
  it("shrinks a random walk's finding to one preemption that replays to the same bug", async () => {
    const res = await explore(noisyLostUpdate, { strategy: "random", schedules: 200, seed: 3 });
    const found = res.firstFailure!;
    expect(found).not.toBeNull();
    const m = await minimize(found.token, noisyLostUpdate);
    expect(m.note).toBe("minimized");
    expect(m.preemptions.after).toBeLessThanOrEqual(1);
    expect(m.preemptions.after).toBeLessThan(m.preemptions.before);
    expect(m.runs).toBeLessThanOrEqual(200);
    const again = await replay(m.token, noisyLostUpdate);
    expect(sameBug(found, again)).toBe(true);
    expect(again.traceHash).toBe(m.run.traceHash);
    const table = raceTable(m.run, {
      hide: ["main"],
      focus: m.preemptionSteps,
      around: { before: 2, after: 1 },
    });
    expect(table.rows.length).toBeLessThanOrEqual(12);
    // Both sides of the race: each incrementer's load and store.
    expect(table.rows.filter((x) => x.label === "load(counter)")).toHaveLength(2);
    expect(table.rows.filter((x) => x.label === "store(counter)")).toHaveLength(2);
  });

  it("shrinks a finding among many tasks that draw their own data to one preemption", async () => {
    // Every seed's random-walk finding has 20-40 preemptions, most between the bystanders; the
    // children's increments depend on their parents' and their own data choices. Each task keeps
    // its own data choices and its stretches (the children are found by name, whatever their id)
    // when the minimizer removes preemptions, so the bystanders' can all go.
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const found = (await explore(crowdedLostUpdate, { strategy: "random", schedules: 300, seed }))
        .firstFailure!;
      expect(found, `seed ${seed}`).not.toBeNull();
      const m = await minimize(found.token, crowdedLostUpdate);
      expect(m.preemptions.before, `seed ${seed}`).toBeGreaterThanOrEqual(20);
      expect(m.preemptions.after, `seed ${seed}`).toBe(1);
      expect(m.runs, `seed ${seed}`).toBeLessThanOrEqual(100);
      const again = await replay(m.token, crowdedLostUpdate);
      expect(sameBug(found, again)).toBe(true);
      expect(again.traceHash).toBe(m.run.traceHash);
      // The preemption left is the race: one child preempted by the other.
      const [p] = m.preemptionSteps;
      expect([m.run.trace.at(p! - 1).task, m.run.trace.at(p!).task].sort()).toEqual([
        "inc0-child",
        "inc1-child",
      ]);
      const table = raceTable(m.run, { hide: ["main"], focus: m.preemptionSteps });
      expect(table.rows.length).toBeLessThanOrEqual(12);
      expect(table.rows.filter((x) => x.label === "store(counter)")).toHaveLength(2);
    }
  });

  it("spends the budget on preemptions before data choices: a second round clears what the first left", async () => {
    // Each of these random-walk findings (77-88 preemptions) keeps 2 preemptions after the
    // first round of passes 1-2; the minimizer that zeroed the 300 data choices in between ran
    // out of its 200 runs there (it reached 1 preemption only after 309-327 runs).
    for (const seed of [6, 7, 11]) {
      const found = (
        await explore(orderedLostUpdate, { strategy: "random", schedules: 2000, seed })
      ).firstFailure!;
      expect(found, `seed ${seed}`).not.toBeNull();
      const m = await minimize(found.token, orderedLostUpdate);
      expect(m.preemptions.before, `seed ${seed}`).toBeGreaterThanOrEqual(70);
      expect(m.preemptions.after, `seed ${seed}`).toBe(1);
      expect(m.runs).toBeLessThanOrEqual(200);
      const again = await replay(m.token, orderedLostUpdate);
      expect(sameBug(found, again)).toBe(true);
      expect(again.traceHash).toBe(m.run.traceHash);
    }
  });

  it("scale: a budget grown by the preemptions of the schedule, within its bound", async () => {
    const found = (
      await explore(orderedLostUpdate, { strategy: "random", schedules: 2000, seed: 6 })
    ).firstFailure!;
    const fixed = await minimize(found.token, orderedLostUpdate, { budget: 20 });
    expect(fixed.runs).toBe(20);
    const scaled = await minimize(found.token, orderedLostUpdate, {
      budget: 20,
      scale: { perPreemption: 0.5, max: 50 },
    });
    // 20 + 0.5 x its 70-odd preemptions, bounded by 50.
    expect(scaled.preemptions.before).toBeGreaterThanOrEqual(70);
    expect(scaled.runs).toBe(50);
    expect(scaled.preemptions.after).toBeLessThan(fixed.preemptions.after);
    const again = await minimize(found.token, orderedLostUpdate, {
      budget: 20,
      scale: { perPreemption: 0.5, max: 50 },
    });
    expect(again.token).toBe(scaled.token);
    expect(sameBug(found, await replay(scaled.token, orderedLostUpdate))).toBe(true);
    // A bound below the budget does not shrink it.
    const low = await minimize(found.token, orderedLostUpdate, {
      budget: 20,
      scale: { perPreemption: 1, max: 10 },
    });
    expect(low.runs).toBe(20);
  });

  it("is deterministic and tries no plan twice", async () => {
    const found = (
      await explore(crowdedLostUpdate, { strategy: "random", schedules: 300, seed: 2 })
    ).firstFailure!;
    const a = await minimize(found.token, crowdedLostUpdate);
    const b = await minimize(found.token, crowdedLostUpdate);
    expect(b.token).toBe(a.token);
    expect(b.runs).toBe(a.runs);
    // Cut short, it keeps the best run found within the budget, which still shows the bug.
    const short = await minimize(found.token, crowdedLostUpdate, { budget: 10 });
    expect(short.runs).toBe(10);
    expect(short.preemptions.after).toBeLessThan(short.preemptions.before);
    expect(sameBug(found, await replay(short.token, crowdedLostUpdate))).toBe(true);
  });

  it("keeps the bug's signature: kind, message shape and object type", async () => {
    const r = await explore(noisyLostUpdate, { strategy: "pct", schedules: 300 });
    expect(bugSignature(r.firstFailure!)).toEqual({
      kind: "warn",
      shape: "lost update: counter is #, expected #",
      objectType: "",
    });
  });

  it("shrinks data choices to 0 when the bug does not depend on them", async () => {
    const withData = async () => {
      const pick = choose(5);
      await spawn("a", async () => {
        await point(`a picks ${pick}`);
        report("warn", "always");
      }).join();
    };
    const r = await explore(withData, { strategy: "random", schedules: 20, seed: 5 });
    const f = r.failures.find((x) => x.trace.choices[0]! > 0) ?? r.firstFailure!;
    const m = await minimize(f.token, withData);
    expect(m.run.trace.choices).toEqual([0]);
    expect((await replay(m.token, withData)).splats[0]?.message).toBe("always");
  });

  it("returns the original when it shows no bug", async () => {
    const clean = async () => {
      await point("nothing");
    };
    const r = await explore(clean, { schedules: 1 });
    const m = await minimize(
      r.stats
        ? (await explore(clean, { schedules: 1, isFailure: () => true })).firstFailure!.token
        : "",
      clean,
    );
    expect(m.note).toBe("the run shows no bug to keep");
    expect(m.runs).toBe(1);
  });
});

// ------------------------------------------------------------------------ segment plans, passes

/** The stretches of a run, each anchored at its task's n-th step with its last label. */
function stretchesOf(r: RunResult, preempted: (step: number) => boolean): GuidedSegment[] {
  const counts = new Map<string, number>();
  const segs: GuidedSegment[] = [];
  for (let n = 1; n <= r.trace.length; n++) {
    const { taskId, label } = r.trace.at(n);
    const key = `${taskId} ${label}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (n === r.trace.length || r.trace.taskAt(n + 1) !== taskId)
      segs.push({
        task: taskId,
        until: 0,
        label,
        occurrence: counts.get(key)!,
        preempted: preempted(n + 1),
      });
  }
  return segs;
}

/** A run following a segment plan (anchors by label), and its preemptions. */
async function runPlan(
  scenario: (sim: Simulation) => Promise<void>,
  segments: GuidedSegment[],
  data: number[] = [],
) {
  const guide = new GuidedStrategy({ steps: [], data, segments });
  const run = await new Simulation({ strategy: guide }).run(scenario);
  return { run, preemptions: guide.preemptions };
}

const at = (task: number, label: string, preempted = false, occurrence = 1): GuidedSegment => ({
  task,
  until: 0,
  label,
  occurrence,
  preempted,
});

/**
 * A use after free that needs `free` first: b (task 2) works, then uses the object; a (task 3)
 * frees it. Without preemption b, the lowest id, runs first and nothing happens.
 */
const useAfterFree = async () => {
  const obj = { freed: false };
  const b = spawn("b", async () => {
    for (let i = 0; i < 3; i++) await point(`b: work ${i}`);
    await point("b: use(obj)");
    if (obj.freed) report("kasan", "use-after-free of obj#1", { object: "obj#1" });
  });
  const a = spawn("a", async () => {
    await point("a: free(obj)");
    obj.freed = true;
    for (let i = 0; i < 2; i++) await point(`a: cleanup ${i}`);
  });
  await b.join();
  await a.join();
};

/** A lost update (a: 2, b: 3) with c (4) doing unrelated work; every task runs to its end. */
const lostUpdateWithNoise = async () => {
  const shared = { n: 0 };
  const inc = (name: string) =>
    spawn(name, async () => {
      await point(`${name}: work`);
      await point(`${name}: load(counter)`);
      const v = shared.n;
      await point(`${name}: store(counter)`);
      shared.n = v + 1;
    });
  const a = inc("a");
  const b = inc("b");
  const c = spawn("c", async () => {
    for (let i = 0; i < 3; i++) await point(`c: noise ${i}`);
  });
  await a.join();
  await b.join();
  await c.join();
  if (shared.n !== 2) report("warn", `lost update: counter is ${shared.n}, expected 2`);
};

/**
 * A bug that needs c (4) to run after a (3) prepared and before b (2) checks, and a to set before
 * b checks; a waits for b after setting. No order without preemption shows it (b, the lowest id,
 * goes first).
 */
const orderedSteps = async () => {
  const s = { prepared: false, cAfterPrepare: false, set: false };
  const checked = new Completion("checked");
  const b = spawn("b", async () => {
    await point("b: check");
    if (s.cAfterPrepare && s.set) report("bug", "b saw the state set", { object: "state#1" });
    checked.complete();
  });
  const a = spawn("a", async () => {
    await point("a: prepare");
    s.prepared = true;
    await point("a: set");
    s.set = true;
    await checked.wait();
  });
  const c = spawn("c", async () => {
    await point("c: run");
    s.cAfterPrepare = s.prepared;
  });
  await b.join();
  await a.join();
  await c.join();
};

describe("segment plans (GuidedStrategy)", () => {
  it("the stretches of a run, anchored by label, replay it step for step", async () => {
    const r = await explore(noisyLostUpdate, {
      strategy: "random",
      schedules: 1,
      seed: 7,
      isFailure: () => true,
    });
    const found = r.firstFailure!;
    const preemptedAt = new Set<number>();
    for (let n = 2; n <= found.trace.length; n++) preemptedAt.add(n);
    // Every switch of a random walk between runnable tasks counts as a preemption here; the
    // segment plan marks exactly those, so the guided run makes the same choices.
    const again = await runPlan(
      noisyLostUpdate,
      stretchesOf(found, (n) => preemptedAt.has(n)),
    );
    expect(again.run.trace.steps().map((x) => `${x.task} ${x.label}`)).toEqual(
      found.trace.steps().map((x) => `${x.task} ${x.label}`),
    );
  });

  it("an anchor stays at its label when the task's loop runs a different number of times", async () => {
    // a works n times (a data choice), then loads; the plan preempts it at its load, whatever n.
    const scenario = async () => {
      const shared = { n: 0 };
      const rounds = choose(4);
      const a = spawn("a", async () => {
        for (let i = 0; i <= rounds; i++) await point("a: work");
        await point("a: load(counter)");
        const v = shared.n;
        await point("a: store(counter)");
        shared.n = v + 1;
      });
      const b = spawn("b", async () => {
        await point("b: load(counter)");
        const v = shared.n;
        await point("b: store(counter)");
        shared.n = v + 1;
      });
      await a.join();
      await b.join();
      if (shared.n !== 2) report("warn", `lost update: counter is ${shared.n}`);
    };
    // A step is a task reaching a point; what follows the point runs at its next step, so a
    // preempted on reaching its store has loaded.
    const plan = [at(1, "join(a)"), at(2, "a: store(counter)", true), at(3, "exit")];
    for (const rounds of [0, 3]) {
      const r = await runPlan(scenario, plan, [rounds]);
      expect(r.preemptions).toBe(1);
      expect(r.run.splats.map((s) => s.message)).toEqual(["lost update: counter is 1"]);
    }
  });
  it("a stretch of a task that cannot run is passed over when the running task's own stretch is next", async () => {
    // d waits for a kick that comes only at the end. The plan, as an edited plan can, wants d
    // between two stretches of b (d ran there in the run it was read from): b goes on to its own
    // next anchor and is preempted there by a, as planned, so a frees before b uses.
    const scenario = async () => {
      const obj = { freed: false };
      const kick = new Completion("kick");
      const b = spawn("b", async () => {
        for (let i = 0; i < 3; i++) await point(`b: work ${i}`);
        await point("b: use(obj)");
        if (obj.freed) report("kasan", "use-after-free of obj#1", { object: "obj#1" });
      });
      const a = spawn("a", async () => {
        await point("a: free(obj)");
        obj.freed = true;
        await point("a: cleanup");
      });
      const d = spawn("d", async () => {
        await kick.wait();
        await point("d: kicked");
      });
      await b.join();
      await a.join();
      kick.complete();
      await d.join();
    };
    const r = await runPlan(scenario, [
      at(1, "join(b)"),
      at(4, "wait_for_completion(kick)"),
      at(2, "b: work 0", true),
      at(4, "d: kicked", true),
      at(2, "b: work 2", true),
      at(3, "exit"),
      at(2, "exit"),
    ]);
    expect(r.preemptions).toBe(1);
    const steps = r.run.trace.steps().map((x) => `${x.task} ${x.label}`);
    const work2 = steps.indexOf("b b: work 2");
    expect(work2).toBeGreaterThanOrEqual(0);
    expect(steps.slice(work2 + 1, work2 + 3)).toEqual(["a a: free(obj)", "a a: cleanup"]);
    expect(r.run.splats.map((s) => s.message)).toEqual(["use-after-free of obj#1"]);
  });
});

describe("a splat reported by the task a preemption just switched in", () => {
  /**
   * b waits for a to be ready; a reaches its use, then b frees and, at its next point, is
   * preempted by a, whose use (the code after its point) sees the object freed: the splat is at
   * b's step, the preemption that makes it at the next one (a reaching its next point). Two
   * bystanders add preemptions.
   */
  const switchedIn = async () => {
    const obj = { freed: false };
    const ready = new Completion("ready");
    const bystanders = [0, 1].map((k) =>
      spawn(`bystander${k}`, async () => {
        for (let i = 0; i < 4; i++) await point(`bystander${k}: op(scratch${k})`);
      }),
    );
    const a = spawn("a", async () => {
      ready.complete();
      await point("a: use(obj)");
      if (obj.freed) report("kasan", "use-after-free of obj#1", { object: "obj#1" });
      await point("a: done");
    });
    const b = spawn("b", async () => {
      await ready.wait();
      await point("b: free(obj)");
      obj.freed = true;
      await point("b: realloc(obj)");
      obj.freed = false;
    });
    for (const t of [...bystanders, a, b]) await t.join();
  };

  it("counts the preemption after the splat's step and keeps it in the plan", async () => {
    const plan: GuidedSegment[] = [at(1, "join(bystander0)")];
    for (let i = 1; i <= 3; i++)
      for (let k = 0; k < 2; k++) plan.push(at(2 + k, `bystander${k}: op(scratch${k})`, true, i));
    plan.push(at(4, "a: use(obj)", true), at(5, "b: realloc(obj)", true), at(4, "exit"));
    const f = await runPlan(switchedIn, plan);
    const splat = f.run.splats[0]!;
    expect(splat.message).toBe("use-after-free of obj#1");
    expect(f.run.trace.at(splat.step).task).toBe("b");
    expect(f.run.trace.at(splat.step + 1).task).toBe("a");
    const m = await minimize(f.run.token, switchedIn);
    expect(m.preemptions.before).toBeGreaterThanOrEqual(7);
    // The two the bug needs: a preempted at its use by b, b preempted by a after freeing.
    expect(m.preemptions.after).toBe(2);
    const again = await replay(m.token, switchedIn);
    expect(again.splats[0]?.message).toBe("use-after-free of obj#1");
    expect(m.preemptionSteps).toContain(again.splats[0]!.step + 1);
    const t = raceTable(m.run, { hide: ["main"], focus: m.preemptionSteps });
    for (const n of m.preemptionSteps) expect(t.rows.some((x) => x.step === n)).toBe(true);
  });
});

describe("segment plans: tasks by name, data by task", () => {
  /** p0 and p1 each spawn a task named "kid": which kid is "kid#0" depends on who spawns first. */
  const kids = async () => {
    const parent = (name: string) =>
      spawn(name, async () => {
        await point(`${name}: work`);
        await spawn("kid", async () => {
          await point(`kid of ${name}`);
        }).join();
      });
    const p0 = parent("p0");
    const p1 = parent("p1");
    await p0.join();
    await p1.join();
  };

  it("a stretch given by name and rank follows that task, not the id the plan was read from", async () => {
    // Read from a run where p0 spawned first, p0's kid had id 4. Here p1 spawns first: p0's kid
    // is the second "kid" ("kid#1") and has id 5.
    const plan = (name?: string): GuidedSegment[] => [
      at(1, "join(p0)"),
      at(3, "join(kid)"),
      at(2, "join(kid)"),
      { task: 4, name, until: 0, label: "exit", occurrence: 1, preempted: false },
    ];
    const firstKid = async (segments: GuidedSegment[]) => {
      const r = await runPlan(kids, segments);
      return r.run.trace.steps().find((x) => x.label.startsWith("kid of"))?.label;
    };
    expect(await firstKid(plan("kid#1"))).toBe("kid of p0");
    expect(await firstKid(plan())).toBe("kid of p1");
  });

  it("taskData: each task gets its own data choices whatever the order they draw in", async () => {
    const drawn: string[] = [];
    const scenario = async () => {
      const draw = (name: string) =>
        spawn(name, async () => {
          await point(`${name}: draw`);
          drawn.push(`${name}=${choose(5)}`);
        });
      const a = draw("a");
      const b = draw("b");
      await a.join();
      await b.join();
    };
    const aFirst = [at(1, "join(a)"), at(2, "exit"), at(3, "exit")];
    const bFirst = [at(1, "join(a)"), at(3, "exit"), at(2, "exit")];
    const taskData = new Map([
      ["a#0", [3]],
      ["b#0", [1]],
    ]);
    for (const segments of [aFirst, bFirst]) {
      drawn.length = 0;
      const guide = new GuidedStrategy({ steps: [], data: [], segments, taskData });
      await new Simulation({ strategy: guide }).run(scenario);
      expect(drawn.sort()).toEqual(["a=3", "b=1"]);
      expect(guide.log.filter((d) => d.kind === "data").map((d) => guide.taskKey(d.by!))).toEqual(
        segments === aFirst ? ["a#0", "b#0"] : ["b#0", "a#0"],
      );
    }
    // With `data`, the draws are answered in the order they come: b, drawing first, takes 3.
    drawn.length = 0;
    await new Simulation({
      strategy: new GuidedStrategy({ steps: [], data: [3, 1], segments: bFirst }),
    }).run(scenario);
    expect(drawn.sort()).toEqual(["a=1", "b=3"]);
  });
});

describe("race table of a run with many preemptions", () => {
  /** Three bystanders take turns (each preempted), then inc0 loses inc1's update. */
  const race = async () => {
    const shared = { n: 0 };
    const bystanders = [0, 1, 2].map((k) =>
      spawn(`bystander${k}`, async () => {
        for (let i = 0; i < 4; i++) await point(`bystander${k}: op(scratch${k})`);
      }),
    );
    const inc = (name: string) =>
      spawn(name, async () => {
        await point("load(counter)");
        const v = shared.n;
        await point("store(counter)");
        shared.n = v + 1;
      });
    const a = inc("inc0");
    const b = inc("inc1");
    for (const t of [...bystanders, a, b]) await t.join();
    if (shared.n !== 2) report("warn", `lost update: counter is ${shared.n}`);
  };
  const plan: GuidedSegment[] = [at(1, "join(bystander0)")];
  for (let i = 1; i <= 3; i++)
    for (let k = 0; k < 3; k++) plan.push(at(2 + k, `bystander${k}: op(scratch${k})`, true, i));
  plan.push(at(5, "store(counter)", true), at(6, "exit"), at(5, "exit"));

  it("over 12 rows, shows the preemptions of the race's tasks, not the bystanders'", async () => {
    const guide = new GuidedStrategy({ steps: [], data: [], segments: plan });
    const run = await new Simulation({ strategy: guide }).run(race);
    expect(run.splats.map((x) => x.message)).toEqual(["lost update: counter is 1"]);
    const focus = guide.log
      .filter((d) => d.kind === "task" && d.running >= 0 && d.chosen !== d.running)
      .map((d) => d.step + 1);
    expect(focus.length).toBeGreaterThanOrEqual(9);
    // Every preemption shown, as before: over the budget of 12 rows.
    const all = raceTable(run, { hide: ["main"], focus, maxRows: Number.POSITIVE_INFINITY });
    expect(all.rows.length).toBeGreaterThan(12);
    const t = raceTable(run, { hide: ["main"], focus });
    expect(t.rows.length).toBeLessThanOrEqual(12);
    // The race: inc0 loads and is preempted at its store; inc1 loads and stores; inc0 stores.
    // bystander2 is there as the task inc0 preempted; the other bystanders' turns are gaps.
    expect(t.rows.map((x) => `${x.task} ${x.label}`)).toEqual([
      "bystander2 bystander2: op(scratch2)",
      "inc0 load(counter)",
      "inc0 store(counter)",
      "inc1 load(counter)",
      "inc1 store(counter)",
      "inc1 exit",
      "inc0 exit",
      "bystander2 bystander2: op(scratch2)",
      "bystander2 exit",
    ]);
    expect(t.text).toMatch(
      /2 of 10 preemptions: the last of the race's tasks inc0\[5\], inc1\[6\]/,
    );
    expect(t.text).toMatch(/bystander0\[2\] \d+/);
  });
});

describe("minimize passes", () => {
  /** The token of a run of `scenario` following `plan`, checked to show a bug. */
  async function finding(scenario: (sim: Simulation) => Promise<void>, plan: GuidedSegment[]) {
    const r = await runPlan(scenario, plan);
    expect(r.run.splats).not.toHaveLength(0);
    return r;
  }

  it("postpone-preempted: the preempted task waits for its next stretch (b works after a frees)", async () => {
    const f = await finding(useAfterFree, [
      at(1, "join(b)"),
      at(2, "b: work 1", true),
      at(3, "exit"),
      at(2, "b: use(obj)"),
    ]);
    expect(f.preemptions).toBe(1);
    const only = await minimize(f.run.token, useAfterFree, { passes: ["postpone-preempted"] });
    expect(only.preemptions).toEqual({ before: 1, after: 0 });
    for (const other of MINIMIZE_PASSES.filter((p) => p !== "postpone-preempted")) {
      const m = await minimize(f.run.token, useAfterFree, { passes: [other] });
      expect(m.preemptions.after, other).toBe(1);
    }
    const all = await minimize(f.run.token, useAfterFree);
    expect(all.preemptions.after).toBe(0);
    expect((await replay(all.token, useAfterFree)).splats[0]?.message).toBe(
      "use-after-free of obj#1",
    );
  });

  it("extend-preempted: the preempted task goes on until it stops (a sets before c runs)", async () => {
    const f = await finding(orderedSteps, [
      at(1, "join(b)"),
      at(3, "a: set", true),
      at(4, "exit"),
      at(3, "wait_for_completion(checked)"),
      at(2, "exit"),
    ]);
    expect(f.preemptions).toBe(1);
    const only = await minimize(f.run.token, orderedSteps, { passes: ["extend-preempted"] });
    expect(only.preemptions).toEqual({ before: 1, after: 0 });
    for (const other of MINIMIZE_PASSES.filter((p) => p !== "extend-preempted")) {
      const m = await minimize(f.run.token, orderedSteps, { passes: [other] });
      expect(m.preemptions.after, other).toBe(1);
    }
  });

  it("drop-preempting: a preempting stretch that the bug does not need joins its task's next one", async () => {
    // a is preempted twice: by c's noise after its work, then by b after its load (the race).
    const f = await finding(lostUpdateWithNoise, [
      at(1, "join(a)"),
      at(2, "a: load(counter)", true),
      at(4, "exit"),
      at(2, "a: store(counter)", true),
      at(3, "exit"),
    ]);
    expect(f.preemptions).toBe(2);
    const only = await minimize(f.run.token, lostUpdateWithNoise, { passes: ["drop-preempting"] });
    expect(only.preemptions).toEqual({ before: 2, after: 1 });
    // c no longer runs inside a's race window.
    const steps = only.run.trace.steps();
    const load = steps.findIndex((x) => x.label === "a: load(counter)");
    const store = steps.findIndex((x) => x.label === "a: store(counter)");
    expect(steps.slice(load, store).some((x) => x.task === "c")).toBe(false);
    const none = await minimize(f.run.token, lostUpdateWithNoise, { passes: [] });
    expect(none.preemptions.after).toBe(2);
  });

  /** After b's race, c preempts a and main preempts c before main reports the bug. */
  const threePreemptions = () =>
    finding(lostUpdateWithNoise, [
      at(1, "join(a)"),
      at(2, "a: store(counter)", true),
      at(3, "exit"),
      at(4, "c: noise 0", true),
      at(2, "exit"),
      at(4, "c: noise 1", true),
      at(1, "join(b)"),
    ]);

  it("truncate: the shortest prefix of stretches after which running without preemption fails", async () => {
    const f = await threePreemptions();
    expect(f.preemptions).toBe(3);
    const m = await minimize(f.run.token, lostUpdateWithNoise, { passes: ["truncate"] });
    expect(m.preemptions).toEqual({ before: 3, after: 1 });
    expect(m.preemptionSteps).toHaveLength(1);
    expect(m.run.trace.at(m.preemptionSteps[0]!).label).toBe("b: work");
  });

  it("counts only the preemptions before the bug's splat", async () => {
    // b preempts a after its free, and reports the use after free when it exits; main's
    // preemption of a after that does not make the bug.
    const f = await finding(useAfterFree, [
      at(1, "join(b)"),
      at(3, "a: cleanup 0", true),
      at(2, "exit"),
      at(3, "a: cleanup 1", true),
      at(1, "join(a)"),
    ]);
    expect(f.preemptions).toBe(2);
    const m = await minimize(f.run.token, useAfterFree, { passes: [] });
    expect(m.preemptions).toEqual({ before: 1, after: 1 });
    expect(m.preemptionSteps).toHaveLength(1);
    expect(m.preemptionSteps[0]!).toBeLessThan(f.run.splats[0]!.step);
  });

  it("tokenPreemptions: a token's preemptions before the bug, as minimize() reports them", async () => {
    const f = await threePreemptions();
    // The original's preemptions: every one before the bug (f.preemptions counts them all).
    const all = await tokenPreemptions(f.run.token, lostUpdateWithNoise, f.run);
    expect(all).toHaveLength(f.preemptions);
    const m = await minimize(f.run.token, lostUpdateWithNoise);
    const again = await replay(m.token, lostUpdateWithNoise);
    expect(await tokenPreemptions(m.token, lostUpdateWithNoise, again)).toEqual(m.preemptionSteps);
    // Another run than the token's (a different trace): null, not a wrong answer.
    expect(await tokenPreemptions(m.token, lostUpdateWithNoise, f.run)).toBeNull();
  });
});
