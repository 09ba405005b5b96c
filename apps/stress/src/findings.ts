/**
 * What a search found, judged against what the scenario is expected to do. No output here:
 * demo.ts and cli.ts render these results.
 */
import { baselineFixes, type RunResult, type Splat, type SplatKind } from "@primetime/sim";
import {
  defaultIsFailure,
  type ExploreOptions,
  type ExploreResult,
  explore,
  replay,
  type SearchOptions,
} from "@primetime/sim/explore";
import type { Expectation, StressScenario } from "./scenarios/index.js";

/** The splat kinds that make a run count as finding a scenario's bug. */
export const EXPECTED_KINDS: Readonly<Record<Exclude<Expectation, "clean">, readonly SplatKind[]>> =
  {
    buggy: ["kasan", "refcount"],
    deadlock: ["deadlock"],
  };

/**
 * Runs `explore` on a scenario with the engine's search options as they are (SEARCH_DEFAULTS
 * fill what `spec` leaves out), recording the scenario's name in the replay tokens; `toggles`
 * are the historic-bug toggles turned on in every run, beside the known windows' fix switches
 * (`baselineFixes()`; the tokens carry them too).
 */
export function search(
  s: StressScenario,
  spec: SearchOptions,
  onRun?: ExploreOptions["onRun"],
  toggles: readonly string[] = [],
): Promise<ExploreResult> {
  // Known upstream windows stay closed (their fix switches on), as in every clean baseline.
  const opts: ExploreOptions = {
    ...spec,
    scenario: s.name,
    onRun,
    toggles: [...toggles, ...baselineFixes()],
  };
  const known = s.withoutKnownReports;
  if (known) opts.isFailure = (r) => defaultIsFailure(known(r));
  return explore(s.scenario, opts);
}

/**
 * What `s` is expected to do with `toggles` on: its `expect` with none; `buggy` if one of them
 * is a toggle it finds; null (no expectation) for toggles it makes no claim about.
 */
export function expectationFor(
  s: StressScenario,
  toggles: readonly string[] = [],
): Expectation | null {
  if (toggles.length === 0) return s.expect;
  if (toggles.some((t) => s.finds?.includes(t))) return "buggy";
  return null;
}

/**
 * True if `r` shows the bug a buggy or deadlocking scenario is expected to have: for `buggy`, a
 * splat of one of `kinds` (default: kasan, refcount).
 */
export function showsExpectedBug(
  expect: Expectation,
  r: RunResult,
  kinds?: readonly SplatKind[],
): boolean {
  if (expect === "clean") return false;
  if (expect === "deadlock" && r.outcome !== "deadlock") return false;
  const want = expect === "buggy" ? (kinds ?? EXPECTED_KINDS.buggy) : EXPECTED_KINDS[expect];
  return r.splats.some((s) => want.includes(s.kind));
}

/**
 * Whether a search result agrees with `expect`: for `clean`, no failing schedule; for `buggy` or
 * `deadlock`, a failing one whose first failure shows the scenario's bug (its `bugKinds`).
 */
export function meetsExpectation(
  s: StressScenario,
  expect: Expectation,
  res: ExploreResult,
): boolean {
  if (expect === "clean") return res.firstFailure === null;
  const f = res.firstFailure;
  if (f === null) return false;
  return showsExpectedBug(expect, s.withoutKnownReports?.(f) ?? f, s.bugKinds);
}

/** Whether a search result (every toggle off) agrees with the scenario's expectation. */
export function asExpected(s: StressScenario, res: ExploreResult): boolean {
  return meetsExpectation(s, s.expect, res);
}

/** One line per splat, what "the same splat" means for a replay: kind, message and object. */
export function splatSignature(splats: readonly Splat[]): string[] {
  return splats.map((s) => `${s.kind}|${s.message}|${s.object ?? ""}`);
}

/** The outcome of replaying a failing run's token. */
export interface ReplayCheck {
  readonly run: RunResult;
  /** Same splats (kind, message, object, in order) as the recorded run. */
  readonly sameSplats: boolean;
  /** Same trace hash: the replay took exactly the recorded steps. */
  readonly sameTrace: boolean;
}

/**
 * Replays `r.token` against the scenario and compares the result with `r`. Throws what
 * `replay()` throws (ReplayTokenError, ReplayMismatchError) if the token does not fit.
 */
export async function checkReplay(s: StressScenario, r: RunResult): Promise<ReplayCheck> {
  const again = await replay(r.token, s.scenario, { scenario: s.name });
  const a = splatSignature(r.splats);
  const b = splatSignature(again.splats);
  return {
    run: again,
    sameSplats: a.length === b.length && a.every((x, i) => x === b[i]),
    sameTrace: again.traceHash === r.traceHash,
  };
}
