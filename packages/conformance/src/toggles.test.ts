/**
 * DESIGN.md section 5 for the DRM stack: every historic-bug toggle of @primetime/gem and
 * @primetime/dma-buf is either found by its conformance case (TOGGLE_CASES) under PCT with the
 * toggle on, or documented as not findable by any case (UNFINDABLE_TOGGLES); and with every
 * toggle off, the race cases find nothing across many seeds.
 */

import "@primetime/dma-buf";
import "@primetime/gem";
import { listToggles, replay } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { conformanceCases, findCase } from "./cases.js";
import { formatCaseResult } from "./harness.js";
import { TOGGLE_CASES, UNFINDABLE_TOGGLES } from "./toggle-cases.js";
import { vgemUnderTest } from "./vgem-under-test.js";

const DRM_STACK = /^(gem|prime|dma-buf)\./;
const stackToggles = listToggles().filter((t) => DRM_STACK.test(t.name));

describe("historic-bug toggles of the DRM stack", () => {
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

  for (const t of stackToggles) {
    const tc = TOGGLE_CASES[t.name];
    if (!tc) continue;
    it(`${t.name} is found by ${tc.case}`, async () => {
      const c = findCase(vgemUnderTest, tc.case);
      const r = await c.run({ toggles: [t.name], schedules: tc.schedules });
      expect(r.passed, `${t.name} not found in ${r.schedules} schedules of ${tc.case}`).toBe(false);
      expect(r.splats.length).toBeGreaterThan(0);
      // The failure replays exactly from its token.
      const again = await replay(r.token!, c.scenario(r.failedVariant ?? 0));
      expect(again.splats.map((s) => s.message)).toEqual(r.splats.map((s) => s.message));
      // And the same case is clean with the toggle off, over the same schedules.
      const clean = await c.run({ schedules: Math.min(tc.schedules, 100) });
      expect(clean.passed, formatCaseResult(clean)).toBe(true);
    });
  }
});

describe("with every toggle off", () => {
  for (const c of conformanceCases(vgemUnderTest).filter((x) => x.race)) {
    it(`${c.name} finds nothing over 5 seeds x 150 PCT schedules`, {
      timeout: 60_000,
    }, async () => {
      for (const seed of [11, 12, 13, 14, 15]) {
        const r = await c.run({ seed, schedules: 150 });
        expect(r.passed, formatCaseResult(r)).toBe(true);
        expect(r.schedules).toBe(150);
      }
    });
  }
});
