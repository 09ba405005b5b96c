import { KernelBug } from "./errors.js";
import { activeSimulation, RESOLVED, type Simulation } from "./simulation.js";
import {
  Dmesg,
  type RelatedSite,
  type ReportOptions,
  type Site,
  type Splat,
  type SplatKind,
} from "./splat.js";
import type { SpawnOptions, Task } from "./task.js";

/**
 * The ambient API kernel code uses: it works on the simulation running in this thread, and
 * outside a simulation it degrades to plain async code (points resolve immediately, splats go to
 * `outsideDmesg`).
 */

/** Splats reported while no simulation runs (kernel code used as a plain library). */
export const outsideDmesg = new Dmesg();

/**
 * A scheduling point: every operation on shared state awaits one, so the awaits in a function are
 * exactly its race windows. Label it with what happens next (`kref_put(entry)`).
 */
export function point(label: string): Promise<void> {
  const sim = activeSimulation();
  return sim === null ? RESOLVED : sim.point(label);
}

/**
 * The fast path of a scheduling point, for hot model code: `pointNow(label)` takes the point
 * exactly as `point(label)` does (the step is recorded and the strategy picks who runs next), and
 * returns null when the running task goes on at once, so the caller continues synchronously
 * instead of awaiting a promise that is already resolved. Otherwise (another task runs now, the
 * run has ended, or no simulation runs) it returns the promise to await, as point() would.
 *
 * Only one task runs at a time and the strategy has picked the running task, so skipping the
 * await changes nothing another task can see: the schedule (trace, tokens) is the same. A
 * function using it returns a settled promise on its fast path, and turns a synchronous throw
 * (a KASAN report, an oops) into a rejected promise, as its async version did.
 */
export function pointNow(label: string): Promise<void> | null {
  const sim = activeSimulation();
  if (sim === null) return RESOLVED;
  const p = sim.point(label);
  // Simulation.point() returns RESOLVED exactly when the running task goes on (or, outside a
  // run, when there is nothing to wait for: then the caller awaits it as before).
  return p === RESOLVED && sim.running ? null : p;
}

/** A point where the task gives the CPU away on purpose (cond_resched(), cpu_relax()). */
export function yieldCpu(label = "cond_resched"): Promise<void> {
  const sim = activeSimulation();
  return sim === null ? RESOLVED : sim.yield(label);
}

export function currentSimulation(): Simulation | null {
  return activeSimulation();
}

/** The running task (`current`), or null outside a simulation or in scheduler context. */
export function currentTask(): Task | null {
  return activeSimulation()?.current ?? null;
}

/** The dmesg splats go to now. */
export function dmesg(): Dmesg {
  return activeSimulation()?.dmesg ?? outsideDmesg;
}

/** Reports a splat to the running simulation's dmesg. */
export function report(kind: SplatKind, message: string, opts: ReportOptions = {}): Splat {
  const sim = activeSimulation();
  if (sim) return sim.report(kind, message, opts);
  const s: Splat = {
    kind,
    message,
    task: null,
    taskId: 0,
    step: 0,
    object: opts.object,
    sites: opts.sites ?? [],
  };
  outsideDmesg.push(s);
  return s;
}

/** Where the current task is (task, step, label of its latest point). */
export function here(label?: string): Site {
  const sim = activeSimulation();
  return sim ? sim.here(label) : { task: "<outside>", taskId: 0, step: 0, label: label ?? "" };
}

/**
 * A Site whose label is built when it is first read: `op(object)` (just `op` when `object` is
 * null), followed by ` after <label of the task's latest point>` once the task has taken a point.
 * For sites recorded at every allocation and free (the slab's), which almost no report reads.
 */
class DeferredSite implements Site {
  private text: string | null = null;

  constructor(
    readonly task: string,
    readonly taskId: number,
    readonly step: number,
    private readonly op: string,
    private readonly object: string | null,
    private readonly last: string | undefined,
  ) {}

  get label(): string {
    let s = this.text;
    if (s === null) {
      const head = this.object === null ? this.op : `${this.op}(${this.object})`;
      const last = this.last;
      s = last && last !== "spawn" ? `${head} after ${last}` : head;
      this.text = s;
    }
    return s;
  }
}

/**
 * Where the current task is (as here()), labelled `op(object)` (`op` when `object` is null) and,
 * once the task has taken a point, ` after ` its latest point's label (`kfree(dma_buf#3) after
 * dma_buf_put(dma_buf#3)`). The label is built only when read; the task, its id and the step are
 * taken now.
 */
export function hereAfterLast(op: string, object: string | null = null): Site {
  const sim = activeSimulation();
  if (sim === null) return new DeferredSite("<outside>", 0, 0, op, object, undefined);
  const t = sim.current;
  return t === null
    ? new DeferredSite("<scheduler>", 0, sim.steps, op, object, undefined)
    : new DeferredSite(t.name, t.id, sim.steps, op, object, t.lastLabel);
}

/** A site with a role, for a splat's related sites (a plain copy: a deferred label is built now). */
export function site(role: string, s: Site): RelatedSite {
  if (s instanceof DeferredSite)
    return { role, task: s.task, taskId: s.taskId, step: s.step, label: s.label };
  return { role, ...s };
}

/** Models WARN_ON(cond): reports a `warn` splat when cond holds; returns cond. */
export function warnOn(cond: boolean, message: string, opts?: ReportOptions): boolean {
  if (cond) report("warn", message, opts);
  return cond;
}

/** Models BUG(): reports a `bug` splat and kills the current task (an oops). */
export function bug(message: string, opts?: ReportOptions): never {
  report("bug", message, opts);
  throw new KernelBug(message);
}

/** Spawns a task in the running simulation. */
export function spawn(name: string, fn: () => Promise<void> | void, opts?: SpawnOptions): Task {
  const sim = activeSimulation();
  if (!sim) throw new Error("spawn() needs a running simulation");
  return sim.spawn(name, fn, opts);
}

/** Sleeps for `ns` of virtual time (msleep). Outside a simulation it returns at once. */
export function sleep(ns: number, label?: string): Promise<void> {
  const sim = activeSimulation();
  return sim === null ? RESOLVED : sim.sleep(ns, label);
}

/** A nondeterministic choice in [0, n), recorded for replay. Outside a simulation: 0. */
export function choose(n: number, label?: string): number {
  return activeSimulation()?.choose(n, label) ?? 0;
}

/** The virtual time in ns (0 outside a simulation). */
export function now(): number {
  return activeSimulation()?.now ?? 0;
}

/** Something that lives in the simulated kernel and can be freed: primitives check it. */
export interface Owner {
  readonly name: string;
  /** Reports KASAN and returns false when the object has been freed; true while it lives. */
  checkAccess?(op: string): boolean;
}
