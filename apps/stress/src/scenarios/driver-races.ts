/**
 * The drivers' own race scenarios as harness scenarios: each driver package that exports its
 * historic races (`VMWGFX_RACE_SCENARIOS` of `@primetime/vmwgfx/scenarios`, `QXL_RACE_SCENARIOS`
 * of `@primetime/qxl/testing`) gives them in the shape of TTM's
 * (name, description, scenario, the toggles it finds, a PCT budget, how the bug shows). Each boots
 * its own machine with one device of its driver, races two threads through the uapi, and ends
 * with the driver's shutdown and leak check, so the harness runs it on no driver of its own
 * (arity 0), as `src/races.test.ts` of the driver does.
 */

import { QXL_RACE_SCENARIOS } from "@primetime/qxl/testing";
import type { SplatKind } from "@primetime/sim";
import { VMWGFX_RACE_SCENARIOS } from "@primetime/vmwgfx/scenarios";
import type { StressScenario } from "./scenario.js";

/** The oracles a driver race reports its bug with (any: the driver's tests fail on any splat). */
export const DRIVER_BUG_KINDS: readonly SplatKind[] = [
  "kasan",
  "refcount",
  "kmemleak",
  "warn",
  "bug",
  "lockdep",
];

/** A driver package's race scenario, as exported (see VmwgfxRaceScenario). */
interface DriverRace {
  readonly name: string;
  readonly description: string;
  readonly expect: "clean";
  readonly scenario: StressScenario["scenario"];
  readonly kernelRef: string;
  readonly finds: readonly string[];
  readonly schedules: number;
  readonly how: string;
}

const DRIVER_RACES: readonly DriverRace[] = [...QXL_RACE_SCENARIOS, ...VMWGFX_RACE_SCENARIOS];

/** The drivers' race scenarios, as the harness runs them. */
export const DRIVER_STRESS_SCENARIOS: readonly StressScenario[] = DRIVER_RACES.map((s) => ({
  name: s.name,
  description: s.description,
  expect: s.expect,
  scenario: s.scenario,
  kernelRef: s.kernelRef,
  finds: s.finds,
  bugKinds: DRIVER_BUG_KINDS,
  harnessTasks: ["main"],
}));

/** Toggle -> the driver race scenario that finds it, its PCT budget and how the bug shows. */
export const DRIVER_TOGGLE_CASES: Readonly<
  Record<string, { case: string; schedules: number; how: string }>
> = Object.fromEntries(
  DRIVER_RACES.flatMap((s) =>
    s.finds.map((t) => [t, { case: s.name, schedules: s.schedules, how: s.how }]),
  ),
);
