/**
 * Scheduling points per second with 4 tasks under `random` and `pct`, against a baseline measured
 * in the same run: a bare promise hand-off loop between 4 async functions (the least any
 * scheduler built on promises can cost per switch; it switches at every hand-off).
 *
 * Every point of the workload is a `yieldCpu()` (a spin-wait's cpu_relax): PCT demotes the
 * yielding task below every other, so PCT switches tasks at (nearly) every point, as random does
 * at 3 of 4 points. (A workload of plain `point()`s is no test of PCT's switching: PCT runs its
 * highest-priority task to completion and switches only at its d-1 change points.) The switches
 * of every run are counted from its trace, and the benchmark fails if either strategy switches
 * at fewer than half of its steps.
 *
 * Each of BENCH_REPEATS rounds (default 15) measures the baseline, random and pct once, each over
 * 4 x BENCH_POINTS points (default 250,000: a million points, 80-200 ms, per measurement; rounds
 * of 400,000 points, 30-60 ms, gave per-round ratios from 0.27 to 0.99 and medians that moved by
 * 0.05 from run to run), after two warm-up rounds. A measurement is the run plus its trace hash
 * (which a search computes for every run); afterwards the run's trace buffers are recycled for the
 * next run, as explore() does with every passing run. Each measurement is timed in
 * CPU time of this process (user + system), which other processes on a loaded machine disturb
 * far less than wall-clock time (the wall-clock rates are printed too); the ratio of a round is
 * its strategy's points per CPU second over that round's baseline, and the benchmark prints the
 * median over the rounds with their range and interquartile range. Prints a table, then, as its
 * last line, one JSON object:
 * {"pointsPerSec": ..., "baselinePerSec": ..., "ratio": ..., "random": {...}, "pct": {...}}
 * where pointsPerSec and ratio are those of the slower strategy.
 */
import { performance } from "node:perf_hooks";
import { Simulation, spawn, yieldCpu } from "../src/index.js";

const TASKS = 4;
const POINTS_PER_TASK = Number(process.env.BENCH_POINTS ?? 250_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 15);
const TOTAL = TASKS * POINTS_PER_TASK;

/** CPU seconds (user + system) of this process since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1e6;
}

interface SimMeasure {
  /** Points per CPU second. */
  perSec: number;
  /** Points per wall-clock second. */
  perWallSec: number;
  steps: number;
  switches: number;
  /** The run's trace hash: every round must give the same (the runs are deterministic). */
  hash: string;
}

async function simRun(kind: "random" | "pct"): Promise<SimMeasure> {
  const strategy =
    kind === "pct" ? { kind: "pct" as const, depth: 3 } : { kind: "random" as const };
  const sim = new Simulation({ seed: 42, strategy, stepLimit: TOTAL * 2 });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await sim.run(async () => {
    for (let t = 0; t < TASKS; t++) {
      spawn(`w${t}`, async () => {
        for (let i = 0; i < POINTS_PER_TASK; i++) await yieldCpu("p");
      });
    }
  });
  const hash = r.traceHash;
  const cpu = cpuSince(c0);
  const dt = (performance.now() - t0) / 1000;
  if (r.outcome !== "ok") throw new Error(`bench run ended ${r.outcome}: ${r.message}`);
  // Counted outside the timed part: a switch is a step taken by another task than the last.
  let switches = 0;
  for (let n = 2; n <= r.trace.length; n++)
    if (r.trace.taskAt(n) !== r.trace.taskAt(n - 1)) switches++;
  r.trace.recycle();
  return { perSec: r.steps / cpu, perWallSec: r.steps / dt, steps: r.steps, switches, hash };
}

/** 4 async functions passing a baton round-robin through promises: one resolve + await per hand-off. */
async function baselineRun(): Promise<{ cpu: number; wall: number }> {
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
  const c0 = process.cpuUsage();
  const all = Array.from({ length: TASKS }, (_, i) => worker(i));
  await Promise.resolve();
  resolvers[0]!();
  await Promise.all(all);
  const cpu = cpuSince(c0);
  const dt = (performance.now() - t0) / 1000;
  if (handoffs !== TOTAL) throw new Error(`baseline made ${handoffs} hand-offs, expected ${TOTAL}`);
  return { cpu: handoffs / cpu, wall: handoffs / dt };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main() {
  const base: number[] = [];
  const baseWall: number[] = [];
  const rows = { random: [] as SimMeasure[], pct: [] as SimMeasure[] };
  const ratios = { random: [] as number[], pct: [] as number[] };
  // Warm up the JIT on all three before measuring.
  for (let i = 0; i < 2; i++) {
    await baselineRun();
    await simRun("random");
    await simRun("pct");
  }
  // Interleave the measurements so machine noise hits all three alike, and rotate their order
  // from round to round so that none always pays for the garbage the one before it left.
  const order = ["baseline", "random", "pct"] as const;
  for (let i = 0; i < REPEATS; i++) {
    let b = { cpu: 0, wall: 0 };
    const got: Partial<Record<"random" | "pct", SimMeasure>> = {};
    for (let j = 0; j < order.length; j++) {
      const what = order[(i + j) % order.length]!;
      if (what === "baseline") b = await baselineRun();
      else got[what] = await simRun(what);
    }
    base.push(b.cpu);
    baseWall.push(b.wall);
    for (const kind of ["random", "pct"] as const) {
      const m = got[kind]!;
      rows[kind].push(m);
      ratios[kind].push(m.perSec / b.cpu);
    }
  }
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(12);
  const b = median(base);
  console.log(
    `${TASKS} tasks x ${POINTS_PER_TASK} yieldCpu() points, ${REPEATS} rounds (median; per CPU second; ratio = median of the per-round ratios)`,
  );
  console.log(
    `baseline (promise hand-off) ${fmt(b)} /s  (wall-clock: ${fmt(median(baseWall)).trim()} /s)`,
  );
  const summary: Record<
    string,
    { perSec: number; ratio: number; switchShare: number; traceHash: string }
  > = {};
  let failed = false;
  for (const kind of ["random", "pct"] as const) {
    const perSec = median(rows[kind].map((m) => m.perSec));
    const ratio = median(ratios[kind]);
    const switchShare = Math.min(...rows[kind].map((m) => m.switches / m.steps));
    const sorted = [...ratios[kind]].sort((x, y) => x - y);
    const min = sorted[0]!;
    const max = sorted.at(-1)!;
    const q1 = sorted[Math.floor((sorted.length - 1) / 4)]!;
    const q3 = sorted[Math.ceil((3 * (sorted.length - 1)) / 4)]!;
    const hashes = new Set(rows[kind].map((m) => m.hash));
    if (hashes.size !== 1) {
      console.error(`${kind}: the rounds' runs differ (trace hashes ${[...hashes].join(", ")})`);
      failed = true;
    }
    summary[kind] = {
      perSec: Math.round(perSec),
      ratio: Number(ratio.toFixed(3)),
      switchShare,
      traceHash: rows[kind][0]!.hash,
    };
    const sw = rows[kind][0]!;
    console.log(
      `sim ${kind.padEnd(24)}${fmt(perSec)} /s  ratio ${ratio.toFixed(2)} (${min.toFixed(2)}-${max.toFixed(2)}, IQR ${q1.toFixed(2)}-${q3.toFixed(2)})  switches ${sw.switches.toLocaleString("en-US")} in ${sw.steps.toLocaleString("en-US")} steps  (wall-clock: ${fmt(median(rows[kind].map((m) => m.perWallSec))).trim()} /s)`,
    );
    if (switchShare < 0.5) {
      console.error(`${kind} switched at only ${(switchShare * 100).toFixed(1)} % of its steps`);
      failed = true;
    }
  }
  const slower = summary.random!.ratio <= summary.pct!.ratio ? "random" : "pct";
  console.log(
    JSON.stringify({
      pointsPerSec: summary[slower]!.perSec,
      baselinePerSec: Math.round(b),
      ratio: summary[slower]!.ratio,
      random: summary.random,
      pct: summary.pct,
    }),
  );
  if (failed) process.exitCode = 1;
}

await main();
