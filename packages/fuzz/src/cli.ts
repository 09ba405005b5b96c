/**
 * The fuzzer's command line (`pnpm --filter @primetime/fuzz cli <command> [options]`):
 *
 *   campaign [schedules] [first-seed]   baseline campaign (every toggle off, fixes on): figures
 *   toggles [budget]                    which historic toggles the fuzzer finds, and after how many
 *   windows [budget]                    the known upstream windows, with a replay token each
 *
 * Options: `--drivers vgem|qxl|vmwgfx|a+b` (default vgem; two names: the two devices, e.g.
 * qxl+vgem), `--strategies pct,random,pos,portfolio` (cycled; default pct,random),
 * `--toggles a,b` (toggles: which to hunt; default every toggle of the packages loaded).
 *
 * The drivers are dev dependencies of this package: the library itself takes the drivers as a
 * parameter (`fuzzCampaign({ fuzz: { drivers } })`), as the stress app does.
 */

import type { DriverUnderTest } from "@primetime/gem";
import { driverUnderTest as qxl } from "@primetime/qxl";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { driverUnderTest as vmwgfx } from "@primetime/vmwgfx";
import { type FuzzStrategy, fuzzCampaign, huntToggles } from "./campaign.js";
import { huntKnownWindows } from "./known-windows.js";

const DRIVERS: Record<string, DriverUnderTest> = { vgem, qxl, vmwgfx };
const STRATEGIES: readonly FuzzStrategy[] = ["pct", "random", "pos", "portfolio"];

function usage(): never {
  process.stderr.write(
    "usage: cli campaign [schedules] [first-seed] | toggles [budget] | windows [budget]\n" +
      "  [--drivers vgem|qxl|vmwgfx|a+b] [--strategies pct,random,pos,portfolio] [--toggles a,b]\n" +
      "  [--feedback on|off] (feedback-driven race pairs; default off)\n",
  );
  process.exit(2);
}

const positional: string[] = [];
const options = new Map<string, string>();
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a.startsWith("--")) {
    const v = argv[++i];
    if (v === undefined) usage();
    options.set(a.slice(2), v);
  } else positional.push(a);
}
const [cmd = "campaign", a, b] = positional;

function num(s: string | undefined, d: number): number {
  const n = s === undefined ? d : Number(s);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`not a count: ${String(s).slice(0, 20)}\n`);
    process.exit(2);
  }
  return n;
}

const drivers = (options.get("drivers") ?? "vgem").split("+").map((n) => {
  const d = DRIVERS[n];
  if (!d) {
    process.stderr.write(`unknown driver: ${n.slice(0, 20)} (vgem, qxl, vmwgfx)\n`);
    process.exit(2);
  }
  return d;
});
const strategies = (options.get("strategies") ?? "pct,random").split(",").map((n) => {
  if (!(STRATEGIES as readonly string[]).includes(n)) {
    process.stderr.write(`unknown strategy: ${n.slice(0, 20)} (${STRATEGIES.join(", ")})\n`);
    process.exit(2);
  }
  return n as FuzzStrategy;
});
const fuzz = { drivers };
const feedbackOpt = options.get("feedback");
if (feedbackOpt !== undefined && feedbackOpt !== "on" && feedbackOpt !== "off") usage();

if (cmd === "campaign") {
  const schedules = num(a, 1000);
  const firstSeed = num(b, 1);
  const t0 = performance.now();
  const st = await fuzzCampaign({
    fuzz,
    schedules,
    firstSeed,
    strategies,
    feedback: feedbackOpt === "on",
    progressEvery: 1000,
    onProgress: (s) =>
      process.stdout.write(
        `${s.schedules} schedules, ${s.syscalls} syscalls, ${s.steps} steps, ${s.failedSchedules} failing (splats ${s.splats}, exceptions ${s.exceptions}, leaks ${s.leaks}, divergences ${s.divergences}, hangs ${s.hangs}), ${((performance.now() - t0) / 1000).toFixed(0)} s, CPU ${(process.cpuUsage().user / 1e6).toFixed(0)} s\n`,
      ),
  });
  process.stdout.write(`${JSON.stringify({ ...st, seconds: (performance.now() - t0) / 1000 })}\n`);
  process.exit(st.failedSchedules === 0 ? 0 : 1);
} else if (cmd === "toggles") {
  const toggles = options.get("toggles")?.split(",");
  const res = await huntToggles(fuzz, {
    budget: num(a, 300),
    toggles,
    strategies,
    feedback: feedbackOpt === "on",
  });
  for (const h of res)
    process.stdout.write(
      `${h.toggle}: ${h.found ? `found after ${h.schedules} schedules: ${h.first?.split("\n")[0]}\n  token ${h.token}` : `not found in ${h.schedules} schedules`}\n`,
    );
} else if (cmd === "windows") {
  for (const h of await huntKnownWindows(num(a, 200))) {
    process.stdout.write(
      `${h.window.name}: ${h.found ? `reached after ${h.schedules} schedules: ${h.found.splats[0]?.message}\n  token ${h.found.token}` : `not reached in ${h.schedules} schedules`}\n  with its fix switch: ${h.firedWithFix} failing schedules\n`,
    );
  }
} else usage();
