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
  /**
   * The sleep state of a blocked task (TASK_UNINTERRUPTIBLE, TASK_INTERRUPTIBLE, TASK_KILLABLE:
   * see wait-queue.ts); 0 (TASK_RUNNING) otherwise.
   */
  sleepState = 0;
  /** Set when a timed wait expired instead of being woken. */
  timedOut = false;
  /** Label of the task's latest step. */
  lastLabel = "spawn";
  /** The exception that killed the task (a BUG() or an unexpected throw), if any. */
  error: unknown = undefined;
  readonly kind: TaskKind;
  readonly daemon: boolean;
  /**
   * Per-task state of the layers above (RCU nesting, held locks...), by TaskLocal slot: see
   * TaskLocal.
   */
  readonly locals: unknown[] = [];
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

/** TaskLocal slots handed out so far (each TaskLocal has its index in every task's `locals`). */
let taskSlots = 0;
/** The same for SimLocal (a simulation's `locals`). */
let simSlots = 0;

/**
 * Typed per-task storage, like a per-task field of `struct task_struct`. Each TaskLocal owns a
 * slot, an index into every task's `locals` array (an element load per get(), not a Map lookup).
 */
export class TaskLocal<T> {
  private readonly slot = taskSlots++;

  constructor(private readonly init: () => T) {}

  get(task: Task): T {
    const v = task.locals[this.slot];
    if (v !== undefined || this.slot in task.locals) return v as T;
    const fresh = this.init();
    task.locals[this.slot] = fresh;
    return fresh;
  }

  /** The value of `task` if it has one, without creating it. */
  peek(task: Task): T | undefined {
    return task.locals[this.slot] as T | undefined;
  }

  set(task: Task, value: T): void {
    task.locals[this.slot] = value;
  }
}

/**
 * Typed per-simulation storage, for kernel-wide state (the slab, lockdep's dependency graph, the
 * RCU state machine). Outside a simulation one fallback instance serves plain async use.
 */
export class SimLocal<T> {
  private fallback: T | undefined;
  /** This SimLocal's index in every simulation's `locals` (see TaskLocal). */
  private readonly slot = simSlots++;

  constructor(private readonly init: () => T) {}

  /** The value for `sim` (default: the running simulation, else the fallback). */
  get(sim: Simulation | null = activeSimulation()): T {
    if (sim === null) {
      if (this.fallback === undefined) this.fallback = this.init();
      return this.fallback;
    }
    const v = sim.locals[this.slot];
    if (v !== undefined || this.slot in sim.locals) return v as T;
    const fresh = this.init();
    sim.locals[this.slot] = fresh;
    return fresh;
  }

  /** The value of `sim` if it has one, without creating it. */
  peek(sim: Simulation): T | undefined {
    return sim.locals[this.slot] as T | undefined;
  }

  /** Drops the fallback instance (tests that use kernel code outside a simulation). */
  resetFallback(): void {
    this.fallback = undefined;
  }
}
