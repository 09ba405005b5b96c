/**
 * Minimization of a failing run: given its replay token and a "same bug" predicate, shrink the
 * recorded choices (fewer preemptions, fewer task switches, shorter runs, smaller data choices)
 * and return a new token that replays to the same bug. A race found by PCT after thousands of
 * steps usually needs one or two preemptions; the minimized run shows just those, which is what
 * makes its race table readable.
 *
 * Every candidate is a run of the scenario under a GuidedStrategy following a segment plan: the
 * run's stretches of one task's steps, in order, each ending at an anchor in its task's own
 * progress (its n-th step with a given label), by a preemption or by the task stopping. A stretch
 * names its task by name and rank ("fuzz0:race#1", the second task of that name spawned), not by
 * id, so it keeps its task when an edit makes tasks spawn in another order; and each task gets
 * its own data choices back in the order it draws them, whoever draws before it (a fuzzer's
 * processes draw their operations as they run: answered in global order, a moved task would
 * take another's and the workload would change). The anchors stay put when other tasks' steps
 * move, and where the plan cannot be followed the running task goes on (a stretch of a task that
 * cannot run, such as a background thread whose wake-ups an edit merged or moved, is passed over
 * when the running task's own stretch comes next, so the running task is still preempted at its
 * anchor), so any edited plan still gives a run (never a replay mismatch). Only the run up to
 * the bug counts: its first splats that make it the same bug; preemptions after them are not
 * needed (a splat reported at step n comes from the code its task runs after its pick at step n:
 * when that task takes step n + 1, a preemption there counts). A candidate is kept when it shows
 * the same bug and is no worse: fewer preemptions
 * before the bug, then fewer task switches before it, then an earlier bug. A plan is run once:
 * a plan tried before is not run again. The passes, repeated while they improve and the budget
 * lasts (a candidate must also show the bug as early among its splats as the original, so it
 * leads with the same report; pass 3 only in a round where passes 1-2 removed nothing, so the
 * budget goes to preemptions first):
 * 1. truncation: the shortest prefix of the stretches after which running without preemption
 *    still shows the bug (binary search);
 * 2. preemption removal:
 *    a. by task (`drop-task`, with more than 8 preemptions left, as 2b): every preemption of one
 *       task at once (as the preempted or the preempting task; their preempting stretches
 *       dropped), the task whose last preemption is furthest from the bug first;
 *    b. by runs (`drop-chunk`): walking back from the preemption before the last (the one
 *       nearest the bug, left to 2c) to the first, runs of consecutive preemptions dropped at
 *       once, a run twice as long after a success and half as long after a failure (a long
 *       random schedule's preemptions mostly order unrelated tasks: they go in a few runs instead
 *       of one run each; walking back, what orders the work just before the bug goes first:
 *       on 12 fuzz findings, fs.fget-no-recheck's in fuzz-fd-reuse@vgem at base seeds 1-12, the
 *       200 runs kept 94 preemptions in all walking back, 111 walking forward);
 *    c. one at a time, last first: the preempting stretch is dropped (its task's steps join its
 *       next stretch, `drop-preempting`), or the preempted task goes on until it stops
 *       (`extend-preempted`), or the preempted stretch is dropped (the task's steps wait for its
 *       next stretch, `postpone-preempted`);
 * 3. data choices: each non-zero data choice tried at 0, task by task.
 *
 * The budget is `budget` runs, or with `scale`, more for a schedule with many preemptions (see
 * MinimizeOptions.scale).
 */

import { type RunResult, Simulation } from "../simulation.js";
import type { Splat } from "../splat.js";
import { replay, type Scenario } from "./explore.js";
import { type GuidedPlan, type GuidedSegment, GuidedStrategy } from "./strategies/guided.js";
import { decodeToken, type RunToken } from "./token.js";

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
 * `drop-task` (2a), `drop-chunk` (2b), `drop-preempting`, `extend-preempted` and
 * `postpone-preempted` (the three ways pass 2c undoes one preemption) and `zero-data` (3).
 */
export const MINIMIZE_PASSES = [
  "truncate",
  "drop-task",
  "drop-chunk",
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
  /**
   * A budget scaled to the finding: `perPreemption` more runs than `budget` for each preemption
   * of the token's schedule before its bug (counted by the first guided run), `max` runs at most
   * in all. Default: none (`budget` runs whatever the schedule).
   */
  scale?: { readonly perPreemption: number; readonly max: number };
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
  /**
   * The last step the plan covers: bugStep, or bugStep + 1 when the splat's task takes that step
   * (the splat's code ran after step bugStep, from the pick of that task: the task that reports
   * a splat at step n was picked at step n and reaches its next point at step n + 1, so a
   * preemption there is before the bug).
   */
  readonly planEnd: number;
  /** Preemptions before the bug (up to planEnd): the steps at which a preempting task took over. */
  readonly preemptionSteps: readonly number[];
  /** Task switches before bugStep. */
  readonly switches: number;
}

/**
 * Passes 2a and 2b run while the best run has more preemptions than this: with a few, pass 2c
 * tries each one (three runs at most each), and an edit of several at once can end in a run
 * whose preemptions no single edit removes (a finding of 7 preemptions that 2c alone takes to 1
 * stayed at 2).
 */
const BULK_PREEMPTIONS = 8;

/** What candidates are compared by. */
interface Score {
  readonly preemptions: number;
  readonly switches: number;
  readonly bugStep: number;
}
const score = (c: Candidate): Score => ({
  preemptions: c.preemptionSteps.length,
  switches: c.switches,
  bugStep: c.bugStep,
});

/** How candidates compare: fewer preemptions, then fewer task switches, then an earlier bug. */
const compare = (a: Score | Candidate, b: Score | Candidate): number => {
  const x = "run" in a ? score(a) : a;
  const y = "run" in b ? score(b) : b;
  return x.preemptions - y.preemptions || x.switches - y.switches || x.bugStep - y.bugStep;
};

/**
 * The preemptions of a token's schedule up to its first splat: the steps at which a preempting
 * task took over while the running task could go on (as Minimized.preemptionSteps, a splat's
 * task taking the step after it counted too), for a replay's race table to show the rows the
 * minimizer's shows (`focus`). It runs the token's choices decision by decision under a logging
 * GuidedStrategy (minimize()'s first run); null when that run differs from `run` (the token's
 * replay: same trace hash expected) or when the token names another scenario.
 */
export async function tokenPreemptions(
  token: string,
  scenario: Scenario,
  run: RunResult,
): Promise<readonly number[] | null> {
  const t = decodeToken(token);
  const guide = new GuidedStrategy({ steps: [], data: [], choices: t.choices });
  const again = await guidedRun(t, scenario, guide);
  if (again.traceHash !== run.traceHash) return null;
  const splat = again.splats[0] ?? null;
  return preemptionStepsOf(guide, planEndOf(again, splat, bugStepOf(again, splat)));
}

/** A run of `scenario` under `guide`, with the seed, step limit and toggles of token `t`. */
function guidedRun(t: RunToken, scenario: Scenario, guide: GuidedStrategy): Promise<RunResult> {
  return new Simulation({
    seed: t.seed,
    strategy: guide,
    stepLimit: t.stepLimit,
    scenario: t.scenario,
    toggles: t.toggles,
  }).run(scenario);
}

/** The step of `splat` (clamped to the run), or the run's end without one. */
function bugStepOf(run: RunResult, splat: Splat | null): number {
  return splat ? Math.max(1, Math.min(splat.step, run.steps)) : run.steps;
}

/** Candidate.planEnd: `bugStep`, or the step after it when the splat's task takes that step. */
function planEndOf(run: RunResult, splat: Splat | null, bugStep: number): number {
  return splat?.task != null &&
    bugStep < run.steps &&
    run.trace.taskAt(bugStep + 1) === splat.taskId
    ? bugStep + 1
    : bugStep;
}

/** The steps (up to `end`) at which `guide`'s run picked another task than the running one. */
function preemptionStepsOf(guide: GuidedStrategy, end: number): number[] {
  return guide.log
    .filter((d) => d.kind === "task" && d.running >= 0 && d.chosen !== d.running)
    .map((d) => d.step + 1)
    .filter((n) => n <= end);
}

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
  let budget = opts.budget ?? 200;
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
  /**
   * The plans run so far and what they gave (null: not the same bug): a guided run is a function
   * of its plan, so a plan an earlier pass tried is not run again.
   */
  const tried = new Map<string, Score | null>();
  const exec = async (plan: GuidedPlan): Promise<Candidate | null> => {
    const key = plan.choices ? "" : planKey(plan);
    const seen = tried.get(key);
    // A plan tried before is worse than the best run now (the best only improves), unless it is
    // as good (then it may be taken again in place of the best: it is run again).
    if (seen === null || (seen !== undefined && compare(seen, score(best)) !== 0)) return null;
    if (runs >= budget) return null;
    runs++;
    const c = await execute(plan);
    if (key) tried.set(key, c && score(c));
    return c;
  };
  const execute = async (plan: GuidedPlan): Promise<Candidate | null> => {
    const guide = new GuidedStrategy(plan);
    const run = await guidedRun(t, scenario, guide);
    if (!isSame(original, run)) return null;
    const k = splatsToBug(run);
    if (k > originalSplatsToBug) return null;
    const splat = k > 0 ? run.splats[k - 1]! : null;
    const bugStep = bugStepOf(run, splat);
    const planEnd = planEndOf(run, splat, bugStep);
    const preemptionSteps = preemptionStepsOf(guide, planEnd);
    let switches = 0;
    for (let n = 2; n <= bugStep; n++)
      if (run.trace.taskAt(n) !== run.trace.taskAt(n - 1)) switches++;
    return { run, guide, bugStep, planEnd, preemptionSteps, switches };
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
  if (opts.scale)
    budget = Math.max(
      budget,
      Math.min(opts.scale.max, budget + Math.floor(opts.scale.perPreemption * baselinePreemptions)),
    );
  let best = baseline;
  /** Runs `segments` (with the best run's data choices unless given) and keeps it if better. */
  const attempt = async (
    segments: readonly GuidedSegment[],
    taskData: ReadonlyMap<string, readonly number[]> = taskDataOf(best.guide),
    strict = true,
  ): Promise<boolean> => {
    const c = await exec({ steps: [], segments, data: [], taskData });
    if (!c || (strict ? compare(c, best) >= 0 : compare(c, best) > 0)) return false;
    best = c;
    return true;
  };

  const on = new Set(opts.passes ?? MINIMIZE_PASSES);
  /** The preempted stretches (indices into `segs`), in order. */
  const preemptedAt = (segs: readonly GuidedSegment[]) =>
    segs.flatMap((x, i) => (x.preempted ? [i] : []));
  /** `segs` with the preemptions at `ks` undone: each of those tasks goes on until it stops. */
  const extend = (segs: readonly GuidedSegment[], ks: ReadonlySet<number>) =>
    segs.map((x, i) => (ks.has(i) ? { ...x, preempted: false } : x));
  /**
   * `segs` with the preemptions at `ks` undone: each preempting stretch joins its task's next
   * one (the preempted task goes on to its next planned switch).
   */
  const dropPreempting = (segs: readonly GuidedSegment[], ks: ReadonlySet<number>) =>
    segs.filter((_, i) => !ks.has(i - 1) || i === 0);
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
    // 2a. Every preemption of one task at once (as preempted or preempting task), the tasks
    //     furthest from the bug first: a task that only set up the workload goes on its own.
    const many = best.preemptionSteps.length > BULK_PREEMPTIONS;
    if (on.has("drop-task") && many) {
      for (const task of tasksByDistance(best)) {
        if (runs >= budget) break;
        const segs = segmentsOf(best);
        const ks = new Set(
          preemptedAt(segs).filter((k) => segs[k]!.name === task || segs[k + 1]?.name === task),
        );
        if (
          ks.size > 0 &&
          ks.size < preemptedAt(segs).length &&
          (await attempt(dropPreempting(segs, ks)))
        )
          improved = true;
      }
    }
    // 2b. Runs of consecutive preemptions at once, walking back from the one before the last
    //     (the last, nearest the bug, is left to 2c) to the first: a run whose preempting
    //     stretches can all go goes at once and the next run tried is twice as long; one that
    //     cannot is halved (down to single preemptions, then the walk moves on to the ones
    //     before). Most preemptions of a long random schedule order unrelated tasks' work, so
    //     the runs grow long. `p`: the preemptions kept after the walk's position (those it
    //     passed), not counting the last.
    if (on.has("drop-chunk") && many) {
      for (let p = 0, size = 1; runs < budget; ) {
        const segs = segmentsOf(best);
        const ks = preemptedAt(segs);
        const end = ks.length - 1 - p;
        if (end <= 0) break;
        const chunk = new Set(ks.slice(Math.max(0, end - size), end));
        if (await attempt(dropPreempting(segs, chunk))) {
          improved = true;
          size *= 2;
        } else if (size > 1) size = Math.max(1, Math.floor(size / 2));
        else p++;
      }
    }
    // 2c. Each preemption undone, last first: the preempting stretch joins its task's next one,
    //     or the preempted task goes on until it stops, or its stretch joins its next one.
    const edits: [MinimizePass, (segs: GuidedSegment[], k: number) => GuidedSegment[] | null][] = [
      [
        "drop-preempting",
        (segs, k) => (k + 1 < segs.length ? [...segs.slice(0, k + 1), ...segs.slice(k + 2)] : null),
      ],
      ["extend-preempted", (segs, k) => extend(segs, new Set([k]))],
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
    // 3. Data choices at 0, each task's in the order it draws them: only once passes 1-2 found
    //    nothing more to remove (a heavy finding's hundreds of draws would take the budget the
    //    preemptions need; zeroing them does not remove preemptions).
    if (improved) continue;
    const data = on.has("zero-data") ? taskDataOf(best.guide) : new Map<string, number[]>();
    for (const [task, values] of [...data].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      for (let k = 0; k < values.length && runs < budget; k++) {
        if (values[k] === 0) continue;
        const d = taskDataOf(best.guide);
        const own = d.get(task);
        if (!own || own[k] === undefined || own[k] === 0) continue;
        own[k] = 0;
        if (await attempt(segmentsOf(best), d, false)) improved = true;
      }
    }
  }
  return result(best, "minimized");
}

/** A plan's identity for the minimizer's memo of plans tried. */
function planKey(plan: GuidedPlan): string {
  const segs = (plan.segments ?? [])
    .map(
      (x) =>
        `${x.name ?? x.task}:${x.until}:${x.label ?? ""}:${x.occurrence ?? ""}:${x.preempted ? 1 : 0}`,
    )
    .join("\u0001");
  const taskData = [...(plan.taskData ?? [])]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([task, values]) => `${task}:${values.join(",")}`)
    .join(";");
  return `${plan.steps.join(",")}\u0002${segs}\u0002${plan.data.join(",")}\u0002${taskData}`;
}

/**
 * The tasks involved in a candidate's preemptions (preempted or preempting), by key (name and
 * rank, GuidedStrategy.taskKey()), the task whose last preemption is furthest from the bug first.
 */
function tasksByDistance(c: Candidate): string[] {
  const lastAt = new Map<string, number>();
  const trace = c.run.trace;
  for (const n of c.preemptionSteps) {
    lastAt.set(c.guide.taskKey(trace.taskAt(n - 1)), n);
    lastAt.set(c.guide.taskKey(trace.taskAt(n)), n);
  }
  return [...lastAt].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([task]) => task);
}

/** The data choices of a guided run: each task's, in the order it drew them. */
function taskDataOf(guide: GuidedStrategy): Map<string, number[]> {
  const data = new Map<string, number[]>();
  for (const d of guide.log) {
    if (d.kind !== "data") continue;
    const key = guide.taskKey(d.by ?? -1);
    const own = data.get(key);
    if (own) own.push(d.chosen);
    else data.set(key, [d.chosen]);
  }
  return data;
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
  for (let n = 1; n <= c.planEnd; n++) {
    const id = trace.taskAt(n);
    own[id] = (own[id] ?? 0) + 1;
    const label = trace.at(n).label;
    const key = `${id}\u0000${label}`;
    const occurrence = (counts.get(key) ?? 0) + 1;
    counts.set(key, occurrence);
    if (n === c.planEnd || trace.taskAt(n + 1) !== id)
      segs.push({
        task: id,
        name: c.guide.taskKey(id),
        until: own[id]!,
        label,
        occurrence,
        preempted: preempted.has(n + 1),
      });
  }
  return segs;
}
