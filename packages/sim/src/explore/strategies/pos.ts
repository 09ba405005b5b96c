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
  /** The priority of each task's pending event, and the label it was drawn for. */
  private readonly prio = new Map<Task, { p: number; label: string }>();
  private last: Task | null = null;
  /** Tasks that yielded on purpose: below every other until they next run. */
  private readonly yielding = new Set<Task>();

  begin(prng: Prng): void {
    this.prng = prng;
    this.prio.clear();
    this.yielding.clear();
    this.last = null;
  }

  private draw(t: Task): number {
    const p = this.prng.below(0x40000000);
    this.prio.set(t, { p, label: t.lastLabel });
    return p;
  }

  pickTask(runnable: readonly Task[]): Task {
    // The event the last pick ran: its task's next event, and every pending event racing with
    // it (same label), draw again.
    const ran = this.last ? (this.prio.get(this.last)?.label ?? null) : null;
    let best = runnable[0]!;
    let bestP = -1;
    for (const t of runnable) {
      const e = this.prio.get(t);
      let p: number;
      if (this.yielding.has(t)) p = -1;
      else if (
        !e ||
        t === this.last ||
        e.label !== t.lastLabel ||
        (ran !== null && e.label === ran)
      )
        p = this.draw(t);
      else p = e.p;
      if (p > bestP) {
        best = t;
        bestP = p;
      }
    }
    this.last = best;
    this.yielding.delete(best);
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
    this.yielding.add(task);
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
