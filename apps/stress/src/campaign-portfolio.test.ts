/**
 * The portfolio in campaigns (`--strategy portfolio[:depth]`): schedule i of a unit runs the
 * member of the engine's cycle for i, calibrated per unit, so its strategy depends on nothing
 * but the configuration, the unit and i.
 */
import { baselineFixes } from "@primetime/sim";
import { portfolioMember, SHORT_RUN } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { type CampaignConfig, parseStrategy, UsageError } from "./campaign/config.js";
import { scheduleStrategy, unitCalibration } from "./campaign/schedule.js";

const config = (scenario: string): CampaignConfig => ({
  scenarios: [scenario],
  drivers: ["vgem"],
  strategy: { strategy: "portfolio", depth: 3 },
  seeds: 8,
  timeMs: null,
  seed: 1,
  bugs: [],
  fixes: baselineFixes(),
  faults: null,
  shard: null,
  failFast: false,
  stepLimit: 200_000,
});

describe("--strategy portfolio", () => {
  it("parses with an optional PCT depth", () => {
    expect(parseStrategy("portfolio")).toEqual({ strategy: "portfolio", depth: 3 });
    expect(parseStrategy("portfolio:2")).toEqual({ strategy: "portfolio", depth: 2 });
    expect(() => parseStrategy("portfolio:0")).toThrow(UsageError);
  });

  it("runs the engine's cycle by schedule index, calibrated per unit", () => {
    const s = { strategy: "portfolio", depth: 3 };
    const short = { pctSteps: 9, longest: SHORT_RUN };
    const long = { pctSteps: 400, longest: 450 };
    const kinds = Array.from({ length: 16 }, (_, i) => scheduleStrategy(s, i, long));
    for (const [i, k] of kinds.entries()) {
      const m = portfolioMember(i);
      if (m === "pct(depth+1)") expect(k).toMatchObject({ kind: "pct", depth: 4 });
      else if (m === "pct(depth)")
        expect(k).toEqual({ kind: "pct", depth: 3, estimatedSteps: 400 });
      else expect(k).toEqual({ kind: "pos" });
    }
    // Schedule 0 is a search's first PCT run (k = 1); the other PCT runs use the calibration.
    expect(kinds[0]).toEqual({ kind: "pct", depth: 4, estimatedSteps: 0 });
    expect(kinds[8]).toEqual({ kind: "pct", depth: 4, estimatedSteps: 400 });
    // The shallow member: random on short runs, POS on long ones.
    const shallow = [...Array(8).keys()].filter((i) => portfolioMember(i) === "shallow");
    expect(shallow.length).toBe(3);
    for (const i of shallow) {
      expect(scheduleStrategy(s, i, short)).toEqual({ kind: "random" });
      expect(scheduleStrategy(s, i, long)).toEqual({ kind: "pos" });
    }
  });

  it("calibrates kref.rst's examples as short runs and the GEM races as long ones", async () => {
    const kref = await unitCalibration(config("kref-put-mutex"), "kref-put-mutex");
    expect(kref.longest).toBeGreaterThan(0);
    expect(kref.longest).toBeLessThanOrEqual(SHORT_RUN);
    const key = "gem_flink_race/flink_close@vgem";
    const gem = await unitCalibration(config("gem_flink_race/flink_close"), key);
    expect(gem.longest).toBeGreaterThan(SHORT_RUN);
    expect(gem.pctSteps).toBeGreaterThan(SHORT_RUN);
    // The same configuration calibrates the same (another base seed may differ).
    expect(await unitCalibration(config("gem_flink_race/flink_close"), key)).toEqual(gem);
  }, 120_000);
});
