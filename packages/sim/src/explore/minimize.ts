/**
 * Minimization of a failing run: given its replay token and a "same bug" predicate, shrink the
 * recorded choices (fewer preemptions, fewer task switches, shorter runs, smaller data choices)
 * and return a new token that replays to the same bug. A race found by PCT after thousands of
 * steps usually needs one or two preemptions; the minimized run shows just those, which is what
 * makes its race table readable.
 *
 * Every candidate is a run of the scenario under a GuidedStrategy following a segment plan: the
 * run's stretches of one task's steps, in order, each ending at an anchor in its task's own
 * progress (its n-th step with a given label), by a preemption or by the task stopping. The
 * anchors stay put when other tasks' steps move, and where the plan cannot be followed the
 * running task goes on (a stretch of a task that cannot run, such as a background thread whose
 * wake-ups an edit merged or moved, is passed over when the running task's own stretch comes
 * next, so the running task is still preempted at its anchor), so any edited plan still gives a
 * run (never a replay mismatch). Only the run up to the bug counts: its first splats that make
 * it the same bug; preemptions after them are not needed. A candidate is kept when it shows the
 * same bug and is no worse: fewer preemptions before the bug, then fewer task switches before
 * it, then an earlier bug. The passes, repeated while they improve and the budget lasts (a
 * candidate must also show the bug as early among its splats as the original, so it leads with
 * the same report):
 * 1. truncation: the shortest prefix of the stretches after which running without preemption
 *    still shows the bug (binary search);
 * 2. preemption removal, last first: the preempting stretch is dropped (its task's steps join
 *    its next stretch), or the preempted task goes on until it stops, or the preempted stretch
 *    is dropped (the task's steps wait for its next stretch);
 * 3. data choices: each non-zero data choice tried at 0.
 */

import { type RunResult, Simulation } from "../simulation.js";
import type { Splat } from "../splat.js";
import { replay, type Scenario } from "./explore.js";
import { type GuidedPlan, type GuidedSegment, GuidedStrategy } from "./strategies/guided.js";
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

/**
 * The minimizer's passes, in the order they run (see the file comment): `truncate` (1),
 * `drop-preempting`, `extend-preempted` and `postpone-preempted` (the three ways pass 2 undoes a
 * preemption) and `zero-data` (3).
 */
export const MINIMIZE_PASSES = [
  "truncate",
  "drop-preempting",
  "extend-preempted",
  "postpone-preempted",
  "zero-data",
] as const;
export type MinimizePass = (typeof MINIMIZE_PASSES)[number];

export interface MinimizeOptions {
  /** The scenario name the token must carry (as replay() checks it). */
  scenario?: string;
  /** Whether a candidate run shows the original's bug. Default: sameBug(). */
  isSameBug?: (original: RunResult, candidate: RunResult) => boolean;
  /** Runs at most, the original's replay included. Default 200. */
  budget?: number;
  /** The passes to run (default: every one, MINIMIZE_PASSES). */
  passes?: readonly MinimizePass[];
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
  /** The step of the splat that makes the run the same bug (the end of the run if none). */
  readonly bugStep: number;
  /** Preemptions before bugStep: the steps at which a preempting task took over. */
  readonly preemptionSteps: readonly number[];
  /** Task switches before bugStep. */
  readonly switches: number;
}

/** How a candidate compares: fewer preemptions, then fewer task switches, then an earlier bug. */
const compare = (a: Candidate, b: Candidate): number =>
  a.preemptionSteps.length - b.preemptionSteps.length ||
  a.switches - b.switches ||
  a.bugStep - b.bugStep;

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
  /** How many of its first splats make the run the same bug (as isSame judges it), or 0. */
  const splatsToBug = (run: RunResult): number => {
    for (let i = 1; i <= run.splats.length; i++)
      if (isSame(original, { ...run, splats: run.splats.slice(0, i) })) return i;
    return 0;
  };
  // A candidate must show the bug as early among its splats as the original (with the default
  // predicate: as its first splat), so its replay leads with the same report.
  const originalSplatsToBug = splatsToBug(original) || original.splats.length;
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
    if (!isSame(original, run)) return null;
    const k = splatsToBug(run);
    if (k > originalSplatsToBug) return null;
    const bugStep = k > 0 ? Math.max(1, Math.min(run.splats[k - 1]!.step, run.steps)) : run.steps;
    const preemptionSteps = guide.log
      .filter((d) => d.kind === "task" && d.running >= 0 && d.chosen !== d.running)
      .map((d) => d.step + 1)
      .filter((n) => n <= bugStep);
    let switches = 0;
    for (let n = 2; n <= bugStep; n++)
      if (run.trace.taskAt(n) !== run.trace.taskAt(n - 1)) switches++;
    return { run, guide, bugStep, preemptionSteps, switches };
  };
  let baselinePreemptions = 0;
  const result = (best: Candidate | null, note: string): Minimized => ({
    original,
    run: best?.run ?? original,
    token: best?.run.token ?? token,
    runs,
    preemptions: {
      before: baselinePreemptions,
      after: best?.preemptionSteps.length ?? baselinePreemptions,
    },
    steps: { before: original.steps, after: best?.run.steps ?? original.steps },
    preemptionSteps: best?.preemptionSteps ?? [],
    note,
  });
  if (!isSame(original, original)) return result(null, "the run shows no bug to keep");
  const baseline = await exec({ steps: [], data: [], choices: t.choices });
  if (!baseline) return result(null, "the guided run of the token's choices does not show the bug");
  baselinePreemptions = baseline.preemptionSteps.length;
  let best = baseline;
  /** Runs `segments` (with the best run's data choices unless given) and keeps it if better. */
  const attempt = async (
    segments: readonly GuidedSegment[],
    data: readonly number[] = dataOf(best.guide),
    strict = true,
  ): Promise<boolean> => {
    const c = await exec({ steps: [], segments, data });
    if (!c || (strict ? compare(c, best) >= 0 : compare(c, best) > 0)) return false;
    best = c;
    return true;
  };

  const on = new Set(opts.passes ?? MINIMIZE_PASSES);
  for (let improved = true; improved && runs < budget; ) {
    improved = false;
    // 1. The shortest prefix of stretches after which running without preemption shows the bug.
    if (on.has("truncate")) {
      const full = segmentsOf(best);
      let lo = 0;
      let hi = full.length;
      while (lo < hi && runs < budget) {
        const mid = Math.floor((lo + hi) / 2);
        const before = best;
        if (await attempt(full.slice(0, mid), undefined, false)) {
          if (compare(best, before) < 0) improved = true;
          hi = mid;
        } else lo = mid + 1;
      }
    }
    // 2. Each preemption undone, last first: the preempting stretch joins its task's next one,
    //    or the preempted task goes on until it stops, or its stretch joins its next one.
    const edits: [MinimizePass, (segs: GuidedSegment[], k: number) => GuidedSegment[] | null][] = [
      [
        "drop-preempting",
        (segs, k) => (k + 1 < segs.length ? [...segs.slice(0, k + 1), ...segs.slice(k + 2)] : null),
      ],
      [
        "extend-preempted",
        (segs, k) => segs.map((x, i) => (i === k ? { ...x, preempted: false } : x)),
      ],
      ["postpone-preempted", (segs, k) => [...segs.slice(0, k), ...segs.slice(k + 1)]],
    ];
    const active = edits.filter(([name]) => on.has(name));
    for (let at = Number.POSITIVE_INFINITY; active.length > 0 && runs < budget; ) {
      const segs = segmentsOf(best);
      let k = Math.min(at, segs.length) - 1;
      while (k >= 0 && !segs[k]!.preempted) k--;
      if (k < 0) break;
      at = k;
      for (const [, edit] of active) {
        const plan = edit(segs, k);
        if (plan && runs < budget && (await attempt(plan))) {
          improved = true;
          break;
        }
      }
    }
    // 3. Data choices at 0.
    const data = on.has("zero-data") ? dataOf(best.guide) : [];
    for (let k = 0; k < data.length && runs < budget; k++) {
      if (data[k] === 0) continue;
      const d = dataOf(best.guide);
      d[k] = 0;
      if (await attempt(segmentsOf(best), d, false)) improved = true;
    }
  }
  return result(best, "minimized");
}

/** The data choices of a guided run, in order. */
function dataOf(guide: GuidedStrategy): number[] {
  return guide.log.filter((d) => d.kind === "data").map((d) => d.chosen);
}

/**
 * The segment plan of a candidate up to its bug: the run's maximal stretches of one task's
 * steps, each anchored at its last step (the task's n-th step with that label) and marked when it
 * ended by a preemption.
 */
function segmentsOf(c: Candidate): GuidedSegment[] {
  const preempted = new Set(c.preemptionSteps);
  const trace = c.run.trace;
  const own: number[] = [];
  const counts = new Map<string, number>();
  const segs: GuidedSegment[] = [];
  for (let n = 1; n <= c.bugStep; n++) {
    const id = trace.taskAt(n);
    own[id] = (own[id] ?? 0) + 1;
    const label = trace.at(n).label;
    const key = `${id}\u0000${label}`;
    const occurrence = (counts.get(key) ?? 0) + 1;
    counts.set(key, occurrence);
    if (n === c.bugStep || trace.taskAt(n + 1) !== id)
      segs.push({ task: id, until: own[id]!, label, occurrence, preempted: preempted.has(n + 1) });
  }
  return segs;
}
