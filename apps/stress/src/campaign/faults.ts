/**
 * `--faults`: fault injection (failslab / fail-nth of @primetime/kernel) configured at the start
 * of every run of a unit, so a replay of its token injects the same failures.
 */
import { setFailslab } from "@primetime/kernel";
import type { Scenario } from "../engine.js";
import type { FaultSpec } from "./campaign-scenario.js";

/** Wraps a run's body so fault injection is configured before it starts. */
export function withFaults(body: Scenario, faults: FaultSpec | null): Scenario {
  if (!faults) return body;
  return async (sim) => {
    setFailslab(faults.kind === "nth" ? { failNth: faults.nth } : { probability: faults.p });
    await body(sim);
  };
}
