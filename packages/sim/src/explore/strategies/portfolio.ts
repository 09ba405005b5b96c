import { deriveSeed, type Prng } from "../../prng.js";
import type { Strategy } from "../../strategy.js";
import type { Task } from "../../task.js";
import type { ResolvedSearchOptions } from "../search-options.js";
import { PctStrategy } from "./pct.js";
import { PosStrategy } from "./pos.js";
import { RandomStrategy } from "./random.js";
import type { SearchSession, StrategyDefinition } from "./registry.js";

/**
 * A member of the portfolio: a strategy and, for PCT, its depth. "depth" means the search's
 * `depth` option (so `--depth` still steers the portfolio's main PCT member), "deeper" one more.
 */
type Member =
  | { readonly kind: "pct"; readonly depth: "depth" | "deeper" }
  | { readonly kind: "random" }
  | { readonly kind: "pos" };

/**
 * The fixed cycle of members: schedule i of a search runs member i mod 8.
 *
 * PCT at the search's depth runs 3 schedules in 8 and PCT one deeper 1 in 8; POS runs 2 in 8
 * and uniform random 2 in 8. The members win on different workloads: on the DRM/dma-buf races
 * PCT and POS find the deep orderings within tens of schedules where random finds nothing in a
 * thousand, while on a shallow race between many short steps (the unlocked kref.rst lookup)
 * random needs 3 schedules, POS 5 and PCT 13-25. Half of the cycle (PCT at the search depth and
 * POS's share of the rest) suits each kind, so the portfolio needs about twice the schedules of
 * the best single strategy at most, and never the worst strategy's count. (PCT depth 2 was
 * measured as a member too: it found less than depth 3 on every race and missed two.)
 */
const CYCLE: readonly Member[] = Object.freeze([
  { kind: "pct", depth: "depth" },
  { kind: "random" },
  { kind: "pos" },
  { kind: "pct", depth: "depth" },
  { kind: "random" },
  { kind: "pct", depth: "deeper" },
  { kind: "pos" },
  { kind: "pct", depth: "depth" },
] satisfies Member[]);

/** The member run `index` of a portfolio search uses (exported for tests and benchmarks). */
export function portfolioMember(index: number): string {
  const m = CYCLE[index % CYCLE.length]!;
  if (m.kind !== "pct") return m.kind;
  return m.depth === "depth" ? "pct(depth)" : "pct(depth+1)";
}

function pctDepth(m: Member & { kind: "pct" }, o: { depth: number }): number {
  return m.depth === "depth" ? o.depth : o.depth + 1;
}

/**
 * The portfolio as a single run's strategy (`new Simulation({ strategy: { kind: "portfolio" } })`):
 * the run's PRNG picks the member at `begin()` (so the same seed picks the same member), and
 * every decision is the member's. Replay tokens record the member that decided ("pct" with its
 * depth, "random", "pos"), since that is what produced the choices.
 */
export class PortfolioStrategy implements Strategy {
  private member: Strategy;
  private readonly members: Strategy[];

  constructor(readonly depth = 3) {
    this.members = CYCLE.map((m) =>
      m.kind === "pct"
        ? new PctStrategy(pctDepth(m, { depth }))
        : m.kind === "random"
          ? new RandomStrategy()
          : new PosStrategy(),
    );
    this.member = this.members[0]!;
  }

  get name(): string {
    return this.member.name;
  }

  get param(): number {
    return this.member.param;
  }

  get divergence(): string | undefined {
    return this.member.divergence;
  }

  begin(prng: Prng): void {
    this.member = this.members[prng.below(this.members.length)]!;
    this.member.begin(prng);
  }

  pickTask(runnable: readonly Task[], current: Task | null): Task | null {
    return this.member.pickTask(runnable, current);
  }

  choose(n: number): number {
    return this.member.choose(n);
  }

  flip(p: number): number {
    return this.member.flip ? this.member.flip(p) : this.member.choose(2);
  }

  spawned(task: Task): void {
    this.member.spawned(task);
  }

  yielded(task: Task): void {
    this.member.yielded(task);
  }

  end(decisions: number): void {
    this.member.end(decisions);
  }
}

/**
 * The search: run i gets member i mod 8 with seed deriveSeed(seed, i), exactly as a search with
 * that member alone would derive it. Each PCT member is one instance for the whole search, so
 * its step estimate rises as longer runs appear (as in a plain PCT search); random and POS get a
 * fresh instance per run.
 */
function portfolioSession(o: ResolvedSearchOptions): SearchSession {
  const pct = new Map<number, PctStrategy>();
  return {
    next(index) {
      const m = CYCLE[index % CYCLE.length]!;
      let strategy: Strategy;
      if (m.kind === "pct") {
        const d = pctDepth(m, o);
        let s = pct.get(d);
        if (!s) {
          s = new PctStrategy(d);
          pct.set(d, s);
        }
        strategy = s;
      } else strategy = m.kind === "random" ? new RandomStrategy() : new PosStrategy();
      return { strategy, seed: deriveSeed(o.seed, index) };
    },
  };
}

export const PORTFOLIO: StrategyDefinition = {
  name: "portfolio",
  code: 6,
  summary:
    "interleaves PCT (the search depth and one deeper), POS and random, one member per schedule in a fixed cycle",
  searches: true,
  describe: (o) => `portfolio (pct depths ${o.depth}/${o.depth + 1}, pos, random; seed ${o.seed})`,
  create: (p) => new PortfolioStrategy(p.depth ?? 3),
  search: portfolioSession,
};
