import type { Strategy, StrategyName } from "../../strategy.js";
import type { Task } from "../../task.js";
import type { StrategyDefinition } from "./registry.js";

/**
 * Replays recorded choices. Every decision must be possible (the recorded task runnable, the
 * recorded value in range) and the run must use exactly the recorded choices; otherwise the
 * strategy reports a divergence and the run stops as `replay-mismatch`: a token never silently
 * produces a different run.
 */
export class ReplayStrategy implements Strategy {
  readonly name = "replay";
  private next = 0;
  divergence?: string;

  constructor(
    private readonly choices: readonly number[],
    /** The strategy that recorded the choices, for messages and re-encoding. */
    readonly recordedBy: StrategyName = "replay",
    readonly param = 0,
  ) {}

  begin(): void {
    this.next = 0;
    this.divergence = undefined;
  }

  get consumed(): number {
    return this.next;
  }

  get exhausted(): boolean {
    return this.next >= this.choices.length;
  }

  pickTask(runnable: readonly Task[]): Task | null {
    const i = this.next++;
    const id = this.choices[i];
    if (id === undefined) {
      this.divergence = `the run needs more choices than the token's ${this.choices.length}`;
      return null;
    }
    for (const t of runnable) if (t.id === id) return t;
    this.divergence = `choice #${i} picks task ${id}, which is not runnable here (runnable: ${runnable.map(String).join(", ")})`;
    return null;
  }

  choose(n: number): number {
    const i = this.next++;
    const v = this.choices[i];
    if (v === undefined) {
      this.divergence = `the run needs more choices than the token's ${this.choices.length}`;
      return -1;
    }
    if (v >= n) {
      this.divergence = `choice #${i} is ${v}, out of range for a choice among ${n}`;
      return -1;
    }
    return v;
  }

  spawned(): void {}
  yielded(): void {}
  end(): void {}
}

export const REPLAY: StrategyDefinition = {
  name: "replay",
  code: 3,
  summary: "follows a replay token's recorded choices (replay(), never a search)",
  searches: false,
  describe: () => "replay",
  create: (p) => new ReplayStrategy(p.prefix ?? []),
  search: () => {
    throw new RangeError("replay is not a search strategy: use replay(token, scenario)");
  },
};
