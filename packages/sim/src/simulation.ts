import { type Timer, VirtualClock } from "./clock.js";
import { KernelBug, ReplayMismatchError, ReplayTokenError } from "./errors.js";
import { getStrategy, type StrategyParams } from "./explore/strategies/index.js";
import { RandomStrategy } from "./explore/strategies/random.js";
import { ReplayStrategy } from "./explore/strategies/replay.js";
import { decodeToken, encodeToken, quotePrefix, type RunToken } from "./explore/token.js";
import { Prng } from "./prng.js";
import { processState } from "./process-state.js";
import {
  Dmesg,
  isSplatKind,
  type RelatedSite,
  type ReportOptions,
  type Site,
  type Splat,
  type SplatKind,
} from "./splat.js";
import type { Strategy, StrategyName } from "./strategy.js";
import { type SpawnOptions, Task } from "./task.js";
import { findToggle, listToggles } from "./toggles.js";
import { Trace } from "./trace.js";
import { WaitQueue } from "./wait-queue.js";

/**
 * A strategy by registered name (see registerStrategy in @primetime/sim/explore) with its
 * parameters, or a replay token to follow.
 */
export type StrategySpec = { kind: "replay"; token: string } | ({ kind: string } & StrategyParams);

function isReplaySpec(spec: StrategySpec): spec is { kind: "replay"; token: string } {
  return spec.kind === "replay" && "token" in spec;
}

export interface SimulationOptions {
  /** PRNG seed (32-bit). Default 1. Ignored for replays (the token has it). */
  seed?: number;
  /** Default `{ kind: "random" }`. */
  strategy?: Strategy | StrategySpec;
  /** Steps after which the run stops as a possible livelock. Default 200 000. */
  stepLimit?: number;
  /** A name for the scenario, carried in the replay token. */
  scenario?: string;
  /** Historic-bug toggles to turn on for this run (see toggles.ts). Unknown names are rejected. */
  toggles?: readonly string[];
}

export type RunOutcome = "ok" | "deadlock" | "livelock" | "escape" | "replay-mismatch";

export interface RunResult {
  readonly outcome: RunOutcome;
  /** Everything the oracles reported (the simulated dmesg). */
  readonly splats: readonly Splat[];
  readonly steps: number;
  /** Virtual time at the end, in ns. */
  readonly time: number;
  readonly seed: number;
  readonly strategy: StrategyName;
  /** Replays this exact run: `replay(token, scenario)`. */
  readonly token: string;
  /** The trace hash in hex (computed on first read, or when the trace is recycled). */
  readonly traceHash: string;
  readonly trace: Trace;
  /** For deadlock, livelock, escape and replay mismatch: what happened. */
  readonly message?: string;
}

/**
 * The settled promise point() returns when the running task goes on (and outside a run): a
 * caller may skip awaiting it. @primetime/atomics re-exports it as the one RESOLVED the model's
 * fast paths return, so `p !== RESOLVED` means the same wherever a promise comes from.
 */
export const RESOLVED: Promise<void> = Promise.resolve();
/**
 * Returned to tasks of a run that has ended: they stay suspended and are garbage collected. A
 * fresh promise each time: every `await` on a promise adds a reaction to it that holds the
 * awaiting function's frame, so one module-wide never-settling promise kept every task that ever
 * awaited it (and through them each ended run's whole model) alive for the life of the process.
 */
function never(): Promise<never> {
  return new Promise<never>(() => {});
}

/**
 * A task switch suspends the current task on a fresh promise whose resolver the task keeps as
 * `resume`. The executor is a closure over the task: one executor shared by every switch, handing
 * the resolver over through a module variable, saved that closure's allocation but cost more than
 * it saved (each switch wrote the module variable twice): the points benchmark ran 8-12 % faster
 * with the closure, and its instruction count per point fell by about 100 (sim README).
 */
function suspend(cur: Task): Promise<void> {
  return new Promise<void>((res) => {
    cur.resume = res;
  });
}

/** Thrown into a task whose run ended under it (replay divergence inside a data choice). */
class SimulationAborted extends Error {}

/** The running simulation and the might_sleep hooks live in the process state (process-state.ts). */
const shared = processState;
const blockHooks = shared.blockHooks;

/**
 * Registers a check that runs whenever a task is about to sleep (might_sleep()): RCU lockdep
 * ("sleeping in a read-side section") and the spinlock checker ("sleeping while atomic") use it.
 * Hooks are process-wide; they read per-task state (TaskLocal) to decide.
 */
export function onBlock(hook: (task: Task, wq: WaitQueue, label: string) => void): void {
  blockHooks.push(hook);
}
let watchdogArmed = false;

/**
 * The escape detector. A run is a single chain of promise reactions: while it is healthy the
 * microtask queue never empties, so no macrotask runs. If one runs while a simulation is still
 * running, the running task awaited something the simulation does not control.
 */
function armWatchdog(): void {
  if (watchdogArmed) return;
  watchdogArmed = true;
  setImmediate(() => {
    watchdogArmed = false;
    if (shared.active?.running) shared.active.escaped();
  });
}

/** The simulation running in this thread, if any. */
export function activeSimulation(): Simulation | null {
  return shared.active;
}

function makeStrategy(
  spec: StrategySpec | Strategy | undefined,
  expected: RunToken | null,
): Strategy {
  if (spec === undefined) return new RandomStrategy();
  if ("pickTask" in spec) return spec;
  if (expected) return new ReplayStrategy(expected.choices, expected.strategy, expected.param);
  return getStrategy(spec.kind).create(spec as StrategyParams);
}

/** A concurrent scenario: the body of the main task, which spawns the others (`Simulation.run`). */
export type Scenario = (sim: Simulation) => Promise<void> | void;

/**
 * One deterministic run of a concurrent scenario (ARCHITECTURE.md section 1).
 *
 * Tasks are async functions; only one runs at a time, until its next scheduling point
 * (`await point(label)`), where the strategy picks who runs next. Blocking (wait queues, mutexes,
 * sleeps) takes the task off the run queue. Virtual time advances only when no task can run. The
 * run ends when nothing can run and no timer is pending: cleanly, or as a deadlock if tasks are
 * still blocked; past the step limit it stops as a possible livelock.
 */
export class Simulation {
  readonly seed: number;
  readonly strategy: Strategy;
  readonly stepLimit: number;
  readonly scenario: string;
  /** Historic-bug toggles on in this run. */
  readonly toggles: ReadonlySet<string>;
  readonly clock = new VirtualClock();
  readonly dmesg = new Dmesg();
  readonly trace = new Trace();
  readonly prng: Prng;
  /** The task running now (null in scheduler context: timer callbacks). */
  current: Task | null = null;
  /**
   * Per-simulation state of the layers above (the slab, lockdep's graph, RCU), by SimLocal slot:
   * see SimLocal.
   */
  readonly locals: unknown[] = [];
  /** Steps so far. */
  steps = 0;
  /** Steps with more than one runnable task (what PCT counts). */
  decisions = 0;
  private status: "idle" | "running" | "done" = "idle";
  private readonly tasks: Task[] = [];
  /** Runnable tasks, sorted by id (the order strategies see). */
  private readonly runnable: Task[] = [];
  private readonly exitHooks: ((t: Task) => void)[] = [];
  private readonly endHooks: ((r: RunResult) => void)[] = [];
  private expected: RunToken | null = null;
  private resolveRun: ((r: RunResult) => void) | null = null;
  private result: RunResult | null = null;
  private nextId = 1;

  constructor(opts: SimulationOptions = {}) {
    const spec = opts.strategy;
    if (spec && !("pickTask" in spec) && isReplaySpec(spec))
      this.expected = decodeToken(spec.token);
    this.strategy = makeStrategy(spec, this.expected);
    this.seed = (this.expected ? this.expected.seed : (opts.seed ?? 1)) >>> 0;
    if (!Number.isInteger(this.seed))
      throw new RangeError(`seed must be an integer, got ${opts.seed}`);
    this.stepLimit = this.expected?.stepLimit ?? opts.stepLimit ?? 200_000;
    if (!Number.isInteger(this.stepLimit) || this.stepLimit < 1)
      throw new RangeError(`stepLimit must be a positive integer, got ${opts.stepLimit}`);
    this.scenario = opts.scenario ?? this.expected?.scenario ?? "";
    this.prng = new Prng(this.seed);
    const toggles = this.expected ? this.expected.toggles : (opts.toggles ?? []);
    if (
      this.expected &&
      opts.toggles &&
      [...opts.toggles].sort().join() !== [...toggles].sort().join()
    ) {
      throw new ReplayMismatchError(
        `the replay token was recorded with toggles [${toggles.join(", ")}], not [${opts.toggles.map((t) => quotePrefix(t, 64)).join(", ")}]`,
      );
    }
    for (const name of toggles) {
      if (!findToggle(name)) {
        const known = listToggles().map((t) => t.name);
        const what = `unknown toggle ${quotePrefix(name, 64)}${known.length ? ` (known: ${known.join(", ")})` : " (no toggles are defined by the packages loaded)"}`;
        // A token naming a toggle nobody defines is a bad token, not a bad call.
        if (this.expected) throw new ReplayTokenError(`the replay token turns on an ${what}`);
        throw new RangeError(what);
      }
    }
    this.toggles = new Set(toggles);
  }

  get running(): boolean {
    return this.status === "running";
  }

  get now(): number {
    return this.clock.now;
  }

  /**
   * Runs `main` as the task "main" and everything it spawns, to the end. Resolves (never rejects)
   * with the outcome, the splats and the replay token.
   */
  run(main: Scenario): Promise<RunResult> {
    if (this.status !== "idle")
      throw new Error("a Simulation runs once; create a new one for another run");
    if (shared.active?.running)
      throw new Error("another simulation is running in this thread; runs must not overlap");
    shared.active = this;
    this.status = "running";
    this.strategy.begin(this.prng);
    const done = new Promise<RunResult>((res) => {
      this.resolveRun = res;
    });
    this.spawn("main", () => main(this));
    armWatchdog();
    const first = this.pickNext(null);
    if (first) this.switchTo(first);
    return done;
  }

  /** Creates a task; it becomes runnable now and starts when the strategy first picks it. */
  spawn(name: string, fn: () => Promise<void> | void, opts: SpawnOptions = {}): Task {
    if (this.status === "done") throw new Error("cannot spawn into a finished simulation");
    const t = new Task(this, this.nextId++, name, this.current, opts);
    this.tasks.push(t);
    this.trace.nameTask(t.id, name);
    // Made, then stored: V8 allocates a function literal assigned straight to a property in the
    // old generation (it takes it for a method), and from there this per-task closure kept its
    // context, and through it the task and the whole run, alive through every young collection
    // until the next full one (README, "Garbage the scavenger keeps").
    const resume = () => {
      queueMicrotask(() => this.runTaskBody(t, fn));
    };
    t.resume = resume;
    this.runnable.push(t); // ids grow, so the list stays sorted
    this.strategy.spawned(t);
    return t;
  }

  /** A scheduling point: the strategy may switch to another task here. */
  point(label: string): Promise<void> {
    if (this.status !== "running") return this.status === "done" ? never() : RESOLVED;
    const cur = this.current;
    if (cur === null) throw new Error(`point("${label}") outside a task (in a timer callback?)`);
    if (!this.recordStep(cur, label)) return never();
    const next = this.pickNext(cur);
    if (next === cur) return RESOLVED;
    if (next === null) return never();
    const p = suspend(cur);
    this.switchTo(next);
    return p;
  }

  /** A point where the task gives the CPU away on purpose (cond_resched, cpu_relax in a spin). */
  yield(label = "yield"): Promise<void> {
    if (this.current && this.status === "running") this.strategy.yielded(this.current);
    return this.point(label);
  }

  /** @internal Blocks the current task, which `wq` has already queued. */
  block(wq: WaitQueue, label: string): Promise<void> {
    if (this.status !== "running") return this.status === "done" ? never() : RESOLVED;
    const cur = this.current;
    if (cur === null) throw new Error(`cannot block in scheduler context (${label})`);
    for (const h of blockHooks) h(cur, wq, label);
    if (!this.recordStep(cur, label)) return never();
    cur.state = "blocked";
    cur.waitingOn = wq;
    this.removeRunnable(cur);
    const next = this.pickNext(cur);
    if (next === null) return never();
    if (next === cur) {
      this.current = cur; // a timer woke it while time advanced
      return RESOLVED;
    }
    const p = suspend(cur);
    this.switchTo(next);
    return p;
  }

  /** @internal Makes a blocked task runnable again (it runs when the strategy picks it). */
  wake(t: Task): void {
    if (t.state !== "blocked" || this.status !== "running") return;
    t.state = "runnable";
    t.waitingOn = null;
    t.sleepState = 0;
    const r = this.runnable;
    let i = r.length;
    while (i > 0 && r[i - 1]!.id > t.id) i--;
    r.splice(i, 0, t);
  }

  /** A nondeterministic value in [0, n), recorded in the trace (and enumerated by DFS). */
  choose(n: number, _label = "choose"): number {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`choose(n) needs an integer n >= 1, got ${n}`);
    if (n === 1 || this.status !== "running") return 0;
    const v = this.strategy.choose(n);
    if (v < 0) {
      this.finish("replay-mismatch", this.strategy.divergence ?? "replay diverged");
      throw new SimulationAborted();
    }
    this.trace.choice(v);
    return v;
  }

  /** True with probability p (fault injection), recorded like any choice. */
  flip(p: number, label = "flip"): boolean {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`flip(p) needs 0 <= p <= 1, got ${p}`);
    if (p === 0) return false;
    if (p === 1) return true;
    if (this.strategy.flip) {
      if (this.status !== "running") return false;
      const v = this.strategy.flip(p);
      this.trace.choice(v);
      return v === 1;
    }
    return this.choose(2, label) === 1;
  }

  /** Runs `fn` in scheduler context after `delay` ns of virtual time. */
  addTimer(delay: number, fn: () => void): Timer {
    return this.clock.add(delay, fn);
  }

  /** Sleeps the current task for `ns` of virtual time. */
  async sleep(ns: number, label = `sleep(${ns})`): Promise<void> {
    await new WaitQueue("sleep").waitTimeout(ns, label);
  }

  /** Calls `hook` whenever a task exits (lockdep's held-locks check, for instance). */
  onTaskExit(hook: (t: Task) => void): void {
    this.exitHooks.push(hook);
  }

  /** Calls `hook` with the result when the run ends. */
  onEnd(hook: (r: RunResult) => void): void {
    this.endHooks.push(hook);
  }

  /** Records a splat in this simulation's dmesg. */
  report(kind: SplatKind, message: string, opts: ReportOptions = {}): Splat {
    if (!isSplatKind(kind))
      throw new RangeError(
        `unknown splat kind ${JSON.stringify(String(kind).slice(0, 32))}: declare it with defineSplatKind()`,
      );
    const t = this.current;
    const s: Splat = {
      kind,
      message,
      task: t ? t.name : null,
      taskId: t ? t.id : 0,
      step: this.steps,
      object: opts.object,
      sites: opts.sites ?? [],
    };
    this.dmesg.push(s);
    return s;
  }

  /** Where the current task is now (for alloc/free sites, lock holders). */
  here(label?: string): Site {
    const t = this.current;
    return {
      task: t ? t.name : "<scheduler>",
      taskId: t ? t.id : 0,
      step: this.steps,
      label: label ?? t?.lastLabel ?? "",
    };
  }

  /** All tasks ever spawned in this run. */
  allTasks(): readonly Task[] {
    return this.tasks;
  }

  /** @internal The watchdog found the running task awaiting something foreign. */
  escaped(): void {
    const t = this.current;
    const who = t ? `${t.name}[${t.id}]` : "the scheduler";
    const msg = `task ${who} awaited something the simulation does not control (a real timer, I/O, or a promise no simulated task resolves) after step ${this.steps} "${t?.lastLabel ?? ""}"`;
    this.report("escape", msg);
    this.finish("escape", msg);
  }

  private recordStep(cur: Task, label: string): boolean {
    const n = ++this.steps;
    cur.lastLabel = label;
    this.trace.step(cur.id, label);
    if (n >= this.stepLimit) {
      const busy = this.runnable.map(String).join(", ");
      const msg = `step limit of ${this.stepLimit} reached: possible livelock (runnable: ${busy})`;
      this.report("livelock", msg);
      this.finish("livelock", msg);
      return false;
    }
    return true;
  }

  private removeRunnable(t: Task): void {
    const i = this.runnable.indexOf(t);
    if (i >= 0) this.runnable.splice(i, 1);
  }

  /** Picks who runs next; advances virtual time when nobody can run. null: the run has ended. */
  private pickNext(cur: Task | null): Task | null {
    for (;;) {
      if (this.status !== "running") return null;
      const r = this.runnable;
      if (r.length === 1) return r[0]!;
      if (r.length > 1) {
        this.decisions++;
        const t = this.strategy.pickTask(r, cur);
        if (t === null) {
          this.finish("replay-mismatch", this.strategy.divergence ?? "replay diverged");
          return null;
        }
        this.trace.choice(t.id);
        return t;
      }
      this.current = null;
      if (this.clock.advance()) continue;
      this.endOfRun();
      return null;
    }
  }

  private switchTo(next: Task): void {
    this.current = next;
    const resume = next.resume!;
    next.resume = null;
    resume();
  }

  private async runTaskBody(t: Task, fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (this.status !== "running" || e instanceof SimulationAborted) return;
      t.error = e;
      if (!(e instanceof KernelBug)) {
        const err = e instanceof Error ? e : new Error(String(e));
        this.report("bug", `unhandled exception in ${t.name}[${t.id}]: ${err.message}`, {
          sites: [
            {
              role: "thrown",
              ...this.here(),
              label: err.stack?.split("\n")[1]?.trim() ?? t.lastLabel,
            },
          ],
        });
      }
    }
    if (this.status !== "running" || this.current !== t) return;
    this.exitTask(t);
  }

  private exitTask(t: Task): void {
    if (!this.recordStep(t, "exit")) return;
    t.state = "exited";
    this.removeRunnable(t);
    for (const h of this.exitHooks) h(t);
    t.notifyExit();
    const next = this.pickNext(null);
    if (next) this.switchTo(next);
  }

  private endOfRun(): void {
    const stuck = this.tasks.filter((t) => t.state === "blocked" && !t.daemon);
    if (stuck.length === 0) {
      this.finish("ok");
      return;
    }
    const lines = stuck.map((t) => `${t.name}[${t.id}] waits on ${t.waitingOn?.describe() ?? "?"}`);
    const msg = `no task can run and none is pending; blocked: ${lines.join("; ")}`;
    const sites: RelatedSite[] = stuck.map((t) => ({
      role: "waiting",
      task: t.name,
      taskId: t.id,
      step: this.steps,
      label: t.lastLabel,
    }));
    this.report("deadlock", msg, { sites });
    this.finish("deadlock", msg);
  }

  private finish(outcome: RunOutcome, message?: string): void {
    if (this.status !== "running") return;
    this.status = "done";
    if (shared.active === this) shared.active = null;
    this.strategy.end(this.decisions);
    const exp = this.expected;
    if (exp && outcome !== "replay-mismatch") {
      const replay = this.strategy as ReplayStrategy;
      if (!replay.exhausted) {
        outcome = "replay-mismatch";
        message = `the run ended after ${replay.consumed} of the token's ${exp.choices.length} choices`;
      } else if (this.steps !== exp.steps || this.trace.hash !== exp.traceHash >>> 0) {
        outcome = "replay-mismatch";
        message = `the run took ${this.steps} steps (trace ${this.trace.hashHex}), the token recorded ${exp.steps} steps (trace ${(exp.traceHash >>> 0).toString(16).padStart(8, "0")}): the scenario or the code changed`;
      }
    }
    const recordedBy = this.strategy.recordedBy ?? this.strategy.name;
    const fields: Omit<RunToken, "choices" | "traceHash"> = {
      strategy: recordedBy,
      param: this.strategy.param,
      seed: this.seed,
      steps: this.steps,
      stepLimit: this.stepLimit,
      scenario: this.scenario,
      toggles: [...this.toggles],
    };
    // Token and hash are computed on first use (see lazyResult()).
    this.result = lazyResult(
      outcome,
      this.dmesg.splats,
      this.steps,
      this.clock.now,
      this.seed,
      recordedBy,
      fields,
      this.trace,
      message,
    );
    for (const h of this.endHooks) h(this.result);
    this.resolveRun?.(this.result);
  }
}

/** What a RunResult's lazy `token` and `traceHash` read, kept on it under LAZY. */
interface LazyRunState {
  readonly fields: Omit<RunToken, "choices" | "traceHash">;
  readonly trace: Trace;
  token: string | null;
  traceHash: string | null;
}

const LAZY = Symbol("primetime.lazyRunResult");

type LazyRunResult = RunResult & { readonly [LAZY]: LazyRunState };

function lazyToken(this: LazyRunResult): string {
  const l = this[LAZY];
  l.token ??= encodeToken({ ...l.fields, traceHash: l.trace.hash, choices: l.trace.choices });
  return l.token;
}

function lazyTraceHash(this: LazyRunResult): string {
  const l = this[LAZY];
  l.traceHash ??= l.trace.hashHex;
  return l.traceHash;
}

// One getter function each for every result. An object literal's `get token() {...}` made a
// fresh closure per run, and V8 keeps an accessor in its hidden class, so each run got a new map:
// allocated in the old generation, it held the run's closure context (its trace, labels and
// fields) alive through every scavenge until the next full collection. Shared getters give every
// result the same map.
const TOKEN_PROPERTY: PropertyDescriptor = { get: lazyToken, enumerable: true, configurable: true };
const TRACE_HASH_PROPERTY: PropertyDescriptor = {
  get: lazyTraceHash,
  enumerable: true,
  configurable: true,
};

/**
 * A run's result, whose `token` and `traceHash` are computed on first read: a search runs
 * thousands of schedules and reads the token of few. The hash is a pass over the steps made when
 * first read or when the trace is recycled, so it stays readable; the token of a recycled run is
 * not. Both are own enumerable accessors (spreading a result reads them), in the literal's order.
 */
function lazyResult(
  outcome: RunOutcome,
  splats: readonly Splat[],
  steps: number,
  time: number,
  seed: number,
  strategy: StrategyName,
  fields: Omit<RunToken, "choices" | "traceHash">,
  trace: Trace,
  message: string | undefined,
): RunResult {
  const r = { outcome, splats, steps, time, seed, strategy } as Record<PropertyKey, unknown>;
  Object.defineProperty(r, LAZY, {
    value: { fields, trace, token: null, traceHash: null } satisfies LazyRunState,
  });
  Object.defineProperty(r, "token", TOKEN_PROPERTY);
  Object.defineProperty(r, "traceHash", TRACE_HASH_PROPERTY);
  r.trace = trace;
  r.message = message;
  return r as unknown as RunResult;
}

export { ReplayTokenError };
