import type { Prng } from "../../prng.js";
import type { Strategy } from "../../strategy.js";
import type { Task } from "../../task.js";
import { type StrategyDefinition, samplingSession } from "./registry.js";

/** Uniform choice among runnable tasks at every point: cheap, shallow, a good smoke test. */
export class RandomStrategy implements Strategy {
  readonly name = "random";
  readonly param = 0;
  private prng!: Prng;

  begin(prng: Prng): void {
    this.prng = prng;
  }

  pickTask(runnable: readonly Task[]): Task {
    return runnable[this.prng.below(runnable.length)]!;
  }

  choose(n: number): number {
    return this.prng.below(n);
  }

  flip(p: number): number {
    return this.prng.below(0x40000000) < p * 0x40000000 ? 1 : 0;
  }

  spawned(): void {}
  yielded(): void {}
  end(): void {}
}

export const RANDOM: StrategyDefinition = {
  name: "random",
  code: 0,
  summary: "uniform choice among the runnable tasks at every point",
  searches: true,
  describe: (o) => `random (seed ${o.seed})`,
  create: () => new RandomStrategy(),
  search: (o) => samplingSession(o, () => new RandomStrategy()),
};
