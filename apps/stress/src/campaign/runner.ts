/**
 * Running a campaign: its units cut into jobs, the jobs run on N threads (this one and N-1
 * worker threads; N worker threads for DFS, whose jobs cannot pause), the tallies merged. This
 * thread calibrates each unit once for all of them. A campaign of a fixed number of schedules
 * gives each thread the units of a few drivers (affinityGroups), and a thread whose units are
 * done helps the others; a --time campaign keeps one queue. See schedule.ts for why the result
 * does not depend on N, on the split or on the shards.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { applyCampaignV8Flags } from "@primetime/sim/explore";
import type { CampaignConfig } from "./config.js";
import { type Calibration, calibrateUnit, type Job, needsCalibration, runJob } from "./schedule.js";
import { emptyTally, mergeTally, type UnitTally } from "./tally.js";
import { planUnits, type Unit } from "./units.js";
import type { FromWorker, ToWorker, WorkerData } from "./worker.js";

/** Schedules per job of random and PCT campaigns. */
export const CHUNK = 16;
/** DFS schedules per unit with --time (the time budget stops it first). */
const DFS_TIME_LIMIT = 10_000_000;

export interface Progress {
  /** Schedules done so far, failing ones among them. */
  tick(schedules: number, failing: number): void;
}

export interface CampaignRun {
  readonly units: readonly Unit[];
  readonly tallies: readonly UnitTally[];
  readonly elapsedMs: number;
  readonly workers: number;
  /** The time budget ran out (with --time) or fail-fast stopped it. */
  readonly stoppedEarly: boolean;
}

/**
 * The schedule indices of [0, seeds) that `--shard i/n` runs (random and PCT): those equal to
 * i-1 modulo n. The shards 1/n .. n/n partition the seed space.
 */
export function shardIndices(
  shard: { index: number; count: number } | null,
  seeds: number,
): number[] {
  const i = shard ? shard.index - 1 : 0;
  const n = shard ? shard.count : 1;
  const out: number[] = [];
  for (let k = i; k < seeds; k += n) out.push(k);
  return out;
}

/** The jobs of a campaign, lazily (a --time campaign has no end of them). */
function* jobs(c: CampaignConfig, units: readonly Unit[], timeUp: () => boolean): Generator<Job> {
  const shardI = c.shard ? c.shard.index - 1 : 0;
  const shardN = c.shard ? c.shard.count : 1;
  if (c.strategy.strategy === "dfs") {
    for (let u = 0; u < units.length; u++) {
      if (u % shardN !== shardI) continue;
      yield { unit: units[u]!.key, dfs: true, limit: c.seeds ?? DFS_TIME_LIMIT };
    }
    return;
  }
  yield* sampleJobs(c, units, timeUp);
}

/** The sampling jobs of `units`: their chunks of CHUNK indices, unit after unit, round after round. */
function* sampleJobs(
  c: CampaignConfig,
  units: readonly Unit[],
  timeUp: () => boolean,
): Generator<Job> {
  const shardI = c.shard ? c.shard.index - 1 : 0;
  const shardN = c.shard ? c.shard.count : 1;
  // Shard-local index j is global schedule shardI + j * shardN.
  const total = c.seeds ?? Number.POSITIVE_INFINITY;
  for (let j0 = 0; ; j0 += CHUNK) {
    let any = false;
    for (const u of units) {
      const from = shardI + j0 * shardN;
      if (from >= total) continue;
      const to = Math.min(total, shardI + (j0 + CHUNK) * shardN);
      any = true;
      yield { unit: u.key, from, to, step: shardN };
    }
    if (!any || timeUp()) return;
  }
}

/** The set of drivers a unit runs on, as a sort key ("qxl+vgem"). */
function driverSet(u: Unit): string {
  return [...new Set(u.drivers.map((d) => d.name))].sort().join("+");
}

/**
 * Splits `units` between `n` threads so that each thread runs few drivers: the units sorted by
 * their set of drivers (then scenario), cut into `n` consecutive slices of about equal `weight`
 * (a unit's cost per schedule; the slice of a unit is where its middle falls). A thread that
 * runs only some drivers' units compiles only their code: each thread is a V8 instance of its
 * own that warms up on what it runs, and two threads that both ran every unit would both compile
 * all of it (and see every driver's objects at every shared call site).
 */
export function affinityGroups(
  units: readonly Unit[],
  n: number,
  weight: (u: Unit) => number,
): Unit[][] {
  const sorted = affinityOrder(units);
  const total = sorted.reduce((a, u) => a + weight(u), 0);
  const groups: Unit[][] = Array.from({ length: n }, () => []);
  let acc = 0;
  for (const u of sorted) {
    const w = weight(u);
    const g = total > 0 ? Math.min(n - 1, Math.floor(((acc + w / 2) / total) * n)) : 0;
    groups[g]!.push(u);
    acc += w;
  }
  return groups;
}

/** The order affinityGroups() cuts: by set of drivers, then scenario, then plan order. */
export function affinityOrder(units: readonly Unit[]): Unit[] {
  return units
    .map((u, i) => ({ u, i, key: driverSet(u) }))
    .sort(
      (a, b) =>
        (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) ||
        (a.u.scenario.name < b.u.scenario.name
          ? -1
          : a.u.scenario.name > b.u.scenario.name
            ? 1
            : 0) ||
        a.i - b.i,
    )
    .map((x) => x.u);
}

/**
 * The units to calibrate before the affinity groups can be cut (their weights are the
 * calibrations), handed out so that each thread calibrates the units it will most likely run:
 * the affinity order cut into `n` slices of about equal count, thread t taking from the front of
 * slice t, and a thread whose slice is done taking from the slice with the most left, at its end
 * nearest its own slice (where the cut between their groups may fall).
 * Calibrating is running a unit: a thread that calibrated every driver's units would compile
 * (and see at its shared call sites) every driver's code, which affinityGroups() spares it.
 */
export class CalibrationQueue {
  private readonly slices: Unit[][];

  constructor(units: readonly Unit[], n: number) {
    const sorted = affinityOrder(units);
    this.slices = Array.from({ length: n }, (_, t) =>
      sorted.slice(Math.round((t * sorted.length) / n), Math.round(((t + 1) * sorted.length) / n)),
    );
  }

  /** The next unit thread `thread` (0 is this one) calibrates, or undefined when none is left. */
  take(thread: number): Unit | undefined {
    const own = this.slices[thread]?.shift();
    if (own) return own;
    let most = -1;
    this.slices.forEach((s, i) => {
      if (s.length > 0 && (most < 0 || s.length > this.slices[most]!.length)) most = i;
    });
    if (most < 0) return undefined;
    // Its end nearest this thread's slice: where the cut between their groups may fall.
    return most > thread ? this.slices[most]!.shift() : this.slices[most]!.pop();
  }
}

/** The jobs of one affinity group, with one job of lookahead and a count of those left. */
class GroupQueue {
  private readonly it: Generator<Job>;
  private head: IteratorResult<Job>;
  /** Jobs not yet taken. */
  left: number;

  constructor(c: CampaignConfig, units: readonly Unit[], perUnit: number) {
    this.it = sampleJobs(c, units, () => false);
    this.head = this.it.next();
    this.left = units.length * perUnit;
  }

  take(): Job | undefined {
    if (this.head.done) return undefined;
    const job = this.head.value;
    this.head = this.it.next();
    this.left--;
    return job;
  }
}

/** The URL of tsx's ESM API (`tsImport`), resolved from this package. */
function tsxEsmApi(from: string): string {
  try {
    return import.meta.resolve("tsx/esm/api");
  } catch {
    // Where import.meta.resolve is missing (some test runners), the CommonJS resolution gives
    // the same directory.
    const cjs = createRequire(from).resolve("tsx/esm/api");
    return pathToFileURL(cjs.replace(/\.cjs$/, ".mjs")).href;
  }
}

/** How this module starts a worker: the .ts sources through tsx in the repository, else dist. */
function startWorker(data: WorkerData): Worker {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    const api = tsxEsmApi(here);
    const entry = new URL("./worker.ts", here).href;
    const code = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(here)}));`;
    return new Worker(code, {
      eval: true,
      workerData: data,
      execArgv: ["--conditions=@primetime/source"],
    });
  }
  return new Worker(new URL("./worker.js", here), { workerData: data });
}

export async function runCampaign(
  c: CampaignConfig,
  workers: number,
  progress?: Progress,
  now: () => number = Date.now,
): Promise<CampaignRun> {
  // Same schedules, less of V8's compilation (see CAMPAIGN_V8_FLAGS): process-wide, set before
  // any worker thread starts, and for one thread as well (it is faster there too).
  applyCampaignV8Flags();
  const units = planUnits(c);
  const start = now();
  const deadline = c.timeMs === null ? Number.POSITIVE_INFINITY : start + c.timeMs;
  const stopBuf = new Int32Array(new SharedArrayBuffer(4));
  let failed = false;
  const timeUp = () => now() >= deadline;
  const shouldStop = () => timeUp() || (c.failFast && failed);
  const tallies = new Map(units.map((u) => [u.key, emptyTally(u.key)]));
  const absorb = (t: UnitTally) => {
    mergeTally(tallies.get(t.key)!, t);
    if (t.failing > 0) failed = true;
  };
  const queue = jobs(c, units, timeUp);
  const n = Math.max(1, Math.floor(workers));

  if (n === 1) {
    for (const job of queue) {
      if (shouldStop()) break;
      const t = await runJob(c, job, (f) => progress?.tick(1, f ? 1 : 0), shouldStop);
      absorb(t);
    }
  } else {
    await new Promise<void>((resolve, reject) => {
      const pool: Worker[] = [];
      let nextId = 0;
      /** Jobs out on worker threads. */
      let running = 0;
      let done = false;
      // This thread is one of the n: it runs sampling jobs itself between its messages (a DFS
      // job cannot pause, so a DFS campaign gets n worker threads). It first measures the
      // calibrations (PCT, portfolio), in the order the jobs need them, while the workers start;
      // a job goes out with its unit's. Workers waiting for one park.
      const local = c.strategy.strategy !== "dfs";
      let localDone = !local;
      // A campaign of a fixed number of schedules gives each thread its own units (see
      // affinityGroups), and a thread whose units are done helps the others. A --time campaign
      // keeps one queue, unit after unit, so that every unit gets its share of the time.
      const affinity = local && c.seeds !== null && c.timeMs === null;
      /**
       * The affinity groups' jobs, by thread (this one 0): set once every unit is calibrated
       * (this thread and the workers calibrate them, see dispatch()).
       */
      let groups: GroupQueue[] | null = null;
      const threadOf = new Map<Worker, number>();
      const makeGroups = () => {
        const shardI = c.shard ? c.shard.index - 1 : 0;
        const shardN = c.shard ? c.shard.count : 1;
        const indices = Math.max(0, Math.ceil(((c.seeds ?? 0) - shardI) / shardN));
        const perUnit = Math.ceil(indices / CHUNK);
        // A unit's cost per schedule: its calibrated length where there is one.
        const weight = (u: Unit) => Math.max(1, calibrations.get(u.key)?.pctSteps ?? 1);
        groups = affinityGroups(units, n, weight).map((g) => new GroupQueue(c, g, perUnit));
      };
      const calibrate = needsCalibration(c);
      const calibrations = new Map<string, Calibration>();
      // With affinity groups (made from every unit's calibration), the workers calibrate units
      // too while this thread does, each first those of its own part of the affinity order (see
      // CalibrationQueue): the units not handed out yet, and how many are out.
      const uncalibrated = new CalibrationQueue(affinity && calibrate ? units : [], n);
      let calibrating = 0;
      let calibrated: (() => void) | null = null;
      const parked: Worker[] = [];
      let held: Job | undefined;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearInterval(timer);
        for (const w of pool) void w.terminate();
        if (err) reject(err);
        else resolve();
      };
      // The flag workers poll between schedules.
      const timer = setInterval(() => {
        if (shouldStop()) Atomics.store(stopBuf, 0, 1);
      }, 50);
      const nextJob = (thread: number): Job | undefined => {
        if (shouldStop()) Atomics.store(stopBuf, 0, 1);
        if (Atomics.load(stopBuf, 0)) return undefined;
        if (groups) {
          const own = groups[thread]!.take();
          if (own) return own;
          // Its own units are done: it helps the group with the most jobs left.
          let most: GroupQueue | undefined;
          for (const g of groups) if (g.left > 0 && (!most || g.left > most.left)) most = g;
          return most?.take();
        }
        if (held) {
          const j = held;
          held = undefined;
          return j;
        }
        const next = queue.next();
        return next.done ? undefined : next.value;
      };
      /** The job with its unit's calibration, or undefined (and the job held) if not measured yet. */
      const withCalibration = (job: Job): Job | undefined => {
        if (!calibrate || "dfs" in job) return job;
        const cal = calibrations.get(job.unit);
        if (cal) return { ...job, calibration: cal };
        held = job;
        return undefined;
      };
      const dispatch = (w: Worker) => {
        if (done) return;
        if (affinity && !groups) {
          // The groups are made once every unit is calibrated: meanwhile it calibrates units.
          const u = shouldStop() ? undefined : uncalibrated.take(threadOf.get(w)!);
          if (u) {
            calibrating++;
            w.postMessage({ type: "calibrate", id: nextId++, unit: u.key } satisfies ToWorker);
          } else parked.push(w);
          return;
        }
        const job = nextJob(threadOf.get(w)!);
        if (!job) {
          // Nothing left: parked workers have nothing to wait for.
          parked.length = 0;
          if (running === 0 && localDone) finish();
          return;
        }
        const sent = withCalibration(job);
        if (!sent) {
          parked.push(w);
          return;
        }
        running++;
        w.postMessage({ type: "job", id: nextId++, job: sent } satisfies ToWorker);
      };
      const wake = () => {
        for (const w of parked.splice(0)) dispatch(w);
      };
      for (let i = 0; i < (local ? n - 1 : n); i++) {
        const w = startWorker({ config: c, stop: stopBuf });
        pool.push(w);
        threadOf.set(w, pool.length);
        w.on("message", (m: FromWorker) => {
          if (m.type === "tick") progress?.tick(m.schedules, m.failing);
          else if (m.type === "calibrated") {
            calibrations.set(m.unit, m.calibration);
            if (--calibrating === 0) calibrated?.();
            dispatch(w);
          } else if (m.type === "done") {
            progress?.tick(m.schedules, m.failing);
            absorb(m.tally);
            running--;
            dispatch(w);
          } else finish(new Error(`worker: ${m.message}`));
        });
        w.on("error", (e) => finish(e));
      }
      // Every worker takes a job; idle ones take the next as they finish.
      for (const w of pool) dispatch(w);
      // Between two schedules of its own, this thread answers the workers.
      const pause = () => new Promise<void>((r) => setImmediate(r));
      void (async () => {
        if (affinity) {
          for (;;) {
            const u = done || shouldStop() ? undefined : uncalibrated.take(0);
            if (!u) break;
            calibrations.set(u.key, await calibrateUnit(c, u.key));
            await pause();
          }
          // The units the workers still calibrate.
          if (calibrating > 0 && !done)
            await new Promise<void>((resolve) => {
              calibrated = resolve;
            });
          makeGroups();
        } else if (calibrate)
          for (const u of units) {
            if (done || shouldStop()) break;
            calibrations.set(u.key, await calibrateUnit(c, u.key));
            wake();
            await pause();
          }
        wake();
        while (local && !done) {
          const job = nextJob(0);
          if (!job) break;
          // Every unit is calibrated by now (or the campaign is stopping: then runJob measures it).
          const cal = "dfs" in job ? undefined : calibrations.get(job.unit);
          const t = await runJob(
            c,
            cal ? { ...job, calibration: cal } : job,
            (f) => progress?.tick(1, f ? 1 : 0),
            shouldStop,
            pause,
          );
          absorb(t);
        }
        localDone = true;
        wake();
        if (running === 0) finish();
      })().catch((e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    });
  }
  return {
    units,
    tallies: units.map((u) => tallies.get(u.key)!),
    elapsedMs: now() - start,
    workers: n,
    stoppedEarly: shouldStop(),
  };
}
