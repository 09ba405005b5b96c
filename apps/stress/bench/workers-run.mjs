/**
 * One measured run of the campaign bench's worker speed-up (campaign.bench.ts part 3), in a
 * process of its own so that every run starts cold, as a `run --workers N` from the command line
 * does: it loads the models, runs the sharing campaign on `argv[2]` workers with
 * `argv[3]` schedules per unit, and prints one JSON line with the schedules and this process's
 * CPU time since it started (every thread's, start-up included), split between this thread and
 * the others where /proc tells, and the same figures for the second half of the campaign's
 * schedules alone (after every thread's start-up and warm-up). With `built` as `argv[4]` it runs the app's compiled dist/ (and
 * the workspace packages' dist/), as the bin does when the build is current: started by plain
 * node, no tsx, and its worker threads start from compiled JavaScript. Otherwise it is started
 * through tsx with the source condition and loads the sources. (Plain JavaScript, so that the
 * built run needs no tsx: tsx's loader alone costs about 0.5 s of CPU at start-up.)
 */

import { readdirSync, readFileSync } from "node:fs";
import { baselineFixes } from "@primetime/sim";
import { applySearchV8Flags } from "@primetime/sim/explore";

// Same schedules, faster searches (see SEARCH_V8_FLAGS); V8 flags are process-wide.
applySearchV8Flags();

const built = process.argv[4] === "built";
/** @param {string} path a module of this app, without extension */
const load = (path) =>
  import(new URL(built ? `../dist/${path}.js` : `../src/${path}.ts`, import.meta.url).href);
/** @type {typeof import("../src/campaign/runner.js")} */
const { runCampaign } = await load("campaign/runner");
/** @type {typeof import("../src/drivers.js")} */
const { installedDrivers } = await load("drivers");
/** @type {typeof import("../src/campaign/units.js")} */
const { planUnits } = await load("campaign/units");

/** The sharing scenarios on every driver (pair): the campaign the speed-up is measured on. */
/**
 * @param {number} schedules
 * @returns {import("../src/campaign/config.js").CampaignConfig}
 */
function speedupConfig(schedules) {
  return {
    drivers: installedDrivers().map((d) => d.name),
    fixes: baselineFixes(),
    timeMs: null,
    faults: null,
    shard: null,
    stepLimit: 200_000,
    scenarios: ["cross-share", "compositor", "mmap-vs-close", "fence-wait"],
    strategy: { strategy: "pct", depth: 3 },
    seeds: schedules,
    seed: 1,
    bugs: [],
    failFast: false,
  };
}

/**
 * CPU seconds of this process's threads from /proc (Linux; null elsewhere): this thread, and the
 * rest together (worker threads, V8's compiler and collector threads, tsx's loader thread).
 */
/** @returns {{ main: number; others: number } | null} */
function threadSplit() {
  let main = 0;
  let others = 0;
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime, in clock ticks (100 a second on Linux).
      const s = (Number(f[11]) + Number(f[12])) / 100;
      if (tid === String(process.pid)) main += s;
      else others += s;
    }
  } catch {
    return null;
  }
  return { main: Math.round(main * 100) / 100, others: Math.round(others * 100) / 100 };
}

/** This process's CPU seconds so far (every thread's). */
function cpuNow() {
  const cu = process.cpuUsage();
  return (cu.user + cu.system) / 1e6;
}

/**
 * The CPU seconds of this process's threads since `then` (a threadSplit()).
 * @param {{ main: number; others: number }} then
 */
function threadsSince(then) {
  const now = threadSplit();
  if (!now) return null;
  const r = (/** @type {number} */ x) => Math.round(x * 100) / 100;
  return { main: r(now.main - then.main), others: r(now.others - then.others) };
}

const workers = Number(process.argv[2] ?? 1);
const schedules = Number(process.argv[3] ?? 300);
const config = speedupConfig(schedules);
// The second half of the campaign's schedules, timed apart: by then both threads have started,
// calibrated and compiled their hot code, so it measures the threads' throughput alone.
const half = Math.floor((planUnits(config).length * schedules) / 2);
let done = 0;
/** @type {{ at: number; cpu: number; done: number; threads: { main: number; others: number } | null } | null} */
let mid = null;
const t0 = performance.now();
const run = await runCampaign(config, workers, {
  tick(n) {
    done += n;
    if (mid === null && done >= half)
      mid = { at: performance.now(), cpu: cpuNow(), done, threads: threadSplit() };
  },
});
const t1 = performance.now();
const cu = process.cpuUsage();
console.log(
  JSON.stringify({
    workers,
    schedules: run.tallies.reduce((a, x) => a + x.schedules, 0),
    campaignSeconds: (t1 - t0) / 1000,
    cpuSeconds: (cu.user + cu.system) / 1e6,
    // From the schedule that completed half of the campaign to its end.
    secondHalf: mid && {
      schedules: done - mid.done,
      seconds: (t1 - mid.at) / 1000,
      cpuSeconds: (cu.user + cu.system) / 1e6 - mid.cpu,
      threads: mid.threads && threadsSince(mid.threads),
    },
    failing: run.tallies.reduce((a, x) => a + x.failing, 0),
    threads: threadSplit(),
  }),
);
