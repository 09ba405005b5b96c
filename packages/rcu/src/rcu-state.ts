/**
 * The RCU state shared by the read side, the grace-period machine and RCU lockdep: per task, the
 * read-side nesting (`current->rcu_read_lock_nesting` of PREEMPT_RCU); per simulation, the set
 * of readers inside a section, the readers the current grace period waits for, the callback
 * lists and the grace-period kthread (`struct rcu_state`, flattened: one "node", no CPUs).
 *
 * Internal to the package: the public API lives in rcu-read.ts, grace-period.ts and
 * rcu-lockdep.ts.
 */

import {
  activeSimulation,
  currentTask,
  SimLocal,
  type Simulation,
  type Site,
  type Task,
  TaskLocal,
  WaitQueue,
} from "@primetime/sim";
import type { RcuHead } from "./grace-period.js";

/** One task's read side. */
export interface ReaderState {
  /** rcu_read_lock() nesting depth; > 0 inside a read-side critical section. */
  nesting: number;
  /** Where the outermost rcu_read_lock() of the current section ran (for splats). */
  since: Site | null;
}

/** Models `struct rcu_state` (kernel/rcu/tree.h), reduced to what the model needs. */
export class RcuState {
  /** The one "task" of plain async use outside a simulation. */
  readonly fallbackReader: ReaderState = { nesting: 0, since: null };
  /**
   * Readers inside a read-side section now (an array: a Set reallocates its table each time it
   * goes from one entry to none, i.e. at nearly every outermost rcu_read_unlock()).
   */
  readonly readers: ReaderState[] = [];
  /**
   * Readers the grace period in progress waits for: those that were inside a section when it
   * began and have not left it yet (the `->blkd_tasks` and `->qsmask` of Tree RCU, per task).
   */
  holdouts = new Set<ReaderState>();
  /**
   * `rcu_state.gp_seq`: the counter shifted left by RCU_SEQ_CTR_SHIFT (2), the low bits the
   * phase (0 idle, 1 a grace period in progress).
   */
  gpSeq = 0;
  /** Callbacks waiting for a grace period that has not started (RCU_NEXT_TAIL). */
  next: RcuHead[] = [];
  /** Callbacks waiting for the grace period in progress (RCU_WAIT_TAIL). */
  wait: RcuHead[] = [];
  /** Callbacks whose grace period has ended, to invoke in order (RCU_DONE_TAIL). */
  done: RcuHead[] = [];
  /** The callback being invoked now, if any (rcu_do_batch() in progress). */
  invoking: RcuHead | null = null;
  /** The grace-period kthread ("rcu_gp"), spawned on first need. */
  kthread: Task | null = null;
  /** Where the kthread idles until callbacks arrive (RCU_GP_WAIT_GPS). */
  readonly gpWq = new WaitQueue("rcu_gp_kthread: waiting for callbacks");
  /** Where the kthread waits for pre-existing readers (RCU_GP_WAIT_FQS). */
  readonly qsWq = new WaitQueue("rcu_gp_kthread: waiting for readers");
  /** Splat keys already reported (RCU_LOCKDEP_WARN()'s per-site `__warned`). */
  readonly warned = new Set<string>();
  /** The task-exit hook is registered on this simulation. */
  hooked = false;
}

const STATE = new SimLocal(() => new RcuState());
const READER = new TaskLocal<ReaderState>(() => ({ nesting: 0, since: null }));

/** Checks run when a task exits inside a read-side section, before its section is closed. */
const exitChecks: ((task: Task, reader: ReaderState) => void)[] = [];

/** Registers a check for tasks that exit inside a read-side section (RCU lockdep's). */
export function onRcuTaskExit(check: (task: Task, reader: ReaderState) => void): void {
  exitChecks.push(check);
}

/** The RCU state of `sim` (default: the running simulation, else the fallback). */
export function rcuState(sim: Simulation | null = activeSimulation()): RcuState {
  const st = STATE.get(sim);
  if (sim !== null && !st.hooked) {
    st.hooked = true;
    sim.onTaskExit((t) => rcuTaskExit(st, t));
  }
  return st;
}

/** The RCU state of `sim` if RCU has been used in it, without creating it. */
export function peekRcuState(sim: Simulation): RcuState | undefined {
  return STATE.peek(sim);
}

/** The current task's reader state (the fallback reader outside a task). */
export function readerOf(st: RcuState = rcuState()): ReaderState {
  const t = currentTask();
  return t === null ? st.fallbackReader : READER.get(t);
}

/** A task's reader state if it ever used RCU, without creating it. */
export function readerOfTask(task: Task): ReaderState | undefined {
  return READER.peek(task);
}

/** A reader enters its outermost section. */
export function readerEnter(st: RcuState, reader: ReaderState, since: Site): void {
  reader.since = since;
  if (!st.readers.includes(reader)) st.readers.push(reader);
}

/**
 * A reader left its outermost section (or exited): a quiescent state. The grace period in
 * progress stops waiting for it, and its kthread is woken when it was the last holdout: a
 * holdout was switched out inside its section when rcu_gp_init() ran, i.e. preempted, so this
 * is rcu_read_unlock_special() -> rcu_report_unblock_qs_rnp() -> rcu_report_qs_rsp() ->
 * rcu_gp_kthread_wake() (simplified: one rcu_node, no CPUs whose quiescent states it also
 * waits for). A reader the grace period does not wait for wakes nothing.
 */
export function readerQuiescent(st: RcuState, reader: ReaderState): void {
  reader.since = null;
  const readers = st.readers;
  const i = readers.indexOf(reader);
  if (i >= 0) {
    // Order does not matter (a grace period takes the readers as a set): swap with the last.
    readers[i] = readers[readers.length - 1]!;
    readers.pop();
  }
  if (st.holdouts.delete(reader) && st.holdouts.size === 0) st.qsWq.wakeAll();
}

/**
 * Models the PREEMPT_RCU part of do_exit(): exit_rcu() forces the exiting task out of its
 * read-side section, so a grace period never waits for a dead task. The checks (lockdep's
 * "still has locks held!") run first.
 */
function rcuTaskExit(st: RcuState, task: Task): void {
  const r = readerOfTask(task);
  if (r === undefined || r.nesting === 0) return;
  for (const check of exitChecks) check(task, r);
  r.nesting = 0;
  readerQuiescent(st, r);
}

/** RCU_SEQ_CTR_SHIFT: the low bits of a sequence number hold the phase. */
export const RCU_SEQ_CTR_SHIFT = 2;
const RCU_SEQ_STATE_MASK = (1 << RCU_SEQ_CTR_SHIFT) - 1;

/** Models rcu_seq_start(): a grace period begins. */
export function rcuSeqStart(seq: number): number {
  return seq + 1;
}

/** Models rcu_seq_end(): the grace period in progress ends; the counter advances. */
export function rcuSeqEnd(seq: number): number {
  return (seq | RCU_SEQ_STATE_MASK) + 1;
}

/** Models rcu_seq_state(): 0 when idle, nonzero while a grace period is in progress. */
export function rcuSeqState(seq: number): number {
  return seq & RCU_SEQ_STATE_MASK;
}
