import { activeSimulation, type Simulation } from "./simulation.js";
import { WaitQueue } from "./wait-queue.js";

export type TaskState = "runnable" | "blocked" | "exited";

/** What a task models: a user thread, a kernel thread (kthread, worker), an interrupt handler. */
export type TaskKind = "user" | "kernel" | "irq";

export interface SpawnOptions {
  kind?: TaskKind;
  /**
   * A daemon (the RCU grace-period kthread, an idle workqueue worker) may stay blocked forever:
   * it does not keep the run alive and is not a deadlock when everything else has finished.
   */
  daemon?: boolean;
}

/**
 * A simulated CPU thread. Only one task runs at a time; it runs until its next scheduling point,
 * where the strategy picks who goes next.
 */
export class Task {
  state: TaskState = "runnable";
  /** Resumes the task where it is suspended (set while it is not running). */
  resume: (() => void) | null = null;
  /** The wait queue the task sleeps on, for deadlock reports. */
  waitingOn: WaitQueue | null = null;
  /** Set when a timed wait expired instead of being woken. */
  timedOut = false;
  /** Label of the task's latest step. */
  lastLabel = "spawn";
  /** The exception that killed the task (a BUG() or an unexpected throw), if any. */
  error: unknown = undefined;
  readonly kind: TaskKind;
  readonly daemon: boolean;
  /** Per-task state of the layers above (RCU nesting, held locks...): see TaskLocal. */
  readonly locals = new Map<object, unknown>();
  private exitQueue: WaitQueue | null = null;

  constructor(
    readonly sim: Simulation,
    readonly id: number,
    readonly name: string,
    readonly parent: Task | null,
    opts: SpawnOptions,
  ) {
    this.kind = opts.kind ?? (parent?.kind === "irq" ? "kernel" : (parent?.kind ?? "user"));
    this.daemon = opts.daemon ?? false;
  }

  get exited(): boolean {
    return this.state === "exited";
  }

  /** Waits until the task has exited (kthread_stop/pthread_join style). */
  async join(): Promise<void> {
    while (this.state !== "exited") {
      if (!this.exitQueue) this.exitQueue = new WaitQueue(`exit of ${this.name}[${this.id}]`);
      const wq = this.exitQueue;
      await wq.wait(`join(${this.name})`);
    }
  }

  /** @internal Called by the scheduler when the task exits. */
  notifyExit(): void {
    this.exitQueue?.wakeAll();
  }

  toString(): string {
    return `${this.name}[${this.id}]`;
  }
}

/** Typed per-task storage, like a per-task field of `struct task_struct`. */
export class TaskLocal<T> {
  constructor(private readonly init: () => T) {}

  get(task: Task): T {
    const v = task.locals.get(this);
    if (v !== undefined || task.locals.has(this)) return v as T;
    const fresh = this.init();
    task.locals.set(this, fresh);
    return fresh;
  }

  set(task: Task, value: T): void {
    task.locals.set(this, value);
  }
}

/**
 * Typed per-simulation storage, for kernel-wide state (the slab, lockdep's dependency graph, the
 * RCU state machine). Outside a simulation one fallback instance serves plain async use.
 */
export class SimLocal<T> {
  private fallback: T | undefined;

  constructor(private readonly init: () => T) {}

  /** The value for `sim` (default: the running simulation, else the fallback). */
  get(sim: Simulation | null = activeSimulation()): T {
    if (sim === null) {
      if (this.fallback === undefined) this.fallback = this.init();
      return this.fallback;
    }
    const v = sim.locals.get(this);
    if (v !== undefined || sim.locals.has(this)) return v as T;
    const fresh = this.init();
    sim.locals.set(this, fresh);
    return fresh;
  }

  /** Drops the fallback instance (tests that use kernel code outside a simulation). */
  resetFallback(): void {
    this.fallback = undefined;
  }
}
