/**
 * Minimization of a finding: the engine's minimize() shrinks the failing schedule of a token
 * (fewer preemptions, fewer steps, smaller data choices) to one that still shows the same bug
 * (same splat kind, message shape and object type), and the engine's race table renders the
 * minimized run around the preemptions that remain, without the harness's tasks.
 * `minimize <token>` prints it; the reports carry it for every finding.
 */
import { minimize, type RunResult, raceTable, sameBug } from "../engine.js";
import { parseUnitKey, unitBody } from "./units.js";

/** Runs spent on one minimization: the budget a finding gets before MINIMIZE_SCALE. */
export const MINIMIZE_BUDGET = 200;

/**
 * A finding's budget scaled to its schedule (the engine's MinimizeOptions.scale): one more run
 * per preemption before the bug, twice MINIMIZE_BUDGET at most. A race table's findings have a
 * few preemptions and converge within 30 runs; a fuzz finding has 50-350 (fs.fget-no-recheck's
 * in fuzz-fd-reuse@vgem) and spends every run it gets: over 12 such findings (base seeds 1-12),
 * the scaled budget keeps 82 preemptions in all where 200 runs keep 94.
 */
export const MINIMIZE_SCALE = { perPreemption: 1, max: 2 * MINIMIZE_BUDGET } as const;

export interface MinimizedFinding {
  readonly token: string;
  readonly original: RunResult;
  readonly run: RunResult;
  /** Rows of its race table. */
  readonly rows: number;
  readonly raceTable: string;
  readonly preemptions: { readonly before: number; readonly after: number };
  readonly steps: { readonly before: number; readonly after: number };
  readonly runs: number;
  readonly note: string;
}

/**
 * Minimizes the failing schedule of `token`, a token of unit `unit`: within `budget` runs if
 * given, else MINIMIZE_BUDGET scaled by MINIMIZE_SCALE.
 */
export async function minimizeFinding(
  unit: string,
  token: string,
  budget?: number,
): Promise<MinimizedFinding> {
  const u = parseUnitKey(unit);
  // A scenario with known mainline reports (qxl's reaper) judges "the same bug" without them.
  const known = u.scenario.withoutKnownReports?.bind(u.scenario);
  const isSameBug = known ? (a: RunResult, b: RunResult) => sameBug(known(a), known(b)) : undefined;
  const m = await minimize(token, unitBody(u), {
    scenario: unit,
    isSameBug,
    ...(budget === undefined ? { budget: MINIMIZE_BUDGET, scale: MINIMIZE_SCALE } : { budget }),
  });
  const table = raceTable(m.run, {
    hide: u.scenario.harnessTasks,
    focus: m.preemptionSteps,
    width: 100,
  });
  return {
    token: m.token,
    original: m.original,
    run: m.run,
    rows: table.rows.length,
    raceTable: table.text,
    preemptions: m.preemptions,
    steps: m.steps,
    runs: m.runs,
    note: m.note,
  };
}
