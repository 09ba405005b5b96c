import { activeSimulation } from "./simulation.js";
import type { Task } from "./task.js";

/**
 * Task sleep states (include/linux/sched.h): what a sleeping task can be woken by besides its
 * wait queue. A plain `wait()` is TASK_UNINTERRUPTIBLE (mutex_lock(), wait_event(), a spinning
 * spinlock); an interruptible sleep (wait_event_interruptible(), poll, epoll_wait,
 * dma_fence_wait(intr = true)) is TASK_INTERRUPTIBLE; a killable one (mutex_lock_killable(),
 * wait_event_killable()) TASK_KILLABLE. wakeUpState() wakes a task whose sleep state matches a
 * mask: signal_wake_up() passes TASK_INTERRUPTIBLE | TASK_WAKEKILL for a fatal signal.
 */
export const TASK_INTERRUPTIBLE = 0x1;
/** Models TASK_UNINTERRUPTIBLE: only the wait queue (or a timeout) wakes the task. */
export const TASK_UNINTERRUPTIBLE = 0x2;
/** Models TASK_WAKEKILL: a fatal signal wakes the task. */
export const TASK_WAKEKILL = 0x100;
/** Models TASK_KILLABLE (TASK_WAKEKILL | TASK_UNINTERRUPTIBLE): only a fatal signal interrupts. */
export const TASK_KILLABLE = TASK_WAKEKILL | TASK_UNINTERRUPTIBLE;

/**
 * A wait queue (`wait_queue_head_t`): tasks sleep on it until woken. Waking makes a task
 * runnable; it runs when the strategy picks it, so the waker goes on first (no hand-off).
 * Callers recheck their condition after waking, as `wait_event()` does.
 *
 * Outside a simulation the queue is a plain FIFO of promises, so the same code works as ordinary
 * async code (a timed wait there has no clock: it only ends when woken, or at once for 0).
 */
export class WaitQueue {
  private readonly waiters: Task[] = [];
  private readonly outside: (() => void)[] = [];

  /**
   * @param name shown in deadlock reports ("mutex object_name_lock")
   * @param holder who the waiters wait for, if anyone (a lock's owner), for deadlock reports
   * @param opts.spinning the waiters spin rather than sleep (see `spinning`)
   */
  /**
   * True for the queue a contended spinlock "spins" on: the waiter is busy-waiting on a CPU, not
   * sleeping, so might_sleep-style checks (onBlock hooks) must not count it as a sleep.
   */
  readonly spinning: boolean;

  constructor(
    readonly name: string,
    private readonly holder?: () => string | null,
    opts: { spinning?: boolean } = {},
  ) {
    this.spinning = opts.spinning ?? false;
  }

  /** "mutex A held by t2[3]": what deadlock reports print for a task waiting here. */
  describe(): string {
    const h = this.holder?.();
    return h ? `${this.name} held by ${h}` : this.name;
  }

  /** Tasks waiting now. */
  get waiting(): number {
    return this.waiters.length + this.outside.length;
  }

  /**
   * Sleeps until woken, in sleep state `state` (TASK_UNINTERRUPTIBLE by default; with
   * TASK_INTERRUPTIBLE or TASK_KILLABLE wakeUpState() can also end the sleep: the caller then
   * finds itself woken without its condition, and checks for the signal as the kernel's
   * signal_pending_state() check after schedule() does). The caller checks for a pending signal
   * before it sleeps (the kernel's schedule() does not sleep then); nothing here knows signals.
   */
  wait(label = `wait(${this.name})`, state: number = TASK_UNINTERRUPTIBLE): Promise<void> {
    const sim = activeSimulation();
    if (!sim) return new Promise<void>((res) => this.outside.push(res));
    const t = sim.current;
    if (!t) throw new Error(`cannot wait on ${this.name} in scheduler context`);
    this.waiters.push(t);
    t.sleepState = state;
    return sim.block(this, label);
  }

  /**
   * Sleeps until woken or until `ns` of virtual time pass, in sleep state `state` (see wait()).
   * True if woken (also by wakeUpState()), false on timeout.
   */
  async waitTimeout(
    ns: number,
    label = `wait_timeout(${this.name})`,
    state: number = TASK_UNINTERRUPTIBLE,
  ): Promise<boolean> {
    const sim = activeSimulation();
    if (!sim) {
      if (ns <= 0) return false;
      await new Promise<void>((res) => this.outside.push(res));
      return true;
    }
    const t = sim.current;
    if (!t) throw new Error(`cannot wait on ${this.name} in scheduler context`);
    t.timedOut = false;
    const timer = sim.addTimer(ns, () => {
      if (t.waitingOn !== this || t.state !== "blocked") return;
      const i = this.waiters.indexOf(t);
      if (i >= 0) this.waiters.splice(i, 1);
      t.timedOut = true;
      sim.wake(t);
    });
    this.waiters.push(t);
    t.sleepState = state;
    await sim.block(this, label);
    timer.cancel();
    return !t.timedOut;
  }

  /** Wakes the longest waiter. True if a task was woken. */
  wakeOne(): boolean {
    for (;;) {
      const t = this.waiters.shift();
      if (!t) break;
      if (t.sim.running && t.state === "blocked") {
        t.sim.wake(t);
        return true;
      }
    }
    const res = this.outside.shift();
    if (res) {
      res();
      return true;
    }
    return false;
  }

  /** @internal Takes `t` off the queue (wakeUpState()); true if it was queued. */
  remove(t: Task): boolean {
    const i = this.waiters.indexOf(t);
    if (i < 0) return false;
    this.waiters.splice(i, 1);
    return true;
  }

  /** Wakes every waiter; returns how many. */
  wakeAll(): number {
    let n = 0;
    while (this.wakeOne()) n++;
    return n;
  }
}

/**
 * Models wake_up_state(t, state) (kernel/sched/core.c: try_to_wake_up() with a state mask): wakes
 * `t` if it sleeps in a state that intersects `state`, taking it off the wait queue it sleeps on
 * (the kernel leaves the entry queued and the woken task removes it in finish_wait(); no other
 * task runs in between here, and a wake_up() of that queue skips a task that is already running,
 * so the outcome is the same). True if the task was woken. Not a scheduling point: the woken task
 * runs when the strategy picks it, as with any wakeup.
 *
 * Why the sim offers this and nothing more: the signal itself (which task has one pending, which
 * errno a wait returns) belongs to the kernel model (@primetime/kernel's signal.ts); the
 * scheduler only needs a sleep state per sleeping task and a way to wake one given task.
 */
export function wakeUpState(t: Task, state: number): boolean {
  if (t.state !== "blocked" || !(t.sleepState & state) || !t.sim.running) return false;
  t.waitingOn?.remove(t);
  t.sim.wake(t);
  return true;
}
