/**
 * The campaign bench's rate part (campaign.bench.ts part 1), in a process of its own so that it
 * runs the code a `run` from the command line runs: with `built` as `argv[4]`, the app's compiled
 * dist/ and the workspace packages' dist/, started by plain node, as the bin does when the build
 * is current; otherwise the sources, started through tsx with the source condition. (Through tsx
 * every named nested function also pays esbuild's keepNames helper, an Object.defineProperty call
 * per closure made: a few per cent of a warm run's CPU that the built CLI does not pay.)
 *
 * It runs every unit of the campaign scenarios `argv[2]` (comma-separated) under PCT depth 3:
 * first `argv[3]` untimed warm-up schedules of every unit (other seeds than the timed ones), then
 * RATE schedules of each unit timed (wall clock and this process's CPU), and prints one JSON line
 * per unit and nothing else. Plain JavaScript, so that the built run needs no tsx.
 */

import { baselineFixes } from "@primetime/sim";
import { applyCampaignV8Flags } from "@primetime/sim/explore";

// Same schedules, faster searches (CAMPAIGN_V8_FLAGS), as runCampaign sets them.
applyCampaignV8Flags();

const [scenarioList = "", warmupArg = "200", rateArg = "200", from = "sources"] =
  process.argv.slice(2);
const built = from === "built";
/** @param {string} path a module of this app, without extension */
const load = (path) =>
  import(new URL(built ? `../dist/${path}.js` : `../src/${path}.ts`, import.meta.url).href);
/** @type {typeof import("../src/campaign/schedule.js")} */
const { runJob } = await load("campaign/schedule");
/** @type {typeof import("../src/campaign/units.js")} */
const { planUnits } = await load("campaign/units");
/** @type {typeof import("../src/drivers.js")} */
const { installedDrivers } = await load("drivers");

const RATE = Number(rateArg);
const WARMUP = Number(warmupArg);
/** @type {import("../src/campaign/config.js").CampaignConfig} */
const config = {
  drivers: installedDrivers().map((d) => d.name),
  fixes: baselineFixes(),
  timeMs: null,
  faults: null,
  shard: null,
  stepLimit: 200_000,
  scenarios: scenarioList.split(","),
  strategy: { strategy: "pct", depth: 3 },
  seeds: RATE,
  seed: 1,
  bugs: [],
  failFast: false,
};
const units = planUnits(config);
const cpuSeconds = (c) => (c.user + c.system) / 1e6;
// Warm-up outside the measurement: every unit runs WARMUP schedules before any unit is timed.
// V8 compiles the models while the first units run, so with a few warm-up schedules per unit the
// first units timed read 3-4x slow whatever they are. The cold pass's rate is kept too.
/** @type {Record<string, number>} */
const cold = {};
for (const u of units) {
  const c0 = process.cpuUsage();
  const t = await runJob(config, { unit: u.key, from: RATE, to: RATE + WARMUP, step: 1 });
  cold[u.key] = Math.round(t.schedules / cpuSeconds(process.cpuUsage(c0)));
}
for (const u of units) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const t = await runJob(config, { unit: u.key, from: 0, to: RATE, step: 1 });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(process.cpuUsage(c0));
  console.log(
    JSON.stringify({
      unit: u.key,
      rate: Math.round(t.schedules / seconds),
      cpuRate: Math.round(t.schedules / cpu),
      coldCpuRate: cold[u.key],
      steps: Math.round(t.steps / t.schedules),
    }),
  );
}
