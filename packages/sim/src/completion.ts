import { WaitQueue } from "./wait-queue.js";

/**
 * Models `struct completion` (kernel/sched/completion.c): a count of `complete()` calls that
 * `waitForCompletion()` consumes, sleeping while it is zero. `completeAll()` releases every
 * present and future waiter.
 */
export class Completion {
  private done = 0;
  private readonly wq: WaitQueue;

  constructor(readonly name = "completion") {
    this.wq = new WaitQueue(`completion ${name}`);
  }

  /** Models complete(): one waiter (present or future) may go on. */
  complete(): void {
    if (this.done !== Number.POSITIVE_INFINITY) this.done++;
    this.wq.wakeOne();
  }

  /** Models complete_all(). */
  completeAll(): void {
    this.done = Number.POSITIVE_INFINITY;
    this.wq.wakeAll();
  }

  /** Models completion_done(): true if a wait would not sleep. */
  get completed(): boolean {
    return this.done > 0;
  }

  /** Models wait_for_completion(). */
  async wait(label = `wait_for_completion(${this.name})`): Promise<void> {
    while (this.done === 0) await this.wq.wait(label);
    if (this.done !== Number.POSITIVE_INFINITY) this.done--;
  }

  /**
   * Models wait_for_completion_timeout(): true if completed, false if `ns` of virtual time passed
   * first.
   */
  async waitTimeout(
    ns: number,
    label = `wait_for_completion_timeout(${this.name})`,
  ): Promise<boolean> {
    while (this.done === 0) {
      if (!(await this.wq.waitTimeout(ns, label))) return false;
    }
    if (this.done !== Number.POSITIVE_INFINITY) this.done--;
    return true;
  }
}
