/**
 * Surface pressure with every toggle off: three processes, three usable surface ids for six
 * live surfaces, drawing, sharing (flink, PRIME self-import on a second file), updating and
 * closing concurrently, under many PCT schedules and a bounded DFS. Each run that completes ends
 * with the device torn down and a kmemleak scan with nothing exempt.
 *
 * What mainline qxl does here besides working: its reaper's recursive reservation (lockdep
 * report, isKnownReapRecursion) and, in a few schedules, the deadlock that recursion becomes
 * (isKnownReapDeadlock). Neither is a lifetime bug; both are asserted to be the only reports.
 */

import { formatSplat, type RunResult } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import {
  isKnownReapDeadlock,
  pressureStats,
  qxlIsFailure,
  surfacePressure,
} from "./test-scenarios.js";

function unexpected(r: RunResult): boolean {
  return qxlIsFailure(r) && !isKnownReapDeadlock(r);
}

const text = (r: RunResult | null) =>
  r ? `${r.outcome}\n${r.splats.map((s) => formatSplat(s)).join("\n")}` : "none";

describe("qxl surface pressure (toggles off)", () => {
  it("pct: no lifetime splat, no leak, over 60 schedules", async () => {
    Object.assign(pressureStats, { flinkOpened: 0, primeImported: 0, drawsOk: 0 });
    let deadlocks = 0;
    const res = await explore(surfacePressure(3, 4), {
      strategy: "pct",
      depth: 3,
      schedules: 60,
      seed: 21,
      scenario: "qxl/surface-pressure",
      isFailure: unexpected,
      onRun: (r) => {
        if (isKnownReapDeadlock(r)) deadlocks++;
      },
    });
    expect(res.firstFailure, text(res.firstFailure)).toBeNull();
    expect(res.schedules).toBe(60);
    expect(res.stats.outcomes.ok + deadlocks).toBe(60);
    // most schedules run to completion (and so through the leak scan)
    expect(deadlocks).toBeLessThan(15);
    // and the sharing really happens: flink opens, PRIME self-imports, draws through both
    expect(pressureStats.flinkOpened).toBeGreaterThan(40);
    expect(pressureStats.primeImported).toBeGreaterThan(40);
    expect(pressureStats.drawsOk).toBeGreaterThan(60 * 3);
  }, 300_000);

  it("dfs (preemption bound 1): no lifetime splat, no leak, over 30 schedules", async () => {
    const res = await explore(surfacePressure(2, 3), {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 30,
      scenario: "qxl/surface-pressure-dfs",
      isFailure: unexpected,
    });
    expect(res.firstFailure, text(res.firstFailure)).toBeNull();
    expect(res.schedules).toBe(30);
  }, 300_000);
});
