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

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { baselineFixes } from "@primetime/sim";
import { applyCampaignV8Flags } from "@primetime/sim/explore";

// Same schedules, faster searches (see SEARCH_V8_FLAGS and CAMPAIGN_V8_FLAGS), as runCampaign
// sets them in a `run` from the command line; V8 flags are process-wide.
applyCampaignV8Flags();
// Experiments: more V8 flags, set the same way and after those, so they can also undo one
// (BENCH_V8_FLAGS="--flag --flag"; runCampaign does not set its flags again).
for (const f of (process.env.BENCH_V8_FLAGS ?? "").split(" ").filter(Boolean))
  setFlagsFromString(f);
/** The threads alive before the campaign: this one and V8's and Node's helper threads. */
const before = new Set(tids());

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

/** This process's thread ids (Linux; none elsewhere). */
function tids() {
  try {
    return readdirSync("/proc/self/task");
  } catch {
    return [];
  }
}

/**
 * CPU seconds of this process's threads from /proc (Linux; null elsewhere): this thread, the
 * rest together (worker threads, V8's compiler and collector threads, tsx's loader thread), and
 * the rest split between the campaign's worker threads (started after this module) and the
 * helper threads (V8's platform threads: concurrent compilation, parallel and concurrent GC).
 */
/** @returns {{ main: number; others: number; workers: number; helpers: number } | null} */
function threadSplit() {
  let main = 0;
  let workers = 0;
  let helpers = 0;
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime, in clock ticks (100 a second on Linux).
      const s = (Number(f[11]) + Number(f[12])) / 100;
      if (tid === String(process.pid)) main += s;
      else if (before.has(tid)) helpers += s;
      else workers += s;
    }
  } catch {
    return null;
  }
  const r = (/** @type {number} */ x) => Math.round(x * 100) / 100;
  return { main: r(main), others: r(workers + helpers), workers: r(workers), helpers: r(helpers) };
}

/** This process's CPU seconds so far (every thread's). */
function cpuNow() {
  const cu = process.cpuUsage();
  return (cu.user + cu.system) / 1e6;
}

/**
 * The CPU seconds of this process's threads between `then` and `now` (threadSplit()s).
 * @param {{ main: number; others: number; workers: number; helpers: number }} then
 * @param {{ main: number; others: number; workers: number; helpers: number } | null} now
 */
function threadsSince(then, now) {
  if (!now) return null;
  const r = (/** @type {number} */ x) => Math.round(x * 100) / 100;
  return {
    main: r(now.main - then.main),
    others: r(now.others - then.others),
    workers: r(now.workers - then.workers),
    helpers: r(now.helpers - then.helpers),
  };
}

const workers = Number(process.argv[2] ?? 1);
const schedules = Number(process.argv[3] ?? 300);
const config = speedupConfig(schedules);
// The second half of the campaign's schedules, timed apart: by then both threads have started,
// calibrated and compiled their hot code, so it measures the threads' throughput alone.
const total = planUnits(config).length * schedules;
const half = Math.floor(total / 2);
let done = 0;
/** @type {{ at: number; cpu: number; done: number; threads: ReturnType<typeof threadSplit> } | null} */
let mid = null;
/** The threads' CPU at the last schedule, while the worker threads are still alive. */
/** @type {ReturnType<typeof threadSplit>} */
let last = null;
const t0 = performance.now();
const run = await runCampaign(config, workers, {
  tick(n) {
    done += n;
    if (mid === null && done >= half)
      mid = { at: performance.now(), cpu: cpuNow(), done, threads: threadSplit() };
    if (done >= total) last = threadSplit();
  },
});
const t1 = performance.now();
const cu = process.cpuUsage();
const tallies = run.tallies.map((t) => [
  t.key,
  t.schedules,
  t.steps,
  t.minSteps,
  t.maxSteps,
  t.failing,
]);
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
      threads: mid.threads && threadsSince(mid.threads, last),
    },
    failing: run.tallies.reduce((a, x) => a + x.failing, 0),
    // Every unit's schedules and steps (sum, least, most) hashed: equal digests, same schedules.
    digest: createHash("sha256").update(JSON.stringify(tallies)).digest("hex").slice(0, 16),
    threads: last ?? threadSplit(),
  }),
);
