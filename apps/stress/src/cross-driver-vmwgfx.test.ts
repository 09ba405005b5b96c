/**
 * Cross-driver PRIME between vmwgfx and vgem, and vmwgfx and qxl, in both directions (the drivers cannot import each
 * other, so the pair runs here, where both are installed): every prime_cross_driver case of the
 * conformance suite with vmwgfx under test and the other as the partner, and the reverse. vmwgfx is a
 * devDependency of the app: the campaign's driver discovery (drivers.ts, `dependencies` only)
 * does not pick it up until its scenarios and budgets are sized for it.
 */

import { conformanceCases, formatCaseResult } from "@primetime/conformance";
import { qxlUnderTest } from "@primetime/qxl";
import { vgemUnderTest } from "@primetime/vgem";
import { vmwgfxUnderTest } from "@primetime/vmwgfx";
import { describe, expect, it } from "vitest";

for (const [a, b] of [
  [vmwgfxUnderTest, vgemUnderTest],
  [vgemUnderTest, vmwgfxUnderTest],
  [vmwgfxUnderTest, qxlUnderTest],
  [qxlUnderTest, vmwgfxUnderTest],
] as const) {
  describe(`prime_cross_driver: ${a.name} with ${b.name}`, () => {
    const cases = conformanceCases(a, [b]).filter((c) => c.name.startsWith("prime_cross_driver/"));
    it("has cases in both directions", () => {
      expect(cases.map((c) => c.name).sort()).toEqual(
        [
          `prime_cross_driver/export-to-${b.name}`,
          `prime_cross_driver/import-from-${b.name}`,
        ].sort(),
      );
    });
    for (const c of cases) {
      it(c.name, { timeout: 60_000 }, async () => {
        const r = await c.run();
        expect(r.passed, formatCaseResult(r)).toBe(true);
      });
    }
  });
}

// IGT's prime_vgem with its real pair: vgem exporting (its fences), vmwgfx importing.
describe(`prime_vgem: ${vgemUnderTest.name} to ${vmwgfxUnderTest.name}`, () => {
  const cases = conformanceCases(vgemUnderTest, [vmwgfxUnderTest]).filter((c) =>
    c.name.startsWith("prime_vgem/"),
  );
  it("has IGT's subtests", () => {
    expect(cases.map((c) => c.name)).toContain(
      `prime_vgem/basic-fence-read-to-${vmwgfxUnderTest.name}`,
    );
  });
  for (const c of cases) {
    it(c.name, { timeout: 60_000 }, async () => {
      const r = await c.run();
      expect(r.passed, formatCaseResult(r)).toBe(true);
    });
  }
});
