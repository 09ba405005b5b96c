/**
 * Every scenario a campaign can run: the cross-driver sharing workloads of this package, the
 * historic GEM/PRIME races (conformance cases, on every driver), the kref.rst examples and the
 * AB-BA deadlock (no driver).
 */
import { conformanceCases } from "@primetime/conformance";
import type { DriverUnderTest } from "../drivers.js";
import type { Scenario } from "../engine.js";
import {
  DRIVER_STRESS_SCENARIOS,
  DRM_RACE_SCENARIOS,
  LIFETIME_SCENARIOS,
  type StressScenario,
  TTM_STRESS_SCENARIOS,
} from "../scenarios/index.js";
import { SHARING_SCENARIOS } from "../scenarios/sharing/index.js";
import type { BuildOptions, CampaignScenario } from "./campaign-scenario.js";
import { withFaults } from "./faults.js";

/** A driverless scenario (kref.rst, AB-BA, TTM's races) as a campaign scenario. */
function lifetime(s: StressScenario): CampaignScenario {
  return {
    name: s.name,
    description: s.description,
    kernelRef: s.kernelRef,
    expect: s.expect,
    arity: 0,
    build: (_d, o: BuildOptions) => withFaults(s.scenario, o.faults),
    finds: s.finds,
    harnessTasks: s.harnessTasks,
  };
}

/** A historic-race conformance case, on one driver (its own partner for cross-driver cases). */
function drmRace(s: StressScenario): CampaignScenario {
  return {
    name: s.name,
    description: s.description,
    kernelRef: s.kernelRef.replace(/ on vgem.*$/, " on the driver under test"),
    expect: s.expect,
    arity: 1,
    build(drivers: readonly DriverUnderTest[], o: BuildOptions): Scenario {
      const d = drivers[0]!;
      const c = conformanceCases(d, [d]).find((x) => x.name === s.name);
      if (!c) throw new Error(`no conformance case ${s.name} for ${d.name}`);
      const body: Scenario =
        c.variants > 1
          ? (sim) => c.scenario(sim.choose(c.variants, "variant"))(sim)
          : c.scenario(0);
      return withFaults(body, o.faults);
    },
    finds: s.finds,
    harnessTasks: s.harnessTasks,
  };
}

/** Every campaign scenario, in `list` order. */
export const CAMPAIGN_SCENARIOS: readonly CampaignScenario[] = [
  ...SHARING_SCENARIOS,
  ...DRM_RACE_SCENARIOS.map(drmRace),
  ...LIFETIME_SCENARIOS.map(lifetime),
  ...TTM_STRESS_SCENARIOS.map(lifetime),
  ...DRIVER_STRESS_SCENARIOS.map(lifetime),
];

export function findCampaignScenario(name: string): CampaignScenario | undefined {
  return CAMPAIGN_SCENARIOS.find((s) => s.name === name);
}
