import { currentTask } from "../../current.js";
import type { Strategy } from "../../strategy.js";
import type { Task } from "../../task.js";
import type { StrategyDefinition } from "./registry.js";

/** One decision of a guided run, as the minimizer reads it back. */
export interface GuidedDecision {
  /** A task pick or a data choice. */
  readonly kind: "task" | "data";
  /** Steps recorded before it (a task pick decides who takes step `step + 1`). */
  readonly step: number;
  /** The task that was running and could go on (picking another preempts it), or -1. */
  readonly running: number;
  /** What was picked (a task id, or the value). */
  readonly chosen: number;
  /** A data choice: the task that drew it (-1 outside any task). */
  readonly by?: number;
}

/**
 * One stretch of a segment plan: `task` runs until its anchor, a point in its own progress: its
 * `occurrence`-th step labelled `label` if given, else its `until`-th step (counted from its
 * start). Anchored in the task's own steps, a stretch stays put when other tasks' steps move or
 * the task's loops run a different number of times before it. `preempted`: the stretch ends by
 * switching away from the task while it could go on (a preemption); otherwise it ends when the
 * task blocks or exits, even past its anchor.
 */
export interface GuidedSegment {
  /** The task, by id (the id in the run the plan was read from when `name` is given). */
  readonly task: number;
  /**
   * The task by its name and rank among the tasks of that name ("fuzz0:race#1": the second task
   * named "fuzz0:race" spawned, see GuidedStrategy.taskKey()): given, it decides which task the stretch is, so the
   * stretch keeps its task when an edit makes tasks spawn in another order (and take other ids).
   */
  readonly name?: string;
  readonly until: number;
  readonly label?: string;
  readonly occurrence?: number;
  readonly preempted: boolean;
}

/** What a guided run follows: who takes each step, and the value of each data choice. */
export interface GuidedPlan {
  /** `steps[n]`: the task id wanted for step n + 1. */
  readonly steps: readonly number[];
  /** `data[k]`: the value wanted for the k-th data choice. */
  readonly data: readonly number[];
  /**
   * Instead of `steps` and `data`: a recorded choice list (a token's) to follow decision by
   * decision, as a replay would, but logged (the minimizer's first run).
   */
  readonly choices?: readonly number[];
  /**
   * Instead of `steps`: stretches of tasks, in order (see GuidedSegment), the minimizer's plans.
   * A stretch whose task is past its anchor is passed over, and so is one whose task blocks
   * before it; when the wanted task cannot run, the running task goes on (following its own
   * stretch if that is the next one whose task can run: the stretches between are passed over),
   * or if it stopped, the plan moves on to the next stretch whose task can run. Past the plan,
   * no preemption.
   */
  readonly segments?: readonly GuidedSegment[];
  /**
   * Instead of `data`: each task's data choices, in the order the task draws them (keyed by the
   * task's name and rank, as GuidedSegment.name; "" for draws outside any task). A task's k-th draw gets its k-th value whatever the
   * other tasks drew before it, so an edit of the interleaving keeps every task's workload (with
   * `data`, the draws are answered in global order and a moved task would take another's).
   */
  readonly taskData?: ReadonlyMap<string, readonly number[]>;
}

/**
 * Follows a plan where it can and runs without preempting where it cannot: the task that takes
 * step n + 1 is `plan.steps[n]` if it is runnable; otherwise, and past the plan, the running task
 * goes on, or the lowest runnable task id if the running one cannot; the k-th data choice is
 * `plan.data[k]` if in range, else 0. It never diverges, so any plan gives a run; the minimizer
 * (minimize()) edits plans and keeps the runs that show the same bug. Every decision is logged
 * with the task that was running, so preemptions can be counted and removed.
 */
export class GuidedStrategy implements Strategy {
  readonly name = "guided";
  readonly param = 0;
  readonly log: GuidedDecision[] = [];

  private dataIndex = 0;
  /** Data choices drawn so far by each task (`plan.taskData`). */
  private drawn = new Map<string, number>();
  /** Each task's key (name and rank, taskKey()), by id; and the id of each key. */
  private keys: string[] = [];
  private ids = new Map<string, number>();
  private named = new Map<string, number>();
  private yielding: Task | null = null;
  /** Segment plans: the stretch being followed; steps taken by each task, and per label. */
  private segment = 0;
  private own: number[] = [];
  private labelCount = new Map<string, number>();
  /** Trace steps counted into `own` and `labelCount`. */
  private counted = 0;

  constructor(private readonly plan: GuidedPlan = { steps: [], data: [] }) {}

  begin(): void {
    this.log.length = 0;
    this.dataIndex = 0;
    this.drawn = new Map();
    this.keys = [];
    this.ids = new Map();
    this.named = new Map();
    this.yielding = null;
    this.own = [];
    this.labelCount = new Map();
    this.counted = 0;
    this.segment = 0;
  }

  pickTask(runnable: readonly Task[], current: Task | null): Task {
    const step = runnable[0]!.sim.steps;
    // A task that yields on purpose (a spin-wait's cpu_relax) gives the CPU away: switching
    // from it is no preemption, and by default the next task runs (it would spin forever).
    const yielded = current !== null && current === this.yielding;
    this.yielding = null;
    const running = current && current.state === "runnable" && !yielded ? current.id : -1;
    const want = this.plan.choices
      ? this.plan.choices[this.log.length]
      : this.plan.segments
        ? this.segmentWant(runnable, current, running)
        : this.plan.steps[step];
    let task = want === undefined ? undefined : runnable.find((t) => t.id === want);
    if (!task && yielded)
      task = runnable.find((t) => t.id > current.id) ?? runnable.find((t) => t !== current);
    if (!task) task = runnable.find((t) => t.id === running) ?? runnable[0]!;
    this.log.push({ kind: "task", step, running, chosen: task.id });
    return task;
  }

  /** The id of stretch `s`'s task in this run (-2: not spawned yet). */
  private idOf(s: GuidedSegment): number {
    return s.name === undefined ? s.task : (this.ids.get(s.name) ?? -2);
  }

  /**
   * The key of task `id` in this run: its name and its rank among the tasks of that name, in
   * spawn order ("fuzz0:race#1"); "" for -1 (outside any task).
   */
  taskKey(id: number): string {
    return this.keys[id] ?? "";
  }

  /** Whether stretch `s` has reached its anchor. */
  private done(s: GuidedSegment): boolean {
    const id = this.idOf(s);
    if (s.label !== undefined)
      return (this.labelCount.get(`${id}\u0000${s.label}`) ?? 0) >= (s.occurrence ?? 1);
    return (this.own[id] ?? 0) >= s.until;
  }

  /** The task the segment plan wants for the next step (undefined: none, go on). */
  private segmentWant(
    runnable: readonly Task[],
    current: Task | null,
    running: number,
  ): number | undefined {
    const segs = this.plan.segments!;
    const sim = runnable[0]!.sim;
    for (; this.counted < sim.steps; this.counted++) {
      const id = sim.trace.taskAt(this.counted + 1);
      this.own[id] = (this.own[id] ?? 0) + 1;
      const key = `${id}\u0000${sim.trace.at(this.counted + 1).label}`;
      this.labelCount.set(key, (this.labelCount.get(key) ?? 0) + 1);
    }
    const can = (id: number) => runnable.some((t) => t.id === id);
    while (this.segment < segs.length) {
      const s = segs[this.segment]!;
      const isCurrent = current !== null && current.id === this.idOf(s);
      if (!this.done(s)) {
        // Blocked (or exited) in the middle of its stretch: the stretch is over.
        if (isCurrent && running < 0 && !can(this.idOf(s))) {
          this.segment++;
          continue;
        }
        break;
      }
      // A stretch ending without preemption goes on until its task stops, unless the plan has
      // caught up with it: every stretch up to the task's next one is done (the switches in
      // between needed no decision, as when only one task could run).
      if (isCurrent && running >= 0 && !s.preempted) {
        const next = this.caughtUp(this.segment);
        if (next < 0) break;
        this.segment = next;
        continue;
      }
      this.segment++;
    }
    if (this.segment >= segs.length) return undefined;
    const s = segs[this.segment]!;
    if (can(this.idOf(s))) return this.idOf(s);
    if (running >= 0) {
      // The wanted task cannot run (it is waiting for something that came earlier or later
      // than in the run the plan was read from): if the next stretch whose task can run is the
      // running task's, the stretches passed over join their tasks' next ones and the running
      // task follows its own stretch (and is preempted at its anchor, as planned).
      for (let k = this.segment + 1; k < segs.length; k++) {
        const x = segs[k]!;
        if (this.done(x) || !can(this.idOf(x))) continue;
        if (this.idOf(x) === running) this.segment = k;
        break;
      }
      return running;
    }
    // The wanted task cannot run and the running one stopped: the plan moves on to the next
    // stretch whose task can run (the stretches passed over join their tasks' next ones).
    for (let k = this.segment + 1; k < segs.length; k++) {
      const x = segs[k]!;
      if (!this.done(x) && can(this.idOf(x))) {
        this.segment = k;
        return this.idOf(x);
      }
    }
    return undefined;
  }

  /** The next stretch of segment `k`'s task if every stretch before it is done, else -1. */
  private caughtUp(k: number): number {
    const segs = this.plan.segments!;
    const task = this.idOf(segs[k]!);
    for (let j = k + 1; j < segs.length; j++) {
      const x = segs[j]!;
      if (this.idOf(x) === task) return j;
      if (!this.done(x)) return -1;
    }
    return -1;
  }

  choose(n: number): number {
    const by = currentTask()?.id ?? -1;
    let want: number | undefined;
    if (this.plan.choices) want = this.plan.choices[this.log.length];
    else if (this.plan.taskData) {
      const key = this.taskKey(by);
      const k = this.drawn.get(key) ?? 0;
      this.drawn.set(key, k + 1);
      want = this.plan.taskData.get(key)?.[k];
    } else want = this.plan.data[this.dataIndex++];
    const v = want !== undefined && want < n ? want : 0;
    this.log.push({ kind: "data", step: -1, running: -1, chosen: v, by });
    return v;
  }

  spawned(task: Task): void {
    const rank = this.named.get(task.name) ?? 0;
    this.named.set(task.name, rank + 1);
    const key = `${task.name}#${rank}`;
    this.keys[task.id] = key;
    this.ids.set(key, task.id);
  }
  yielded(task: Task): void {
    this.yielding = task;
  }
  end(): void {}

  /** Preemptions of the run: picks of another task while the running one could go on. */
  get preemptions(): number {
    return this.log.filter((d) => d.kind === "task" && d.running >= 0 && d.chosen !== d.running)
      .length;
  }
}

export const GUIDED: StrategyDefinition = {
  name: "guided",
  code: 5,
  summary: "follows a plan of choices, without preempting past it (the minimizer's runs)",
  searches: false,
  describe: () => "guided",
  create: (p) => new GuidedStrategy({ steps: p.prefix ?? [], data: [] }),
  search: () => {
    throw new RangeError("guided is not a search strategy: minimize() runs it");
  },
};
