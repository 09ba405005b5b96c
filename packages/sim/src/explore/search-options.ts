/**
 * The one set of search options, and its one set of defaults, used by `explore()`, the
 * conformance harness (`CaseRunOptions` is this type) and the stress harness. A strategy reads
 * the fields it needs (PCT its depth, DFS its preemption bound) and ignores the others.
 */

export interface SearchOptions {
  /** A registered strategy name (listStrategies()): "portfolio", "pct", "random", "dfs", "pos". */
  strategy?: string;
  /** Schedules to run at most. */
  schedules?: number;
  /** Base seed; run i of a sampling strategy uses a seed derived from it. */
  seed?: number;
  /** PCT: the bug depth targeted (d - 1 priority change points). */
  depth?: number;
  /** DFS: the most preemptions a schedule may have. */
  preemptionBound?: number;
  /** Steps after which a run stops as a possible livelock. */
  stepLimit?: number;
  /** Historic-bug toggles turned on in every run (and recorded in the tokens). */
  toggles?: readonly string[];
  /** Stop at the first failing schedule. */
  stopOnFailure?: boolean;
}

/** Every option with its value: SEARCH_DEFAULTS under what was given. */
export type ResolvedSearchOptions = Required<SearchOptions>;

/** The defaults, the same for every caller. */
export const SEARCH_DEFAULTS: Readonly<ResolvedSearchOptions> = Object.freeze({
  strategy: "portfolio",
  schedules: 1000,
  seed: 1,
  depth: 3,
  preemptionBound: 2,
  stepLimit: 200_000,
  toggles: [],
  stopOnFailure: true,
});

/**
 * Fills in the defaults (an `undefined` field counts as absent) and checks the numbers: a bad
 * value is a RangeError naming the option.
 */
export function resolveSearchOptions(
  ...layers: (SearchOptions | undefined)[]
): ResolvedSearchOptions {
  const out: Record<string, unknown> = { ...SEARCH_DEFAULTS };
  for (const l of layers) {
    if (!l) continue;
    for (const [k, v] of Object.entries(l)) if (v !== undefined && k in SEARCH_DEFAULTS) out[k] = v;
  }
  const o = out as ResolvedSearchOptions;
  const positive = (name: keyof SearchOptions, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min)
      throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  positive("schedules", o.schedules, 1);
  positive("depth", o.depth, 1);
  positive("preemptionBound", o.preemptionBound, 0);
  positive("stepLimit", o.stepLimit, 1);
  if (!Number.isInteger(o.seed)) throw new RangeError(`seed must be an integer, got ${o.seed}`);
  return o;
}
