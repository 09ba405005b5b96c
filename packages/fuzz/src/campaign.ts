/**
 * Fuzz campaigns: many runs of the fuzz workload under the PCT and random schedulers, each run
 * classified by what its oracles reported; and toggle hunts, which turn one historic-bug toggle
 * on at a time and report which ones the fuzzer finds within a budget of schedules.
 *
 * The clean baseline runs with every historic toggle off and every known upstream window's fix
 * switch on (`baselineFixes()`): it must find nothing.
 */

import { baselineFixes, listToggles, type RunResult, Simulation } from "@primetime/sim";
import { type FuzzOptions, fuzzScenario } from "./fuzz.js";
import { DIVERGENCE_PREFIX } from "./model.js";

/** What one run's oracles said, by class. */
export interface RunClass {
  /** Kernel splats other than leaks and exceptions (refcount, KASAN, lockdep, WARN, ...). */
  readonly splats: number;
  /** JS exceptions escaping a syscall or userspace (`bug` splats of unexpected exceptions). */
  readonly exceptions: number;
  /** kmemleak reports and leaked DRM device state. */
  readonly leaks: number;
  /** Userspace-visible divergences from the reference model. */
  readonly divergences: number;
  /** Deadlock, livelock, escape or replay mismatch. */
  readonly hang: boolean;
}

/** Classifies a run's splats and outcome. */
export function classifyRun(r: RunResult): RunClass {
  let splats = 0;
  let exceptions = 0;
  let leaks = 0;
  let divergences = 0;
  for (const s of r.splats) {
    if (s.message.startsWith(DIVERGENCE_PREFIX)) divergences++;
    else if (s.kind === "kmemleak" || /GEM state leaked/.test(s.message)) leaks++;
    else if (s.kind === "bug" && /exception|crash/i.test(s.message)) exceptions++;
    else splats++;
  }
  return { splats, exceptions, leaks, divergences, hang: r.outcome !== "ok" };
}

/** One run and its classification. */
export interface FuzzRunReport {
  readonly run: RunResult;
  readonly cls: RunClass;
  /** True if any oracle fired. */
  readonly failed: boolean;
}

/**
 * The schedulers a fuzz run can use: the simulation's PCT (depth 3), uniform random, POS, and the
 * portfolio (whose member, PCT/random/POS, the seed picks).
 */
export type FuzzStrategy = "pct" | "random" | "pos" | "portfolio";

/**
 * Runs the fuzz workload once with `seed` under `strategy`, with `toggles` on (default: the
 * baseline, every fix switch on).
 */
export async function fuzzOne(
  opts: FuzzOptions,
  seed: number,
  strategy: FuzzStrategy = "pct",
  toggles: readonly string[] = baselineFixes(),
): Promise<FuzzRunReport> {
  const sim = new Simulation({
    seed,
    strategy: { kind: strategy },
    toggles,
    scenario: "fuzz",
    stepLimit: 400_000,
  });
  const run = await sim.run(fuzzScenario(opts));
  const cls = classifyRun(run);
  const failed = cls.hang || cls.splats + cls.exceptions + cls.leaks + cls.divergences > 0;
  return { run, cls, failed };
}

export interface CampaignOptions {
  readonly fuzz: FuzzOptions;
  /** Number of schedules. */
  readonly schedules: number;
  /** Seed of the first schedule (default 1); schedule i uses firstSeed + i. */
  readonly firstSeed?: number;
  /** Toggles on (default: the baseline, `baselineFixes()`). */
  readonly toggles?: readonly string[];
  /**
   * The schedulers, cycled: schedule i uses strategies[i % length] (default ["pct", "random"]:
   * even schedules PCT, odd ones random).
   */
  readonly strategies?: readonly FuzzStrategy[];
  /** Stop at the first failing schedule (default false). */
  readonly stopAtFirst?: boolean;
  /** Called every `progressEvery` schedules (default 1000). */
  readonly onProgress?: (s: CampaignStats) => void;
  readonly progressEvery?: number;
}

const DEFAULT_STRATEGIES: readonly FuzzStrategy[] = ["pct", "random"];

/** A campaign's figures. */
export interface CampaignStats {
  schedules: number;
  steps: number;
  syscalls: number;
  failedSchedules: number;
  splats: number;
  exceptions: number;
  leaks: number;
  divergences: number;
  hangs: number;
  /** Tokens of the first few failing schedules, with their first splat. */
  readonly failures: { token: string; seed: number; first: string }[];
}

/** Runs a campaign (by default even schedules under PCT, odd ones under the random scheduler). */
export async function fuzzCampaign(opts: CampaignOptions): Promise<CampaignStats> {
  const st: CampaignStats = {
    schedules: 0,
    steps: 0,
    syscalls: 0,
    failedSchedules: 0,
    splats: 0,
    exceptions: 0,
    leaks: 0,
    divergences: 0,
    hangs: 0,
    failures: [],
  };
  const first = opts.firstSeed ?? 1;
  const every = opts.progressEvery ?? 1000;
  const strategies = opts.strategies ?? DEFAULT_STRATEGIES;
  if (strategies.length === 0) throw new RangeError("a campaign needs at least one strategy");
  for (let i = 0; i < opts.schedules; i++) {
    const seed = first + i;
    const r = await fuzzOne(opts.fuzz, seed, strategies[i % strategies.length]!, opts.toggles);
    st.schedules++;
    st.steps += r.run.steps;
    for (const step of r.run.trace.steps()) if (step.label.startsWith("sys_")) st.syscalls++;
    st.splats += r.cls.splats;
    st.exceptions += r.cls.exceptions;
    st.leaks += r.cls.leaks;
    st.divergences += r.cls.divergences;
    if (r.cls.hang) st.hangs++;
    if (r.failed) {
      st.failedSchedules++;
      if (st.failures.length < 10)
        st.failures.push({
          token: r.run.token,
          seed,
          first: r.run.splats[0]?.message ?? `${r.run.outcome}: ${r.run.message ?? ""}`,
        });
      if (opts.stopAtFirst) break;
    }
    if (opts.onProgress && st.schedules % every === 0) opts.onProgress(st);
  }
  return st;
}

/** The outcome of hunting one toggle. */
export interface ToggleHunt {
  readonly toggle: string;
  readonly found: boolean;
  /** Schedules run (up to and including the finding one). */
  readonly schedules: number;
  /** The first splat of the finding run, and its token. */
  readonly first?: string;
  readonly token?: string;
}

/**
 * For each toggle (default: every historic-bug toggle of the packages loaded), runs up to
 * `budget` schedules of the fuzz workload with that toggle on (and the baseline's fix switches)
 * and reports whether, and after how many schedules, an oracle fired.
 */
export async function huntToggles(
  fuzz: FuzzOptions,
  opts: {
    budget: number;
    toggles?: readonly string[];
    firstSeed?: number;
    /** The schedulers, cycled (see CampaignOptions; default ["pct", "random"]). */
    strategies?: readonly FuzzStrategy[];
  },
): Promise<ToggleHunt[]> {
  const names = opts.toggles ?? listToggles().map((t) => t.name);
  const out: ToggleHunt[] = [];
  for (const toggle of names) {
    const st = await fuzzCampaign({
      fuzz,
      schedules: opts.budget,
      firstSeed: opts.firstSeed,
      toggles: [toggle, ...baselineFixes()],
      strategies: opts.strategies,
      stopAtFirst: true,
    });
    const f = st.failures[0];
    out.push({
      toggle,
      found: f !== undefined,
      schedules: st.schedules,
      first: f?.first,
      token: f?.token,
    });
  }
  return out;
}
