/**
 * Running the schedules of a job: one unit, a set of schedule indices (random, POS, PCT and the
 * portfolio) or the unit's whole bounded DFS. Schedule i of a unit runs with seed
 * deriveSeed(unitSeed, i) (the portfolio's opening: seed index 0, see portfolioSlot()), where
 * unitSeed = deriveSeed(base seed, hash of the unit key), and a fresh strategy chosen from nothing
 * but the configuration, the unit and i, so any split of the indices between worker threads or
 * shards gives the same runs, the same findings and the same tokens. One schedule always runs on
 * one thread.
 *
 * PCT must know a run's length; in a search it comes from the runs before (`explore()`'s PCT
 * estimate rises run after run). Here it comes instead from a fixed calibration of the unit
 * (CALIBRATION_RUNS runs of PCT with derived seeds, the same in every thread, measured once per
 * campaign by runner.ts), so schedule i depends on no other schedule.
 */
import {
  deriveSeed,
  explore,
  PctStrategy,
  type RunResult,
  type Scenario,
  SEARCH_DEFAULTS,
  type SearchOptions,
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
  /**
   * The portfolio's: the same estimate from a calibration at its shallowest PCT depth (one below
   * the depth), so that member runs as a `pct` campaign at that depth would. 0 otherwise.
   */
  readonly shallowPctSteps: number;
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

/** The portfolio's shallowest PCT member: one below the depth (at least 1). */
function shallowDepth(s: SearchOptions): number {
  return Math.max(1, (s.depth ?? SEARCH_DEFAULTS.depth) - 1);
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
  if (depth === null) return { pctSteps: 0, longest: 0, shallowPctSteps: 0 };
  // PCT spreads its change points over the run's length, which it must know: a fixed,
  // deterministic calibration measures it, as a PCT search's first runs would.
  const body = unitBody(parseUnitKey(key));
  const base = unitSeed(c, key);
  const measure = async (d: number) => {
    const pct = new PctStrategy(d);
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
  };
  const main = await measure(depth);
  const shallowPctSteps =
    c.strategy.strategy === "portfolio" ? (await measure(shallowDepth(c.strategy))).pctSteps : 0;
  return { ...main, shallowPctSteps };
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
 * The members of the portfolio in campaigns: PCT at one more than the depth, the depth and one
 * less (at least 1), spreading their change points over the unit's calibrated length; POS; and
 * uniform random.
 */
export type PortfolioMember = "pct(depth+1)" | "pct(depth)" | "pct(depth-1)" | "pos" | "random";

/**
 * The opening: schedules 0, 1 and 2 are the first schedule (seed index 0) of a `pct` campaign one
 * below the depth, of a `random` campaign and of a `pct` campaign one above it. A bug one of them
 * finds in its very first schedule (random: TTM's LRU-walk and vmwgfx's re-export plain gets;
 * shallow PCT: qxl's release race, the framebuffer race) the portfolio finds within 3.
 */
export const PORTFOLIO_OPENING: readonly PortfolioMember[] = Object.freeze([
  "pct(depth-1)",
  "random",
  "pct(depth+1)",
] satisfies PortfolioMember[]);

/**
 * Schedules 3-10 (seed index i): PCT one deeper 3 times, random twice (the shallow races random
 * is best at: TTM's evict-busy plain get, GEM change-handle), POS, PCT at the depth and one less.
 */
export const PORTFOLIO_EARLY: readonly PortfolioMember[] = Object.freeze([
  "pct(depth+1)",
  "pct(depth+1)",
  "random",
  "pct(depth+1)",
  "random",
  "pos",
  "pct(depth)",
  "pct(depth-1)",
] satisfies PortfolioMember[]);

/**
 * From schedule 11 on, schedule i (seed index i) runs PORTFOLIO_CYCLE[i mod 8]: PCT at the depth
 * 4 times in 8, one deeper 3 times, POS once. The deep DRM, qxl and vmwgfx races are PCT's (POS
 * leads only on `gem.open-drops-name-lock`, where PCT is within 2x).
 */
export const PORTFOLIO_CYCLE: readonly PortfolioMember[] = Object.freeze([
  "pct(depth)",
  "pos",
  "pct(depth+1)",
  "pct(depth+1)",
  "pct(depth)",
  "pct(depth)",
  "pct(depth)",
  "pct(depth+1)",
] satisfies PortfolioMember[]);

/** The member that runs schedule `index` of a portfolio campaign, and its seed index. */
export function portfolioSlot(index: number): { member: PortfolioMember; seedIndex: number } {
  const o = PORTFOLIO_OPENING.length;
  if (index < o) return { member: PORTFOLIO_OPENING[index]!, seedIndex: 0 };
  if (index < o + PORTFOLIO_EARLY.length)
    return { member: PORTFOLIO_EARLY[index - o]!, seedIndex: index };
  return { member: PORTFOLIO_CYCLE[index % PORTFOLIO_CYCLE.length]!, seedIndex: index };
}

/** The seed index of schedule `index`: its seed is deriveSeed(unitSeed, seed index). */
export function scheduleSeedIndex(s: SearchOptions, index: number): number {
  return s.strategy === "portfolio" ? portfolioSlot(index).seedIndex : index;
}

/**
 * The strategy of schedule `index` of a unit with calibration `cal`: a function of nothing else.
 * The portfolio (`portfolio[:depth]`) runs portfolioSlot(index)'s member, with the calibration
 * standing in for a search's history. Tokens record the member that decided ("pct" with its
 * depth, "random" or "pos").
 */
export function scheduleStrategy(s: SearchOptions, index: number, cal: Calibration): StrategySpec {
  const depth = s.depth ?? SEARCH_DEFAULTS.depth;
  switch (s.strategy) {
    case "pct":
      return { kind: "pct", depth, estimatedSteps: cal.pctSteps };
    case "pos":
      return { kind: "pos" };
    case "portfolio": {
      const m = portfolioSlot(index).member;
      switch (m) {
        case "pct(depth+1)":
          return { kind: "pct", depth: depth + 1, estimatedSteps: cal.pctSteps };
        case "pct(depth)":
          return { kind: "pct", depth, estimatedSteps: cal.pctSteps };
        case "pct(depth-1)":
          return { kind: "pct", depth: shallowDepth(s), estimatedSteps: cal.shallowPctSteps };
        case "pos":
        case "random":
          return { kind: m };
        default:
          throw new Error(`unknown portfolio member ${m satisfies never}`);
      }
    }
    default:
      return { kind: "random" };
  }
}

/** What runSchedule() needs of a (configuration, unit) pair beside its schedule index. */
interface UnitRun {
  readonly config: CampaignConfig;
  readonly key: string;
  readonly prepared: Promise<Prepared>;
  readonly unitSeed: number;
  readonly toggles: readonly string[];
}

/**
 * The pair of the latest runSchedule(): a job runs schedule after schedule of one unit, so the
 * prepared unit's JSON key, the unit seed and the toggle list are made once per job instead of
 * once per schedule. Keyed by identity (a configuration is never modified); another pair
 * replaces it.
 */
let lastUnit: UnitRun | null = null;

function unitRun(c: CampaignConfig, key: string, given: Calibration | undefined): UnitRun {
  const u = lastUnit;
  if (u !== null && u.config === c && u.key === key) return u;
  lastUnit = {
    config: c,
    key,
    prepared: preparedUnit(c, key, given),
    unitSeed: unitSeed(c, key),
    toggles: campaignToggles(c),
  };
  return lastUnit;
}

/** Runs schedule `index` of unit `key`. */
export async function runSchedule(
  c: CampaignConfig,
  key: string,
  index: number,
  given?: Calibration,
): Promise<{ run: RunResult; seed: number }> {
  const u = unitRun(c, key, given);
  const { body, calibration, known } = await u.prepared;
  const seed = deriveSeed(u.unitSeed, scheduleSeedIndex(c.strategy, index));
  const sim = new Simulation({
    seed,
    strategy: scheduleStrategy(c.strategy, index, calibration),
    stepLimit: c.stepLimit,
    scenario: key,
    toggles: u.toggles,
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
    // Nothing reads a passing run again (the tally took its figures): its trace's buffers go to
    // the next schedule's trace, without the pass over its steps that would keep its hash.
    if (!failed) run.trace.recycle({ keepHash: false });
    onSchedule?.(failed);
    if (failed && c.failFast) break;
    if (pause) await pause();
  }
  return t;
}
