import { currentTask, point, report } from "./current.js";
import type { Task } from "./task.js";
import { WaitQueue } from "./wait-queue.js";

const OUTSIDE = { name: "<outside>", id: 0 } as const;

/**
 * A sleeping lock with an owner: the scheduler-level mutex. It is what the lower layers and
 * small models (kref.rst, deadlock demos) use; `@primetime/kernel`'s `Mutex` adds lockdep and
 * KASAN on top. Acquire and release are scheduling points; a contended lock sleeps on a wait
 * queue whose deadlock report names the owner.
 */
export class SimMutex {
  private owner: Task | typeof OUTSIDE | null = null;
  private readonly wq: WaitQueue;

  constructor(readonly name: string) {
    this.wq = new WaitQueue(`mutex ${name}`, () =>
      this.owner ? `${this.owner.name}[${this.owner.id}]` : null,
    );
  }

  get locked(): boolean {
    return this.owner !== null;
  }

  /** True if the current task holds the lock. */
  get heldByCurrent(): boolean {
    return this.owner !== null && this.owner === (currentTask() ?? OUTSIDE);
  }

  async lock(): Promise<void> {
    await point(`mutex_lock(${this.name})`);
    while (this.owner !== null) await this.wq.wait(`mutex_lock(${this.name}) sleeps`);
    this.owner = currentTask() ?? OUTSIDE;
  }

  /** Takes the lock if it is free; never sleeps. */
  tryLock(): boolean {
    if (this.owner !== null) return false;
    this.owner = currentTask() ?? OUTSIDE;
    return true;
  }

  async unlock(): Promise<void> {
    await point(`mutex_unlock(${this.name})`);
    const me = currentTask() ?? OUTSIDE;
    if (this.owner !== me) {
      report("warn", `unlock of mutex ${this.name} not held by this task`);
      if (this.owner === null) return;
    }
    this.owner = null;
    this.wq.wakeOne();
  }
}
