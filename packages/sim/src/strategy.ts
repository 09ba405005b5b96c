import type { Prng } from "./prng.js";
import type { Task } from "./task.js";

/**
 * A scheduling strategy: at each scheduling point with more than one runnable task it picks who
 * runs next, and it answers the simulation's data choices (`Simulation.choose`). The simulation
 * records every answer in the trace, so any run can be replayed from its choices alone.
 */
export interface Strategy {
  /** The name it is registered under (see registerStrategy in @primetime/sim/explore). */
  readonly name: StrategyName;
  /** PCT depth or DFS preemption bound; 0 for the others. Stored in replay tokens. */
  readonly param: number;
  /** Called when a run starts, with the run's PRNG. */
  begin(prng: Prng): void;
  /** Picks among `runnable` (sorted by task id, at least two). null means "cannot" (replay divergence). */
  pickTask(runnable: readonly Task[], current: Task | null): Task | null;
  /** Picks a value in [0, n), n >= 2. -1 means "cannot" (replay divergence). */
  choose(n: number): number;
  /** A new task became runnable. */
  spawned(task: Task): void;
  /** The task yields the CPU on purpose (cond_resched, a spin loop's cpu_relax). */
  yielded(task: Task): void;
  /** The run ended after `decisions` counted steps. */
  end(decisions: number): void;
  /**
   * A fault-injection coin with probability `p` (`Simulation.flip`): 1 or 0. Sampling
   * strategies draw it from the run's PRNG (so `p` is honoured); without it the simulation asks
   * `choose(2)`, which enumerating strategies (DFS) explore both ways.
   */
  flip?(p: number): number;
  /** Why the strategy returned null / -1. */
  readonly divergence?: string;
  /** For a replay: the strategy that recorded the choices (carried into the new token). */
  readonly recordedBy?: StrategyName;
}

/** A strategy's registered name: "random", "pct", "dfs", "pos", "replay", ... */
export type StrategyName = string;
