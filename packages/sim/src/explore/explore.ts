import { ReplayMismatchError } from "../errors.js";
import {
  type RunOutcome,
  type RunResult,
  type Scenario,
  Simulation,
  type StrategySpec,
} from "../simulation.js";
import { resolveSearchOptions, type SearchOptions } from "./search-options.js";
import { getStrategy } from "./strategies/index.js";
import { decodeToken, quotePrefix } from "./token.js";

export type { Scenario };

/** explore()'s options: the search options (SEARCH_DEFAULTS) plus what only a search needs. */
export interface ExploreOptions extends SearchOptions {
  /** Scenario name recorded in replay tokens. */
  scenario?: string;
  /** What counts as a failure. Default: any splat or an outcome other than "ok". */
  isFailure?: (r: RunResult) => boolean;
  /** Called after every run (progress bars). It may keep any run it is given. */
  onRun?: (r: RunResult, index: number) => void;
  /**
   * Reuse a passing run's trace buffers for the next run (saves allocating and growing them run
   * after run); the passing run's `trace` and `token` then throw when read. Default: on when
   * there is no `onRun` (nothing else can keep a passing run), off otherwise; an `onRun` that
   * reads runs only while it is called can turn it on.
   */
  recycleTraces?: boolean;
}

export interface ExploreStats {
  minSteps: number;
  maxSteps: number;
  meanSteps: number;
  outcomes: Record<RunOutcome, number>;
}

export interface ExploreResult {
  /** Schedules run. */
  schedules: number;
  /** The strategy said every schedule it can produce has been run (DFS within its bound). */
  complete: boolean;
  /** The failing runs (at most one with stopOnFailure). */
  failures: RunResult[];
  firstFailure: RunResult | null;
  stats: ExploreStats;
}

export const defaultIsFailure = (r: RunResult): boolean =>
  r.outcome !== "ok" || r.splats.length > 0;

/**
 * Searches the schedules of a scenario for one that fails, with the registered strategy
 * `opts.strategy` (default SEARCH_DEFAULTS): the strategy's session says which strategy
 * instance and seed each run gets, and when the search is complete (an exhaustive strategy has
 * run every schedule it can produce).
 */
export async function explore(
  scenario: Scenario,
  opts: ExploreOptions = {},
): Promise<ExploreResult> {
  const o = resolveSearchOptions(opts);
  const isFailure = opts.isFailure ?? defaultIsFailure;
  const recycle = opts.recycleTraces ?? opts.onRun === undefined;
  const session = getStrategy(o.strategy, true).search(o);
  const failures: RunResult[] = [];
  const outcomes: Record<RunOutcome, number> = {
    ok: 0,
    deadlock: 0,
    livelock: 0,
    escape: 0,
    "replay-mismatch": 0,
  };
  let minSteps = Number.POSITIVE_INFINITY;
  let maxSteps = 0;
  let totalSteps = 0;
  let runs = 0;

  while (runs < o.schedules) {
    const step = session.next(runs);
    if (step === null) break;
    const sim = new Simulation({
      seed: step.seed,
      strategy: step.strategy,
      stepLimit: o.stepLimit,
      scenario: opts.scenario,
      toggles: o.toggles,
    });
    const r = await sim.run(scenario);
    session.ended?.(step, r, runs);
    runs++;
    outcomes[r.outcome]++;
    minSteps = Math.min(minSteps, r.steps);
    maxSteps = Math.max(maxSteps, r.steps);
    totalSteps += r.steps;
    opts.onRun?.(r, runs - 1);
    if (isFailure(r)) {
      failures.push(r);
      if (o.stopOnFailure) break;
    } else if (recycle) r.trace.recycle();
  }
  return {
    schedules: runs,
    complete: session.complete === true,
    failures,
    firstFailure: failures[0] ?? null,
    stats: {
      minSteps: runs ? minSteps : 0,
      maxSteps,
      meanSteps: runs ? totalSteps / runs : 0,
      outcomes,
    },
  };
}

/**
 * Replays a token against a scenario. A malformed token throws ReplayTokenError before anything
 * runs; a token that does not fit the scenario throws ReplayMismatchError saying where they part.
 */
export async function replay(
  token: string,
  scenario: Scenario,
  opts: { scenario?: string; toggles?: readonly string[] } = {},
): Promise<RunResult> {
  const t = decodeToken(token);
  if (opts.scenario !== undefined && t.scenario !== "" && t.scenario !== opts.scenario) {
    throw new ReplayMismatchError(
      `the replay token was recorded for scenario ${quotePrefix(t.scenario, 64)}, not ${quotePrefix(opts.scenario, 64)}`,
    );
  }
  const sim = new Simulation({ strategy: { kind: "replay", token }, toggles: opts.toggles });
  const r = await sim.run(scenario);
  if (r.outcome === "replay-mismatch") {
    throw new ReplayMismatchError(`the replay token does not match this scenario: ${r.message}`);
  }
  return r;
}

export interface DeterminismReport {
  deterministic: boolean;
  hashes: [string, string];
  /** First differing step (0 when the traces are equal). */
  firstDifference: number;
  message: string;
}

/**
 * Determinism self-check (FoundationDB/TigerBeetle style): runs the same seed twice with fresh
 * strategies and compares the trace hashes. A difference means something in the scenario reads
 * real time, real randomness or state left over from an earlier run.
 */
export async function checkDeterminism(
  scenario: Scenario,
  opts: { seed?: number; strategy?: StrategySpec; stepLimit?: number } = {},
): Promise<DeterminismReport> {
  const once = () =>
    new Simulation({
      seed: opts.seed ?? 1,
      strategy: opts.strategy ?? { kind: "pct", depth: 3 },
      stepLimit: opts.stepLimit,
    }).run(scenario);
  const a = await once();
  const b = await once();
  const diff = a.trace.firstDifference(b.trace);
  const same = a.traceHash === b.traceHash && diff === 0;
  let message = `deterministic: both runs took ${a.steps} steps, trace ${a.traceHash}`;
  if (!same) {
    const where = diff > 0 && diff <= Math.min(a.trace.length, b.trace.length) ? diff : 0;
    const detail = where
      ? ` first difference at step ${where}: "${a.trace.at(where).label}" by ${a.trace.at(where).task} vs "${b.trace.at(where).label}" by ${b.trace.at(where).task}`
      : "";
    message = `NOT deterministic: traces ${a.traceHash} (${a.steps} steps) and ${b.traceHash} (${b.steps} steps) differ;${detail}`;
  }
  return {
    deterministic: same,
    hashes: [a.traceHash, b.traceHash],
    firstDifference: diff,
    message,
  };
}
