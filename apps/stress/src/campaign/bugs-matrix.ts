/**
 * The plan of `bugs`, the detection matrix, as data: for every toggle (toggleTable()), the
 * campaigns that hunt it (a scenario on one driver set each, until its first finding), or the
 * reason none does; and the baseline campaigns, every such scenario and driver set with every
 * toggle off. A toggle with neither a scenario nor a deliberate reason is `unmapped`: `bugs`
 * fails on it.
 *
 * Where a toggle's scenario runs:
 * - a campaign unit key (`surface-reaper@qxl+qxl`): on that driver (the unit's drivers must be
 *   one driver: the campaign runs every combination of the drivers it is given);
 * - a scenario without drivers (TTM's and the drivers' own races, which boot their machine):
 *   once;
 * - a conformance case (one driver): on the toggle's own driver (`vmwgfx.…` on vmwgfx), else on
 *   every driver selected.
 *
 * A case with a strategy of its own (`fs.fget-no-recheck`: POS) hunts with it and its own budget,
 * and its scenario's baseline runs with that strategy too.
 */
import { type ToggleEntry, toggleTable } from "../toggles.js";
import { findCampaignScenario } from "./registry.js";
import { parseUnitKey } from "./units.js";

/** One campaign of the matrix: a scenario on a driver set, with some toggle on (or none). */
export interface MatrixRun {
  readonly scenario: string;
  /** The drivers given to the campaign (one for a unit key, any one for a driverless scenario). */
  readonly drivers: readonly string[];
  /**
   * The strategy of the toggle's case (ToggleCase.strategy), which this campaign runs whatever
   * `bugs` is given (its baseline too); null: `bugs`'s strategy.
   */
  readonly strategy: string | null;
}

export interface ToggleHunt extends MatrixRun {
  readonly toggle: string;
  /** The case's own budget (with a strategy of its own), or null: `bugs`'s `--seeds`. */
  readonly budget: number | null;
}

/** A toggle no campaign hunts, and why. */
export interface NotHunted {
  readonly toggle: string;
  readonly reason: string;
  /** No scenario and no deliberate reason: a hole. */
  readonly unmapped: boolean;
}

export interface BugsPlan {
  readonly hunts: readonly ToggleHunt[];
  readonly notHunted: readonly NotHunted[];
  /** Every scenario and driver set of `hunts`, once, to run with every toggle off. */
  readonly baselines: readonly MatrixRun[];
}

/** Where the scenario of `t` runs, among `drivers` (see the file comment); [] if nowhere. */
function driverSets(t: ToggleEntry, drivers: readonly string[]): MatrixRun[] {
  const name = t.scenario!;
  if (name.includes("@")) {
    const u = parseUnitKey(name);
    const ds = [...new Set(u.drivers.map((d) => d.name))];
    if (ds.length !== 1)
      throw new Error(`${t.name}: unit ${name} of the matrix must name one driver`);
    return drivers.includes(ds[0]!)
      ? [{ scenario: u.scenario.name, drivers: ds, strategy: t.strategy }]
      : [];
  }
  const s = findCampaignScenario(name);
  if (!s) throw new Error(`${t.name}: the matrix names "${name}", which is no scenario`);
  if (s.arity === 0)
    return [{ scenario: name, drivers: drivers.slice(0, 1), strategy: t.strategy }];
  const own = drivers.filter((d) => t.name.startsWith(`${d}.`));
  return (own.length ? own : drivers).map((d) => ({
    scenario: name,
    drivers: [d],
    strategy: t.strategy,
  }));
}

/** The plan of `bugs` on the selected drivers. */
export function planBugs(drivers: readonly string[]): BugsPlan {
  const hunts: ToggleHunt[] = [];
  const notHunted: NotHunted[] = [];
  const baselines = new Map<string, MatrixRun>();
  for (const t of toggleTable()) {
    if (t.scenario === null) {
      notHunted.push({ toggle: t.name, reason: t.unfindable ?? "", unmapped: t.unmapped });
      continue;
    }
    const runs = driverSets(t, drivers);
    if (runs.length === 0) {
      notHunted.push({
        toggle: t.name,
        reason: `its scenario ${t.scenario} needs a driver not selected`,
        unmapped: false,
      });
      continue;
    }
    for (const r of runs) {
      hunts.push({ toggle: t.name, ...r, budget: t.strategy === null ? null : t.schedules });
      baselines.set(`${r.scenario}@${r.drivers.join("+")}${r.strategy ? `/${r.strategy}` : ""}`, r);
    }
  }
  return { hunts, notHunted, baselines: [...baselines.values()] };
}
