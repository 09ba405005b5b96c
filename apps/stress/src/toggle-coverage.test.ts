/**
 * The detection matrix covers every toggle: each toggle the loaded packages define (every
 * driver the app depends on, gem, dma-buf, ttm, kernel...) has a scenario of the harness that
 * finds it, or a deliberate reason printed by `bugs` and the demo. A toggle landing without
 * either fails here (add its scenario to TOGGLE_CASES of conformance, a driver's exported race
 * scenarios, CAMPAIGN_TOGGLE_UNITS, or its reason to NOT_HUNTED in src/toggles.ts).
 */
import { listToggles } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { planBugs } from "./campaign/bugs-matrix.js";
import { findCampaignScenario } from "./campaign/registry.js";
import { parseUnitKey } from "./campaign/units.js";
import { installedDrivers } from "./drivers.js";
import { huntScenario } from "./hunt.js";
import { CAMPAIGN_TOGGLE_UNITS, NOT_HUNTED, toggleTable } from "./toggles.js";

describe("the detection matrix", () => {
  it("has a scenario or a deliberate reason for every toggle", () => {
    const names = listToggles().map((t) => t.name);
    // The drivers' toggles are loaded (drivers.ts imports every dependency).
    for (const d of ["qxl", "vmwgfx"])
      expect(
        names.some((n) => n.startsWith(`${d}.`)),
        d,
      ).toBe(true);
    const table = toggleTable();
    expect(table.map((t) => t.name)).toEqual(names);
    const holes = table.filter((t) => t.unmapped).map((t) => t.name);
    expect(holes, "toggles with neither a scenario nor a reason").toEqual([]);
    for (const t of table) {
      if (t.scenario === null) expect(t.unfindable!.length, t.name).toBeGreaterThan(20);
      else expect(huntScenario(t.scenario), `${t.name}: ${t.scenario}`).toBeDefined();
    }
    // A reason is for a toggle no scenario finds; a stale one (the toggle gone, or mapped since)
    // is a mistake too.
    for (const name of Object.keys(NOT_HUNTED)) {
      expect(names, name).toContain(name);
      expect(table.find((t) => t.name === name)!.scenario, name).toBeNull();
    }
    for (const [name, tc] of Object.entries(CAMPAIGN_TOGGLE_UNITS)) {
      expect(names, name).toContain(name);
      expect(parseUnitKey(tc.case).key).toBe(tc.case);
    }
  });

  it("plans every hunt on the drivers and baselines of its scenario", () => {
    const drivers = installedDrivers().map((d) => d.name);
    const plan = planBugs(drivers);
    const hunted = new Set(plan.hunts.map((h) => h.toggle));
    for (const t of toggleTable())
      expect(hunted.has(t.name) || plan.notHunted.some((n) => n.toggle === t.name), t.name).toBe(
        true,
      );
    expect(plan.notHunted.filter((n) => n.unmapped)).toEqual([]);
    // A driver's own toggle runs on that driver only; a DRM-core one on every driver.
    for (const h of plan.hunts)
      for (const d of drivers)
        if (h.toggle.startsWith(`${d}.`) && findCampaignScenario(h.scenario)!.arity > 0)
          expect(h.drivers).toEqual([d]);
    expect(plan.hunts.filter((h) => h.toggle === "gem.open-drops-name-lock")).toHaveLength(
      drivers.length,
    );
    expect(plan.hunts.find((h) => h.toggle === "qxl.dual-refcount")).toMatchObject({
      scenario: "surface-reaper",
      drivers: ["qxl"],
    });
    const keys = plan.baselines.map((b) => `${b.scenario}@${b.drivers.join("+")}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const h of plan.hunts) expect(keys).toContain(`${h.scenario}@${h.drivers.join("+")}`);
    // Without qxl, its toggles are not hunted, and say why.
    const noQxl = planBugs(drivers.filter((d) => d !== "qxl"));
    expect(noQxl.notHunted.find((n) => n.toggle === "qxl.dual-refcount")?.reason).toMatch(
      /needs a driver not selected/,
    );
  });
});
