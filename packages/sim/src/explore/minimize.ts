/**
 * Minimization of a failing run: given its replay token and a "same bug" predicate, shrink the
 * recorded choices (fewer preemptions, shorter runs, smaller data choices) and return a new
 * token that replays to the same bug. A race found by PCT after thousands of steps usually needs
 * one or two preemptions; the minimized run shows just those, which is what makes its race table
 * readable.
 *
 * Every candidate is a run of the scenario under a GuidedStrategy: it follows a plan of choices
 * where it can and runs without preempting where it cannot, so any edited plan still gives a run
 * (never a replay mismatch). A candidate is kept when it shows the same bug and is no worse:
 * fewer preemptions, or as many and fewer steps. The passes, repeated while they improve and the
 * budget lasts:
 * 1. truncation: the shortest prefix of the choices after which running without preemption
 *    still shows the bug (binary search);
 * 2. preemption removal: preemptions replaced by letting the running task go on, in chunks
 *    that shrink to single preemptions (ddmin), last chunk first;
 * 3. data choices: each non-zero data choice tried at 0.
 */

import { type RunResult, Simulation } from "../simulation.js";
import type { Splat } from "../splat.js";
import { replay, type Scenario } from "./explore.js";
import { type GuidedPlan, GuidedStrategy } from "./strategies/guided.js";
import { decodeToken } from "./token.js";

/** What identifies a bug across runs: kind, message shape and object type of a splat. */
export interface BugSignature {
  readonly kind: string;
  /** The message with numbers (ids, counts, addresses) replaced by `#`. */
  readonly shape: string;
  /** The object's type: its name without the instance number ("gem_object#3" -> "gem_object"). */
  readonly objectType: string;
}

/** The signature of one splat. */
export function splatBugSignature(s: Splat): BugSignature {
  return {
    kind: s.kind,
    shape: s.message.replace(/0x[0-9a-f]+/gi, "#").replace(/\d+/g, "#"),
    objectType: (s.object ?? "").replace(/[#:\s[(]?\d.*$/, "").replace(/#.*$/, ""),
  };
}

/** The signature of a run's bug: its first splat's (null for a clean run). */
export function bugSignature(r: RunResult): BugSignature | null {
  const s = r.splats[0];
  return s ? splatBugSignature(s) : null;
}

const sigKey = (b: BugSignature) => `${b.kind}\u0000${b.shape}\u0000${b.objectType}`;

/**
 * The default "same bug" predicate: `candidate` has a splat with the signature of `original`'s
 * first splat (kind, message shape, object type), and ends the same way when `original` did not
 * end `ok` (a deadlock stays a deadlock).
 */
export function sameBug(original: RunResult, candidate: RunResult): boolean {
  const want = bugSignature(original);
  if (want === null) return false;
  if (original.outcome !== "ok" && candidate.outcome !== original.outcome) return false;
  if (candidate.outcome === "replay-mismatch") return false;
  const key = sigKey(want);
  return candidate.splats.some((s) => sigKey(splatBugSignature(s)) === key);
}

export interface MinimizeOptions {
  /** The scenario name the token must carry (as replay() checks it). */
  scenario?: string;
  /** Whether a candidate run shows the original's bug. Default: sameBug(). */
  isSameBug?: (original: RunResult, candidate: RunResult) => boolean;
  /** Runs at most, the original's replay included. Default 200. */
  budget?: number;
}

export interface Minimized {
  /** The run of the token given. */
  readonly original: RunResult;
  /** The minimized run (the original itself if nothing smaller shows the bug). */
  readonly run: RunResult;
  /** Its replay token (`replay(token, scenario)` gives the same run). */
  readonly token: string;
  /** Runs spent. */
  readonly runs: number;
  readonly preemptions: { readonly before: number; readonly after: number };
  /** The steps of the minimized run at which a preempting task took over (race-table focus). */
  readonly preemptionSteps: readonly number[];
  readonly steps: { readonly before: number; readonly after: number };
  /** Why the outcome is what it is: "minimized", or why nothing was tried. */
  readonly note: string;
}

interface Candidate {
  readonly run: RunResult;
  readonly guide: GuidedStrategy;
}

const noWorse = (a: Candidate, b: Candidate) =>
  a.guide.preemptions < b.guide.preemptions ||
  (a.guide.preemptions === b.guide.preemptions && a.run.steps <= b.run.steps);
const better = (a: Candidate, b: Candidate) =>
  a.guide.preemptions < b.guide.preemptions ||
  (a.guide.preemptions === b.guide.preemptions && a.run.steps < b.run.steps);

/**
 * Shrinks the failing run of `token` (see the file comment). Throws what replay() throws if the
 * token does not fit the scenario.
 */
export async function minimize(
  token: string,
  scenario: Scenario,
  opts: MinimizeOptions = {},
): Promise<Minimized> {
  const t = decodeToken(token);
  const isSame = opts.isSameBug ?? sameBug;
  const budget = opts.budget ?? 200;
  const original = await replay(token, scenario, { scenario: opts.scenario });
  let runs = 1;
  const exec = async (plan: GuidedPlan): Promise<Candidate | null> => {
    if (runs >= budget) return null;
    runs++;
    const guide = new GuidedStrategy(plan);
    const run = await new Simulation({
      seed: t.seed,
      strategy: guide,
      stepLimit: t.stepLimit,
      scenario: t.scenario,
      toggles: t.toggles,
    }).run(scenario);
    return { run, guide };
  };
  let baselinePreemptions = 0;
  const result = (best: Candidate | null, note: string): Minimized => ({
    original,
    run: best?.run ?? original,
    token: best?.run.token ?? token,
    runs,
    preemptions: {
      before: baselinePreemptions,
      after: best?.guide.preemptions ?? baselinePreemptions,
    },
    steps: { before: original.steps, after: best?.run.steps ?? original.steps },
    preemptionSteps: best
      ? best.guide.log
          .filter((d) => d.kind === "task" && d.running >= 0 && d.chosen !== d.running)
          .map((d) => d.step + 1)
      : [],
    note,
  });
  if (!isSame(original, original)) return result(null, "the run shows no bug to keep");
  const baseline = await exec({ steps: [], data: [], choices: t.choices });
  if (!baseline || !isSame(original, baseline.run))
    return result(null, "the guided run of the token's choices does not show the bug");
  baselinePreemptions = baseline.guide.preemptions;
  let best = baseline;
  const accept = (c: Candidate | null, strict: boolean): boolean => {
    if (!c || !isSame(original, c.run)) return false;
    if (strict ? !better(c, best) : !noWorse(c, best)) return false;
    best = c;
    return true;
  };

  for (let improved = true; improved && runs < budget; ) {
    improved = false;
    // 1. The shortest prefix of steps after which running without preemption shows the bug.
    const full = planOf(best.run, best.guide);
    let lo = 0;
    let hi = full.steps.length;
    while (lo < hi && runs < budget) {
      const mid = Math.floor((lo + hi) / 2);
      const c = await exec({ steps: full.steps.slice(0, mid), data: full.data });
      if (c && isSame(original, c.run) && noWorse(c, best)) {
        if (better(c, best)) improved = true;
        best = c;
        hi = mid;
      } else lo = mid + 1;
    }
    // 2. Each preemption undone, last first: the preempted task runs its next stretch of steps
    //    at once, before the tasks that preempted it.
    let at = Number.POSITIVE_INFINITY;
    for (;;) {
      if (runs >= budget) break;
      const plan = planOf(best.run, best.guide);
      const pre = best.guide.log.filter(
        (d) => d.kind === "task" && d.running >= 0 && d.chosen !== d.running && d.step < at,
      );
      const d = pre[pre.length - 1];
      if (!d) break;
      at = d.step;
      const moved = undoPreemption(plan.steps, d.step, d.running);
      if (moved && accept(await exec({ steps: moved, data: plan.data }), true)) improved = true;
    }
    // 3. Data choices at 0.
    const plan = planOf(best.run, best.guide);
    for (let k = 0; k < plan.data.length && runs < budget; k++) {
      if (plan.data[k] === 0) continue;
      const data = plan.data.slice();
      data[k] = 0;
      if (accept(await exec({ steps: plan.steps, data }), false)) improved = true;
    }
  }
  return result(best, "minimized");
}

/** The plan that reproduces a guided run: who took each step, and its data choices. */
function planOf(run: RunResult, guide: GuidedStrategy): GuidedPlan {
  const trace = run.trace;
  const steps: number[] = new Array(trace.length);
  for (let n = 1; n <= trace.length; n++) steps[n - 1] = trace.taskAt(n);
  return { steps, data: guide.log.filter((d) => d.kind === "data").map((d) => d.chosen) };
}

/**
 * `steps` with the preemption before step index `b` undone: the preempted task's next stretch of
 * steps moved to run at `b`, before the steps of the tasks that preempted it. Null if it has none.
 */
function undoPreemption(steps: readonly number[], b: number, task: number): number[] | null {
  let j = b;
  while (j < steps.length && steps[j] !== task) j++;
  if (j >= steps.length) return null;
  let e = j;
  while (e < steps.length && steps[e] === task) e++;
  return [...steps.slice(0, b), ...steps.slice(j, e), ...steps.slice(b, j), ...steps.slice(e)];
}
