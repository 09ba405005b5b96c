/**
 * The historic GEM/PRIME races as harness scenarios. Each is a case of @primetime/conformance
 * (an IGT test run as userspace on a simulated kernel, with the leak check at the end) against
 * vgem, or vgem beside a second vgem for a cross-driver case: its `scenario(variant)` is what the
 * harness explores. With every toggle off the case is clean; with a toggle of TOGGLE_CASES that
 * names it on, some schedule fails it, which is what `hunt <toggle>` looks for.
 *
 * A conformance case fails on any splat, so the bug kinds here are every oracle its runs report:
 * KASAN and refcount from the kernel, `warn` from the GEM counter check (drmDevCheckLeaks()) and
 * PRIME teardown, `kmemleak`, and `bug` for a failed IGT assertion (the process crashes).
 */
import "@primetime/dma-buf";
import "@primetime/gem";
import { type ConformanceCase, conformanceCases, TOGGLE_CASES } from "@primetime/conformance";
import type { Scenario, SplatKind } from "@primetime/sim";
import { vgemUnderTest } from "@primetime/vgem";
import type { StressScenario } from "./scenario.js";

/** The splat kinds a conformance case reports when it fails (see the file comment). */
export const CONFORMANCE_BUG_KINDS: readonly SplatKind[] = [
  "kasan",
  "refcount",
  "warn",
  "kmemleak",
  "bug",
];

/** The task of the harness in a conformance run: it boots, waits for `igt`, quiesces, checks. */
export const CONFORMANCE_HARNESS_TASKS: readonly string[] = ["main"];

/**
 * A conformance case as a harness scenario. A case with several variants (the close orders of a
 * cross-driver case) picks its variant as the run's first data choice, so PCT samples the
 * variants, DFS enumerates them, and the token records which one ran.
 */
export function caseStressScenario(
  c: ConformanceCase,
  finds: readonly string[] = [],
  partner = false,
): StressScenario {
  const scenario: Scenario =
    c.variants > 1 ? (sim) => c.scenario(sim.choose(c.variants, "variant"))(sim) : c.scenario(0);
  return {
    name: c.name,
    description: c.description,
    expect: "clean",
    scenario,
    kernelRef: `${c.origin}, as the @primetime/conformance case on vgem${partner ? " and a second vgem" : ""}`,
    finds,
    bugKinds: CONFORMANCE_BUG_KINDS,
    harnessTasks: CONFORMANCE_HARNESS_TASKS,
  };
}

function buildDrmRaceScenarios(): StressScenario[] {
  const cases = conformanceCases(vgemUnderTest, [vgemUnderTest]);
  const byCase = new Map<string, string[]>();
  for (const [toggle, tc] of Object.entries(TOGGLE_CASES)) {
    const list = byCase.get(tc.case) ?? [];
    list.push(toggle);
    byCase.set(tc.case, list);
  }
  return [...byCase].map(([name, finds]) => {
    const c = cases.find((x) => x.name === name);
    if (!c) throw new Error(`TOGGLE_CASES names "${name}", which is no conformance case of vgem`);
    return caseStressScenario(c, finds, c.group === "prime_cross_driver");
  });
}

/**
 * One scenario per conformance case of TOGGLE_CASES, in its order: clean with every toggle
 * off, buggy with any toggle of its `finds` on.
 */
export const DRM_RACE_SCENARIOS: readonly StressScenario[] = buildDrmRaceScenarios();
