/**
 * Scheduling points per second with 4 tasks under `random` and `pct`, against a baseline measured
 * in the same run: a bare promise hand-off loop between 4 async functions (the least any
 * scheduler built on promises can cost per switch).
 *
 * Prints a table, then, as its last line, one JSON object:
 * {"pointsPerSec": ..., "baselinePerSec": ..., "ratio": ...}
 * where pointsPerSec is the slower of the two strategies.
 */
import { performance } from "node:perf_hooks";
import { point, Simulation, spawn } from "../src/index.js";

const TASKS = 4;
const POINTS_PER_TASK = Number(process.env.BENCH_POINTS ?? 50_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const TOTAL = TASKS * POINTS_PER_TASK;

async function simRun(kind: "random" | "pct"): Promise<number> {
  const strategy =
    kind === "pct" ? { kind: "pct" as const, depth: 3 } : { kind: "random" as const };
  const sim = new Simulation({ seed: 42, strategy, stepLimit: TOTAL * 2 });
  const t0 = performance.now();
  const r = await sim.run(async () => {
    for (let t = 0; t < TASKS; t++) {
      spawn(`w${t}`, async () => {
        for (let i = 0; i < POINTS_PER_TASK; i++) await point("p");
      });
    }
  });
  const dt = (performance.now() - t0) / 1000;
  if (r.outcome !== "ok") throw new Error(`bench run ended ${r.outcome}: ${r.message}`);
  return r.steps / dt;
}

/** 4 async functions passing a baton round-robin through promises: one resolve + await per hand-off. */
async function baselineRun(): Promise<number> {
  const resolvers: (() => void)[] = new Array(TASKS);
  const turn = (i: number) =>
    new Promise<void>((res) => {
      resolvers[i] = res;
    });
  let handoffs = 0;
  const worker = async (i: number) => {
    for (let k = 0; k < POINTS_PER_TASK; k++) {
      await turn(i);
      handoffs++;
      resolvers[(i + 1) % TASKS]?.();
    }
  };
  const t0 = performance.now();
  const all = Array.from({ length: TASKS }, (_, i) => worker(i));
  await Promise.resolve();
  resolvers[0]!();
  await Promise.all(all);
  const dt = (performance.now() - t0) / 1000;
  if (handoffs !== TOTAL) throw new Error(`baseline made ${handoffs} hand-offs, expected ${TOTAL}`);
  return handoffs / dt;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main() {
  const rnd: number[] = [];
  const pct: number[] = [];
  const base: number[] = [];
  // Warm up the JIT on all three before measuring.
  await baselineRun();
  await simRun("random");
  await simRun("pct");
  // Interleave the measurements so machine noise hits all three alike.
  for (let i = 0; i < REPEATS; i++) {
    base.push(await baselineRun());
    rnd.push(await simRun("random"));
    pct.push(await simRun("pct"));
  }
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(12);
  const b = median(base);
  const r = median(rnd);
  const p = median(pct);
  console.log(`${TASKS} tasks x ${POINTS_PER_TASK} points, median of ${REPEATS} runs`);
  console.log(`baseline (promise hand-off) ${fmt(b)} /s`);
  console.log(`sim random                  ${fmt(r)} /s  ratio ${(r / b).toFixed(2)}`);
  console.log(`sim pct(3)                  ${fmt(p)} /s  ratio ${(p / b).toFixed(2)}`);
  const pointsPerSec = Math.min(r, p);
  console.log(
    JSON.stringify({
      pointsPerSec: Math.round(pointsPerSec),
      baselinePerSec: Math.round(b),
      ratio: Number((pointsPerSec / b).toFixed(3)),
    }),
  );
}

await main();
