/**
 * The machinery every conformance case runs on: a fresh Kernel in a fresh Simulation, the
 * driver's device(s) registered on it, the case's userspace as a process ("igt") using libdrm,
 * and the leak check once it has exited.
 *
 * Each run goes:
 * 1. boot a kernel, register sw_sync ("/dev/sw_sync") and the device under test (and the
 *    partner device of a cross-driver case), and take the baseline: every device's GEM counters and the set of live kernel
 *    objects (what the registration allocated lives as long as the device);
 * 2. spawn the process; it opens one master fd per device first (IGT runs as root, so its files
 *    are authenticated: here every fd the case opens is authenticated by that master), then runs
 *    the case body in its main thread; race cases spawn more threads;
 * 3. wait for the process, quiesce the machine (deferred fputs, RCU callbacks, workqueues), then
 *    check: every device's counters are back at the baseline (objects, handles, flink names,
 *    dma-bufs, PRIME cache entries, files: drmDevCheckLeaks() reports a `warn` splat otherwise),
 *    and kmemleak finds no object allocated during the run still alive.
 *
 * A failed check in userspace throws (the process crashes and the scheduler reports a `bug`
 * splat with the message); the kernel's own oracles report theirs. A run fails if it has any
 * splat or does not end `ok`. A case runs under explore(): once for a sequential case, over many
 * PCT (or bounded DFS) schedules for a race case, stopping at the first failing schedule, whose
 * replay token the result carries.
 */

import { registerSwSync } from "@primetime/dma-buf";
import { type DrmDeviceCounters, drmDevCheckLeaks, drmDevCounters } from "@primetime/gem";
import { Kernel, liveObjects, type Process, type SlabObject } from "@primetime/kernel";
import { DrmFd, isSysError } from "@primetime/libdrm";
import {
  formatSplat,
  type RunOutcome,
  type RunResult,
  type Simulation,
  type Splat,
  type Task,
} from "@primetime/sim";
import {
  type ExploreOptions,
  explore,
  type Minimized,
  minimize,
  type RaceTable,
  raceTable,
  resolveSearchOptions,
  type Scenario,
  type SearchOptions,
} from "@primetime/sim/explore";
import {
  type BoMapping,
  type DeviceUnderTest,
  type DriverUnderTest,
  registerDevice,
} from "./driver-under-test.js";
import { caseOrigin } from "./origins.js";

/**
 * How to run a case: the search options of @primetime/sim/explore as they are. A case's
 * `defaults` (RACE_DEFAULTS, SEQUENTIAL_DEFAULTS) override SEARCH_DEFAULTS, and what the caller
 * gives overrides both.
 */
export type CaseRunOptions = SearchOptions;

/** What running a case found. */
export interface CaseResult {
  /** "prime_self_import/basic-with_one_bo". */
  readonly name: string;
  /** No schedule failed. */
  readonly passed: boolean;
  /** Schedules run (over all variants). */
  readonly schedules: number;
  /** DFS only: every schedule within the bound was run, for every variant. */
  readonly complete: boolean;
  /** The first failing run, if any. */
  readonly failure: RunResult | null;
  /** The variant (e.g. close order) the first failure ran, if the case has variants. */
  readonly failedVariant: number | null;
  /** Its outcome ("ok" if none failed). */
  readonly outcome: RunOutcome;
  /** Its splats. */
  readonly splats: readonly Splat[];
  /** Its replay token (replayCase() reruns it), or null. */
  readonly token: string | null;
  /** A human summary of what went wrong (empty if passed). */
  readonly failures: readonly string[];
}

/** A conformance case, runnable on its own (the stress harness runs these under explore). */
export interface ConformanceCase {
  /** "<IGT binary>/<subtest>", e.g. "gem_flink_race/flink_close". */
  readonly name: string;
  /** Its group ("gem_flink_basic", "prime_cross_driver"...): the IGT test or primetime's own. */
  readonly group: string;
  /** Where the group comes from: "IGT tests/<file>.c" or "primetime's own case ..." (CASE_ORIGINS). */
  readonly origin: string;
  /** True if the case races threads (run under explore with many schedules). */
  readonly race: boolean;
  /** One line on what it checks. */
  readonly description: string;
  /** The options `run()` uses when given none. */
  readonly defaults: Readonly<CaseRunOptions>;
  /** Runs the case (every variant) under explore and reports the first failure. */
  run(opts?: CaseRunOptions): Promise<CaseResult>;
  /** The scenario of one variant, for explore()/replay() by the caller. */
  scenario(variant?: number): Scenario;
  /** How many variants the case has (close orders...); 1 for most. */
  readonly variants: number;
  /** Tasks of the harness (by name), left out of race tables: they race nobody. */
  readonly harnessTasks: readonly string[];
}

/** The harness's own task in every case run: it boots, waits for `igt`, quiesces, checks. */
export const HARNESS_TASKS: readonly string[] = ["main"];

/** What a case body gets: the machine, the process, and helpers that check as IGT does. */
export interface CaseContext {
  readonly sim: Simulation;
  readonly kernel: Kernel;
  /** The process the body runs in (its main thread). */
  readonly proc: Process;
  /** The device of the driver under test. */
  readonly dev: DeviceUnderTest;
  /** The partner device of a cross-driver case, else null. */
  readonly other: DeviceUnderTest | null;
  /** The variant being run (0 unless the case has variants). */
  readonly variant: number;
  /** Opens the primary node of `dev` (default: the device under test), authenticated. */
  open(dev?: DeviceUnderTest): Promise<DrmFd>;
  /**
   * The harness's fd of `dev`'s primary node (default: the device under test), opened first and
   * so the device's master: the one that authenticates open()'s files. A case that drops its
   * mastership sets it again before it ends.
   */
  masterFd(dev?: DeviceUnderTest): DrmFd;
  /** Creates a buffer object of `size` bytes through the device's driver. */
  createBo(drm: DrmFd, size: number, dev?: DeviceUnderTest): Promise<number>;
  /** Maps a handle's object through the device's driver. */
  mapBo(drm: DrmFd, handle: number, size: number, dev?: DeviceUnderTest): Promise<BoMapping>;
  /** Spawns a thread of the process (pthread_create); join it with `await task.join()`. */
  thread(name: string, fn: () => Promise<void>): Task;
  /** igt_assert(): throws (crashing the process) with `message` unless `cond`. */
  check(cond: unknown, message: string): asserts cond;
  /**
   * Awaits `op` and returns its value, or null if it threw a SysError with one of `codes` (the
   * raw ioctls IGT expects to fail). Any other failure is a check failure.
   */
  allowErrno<T>(op: Promise<T>, codes: readonly string[], what: string): Promise<T | null>;
  /** Checks that `op` fails with SysError `code` (igt_assert(ret == -1 && errno == code)). */
  expectErrno(op: Promise<unknown>, code: string, what: string): Promise<void>;
  /**
   * IGT's igt_get_stable_obj_count() for `dev` (default: the device under test): quiesces the
   * machine and returns the device's GEM counters.
   */
  stableCounts(dev?: DeviceUnderTest): Promise<DrmDeviceCounters>;
  /** The counters of `dev` when the case started (before any file was opened). */
  baseline(dev?: DeviceUnderTest): DrmDeviceCounters;
}

/** The body of a case: userspace code in the main thread of the case's process. */
export type CaseBody = (t: CaseContext) => Promise<void>;

/** Everything a case is made of, before it is bound to drivers. */
export interface CaseSpec {
  readonly name: string;
  readonly group: string;
  readonly race: boolean;
  readonly description: string;
  readonly defaults: Readonly<CaseRunOptions>;
  /** Number of variants (default 1). */
  readonly variants?: number;
  readonly body: CaseBody;
}

/** Thrown by CaseContext.check(): a failed IGT assertion. */
export class ConformanceCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConformanceCheckError";
  }
}

/** The default options of sequential and race cases. */
export const SEQUENTIAL_DEFAULTS: Readonly<CaseRunOptions> = { strategy: "pct", schedules: 1 };
export const RACE_DEFAULTS: Readonly<CaseRunOptions> = {
  strategy: "pct",
  schedules: 150,
  depth: 3,
};

/**
 * The scenario of one run of `spec` on `driver` (plus `other` for cross-driver cases): see the
 * file comment for the steps.
 */
export function caseScenario(
  spec: CaseSpec,
  driver: DriverUnderTest,
  other: DriverUnderTest | null,
  variant = 0,
): Scenario {
  return async (sim: Simulation) => {
    const kernel = Kernel.boot();
    // sw_sync (CONFIG_SW_SYNC): the cases' software fences.
    registerSwSync(kernel);
    const dev = await registerDevice(driver, kernel);
    const partner = other ? await registerDevice(other, kernel) : null;
    const devices = partner ? [dev, partner] : [dev];
    const baselines = new Map(devices.map((d) => [d, drmDevCounters(d.device)] as const));
    const survivors = new Set<SlabObject>(liveObjects());

    const proc = kernel.spawnProcess("igt", async (p) => {
      const masters = new Map<DeviceUnderTest, DrmFd>();
      // IGT runs as root: its files are authenticated. Here a master fd per device
      // authenticates every fd the case opens.
      for (const d of devices) masters.set(d, await DrmFd.open(p, d.card));
      const t = makeContext(sim, kernel, p, dev, partner, variant, masters, baselines);
      await spec.body(t);
      for (const m of masters.values()) await m.close();
    });
    const code = await proc.wait();
    if (code !== 0) sim.report("warn", `${spec.name}: the igt process exited with code ${code}`);
    await kernel.quiesce();
    for (const d of devices) drmDevCheckLeaks(d.device, baselines.get(d)!);
    await kernel.checkLeaks({ ignore: (o) => survivors.has(o) });
  };
}

function makeContext(
  sim: Simulation,
  kernel: Kernel,
  proc: Process,
  dev: DeviceUnderTest,
  other: DeviceUnderTest | null,
  variant: number,
  masters: Map<DeviceUnderTest, DrmFd>,
  baselines: Map<DeviceUnderTest, DrmDeviceCounters>,
): CaseContext {
  const check = (cond: unknown, message: string): asserts cond => {
    if (!cond) throw new ConformanceCheckError(message);
  };
  return {
    sim,
    kernel,
    proc,
    dev,
    other,
    variant,
    async open(d = dev) {
      const drm = await DrmFd.open(proc, d.card);
      await drm.authenticate(masters.get(d)!);
      return drm;
    },
    masterFd: (d = dev) => masters.get(d)!,
    createBo: (drm, size, d = dev) => d.createBo(drm, size),
    mapBo: (drm, handle, size, d = dev) => d.mapBo(drm, handle, size),
    thread(name, fn) {
      return proc.spawnThread(name, fn);
    },
    check,
    async allowErrno<T>(op: Promise<T>, codes: readonly string[], what: string) {
      try {
        return await op;
      } catch (e) {
        if (isSysError(e) && codes.includes(e.code)) return null;
        if (isSysError(e))
          throw new ConformanceCheckError(`${what}: ${e.message}, expected ${codes.join(" or ")}`);
        throw e;
      }
    },
    async expectErrno(op, code, what) {
      let got: string;
      try {
        await op;
        got = "success";
      } catch (e) {
        if (!isSysError(e)) throw e;
        if (e.code === code) return;
        got = e.code;
      }
      throw new ConformanceCheckError(`${what}: expected ${code}, got ${got}`);
    },
    async stableCounts(d = dev) {
      await kernel.quiesce();
      return drmDevCounters(d.device);
    },
    baseline: (d = dev) => ({ ...baselines.get(d)! }),
  };
}

/** One line per problem of a failing run: its outcome and its splats. */
export function describeFailure(r: RunResult): string[] {
  const out: string[] = [];
  if (r.outcome !== "ok") out.push(`outcome ${r.outcome}${r.message ? `: ${r.message}` : ""}`);
  for (const s of r.splats) out.push(formatSplat(s));
  return out;
}

/** Runs `spec` (every variant) under explore with `opts` over the spec's defaults. */
export async function runCaseSpec(
  spec: CaseSpec,
  driver: DriverUnderTest,
  other: DriverUnderTest | null,
  name: string,
  opts: CaseRunOptions = {},
): Promise<CaseResult> {
  const o = resolveSearchOptions(spec.defaults, opts);
  const variants = spec.variants ?? 1;
  let schedules = 0;
  let complete = true;
  for (let v = 0; v < variants; v++) {
    const eo: ExploreOptions = {
      ...o,
      seed: o.seed + v,
      scenario: variants > 1 ? `${name}#${v}` : name,
    };
    const r = await explore(caseScenario(spec, driver, other, v), eo);
    schedules += r.schedules;
    complete &&= r.complete;
    const f = r.firstFailure;
    if (f) {
      return {
        name,
        passed: false,
        schedules,
        complete: false,
        failure: f,
        failedVariant: variants > 1 ? v : null,
        outcome: f.outcome,
        splats: f.splats,
        token: f.token,
        failures: describeFailure(f),
      };
    }
  }
  return {
    name,
    passed: true,
    schedules,
    complete,
    failure: null,
    failedVariant: null,
    outcome: "ok",
    splats: [],
    token: null,
    failures: [],
  };
}

/** Binds a spec to drivers: a ConformanceCase. */
export function bindCase(
  spec: CaseSpec,
  driver: DriverUnderTest,
  other: DriverUnderTest | null = null,
  name = spec.name,
): ConformanceCase {
  return {
    name,
    group: spec.group,
    origin: caseOrigin(spec.group),
    race: spec.race,
    description: spec.description,
    defaults: spec.defaults,
    variants: spec.variants ?? 1,
    run: (opts) => runCaseSpec(spec, driver, other, name, opts),
    scenario: (variant = 0) => caseScenario(spec, driver, other, variant),
    harnessTasks: HARNESS_TASKS,
  };
}

/** The failure report of a case: its splats and how to replay it. */
export function formatCaseResult(r: CaseResult): string {
  if (r.passed) return `${r.name}: passed (${r.schedules} schedules)`;
  return [
    `${r.name}: FAILED after ${r.schedules} schedules${r.failedVariant !== null ? ` (variant ${r.failedVariant})` : ""}`,
    ...r.failures.map((f) => `  ${f.replace(/\n/g, "\n  ")}`),
    `  replay token: ${r.token}`,
  ].join("\n");
}

/** A failing case's run minimized, and its race table. */
export interface MinimizedFailure {
  readonly minimized: Minimized;
  readonly table: RaceTable;
}

/**
 * Minimizes the failing run of `r` (a result of `c.run()`) within `budget` runs and renders its
 * race table without the harness's tasks, around the preemptions that remain. Null if `r` passed.
 */
export async function minimizeCaseFailure(
  c: ConformanceCase,
  r: CaseResult,
  budget = 150,
  width = 100,
): Promise<MinimizedFailure | null> {
  if (r.passed || r.token === null) return null;
  const minimized = await minimize(r.token, c.scenario(r.failedVariant ?? 0), { budget });
  const table = raceTable(minimized.run, {
    hide: c.harnessTasks,
    focus: minimized.preemptionSteps,
    width,
  });
  return { minimized, table };
}

/**
 * The failure report of a case with its minimized interleaving: the splats, the race table of
 * the minimized run (as a kernel commit message shows a race), its replay token and the original
 * one. What a failing vitest case prints.
 */
export async function formatCaseFailure(c: ConformanceCase, r: CaseResult): Promise<string> {
  const base = formatCaseResult(r);
  if (r.passed) return base;
  let m: MinimizedFailure | null = null;
  try {
    m = await minimizeCaseFailure(c, r);
  } catch (e) {
    return `${base}\n  (minimization failed: ${e instanceof Error ? e.message : String(e)})`;
  }
  if (!m) return base;
  const { minimized: mm, table } = m;
  return [
    base,
    `  minimized in ${mm.runs} runs: ${mm.preemptions.before} -> ${mm.preemptions.after} preemptions, ${mm.steps.after} steps`,
    `  ${table.text.replace(/\n/g, "\n  ")}`,
    `  minimized replay token: ${mm.token}`,
  ].join("\n");
}
