/**
 * Running the schedules of a job: one unit, a set of schedule indices (random, POS, PCT and the
 * portfolio) or the unit's whole bounded DFS. Schedule i of a unit runs with seed
 * deriveSeed(unitSeed, i), where unitSeed = deriveSeed(base seed, hash of the unit key), and a
 * fresh strategy chosen from nothing but the configuration, the unit and i, so any split of the
 * indices between worker threads or shards gives the same runs, the same findings and the same
 * tokens. One schedule always runs on one thread.
 *
 * PCT must know a run's length, and the portfolio which of its members fit the unit; in a search
 * both come from the runs before (`explore()`'s PCT estimate rises run after run, its portfolio
 * switches its "shallow" member from random to POS once a run is long). Here they come instead
 * from a fixed calibration of the unit (CALIBRATION_RUNS runs of PCT with derived seeds, the same
 * in every thread), so schedule i depends on no other schedule.
 */
import {
  deriveSeed,
  explore,
  PctStrategy,
  portfolioMember,
  type RunResult,
  type Scenario,
  SEARCH_DEFAULTS,
  type SearchOptions,
  SHORT_RUN,
  Simulation,
  type StrategySpec,
} from "../engine.js";
import type { CampaignConfig } from "./config.js";
import { addRun, emptyTally, isFailure, type UnitTally } from "./tally.js";
import { parseUnitKey, unitBody } from "./units.js";

/**
 * A piece of a campaign for one thread: indices from, from+step, ... below to; or the DFS. A
 * job may carry its unit's calibration (calibrateUnit()), measured once for every thread.
 */
export type Job =
  | {
      readonly unit: string;
      readonly from: number;
      readonly to: number;
      readonly step: number;
      readonly calibration?: Calibration;
    }
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

/** Calibration runs of a unit under PCT and the portfolio (not counted as schedules). */
export const CALIBRATION_RUNS = 4;

/** What the calibration of a unit measured. */
export interface Calibration {
  /** PCT's estimate of a run's scheduling decisions (its k): the most any calibration run made. */
  readonly pctSteps: number;
  /** The most choices (decisions and data choices) a calibration run recorded. */
  readonly longest: number;
}

/** A unit's body, its calibration (PCT and portfolio) and its known-report filter. */
interface Prepared {
  readonly body: Scenario;
  readonly calibration: Calibration;
  /** The scenario's `withoutKnownReports` (identity when it has none). */
  readonly known: (r: RunResult) => RunResult;
}

/**
 * Prepared units of this thread, by configuration and unit: the calibration depends on the
 * strategy, the base seed and the toggles, so two campaigns of one process (bugs' hunts and
 * baselines, the bench's strategies) never share one.
 */
const prepared = new Map<string, Promise<Prepared>>();

function preparedKey(c: CampaignConfig, key: string): string {
  return JSON.stringify([key, c.strategy, c.seed, c.stepLimit, campaignToggles(c)]);
}

/** The depth of the PCT that calibrates a unit: the portfolio's main member is one deeper. */
function calibrationDepth(s: SearchOptions): number | null {
  const depth = s.depth ?? SEARCH_DEFAULTS.depth;
  if (s.strategy === "pct") return depth;
  if (s.strategy === "portfolio") return depth + 1;
  return null;
}

/**
 * Calibrates unit `key` under `c`: CALIBRATION_RUNS runs of PCT with derived seeds (zeros for
 * strategies that need none). A function of the configuration and the unit alone, so a campaign
 * on several threads calibrates each unit once (runner.ts does it in the main thread and hands
 * the result out with the unit's jobs) and gets what each thread would have measured.
 */
export async function calibrateUnit(c: CampaignConfig, key: string): Promise<Calibration> {
  const depth = calibrationDepth(c.strategy);
  if (depth === null) return { pctSteps: 0, longest: 0 };
  // PCT spreads its change points over the run's length, which it must know, and the
  // portfolio picks its members by it: a fixed, deterministic calibration measures it, as a PCT
  // search's first runs would.
  const unit = parseUnitKey(key);
  const body = unitBody(unit);
  const pct = new PctStrategy(depth);
  const base = unitSeed(c, key);
  let longest = 0;
  for (let j = 0; j < CALIBRATION_RUNS; j++) {
    const sim = new Simulation({
      seed: deriveSeed(base ^ 0x5bd1e995, j),
      strategy: pct,
      stepLimit: c.stepLimit,
      toggles: campaignToggles(c),
    });
    const r = await sim.run(body);
    longest = Math.max(longest, r.trace.choiceCount);
  }
  return { pctSteps: pct.estimatedSteps, longest };
}

/** Whether the campaign's strategy calibrates its units (PCT and the portfolio). */
export function needsCalibration(c: CampaignConfig): boolean {
  return calibrationDepth(c.strategy) !== null;
}

async function prepare(
  c: CampaignConfig,
  key: string,
  given: Calibration | undefined,
): Promise<Prepared> {
  const unit = parseUnitKey(key);
  const body = unitBody(unit);
  const known = unit.scenario.withoutKnownReports ?? ((r: RunResult) => r);
  const calibration = given ?? (await calibrateUnit(c, key));
  return { body, calibration, known };
}

function preparedUnit(c: CampaignConfig, key: string, given?: Calibration): Promise<Prepared> {
  const k = preparedKey(c, key);
  let p = prepared.get(k);
  if (!p) {
    p = prepare(c, key, given);
    prepared.set(k, p);
  }
  return p;
}

/** The calibration of unit `key` under `c` (zeros for strategies that need none). */
export async function unitCalibration(c: CampaignConfig, key: string): Promise<Calibration> {
  return (await preparedUnit(c, key)).calibration;
}

/**
 * The strategy of schedule `index` of a unit with calibration `cal`: a function of nothing else.
 *
 * The portfolio (`portfolio[:depth]`) runs sim's cycle (`portfolioMember(index)`: PCT one deeper
 * than the depth in 3 schedules of 8, PCT at the depth in 1, POS in 1, the shallow member in 3),
 * as a search of the engine does, with the calibration standing in for the search's history:
 * - its PCT members spread their change points over the calibrated length, except schedule 0,
 *   which is PCT's first run of a search (k = 1: its change point is the first decision, which
 *   preempts the first task at once);
 * - the shallow member is uniform random when the unit's calibrated runs are short (at most
 *   SHORT_RUN choices, kref.rst's examples) and POS when they are long (the DRM races).
 * Tokens record the member that decided ("pct" with its depth, "random" or "pos").
 */
export function scheduleStrategy(s: SearchOptions, index: number, cal: Calibration): StrategySpec {
  const depth = s.depth ?? SEARCH_DEFAULTS.depth;
  switch (s.strategy) {
    case "pct":
      return { kind: "pct", depth, estimatedSteps: cal.pctSteps };
    case "pos":
      return { kind: "pos" };
    case "portfolio":
      switch (portfolioMember(index)) {
        case "pct(depth+1)":
          return { kind: "pct", depth: depth + 1, estimatedSteps: index === 0 ? 0 : cal.pctSteps };
        case "pct(depth)":
          return { kind: "pct", depth, estimatedSteps: cal.pctSteps };
        case "shallow":
          return { kind: cal.longest <= SHORT_RUN ? "random" : "pos" };
        case "pos":
          return { kind: "pos" };
        default:
          throw new Error(`unknown portfolio member ${portfolioMember(index)}`);
      }
    default:
      return { kind: "random" };
  }
}

/** Runs schedule `index` of unit `key`. */
export async function runSchedule(
  c: CampaignConfig,
  key: string,
  index: number,
  given?: Calibration,
): Promise<{ run: RunResult; seed: number }> {
  const { body, calibration, known } = await preparedUnit(c, key, given);
  const seed = deriveSeed(unitSeed(c, key), index);
  const sim = new Simulation({
    seed,
    strategy: scheduleStrategy(c.strategy, index, calibration),
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
  /** Awaited after each schedule of a sampling job (the main thread lets messages in). */
  pause?: () => Promise<void>,
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
    const { run, seed } = await runSchedule(c, job.unit, i, job.calibration);
    addRun(t, run, i, seed);
    const failed = isFailure(run);
    onSchedule?.(failed);
    if (failed && c.failFast) break;
    if (pause) await pause();
  }
  return t;
}
