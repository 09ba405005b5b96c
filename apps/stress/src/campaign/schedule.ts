/**
 * Running the schedules of a job: one unit, a set of schedule indices (random and PCT) or the
 * unit's whole bounded DFS. Schedule i of a unit runs with seed deriveSeed(unitSeed, i), where
 * unitSeed = deriveSeed(base seed, hash of the unit key), and a fresh strategy: its result depends
 * on nothing but the configuration, the unit and i, so any split of the indices between worker
 * threads or shards gives the same runs, the same findings and the same tokens. One schedule
 * always runs on one thread.
 */
import {
  deriveSeed,
  explore,
  PctStrategy,
  type RunResult,
  type Scenario,
  SEARCH_DEFAULTS,
  Simulation,
} from "../engine.js";
import type { CampaignConfig } from "./config.js";
import { addRun, emptyTally, isFailure, type UnitTally } from "./tally.js";
import { parseUnitKey, unitBody } from "./units.js";

/** A piece of a campaign for one thread: indices from, from+step, ... below to; or the DFS. */
export type Job =
  | { readonly unit: string; readonly from: number; readonly to: number; readonly step: number }
  | { readonly unit: string; readonly dfs: true; readonly limit: number };

export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function unitSeed(c: CampaignConfig, key: string): number {
  return deriveSeed(c.seed, hashKey(key) & 0x7fffffff);
}

/** The toggles on in every schedule: the bugs asked for and the known windows' fix switches. */
export function campaignToggles(c: CampaignConfig): string[] {
  return [...c.bugs, ...c.fixes];
}

/** Calibration runs of PCT's step estimate (not counted as schedules). */
const PCT_CALIBRATION_RUNS = 4;

/** A unit's body and, under PCT, its step estimate, computed once per thread. */
interface Prepared {
  readonly body: Scenario;
  readonly pctSteps: number;
  /** The scenario's `withoutKnownReports` (identity when it has none). */
  readonly known: (r: RunResult) => RunResult;
}

const prepared = new Map<string, Promise<Prepared>>();

async function prepare(c: CampaignConfig, key: string): Promise<Prepared> {
  const unit = parseUnitKey(key);
  const body = unitBody(unit);
  const known = unit.scenario.withoutKnownReports ?? ((r: RunResult) => r);
  let pctSteps = 0;
  if (c.strategy.strategy === "pct") {
    // PCT spreads its change points over the run's length, which it must know: a fixed,
    // deterministic calibration (the same in every thread) measures it.
    const pct = new PctStrategy(c.strategy.depth ?? SEARCH_DEFAULTS.depth);
    const base = unitSeed(c, key);
    for (let j = 0; j < PCT_CALIBRATION_RUNS; j++) {
      const sim = new Simulation({
        seed: deriveSeed(base ^ 0x5bd1e995, j),
        strategy: pct,
        stepLimit: c.stepLimit,
        toggles: campaignToggles(c),
      });
      await sim.run(body);
    }
    pctSteps = pct.estimatedSteps;
  }
  return { body, pctSteps, known };
}

function preparedUnit(c: CampaignConfig, key: string): Promise<Prepared> {
  let p = prepared.get(key);
  if (!p) {
    p = prepare(c, key);
    prepared.set(key, p);
  }
  return p;
}

/** Runs schedule `index` of unit `key`. */
export async function runSchedule(
  c: CampaignConfig,
  key: string,
  index: number,
): Promise<{ run: RunResult; seed: number }> {
  const { body, pctSteps, known } = await preparedUnit(c, key);
  const seed = deriveSeed(unitSeed(c, key), index);
  const s = c.strategy;
  const sim = new Simulation({
    seed,
    strategy:
      s.strategy === "pct"
        ? { kind: "pct", depth: s.depth ?? SEARCH_DEFAULTS.depth, estimatedSteps: pctSteps }
        : { kind: s.strategy === "pos" ? "pos" : "random" },
    stepLimit: c.stepLimit,
    scenario: key,
    toggles: campaignToggles(c),
  });
  return { run: known(await sim.run(body)), seed };
}

/**
 * Runs a job and tallies it. `onSchedule` is called after each schedule (progress); `stop`
 * says the campaign is over (fail-fast elsewhere, time up).
 */
export async function runJob(
  c: CampaignConfig,
  job: Job,
  onSchedule?: (failed: boolean) => void,
  stop?: () => boolean,
): Promise<UnitTally> {
  const t = emptyTally(job.unit);
  if ("dfs" in job) {
    const { body, known } = await preparedUnit(c, job.unit);
    let i = 0;
    const r = await explore(body, {
      strategy: "dfs",
      preemptionBound: c.strategy.preemptionBound ?? SEARCH_DEFAULTS.preemptionBound,
      schedules: job.limit,
      scenario: job.unit,
      toggles: campaignToggles(c),
      stepLimit: c.stepLimit,
      stopOnFailure: true,
      isFailure: (raw) => {
        const run = known(raw);
        addRun(t, run, i++, run.seed);
        const failed = isFailure(run);
        onSchedule?.(failed);
        return (failed && c.failFast) || (stop?.() ?? false);
      },
    });
    t.complete = r.complete;
    return t;
  }
  for (let i = job.from; i < job.to; i += job.step) {
    if (stop?.()) break;
    const { run, seed } = await runSchedule(c, job.unit, i);
    addRun(t, run, i, seed);
    const failed = isFailure(run);
    onSchedule?.(failed);
    if (failed && c.failFast) break;
  }
  return t;
}
