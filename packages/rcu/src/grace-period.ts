/**
 * Grace periods: call_rcu(), synchronize_rcu(), rcu_barrier() and the grace-period kthread.
 *
 * Model (a simplified Tree RCU, kernel/rcu/tree.c, with PREEMPT_RCU's per-task readers):
 * - There are no CPUs and no per-CPU quiescent states. Readers are tracked per task: a grace
 *   period that starts snapshots the tasks inside a read-side section, and ends once each of them
 *   has left its outermost section (or exited). Readers that enter after it started do not delay
 *   it. That is exactly RCU's guarantee, without the machinery that detects it cheaply.
 * - One grace-period kthread per simulation, "rcu_gp" (a daemon kernel task, spawned on first
 *   need), runs the rcu_gp_kthread() loop: idle until callbacks are queued; rcu_gp_init()
 *   (start a grace period for every callback queued so far); wait for the pre-existing readers;
 *   rcu_gp_cleanup(); then invoke the callbacks whose grace period ended, in queue order, one
 *   scheduling point each (rcu_do_batch(); the kernel does it in softirq or rcuc kthreads).
 *   Callbacks queued during a grace period wait for the next one.
 * - No expedited grace periods, no polled grace-period API, no callback batching limits, no
 *   virtual-time latency: a grace period ends as soon as its last pre-existing reader leaves and
 *   the kthread is scheduled.
 *
 * Outside a simulation there is one reader (the caller) and no kthread: a grace period has
 * elapsed whenever that reader is outside a read-side section. callRcu() then invokes the
 * callback at once (awaited), or at the outermost rcuReadUnlock() when called inside a section;
 * synchronizeRcu() and rcuBarrier() return at once.
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import {
  activeSimulation,
  Completion,
  KernelBug,
  opLabel,
  point,
  report,
  type Simulation,
} from "@primetime/sim";
import { rcuSleepCheck, rcuSynchronizeCheck } from "./rcu-lockdep.js";
import { type RcuState, rcuSeqEnd, rcuSeqStart, rcuState, readerOf } from "./rcu-state.js";

/**
 * An RCU callback (`rcu_callback_t`): called with its head after a grace period. It runs in
 * softirq context: it may take scheduling points (a kfree() is one) but must not block.
 */
export type RcuCallback = (head: RcuHead) => unknown;

/**
 * Models struct rcu_head: the link an object embeds to be queued with call_rcu(). One head can
 * be queued once at a time; queuing it again before its callback ran is a double call_rcu()
 * (typically a double kfree_rcu()), caught like CONFIG_DEBUG_OBJECTS_RCU_HEAD does.
 */
export class RcuHead {
  /** The callback, while queued (`head->func`). */
  func: RcuCallback | null = null;
  /** Queued and not yet invoked (debug-objects' "active" state). */
  queued = false;

  /** @param name names the object in labels and splats ("my_data->rcu"). */
  constructor(readonly name = "rcu_head") {}
}

/** The callback a double call_rcu() leaves on the head: the object leaks, nothing runs twice. */
const rcuLeakCallback: RcuCallback = () => {};

/**
 * Models call_rcu(head, func) (__call_rcu()): queues `func` to run after a full grace period,
 * i.e. once every task that is inside a read-side section now has left it. Returns at once.
 * Callbacks are invoked in the order they were queued.
 * A head still queued is a double call_rcu(): a `warn` splat "__call_rcu(): Double-freed CB",
 * and, as in the kernel, the queued callback is replaced by a no-op (the object leaks).
 * Locking: none; may be called inside a read-side section, and from scheduler context (a timer
 * callback), where it takes no scheduling point.
 * References: the callback owns whatever the caller handed over with the head (usually the
 * last reference: the callback frees the object).
 */
export function callRcu(head: RcuHead, func: RcuCallback): Promise<void> {
  const sim = activeSimulation();
  if (sim === null || sim.current !== null) {
    // Settled at once when the running task goes on at its point (pointNow()).
    const p = pointNow(opLabel("call_rcu", head.name));
    if (p !== null) return p.then(() => callRcuNow(head, func, sim));
  }
  try {
    return callRcuNow(head, func, sim);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** call_rcu() after its point. */
function callRcuNow(head: RcuHead, func: RcuCallback, sim: Simulation | null): Promise<void> {
  if (head.queued) {
    report("warn", `__call_rcu(): Double-freed CB ${head.name}`, { object: head.name });
    head.func = rcuLeakCallback;
    return RESOLVED;
  }
  head.queued = true;
  head.func = func;
  const st = rcuState();
  st.next.push(head);
  if (sim === null) return drainOutside(st);
  startGpKthread(st, sim);
  return RESOLVED;
}

/**
 * Models synchronize_rcu() (wait_rcu_gp(call_rcu_hurry)): queues a callback that completes an
 * on-stack completion and waits for it, so it returns after a full grace period: every reader
 * that was inside a read-side section when it was called has left it; readers that entered
 * later may still be inside.
 * Inside a read-side section it is an `rcu` splat "Illegal synchronize_rcu() in RCU read-side
 * critical section", and the blocking wait is another ("Illegal context switch"); then, as in
 * the kernel, the grace period waits for the caller's own section: the run ends as a deadlock.
 * (Outside a simulation it reports and returns.)
 * Locking: may sleep; must not be called in a read-side section or with a spinlock held.
 * References: none.
 */
export async function synchronizeRcu(): Promise<void> {
  await point("synchronize_rcu");
  rcuSynchronizeCheck();
  const sim = activeSimulation();
  const st = rcuState();
  if (sim === null) {
    // One reader, the caller: outside its sections a grace period has elapsed at once.
    if (readerOf(st).nesting === 0) await drainOutside(st);
    return;
  }
  const done = new Completion("rcu_synchronize");
  const head = new RcuHead("rcu_synchronize");
  head.queued = true;
  // Made, then stored: V8 allocates a function literal assigned straight to a property in the
  // old generation (it takes it for a method), and from there the closure would keep this call's
  // context, and the run behind it, alive through every young collection until a full one.
  const wakeme = () => done.complete(); // wakeme_after_rcu()
  head.func = wakeme;
  st.next.push(head);
  startGpKthread(st, sim);
  await done.wait("wait_rcu_gp");
}

/**
 * Models rcu_barrier(): waits until every callback queued before the call has been invoked
 * (and has returned). It does not wait for callbacks queued later, including those queued by
 * the callbacks it waits for. Like rcu_barrier_entrain(), the barrier's own callback is placed
 * right after the last queued callback, wherever it is (waiting for a grace period not started,
 * for the one in progress, or for invocation), so it costs no extra grace period; with nothing
 * queued it returns at once.
 * Locking: may sleep (barrier_mutex in the kernel): called inside a read-side section it is an
 * `rcu` splat (rcu_sleep_check()).
 * References: none. Used before freeing what callbacks use (module unload, kmem_cache_destroy).
 */
export async function rcuBarrier(): Promise<void> {
  await point("rcu_barrier");
  rcuSleepCheck("rcu_barrier");
  const sim = activeSimulation();
  const st = rcuState();
  if (sim === null) {
    if (readerOf(st).nesting === 0) await drainOutside(st);
    return;
  }
  let segment: RcuHead[] | null = null;
  if (st.next.length > 0) segment = st.next;
  else if (st.wait.length > 0) segment = st.wait;
  else if (st.done.length > 0 || st.invoking !== null) segment = st.done;
  if (segment === null) return;
  const done = new Completion("rcu_barrier");
  const head = new RcuHead("rcu_barrier");
  head.queued = true;
  const callback = () => done.complete(); // rcu_barrier_callback(); made, then stored (see above)
  head.func = callback;
  segment.push(head);
  startGpKthread(st, sim);
  await done.wait("rcu_barrier");
}

/**
 * Models rcu_get_gp_seq(): the grace-period sequence number. `seq >> 2` counts completed grace
 * periods; `seq & 3` is nonzero while one is in progress (rcu_seq_state()).
 * Locking: none; a snapshot, no scheduling point.
 * References: none.
 */
export function rcuGetGpSeq(): number {
  return rcuState().gpSeq;
}

/** Callbacks queued and not yet invoked (rcu_barrier()'s view), for tests and kmemleak. */
export function rcuPendingCallbacks(): number {
  const st = rcuState();
  return st.next.length + st.wait.length + st.done.length + (st.invoking ? 1 : 0);
}

/** Spawns the grace-period kthread on first need, and wakes it. */
function startGpKthread(st: RcuState, sim: Simulation): void {
  if (st.kthread === null) {
    st.kthread = sim.spawn("rcu_gp", () => rcuGpKthread(st), { daemon: true, kind: "kernel" });
    return;
  }
  st.gpWq.wakeOne(); // rcu_gp_kthread_wake()
}

/**
 * Models rcu_gp_kthread(): idle until callbacks need a grace period; rcu_gp_init() snapshots
 * the readers inside a section; rcu_gp_fqs_loop() waits until each has left it;
 * rcu_gp_cleanup() ends the grace period; then the callbacks whose grace period ended are
 * invoked in order (rcu_do_batch()).
 * Locking: the kthread is the only writer of the grace-period state; readers only remove
 * themselves from the holdouts, atomically between scheduling points.
 */
async function rcuGpKthread(st: RcuState): Promise<void> {
  for (;;) {
    // No batch frame when nothing is ready, and no await when the batch settled at once (the
    // same schedule: see rcuDoBatch()).
    if (st.done.length > 0) {
      const batch = rcuDoBatch(st);
      if (batch !== RESOLVED) await batch;
    }
    if (st.next.length === 0) {
      await st.gpWq.wait("rcu_gp_kthread: wait for callbacks");
      continue;
    }
    // rcu_gp_init(): callbacks queued so far get this grace period; the readers inside a
    // section now are the ones it waits for.
    // Its points skip the await when the kthread goes on at once (pointNow()).
    const init = pointNow("rcu_gp_init");
    if (init !== null) await init;
    st.gpSeq = rcuSeqStart(st.gpSeq);
    // The lists change hands (the wait list is empty here: the last cleanup emptied it), and
    // with no reader inside a section the holdout set stays the empty one: no arrays or sets
    // made per grace period.
    const emptied = st.wait;
    st.wait = st.next;
    st.next = emptied.length === 0 ? emptied : [];
    if (st.readers.length > 0 || st.holdouts.size > 0) st.holdouts = new Set(st.readers);
    // rcu_gp_fqs_loop(): wait for every pre-existing reader to leave its section.
    while (st.holdouts.size > 0) await st.qsWq.wait("rcu_gp_fqs_loop: wait for readers");
    // rcu_gp_cleanup(): the grace period is over; its callbacks are ready to invoke.
    const cleanup = pointNow("rcu_gp_cleanup");
    if (cleanup !== null) await cleanup;
    st.gpSeq = rcuSeqEnd(st.gpSeq);
    if (st.done.length === 0) {
      const emptied = st.done;
      st.done = st.wait;
      st.wait = emptied;
    } else {
      for (const head of st.wait) st.done.push(head);
      st.wait = [];
    }
  }
}

/**
 * Models rcu_do_batch(): invokes ready callbacks in order, one scheduling point each. No async
 * frame while every point and callback settles at once (pointNow(), a callback returning
 * nothing): then it returns RESOLVED; at the first that does not, the rest of the batch goes on
 * in rcuDoBatchFrom(), in the same order. A throw (a KASAN report at the point) becomes a
 * rejected promise, as from the async function this was.
 */
function rcuDoBatch(st: RcuState): Promise<void> {
  try {
    while (st.done.length > 0) {
      const head = st.done.shift()!;
      st.invoking = head;
      const p = pointNow(opLabel("rcu_do_batch", head.name));
      if (p !== null) return rcuDoBatchFrom(st, head, p, true);
      const invoked = invoke(head);
      if (invoked !== RESOLVED) return rcuDoBatchFrom(st, head, invoked, false);
      st.invoking = null;
    }
    return RESOLVED;
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * rcuDoBatch() from `head`, whose point (`atPoint`) or callback returned the unsettled `p`: it
 * awaits `p`, finishes `head` (its callback after its point), then the rest of the batch.
 */
async function rcuDoBatchFrom(
  st: RcuState,
  head: RcuHead,
  p: Promise<void>,
  atPoint: boolean,
): Promise<void> {
  await p;
  if (atPoint) {
    const invoked = invoke(head);
    if (invoked !== RESOLVED) await invoked;
  }
  st.invoking = null;
  while (st.done.length > 0) {
    const next = st.done.shift()!;
    st.invoking = next;
    const q = pointNow(opLabel("rcu_do_batch", next.name));
    if (q !== null) await q;
    const invoked = invoke(next);
    if (invoked !== RESOLVED) await invoked;
    st.invoking = null;
  }
}

/**
 * debug_rcu_head_unqueue(), then the callback: it may queue its own head again. An exception
 * in a callback is an oops in softirq context: it is reported as a `bug` splat (a BUG() already
 * reported itself) and the callback is abandoned; the kthread goes on with the next one, so the
 * rest of the run still has RCU (the kernel would panic with "Fatal exception in interrupt").
 */
function invoke(head: RcuHead): Promise<void> {
  const f = head.func;
  head.func = null;
  head.queued = false;
  let r: unknown;
  try {
    r = f?.(head);
  } catch (e) {
    callbackFailed(head, e);
    return RESOLVED;
  }
  // A callback that returns nothing (kfree_rcu()'s free) settles at once: no async frame.
  if (r === undefined) return RESOLVED;
  return Promise.resolve(r).then(undefined, (e: unknown) => callbackFailed(head, e));
}

/** An exception in an RCU callback (see invoke()). */
function callbackFailed(head: RcuHead, e: unknown): void {
  const sim = activeSimulation();
  if (e instanceof KernelBug || (sim !== null && !sim.running)) return;
  const msg = e instanceof Error ? e.message : String(e);
  report("bug", `unhandled exception in RCU callback ${head.name}: ${msg}`, {
    object: head.name,
  });
}

/**
 * Outside a simulation: the caller is the only reader, so once it is outside any section every
 * queued callback's grace period has elapsed. Called by callRcu(), synchronizeRcu(),
 * rcuBarrier() and the outermost rcuReadUnlock().
 */
export async function drainOutside(st: RcuState): Promise<void> {
  if (st.next.length === 0 || st.fallbackReader.nesting > 0) return;
  st.gpSeq = rcuSeqEnd(rcuSeqStart(st.gpSeq));
  while (st.next.length > 0 && st.fallbackReader.nesting === 0) {
    const head = st.next.shift()!;
    st.invoking = head;
    await invoke(head);
    st.invoking = null;
  }
}
