// Workload sizes (buffers, clients, processes, pages) come from the seed: they are drawn from the
// run's recorded choices, so they differ from schedule to schedule of a unit and a schedule's
// token replays them.
import { describe, expect, it } from "vitest";
import { replayFinding } from "./campaign/report.js";
import { runSchedule } from "./campaign/schedule.js";
import { configFromFlags } from "./commands.js";
import type { RunResult } from "./engine.js";

const config = configFromFlags({
  scenario: "cross-share,compositor,eviction-under-sharing",
  drivers: "vgem,qxl",
  strategy: "pct:3",
  seeds: 1,
});

/** How many steps of a run have this label (arguments and object ids aside). */
const count = (r: RunResult, label: string) =>
  r.trace.steps().filter((s) => s.label.replace(/\(.*$/, "") === label).length;

describe("workload sizes come from the seed", () => {
  it.each([
    // cross-share: the exporter creates 1-3 buffers (one CREATE_DUMB each).
    ["cross-share@vgem+vgem", "drm_mode_create_dumb", [1, 3]],
    // compositor: 2-3 clients, one frame (CREATE_DUMB) each.
    ["compositor@vgem+vgem", "drm_mode_create_dumb", [2, 3]],
    // eviction-under-sharing: 1-2 of the exporter's buffers imported on the second driver.
    ["eviction-under-sharing@qxl+vgem", "vgem_gem_create_object", [1, 2]],
  ] as const)(
    "%s: %s varies over schedules, in its range, and replays",
    async (unit, label, [lo, hi]) => {
      const seen = new Set<number>();
      for (let i = 0; i < 8; i++) {
        const { run } = await runSchedule(config, unit, i);
        expect(run.splats, unit).toEqual([]);
        const n = count(run, label);
        expect(n).toBeGreaterThanOrEqual(lo);
        expect(n).toBeLessThanOrEqual(hi);
        seen.add(n);
        if (i === 0) {
          const again = await replayFinding(unit, run.token);
          expect(again.traceHash).toBe(run.traceHash);
          expect(count(again, label)).toBe(n);
        }
      }
      expect(seen.size, `${unit}: ${label} over 8 schedules`).toBeGreaterThan(1);
    },
  );
});
