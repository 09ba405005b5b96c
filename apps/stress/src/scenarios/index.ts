import { ABBA_SCENARIO } from "./abba.js";
import { KREF_RST_SCENARIOS } from "./kref-rst.js";
import type { StressScenario } from "./scenario.js";

export { ABBA_SCENARIO } from "./abba.js";
export { Entry } from "./entry.js";
export { KREF_RST_SCENARIOS } from "./kref-rst.js";
export type { Expectation, StressScenario } from "./scenario.js";

/** Every scenario of the harness, in the order the demo runs them. */
export const SCENARIOS: readonly StressScenario[] = [...KREF_RST_SCENARIOS, ABBA_SCENARIO];

/** The scenario called `name`, or undefined. */
export function findScenario(name: string): StressScenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
