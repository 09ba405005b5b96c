/**
 * The portfolio in campaigns (`--strategy portfolio[:depth]`): schedule i of a unit runs the
 * member portfolioSlot(i) names, calibrated per unit, so its strategy and seed depend on nothing
 * but the configuration, the unit and i.
 */
import { baselineFixes } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { type CampaignConfig, parseStrategy, UsageError } from "./campaign/config.js";
import {
  PORTFOLIO_CYCLE,
  PORTFOLIO_EARLY,
  portfolioSlot,
  scheduleSeedIndex,
  scheduleStrategy,
  unitCalibration,
} from "./campaign/schedule.js";

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

  it("opens with three first schedules, then an early block, then its cycle", () => {
    const s = { strategy: "portfolio", depth: 3 };
    const cal = { pctSteps: 400, longest: 450, shallowPctSteps: 380 };
    const spec = (m: string) =>
      m === "pct(depth+1)"
        ? { kind: "pct", depth: 4, estimatedSteps: 400 }
        : m === "pct(depth)"
          ? { kind: "pct", depth: 3, estimatedSteps: 400 }
          : m === "pct(depth-1)"
            ? { kind: "pct", depth: 2, estimatedSteps: 380 }
            : { kind: m };
    // The opening: pct:2's, random's and pct:4's first schedule, all on seed index 0.
    expect([0, 1, 2].map((i) => scheduleStrategy(s, i, cal))).toEqual([
      spec("pct(depth-1)"),
      spec("random"),
      spec("pct(depth+1)"),
    ]);
    expect([0, 1, 2, 3, 11].map((i) => portfolioSlot(i).seedIndex)).toEqual([0, 0, 0, 3, 11]);
    expect([0, 1, 2, 3].map((i) => scheduleSeedIndex(s, i))).toEqual([0, 0, 0, 3]);
    expect(scheduleSeedIndex({ strategy: "pct", depth: 3 }, 1)).toBe(1);
    // The early block, then member i mod 8 of the cycle, on seed index i.
    for (let i = 3; i < 11; i++)
      expect(scheduleStrategy(s, i, cal)).toEqual(spec(PORTFOLIO_EARLY[i - 3]!));
    for (let i = 11; i < 40; i++)
      expect(scheduleStrategy(s, i, cal)).toEqual(spec(PORTFOLIO_CYCLE[i % 8]!));
    // Every member runs in the first 11 schedules.
    const first = new Set(Array.from({ length: 11 }, (_, i) => portfolioSlot(i).member));
    expect(first.size).toBe(5);
    // Depth 1: the shallow member stays at depth 1.
    expect(scheduleStrategy({ strategy: "portfolio", depth: 1 }, 0, cal)).toEqual({
      kind: "pct",
      depth: 1,
      estimatedSteps: 380,
    });
  });

  it("calibrates at one deeper and one below the depth, the same every time", async () => {
    const kref = await unitCalibration(config("kref-put-mutex"), "kref-put-mutex");
    expect(kref.longest).toBeGreaterThan(0);
    expect(kref.shallowPctSteps).toBeGreaterThan(0);
    const key = "gem_flink_race/flink_close@vgem";
    const gem = await unitCalibration(config("gem_flink_race/flink_close"), key);
    expect(gem.pctSteps).toBeGreaterThan(kref.pctSteps);
    expect(gem.shallowPctSteps).toBeGreaterThan(kref.shallowPctSteps);
    // The pct:2 campaign's calibration is the portfolio's shallow one.
    const pct2 = {
      ...config("gem_flink_race/flink_close"),
      strategy: { strategy: "pct", depth: 2 },
    };
    expect((await unitCalibration(pct2, key)).pctSteps).toBe(gem.shallowPctSteps);
    // The same configuration calibrates the same (another base seed may differ).
    expect(await unitCalibration(config("gem_flink_race/flink_close"), key)).toEqual(gem);
  }, 120_000);
});
