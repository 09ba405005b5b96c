import { deriveSeed, type Prng } from "../../prng.js";
import type { Strategy } from "../../strategy.js";
import type { Task } from "../../task.js";
import type { ResolvedSearchOptions } from "../search-options.js";
import { PctStrategy } from "./pct.js";
import { PosStrategy } from "./pos.js";
import { RandomStrategy } from "./random.js";
import type { SearchSession, StrategyDefinition } from "./registry.js";

/**
 * A member of the portfolio. PCT's depth is "depth" (the search's `depth` option, so `--depth`
 * still steers it) or "deeper" (one more). "shallow" is uniform random while the search's runs
 * are short and POS once they are long (see SHORT_RUN).
 */
type Member =
  | { readonly kind: "pct"; readonly depth: "depth" | "deeper" }
  | { readonly kind: "pos" }
  | { readonly kind: "shallow" };

/**
 * A run that has made at most this many scheduling decisions (steps with more than one runnable
 * task, plus data choices) is short. On short runs a uniform random walk is the best sampler:
 * kref.rst's examples make 4-11 decisions and random finds their unlocked-lookup race in a
 * median of 3 schedules where POS and PCT need 5.5-14. On the DRM races (200-800 decisions) it
 * misses five of the eight toggles in 1,000 schedules with most seeds, which PCT and POS find
 * in tens to hundreds.
 */
export const SHORT_RUN = 64;

/**
 * The fixed cycle: schedule i of a search runs member i mod 8.
 *
 * PCT one deeper than the search depth runs 3 schedules in 8, PCT at the depth 1, POS 1, and the
 * "shallow" member 3 (random on short runs, POS on long ones). So on the DRM races the cycle is
 * PCT 4/8 and POS 4/8, and on short runs PCT 4/8, random 3/8 and POS 1/8. Schedule 0 is PCT's
 * first run, which knows nothing of the run length: its single change point is the first
 * decision, which preempts the first task at once (it finds kref.rst's handoff race in one
 * schedule; nothing else does). Every PCT member's first run after that starts from the longest
 * run the search has seen instead of from nothing, so it does not waste a schedule.
 *
 * Measured over base seeds 1-20 (`pnpm --filter @primetime/vgem bench`, figures in the sim
 * README): the median schedules to the first detection stays within 2x of the best single
 * strategy's (random, PCT at depth 2, 3 or 4, POS) for every toggle and buggy kref.rst example
 * but gem.flink-no-handle-count-check (2.22x since lock releases stopped being scheduling
 * points). Each member is far behind another somewhere: POS needs 1.8x PCT depth 4's schedules on
 * `gem.handle-id-reused-before-release`, PCT depth 3 about 4x POS's on
 * `gem.open-drops-name-lock`, and both 2-5x random's on the kref.rst lookup race.
 */
const CYCLE: readonly Member[] = Object.freeze([
  { kind: "pct", depth: "deeper" },
  { kind: "shallow" },
  { kind: "pct", depth: "deeper" },
  { kind: "shallow" },
  { kind: "shallow" },
  { kind: "pct", depth: "deeper" },
  { kind: "pct", depth: "depth" },
  { kind: "pos" },
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
 * every decision is the member's; with no earlier run to tell the run length, "shallow" is
 * random. Replay tokens record the member that decided ("pct" with its depth, "random", "pos"),
 * since that is what produced the choices.
 */
export class PortfolioStrategy implements Strategy {
  private member: Strategy;
  private readonly members: Strategy[];

  constructor(readonly depth = 3) {
    this.members = CYCLE.map((m) =>
      m.kind === "pct"
        ? new PctStrategy(pctDepth(m, { depth }))
        : m.kind === "shallow"
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
 * its step estimate rises as its runs get longer (as in a plain PCT search); its first run
 * starts from the most decisions any earlier run of the search made. Random and POS get a fresh
 * instance per run.
 */
function portfolioSession(o: ResolvedSearchOptions): SearchSession {
  const pct = new Map<number, PctStrategy>();
  // The most scheduling decisions (trace choices) any run of the search has made so far.
  let longest = 0;
  return {
    next(index) {
      const m = CYCLE[index % CYCLE.length]!;
      let strategy: Strategy;
      if (m.kind === "pct") {
        const d = pctDepth(m, o);
        let s = pct.get(d);
        if (!s) {
          s = new PctStrategy(d, longest);
          pct.set(d, s);
        }
        strategy = s;
      } else if (m.kind === "shallow" && longest <= SHORT_RUN) strategy = new RandomStrategy();
      else strategy = new PosStrategy();
      return { strategy, seed: deriveSeed(o.seed, index) };
    },
    ended(_step, r) {
      if (r.trace.choiceCount > longest) longest = r.trace.choiceCount;
    },
  };
}

export const PORTFOLIO: StrategyDefinition = {
  name: "portfolio",
  code: 6,
  summary:
    "the default: PCT (one deeper than the search depth, and the depth), POS and random, one member per schedule in a fixed cycle",
  searches: true,
  describe: (o) => `portfolio (pct depths ${o.depth + 1}/${o.depth}, pos, random; seed ${o.seed})`,
  create: (p) => new PortfolioStrategy(p.depth ?? 3),
  search: portfolioSession,
};
