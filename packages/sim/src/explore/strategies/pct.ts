import type { Prng } from "../../prng.js";
import type { Strategy } from "../../strategy.js";
import type { Task } from "../../task.js";
import { type StrategyDefinition, samplingSession } from "./registry.js";

/**
 * PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
 * ASPLOS 2010). Finds a bug of depth d in a run of n tasks and k steps with probability at least
 * 1 / (n * k^(d-1)).
 *
 * - Tasks get distinct random initial priorities, all >= d (a task spawned later gets a random
 *   one too); the highest-priority runnable task always runs.
 * - d-1 change points are drawn uniformly in [1, k]; when the run reaches the i-th one, the task
 *   that just ran drops to priority d-i (below every initial priority).
 * - Only steps with more than one runnable task count (shuttle/Coyote practice), and k is the
 *   longest count seen so far (the first run, knowing nothing, uses k = 1): one instance is meant to be reused across the runs of a search,
 *   so the estimate rises as longer runs appear.
 * - A task that yields on purpose (a spin-wait's cpu_relax) drops below every other task, change
 *   points included, so a spin-wait cannot starve the task it waits for.
 */
export class PctStrategy implements Strategy {
  readonly name = "pct";
  private prng!: Prng;
  /**
   * Priority of each task of the run, by task id (ids count from 1 in every run), 0 for a task
   * that has none; `known` marks the ids that have one. A Float64Array: the pick reads it at every
   * decision, and a plain array of such values (past the small-integer range, negative after
   * yields) holds boxed or holey doubles.
   */
  private priority = new Float64Array(64);
  private known = new Uint8Array(64);
  /** One past the highest task id given a priority in this run. */
  private ids = 0;
  /** counted step -> priority it assigns. */
  private changePoints = new Map<number, number>();
  /** The change points in step order, and the index of the next one to reach. */
  private changeSteps: number[] = [];
  private nextChange = 0;
  private nextChangeAt = 0;
  private counted = 0;
  /** The lowest priority of any task of the run (what a yield goes below), kept as it changes. */
  private lowest = Number.POSITIVE_INFINITY;

  constructor(
    readonly param: number,
    /** The current estimate of k, the number of counted steps in a run. */
    public estimatedSteps = 0,
  ) {
    if (!Number.isInteger(param) || param < 1)
      throw new RangeError(`PCT depth must be an integer >= 1, got ${param}`);
  }

  begin(prng: Prng): void {
    this.prng = prng;
    this.priority.fill(0, 0, this.ids);
    this.known.fill(0, 0, this.ids);
    this.ids = 0;
    this.changePoints.clear();
    this.counted = 0;
    const k = Math.max(1, this.estimatedSteps);
    const d = this.param;
    // d-1 distinct change points when k allows it; point i carries priority d-i.
    for (let i = 1; i < d && this.changePoints.size < k; i++) {
      let at: number;
      do at = this.prng.between(1, k);
      while (this.changePoints.has(at));
      this.changePoints.set(at, d - i);
    }
    this.changeSteps = [...this.changePoints.keys()].sort((a, b) => a - b);
    this.nextChange = 0;
    this.nextChangeAt = this.changeSteps[0] ?? 0;
    this.lowest = Number.POSITIVE_INFINITY;
  }

  spawned(task: Task): void {
    // Distinct in practice (2^30 values); ties are broken by task id, so still deterministic.
    const p = this.param + this.prng.between(0, 1 << 30);
    this.setPriority(task.id, p);
  }

  yielded(task: Task): void {
    // Below everyone, change-point priorities included: whatever the spinner waits for can run.
    // setPriority() inlined for the case it always is here (a new lowest priority): a spin-wait
    // yields at every step, so this runs as often as pickTask().
    const id = task.id;
    if (id >= this.priority.length) this.growTo(id);
    const p = this.lowest - 1;
    this.priority[id] = p;
    this.known[id] = 1;
    if (id >= this.ids) this.ids = id + 1;
    this.lowest = p;
  }

  /** Sets a task's priority, keeping `lowest` the minimum over every task's priority. */
  private setPriority(id: number, p: number): void {
    if (id >= this.priority.length) this.growTo(id);
    const pr = this.priority;
    const old = this.known[id] === 1 ? pr[id] : undefined;
    pr[id] = p;
    this.known[id] = 1;
    if (id >= this.ids) this.ids = id + 1;
    if (p <= this.lowest) this.lowest = p;
    else if (old === this.lowest) {
      // The task that had the lowest priority was raised (a change point): look again.
      let lowest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < this.ids; i++) {
        const q = pr[i]!;
        if (this.known[i] === 1 && q < lowest) lowest = q;
      }
      this.lowest = lowest;
    }
  }

  private growTo(id: number): void {
    let n = this.priority.length;
    while (n <= id) n *= 2;
    const pr = new Float64Array(n);
    pr.set(this.priority);
    const known = new Uint8Array(n);
    known.set(this.known);
    this.priority = pr;
    this.known = known;
  }

  pickTask(runnable: readonly Task[], current: Task | null): Task {
    const counted = ++this.counted;
    if (counted === this.nextChangeAt) {
      const change = this.changePoints.get(counted)!;
      this.nextChangeAt = this.changeSteps[++this.nextChange] ?? 0;
      if (current) this.setPriority(current.id, change);
    }
    const pr = this.priority;
    let best = runnable[0]!;
    let bestP = pr[best.id] ?? 0;
    for (let i = 1; i < runnable.length; i++) {
      const t = runnable[i]!;
      const p = pr[t.id] ?? 0; // an id past the array has no priority: 0, like an unknown one
      if (p > bestP) {
        best = t;
        bestP = p;
      }
    }
    return best;
  }

  choose(n: number): number {
    return this.prng.below(n);
  }

  flip(p: number): number {
    return this.prng.below(0x40000000) < p * 0x40000000 ? 1 : 0;
  }

  end(decisions: number): void {
    if (decisions > this.estimatedSteps) this.estimatedSteps = decisions;
  }
}

export const PCT: StrategyDefinition = {
  name: "pct",
  code: 1,
  summary: "probabilistic concurrency testing: random priorities, d-1 priority change points",
  searches: true,
  describe: (o) => `pct (depth ${o.depth}, seed ${o.seed})`,
  create: (p) => new PctStrategy(p.depth ?? 3, p.estimatedSteps),
  // One instance for the whole search: its step estimate rises as longer runs appear.
  search: (o) => samplingSession(o, () => new PctStrategy(o.depth), true),
};
