import { ReplayMismatchError } from "../errors.js";
import { deriveSeed } from "../prng.js";
import { type RunOutcome, type RunResult, Simulation, type StrategySpec } from "../simulation.js";
import { type DfsNode, DfsStrategy, nextDfsPrefix } from "./strategies/dfs.js";
import { PctStrategy } from "./strategies/pct.js";
import { RandomStrategy } from "./strategies/random.js";
import { decodeToken } from "./token.js";

/** A concurrent scenario: the body of the main task, which spawns the others. */
export type Scenario = (sim: Simulation) => Promise<void> | void;

export interface ExploreOptions {
  /** Default "pct". */
  strategy?: "random" | "pct" | "dfs";
  /** PCT depth (bug depth targeted). Default 3. */
  depth?: number;
  /** DFS preemption bound. Default 2. */
  preemptionBound?: number;
  /** Maximum number of schedules to run. Default 1000. */
  schedules?: number;
  /** Base seed; run i uses a seed derived from it. Default 1. */
  seed?: number;
  stepLimit?: number;
  /** Scenario name recorded in replay tokens. */
  scenario?: string;
  /** Historic-bug toggles to turn on in every run. */
  toggles?: readonly string[];
  /** Stop at the first failing schedule. Default true. */
  stopOnFailure?: boolean;
  /** What counts as a failure. Default: any splat or an outcome other than "ok". */
  isFailure?: (r: RunResult) => boolean;
  /** Called after every run (progress bars). */
  onRun?: (r: RunResult, index: number) => void;
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
  /** DFS only: every schedule within the preemption bound has been run. */
  complete: boolean;
  /** The failing runs (at most one with stopOnFailure). */
  failures: RunResult[];
  firstFailure: RunResult | null;
  stats: ExploreStats;
}

export const defaultIsFailure = (r: RunResult): boolean =>
  r.outcome !== "ok" || r.splats.length > 0;

/**
 * Searches the schedules of a scenario for one that fails. PCT and random runs use seeds derived
 * from `seed`; one PCT instance carries its step estimate from run to run. DFS enumerates every
 * schedule with at most `preemptionBound` preemptions (and every data choice), and says so with
 * `complete: true` when it has run them all.
 */
export async function explore(
  scenario: Scenario,
  opts: ExploreOptions = {},
): Promise<ExploreResult> {
  const kind = opts.strategy ?? "pct";
  const max = opts.schedules ?? 1000;
  const base = opts.seed ?? 1;
  const stopOnFailure = opts.stopOnFailure ?? true;
  const isFailure = opts.isFailure ?? defaultIsFailure;
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError(`schedules must be a positive integer, got ${max}`);
  const pct = kind === "pct" ? new PctStrategy(opts.depth ?? 3) : null;
  const bound = opts.preemptionBound ?? 2;
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
  let complete = false;
  const path: DfsNode[] = [];
  let prefix: number[] | null = [];

  while (runs < max) {
    let strategy: DfsStrategy | PctStrategy | RandomStrategy;
    let seed = base;
    if (kind === "dfs") {
      if (prefix === null) {
        complete = true;
        break;
      }
      strategy = new DfsStrategy(bound, prefix);
    } else {
      seed = deriveSeed(base, runs);
      strategy = pct ?? new RandomStrategy();
    }
    const sim = new Simulation({
      seed,
      strategy,
      stepLimit: opts.stepLimit,
      scenario: opts.scenario,
      toggles: opts.toggles,
    });
    const r = await sim.run(scenario);
    runs++;
    outcomes[r.outcome]++;
    minSteps = Math.min(minSteps, r.steps);
    maxSteps = Math.max(maxSteps, r.steps);
    totalSteps += r.steps;
    opts.onRun?.(r, runs - 1);
    if (strategy instanceof DfsStrategy) {
      const fixed = prefix!.length;
      path.length = Math.min(path.length, fixed);
      for (let i = fixed; i < strategy.nodes.length; i++) path.push(strategy.nodes[i]!);
      prefix = nextDfsPrefix(path, bound);
    }
    if (isFailure(r)) {
      failures.push(r);
      if (stopOnFailure) break;
    }
  }
  if (kind === "dfs" && prefix === null) complete = true;
  return {
    schedules: runs,
    complete,
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
      `the replay token was recorded for scenario "${t.scenario}", not "${opts.scenario}"`,
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
