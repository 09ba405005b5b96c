import { activeSimulation } from "./simulation.js";
import type { Task } from "./task.js";

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

  /** Sleeps until woken. */
  wait(label = `wait(${this.name})`): Promise<void> {
    const sim = activeSimulation();
    if (!sim) return new Promise<void>((res) => this.outside.push(res));
    const t = sim.current;
    if (!t) throw new Error(`cannot wait on ${this.name} in scheduler context`);
    this.waiters.push(t);
    return sim.block(this, label);
  }

  /** Sleeps until woken or until `ns` of virtual time pass. True if woken, false on timeout. */
  async waitTimeout(ns: number, label = `wait_timeout(${this.name})`): Promise<boolean> {
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

  /** Wakes every waiter; returns how many. */
  wakeAll(): number {
    let n = 0;
    while (this.wakeOne()) n++;
    return n;
  }
}
