/**
 * The campaign benchmark (`pnpm --filter @primetime/stress bench`), a benchmark and not a test:
 *
 * 1. schedules/s of every campaign scenario on every driver (pair), on one worker, after
 *    BENCH_RATE_WARMUP (default 200) untimed schedules of every unit (the cold pass's rate per
 *    CPU second is printed beside it), each scenario in a child process of its own (rate-run.mjs),
 *    as `run --scenario <name>` runs it, on the code the CLI runs: the built code when the build
 *    is current, else the sources (BENCH_RATE_FROM);
 * 2. for every toggle a scenario finds and every buggy kref.rst example: schedules and seconds to
 *    the first detection under each strategy (the portfolio, random, POS, PCT at depths 2-4,
 *    DFS), median and max over BENCH_SEEDS base seeds (default 20), at most BENCH_BUDGET
 *    schedules each (default 2000; BENCH_RANDOM_BUDGET for random; a miss counts as the budget),
 *    and the portfolio's median over the best single strategy's (dfs aside); dfs is one
 *    deterministic run; BENCH_TOGGLES (names) and BENCH_STRATEGIES (comma-separated) pick rows
 *    and strategies;
 * 3. the speed-up of 2 worker threads over 1 on the sharing scenarios, each run a fresh process
 *    (workers-run.mjs; start-up included), median over BENCH_SPEEDUP_ROUNDS alternated rounds,
 *    then on a campaign BENCH_SPEEDUP_LONG schedules per unit long, and where the speed-up goes
 *    with the campaign's length.
 *
 * The last line is one JSON object with every figure.
 */

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { baselineFixes } from "@primetime/sim";
import { applyCampaignV8Flags } from "@primetime/sim/explore";
import { planBugs } from "../src/campaign/bugs-matrix.js";
import type { CampaignConfig, SearchOptions } from "../src/campaign/config.js";
import { formatStrategy } from "../src/campaign/config.js";
import { CAMPAIGN_SCENARIOS } from "../src/campaign/registry.js";
import { runCampaign } from "../src/campaign/runner.js";
import { planUnits } from "../src/campaign/units.js";
import { installedDrivers } from "../src/drivers.js";
import { toggleTable } from "../src/toggles.js";

// Same schedules, faster searches (see SEARCH_V8_FLAGS and CAMPAIGN_V8_FLAGS), as a campaign
// sets them (runCampaign); V8 flags are process-wide.
applyCampaignV8Flags();

const SEEDS = Number(process.env.BENCH_SEEDS ?? 20);
const BUDGET = Number(process.env.BENCH_BUDGET ?? 2000);
/** Random's budget (default BUDGET): it misses the deep races, and a miss costs the whole budget. */
const RANDOM_BUDGET = Number(process.env.BENCH_RANDOM_BUDGET ?? BUDGET);
const RATE_SCHEDULES = Number(process.env.BENCH_RATE_SCHEDULES ?? 200);
/** Untimed schedules of every unit before the rate part times any (BENCH_RATE_WARMUP). */
const RATE_WARMUP = Number(process.env.BENCH_RATE_WARMUP ?? 200);
/** Which parts run: `rate`, `detection`, `speedup` (comma-separated; default all). */
const PARTS = new Set((process.env.BENCH_PARTS ?? "rate,detection,speedup").split(","));
const drivers = installedDrivers().map((d) => d.name);

const base: Omit<
  CampaignConfig,
  "scenarios" | "strategy" | "seeds" | "seed" | "bugs" | "failFast"
> = {
  drivers,
  fixes: baselineFixes(),
  timeMs: null,
  faults: null,
  shard: null,
  stepLimit: 200_000,
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

// 1. schedules/s per unit on one worker: wall clock, and per second of this process's CPU time
// (the figure that does not depend on what else the machine runs).
const rates: Record<string, number> = {};
const cpuRates: Record<string, number> = {};
/** The warm-up pass's schedules per CPU second (cold JIT), per unit. */
const coldCpuRates: Record<string, number> = {};
/**
 * Which code the child processes of the rate and speed-up parts run, like the bin: the compiled
 * code when the build is current (`built`), else the sources (`sources`); the environment
 * variable `name` (BENCH_RATE_FROM, BENCH_SPEEDUP_FROM = built|sources) forces one.
 */
async function codeFrom(name: string): Promise<string> {
  const forced = process.env[name];
  if (forced !== undefined) return forced;
  const { staleBuild } = (await import(
    new URL("../bin/stale-build.mjs", import.meta.url).href
  )) as {
    staleBuild: (dir: string) => string | null;
  };
  const appDir = fileURLToPath(new URL("..", import.meta.url));
  return existsSync(new URL("../dist/cli.js", import.meta.url)) && staleBuild(appDir) === null
    ? "built"
    : "sources";
}

/**
 * The arguments that start a bench child on `from`: the built run is plain node (every
 * @primetime package resolves to its dist/); the sources run through tsx with the source
 * condition, as this bench does.
 */
function childArgsFor(from: string): string[] {
  return from === "built" ? [] : process.execArgv;
}

let rateFrom = "";
if (PARTS.has("rate")) {
  // In a child process running the code the CLI runs (rate-run.mjs): the built code when the
  // build is current, as `primetime-stress run` does, else the sources through tsx.
  rateFrom = await codeFrom("BENCH_RATE_FROM");
  const scenarios = CAMPAIGN_SCENARIOS.filter((s) => s.arity > 0).map((s) => s.name);
  const child = fileURLToPath(new URL("./rate-run.mjs", import.meta.url));
  // One process per scenario, as `run --scenario <name>` runs it: V8 then optimizes the code for
  // that scenario's units alone (in one process for every scenario, the models' shared code
  // meets every scenario's objects and reads 10-20 % slower on the heavier units).
  let out = "";
  for (const scenario of scenarios)
    out += await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          ...childArgsFor(rateFrom),
          child,
          scenario,
          String(RATE_WARMUP),
          String(RATE_SCHEDULES),
          rateFrom,
        ],
        { maxBuffer: 1 << 24 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
  console.log(
    `schedules/s on one worker (pct:3, ${RATE_SCHEDULES} schedules per unit, after ${RATE_WARMUP} untimed schedules of every unit; each scenario in a process of its own; ${rateFrom === "built" ? "the built code, as the CLI runs it when the build is current" : "the sources through tsx"}):`,
  );
  for (const line of out.trim().split("\n")) {
    const r = JSON.parse(line) as {
      unit: string;
      rate: number;
      cpuRate: number;
      coldCpuRate: number;
      steps: number;
    };
    rates[r.unit] = r.rate;
    cpuRates[r.unit] = r.cpuRate;
    coldCpuRates[r.unit] = r.coldCpuRate;
    console.log(
      `  ${r.unit.padEnd(58)} ${String(r.rate).padStart(6)}/s  ${String(r.cpuRate).padStart(6)}/s of CPU  (${r.steps} steps; cold pass ${r.coldCpuRate}/s of CPU)`,
    );
  }
}

// 2. schedules and seconds to first detection, per toggle and strategy: the toggle's scenario on
// one unit (the first `bugs` hunts it on, vgem when it runs on every driver), so the schedule
// index is the unit's own.
const STRATEGIES: SearchOptions[] = [
  { strategy: "portfolio", depth: 3 },
  { strategy: "random" },
  { strategy: "pos" },
  { strategy: "pct", depth: 2 },
  { strategy: "pct", depth: 3 },
  { strategy: "pct", depth: 4 },
  { strategy: "dfs", preemptionBound: 2 },
];
/** BENCH_STRATEGIES (comma-separated, as `--strategy` prints them) picks strategies. */
const pickedStrategies = process.env.BENCH_STRATEGIES?.split(",");
if (pickedStrategies)
  STRATEGIES.splice(
    0,
    STRATEGIES.length,
    ...STRATEGIES.filter((x) => pickedStrategies.includes(formatStrategy(x))),
  );
type Detection = {
  found: number;
  runs: number;
  schedulesMedian: number;
  schedulesMax: number;
  secondsMedian: number;
  secondsMax: number;
};
const detection: Record<string, Record<string, Detection>> = {};
const detectionUnits: Record<string, string> = {};
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
if (PARTS.has("detection"))
  console.log(
    `\nfirst detection (median/max over ${SEEDS} seeds, budget ${BUDGET}, a miss counts as the budget; dfs: one run):`,
  );
const plan = planBugs(drivers);
const only = process.env.BENCH_TOGGLES?.split(",");
/** The rows: every hunted toggle on its unit, then every buggy kref.rst example (no toggle). */
const targets: { name: string; scenario: string; drivers: readonly string[]; bugs: string[] }[] =
  [];
for (const t of toggleTable()) {
  const hunts = plan.hunts.filter((h) => h.toggle === t.name);
  const h = hunts.find((x) => x.drivers.includes("vgem")) ?? hunts[0];
  if (h) targets.push({ name: t.name, scenario: h.scenario, drivers: h.drivers, bugs: [t.name] });
}
for (const s of CAMPAIGN_SCENARIOS)
  if (s.name.startsWith("kref-") && s.expect === "buggy")
    targets.push({ name: s.name, scenario: s.name, drivers: drivers.slice(0, 1), bugs: [] });
const ratios: Record<string, number> = {};
for (const t of PARTS.has("detection") ? targets : []) {
  if (only && !only.includes(t.name)) continue;
  detection[t.name] = {};
  detectionUnits[t.name] = planUnits({
    ...base,
    drivers: t.drivers,
    scenarios: [t.scenario],
    strategy: { strategy: "random" },
    seeds: 1,
    seed: 1,
    bugs: [],
    failFast: false,
  })[0]!.key;
  // Warm-up (module loading, JIT) outside the timings, so the first strategy pays no more.
  await runCampaign(
    {
      ...base,
      drivers: t.drivers,
      scenarios: [t.scenario],
      strategy: { strategy: "random" },
      seeds: 3,
      seed: 0,
      bugs: [],
      failFast: false,
    },
    1,
  );
  for (const strategy of STRATEGIES) {
    const seeds =
      strategy.strategy === "dfs" ? [1] : Array.from({ length: SEEDS }, (_, i) => i + 1);
    const schedules: number[] = [];
    const seconds: number[] = [];
    let found = 0;
    for (const seed of seeds) {
      const budget = strategy.strategy === "random" ? RANDOM_BUDGET : BUDGET;
      const config: CampaignConfig = {
        ...base,
        drivers: t.drivers,
        scenarios: [t.scenario],
        strategy,
        seeds: budget,
        seed,
        bugs: t.bugs,
        failFast: true,
      };
      const t0 = performance.now();
      const run = await runCampaign(config, 1);
      const s = (performance.now() - t0) / 1000;
      const first = Math.min(
        ...run.tallies.flatMap((x) => Object.values(x.findings).map((f) => f.index)),
      );
      if (Number.isFinite(first)) found++;
      schedules.push(Number.isFinite(first) ? first + 1 : budget);
      seconds.push(s);
    }
    const d: Detection = {
      found,
      runs: seeds.length,
      schedulesMedian: median(schedules),
      schedulesMax: Math.max(...schedules),
      secondsMedian: round(median(seconds)),
      secondsMax: round(Math.max(...seconds)),
    };
    detection[t.name]![formatStrategy(strategy)] = d;
    console.log(
      `  ${t.name.padEnd(38)} ${formatStrategy(strategy).padEnd(11)} found ${String(d.found).padStart(2)}/${d.runs}  schedules ${d.schedulesMedian}/${d.schedulesMax}  seconds ${d.secondsMedian}/${d.secondsMax}`,
    );
  }
  // The portfolio's median over the best single strategy's (dfs aside), when both ran.
  const row = detection[t.name]!;
  const port = Object.entries(row).find(([k]) => k.startsWith("portfolio"))?.[1];
  const singles = Object.entries(row)
    .filter(([k]) => !k.startsWith("portfolio") && !k.startsWith("dfs"))
    .map(([, d]) => d.schedulesMedian);
  if (port && singles.length) {
    ratios[t.name] = round(port.schedulesMedian / Math.min(...singles), 2);
    console.log(`  ${t.name.padEnd(38)} portfolio / best single: x${ratios[t.name]}`);
  }
}
if (Object.keys(ratios).length) {
  const rs = Object.values(ratios);
  console.log(
    `  portfolio within 2x of the best single strategy on ${rs.filter((x) => x <= 2).length} of ${rs.length} rows; worst x${Math.max(...rs)}`,
  );
}
if (PARTS.has("detection")) {
  const cu = process.cpuUsage(cpu0);
  console.log(
    `  (detection: ${round((performance.now() - wall0) / 1000, 1)} s wall, ${round((cu.user + cu.system) / 1e6, 1)} s CPU)`,
  );
}

// 3. 2 workers vs 1, each run in a fresh process (workers-run.mjs) so that both start cold, as
// `run --workers N` does from the command line: module loading, worker start-up, calibration and
// JIT warm-up all count. BENCH_SPEEDUP_ROUNDS rounds (default 3) of one run on 1 worker then one
// on 2, back to back; the figures are medians over the rounds. Wall clock is from spawn to exit;
// CPU time is the child's own (every thread's), split from /proc into its main thread (which runs
// schedules too), its worker thread and V8's helper threads (concurrent TurboFan compilation,
// parallel scavenges, concurrent marking and sweeping), with the 1-minute load average before
// and after each run. On a machine other jobs share, the wall-clock ratio says how much the
// second worker got; the CPU-time ratio says what a schedule costs on 2 workers against 1 (1.0:
// no overhead). One worker already keeps more than one core busy (its V8 helper threads), and a
// second worker is a second V8 instance that compiles the models again, so on 2 cores the
// wall-clock ratio stays well under 2 even on an idle machine (README, "Where the CPU goes").
// Before each run, bench/spin-scaling.mjs measures what 2 threads of a pure loop get against 1
// at that moment (2.0 on two free cores), with a latency-bound loop and a `wide` one that keeps a
// core's execution units busy (under 2.0 where two vCPUs are one core's two hardware threads).
// The runs print a digest of every unit's schedules and steps: the bench warns if 1 and 2
// workers differ (the speed-up is a pure speed measurement). BENCH_SPEEDUP_SCHEDULES (default
// 600) schedules per unit, 30 units: 18,000 schedules, about the size of a default `run` (100
// units x 200 seeds), about 20 s of one core warm and a sixth of it each V8 instance's warm-up.
/**
 * The speed-up against the campaign's length. Each V8 instance pays a start-up and warm-up
 * (module loading, calibration, TurboFan compiling the models while they run slower) once per
 * run, so the ratio grows with the length towards what warm schedules cost. From the medians at
 * two lengths, each worker count's wall clock is fitted as `startSeconds + schedules *
 * msPerSchedule / 1000` (a straight line through the two points: the warm-up is assumed over
 * within the shorter campaign, which makes the fit's limit a little low when it is not).
 */
interface SpeedupByLength {
  perUnit: number;
  schedules: number;
  rounds: number;
  /** Median wall-clock seconds of the runs at this length on 1 and 2 workers. */
  oneSeconds: number;
  twoSeconds: number;
  speedup: number;
  /** The fit's fixed seconds per run (start-up and warm-up), 1 and 2 workers. */
  oneStartSeconds: number;
  twoStartSeconds: number;
  /** The fit's milliseconds of wall clock per schedule, 1 and 2 workers. */
  oneMsPerSchedule: number;
  twoMsPerSchedule: number;
  /** What the speed-up tends to on ever longer campaigns (1 worker's ms over 2 workers'). */
  limit: number;
  /** From how many schedules 2 workers reach x1.7 by the fit (null: never, or already). */
  schedulesFor17: number | null;
  digestsEqual: boolean;
}
interface WorkersRun {
  /** The machine's parallelism just before (bench/spin-scaling.mjs: 2.0 on two free cores). */
  scaling: number;
  /**
   * The same with a loop that keeps a core's execution units busy (spin-scaling.mjs's `wide`):
   * below `scaling` where two vCPUs share a physical core.
   */
  wideScaling: number;
  schedules: number;
  seconds: number;
  cpuSeconds: number;
  /**
   * The CPU seconds of the child's main thread (which runs schedules too), the rest being its
   * worker thread's and V8's compiler and collector threads' (0 where /proc is missing).
   */
  mainCpuSeconds: number;
  /** The CPU seconds of the campaign's worker threads (0 on 1 worker or where /proc is missing). */
  workerCpuSeconds: number;
  /**
   * The CPU seconds of the threads that were there before the campaign: V8's platform threads
   * (concurrent TurboFan compilation, parallel scavenges, concurrent marking and sweeping).
   */
  helperCpuSeconds: number;
  /** A hash of every unit's schedules and steps: equal on 1 and 2 workers (the same schedules). */
  digest: string;
  perSecond: number;
  perCpuSecond: number;
  /**
   * Schedules per second of wall clock and of CPU time in the second half of the campaign's
   * schedules: after the start-up and most of the JIT warm-up. (Against the whole run's, what
   * the warm-up costs; not a 2-against-1 ratio, as the threads of a 2-worker run each run their
   * own units, so the mix of units in either half differs from one worker's.)
   */
  secondHalfPerSecond: number;
  secondHalfPerCpuSecond: number;
  /**
   * CPU milliseconds per schedule in the second half: the threads running schedules (main and
   * worker) and V8's helper threads apart (0 where /proc is missing). The helpers' share after
   * warm-up is what garbage the scavenger copies and code TurboFan compiles again cost.
   */
  secondHalfScheduleMs: number;
  secondHalfHelperMs: number;
  loadBefore: number;
  loadAfter: number;
}
const speed: {
  rounds: { one: WorkersRun; two: WorkersRun }[];
  one: WorkersRun | null;
  two: WorkersRun | null;
  speedup: number;
  cpuRatio: number;
  /**
   * The best wall-clock ratio these runs' CPU allows on an idle machine: a 1-worker run lasts
   * about its main thread's CPU time (its V8 helper threads run on another core), a 2-worker run
   * at least its CPU time over the cores (every core full).
   */
  idleBound: number;
  /**
   * The same from the second halves' CPU per schedule (1 worker's schedule threads against 2
   * workers' schedule and helper threads over the cores): what a campaign long enough for both
   * V8 instances' warm-up not to count would get at best. Approximate: a 2-worker run's threads
   * each run their own units, so its halves mix the units differently from one worker's.
   */
  warmIdleBound: number;
  cores: number;
  /** The children ran the compiled dist/ ("built") or the sources through tsx ("sources"). */
  from: string;
  /**
   * The same campaign BENCH_SPEEDUP_LONG schedules per unit long (default 7200: 216,000
   * schedules), BENCH_SPEEDUP_LONG_ROUNDS rounds (default 1; 0 skips it), and what the two
   * lengths say together (null when skipped).
   */
  long: SpeedupByLength | null;
} = {
  rounds: [],
  one: null,
  two: null,
  speedup: 0,
  cpuRatio: 0,
  idleBound: 0,
  warmIdleBound: 0,
  cores: availableParallelism(),
  from: "",
  long: null,
};
if (PARTS.has("speedup")) {
  const perUnit = Number(process.env.BENCH_SPEEDUP_SCHEDULES ?? 600);
  const rounds = Number(process.env.BENCH_SPEEDUP_ROUNDS ?? 3);
  const child = fileURLToPath(new URL("./workers-run.mjs", import.meta.url));
  // Like the bin: the compiled code when the build is current (workers start from dist/worker.js,
  // about half the start-up CPU of the sources through tsx), else the sources;
  // BENCH_SPEEDUP_FROM=built|sources forces one.
  const from = await codeFrom("BENCH_SPEEDUP_FROM");
  const childArgs = childArgsFor(from);
  speed.from = from;
  const spin = fileURLToPath(new URL("./spin-scaling.mjs", import.meta.url));
  const scaling = () =>
    new Promise<{ scaling: number; wide: number }>((resolve, reject) =>
      execFile(process.execPath, [spin], (err, stdout) =>
        err
          ? reject(err)
          : resolve({
              scaling: round(JSON.parse(stdout).scaling as number, 2),
              wide: round(JSON.parse(stdout).wide as number, 2),
            }),
      ),
    );
  const time = async (workers: number, perUnit: number) => {
    const before = await scaling();
    return new Promise<WorkersRun>((resolve, reject) => {
      const loadBefore = round(loadavg()[0]!, 2);
      const t0 = performance.now();
      execFile(
        process.execPath,
        [...childArgs, child, String(workers), String(perUnit), from],
        (err, stdout) => {
          if (err) return reject(err);
          const seconds = (performance.now() - t0) / 1000;
          const r = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
            schedules: number;
            cpuSeconds: number;
            threads: { main: number; others: number; workers: number; helpers: number } | null;
            digest: string;
            secondHalf: {
              schedules: number;
              seconds: number;
              cpuSeconds: number;
              threads: { main: number; workers: number; helpers: number } | null;
            } | null;
          };
          const h = r.secondHalf;
          resolve({
            scaling: before.scaling,
            wideScaling: before.wide,
            schedules: r.schedules,
            seconds: round(seconds, 2),
            cpuSeconds: round(r.cpuSeconds, 2),
            mainCpuSeconds: r.threads?.main ?? 0,
            workerCpuSeconds: r.threads?.workers ?? 0,
            helperCpuSeconds: r.threads?.helpers ?? 0,
            digest: r.digest,
            perSecond: Math.round(r.schedules / seconds),
            perCpuSecond: Math.round(r.schedules / r.cpuSeconds),
            secondHalfPerSecond: h ? Math.round(h.schedules / h.seconds) : 0,
            secondHalfPerCpuSecond: h ? Math.round(h.schedules / h.cpuSeconds) : 0,
            secondHalfScheduleMs: h?.threads
              ? round(((h.threads.main + h.threads.workers) * 1000) / h.schedules, 3)
              : 0,
            secondHalfHelperMs: h?.threads ? round((h.threads.helpers * 1000) / h.schedules, 3) : 0,
            loadBefore,
            loadAfter: round(loadavg()[0]!, 2),
          });
        },
      );
    });
  };
  const line = (w: number, r: WorkersRun) =>
    `  ${w} worker${w === 1 ? " " : "s"}: ${r.schedules} schedules in ${r.seconds} s wall, ${r.cpuSeconds} s CPU (main thread ${r.mainCpuSeconds}, worker ${r.workerCpuSeconds}, V8 helper threads ${r.helperCpuSeconds} s): ${r.perSecond}/s, ${r.perCpuSecond}/s of CPU; second half ${r.secondHalfPerSecond}/s, ${r.secondHalfPerCpuSecond}/s of CPU, ${r.secondHalfScheduleMs} ms of CPU a schedule on the threads running schedules and ${r.secondHalfHelperMs} on V8's helpers (load ${r.loadBefore} -> ${r.loadAfter}; machine parallelism x${r.scaling}, wide x${r.wideScaling})`;
  console.log(
    `\nsharing scenarios, 2 workers against 1 (${speed.cores} cores, ${perUnit} schedules per unit, a fresh process per run, from the ${from === "built" ? "compiled code" : "sources through tsx"}):`,
  );
  for (let i = 0; i < rounds; i++) {
    const one = await time(1, perUnit);
    const two = await time(2, perUnit);
    speed.rounds.push({ one, two });
    // A pure speed measurement: both runs must have made the same schedules.
    if (one.digest !== two.digest)
      console.log(
        `  WARNING: 1 and 2 workers ran different schedules (${one.digest}, ${two.digest})`,
      );
    console.log(
      `${line(1, one)}\n${line(2, two)}\n  round ${i + 1}: x${round(two.perSecond / one.perSecond, 2)} wall`,
    );
  }
  const mid = (pick: (r: { one: WorkersRun; two: WorkersRun }) => WorkersRun): WorkersRun => {
    const xs = speed.rounds.map(pick);
    const m = (f: (r: WorkersRun) => number) => round(median(xs.map(f)), 2);
    return {
      scaling: m((r) => r.scaling),
      wideScaling: m((r) => r.wideScaling),
      schedules: xs[0]!.schedules,
      seconds: m((r) => r.seconds),
      cpuSeconds: m((r) => r.cpuSeconds),
      mainCpuSeconds: m((r) => r.mainCpuSeconds),
      workerCpuSeconds: m((r) => r.workerCpuSeconds),
      helperCpuSeconds: m((r) => r.helperCpuSeconds),
      digest: xs[0]!.digest,
      perSecond: m((r) => r.perSecond),
      perCpuSecond: m((r) => r.perCpuSecond),
      secondHalfPerSecond: m((r) => r.secondHalfPerSecond),
      secondHalfPerCpuSecond: m((r) => r.secondHalfPerCpuSecond),
      secondHalfScheduleMs: m((r) => r.secondHalfScheduleMs),
      secondHalfHelperMs: m((r) => r.secondHalfHelperMs),
      loadBefore: m((r) => r.loadBefore),
      loadAfter: m((r) => r.loadAfter),
    };
  };
  speed.one = mid((r) => r.one);
  speed.two = mid((r) => r.two);
  speed.speedup = round(median(speed.rounds.map((r) => r.two.perSecond / r.one.perSecond)), 2);
  speed.cpuRatio = round(
    median(speed.rounds.map((r) => r.two.perCpuSecond / r.one.perCpuSecond)),
    2,
  );
  speed.idleBound = round(
    speed.one.mainCpuSeconds / (speed.two.cpuSeconds / Math.min(2, speed.cores)),
    2,
  );
  const cores = Math.min(2, speed.cores);
  speed.warmIdleBound =
    speed.two.secondHalfScheduleMs > 0
      ? round(
          speed.one.secondHalfScheduleMs /
            ((speed.two.secondHalfScheduleMs + speed.two.secondHalfHelperMs) / cores),
          2,
        )
      : 0;
  console.log(
    `  median over ${rounds} rounds:\n${line(1, speed.one)}\n${line(2, speed.two)}\n  speed-up x${speed.speedup} wall; schedules per CPU second x${speed.cpuRatio}` +
      `\n  at best x${speed.idleBound} on an idle machine with this CPU: 1 worker lasts about its main thread's CPU (its V8 helper threads use the other core), 2 workers at least their CPU over 2 cores; each V8 instance compiles the models again (its helper threads' CPU)` +
      `\n  warm, at best x${speed.warmIdleBound}: the same from the second halves' CPU per schedule (approximate: 2 workers split the units differently)`,
  );

  // The same campaign, longer: where the second V8 instance's warm-up stops mattering. Default
  // 7,200 schedules per unit (216,000, about 4 minutes on one worker, a `run --time 4m`), once: the
  // length by which the earlier sessions' fits put x1.7, measured rather than extrapolated.
  const longPerUnit = Number(process.env.BENCH_SPEEDUP_LONG ?? 7200);
  const longRounds = Number(process.env.BENCH_SPEEDUP_LONG_ROUNDS ?? 1);
  if (longRounds > 0 && longPerUnit > perUnit) {
    console.log(`\nthe same, ${longPerUnit} schedules per unit:`);
    const runs: { one: WorkersRun; two: WorkersRun }[] = [];
    for (let i = 0; i < longRounds; i++) {
      const one = await time(1, longPerUnit);
      const two = await time(2, longPerUnit);
      runs.push({ one, two });
      console.log(
        `${line(1, one)}\n${line(2, two)}\n  round ${i + 1}: x${round(two.perSecond / one.perSecond, 2)} wall`,
      );
    }
    const shortOne = speed.one.seconds;
    const shortTwo = speed.two.seconds;
    const longOne = median(runs.map((r) => r.one.seconds));
    const longTwo = median(runs.map((r) => r.two.seconds));
    const n0 = speed.one.schedules;
    const n1 = runs[0]!.one.schedules;
    const fit = (t0: number, t1: number) => {
      const ms = ((t1 - t0) * 1000) / (n1 - n0);
      return { ms, start: t0 - (n0 * ms) / 1000 };
    };
    const f1 = fit(shortOne, longOne);
    const f2 = fit(shortTwo, longTwo);
    const limit = f1.ms / f2.ms;
    // 1 worker's time over 2 workers' = 1.7 at N = (1.7 start2 - start1) / (ms1 - 1.7 ms2).
    const at = (1.7 * f2.start - f1.start) / ((f1.ms - 1.7 * f2.ms) / 1000);
    speed.long = {
      perUnit: longPerUnit,
      schedules: n1,
      rounds: longRounds,
      oneSeconds: round(longOne, 2),
      twoSeconds: round(longTwo, 2),
      speedup: round(longOne / longTwo, 2),
      oneStartSeconds: round(f1.start, 2),
      twoStartSeconds: round(f2.start, 2),
      oneMsPerSchedule: round(f1.ms, 4),
      twoMsPerSchedule: round(f2.ms, 4),
      limit: round(limit, 2),
      schedulesFor17: limit > 1.7 && at > n0 ? Math.round(at) : null,
      digestsEqual: runs.every((r) => r.one.digest === r.two.digest),
    };
    const l = speed.long;
    if (!l.digestsEqual) console.log("  WARNING: 1 and 2 workers ran different schedules");
    console.log(
      `  ${n0} schedules: x${round(shortOne / shortTwo, 2)} (medians ${shortOne} and ${shortTwo} s); ${n1}: x${l.speedup} (${l.oneSeconds} and ${l.twoSeconds} s)` +
        `\n  fitted: 1 worker ${l.oneStartSeconds} s + ${l.oneMsPerSchedule} ms a schedule, 2 workers ${l.twoStartSeconds} s + ${l.twoMsPerSchedule} ms a schedule; the speed-up tends to x${l.limit} on long campaigns` +
        (l.schedulesFor17 !== null
          ? ` and reaches x1.7 from about ${l.schedulesFor17} schedules (about ${round((l.oneStartSeconds + (l.schedulesFor17 * l.oneMsPerSchedule) / 1000) / 60, 1)} min on 1 worker)`
          : l.limit > 1.7
            ? `, past x1.7 from ${n0} schedules on`
            : ", under x1.7"),
    );
  }
}

console.log(
  JSON.stringify({
    schedulesPerSecond: rates,
    schedulesPerCpuSecond: cpuRates,
    coldSchedulesPerCpuSecond: coldCpuRates,
    rateWarmupSchedules: RATE_WARMUP,
    rateFrom,
    detection,
    detectionUnits,
    portfolioOverBest: ratios,
    workers: speed,
    loadAverage: loadavg()[0],
  }),
);
