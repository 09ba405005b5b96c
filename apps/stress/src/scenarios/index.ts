import { KREF_RST_EXAMPLES } from "@primetime/atomics/examples";
import { ABBA_SCENARIO } from "./abba.js";
import { DRIVER_STRESS_SCENARIOS } from "./driver-races.js";
import { DRM_RACE_SCENARIOS } from "./drm-races.js";
import type { StressScenario } from "./scenario.js";
import { TTM_STRESS_SCENARIOS } from "./ttm-races.js";

export { Entry } from "@primetime/atomics/examples";
export { ABBA_SCENARIO } from "./abba.js";
export {
  DRIVER_BUG_KINDS,
  DRIVER_STRESS_SCENARIOS,
  DRIVER_TOGGLE_CASES,
} from "./driver-races.js";
export {
  CONFORMANCE_BUG_KINDS,
  CONFORMANCE_HARNESS_TASKS,
  caseStressScenario,
  DRM_RACE_SCENARIOS,
} from "./drm-races.js";
export type { Expectation, StressScenario } from "./scenario.js";
export { TTM_BUG_KINDS, TTM_STRESS_SCENARIOS, TTM_TOGGLE_CASES } from "./ttm-races.js";

/**
 * The examples of Documentation/core-api/kref.rst, each right pattern followed by the wrong one
 * it is contrasted with: `KREF_RST_EXAMPLES` of `@primetime/atomics/examples`, as they are.
 */
export const KREF_RST_SCENARIOS: readonly StressScenario[] = KREF_RST_EXAMPLES;

/** The first part of the demo: the kref.rst pairs and the AB-BA deadlock. */
export const LIFETIME_SCENARIOS: readonly StressScenario[] = [...KREF_RST_SCENARIOS, ABBA_SCENARIO];

/**
 * Every scenario of the harness: the lifetime ones, the historic DRM races, TTM's races and the
 * drivers' own races.
 */
export const SCENARIOS: readonly StressScenario[] = [
  ...LIFETIME_SCENARIOS,
  ...DRM_RACE_SCENARIOS,
  ...TTM_STRESS_SCENARIOS,
  ...DRIVER_STRESS_SCENARIOS,
];

/** The scenario called `name`, or undefined. */
export function findScenario(name: string): StressScenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
