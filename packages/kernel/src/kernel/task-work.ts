/**
 * Task work (kernel/task_work.c, include/linux/task_work.h): callbacks a task runs on its way
 * back to userspace, or when it exits. The final fput() of a user task uses it to run __fput()
 * outside whatever locks the caller holds.
 *
 * Which tasks return to userspace: in the simulation, only the threads of a simulated process
 * (`Process.spawnThread`) do; the syscall layer runs their task work on every syscall exit and
 * at thread exit. Every other task (kernel threads, workqueue workers, interrupt handlers, and a
 * bare simulation task that is not a process thread) is treated like a kthread: nothing would
 * ever run its task work, so `taskWorkAdd()` refuses it with -ESRCH, as it does for a task past
 * exit_task_work().
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import { currentTask, fmtLabel, type Task, TaskLocal } from "@primetime/sim";
import { ESRCH } from "../include/errno.js";

/** Models struct callback_head: one queued callback. */
export interface CallbackHead {
  /** The callback (task_work_func_t). May sleep. */
  readonly func: (work: CallbackHead) => Promise<void> | void;
  /** For point labels: what the callback does ("____fput(file#3)"). */
  readonly label?: string;
}

/** Models TWA_NONE: queue without notification. */
export const TWA_NONE = 0;
/** Models TWA_RESUME: run on the next return to userspace (what fput() uses). */
export const TWA_RESUME = 1;
/** Models TWA_SIGNAL: like TWA_RESUME, and interrupt a sleep (treated like TWA_RESUME here). */
export const TWA_SIGNAL = 2;

interface TaskWorks {
  /** The task returns to userspace (a process thread): its task work runs. */
  user: boolean;
  /** task->task_works, newest last (the kernel's list is LIFO: head is the newest). */
  works: CallbackHead[];
  /** PF_EXITING: the next empty run installs work_exited. */
  exiting: boolean;
  /** task->task_works == &work_exited: task_work_add() fails from now on. */
  exited: boolean;
  /** `task_work_add(<task>, `: the start of task_work_add()'s labels, once per task. */
  addLabel: string;
}

const taskWorks = new TaskLocal<TaskWorks>(() => ({
  user: false,
  works: [],
  exiting: false,
  exited: false,
  addLabel: "",
}));

/**
 * Marks `task` as a thread that returns to userspace (a process thread), so that it accepts task
 * work. Called by the process layer before the thread first runs.
 */
export function initUserThread(task: Task): void {
  taskWorks.get(task).user = true;
}

/**
 * True if `task` is a user thread that will run its task work: the model of
 * `!in_interrupt() && !(task->flags & PF_KTHREAD)` (is_user_thread()). False for null (scheduler
 * context).
 */
export function isUserThread(task: Task | null): boolean {
  return task !== null && task.kind === "user" && taskWorks.get(task).user;
}

/** Works queued on `task` and not yet run (inspection, no scheduling point). */
export function taskWorkPending(task: Task): number {
  return taskWorks.get(task).works.length;
}

/**
 * Models task_work_add(task, work, notify): queues `work` to run when `task` returns to
 * userspace or exits. Returns 0, or -ESRCH when the task will never run it: it has passed
 * exit_task_work(), or it does not return to userspace (see the file comment).
 *
 * Locking: none (a cmpxchg on task->task_works); any task may add work to any task.
 * References: the work item must stay valid until it runs; its owner (e.g. the file) keeps it.
 */
export async function taskWorkAdd(
  task: Task,
  work: CallbackHead,
  _notify: number = TWA_RESUME,
): Promise<number> {
  // The task's state is the model's bookkeeping (task->task_works is read after the point): its
  // slot holds the label's first half, built once per task instead of at every call.
  const s = taskWorks.get(task);
  if (s.addLabel === "") s.addLabel = fmtLabel("task_work_add(", task.name, ", ");
  const atPoint = pointNow(fmtLabel(s.addLabel, work.label ?? "work", ")"));
  if (atPoint !== null) await atPoint;
  if (!isUserThread(task) || s.exited) return -ESRCH;
  s.works.push(work);
  return 0;
}

/**
 * Models task_work_run(): runs the current task's queued works, newest first (the kernel's list
 * is LIFO and gives no ordering guarantee), until none is left; works added by a running work
 * are run too. A task that is exiting marks itself "work_exited" once the list is empty, after
 * which task_work_add() fails.
 *
 * Locking: must be called without locks held (callbacks may sleep): on the return-to-user path
 * and in do_exit().
 * References: none of its own; each callback consumes what its owner queued.
 */
export function taskWorkRun(): Promise<void> {
  const task = currentTask();
  if (task === null) return RESOLVED;
  const s = taskWorks.get(task);
  const p = pointNow("task_work_run");
  if (p !== null) return p.then(() => taskWorkRunAfterPoint(s));
  // The common case, nothing queued, settles at once.
  if (s.works.length === 0) {
    if (s.exiting) s.exited = true;
    return RESOLVED;
  }
  return taskWorkRunFrom(s);
}

/**
 * taskWorkRun() after its point when the task was switched out there: nothing queued (the
 * common case) settles at once, as on the fast path, with no async frame.
 */
function taskWorkRunAfterPoint(s: TaskWorks): Promise<void> | undefined {
  if (s.works.length === 0) {
    if (s.exiting) s.exited = true;
    return undefined;
  }
  return taskWorkRunFrom(s);
}

/** taskWorkRun()'s loop, after a "task_work_run" point. */
async function taskWorkRunFrom(s: TaskWorks): Promise<void> {
  for (;;) {
    if (s.works.length === 0) {
      if (s.exiting) s.exited = true;
      return;
    }
    const batch = s.works.splice(0).reverse();
    for (const work of batch) {
      await work.func(work);
      const atPoint = pointNow("cond_resched");
      if (atPoint !== null) await atPoint;
    }
    const atPoint = pointNow("task_work_run");
    if (atPoint !== null) await atPoint;
  }
}

/**
 * Models exit_task_work(): sets PF_EXITING for task work and runs what is queued; afterwards
 * task_work_add() on this task fails with -ESRCH, so a late final fput() takes the delayed-fput
 * path instead of leaking.
 *
 * Locking: none held (do_exit()).
 * References: none.
 */
export async function exitTaskWork(): Promise<void> {
  const task = currentTask();
  if (task === null) return;
  taskWorks.get(task).exiting = true;
  const taskWorkRunDone = taskWorkRun();
  if (taskWorkRunDone !== RESOLVED) await taskWorkRunDone;
}
