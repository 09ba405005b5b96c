import { Trace } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../engine.js";
import { timelineOf } from "./report-html.js";

/**
 * A run of two tasks (and the harness's `main`, hidden) that take turns three times: each turn a
 * long stretch whose first and last steps are lock operations and whose middle gets and puts
 * `obj#1`, so the race table's rows (around the task switches) hold no get or put; the splat, on
 * `victim#2`, fires at the last step.
 */
function longRace(): RunResult {
  const trace = new Trace();
  trace.nameTask(0, "main");
  trace.nameTask(1, "a");
  trace.nameTask(2, "b");
  trace.step(0, "spawn");
  for (let turn = 0; turn < 6; turn++) {
    const task = turn % 2 === 0 ? 1 : 2;
    trace.step(task, "spin_lock(l)");
    trace.step(task, "spin_lock(m)");
    for (let i = 0; i < 20; i++) {
      trace.step(task, "kref_get(obj#1)");
      trace.step(task, "kref_put(obj#1)");
    }
    trace.step(task, "spin_lock(m)");
    trace.step(task, "spin_lock(l)");
  }
  const step = trace.length;
  return {
    outcome: "ok",
    splats: [
      {
        kind: "kasan",
        message: "BUG: KASAN: slab-use-after-free in victim",
        task: "b",
        taskId: 2,
        step,
        object: "victim#2",
        sites: [],
      },
    ],
    steps: step,
    time: 0,
    seed: 1,
    strategy: "pct",
    token: "",
    traceHash: trace.hashHex,
    trace,
  } as unknown as RunResult;
}

describe("timelineOf()", () => {
  it("plots the objects the race's steps get or put even when its table's rows hold none", () => {
    const r = longRace();
    const t = timelineOf(r, ["main"]);
    // A long race: only the table's rows are shown, with gaps between them.
    expect(t.gaps).toBe(true);
    expect(t.steps.some((s) => /^kref_(get|put)\(/.test(s.label))).toBe(false);
    // The splat's object first, then the object the steps between the rows get and put.
    expect(t.counts.map((c) => c.object)).toEqual(["victim#2", "obj#1"]);
    const obj = t.counts[1]!.values;
    expect(obj.length).toBe(t.steps.length);
    // Every get is matched by a put, so between stretches the count is back at 1.
    expect(obj.filter((v) => v !== null).every((v) => v === 1)).toBe(true);
  });
});
