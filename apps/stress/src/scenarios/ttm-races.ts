/**
 * TTM's races as harness scenarios: the scenarios of `@primetime/ttm/scenarios` (each boots the
 * package's test driver on a simulated GPU, races BO release against an mmap lookup, an
 * eviction LRU walk or a signalling fence, and ends with the leak checks). They run on no DRM
 * driver of the harness: TTM is below the drivers (qxl and vmwgfx build on it).
 */
import "@primetime/ttm";
import type { SplatKind } from "@primetime/sim";
import { TTM_RACE_SCENARIOS } from "@primetime/ttm/scenarios";
import type { StressScenario } from "./scenario.js";

/** The oracles a TTM scenario reports its bug with. */
export const TTM_BUG_KINDS: readonly SplatKind[] = ["kasan", "refcount", "kmemleak", "warn", "bug"];

/** The TTM race scenarios, as the harness runs them. */
export const TTM_STRESS_SCENARIOS: readonly StressScenario[] = TTM_RACE_SCENARIOS.map((s) => ({
  name: s.name,
  description: s.description,
  expect: s.expect,
  scenario: s.scenario,
  kernelRef: s.kernelRef,
  finds: s.finds,
  bugKinds: TTM_BUG_KINDS,
  harnessTasks: ["main"],
}));

/** Toggle -> the TTM scenario that finds it, its PCT budget and how the bug shows. */
export const TTM_TOGGLE_CASES: Readonly<
  Record<string, { case: string; schedules: number; how: string }>
> = Object.fromEntries(
  TTM_RACE_SCENARIOS.flatMap((s) =>
    s.finds.map((t) => [t, { case: s.name, schedules: s.schedules, how: s.how }]),
  ),
);
