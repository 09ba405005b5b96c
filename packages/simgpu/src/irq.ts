/**
 * The device's interrupt line: a latched status and the driver's handler, run as a task.
 *
 * The engine raises interrupts from timer callbacks, in scheduler context, where nothing may
 * block or even reach a scheduling point. So raising only latches the status and, if no handler
 * task is pending, spawns one (an "irq" task, like a threaded interrupt handler's irq/N-name
 * thread): that task reads and clears the status and calls the handler the driver registered,
 * which may run kernel code with points (signal fences, queue work). Interrupts raised while the
 * handler runs are latched and delivered by the same task when the handler returns, so
 * consecutive events can coalesce into one status, as with a real interrupt status register.
 */

import { report, type Simulation } from "@primetime/sim";
import type { CommandError, GpuFault } from "./engine.js";

/** What a reset did (gpu.reset()). */
export interface ResetReport {
  /** Seqnos of the submissions dropped (in flight or queued), oldest first: never completed. */
  readonly lost: readonly number[];
  /** True if the engine was hung when reset. */
  readonly wasHung: boolean;
  /** The fence register at the reset. */
  readonly seqno: number;
  /** Virtual time of the reset. */
  readonly time: number;
}

/**
 * The interrupt status the handler receives: everything latched since the previous delivery
 * (read-to-clear).
 */
export interface InterruptStatus {
  /** At least one fence packet completed. */
  readonly fence: boolean;
  /** The fence register when the handler task read the status. */
  readonly seqno: number;
  /** Page faults, oldest first. */
  readonly faults: readonly GpuFault[];
  /** Resets, oldest first. */
  readonly resets: readonly ResetReport[];
  /** Command errors, oldest first: the engine stopped at the latest until restarted. */
  readonly errors: readonly CommandError[];
}

/**
 * The driver's interrupt handler. It runs in a task of kind "irq": it may reach points, but it
 * must not sleep (the kernel's might_sleep checks see an interrupt context).
 */
export type InterruptHandler = (status: InterruptStatus) => Promise<void> | void;

/** The spawn options of a handler task (one object: Task only reads them). */
const IRQ_TASK = { kind: "irq" } as const;

export class InterruptLine {
  /** Handler invocations so far. */
  deliveries = 0;
  private handler: InterruptHandler | null = null;
  private fence = false;
  private faults: GpuFault[] = [];
  private resets: ResetReport[] = [];
  private errors: CommandError[] = [];
  /** A handler task (or, outside a simulation, a handler loop) is pending or running. */
  private active = false;
  private outsideLoop: Promise<void> | null = null;
  /**
   * The handler task's body, bound once per line: a method (one function for the process, so
   * V8 keeps its optimized code), not a closure made per interrupt.
   */
  private readonly taskBody = this.handlerTask.bind(this);

  constructor(
    /** Names the handler task: `irq/<name>`. */
    readonly name: string,
    private readonly sim: Simulation | null,
    private readonly readSeqno: () => number,
  ) {}

  /** True while status is latched and not yet read by a handler. */
  get pending(): boolean {
    return this.fence || this.faults.length > 0 || this.resets.length > 0 || this.errors.length > 0;
  }

  /**
   * Registers the handler (request_irq()); null unregisters it (free_irq()). With no handler,
   * interrupts stay latched and are delivered once one is registered.
   */
  setHandler(h: InterruptHandler | null): void {
    this.handler = h;
    if (h && this.pending) this.deliver();
  }

  raiseFence(): void {
    this.fence = true;
    this.deliver();
  }

  raiseFault(f: GpuFault): void {
    this.faults.push(f);
    this.deliver();
  }

  raiseReset(r: ResetReport): void {
    this.resets.push(r);
    this.deliver();
  }

  raiseError(e: CommandError): void {
    this.errors.push(e);
    this.deliver();
  }

  /** Outside a simulation: resolves when every latched interrupt has been handled. */
  async flush(): Promise<void> {
    while (this.outsideLoop) await this.outsideLoop;
  }

  /** Reads and clears the status. */
  private take(): InterruptStatus {
    const s: InterruptStatus = {
      fence: this.fence,
      seqno: this.readSeqno(),
      faults: this.faults,
      resets: this.resets,
      errors: this.errors,
    };
    this.fence = false;
    this.faults = [];
    this.resets = [];
    this.errors = [];
    this.deliveries++;
    return s;
  }

  private deliver(): void {
    if (this.active || !this.handler) return;
    const sim = this.sim;
    if (sim) {
      if (!sim.running) return; // the run is over: nobody will ever take the interrupt
      this.active = true;
      sim.spawn(`irq/${this.name}`, this.taskBody, IRQ_TASK);
      return;
    }
    this.active = true;
    this.outsideLoop = this.runOutside();
  }

  /** The "irq" task: delivers the latched status until none is left. */
  private async handlerTask(): Promise<void> {
    try {
      while (this.pending && this.handler) await this.handler(this.take());
    } finally {
      this.active = false;
    }
  }

  private async runOutside(): Promise<void> {
    // Never run the handler inside whoever raised the interrupt (a submit() or a reset()).
    await Promise.resolve();
    try {
      while (this.pending && this.handler) {
        try {
          await this.handler(this.take());
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          report("bug", `interrupt handler of ${this.name} threw: ${msg}`, { object: this.name });
        }
      }
    } finally {
      this.active = false;
      this.outsideLoop = null;
    }
  }
}
