import type { Prng } from "../../prng.js";
import type { Strategy } from "../../strategy.js";
import type { Task } from "../../task.js";
import { type StrategyDefinition, samplingSession } from "./registry.js";

/**
 * POS, partial order sampling (Yuan, Yang and Gu, "Partial Order Aware Concurrency Sampling",
 * CAV 2018). Every pending event (here: the step a runnable task is about to take, named by the
 * label of the point it waits at) carries a random priority; the runnable task whose pending
 * event has the highest priority runs. When an event has run, the task's next event draws a fresh
 * priority, and so does every other pending event that races with the one that ran. POS samples
 * partial orders far more evenly than a random walk, which over-samples the orders that differ
 * only in independent steps.
 *
 * The model does not say which memory an event touches, so two events race here when they have
 * the same label: the points of this code base name the operation and its object
 * ("mutex_lock(object_name_lock)", "kref_put(gem_object#2)"), so equal labels are the
 * conflicting accesses POS re-samples. Data choices are uniform, as in `random`.
 */
export class PosStrategy implements Strategy {
  readonly name = "pos";
  readonly param = 0;
  private prng!: Prng;
  /** The priority of each task's pending event and the label it was drawn for, by task id. */
  private readonly prio: number[] = [];
  private readonly prioLabel: (string | undefined)[] = [];
  private last: Task | null = null;
  /** Tasks (by id) that yielded on purpose: below every other until they next run. */
  private readonly yielding: boolean[] = [];

  begin(prng: Prng): void {
    this.prng = prng;
    this.prio.length = 0;
    this.prioLabel.length = 0;
    this.yielding.length = 0;
    this.last = null;
  }

  private draw(t: Task): number {
    const p = this.prng.below(0x40000000);
    this.prio[t.id] = p;
    this.prioLabel[t.id] = t.lastLabel;
    return p;
  }

  pickTask(runnable: readonly Task[]): Task {
    // The event the last pick ran: its task's next event, and every pending event racing with
    // it (same label), draw again.
    // The arrays and the last pick in locals: draw() writes the arrays' elements, never the
    // fields, so the loop loads each field once (the same tests, in the same order of tasks).
    const last = this.last;
    const prio = this.prio;
    const prioLabel = this.prioLabel;
    const yielding = this.yielding;
    const ran = last ? (prioLabel[last.id] ?? null) : null;
    let best = runnable[0]!;
    let bestP = -1;
    for (let i = 0; i < runnable.length; i++) {
      const t = runnable[i]!;
      const id = t.id;
      let p: number;
      if (yielding[id] === true) p = -1;
      else if (t === last) p = this.draw(t);
      else {
        const label = prioLabel[id];
        if (label === undefined || label !== t.lastLabel || (ran !== null && label === ran))
          p = this.draw(t);
        else p = prio[id]!;
      }
      if (p > bestP) {
        best = t;
        bestP = p;
      }
    }
    this.last = best;
    this.yielding[best.id] = false;
    return best;
  }

  choose(n: number): number {
    return this.prng.below(n);
  }

  flip(p: number): number {
    return this.prng.below(0x40000000) < p * 0x40000000 ? 1 : 0;
  }

  spawned(): void {}
  yielded(task: Task): void {
    // A spinning task's next event goes below every other, as PCT does with yields.
    this.yielding[task.id] = true;
  }
  end(): void {}
}

export const POS: StrategyDefinition = {
  name: "pos",
  code: 4,
  summary: "partial order sampling (CAV 2018): random event priorities, re-drawn for racing events",
  searches: true,
  describe: (o) => `pos (seed ${o.seed})`,
  create: () => new PosStrategy(),
  search: (o) => samplingSession(o, () => new PosStrategy()),
};
