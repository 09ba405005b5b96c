import { conformanceCases, TOGGLE_CASES } from "@primetime/conformance";
import { replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { driverUnderTest } from "./driver-under-test.js";

// The portfolio strategy (PCT of several depths, random and POS interleaved) on a historic-bug
// toggle of the DRM core: found within the toggle's PCT budget, the same way from the same seed,
// and replayed from its token.
describe("the portfolio strategy on a conformance toggle", () => {
  const toggle = "gem.flink-no-handle-count-check";
  const tc = TOGGLE_CASES[toggle]!;
  const c = conformanceCases(driverUnderTest, [driverUnderTest]).find((x) => x.name === tc.case)!;

  it(`finds ${toggle} in ${tc.case} within ${tc.schedules} schedules, deterministically`, {
    timeout: 60_000,
  }, async () => {
    const opts = { strategy: "portfolio", toggles: [toggle], schedules: tc.schedules, seed: 1 };
    const a = await c.run(opts);
    expect(a.passed, `not found in ${a.schedules} schedules`).toBe(false);
    expect(a.splats.length).toBeGreaterThan(0);
    const b = await c.run(opts);
    expect(b.schedules).toBe(a.schedules);
    expect(b.token).toBe(a.token);
    const again = await replay(a.token!, c.scenario(a.failedVariant ?? 0));
    expect(again.splats.map((s) => s.message)).toEqual(a.splats.map((s) => s.message));
  });
});
