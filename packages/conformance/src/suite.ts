/**
 * The vitest face of the suite: `defineConformanceSuite(driver, others)` registers every case as
 * a test, so a driver's conformance test file is three lines:
 *
 * ```ts
 * // packages/drivers/<driver>/src/conformance.test.ts
 * import { defineConformanceSuite } from "@primetime/conformance/vitest";
 * import { driverUnderTest } from "./driver-under-test.js";
 * defineConformanceSuite(driverUnderTest, [driverUnderTest]);
 * ```
 *
 * Sequential cases run once; race cases run under PCT (their default schedule budget) and, once
 * more, under a small preemption-bounded DFS. A failing case prints the splats of the first
 * failing schedule and its replay token.
 *
 * It is its own entry point (`@primetime/conformance/vitest`) so that programs running the cases
 * without vitest (the stress harness) never load it.
 */

import { baselineFixes, listToggles } from "@primetime/sim";
import { replay, sameBug } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { conformanceCases, findCase } from "./cases.js";
import type { DriverUnderTest } from "./driver-under-test.js";
import {
  type CaseRunOptions,
  formatCaseFailure,
  formatCaseResult,
  minimizeCaseFailure,
} from "./harness.js";
import { TOGGLE_CASES, UNFINDABLE_TOGGLES } from "./toggle-cases.js";

export interface SuiteOptions {
  /**
   * Options for every case (over the cases' defaults). Without `toggles`, every case runs with
   * the known upstream windows' fix switches on (baselineFixes(): KNOWN-WINDOWS.md), as every
   * clean baseline does.
   */
  run?: CaseRunOptions;
  /** Schedules of the extra bounded DFS run of each race case; 0 skips it. Default 300. */
  dfsSchedules?: number;
  /** Per-test timeout in ms (default 60 000: slow CI boxes). */
  timeout?: number;
  /**
   * Also check the historic-bug toggles of the DRM stack on this driver (defineToggleChecks()):
   * the reference driver (vgem) does; another driver may, at the cost of the runs.
   */
  toggles?: boolean;
}

/** Registers the conformance suite of `driver` (and cross-driver cases with `others`). */
export function defineConformanceSuite(
  driver: DriverUnderTest,
  others: readonly DriverUnderTest[] = [],
  opts: SuiteOptions = {},
): void {
  const timeout = opts.timeout ?? 60_000;
  const dfs = opts.dfsSchedules ?? 300;
  const run: CaseRunOptions = { ...opts.run, toggles: opts.run?.toggles ?? baselineFixes() };
  describe(`conformance: ${driver.name}`, () => {
    for (const c of conformanceCases(driver, others)) {
      it(c.name, { timeout }, async () => {
        const r = await c.run(run);
        if (!r.passed) expect.fail(await formatCaseFailure(c, r));
      });
      if (c.race && dfs > 0) {
        it(`${c.name} (bounded dfs)`, { timeout }, async () => {
          const r = await c.run({
            ...run,
            strategy: "dfs",
            schedules: dfs,
            preemptionBound: 1,
          });
          if (!r.passed) expect.fail(await formatCaseFailure(c, r));
        });
      }
    }
  });
  if (opts.toggles) defineToggleChecks(driver, { timeout });
  else if (Object.values(TOGGLE_CASES).some((tc) => tc.driver === driver.name))
    defineToggleChecks(driver, { timeout, ownOnly: true });
}

/**
 * The toggles of the DRM stack: those of the DRM core (gem.*, prime.*), of dma-buf, and of the
 * VFS paths userspace reaches dma-bufs through (epoll.*).
 */
const DRM_STACK = /^(gem|prime|dma-buf|epoll)\./;

/**
 * Registers the toggle checks of the DRM stack on `driver`: every toggle that the packages loaded
 * define is either in TOGGLE_CASES or in UNFINDABLE_TOGGLES; each of TOGGLE_CASES is found by its
 * case under PCT (seed 1) with the toggle on, the failure replays from its token, and the case is
 * clean with the toggle off; and with every toggle off, the race cases find nothing over 5 seeds
 * x 150 PCT schedules. Every run has the known upstream windows' fix switches on
 * (baselineFixes(), KNOWN-WINDOWS.md), so that a window the case reaches is not taken for the
 * toggle, nor for a failure of the all-off baseline. A toggle whose case names a driver (`driver` of TOGGLE_CASES) is checked
 * on that driver only; with `ownOnly`, only those toggles and their cases are checked, which
 * defineConformanceSuite() does for such a driver by itself.
 */
export function defineToggleChecks(
  driver: DriverUnderTest,
  opts: { timeout?: number; ownOnly?: boolean } = {},
): void {
  const timeout = opts.timeout ?? 60_000;
  // A toggle whose case needs a given driver (TOGGLE_CASES' `driver`) is checked on that
  // driver only; `ownOnly` checks just those (a driver that is not the reference driver).
  const onThisDriver = (name: string) => {
    const want = TOGGLE_CASES[name]?.driver;
    return opts.ownOnly ? want === driver.name : want === undefined || want === driver.name;
  };
  const fixes = baselineFixes();
  const stackToggles = listToggles().filter((t) => DRM_STACK.test(t.name));
  const checked = stackToggles.filter((t) => onThisDriver(t.name));
  describe(`historic-bug toggles of the DRM stack on ${driver.name}`, () => {
    if (!opts.ownOnly)
      it("are all defined by the packages loaded, and every one is mapped or documented", () => {
        expect(stackToggles.length).toBeGreaterThanOrEqual(8);
        for (const t of stackToggles) {
          const mapped = t.name in TOGGLE_CASES;
          const documented = t.name in UNFINDABLE_TOGGLES;
          expect(
            mapped !== documented,
            `${t.name}: exactly one of TOGGLE_CASES, UNFINDABLE_TOGGLES`,
          ).toBe(true);
        }
        for (const name of [...Object.keys(TOGGLE_CASES), ...Object.keys(UNFINDABLE_TOGGLES)])
          expect(
            stackToggles.some((t) => t.name === name),
            `${name} is not a defined toggle`,
          ).toBe(true);
      });

    for (const t of checked) {
      const tc = TOGGLE_CASES[t.name];
      if (!tc) continue;
      it(`${t.name} is found by ${tc.case}`, { timeout }, async () => {
        const c = findCase(driver, tc.case);
        const r = await c.run({ toggles: [t.name, ...fixes], schedules: tc.schedules });
        expect(r.passed, `${t.name} not found in ${r.schedules} schedules of ${tc.case}`).toBe(
          false,
        );
        expect(r.splats.length).toBeGreaterThan(0);
        // The failure replays exactly from its token.
        const again = await replay(r.token!, c.scenario(r.failedVariant ?? 0));
        expect(again.splats.map((s) => s.message)).toEqual(r.splats.map((s) => s.message));
        // Minimized, it is a race table of at most 12 rows, around every preemption left, and
        // its token replays to the same bug.
        const m = (await minimizeCaseFailure(c, r))!;
        const shown = new Set(m.table.rows.map((x) => x.step));
        expect(m.table.rows.length, m.table.text).toBeLessThanOrEqual(12);
        for (const step of m.minimized.preemptionSteps) expect(shown.has(step)).toBe(true);
        expect(m.minimized.preemptions.after).toBeLessThanOrEqual(m.minimized.preemptions.before);
        const min = await replay(m.minimized.token, c.scenario(r.failedVariant ?? 0));
        expect(sameBug(r.failure!, min), m.table.text).toBe(true);
        // And the same case is clean with the toggle off, over the same schedules.
        const clean = await c.run({ toggles: fixes, schedules: Math.min(tc.schedules, 100) });
        expect(clean.passed, formatCaseResult(clean)).toBe(true);
      });
    }
  });

  const ownCases = new Set(checked.map((t) => TOGGLE_CASES[t.name]?.case));
  describe(`with every toggle off, on ${driver.name}`, () => {
    for (const c of conformanceCases(driver).filter(
      (x) => x.race && (!opts.ownOnly || ownCases.has(x.name)),
    )) {
      it(`${c.name} finds nothing over 5 seeds x 150 PCT schedules`, { timeout }, async () => {
        for (const seed of [11, 12, 13, 14, 15]) {
          const r = await c.run({ seed, toggles: fixes, schedules: 150 });
          expect(r.passed, formatCaseResult(r)).toBe(true);
          expect(r.schedules).toBe(150);
        }
      });
    }
  });
}
