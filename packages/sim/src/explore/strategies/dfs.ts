import type { Strategy } from "../../strategy.js";
import type { Task } from "../../task.js";
import type { SearchSession, StrategyDefinition } from "./registry.js";

/** One decision of a DFS run: what could have been chosen, and what was. */
export interface DfsNode {
  /** Task ids (schedule decision) or values 0..n-1 (data choice). */
  readonly alternatives: readonly number[];
  chosen: number;
  /** Alternatives already explored from this node (including `chosen`). */
  readonly tried: Set<number>;
  /** The task that was running and could go on (choosing another preempts it), or -1. */
  readonly running: number;
  /** Preemptions spent before this decision. */
  readonly preemptionsBefore: number;
}

/**
 * Preemption-bounded depth-first search over schedules (CHESS's iterative context bounding,
 * shuttle's and loom's DFS without partial-order reduction). One instance drives one run: it
 * follows `prefix`, then runs without preempting (the running task goes on while it can, else the
 * lowest task id). The explorer (`explore()`) backtracks over the recorded nodes to build the
 * next prefix, so every schedule with at most `param` preemptions is run exactly once.
 */
export class DfsStrategy implements Strategy {
  readonly name = "dfs";
  readonly nodes: DfsNode[] = [];
  private preemptions = 0;
  divergence?: string;

  constructor(
    readonly param: number,
    private readonly prefix: readonly number[] = [],
  ) {
    if (!Number.isInteger(param) || param < 0)
      throw new RangeError(`DFS preemption bound must be an integer >= 0, got ${param}`);
  }

  begin(): void {
    this.nodes.length = 0;
    this.preemptions = 0;
  }

  pickTask(runnable: readonly Task[], current: Task | null): Task | null {
    const i = this.nodes.length;
    const running = current && current.state === "runnable" ? current.id : -1;
    let chosen: number;
    if (i < this.prefix.length) chosen = this.prefix[i]!;
    else chosen = running >= 0 ? running : runnable[0]!.id;
    const task = runnable.find((t) => t.id === chosen);
    if (!task) {
      this.divergence = `DFS prefix choice #${i} (task ${chosen}) is not runnable: the scenario is not deterministic`;
      return null;
    }
    this.nodes.push({
      alternatives: runnable.map((t) => t.id),
      chosen,
      tried: new Set([chosen]),
      running,
      preemptionsBefore: this.preemptions,
    });
    if (running >= 0 && chosen !== running) this.preemptions++;
    return task;
  }

  choose(n: number): number {
    const i = this.nodes.length;
    const chosen = i < this.prefix.length ? this.prefix[i]! : 0;
    if (chosen >= n) {
      this.divergence = `DFS prefix choice #${i} (${chosen}) is out of range ${n}: the scenario is not deterministic`;
      return -1;
    }
    this.nodes.push({
      alternatives: Array.from({ length: n }, (_, v) => v),
      chosen,
      tried: new Set([chosen]),
      running: -1,
      preemptionsBefore: this.preemptions,
    });
    return chosen;
  }

  spawned(): void {}
  yielded(): void {}
  end(): void {}
}

/**
 * Given the nodes of the tree explored so far (the last run's path, with `tried` sets carried
 * over), returns the next prefix to run within the preemption bound, or null when every schedule
 * within the bound has been run. Mutates `path` (marks the alternative as tried, truncates).
 */
export function nextDfsPrefix(path: DfsNode[], bound: number): number[] | null {
  while (path.length > 0) {
    const j = path.length - 1;
    const node = path[j]!;
    for (const alt of node.alternatives) {
      if (node.tried.has(alt)) continue;
      const cost = node.running >= 0 && alt !== node.running ? 1 : 0;
      if (node.preemptionsBefore + cost > bound) continue;
      node.tried.add(alt);
      node.chosen = alt;
      return path.map((n) => n.chosen);
    }
    path.pop();
  }
  return null;
}

/**
 * The DFS search: run 0 follows no prefix; after each run the recorded nodes join the explored
 * path and nextDfsPrefix() picks the next unexplored alternative within the bound. When there is
 * none, every schedule within the bound has been run: the search is complete.
 */
function dfsSession(bound: number, seed: number): SearchSession {
  const path: DfsNode[] = [];
  let prefix: number[] | null = [];
  return {
    next() {
      return prefix === null ? null : { strategy: new DfsStrategy(bound, prefix), seed };
    },
    ended(step) {
      const strategy = step.strategy as DfsStrategy;
      const fixed = prefix!.length;
      path.length = Math.min(path.length, fixed);
      for (let i = fixed; i < strategy.nodes.length; i++) path.push(strategy.nodes[i]!);
      prefix = nextDfsPrefix(path, bound);
    },
    get complete() {
      return prefix === null;
    },
  };
}

export const DFS: StrategyDefinition = {
  name: "dfs",
  code: 2,
  summary:
    "exhaustive preemption-bounded depth-first search (every schedule with at most b preemptions)",
  searches: true,
  describe: (o) => `dfs (preemption bound ${o.preemptionBound})`,
  create: (p) => new DfsStrategy(p.preemptionBound ?? 2, p.prefix),
  search: (o) => dfsSession(o.preemptionBound, o.seed),
};
