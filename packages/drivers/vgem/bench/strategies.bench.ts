/**
 * Search strategies on the conformance races: for every historic-bug toggle of the DRM stack
 * (TOGGLE_CASES), the schedules each strategy needs to find it in the case that finds it, on
 * vgem, over several seeds. A benchmark, not a test: it prints a table and a JSON summary.
 *
 *   pnpm --filter @primetime/vgem bench:strategies            # 5 seeds, at most 300 schedules
 *   SEEDS=10 CAP=500 STRATEGIES=pct,pos pnpm --filter @primetime/vgem bench:strategies
 *
 * For each (toggle, strategy): how many seeds found it within CAP schedules, and the median and
 * mean schedules to the first failure over all seeds (a miss counts as CAP, so both are lower
 * bounds when some seeds missed).
 */
import { applySearchV8Flags } from "@primetime/sim/explore";
import "@primetime/dma-buf";
import "@primetime/gem";
import { performance } from "node:perf_hooks";
import { findCase, TOGGLE_CASES } from "@primetime/conformance";
import { driverUnderTest } from "../src/driver-under-test.js";

// Same schedules, faster searches (see SEARCH_V8_FLAGS); V8 flags are process-wide.
applySearchV8Flags();

const seeds = Number(process.env.SEEDS ?? 5);
const cap = Number(process.env.CAP ?? 300);
const strategies = (process.env.STRATEGIES ?? "pct,random,pos").split(",");
const only = process.env.TOGGLES?.split(",");

interface Cell {
  found: number;
  schedules: number[];
  ms: number;
}

const rows: { toggle: string; cells: Record<string, Cell> }[] = [];
for (const [toggle, tc] of Object.entries(TOGGLE_CASES)) {
  if (only && !only.includes(toggle)) continue;
  const c = findCase(driverUnderTest, tc.case);
  const cells: Record<string, Cell> = {};
  for (const strategy of strategies) {
    const cell: Cell = { found: 0, schedules: [], ms: 0 };
    const t0 = performance.now();
    for (let seed = 1; seed <= seeds; seed++) {
      const r = await c.run({ strategy, toggles: [toggle], schedules: cap, seed: seed * 7919 });
      if (!r.passed) cell.found++;
      cell.schedules.push(r.passed ? cap : r.schedules);
    }
    cell.ms = performance.now() - t0;
    cells[strategy] = cell;
  }
  rows.push({ toggle, cells });
  const line = strategies
    .map((s) => {
      const x = cells[s]!;
      const sorted = [...x.schedules].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      const mean = x.schedules.reduce((a, b) => a + b, 0) / x.schedules.length;
      return `${s} ${x.found}/${seeds} med ${median} mean ${mean.toFixed(0)}`;
    })
    .join(" | ");
  console.log(`${toggle.padEnd(38)} ${line}`);
}
console.log(
  JSON.stringify({
    seeds,
    cap,
    strategies,
    rows: rows.map((r) => ({
      toggle: r.toggle,
      ...Object.fromEntries(
        Object.entries(r.cells).map(([s, x]) => [
          s,
          { found: x.found, schedules: x.schedules, seconds: +(x.ms / 1000).toFixed(1) },
        ]),
      ),
    })),
  }),
);
