/**
 * Units of a campaign: a scenario on one of the driver combinations it fits. A unit's key names
 * it in reports and replay tokens: `scenario`, `scenario@driver`, `scenario@exporter+importer`,
 * followed by `~nth:N` or `~p:P` when fault injection was on, so a token alone says what to
 * replay.
 */
import { type DriverUnderTest, installedDrivers } from "../drivers.js";
import type { Scenario } from "../engine.js";
import { type CampaignScenario, type FaultSpec, formatFaults } from "./campaign-scenario.js";
import { type CampaignConfig, driversNamed, parseFaults, short, UsageError } from "./config.js";
import { CAMPAIGN_SCENARIOS, findCampaignScenario } from "./registry.js";

export interface Unit {
  readonly key: string;
  readonly scenario: CampaignScenario;
  readonly drivers: readonly DriverUnderTest[];
  readonly faults: FaultSpec | null;
}

export function unitKey(
  scenario: string,
  drivers: readonly string[],
  faults: FaultSpec | null,
): string {
  const d = drivers.length ? `@${drivers.join("+")}` : "";
  return `${scenario}${d}${faults ? `~${formatFaults(faults)}` : ""}`;
}

/** The unit a key (from a report or a token) names; a UsageError if it names none. */
export function parseUnitKey(key: string): Unit {
  const m = /^([^@~]+)(?:@([^~]+))?(?:~(.+))?$/.exec(key);
  const s = m ? findCampaignScenario(m[1]!) : undefined;
  if (!m || !s)
    throw new UsageError(
      `"${short(key)}" names no scenario of the harness; scenarios: ${CAMPAIGN_SCENARIOS.map((x) => x.name).join(", ")}`,
    );
  const names = m[2] ? m[2].split("+") : [];
  if (names.length !== s.arity)
    throw new UsageError(
      `"${short(key)}": ${s.name} runs on ${s.arity} driver(s), the key names ${names.length}`,
    );
  const drivers = driversNamed(names);
  const faults = m[3] ? parseFaults(m[3]) : null;
  return { key: unitKey(s.name, names, faults), scenario: s, drivers, faults };
}

/** Every ordered combination of `arity` drivers (with repetition: vgem+vgem is two devices). */
export function combinations(
  drivers: readonly DriverUnderTest[],
  arity: number,
): DriverUnderTest[][] {
  if (arity === 0) return [[]];
  const out: DriverUnderTest[][] = [];
  for (const rest of combinations(drivers, arity - 1))
    for (const d of drivers) out.push([...rest, d]);
  return out;
}

/** The units of a campaign, in a fixed order: scenarios as selected, then driver combinations. */
export function planUnits(c: CampaignConfig): Unit[] {
  const drivers = driversNamed(c.drivers);
  const out: Unit[] = [];
  for (const name of c.scenarios) {
    const s = findCampaignScenario(name);
    if (!s) throw new UsageError(`unknown scenario "${short(name)}"`);
    if (c.faults && !s.faultTolerant) continue;
    for (const ds of combinations(drivers, s.arity)) {
      if (s.fits && !s.fits(ds)) continue;
      const names = ds.map((d) => d.name);
      out.push({
        key: unitKey(s.name, names, c.faults),
        scenario: s,
        drivers: ds,
        faults: c.faults,
      });
    }
  }
  return out;
}

/** The run body of a unit. */
export function unitBody(u: Unit): Scenario {
  return u.scenario.build(u.drivers, { faults: u.faults });
}

/** Every installed driver's name. */
export function driverNames(): string[] {
  return installedDrivers().map((d) => d.name);
}
