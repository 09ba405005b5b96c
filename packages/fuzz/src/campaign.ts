/**
 * Fuzz campaigns: many runs of the fuzz workload under the PCT and random schedulers, each run
 * classified by what its oracles reported; and toggle hunts, which turn one historic-bug toggle
 * on at a time and report which ones the fuzzer finds within a budget of schedules.
 *
 * The clean baseline runs with every historic toggle off and every known upstream window's fix
 * switch on (`baselineFixes()`): it must find nothing.
 */

import { baselineFixes, deriveSeed, listToggles, type RunResult, Simulation } from "@primetime/sim";
import { decodeToken, replay } from "@primetime/sim/explore";
import { RaceFeedback } from "./feedback.js";
import { type FuzzOptions, type FuzzProcessPlan, fuzzScenario, maxSize } from "./fuzz.js";
import { DIVERGENCE_PREFIX } from "./model.js";
import {
  drmReadFromScenarioName,
  kmsFromScenarioName,
  leasesFromScenarioName,
  mastersFromScenarioName,
  oobFromScenarioName,
  planFromScenarioName,
  planScenarioName,
  privateFromScenarioName,
  socketsFromScenarioName,
  vmwVramFromScenarioName,
} from "./plan.js";
import type { SyscallLogEntry } from "./syscall-log.js";

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
    scenario: planScenarioName(
      opts.plan,
      opts.sockets,
      opts.private && opts.vmwVram ? "vram" : opts.private,
      opts.kms,
      opts.drmRead,
      opts.oob,
      opts.masters,
      opts.leases,
    ),
    stepLimit: 400_000,
  });
  const run = await sim.run(fuzzScenario(opts));
  const cls = classifyRun(run);
  const failed = cls.hang || cls.splats + cls.exceptions + cls.leaks + cls.divergences > 0;
  return { run, cls, failed };
}

/**
 * Replays a fuzz run from its token alone: a run of a feedback-driven campaign records its
 * processes' plans in its scenario name (plan.ts), which rebuilds the scenario. `toggles` must
 * be the run's (default: the baseline's).
 */
export function fuzzReplay(
  opts: FuzzOptions,
  token: string,
  toggles: readonly string[] = baselineFixes(),
): Promise<RunResult> {
  const scenario = decodeToken(token).scenario;
  const plan = planFromScenarioName(scenario);
  const sockets = socketsFromScenarioName(scenario) || opts.sockets;
  const priv = privateFromScenarioName(scenario) || opts.private;
  const kms = kmsFromScenarioName(scenario) || opts.kms;
  const drmRead = drmReadFromScenarioName(scenario) || opts.drmRead;
  const oob = oobFromScenarioName(scenario) || opts.oob;
  const masters = mastersFromScenarioName(scenario) || opts.masters;
  const vmwVram = vmwVramFromScenarioName(scenario) || opts.vmwVram;
  const leases = leasesFromScenarioName(scenario) || opts.leases;
  return replay(
    token,
    fuzzScenario({
      ...opts,
      plan: plan ?? opts.plan,
      sockets,
      private: priv,
      kms,
      drmRead,
      oob,
      masters,
      vmwVram,
      leases,
    }),
    { toggles },
  );
}

/**
 * The sizes the stress app's fuzz scenario draws from its seed (inclusive ranges, drawn in this
 * order): a stress token of the fuzz scenario (`fuzz@a+b`) replays with these.
 */
export const STRESS_FUZZ_SIZES = {
  processes: [2, 3],
  threads: [1, 3],
  ops: [4, 12],
} as const;

/**
 * The swarm plan of the stress app's `fuzz-fd-reuse` scenario, as plan.ts writes plans: every
 * process races at weight 30, pairing close() of its card fd with GEM_CLOSE through that number
 * and a child process's opens (the plan under which the fuzzer finds `fs.fget-no-recheck`).
 */
export const STRESS_FD_REUSE_PLAN = "30:close-drm+gem-close+child-open";

/** What a token of one of the stress app's fuzz scenarios replays with (stressFuzzUnit()). */
export interface StressFuzzUnit {
  /** The stress scenario: `fuzz`, `fuzz-private`, `fuzz-kms` or `fuzz-fd-reuse`. */
  readonly scenario: string;
  /** The unit's drivers by name, in order (`fuzz@qxl+vgem`: qxl, vgem). */
  readonly drivers: readonly string[];
  /** The workload options the scenario adds to the drivers: its sizes and its plan. */
  readonly options: Pick<FuzzOptions, "processes" | "threads" | "ops" | "plan" | "private" | "kms">;
}

/**
 * The stress unit a token's scenario name records, for the stress app's fuzz scenarios: `fuzz@a+b`
 * draws its sizes as STRESS_FUZZ_SIZES; `fuzz-private@a+b` too, with the drivers' private
 * ioctls (FuzzOptions.private); `fuzz-kms@a+b` too, with KMS framebuffers (FuzzOptions.kms);
 * `fuzz-fd-reuse@d` runs the default sizes with every process on
 * STRESS_FD_REUSE_PLAN. Null for any other name.
 */
export function stressFuzzUnit(scenario: string): StressFuzzUnit | null {
  const m = /^(fuzz|fuzz-fd-reuse|fuzz-private|fuzz-kms)@([^@\s]+)$/.exec(scenario);
  if (!m) return null;
  const drivers = m[2]!.split("+");
  if (m[1] === "fuzz") return { scenario: "fuzz", drivers, options: { ...STRESS_FUZZ_SIZES } };
  if (m[1] === "fuzz-private")
    return { scenario: "fuzz-private", drivers, options: { ...STRESS_FUZZ_SIZES, private: true } };
  if (m[1] === "fuzz-kms")
    return { scenario: "fuzz-kms", drivers, options: { ...STRESS_FUZZ_SIZES, kms: true } };
  return {
    scenario: "fuzz-fd-reuse",
    drivers,
    options: { plan: planFromScenarioName(`fuzz plan=${STRESS_FD_REUSE_PLAN}`) },
  };
}

/**
 * One fuzz run with its syscall log (syscall-log.ts): `{ seed, strategy }` runs the seed (as
 * fuzzOne() does, baseline toggles by default); `{ token }` replays a token of this package
 * (its plan from the scenario name) or of the stress app's fuzz scenarios (`fuzz@a+b`,
 * `fuzz-fd-reuse@d`: their sizes and plan, stressFuzzUnit(); `opts.drivers` must be the
 * unit's), with the toggles the token recorded.
 */
export async function fuzzLog(
  opts: FuzzOptions,
  run: { seed: number; strategy?: FuzzStrategy; toggles?: readonly string[] } | { token: string },
): Promise<{ run: RunResult; cls: RunClass; log: SyscallLogEntry[] }> {
  const log: SyscallLogEntry[] = [];
  let r: RunResult;
  if ("token" in run) {
    const t = decodeToken(run.token);
    const unit = stressFuzzUnit(t.scenario);
    const fuzz: FuzzOptions = {
      ...opts,
      ...unit?.options,
      plan: unit?.options.plan ?? planFromScenarioName(t.scenario) ?? opts.plan,
      sockets: socketsFromScenarioName(t.scenario) || opts.sockets,
      private: unit?.options.private || privateFromScenarioName(t.scenario) || opts.private,
      kms: unit?.options.kms || kmsFromScenarioName(t.scenario) || opts.kms,
      drmRead: drmReadFromScenarioName(t.scenario) || opts.drmRead,
      oob: oobFromScenarioName(t.scenario) || opts.oob,
      masters: mastersFromScenarioName(t.scenario) || opts.masters,
      vmwVram: vmwVramFromScenarioName(t.scenario) || opts.vmwVram,
      leases: leasesFromScenarioName(t.scenario) || opts.leases,
      syscallLog: log,
    };
    r = await replay(run.token, fuzzScenario(fuzz), { toggles: t.toggles });
  } else {
    r = (await fuzzOne({ ...opts, syscallLog: log }, run.seed, run.strategy, run.toggles)).run;
  }
  return { run: r, cls: classifyRun(r), log };
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
  /**
   * Feedback-driven race pairs (feedback.ts): the campaign chooses each process's swarm plan,
   * concentrating races on the pairs of operations that recently produced new interleavings
   * (default false: each run draws its plan from its seed, as the stress app's scenario does).
   */
  readonly feedback?: boolean;
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
  /** Interleaving edges seen (feedback campaigns only: see feedback.ts). */
  coverage: number;
  /**
   * Tokens of the first few failing schedules, with their first splat (and, in a feedback
   * campaign, the plan, which the token's scenario name also records: `fuzzReplay()`).
   */
  readonly failures: {
    token: string;
    seed: number;
    first: string;
    plan?: readonly FuzzProcessPlan[];
  }[];
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
    coverage: 0,
    failures: [],
  };
  const first = opts.firstSeed ?? 1;
  const every = opts.progressEvery ?? 1000;
  const strategies = opts.strategies ?? DEFAULT_STRATEGIES;
  if (strategies.length === 0) throw new RangeError("a campaign needs at least one strategy");
  const fb = opts.feedback ? new RaceFeedback(deriveSeed(first, 0xfeed)) : null;
  const nProc = maxSize(opts.fuzz.processes ?? 3);
  for (let i = 0; i < opts.schedules; i++) {
    const seed = first + i;
    const plan = fb ? fb.plan(nProc) : opts.fuzz.plan;
    const fuzz = plan === opts.fuzz.plan ? opts.fuzz : { ...opts.fuzz, plan };
    const r = await fuzzOne(fuzz, seed, strategies[i % strategies.length]!, opts.toggles);
    if (fb) {
      fb.record(plan!, r.run);
      st.coverage = fb.coverage;
    }
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
          plan,
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
    /** Feedback-driven race pairs (see CampaignOptions; default false). */
    feedback?: boolean;
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
      feedback: opts.feedback ?? false,
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
