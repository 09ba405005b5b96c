/**
 * Workqueues (kernel/workqueue.c, include/linux/workqueue.h, Documentation/core-api/workqueue.rst)
 * at the level drivers see them: work items, delayed work on the virtual clock, workqueues with
 * max_active, worker tasks, flush and cancel.
 *
 * The model, per workqueue and per simulation:
 * - one worker pool (the kernel's pool_workqueue + worker_pool): an active worklist, an inactive
 *   list for items beyond max_active (pwq->inactive_works), and workers;
 * - workers are daemon kernel tasks named `kworker/<wq>:<n>`, spawned lazily when an item is
 *   queued and no idle worker is left, at most max_active of them; an idle worker sleeps on the
 *   pool's wait queue and never keeps a run alive. Up to max_active items execute concurrently,
 *   in any interleaving the strategy picks (like an unbound workqueue, the most adversarial
 *   case); an ordered workqueue (max_active 1) executes its items one at a time in queue order;
 * - a work item carries the PENDING bit: queueing a pending item fails; the worker clears PENDING
 *   just before calling the function, so the function may queue its own item again; an item
 *   queued while it executes runs again afterwards on the same worker (non-reentrancy within a
 *   workqueue, as process_one_work()'s collision check guarantees);
 * - a delayed work is a work item plus a timer on the virtual clock; the timer callback queues
 *   the item in scheduler context (a timer softirq).
 *
 * Lockdep: as in the kernel, each work item and each workqueue has a lockdep map, a pseudo-lock
 * named `(work_completion)<work>` / `(wq_completion)<wq>`. The worker holds both around the work
 * function; flush_work() and cancel_work_sync() acquire and release the item's map,
 * flush_workqueue() (and flush_work() on an ordered workqueue) the workqueue's. So flushing an
 * item while holding a lock the item takes is a circular-dependency `lockdep` splat from a
 * single run, even when the flush happened not to wait. Items of the same name share a class,
 * as items initialised at one INIT_WORK() site do.
 *
 * Checks: flushing or cancelling (sync) a work item from inside it, or flushing a workqueue from
 * one of its own items, is a `lockdep` splat (the kernel hangs there; the model returns instead).
 * A work function that returns with a lock held, a spinlock's atomic section or an RCU read-side
 * section open is a `lockdep` splat ("BUG: workqueue leaked atomic, lock or RCU"). Outside a
 * simulation all code shares one lockdep context, so these checks only run in simulations.
 * A worker still blocked inside a work function when a run ends is a `deadlock` splat (the hung
 * task detector's view: a kworker stuck forever), since workers, being daemons, are not part of
 * the scheduler's own deadlock check. Queueing on a destroyed workqueue is a `kasan` splat.
 *
 * Outside a simulation there are no tasks and no clock: workers are plain async loops started
 * from a microtask, work functions run on them as ordinary async code, delayed work is queued at
 * once (the delay is ignored), and flush/cancel wait on promises.
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import { rcuPreemptDepth } from "@primetime/rcu";
import {
  currentSimulation,
  currentTask,
  here,
  opLabel,
  point,
  report,
  SimLocal,
  type Simulation,
  type Site,
  type Task,
  TaskLocal,
  type Timer,
  WaitQueue,
} from "@primetime/sim";
import { ENOENT } from "../include/errno.js";
import {
  formatHeldLocks,
  heldLocks,
  type LockdepLock,
  LockdepMap,
  lockAcquire,
  lockRelease,
} from "../locking/lockdep.js";
import { mightSleep, preemptCount } from "../locking/spinlock.js";
import { kasanReport } from "../mm/kasan/kasan.js";

/** WQ_DFL_ACTIVE: the default max_active of a workqueue. */
export const WQ_DFL_ACTIVE = 256;
/** WQ_MAX_ACTIVE: the largest max_active a workqueue may ask for. */
export const WQ_MAX_ACTIVE = 512;

/**
 * A work function (work_func_t). It runs in a worker task, so it may sleep; a returned promise is
 * awaited. It receives its work item (`toDelayedWork()` gives the delayed work around it).
 */
export type WorkFunc = (work: WorkStruct) => unknown;

/**
 * A lockdep map that is not a lock (struct lockdep_map in work_struct and workqueue_struct):
 * only acquired and released, around execution and by flushers.
 */
class CompletionMap implements LockdepLock {
  readonly dep: LockdepMap;
  readonly holder = null;

  constructor(readonly name: string) {
    this.dep = new LockdepMap(name, "mutex");
  }

  /** lock_map_acquire() + lock_map_release(): records the dependency, holds nothing. */
  touch(): void {
    if (!currentTask()) return;
    lockAcquire(this);
    lockRelease(this);
  }

  /** lock_map_acquire() in a task (outside a simulation all code shares one lockdep context). */
  acquire(): void {
    if (currentTask()) lockAcquire(this);
  }

  release(): void {
    if (currentTask()) lockRelease(this);
  }
}

/** work->lockdep_map / wq->lockdep_map, created on first use (a field: no WeakMap lookup). */
function lockdepMapOf(x: WorkStruct | Workqueue): CompletionMap {
  let m = x.lockdepMap;
  if (m === null) {
    m = new CompletionMap(
      x instanceof Workqueue ? `(wq_completion)${x.name}` : `(work_completion)${x.name}`,
    );
    x.lockdepMap = m;
  }
  return m;
}

/** One queueing of a work item, what flush_work()'s barrier waits for. */
interface Instance {
  done: boolean;
}

interface Queued {
  pool: Pool;
  /** The list the item sits on: the pool's worklist or inactive list, or a worker's scheduled list. */
  list: WorkStruct[];
  inst: Instance;
  /** Counted in pool.nrActive (not on the inactive list). */
  active: boolean;
}

interface Running {
  worker: Worker;
  inst: Instance;
}

/** The per-simulation state of a work item (work->data and its list linkage). */
class WorkState {
  /** WORK_STRUCT_PENDING. */
  pending = false;
  /** WORK_OFFQ_CANCELING: a cancel_work_sync() owns PENDING and waits for the item. */
  canceling = false;
  queued: Queued | null = null;
  /** Executions in progress (one per workqueue at most). */
  readonly running: Running[] = [];
  /** A delayed work's pending timer. */
  timer: Timer | null = null;
  /** dwork->wq: where the timer (or flush_delayed_work()) queues the item. */
  timerWq: Workqueue | null = null;
  /** Flushers and cancelers of this item sleep here. */
  readonly waitq: WaitQueue;

  constructor(work: WorkStruct) {
    this.waitq = new WaitQueue(`work ${work.name}`, () => {
      const r = this.running.at(-1);
      return r ? r.worker.label : null;
    });
  }
}

class Worker {
  task: Task | null = null;
  /** The item executing now (worker->current_work). */
  current: { work: WorkStruct; inst: Instance } | null = null;
  /** Items that collided with this worker's current one and run after it (worker->scheduled). */
  readonly scheduled: WorkStruct[] = [];

  constructor(
    readonly pool: Pool,
    readonly name: string,
  ) {}

  get label(): string {
    return this.task ? `${this.task.name}[${this.task.id}]` : this.name;
  }
}

/** A workqueue's pool in one simulation (pool_workqueue + worker_pool). */
class Pool {
  readonly worklist: WorkStruct[] = [];
  readonly inactive: WorkStruct[] = [];
  /** Active items: on the worklist or a scheduled list, or executing. */
  nrActive = 0;
  readonly workers: Worker[] = [];
  /** Idle workers not yet woken. */
  nrIdle = 0;
  private nextWorkerId = 0;
  readonly idleWq: WaitQueue;
  readonly flushWq: WaitQueue;
  /** Instances queued (active or not) or executing: what flush_workqueue() waits for. */
  readonly inFlight = new Set<Instance>();
  draining = 0;
  drainWarned = false;
  destroyed: Site | null = null;

  constructor(
    readonly wq: Workqueue,
    readonly sim: Simulation | null,
  ) {
    this.idleWq = new WaitQueue(`workqueue ${wq.name} idle`);
    this.flushWq = new WaitQueue(`flush_workqueue ${wq.name}`);
  }

  /** Models create_worker(): a daemon kernel task running worker_thread(). */
  createWorker(): void {
    const w = new Worker(this, `kworker/${this.wq.name}:${this.nextWorkerId++}`);
    this.workers.push(w);
    if (this.sim) {
      w.task = this.sim.spawn(w.name, () => workerThread(this, w), {
        daemon: true,
        kind: "kernel",
      });
      workerOf.set(w.task, w);
    } else {
      queueMicrotask(() => {
        workerThread(this, w).catch((e: unknown) => {
          report("bug", `unhandled exception in ${w.name}: ${e instanceof Error ? e.message : e}`);
        });
      });
    }
  }

  /** Models wake_up_worker()/the manager: an idle worker, else a new one within max_active. */
  kick(): void {
    if (this.nrIdle > 0) {
      this.nrIdle--;
      this.idleWq.wakeOne();
    } else if (this.workers.length < this.wq.maxActive) {
      this.createWorker();
    }
  }
}

interface SimState {
  pools: Map<Workqueue, Pool>;
  works: WeakMap<WorkStruct, WorkState>;
  hooked: boolean;
}

const simState = new SimLocal<SimState>(() => ({
  pools: new Map(),
  works: new WeakMap(),
  hooked: false,
}));

const workerOf = new TaskLocal<Worker | null>(() => null);

function stateOf(work: WorkStruct): WorkState {
  const s = simState.get();
  let st = s.works.get(work);
  if (!st) {
    st = new WorkState(work);
    s.works.set(work, st);
  }
  return st;
}

function poolOf(wq: Workqueue): Pool {
  const sim = currentSimulation();
  const s = simState.get(sim);
  let pool = s.pools.get(wq);
  if (!pool) {
    pool = new Pool(wq, sim);
    s.pools.set(wq, pool);
    if (sim && !s.hooked) {
      s.hooked = true;
      sim.onEnd((r) => {
        if (r.outcome === "ok" || r.outcome === "deadlock") reportHungWorkers(sim, s);
      });
    }
  }
  return pool;
}

/** The hung-task view of workers: blocked inside a work function when nothing can run anymore. */
function reportHungWorkers(sim: Simulation, s: SimState): void {
  for (const pool of s.pools.values()) {
    for (const w of pool.workers) {
      const t = w.task;
      if (!w.current || !t || t.state !== "blocked") continue;
      sim.report(
        "deadlock",
        `${w.label} hung executing work ${w.current.work.name} on workqueue ${pool.wq.name}: waits on ${t.waitingOn?.describe() ?? "?"}`,
        {
          object: `work ${w.current.work.name}`,
          sites: [
            { role: "waiting", task: t.name, taskId: t.id, step: sim.steps, label: t.lastLabel },
          ],
        },
      );
    }
  }
}

/** The worker the current task is, if it is one. */
function currentWorker(): Worker | null {
  const t = currentTask();
  return t ? workerOf.get(t) : null;
}

/** A scheduling point in task context; none in scheduler context (timer callbacks). */
function pointInTask(label: string): Promise<void> | null {
  return currentTask() ? point(label) : null;
}

/**
 * Models struct work_struct (INIT_WORK()/DECLARE_WORK()). Its state (PENDING, queued,
 * executing) is kept per simulation, so a statically declared item can serve many runs.
 */
export class WorkStruct {
  readonly func: WorkFunc;
  /** Shown in point labels and splats (the function's name by default). */
  readonly name: string;
  /** @internal work->lockdep_map, created on first use. */
  lockdepMap: CompletionMap | null;
  /**
   * @internal The delayed work this item is embedded in (container_of() for to_delayed_work()).
   * A field, not a WeakMap from item to delayed work: a young collection keeps a WeakMap's values
   * alive, and this value holds its own key, so every run's delayed works (and the devices their
   * functions close over) survived young collections until the next full one.
   */
  dwork: DelayedWork | null;

  constructor(func: WorkFunc, name?: string) {
    this.func = func;
    this.name = name ?? (func.name || "work");
    this.lockdepMap = null;
    this.dwork = null;
  }
}

/**
 * Models struct delayed_work (INIT_DELAYED_WORK()): a work item and a timer on the virtual clock
 * that queues it.
 */
export class DelayedWork {
  readonly work: WorkStruct;

  constructor(func: WorkFunc, name?: string) {
    this.work = new WorkStruct(func, name);
    this.work.dwork = this;
  }

  get name(): string {
    return this.work.name;
  }
}

/** Models to_delayed_work(): the delayed work around a work item, or null if it is plain work. */
export function toDelayedWork(work: WorkStruct): DelayedWork | null {
  return work.dwork;
}

export interface WorkqueueOptions {
  /** Concurrently active items, 1..WQ_MAX_ACTIVE (0 or absent: WQ_DFL_ACTIVE). */
  maxActive?: number;
  /** alloc_ordered_workqueue(): max_active 1, items execute one at a time in queue order. */
  ordered?: boolean;
  /** WQ_UNBOUND: recorded only; every pool of the model behaves as an unbound one. */
  unbound?: boolean;
}

/**
 * Models struct workqueue_struct. Its pool, workers and lists exist per simulation, created on
 * first use, so a workqueue allocated once serves every run.
 */
export class Workqueue {
  readonly name: string;
  readonly maxActive: number;
  readonly ordered: boolean;
  readonly unbound: boolean;
  /** @internal wq->lockdep_map, created on first use. */
  lockdepMap: CompletionMap | null = null;
  /** @internal The label of flush_workqueue() points on it, built on first use. */
  labelFlush = "";

  constructor(name: string, opts: WorkqueueOptions = {}) {
    const ordered = opts.ordered ?? false;
    let max = opts.maxActive ?? 0;
    if (!Number.isInteger(max) || max < 0)
      throw new RangeError(`max_active must be a non-negative integer, got ${max}`);
    if (max === 0) max = WQ_DFL_ACTIVE;
    if (ordered) max = 1;
    this.name = name;
    this.maxActive = Math.min(max, WQ_MAX_ACTIVE);
    this.ordered = ordered;
    this.unbound = opts.unbound ?? ordered;
  }

  toString(): string {
    return `workqueue ${this.name}`;
  }
}

/**
 * Models alloc_workqueue(name, flags, max_active).
 * Locking: none. References: the caller owns the workqueue until destroyWorkqueue().
 */
export function allocWorkqueue(name: string, opts: WorkqueueOptions = {}): Workqueue {
  return new Workqueue(name, opts);
}

/**
 * Models alloc_ordered_workqueue(): executes at most one item at a time, in queue order.
 * Locking: none. References: the caller owns the workqueue until destroyWorkqueue().
 */
export function allocOrderedWorkqueue(name: string): Workqueue {
  return new Workqueue(name, { ordered: true });
}

const systemWqs = new SimLocal(() => ({
  events: new Workqueue("events"),
  unbound: new Workqueue("events_unbound", { unbound: true, maxActive: WQ_MAX_ACTIVE }),
  long: new Workqueue("events_long"),
}));

/** Models system_wq ("events"), one per simulation. */
export function systemWq(): Workqueue {
  return systemWqs.get().events;
}

/** Models system_unbound_wq ("events_unbound"), one per simulation. */
export function systemUnboundWq(): Workqueue {
  return systemWqs.get().unbound;
}

/** Models system_long_wq ("events_long"), one per simulation. */
export function systemLongWq(): Workqueue {
  return systemWqs.get().long;
}

/**
 * The workqueues of this simulation (the kernel's `workqueues` list) with items queued or
 * executing, destroyed ones excluded, in order of first use. A model helper with no kernel
 * counterpart: Kernel.quiesce() flushes them until none is left.
 */
export function busyWorkqueues(): Workqueue[] {
  const out: Workqueue[] = [];
  for (const pool of simState.get().pools.values())
    if (!pool.destroyed && pool.inFlight.size > 0) out.push(pool.wq);
  return out;
}

// ---- worker side ----

/** Models worker_thread(): takes items from its scheduled list, then the pool's worklist. */
async function workerThread(pool: Pool, worker: Worker): Promise<void> {
  for (;;) {
    const work = worker.scheduled.shift() ?? pool.worklist.shift();
    if (work === undefined) {
      if (pool.destroyed) {
        pool.workers.splice(pool.workers.indexOf(worker), 1);
        return;
      }
      pool.nrIdle++;
      await pool.idleWq.wait(`worker_thread(${pool.wq.name}) idle`);
      continue;
    }
    await processOneWork(pool, worker, work);
  }
}

/**
 * Models process_one_work(): the collision check (an item executing on another worker of the
 * pool is deferred to that worker), PENDING cleared before the call, then the function, then
 * the in-flight accounting that releases flushers and activates an inactive item.
 */
async function processOneWork(pool: Pool, worker: Worker, work: WorkStruct): Promise<void> {
  const st = stateOf(work);
  const q = st.queued!;
  const collision = st.running.find((r) => r.worker.pool === pool && r.worker !== worker);
  if (collision) {
    collision.worker.scheduled.push(work);
    q.list = collision.worker.scheduled;
    return;
  }
  const inst = q.inst;
  st.queued = null;
  const run: Running = { worker, inst };
  st.running.push(run);
  worker.current = { work, inst };
  // set_work_pool_and_clear_pending(): from here on the item may be queued again.
  st.pending = false;
  const atPoint = pointNow(opLabel("process_one_work", work.name));
  if (atPoint !== null) await atPoint;
  lockdepMapOf(pool.wq).acquire();
  lockdepMapOf(work).acquire();
  await work.func(work);
  lockdepMapOf(work).release();
  lockdepMapOf(pool.wq).release();
  if (worker.task) checkLeaks(worker.task, worker, work);
  worker.current = null;
  st.running.splice(st.running.indexOf(run), 1);
  // pwq_dec_nr_in_flight(): this worker goes on with the pool's worklist itself.
  pool.nrActive--;
  activateInactive(pool, false);
  settle(pool, st, inst);
}

/** process_one_work()'s check after the call: nothing may leak out of a work function. */
function checkLeaks(task: Task, worker: Worker, work: WorkStruct): void {
  const locks = heldLocks(task).length;
  const preempt = preemptCount();
  const rcu = rcuPreemptDepth();
  if (locks === 0 && preempt === 0 && rcu === 0) return;
  report(
    "lockdep",
    [
      `BUG: workqueue leaked atomic, lock or RCU: ${worker.label}`,
      `     preempt=0x${preempt.toString(16).padStart(8, "0")} lock=0->${locks} RCU=${rcu} workfn=${work.name}`,
      formatHeldLocks(task),
    ].join("\n"),
    { object: `work ${work.name}` },
  );
}

/** Models pwq_activate_first_inactive(): inactive items become active while max_active allows. */
function activateInactive(pool: Pool, kick: boolean): void {
  while (pool.nrActive < pool.wq.maxActive && pool.inactive.length > 0) {
    const w = pool.inactive.shift()!;
    const q = stateOf(w).queued!;
    q.list = pool.worklist;
    q.active = true;
    pool.nrActive++;
    pool.worklist.push(w);
    if (kick) pool.kick();
  }
}

/** An instance has executed or was cancelled: its flushers go on. */
function settle(pool: Pool, st: WorkState, inst: Instance): void {
  inst.done = true;
  pool.inFlight.delete(inst);
  st.waitq.wakeAll();
  pool.flushWq.wakeAll();
}

// ---- queueing ----

/** Models is_chained_work(): the current task is a worker executing an item of `wq`. */
function isChainedWork(wq: Workqueue): boolean {
  const w = currentWorker();
  return w !== null && w.current !== null && w.pool.wq === wq;
}

/** Models __queue_work(): PENDING is already owned by the caller. */
function queueWorkLocked(wq: Workqueue, work: WorkStruct, st: WorkState): void {
  const pool = poolOf(wq);
  if (pool.destroyed) {
    // destroy_workqueue() freed the workqueue (rcu_free_wq()): __queue_work()'s read of
    // wq->flags is a use-after-free, reported as KASAN reports it (the boot's first report only,
    // unless kasan_multi_shot). The item is not queued.
    kasanReport(
      "slab-use-after-free",
      { name: `${wq}`, freeSite: pool.destroyed },
      `__queue_work() of ${work.name}`,
    );
    return;
  }
  if (pool.draining > 0 && !isChainedWork(wq)) {
    // WARN_ON_ONCE in the kernel; PENDING stays set, so the item is lost.
    report("warn", `queue_work() of ${work.name} on draining ${wq} from outside it`, {
      object: `${wq}`,
    });
    return;
  }
  const inst: Instance = { done: false };
  pool.inFlight.add(inst);
  if (pool.nrActive < wq.maxActive) {
    pool.nrActive++;
    pool.worklist.push(work);
    st.queued = { pool, list: pool.worklist, inst, active: true };
    pool.kick();
  } else {
    pool.inactive.push(work);
    st.queued = { pool, list: pool.inactive, inst, active: false };
  }
}

/** Models __queue_delayed_work(): a zero delay queues at once. */
function queueDelayedLocked(wq: Workqueue, dwork: DelayedWork, delay: number, st: WorkState): void {
  if (!(delay >= 0) || !Number.isFinite(delay))
    throw new RangeError(`bad delayed work delay ${delay}`);
  st.timerWq = wq;
  const sim = currentSimulation();
  if (delay === 0 || sim === null) {
    queueWorkLocked(wq, dwork.work, st);
    return;
  }
  const timer = sim.addTimer(delay, () => {
    // delayed_work_timer_fn(), in scheduler context.
    if (st.timer !== timer) return;
    st.timer = null;
    queueWorkLocked(wq, dwork.work, st);
  });
  st.timer = timer;
}

/**
 * Models queue_work(): queues `work` on `wq` unless it is already pending. True if queued, false
 * if it was pending already (it will run once for both requests).
 * Locking: any context; in scheduler context (a timer callback) it queues synchronously, without
 * a scheduling point. A worker is woken or created for the item.
 * References: none; the caller keeps the item alive until it has executed or been cancelled.
 */
export async function queueWork(wq: Workqueue, work: WorkStruct): Promise<boolean> {
  const p = pointInTask(`queue_work(${wq.name}, ${work.name})`);
  if (p) await p;
  const st = stateOf(work);
  if (st.pending) return false;
  st.pending = true;
  queueWorkLocked(wq, work, st);
  return true;
}

/**
 * Models queue_delayed_work(): queues `dwork` on `wq` after `delayNs` of virtual time (at once
 * for 0), unless it is already pending (then false, and the old timer stands).
 * Locking: any context, as queueWork(). Outside a simulation the delay is ignored.
 * References: none; the caller keeps the item alive until it has executed or been cancelled.
 */
export async function queueDelayedWork(
  wq: Workqueue,
  dwork: DelayedWork,
  delayNs: number,
): Promise<boolean> {
  const p = pointInTask(`queue_delayed_work(${wq.name}, ${dwork.name})`);
  if (p) await p;
  const st = stateOf(dwork.work);
  if (st.pending) return false;
  st.pending = true;
  queueDelayedLocked(wq, dwork, delayNs, st);
  return true;
}

/**
 * Models try_to_grab_pending(): takes PENDING away from whoever holds it. 1: the item was
 * pending (timer stopped, or taken off its list); 0: it was idle and PENDING is now ours;
 * -ENOENT: another task is cancelling it.
 */
function tryToGrabPending(work: WorkStruct, isDwork: boolean, st: WorkState): number {
  if (isDwork && st.timer) {
    st.timer.cancel();
    st.timer = null;
    return 1;
  }
  if (!st.pending) {
    st.pending = true;
    return 0;
  }
  const q = st.queued;
  if (q) {
    q.list.splice(q.list.indexOf(work), 1);
    st.queued = null;
    if (q.active) {
      q.pool.nrActive--;
      activateInactive(q.pool, true);
    }
    // A flush_work() barrier queued behind the item still runs: its flushers go on.
    settle(q.pool, st, q.inst);
    return 1;
  }
  if (st.canceling) return -ENOENT;
  // PENDING, but on no list and no timer seen: the timer of a delayed work grabbed as plain
  // work, or an item a draining workqueue refused. The kernel spins (-EAGAIN) until the item
  // gets queued; the model takes it at once.
  if (st.timer) {
    st.timer.cancel();
    st.timer = null;
  }
  return 1;
}

/**
 * Models mod_delayed_work(): (re)arms `dwork` to run `delayNs` from now whatever its state,
 * queueing it on `wq`. False if it was idle, true if it was pending (its timer or queue position
 * is replaced) or being cancelled (then nothing is queued).
 * Locking: any context, as queueWork().
 * References: none.
 */
export async function modDelayedWork(
  wq: Workqueue,
  dwork: DelayedWork,
  delayNs: number,
): Promise<boolean> {
  const p = pointInTask(`mod_delayed_work(${wq.name}, ${dwork.name})`);
  if (p) await p;
  const st = stateOf(dwork.work);
  const ret = tryToGrabPending(dwork.work, true, st);
  if (ret >= 0) queueDelayedLocked(wq, dwork, delayNs, st);
  return ret !== 0;
}

/** Models schedule_work(): queueWork() on system_wq. Locking, References: as queueWork(). */
export function scheduleWork(work: WorkStruct): Promise<boolean> {
  return queueWork(systemWq(), work);
}

/**
 * Models schedule_delayed_work(): queueDelayedWork() on system_wq.
 * Locking, References: as queueDelayedWork().
 */
export function scheduleDelayedWork(dwork: DelayedWork, delayNs: number): Promise<boolean> {
  return queueDelayedWork(systemWq(), dwork, delayNs);
}

/** Models work_pending(): PENDING is set (queued, timer armed, or being cancelled). */
export function workPending(work: WorkStruct): boolean {
  return stateOf(work).pending;
}

/** Models delayed_work_pending(). */
export function delayedWorkPending(dwork: DelayedWork): boolean {
  return workPending(dwork.work);
}

/** Models current_work(): the item the current task executes, if it is a worker. */
export function currentWork(): WorkStruct | null {
  return currentWorker()?.current?.work ?? null;
}

// ---- flush and cancel ----

/** Models __flush_work(): waits for the last queued instance, else the executing one. */
async function flushWorkInner(work: WorkStruct, op: string, fromCancel: boolean): Promise<boolean> {
  const st = stateOf(work);
  const self = currentWorker()?.current?.work === work;
  if (!self) lockdepMapOf(work).touch();
  const inst = st.queued?.inst ?? st.running.at(-1)?.inst;
  if (!inst) return false;
  // start_flush_work(): an ordered workqueue forces the lock-recursion report of a flush from
  // one of its own items (skipped on cancel: the cancelled item cannot wait behind it).
  const wq = (st.queued?.pool ?? st.running.at(-1)?.worker.pool)?.wq;
  if (!fromCancel && !self && wq && wq.maxActive === 1) lockdepMapOf(wq).touch();
  if (self) {
    report(
      "lockdep",
      `possible recursive locking detected: ${op}() of (work_completion)(${work.name}) from inside it; the worker would wait for itself forever`,
      { object: `work ${work.name}` },
    );
    return false;
  }
  while (!inst.done) await st.waitq.wait(`${op}(${work.name})`);
  return true;
}

/**
 * Models flush_work(): waits until the last queueing of `work` has finished executing. True if
 * it waited, false if the item was idle (a delayed work whose timer is pending is idle here:
 * use flushDelayedWork()). Instances queued after the call are not waited for.
 * Locking: sleeps; must not be called from the item itself (lockdep splat).
 * References: the caller keeps the item alive during the call.
 */
export async function flushWork(work: WorkStruct): Promise<boolean> {
  const label = opLabel("flush_work", work.name);
  const atPoint = pointNow(label);
  if (atPoint !== null) await atPoint;
  mightSleep(label);
  return flushWorkInner(work, "flush_work", false);
}

/**
 * Models flush_delayed_work(): a pending timer is stopped and the item queued at once on its
 * workqueue, then flushWork().
 * Locking: sleeps. References: the caller keeps the item alive during the call.
 */
export async function flushDelayedWork(dwork: DelayedWork): Promise<boolean> {
  const atPoint = pointNow(`flush_delayed_work(${dwork.name})`);
  if (atPoint !== null) await atPoint;
  mightSleep(`flush_delayed_work(${dwork.name})`);
  const st = stateOf(dwork.work);
  if (st.timer) {
    st.timer.cancel();
    st.timer = null;
    queueWorkLocked(st.timerWq!, dwork.work, st);
  }
  return flushWorkInner(dwork.work, "flush_delayed_work", false);
}

/** Models __cancel_work_timer(): grab PENDING, mark CANCELING, wait for the execution. */
async function cancelSync(work: WorkStruct, isDwork: boolean, op: string): Promise<boolean> {
  const label = opLabel(op, work.name);
  const atPoint = pointNow(label);
  if (atPoint !== null) await atPoint;
  mightSleep(label);
  const st = stateOf(work);
  let ret: number;
  for (;;) {
    ret = tryToGrabPending(work, isDwork, st);
    if (ret !== -ENOENT) break;
    // Another task is cancelling: wait for it to finish (cancel_waitq).
    await st.waitq.wait(`${op}(${work.name}) waits for another cancel`);
  }
  st.canceling = true;
  await flushWorkInner(work, op, true);
  // clear_work_data()
  st.canceling = false;
  st.pending = false;
  st.waitq.wakeAll();
  return ret === 1;
}

/**
 * Models cancel_work_sync(): the item is taken off its queue if pending, then any execution is
 * waited for; meanwhile queueing it fails (PENDING is held), so a self-requeueing item stops.
 * On return it is neither pending nor executing. True if it was pending.
 * Deviation: on the `work` of a delayed work it stops the timer too (the kernel spins until the
 * timer fires; use cancelDelayedWorkSync()).
 * Locking: sleeps; must not be called from the item itself (lockdep splat), nor with a lock the
 * item takes.
 * References: after it returns the caller may free the item.
 */
export function cancelWorkSync(work: WorkStruct): Promise<boolean> {
  return cancelSync(work, false, "cancel_work_sync");
}

/**
 * Models cancel_delayed_work_sync(): stops a pending timer or takes the item off its queue,
 * then waits for a running execution. True if it was pending.
 * Locking: sleeps, as cancelWorkSync(). References: after it returns the caller may free it.
 */
export function cancelDelayedWorkSync(dwork: DelayedWork): Promise<boolean> {
  return cancelSync(dwork.work, true, "cancel_delayed_work_sync");
}

/** Models __cancel_work(): grab PENDING and drop it, without waiting. */
async function cancelNoSync(work: WorkStruct, isDwork: boolean, op: string): Promise<boolean> {
  const p = pointInTask(`${op}(${work.name})`);
  if (p) await p;
  const st = stateOf(work);
  const ret = tryToGrabPending(work, isDwork, st);
  if (ret < 0) return false;
  st.pending = false;
  return ret === 1;
}

/**
 * Models cancel_work(): takes a pending item off its queue; does not wait for an execution in
 * progress. True if it was pending.
 * Locking: any context. References: the item may still be executing on return.
 */
export function cancelWork(work: WorkStruct): Promise<boolean> {
  return cancelNoSync(work, false, "cancel_work");
}

/**
 * Models cancel_delayed_work(): stops a pending timer or takes the item off its queue; does not
 * wait for an execution in progress. True if it was pending.
 * Locking: any context. References: the item may still be executing on return.
 */
export function cancelDelayedWork(dwork: DelayedWork): Promise<boolean> {
  return cancelNoSync(dwork.work, true, "cancel_delayed_work");
}

/** flush_workqueue()'s wait: settled at once (RESOLVED) when nothing is in flight. */
function flushPool(pool: Pool, op: string): Promise<void> {
  const me = currentWorker();
  if (me?.current && me.pool === pool) {
    report(
      "lockdep",
      `possible recursive locking detected: ${op}() of ${pool.wq} from its own work item ${me.current.work.name}; the worker would wait for itself forever`,
      { object: `${pool.wq}` },
    );
    return RESOLVED;
  }
  lockdepMapOf(pool.wq).touch();
  if (pool.inFlight.size === 0) return RESOLVED;
  return flushInFlight(pool, op);
}

/** Waits for the items in flight when the flush began. */
async function flushInFlight(pool: Pool, op: string): Promise<void> {
  const targets = [...pool.inFlight];
  for (const inst of targets) {
    while (!inst.done) await pool.flushWq.wait(`${op}(${pool.wq.name})`);
  }
}

/**
 * Models flush_workqueue(): waits until every item queued on `wq` before the call has finished
 * executing. Items queued later (a self-requeue included) and delayed work whose timer has not
 * fired are not waited for.
 * Locking: sleeps; must not be called from an item of `wq` (lockdep splat).
 * References: none.
 */
export async function flushWorkqueue(wq: Workqueue): Promise<void> {
  if (wq.labelFlush === "") wq.labelFlush = opLabel("flush_workqueue", wq.name);
  const label = wq.labelFlush;
  const p = pointNow(label);
  if (p !== null) await p;
  mightSleep(label);
  const flushed = flushPool(poolOf(wq), "flush_workqueue");
  if (flushed !== RESOLVED) await flushed;
}

/**
 * Models drain_workqueue(): flushes until `wq` is empty; meanwhile only its own items may queue
 * on it (chained work), anything else is refused with a warning.
 * Locking: sleeps. References: none.
 */
export async function drainWorkqueue(wq: Workqueue): Promise<void> {
  const atPoint = pointNow(`drain_workqueue(${wq.name})`);
  if (atPoint !== null) await atPoint;
  mightSleep(`drain_workqueue(${wq.name})`);
  const pool = poolOf(wq);
  pool.draining++;
  let flushes = 0;
  for (;;) {
    await flushPool(pool, "drain_workqueue");
    if (pool.inFlight.size === 0) break;
    if (++flushes === 10 && !pool.drainWarned) {
      pool.drainWarned = true;
      report("warn", `workqueue ${wq.name}: drain_workqueue() isn't complete after 10 tries`);
    }
    if (currentWorker()?.pool === pool) break; // flushPool() already reported the recursion
  }
  pool.draining--;
}

/**
 * Models destroy_workqueue(): drains `wq`, then its workers exit. Queueing on it afterwards is a
 * use-after-free (`kasan` splat). A delayed work whose timer is still armed fires into the
 * destroyed workqueue: cancel delayed work first, as the kernel requires.
 * Locking: sleeps. References: drops the caller's workqueue.
 */
export async function destroyWorkqueue(wq: Workqueue): Promise<void> {
  await drainWorkqueue(wq);
  const atPoint = pointNow(`destroy_workqueue(${wq.name})`);
  if (atPoint !== null) await atPoint;
  const pool = poolOf(wq);
  pool.destroyed = here(`destroy_workqueue(${wq.name})`);
  pool.nrIdle = 0;
  pool.idleWq.wakeAll();
}

/** The workers of `wq` in the current simulation (names of their tasks), for tests and tools. */
export function workqueueWorkers(wq: Workqueue): string[] {
  return poolOf(wq).workers.map((w) => w.label);
}
