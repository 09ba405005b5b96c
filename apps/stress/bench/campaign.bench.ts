/**
 * The campaign benchmark (`pnpm --filter @primetime/stress bench`), a benchmark and not a test:
 *
 * 1. schedules/s of every campaign scenario on every driver (pair), on one worker (this thread);
 * 2. for every toggle a scenario finds: schedules and seconds to the first detection under each
 *    strategy, median and max over BENCH_SEEDS base seeds (default 10), at most BENCH_BUDGET
 *    schedules each (default 2000; a miss counts as the budget); dfs is one deterministic run;
 * 3. the speed-up of 2 worker threads over 1 on the sharing scenarios (worker start-up included).
 *
 * The last line is one JSON object with every figure.
 */
import { availableParallelism, loadavg } from "node:os";
import { baselineFixes } from "@primetime/sim";
import type { CampaignConfig, SearchOptions } from "../src/campaign/config.js";
import { formatStrategy } from "../src/campaign/config.js";
import { CAMPAIGN_SCENARIOS } from "../src/campaign/registry.js";
import { runCampaign } from "../src/campaign/runner.js";
import { runJob } from "../src/campaign/schedule.js";
import { parseUnitKey, planUnits } from "../src/campaign/units.js";
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

// 2. schedules and seconds to first detection, per toggle and strategy.
const STRATEGIES: SearchOptions[] = [
  { strategy: "random" },
  { strategy: "pct", depth: 2 },
  { strategy: "pct", depth: 3 },
  { strategy: "dfs", preemptionBound: 2 },
];
type Detection = {
  found: number;
  runs: number;
  schedulesMedian: number;
  schedulesMax: number;
  secondsMedian: number;
  secondsMax: number;
};
const detection: Record<string, Record<string, Detection>> = {};
if (PARTS.has("detection"))
  console.log(
    `\nfirst detection (median/max over ${SEEDS} seeds, budget ${BUDGET}; dfs: one run):`,
  );
for (const t of PARTS.has("detection") ? toggleTable() : []) {
  if (t.scenario === null) continue;
  detection[t.name] = {};
  for (const strategy of STRATEGIES) {
    const seeds =
      strategy.strategy === "dfs" ? [1] : Array.from({ length: SEEDS }, (_, i) => i + 1);
    const schedules: number[] = [];
    const seconds: number[] = [];
    let found = 0;
    for (const seed of seeds) {
      // A campaign unit key (`surface-reaper@qxl+qxl`) runs on its driver only.
      const unit = t.scenario.includes("@") ? parseUnitKey(t.scenario) : null;
      const config: CampaignConfig = {
        ...base,
        ...(unit ? { drivers: [unit.drivers[0]!.name] } : {}),
        scenarios: [unit ? unit.scenario.name : t.scenario],
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
      `  ${t.name.padEnd(36)} ${formatStrategy(strategy).padEnd(7)} found ${d.found}/${d.runs}  schedules ${d.schedulesMedian}/${d.schedulesMax}  seconds ${d.secondsMedian}/${d.secondsMax}`,
    );
  }
}

// 3. 2 workers vs 1.
const speed: { oneWorker: number; twoWorkers: number; speedup: number; cores: number } = {
  oneWorker: 0,
  twoWorkers: 0,
  speedup: 0,
  cores: availableParallelism(),
};
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
  const time = async (workers: number) => {
    const t0 = performance.now();
    const run = await runCampaign(config, workers);
    const n = run.tallies.reduce((a, x) => a + x.schedules, 0);
    return n / ((performance.now() - t0) / 1000);
  };
  speed.oneWorker = Math.round(await time(1));
  speed.twoWorkers = Math.round(await time(2));
  speed.speedup = round(speed.twoWorkers / speed.oneWorker, 2);
  console.log(
    `\nsharing scenarios: ${speed.oneWorker} schedules/s on 1 worker, ${speed.twoWorkers} on 2: x${speed.speedup} (${speed.cores} cores)`,
  );
}

console.log(
  JSON.stringify({
    schedulesPerSecond: rates,
    schedulesPerCpuSecond: cpuRates,
    detection,
    workers: speed,
    loadAverage: loadavg()[0],
  }),
);
