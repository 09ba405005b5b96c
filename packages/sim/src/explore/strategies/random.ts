import type { Prng } from "../../prng.js";
import type { Strategy } from "../../strategy.js";
import type { Task } from "../../task.js";

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

  spawned(): void {}
  yielded(): void {}
  end(): void {}
}
