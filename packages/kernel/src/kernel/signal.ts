/**
 * Fatal signals (include/linux/sched/signal.h, kernel/signal.c, kernel/exit.c, Linux v6.18).
 *
 * The one signal modeled is SIGKILL as a group exit delivers it: kill(pid, SIGKILL)
 * (`Process.kill()`, complete_signal()'s fatal branch) queues it on every thread of the process,
 * and a thread's exit_group() (`Process.startGroupExit()`, do_group_exit() -> zap_other_threads())
 * on every other thread. Queuing it wakes the thread from an interruptible or killable sleep
 * (signal_wake_up(t, 1) -> wake_up_state(t, TASK_INTERRUPTIBLE | TASK_WAKEKILL)); an
 * uninterruptible sleep (mutex_lock(), wait_event(), a spinlock, dma_fence_wait(intr = false))
 * goes on until it ends on its own. The woken code sees signal_pending(), returns its errno
 * (-ERESTARTSYS, -EINTR, -ERESTARTNOHAND) through its error path, and the thread dies on its way
 * back to userspace (exitToUserMode(): get_signal() dequeues SIGKILL there and calls
 * do_group_exit()), so the syscall is never restarted and userspace never sees the errno.
 *
 * What lives where: the sim knows only sleep states and wakeUpState() (wake one given task);
 * which thread has SIGKILL pending, and so what a wait returns, is this file's. The pending bit
 * is per task (t->pending.signal), set for the threads in creation order, which is therefore the
 * order of the wake-ups (the woken tasks become runnable at once; who runs first is the
 * strategy's choice at the next point, as with any wakeup).
 *
 * Simplifications: no other signal, no handlers, no blocking (sigprocmask), no restart (a
 * fatal signal never restarts), no shared pending queue, no siglock (a kill is atomic between
 * scheduling points); signal_pending() and fatal_signal_pending() are therefore the same test.
 */

import {
  currentTask,
  TASK_INTERRUPTIBLE,
  TASK_WAKEKILL,
  type Task,
  TaskLocal,
  type WaitQueue,
  wakeUpState,
} from "@primetime/sim";
import { ERESTARTSYS } from "../include/errno.js";

/** SIGKILL in t->pending.signal (with TIF_SIGPENDING): the only signal there is. */
const sigkillPending = new TaskLocal<boolean>(() => false);

/**
 * Models signal_pending(p) (include/linux/sched/signal.h): true while SIGKILL is pending for
 * `task` (default: the running task; false for kernel threads and outside a process).
 * Locking: none (a lockless flag test, as TIF_SIGPENDING).
 */
export function signalPending(task: Task | null = currentTask()): boolean {
  return task !== null && sigkillPending.get(task);
}

/**
 * Models fatal_signal_pending(p): task_sigpending(p) && SIGKILL pending. With SIGKILL the only
 * signal, the same as signalPending().
 * Locking: none.
 */
export function fatalSignalPending(task: Task | null = currentTask()): boolean {
  return signalPending(task);
}

/**
 * Models signal_pending_state(state, p): whether a sleep in `state` must end for a signal:
 * never for a plain TASK_UNINTERRUPTIBLE one; for TASK_INTERRUPTIBLE on any pending signal; for
 * TASK_KILLABLE (TASK_WAKEKILL) on a fatal one.
 *
 * "if (!(state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL))) return 0; if (!signal_pending(p))
 * return 0; return (state & TASK_INTERRUPTIBLE) || __fatal_signal_pending(p);"
 * Locking: none.
 */
export function signalPendingState(state: number, task: Task | null = currentTask()): boolean {
  if (!(state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL))) return false;
  if (!signalPending(task)) return false;
  return (state & TASK_INTERRUPTIBLE) !== 0 || fatalSignalPending(task);
}

/**
 * Models `sigaddset(&t->pending.signal, SIGKILL); signal_wake_up(t, 1);` as complete_signal()
 * and zap_other_threads() do for each thread: SIGKILL pending, then signal_wake_up_state(t,
 * TASK_WAKEKILL) -> wake_up_state(t, TASK_WAKEKILL | TASK_INTERRUPTIBLE) (an interruptible or
 * killable sleeper wakes; kick_process() of a running thread is nothing here: it sees the flag
 * at its next check). A thread that has exited is skipped ("Don't bother with already dead
 * threads").
 * Locking: siglock is not modeled; not a scheduling point.
 */
export function sendSigkill(t: Task): void {
  if (t.exited) return;
  sigkillPending.set(t, true);
  wakeUpState(t, TASK_WAKEKILL | TASK_INTERRUPTIBLE);
}

/**
 * Models get_signal()'s "Has this task already been marked for death?" branch: the thread acts
 * on its group exit, `sigdelset(&current->pending.signal, SIGKILL)`, and goes to do_group_exit().
 * From then on (do_exit()) signal_pending() is false again for it.
 * Locking: siglock is not modeled.
 */
export function dequeueSigkill(t: Task | null = currentTask()): void {
  if (t !== null && sigkillPending.peek(t)) sigkillPending.set(t, false);
}

/**
 * Models `set_current_state(state); schedule();` with the caller already queued on `wq` (as
 * prepare_to_wait() leaves it): sleeps on `wq` in `state`, unless signal_pending_state(state,
 * current) holds, when __schedule() leaves the task running (the sleep returns at once). A kill
 * during the sleep wakes it (TASK_INTERRUPTIBLE, TASK_KILLABLE): the caller rechecks its
 * condition and the signal, as the kernel's wait loops do.
 * Locking: may sleep; no spinlock may be held.
 */
export function scheduleOn(wq: WaitQueue, state: number, label: string): Promise<void> {
  if (signalPendingState(state)) return Promise.resolve();
  return wq.wait(label, state);
}

/**
 * Models `set_current_state(state); schedule_timeout(ns)` on `wq` (see scheduleOn()): false
 * when the time ran out, true when woken (by the queue or a signal) or not put to sleep because
 * a signal is pending (schedule_hrtimeout_range()'s -EINTR: not timed out).
 * Locking: as scheduleOn().
 */
export function scheduleTimeoutOn(
  wq: WaitQueue,
  ns: number,
  state: number,
  label: string,
): Promise<boolean> {
  if (signalPendingState(state)) return Promise.resolve(true);
  return wq.waitTimeout(ns, label, state);
}

/**
 * Models wait_event_interruptible(wq, condition) (include/linux/wait.h, ___wait_event() with
 * TASK_INTERRUPTIBLE): 0 once `condition()` holds (checked first, and again after each wakeup),
 * -ERESTARTSYS when a signal is pending before a sleep (prepare_to_wait_event()'s
 * signal_pending_state() check).
 * Locking: none held (a sleep).
 */
export async function waitEventInterruptible(
  wq: WaitQueue,
  condition: () => boolean,
  label: string,
): Promise<number> {
  for (;;) {
    if (condition()) return 0;
    if (signalPendingState(TASK_INTERRUPTIBLE)) return -ERESTARTSYS;
    await wq.wait(label, TASK_INTERRUPTIBLE);
  }
}
