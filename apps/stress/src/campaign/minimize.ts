/**
 * Minimization of a finding: the engine's minimize() shrinks the failing schedule of a token
 * (fewer preemptions, fewer steps, smaller data choices) to one that still shows the same bug
 * (same splat kind, message shape and object type), and the engine's race table renders the
 * minimized run around the preemptions that remain, without the harness's tasks.
 * `minimize <token>` prints it; the reports carry it for every finding.
 */
import { minimize, type RunResult, raceTable, sameBug } from "../engine.js";
import { parseUnitKey, unitBody } from "./units.js";

/** Runs spent on one minimization at most. */
export const MINIMIZE_BUDGET = 200;

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

/** Minimizes the failing schedule of `token`, a token of unit `unit`. */
export async function minimizeFinding(
  unit: string,
  token: string,
  budget = MINIMIZE_BUDGET,
): Promise<MinimizedFinding> {
  const u = parseUnitKey(unit);
  // A scenario with known mainline reports (qxl's reaper) judges "the same bug" without them.
  const known = u.scenario.withoutKnownReports?.bind(u.scenario);
  const isSameBug = known ? (a: RunResult, b: RunResult) => sameBug(known(a), known(b)) : undefined;
  const m = await minimize(token, unitBody(u), { scenario: unit, budget, isSameBug });
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
