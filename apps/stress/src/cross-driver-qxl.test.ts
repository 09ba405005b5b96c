/**
 * Cross-driver PRIME between qxl and vgem, in both directions (a driver's own tests may not load
 * another driver, so the pair runs here, where both are installed): qxl exports to vgem and
 * imports from it, every close order, contents checked on both sides, a leak check after each.
 * qxl is not in `installedDrivers()` (the campaign's driver list), only here.
 */

import { conformanceCases, formatCaseResult } from "@primetime/conformance";
import { driverUnderTest as qxl } from "@primetime/qxl";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { describe, expect, it } from "vitest";

describe("cross-driver PRIME: qxl and vgem", () => {
  for (const [a, b] of [
    [qxl, vgem],
    [vgem, qxl],
  ] as const) {
    for (const c of conformanceCases(a, [b]).filter((x) =>
      x.name.startsWith("prime_cross_driver/"),
    )) {
      it(`${a.name}: ${c.name}`, { timeout: 120_000 }, async () => {
        const r = await c.run();
        expect(r.passed, formatCaseResult(r)).toBe(true);
      });
    }
  }
});
