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
  private yielding: Task | null = null;

  constructor(private readonly plan: GuidedPlan = { steps: [], data: [] }) {}

  begin(): void {
    this.log.length = 0;
    this.dataIndex = 0;
    this.yielding = null;
  }

  pickTask(runnable: readonly Task[], current: Task | null): Task {
    const step = runnable[0]!.sim.steps;
    // A task that yields on purpose (a spin-wait's cpu_relax) gives the CPU away: switching
    // from it is no preemption, and by default the next task runs (it would spin forever).
    const yielded = current !== null && current === this.yielding;
    this.yielding = null;
    const running = current && current.state === "runnable" && !yielded ? current.id : -1;
    const want = this.plan.choices ? this.plan.choices[this.log.length] : this.plan.steps[step];
    let task = want === undefined ? undefined : runnable.find((t) => t.id === want);
    if (!task && yielded)
      task = runnable.find((t) => t.id > current.id) ?? runnable.find((t) => t !== current);
    if (!task) task = runnable.find((t) => t.id === running) ?? runnable[0]!;
    this.log.push({ kind: "task", step, running, chosen: task.id });
    return task;
  }

  choose(n: number): number {
    const want = this.plan.choices
      ? this.plan.choices[this.log.length]
      : this.plan.data[this.dataIndex++];
    const v = want !== undefined && want < n ? want : 0;
    this.log.push({ kind: "data", step: -1, running: -1, chosen: v });
    return v;
  }

  spawned(): void {}
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
