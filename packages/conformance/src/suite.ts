/**
 * The vitest face of the suite: `defineConformanceSuite(driver, others)` registers every case as
 * a test, so a driver's conformance test file is three lines:
 *
 * ```ts
 * import { defineConformanceSuite } from "@primetime/conformance/vitest";
 * import { vgemUnderTest } from "./vgem-under-test.js";
 * defineConformanceSuite(vgemUnderTest, [vgemUnderTest]);
 * ```
 *
 * Sequential cases run once; race cases run under PCT (their default schedule budget) and, once
 * more, under a small preemption-bounded DFS. A failing case prints the splats of the first
 * failing schedule and its replay token.
 *
 * It is its own entry point (`@primetime/conformance/vitest`) so that programs running the cases
 * without vitest (the stress harness) never load it.
 */

import { describe, expect, it } from "vitest";
import { conformanceCases } from "./cases.js";
import type { DriverUnderTest } from "./driver-under-test.js";
import { type CaseRunOptions, formatCaseResult } from "./harness.js";

export interface SuiteOptions {
  /** Options for every case (over the cases' defaults). */
  run?: CaseRunOptions;
  /** Schedules of the extra bounded DFS run of each race case; 0 skips it. Default 300. */
  dfsSchedules?: number;
  /** Per-test timeout in ms (default 60 000: slow CI boxes). */
  timeout?: number;
}

/** Registers the conformance suite of `driver` (and cross-driver cases with `others`). */
export function defineConformanceSuite(
  driver: DriverUnderTest,
  others: readonly DriverUnderTest[] = [],
  opts: SuiteOptions = {},
): void {
  const timeout = opts.timeout ?? 60_000;
  const dfs = opts.dfsSchedules ?? 300;
  describe(`conformance: ${driver.name}`, () => {
    for (const c of conformanceCases(driver, others)) {
      it(c.name, { timeout }, async () => {
        const r = await c.run(opts.run);
        expect(r.passed, formatCaseResult(r)).toBe(true);
      });
      if (c.race && dfs > 0) {
        it(`${c.name} (bounded dfs)`, { timeout }, async () => {
          const r = await c.run({
            ...opts.run,
            strategy: "dfs",
            schedules: dfs,
            preemptionBound: 1,
          });
          expect(r.passed, formatCaseResult(r)).toBe(true);
        });
      }
    }
  });
}
