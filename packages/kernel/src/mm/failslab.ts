/**
 * Fault injection: failslab and fail-nth (lib/fault-inject.c, mm/failslab.c,
 * Documentation/fault-injection/fault-injection.rst).
 *
 * Every kmalloc() and every other call marked fallible with `shouldFail(what)` is a *fallible
 * call*. They are numbered from 1 in each simulation. `failNth: N` fails exactly the N-th one
 * (then nothing more), like writing N to /proc/self/task/<tid>/fail-nth, so running a scenario
 * with N = 1, 2, ... until N exceeds `allocationCount()` enumerates every allocation failure the
 * scenario can meet. `probability: p` fails each fallible call with probability p, drawn with
 * the simulation's recorded `flip()` (replayable; under the `dfs` strategy both outcomes are
 * explored).
 *
 * Simplifications: fail-nth counts per simulation, not per task; the `caches` filter (the
 * kernel's cache_filter with SLAB_FAILSLAB) names the caches, or the `what` of shouldFail()
 * calls, that are eligible; ineligible calls are neither counted nor failed. No interval, times,
 * space or stack-trace filters. An injected failure is not a splat (it is not a bug): it is
 * listed by `injectedFailures()`.
 */

import {
  activeSimulation,
  here,
  Prng,
  type RunResult,
  SimLocal,
  Simulation,
  type SimulationOptions,
  type Site,
} from "@primetime/sim";

export interface FailslabOptions {
  /** Fail each eligible call with this probability (0..1). */
  probability?: number;
  /** Fail exactly the N-th eligible call of the simulation (counted from 1). */
  failNth?: number;
  /** Only these cache names (or shouldFail() names) are eligible. Default: all. */
  caches?: readonly string[];
}

/** One injected failure. */
export interface InjectedFailure {
  /** Its number among the eligible calls (1-based). */
  readonly nth: number;
  /** The cache name or shouldFail() name. */
  readonly what: string;
  readonly site: Site;
}

interface FailslabState {
  config: FailslabOptions;
  count: number;
  readonly injected: InjectedFailure[];
}

/** The configuration new simulations start with (set by setFailslab() outside a simulation). */
let defaults: FailslabOptions = {};

const STATE = new SimLocal<FailslabState>(() => ({
  config: defaults,
  count: 0,
  injected: [],
}));

/** Draws for probability injection outside a simulation: seeded, so still deterministic. */
const outsidePrng = new Prng(1);

function validate(opts: FailslabOptions): FailslabOptions {
  const p = opts.probability;
  if (p !== undefined && !(p >= 0 && p <= 1))
    throw new RangeError(`failslab probability must be in [0, 1], got ${p}`);
  const n = opts.failNth;
  if (n !== undefined && !(Number.isInteger(n) && n >= 0))
    throw new RangeError(`failNth must be a non-negative integer, got ${n}`);
  return { ...opts, caches: opts.caches ? [...opts.caches] : undefined };
}

/**
 * Configures fault injection. Inside a running simulation it applies to that simulation from
 * now on (the count of fallible calls goes on). Outside one it sets the default for every
 * simulation started afterwards, and for kernel code used outside simulations. `{}` (or null)
 * turns injection off.
 */
export function setFailslab(opts: FailslabOptions | null): void {
  const cfg = validate(opts ?? {});
  if (activeSimulation() === null) defaults = cfg;
  STATE.get().config = cfg;
}

/** The number of eligible fallible calls so far in the running simulation. */
export function allocationCount(): number {
  return STATE.get().count;
}

/** The failures injected so far in the running simulation. */
export function injectedFailures(): readonly InjectedFailure[] {
  return STATE.get().injected;
}

/**
 * Models should_fail() / should_fail_ex() (lib/fault-inject.c) as should_failslab() calls it, for
 * a fallible call named `what` (a cache name for allocations): counts the call if it is eligible
 * (the cache filter comes first, as in should_failslab()) and decides whether it fails. Fail-nth
 * comes before the probability: up to the N-th call only fail-nth decides; after it the
 * probability applies. Kernel code marks its own fallible
 * calls with it (`if (shouldFail("idr_alloc")) return -ENOMEM;`), so fail-nth enumerates their
 * failures too.
 * Locking: none; no scheduling point.
 */
export function shouldFail(what: string): boolean {
  const st = STATE.get();
  const cfg = st.config;
  if (cfg.caches && !cfg.caches.includes(what)) return false;
  const n = ++st.count;
  let fail = false;
  if (cfg.failNth !== undefined && n <= cfg.failNth) {
    // should_fail_ex(): while current->fail_nth is set, it alone decides (the N-th call fails,
    // the ones before it do not) and the probability is not consulted.
    fail = n === cfg.failNth;
  } else if (cfg.probability !== undefined && cfg.probability > 0) {
    const sim = activeSimulation();
    fail = sim
      ? sim.flip(cfg.probability, `failslab(${what})`)
      : outsidePrng.below(0x40000000) < cfg.probability * 0x40000000;
  }
  if (fail) st.injected.push({ nth: n, what, site: here(`${what} fails (fault injection)`) });
  return fail;
}

/** One run of enumerateFailNth(). */
export interface FailNthRun {
  /** The N of fail-nth for this run. */
  readonly nth: number;
  /** The failure injected, or null: the run made fewer than N fallible calls. */
  readonly injected: InjectedFailure | null;
  /** Fallible calls the run made. */
  readonly calls: number;
  readonly result: RunResult;
}

/**
 * Systematic error-path enumeration (the kernel's fail-nth loop, as syzkaller runs it): runs
 * `scenario` in a fresh simulation with fail-nth N = 1, 2, ..., until a run makes fewer than N
 * fallible calls; that last run, which injected nothing, is included (N = calls + 1). The
 * scenario is responsible for its own oracles: quiesce and kmemleakScan() at its end, for
 * instance; the splats are in each run's result.
 *
 * @param opts simulation options for every run (seed, strategy...), `caches` to restrict the
 *   fallible calls, and `maxRuns` (default 1000) as a bound for scenarios whose number of
 *   fallible calls grows with N.
 */
export async function enumerateFailNth(
  scenario: (sim: Simulation) => Promise<void> | void,
  opts: SimulationOptions & { caches?: readonly string[]; maxRuns?: number } = {},
): Promise<FailNthRun[]> {
  const { caches, maxRuns = 1000, ...simOpts } = opts;
  const runs: FailNthRun[] = [];
  for (let nth = 1; nth <= maxRuns; nth++) {
    let injected: InjectedFailure | null = null;
    let calls = 0;
    const sim = new Simulation(simOpts);
    sim.onEnd(() => {
      const st = STATE.get(sim);
      injected = st.injected.find((f) => f.nth === nth) ?? null;
      calls = st.count;
    });
    const result = await sim.run(async (s) => {
      setFailslab({ failNth: nth, caches });
      await scenario(s);
    });
    runs.push({ nth, injected, calls, result });
    if (injected === null) break;
  }
  return runs;
}
