/**
 * The fuzzer's command line (`pnpm --filter @primetime/fuzz cli <command>`), on vgem:
 *
 *   campaign [schedules] [first-seed]   baseline campaign (every toggle off, fixes on): figures
 *   toggles [budget]                    which historic toggles the fuzzer finds, and after how many
 *   windows [budget]                    the known upstream windows, with a replay token each
 *
 * It runs on vgem, a dev dependency of this package: the library itself takes the drivers as a
 * parameter (`fuzzCampaign({ fuzz: { drivers } })`), as the stress app does.
 */

import { driverUnderTest as vgem } from "@primetime/vgem";
import { fuzzCampaign, huntToggles } from "./campaign.js";
import { huntKnownWindows } from "./known-windows.js";

const [cmd = "campaign", a, b] = process.argv.slice(2);
const fuzz = { drivers: [vgem] };

function num(s: string | undefined, d: number): number {
  const n = s === undefined ? d : Number(s);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`not a count: ${String(s).slice(0, 20)}\n`);
    process.exit(2);
  }
  return n;
}

if (cmd === "campaign") {
  const schedules = num(a, 1000);
  const firstSeed = num(b, 1);
  const t0 = performance.now();
  const st = await fuzzCampaign({
    fuzz,
    schedules,
    firstSeed,
    progressEvery: 1000,
    onProgress: (s) =>
      process.stdout.write(
        `${s.schedules} schedules, ${s.syscalls} syscalls, ${s.failedSchedules} failing, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
      ),
  });
  process.stdout.write(`${JSON.stringify({ ...st, seconds: (performance.now() - t0) / 1000 })}\n`);
  process.exit(st.failedSchedules === 0 ? 0 : 1);
} else if (cmd === "toggles") {
  const res = await huntToggles(fuzz, { budget: num(a, 300) });
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
} else {
  process.stderr.write(
    "usage: cli campaign [schedules] [first-seed] | toggles [budget] | windows [budget]\n",
  );
  process.exit(2);
}
