import { baselineFixes } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { installedDrivers } from "../drivers.js";
import type { CampaignConfig } from "./config.js";
import { affinityGroups, affinityOrder, CalibrationQueue, runCampaign } from "./runner.js";
import { planUnits, type Unit } from "./units.js";

const config = (over: Partial<CampaignConfig> = {}): CampaignConfig => ({
  drivers: installedDrivers().map((d) => d.name),
  fixes: baselineFixes(),
  timeMs: null,
  faults: null,
  shard: null,
  stepLimit: 200_000,
  scenarios: ["cross-share", "compositor", "mmap-vs-close", "fence-wait"],
  strategy: { strategy: "pct", depth: 3 },
  seeds: 20,
  seed: 1,
  bugs: [],
  failFast: false,
  ...over,
});

const driverSet = (u: Unit) => [...new Set(u.drivers.map((d) => d.name))].sort().join("+");

describe("affinityGroups", () => {
  const units = planUnits(config());

  it("gives every unit to exactly one thread", () => {
    for (const n of [1, 2, 3, 8, 64]) {
      const groups = affinityGroups(units, n, () => 1);
      expect(groups).toHaveLength(n);
      const keys = groups.flat().map((u) => u.key);
      expect(keys.sort()).toEqual(units.map((u) => u.key).sort());
    }
  });

  it("keeps the units of one set of drivers together and splits the weight evenly", () => {
    const groups = affinityGroups(units, 2, () => 1);
    const sets = groups.map((g) => new Set(g.map(driverSet)));
    // Sorted by driver set and cut once: at most one set is shared by the two threads.
    const shared = [...sets[0]!].filter((s) => sets[1]!.has(s));
    expect(shared.length).toBeLessThanOrEqual(1);
    expect(Math.abs(groups[0]!.length - groups[1]!.length)).toBeLessThanOrEqual(1);
    // By weight (a unit's calibrated length): the two threads' sums differ by at most one unit's.
    const w = (u: Unit) => 100 + ((u.key.length * 7919) % 900);
    const weighted = affinityGroups(units, 2, w);
    const sums = weighted.map((g) => g.reduce((a, u) => a + w(u), 0));
    expect(Math.abs(sums[0]! - sums[1]!)).toBeLessThanOrEqual(Math.max(...units.map(w)));
  });
});

describe("CalibrationQueue", () => {
  const units = planUnits(config());

  it("hands every unit out once, each thread first the units of its own slice of the affinity order", () => {
    for (const n of [1, 2, 3, 8, 64]) {
      const q = new CalibrationQueue(units, n);
      const order = affinityOrder(units);
      const taken: string[] = [];
      // Thread 0 takes the first unit of the order, thread n-1 the first of the last slice.
      expect(q.take(0)?.key).toBe(order[0]!.key);
      taken.push(order[0]!.key);
      const lastStart = Math.round(((n - 1) * units.length) / n);
      if (n > 1 && lastStart < units.length) {
        expect(q.take(n - 1)?.key).toBe(order[lastStart]!.key);
        taken.push(order[lastStart]!.key);
      }
      for (let t = 0; ; t = (t + 1) % n) {
        const u = q.take(t);
        if (!u) break;
        taken.push(u.key);
      }
      expect(taken.sort()).toEqual(units.map((u) => u.key).sort());
      expect(q.take(0)).toBeUndefined();
    }
  });

  it("keeps a thread on its own group's units while it is the only one calibrating", () => {
    // Thread 0 alone (the worker still starting) takes its slice, then the front of the other's:
    // the units nearest its own in the affinity order, its group's if the cut falls there. The
    // worker, done with its slice, takes the back of thread 0's.
    const q = new CalibrationQueue(units, 2);
    const order = affinityOrder(units);
    const half = Math.round(units.length / 2);
    const first = Array.from({ length: half }, () => q.take(0)!.key);
    expect(first).toEqual(order.slice(0, half).map((u) => u.key));
    expect(q.take(0)?.key).toBe(order[half]!.key);
    expect(q.take(1)?.key).toBe(order[half + 1]!.key);
    const other = new CalibrationQueue(units, 2);
    for (let i = half; i < units.length; i++) expect(other.take(1)?.key).toBe(order[i]!.key);
    expect(other.take(1)?.key).toBe(order[half - 1]!.key);
    expect(other.take(0)?.key).toBe(order[0]!.key);
  });
});

describe("runCampaign on several threads", () => {
  it("runs every schedule once whatever the split (each thread its own units, then the others')", async () => {
    // Few units and more threads than the split can feed: threads whose units are done help.
    const c = config({ scenarios: ["mmap-vs-close"], seeds: 40 });
    const one = await runCampaign(c, 1);
    const three = await runCampaign(c, 3);
    expect(three.tallies).toEqual(one.tallies);
    expect(three.tallies.reduce((a, t) => a + t.schedules, 0)).toBe(40 * c.drivers.length);
  }, 60_000);
});
