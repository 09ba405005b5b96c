/**
 * The campaign benchmark (`pnpm --filter @primetime/stress bench`), a benchmark and not a test:
 *
 * 1. schedules/s of every campaign scenario on every driver (pair), on one worker (this thread);
 * 2. for every toggle a scenario finds: schedules and seconds to the first detection under each
 *    strategy (the portfolio, random, POS, PCT at depths 2-4, DFS), median and max over
 *    BENCH_SEEDS base seeds (default 10), at most BENCH_BUDGET schedules each (default 2000; a
 *    miss counts as the budget); dfs is one deterministic run; BENCH_TOGGLES and
 *    BENCH_STRATEGIES (comma-separated) pick toggles and strategies;
 * 3. the speed-up of 2 worker threads over 1 on the sharing scenarios (worker start-up included).
 *
 * The last line is one JSON object with every figure.
 */
import { availableParallelism, loadavg } from "node:os";
import { baselineFixes } from "@primetime/sim";
import { planBugs } from "../src/campaign/bugs-matrix.js";
import type { CampaignConfig, SearchOptions } from "../src/campaign/config.js";
import { formatStrategy } from "../src/campaign/config.js";
import { CAMPAIGN_SCENARIOS } from "../src/campaign/registry.js";
import { runCampaign } from "../src/campaign/runner.js";
import { runJob } from "../src/campaign/schedule.js";
import { planUnits } from "../src/campaign/units.js";
import { installedDrivers } from "../src/drivers.js";
import { toggleTable } from "../src/toggles.js";

const SEEDS = Number(process.env.BENCH_SEEDS ?? 10);
const BUDGET = Number(process.env.BENCH_BUDGET ?? 2000);
const RATE_SCHEDULES = Number(process.env.BENCH_RATE_SCHEDULES ?? 200);
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
if (PARTS.has("rate")) {
  const config: CampaignConfig = {
    ...base,
    scenarios: CAMPAIGN_SCENARIOS.filter((s) => s.arity > 0).map((s) => s.name),
    strategy: { strategy: "pct", depth: 3 },
    seeds: RATE_SCHEDULES,
    seed: 1,
    bugs: [],
    failFast: false,
  };
  console.log(`schedules/s on one worker (pct:3, ${RATE_SCHEDULES} schedules per unit):`);
  for (const u of planUnits(config)) {
    // Warm-up (PCT calibration, JIT) outside the measurement.
    await runJob(config, { unit: u.key, from: 0, to: 5, step: 1 });
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const t = await runJob(config, { unit: u.key, from: 0, to: RATE_SCHEDULES, step: 1 });
    const s = (performance.now() - t0) / 1000;
    const cu = process.cpuUsage(c0);
    rates[u.key] = Math.round(t.schedules / s);
    cpuRates[u.key] = Math.round(t.schedules / ((cu.user + cu.system) / 1e6));
    console.log(
      `  ${u.key.padEnd(58)} ${String(rates[u.key]).padStart(6)}/s  ${String(cpuRates[u.key]).padStart(6)}/s of CPU  (${Math.round(t.steps / t.schedules)} steps)`,
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
for (const t of PARTS.has("detection") ? toggleTable() : []) {
  if (only && !only.includes(t.name)) continue;
  const hunts = plan.hunts.filter((h) => h.toggle === t.name);
  const h = hunts.find((x) => x.drivers.includes("vgem")) ?? hunts[0];
  if (!h) continue;
  detection[t.name] = {};
  detectionUnits[t.name] = `${h.scenario}@${h.drivers.join("+")}`;
  // Warm-up (module loading, JIT) outside the timings, so the first strategy pays no more.
  await runCampaign(
    {
      ...base,
      drivers: h.drivers,
      scenarios: [h.scenario],
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
      const config: CampaignConfig = {
        ...base,
        drivers: h.drivers,
        scenarios: [h.scenario],
        strategy,
        seeds: BUDGET,
        seed,
        bugs: [t.name],
        failFast: true,
      };
      const t0 = performance.now();
      const run = await runCampaign(config, 1);
      const s = (performance.now() - t0) / 1000;
      const first = Math.min(
        ...run.tallies.flatMap((x) => Object.values(x.findings).map((f) => f.index)),
      );
      if (Number.isFinite(first)) found++;
      schedules.push(Number.isFinite(first) ? first + 1 : BUDGET);
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
}
if (PARTS.has("detection")) {
  const cu = process.cpuUsage(cpu0);
  console.log(
    `  (detection: ${round((performance.now() - wall0) / 1000, 1)} s wall, ${round((cu.user + cu.system) / 1e6, 1)} s CPU)`,
  );
}

// 3. 2 workers vs 1: wall-clock schedules/s (the bench's own figure), and schedules per second of
// the process's CPU time (every thread's: process.cpuUsage() counts the workers too), with the
// 1-minute load average before and after each run. On a machine other jobs share, the wall-clock
// ratio says how much the second worker got; the CPU-time ratio says what a schedule costs on 2
// workers against 1 (1.0: no overhead, so 2 free cores would give 2x).
interface WorkersRun {
  schedules: number;
  seconds: number;
  cpuSeconds: number;
  perSecond: number;
  perCpuSecond: number;
  loadBefore: number;
  loadAfter: number;
}
const speed: {
  one: WorkersRun | null;
  two: WorkersRun | null;
  speedup: number;
  cpuRatio: number;
  cores: number;
} = { one: null, two: null, speedup: 0, cpuRatio: 0, cores: availableParallelism() };
if (PARTS.has("speedup")) {
  const config: CampaignConfig = {
    ...base,
    scenarios: ["cross-share", "compositor", "mmap-vs-close", "fence-wait"],
    strategy: { strategy: "pct", depth: 3 },
    seeds: Number(process.env.BENCH_SPEEDUP_SCHEDULES ?? 300),
    seed: 1,
    bugs: [],
    failFast: false,
  };
  const time = async (workers: number): Promise<WorkersRun> => {
    const loadBefore = round(loadavg()[0]!, 2);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const run = await runCampaign(config, workers);
    const seconds = (performance.now() - t0) / 1000;
    const cu = process.cpuUsage(c0);
    const cpuSeconds = (cu.user + cu.system) / 1e6;
    const n = run.tallies.reduce((a, x) => a + x.schedules, 0);
    return {
      schedules: n,
      seconds: round(seconds, 2),
      cpuSeconds: round(cpuSeconds, 2),
      perSecond: Math.round(n / seconds),
      perCpuSecond: Math.round(n / cpuSeconds),
      loadBefore,
      loadAfter: round(loadavg()[0]!, 2),
    };
  };
  speed.one = await time(1);
  speed.two = await time(2);
  speed.speedup = round(speed.two.perSecond / speed.one.perSecond, 2);
  speed.cpuRatio = round(speed.two.perCpuSecond / speed.one.perCpuSecond, 2);
  const line = (w: number, r: WorkersRun) =>
    `  ${w} worker${w === 1 ? " " : "s"}: ${r.schedules} schedules in ${r.seconds} s wall, ${r.cpuSeconds} s CPU: ${r.perSecond}/s, ${r.perCpuSecond}/s of CPU (load ${r.loadBefore} -> ${r.loadAfter})`;
  console.log(
    `\nsharing scenarios, 2 workers against 1 (${speed.cores} cores):\n${line(1, speed.one)}\n${line(2, speed.two)}\n  speed-up x${speed.speedup} wall; schedules per CPU second x${speed.cpuRatio}`,
  );
}

console.log(
  JSON.stringify({
    schedulesPerSecond: rates,
    schedulesPerCpuSecond: cpuRates,
    detection,
    detectionUnits,
    workers: speed,
    loadAverage: loadavg()[0],
  }),
);
