/**
 * What the CLI's definition needs before any command runs: exit codes, the usage error, and the
 * defaults its help text quotes. This module loads no model, driver or scenario, so that
 * `primetime-stress --help` starts fast; the modules that use these values re-export them.
 */
import { SEARCH_DEFAULTS } from "@primetime/sim/explore";
import type { DemoOptions } from "./demo.js";

/** Exit codes. */
export const EXIT = { clean: 0, findings: 1, usage: 2, internal: 3 } as const;

/** Bad input: one line saying what is accepted. */
export class UsageError extends Error {}

/**
 * An output file (`--json`, `--report`) that could not be written once the results were there
 * (a full disk, a directory removed meanwhile): one line, exit EXIT.internal, not a stack trace
 * blamed on the harness. The results were printed before it.
 */
export class OutputError extends Error {}

/** At most 40 characters of what the user typed, for error messages. */
export function short(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

export const ACCEPTED_STRATEGIES = `portfolio[:depth] (PCT at depth+1 and depth, POS and random in a fixed cycle; depth as pct's), random, pos, pct[:depth] (1 <= depth <= 9999, default ${SEARCH_DEFAULTS.depth}), dfs[:bound] (preemption bound 0-9999, default ${SEARCH_DEFAULTS.preemptionBound})`;

/**
 * `run`'s defaults. The strategy is the portfolio (in its campaign flavour), as the engine's
 * default: over base seeds 1-10 it found every toggle with every seed, in 0.80x pct:3's
 * schedules (geometric mean of the medians), with a worst case of 496 schedules against pct:3's
 * 684 (README, Benchmark).
 */
export const CAMPAIGN_DEFAULTS = {
  seeds: 200,
  seed: 1,
  stepLimit: 200_000,
  strategy: "portfolio",
} as const;

/**
 * The fewest schedules for which `run`'s default uses every core. Every thread is a V8 instance
 * of its own that compiles the models again (3-5 s of CPU, on cores the schedules need while
 * every thread runs), which one thread compiles on an idle core. Measured on 2 cores, quiet, each
 * run a fresh process (README, `run`'s --workers): 2 threads broke even with 1 at 10,000 schedules
 * of every scenario (x1.0; the sharing scenarios: x1.1-1.2) and lost below (every scenario at
 * 5,000: 7.2 s against 6.8; mmap-vs-close at 5,100: 3.2 s against 2.6). With more cores the
 * compilation is spread wider, so more threads break even sooner: 2 cores are the worst case.
 */
export const SCHEDULES_FOR_WORKERS = 10_000;
/** The shortest --time for which `run`'s default uses every core (each thread runs all of it). */
export const TIME_FOR_WORKERS_MS = 10_000;

/** `bugs` budgets: schedules per toggle (it stops at the first finding) and per baseline unit. */
export const BUGS_DEFAULTS = { seeds: 2000, baselineSeeds: 300 } as const;

/**
 * A hunt's budget when none is given: PCT depth 3, seed 1, 2000 schedules (at least the
 * toggle's TOGGLE_CASES budget). With seed 1 every toggle is found within 101 schedules; other
 * seeds can need several hundred (gem.open-drops-name-lock: 391 with seed 3, 1004 with seed 13),
 * and the search with every toggle off runs the whole budget, so a larger one is a stronger
 * check. 2000 schedules of a conformance case take about a second.
 */
export const HUNT_DEFAULTS = {
  schedules: 2000,
  depth: SEARCH_DEFAULTS.depth,
  seed: SEARCH_DEFAULTS.seed,
};

export const DEMO_DEFAULTS: Readonly<DemoOptions> = {
  seed: 1,
  schedules: 300,
  depth: 3,
  bound: 3,
  dfsSchedules: 20_000,
  huntSchedules: HUNT_DEFAULTS.schedules,
};
