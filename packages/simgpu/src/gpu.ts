/**
 * The simulated GPU: VRAM, the system pages it can reach, a command ring, one engine, a fence
 * register and an interrupt line. Hardware only: it knows memory, commands and interrupts, not
 * DRM; a driver connects it to the kernel (ARCHITECTURE.md section 4).
 */

import { activeSimulation, type Simulation } from "@primetime/sim";
import { type Command, type GpuAddress, validateCommand } from "./command.js";
import { type DeviceClock, ManualClock, simulationClock } from "./device-clock.js";
import {
  type CommandError,
  DEFAULT_TIMING,
  Engine,
  type GpuFault,
  type GpuTiming,
  prepareCommand,
  type RingEntry,
} from "./engine.js";
import { EBUSY, EINVAL, ENOSPC } from "./errno.js";
import { type InterruptHandler, InterruptLine, type ResetReport } from "./irq.js";
import { GpuMmu } from "./mmu.js";
import { SystemMemory } from "./page.js";
import { Ring } from "./ring.js";
import { Vram } from "./vram.js";

export interface SimGpuOptions {
  /** Names the device in fault messages and its interrupt task (`irq/<name>`). Default "gpu0". */
  name?: string;
  /** VRAM size in pages. Default 256 (1 MiB). */
  vramPages?: number;
  /** The host's system memory the device can reach by DMA. Default: a pool of its own. */
  systemMemory?: SystemMemory;
  /** Ring slots. Each command takes one, and each submission one more for its fence. Default 64. */
  ringSize?: number;
  timing?: Partial<GpuTiming>;
  /**
   * The simulation the device lives in. Default: the one running when the device is created,
   * or none. A device belongs to one simulation (its timers are that simulation's events).
   */
  sim?: Simulation | null;
  /**
   * Outside a simulation: "immediate" (default) runs the device's private clock until idle inside
   * every submit(), so work is complete when submit() returns; "manual" leaves time still until
   * tick() or runUntilIdle().
   */
  outside?: "immediate" | "manual";
  /**
   * Inside a simulation: "simulation" (default) runs the engine on the simulation's virtual
   * clock (work completes as time advances, when no task can run); "device" gives it a private
   * clock that the device model's own thread advances (tick(), runUntilIdle()) from a task, so
   * work completes at a scheduling point of that task, concurrently with the CPUs, while
   * interrupts are still delivered to the simulation's irq tasks.
   */
  clock?: "simulation" | "device";
}

/** DEFAULT_TIMING checked and frozen, shared by devices created without `timing`. */
let frozenDefault: GpuTiming | null = null;

/**
 * The timing of a device created without `timing`: one frozen copy of DEFAULT_TIMING for every
 * such device (a stress schedule boots two or three), made again only if DEFAULT_TIMING changed,
 * instead of a spread, an entries array and a freeze per device.
 */
function defaultTiming(): GpuTiming {
  const f = frozenDefault;
  const d = DEFAULT_TIMING;
  if (
    f !== null &&
    f.commandNs === d.commandNs &&
    f.nsPerByte === d.nsPerByte &&
    f.fenceNs === d.fenceNs
  )
    return f;
  frozenDefault = checkedTiming({});
  return frozenDefault;
}

/** DEFAULT_TIMING overridden by `timing`, each value checked (RangeError), frozen. */
function checkedTiming(timing: Partial<GpuTiming>): GpuTiming {
  const t = { ...DEFAULT_TIMING, ...timing };
  for (const [k, v] of Object.entries(t)) {
    if (!(typeof v === "number" && v >= 0 && Number.isFinite(v)))
      throw new RangeError(`timing.${k} must be a finite number >= 0, got ${v}`);
  }
  return Object.freeze(t);
}

/** The ring's registers, read only. */
export interface RingState {
  readonly capacity: number;
  readonly head: number;
  readonly tail: number;
  readonly used: number;
  readonly space: number;
}

/**
 * A simulated GPU device.
 *
 * Drivers submit batches of commands (`submit()`); each batch gets the next seqno and ends with
 * an implicit fence packet. The engine runs entries one at a time in virtual time (engine.ts for
 * the timing and atomicity rules), writes the fence register when a batch completes and raises an
 * interrupt; the driver's handler (`onInterrupt()`) runs in an "irq" task. Faulting accesses
 * (freed or unmapped memory) do not throw: they are latched as page-fault interrupts.
 *
 * Locking: none. The device's methods are synchronous register accesses with no scheduling point;
 * the driver serialises its own use of them (its ring lock) and places its own points.
 */
export class SimGpu {
  readonly name: string;
  readonly vram: Vram;
  readonly system: SystemMemory;
  readonly mmu: GpuMmu;
  readonly timing: GpuTiming;
  /** The simulation the device belongs to, or null (a private manual clock). */
  readonly sim: Simulation | null;
  private readonly clock: DeviceClock;
  private readonly manual: ManualClock | null;
  private readonly immediate: boolean;
  private readonly ringBuf: Ring<RingEntry>;
  private readonly engine: Engine;
  private readonly irq: InterruptLine;
  private readonly faultLog: GpuFault[] = [];
  private readonly resetLog: ResetReport[] = [];
  private readonly errorLog: CommandError[] = [];
  private submitted = 0;

  constructor(opts: SimGpuOptions = {}) {
    this.name = opts.name ?? "gpu0";
    this.vram = new Vram(opts.vramPages ?? 256);
    this.system = opts.systemMemory ?? new SystemMemory({ name: `${this.name}-system` });
    this.mmu = new GpuMmu(this.vram, this.system);
    this.timing = opts.timing === undefined ? defaultTiming() : checkedTiming(opts.timing);
    this.sim = opts.sim === undefined ? activeSimulation() : opts.sim;
    if (this.sim && (opts.clock ?? "simulation") === "simulation") {
      this.clock = simulationClock(this.sim);
      this.manual = null;
    } else {
      this.manual = new ManualClock();
      this.clock = this.manual;
    }
    this.immediate = this.sim === null && (opts.outside ?? "immediate") === "immediate";
    this.ringBuf = new Ring<RingEntry>(opts.ringSize ?? 64);
    this.irq = new InterruptLine(this.name, this.sim, () => this.engine.seqno);
    this.engine = new Engine(this.ringBuf, this.mmu, this.clock, this.timing, {
      fence: () => this.irq.raiseFence(),
      fault: (f) => {
        this.faultLog.push(f);
        this.irq.raiseFault(f);
      },
      error: (e) => {
        this.errorLog.push(e);
        this.irq.raiseError(e);
      },
    });
  }

  /** The device's virtual time in ns (the simulation's, or the private clock's). */
  get now(): number {
    return this.clock.now;
  }

  /** The ring's registers. */
  get ring(): RingState {
    const r = this.ringBuf;
    return { capacity: r.capacity, head: r.head, tail: r.tail, used: r.used, space: r.space };
  }

  /** The fence register: the seqno of the latest completed submission (0 before any). */
  get lastCompletedSeqno(): number {
    return this.engine.seqno;
  }

  /** The seqno of the latest accepted submission (0 before any). */
  get lastSubmittedSeqno(): number {
    return this.submitted;
  }

  /** Work is queued or executing (including a hung engine sitting on its work). */
  get busy(): boolean {
    return !this.ringBuf.empty;
  }

  /**
   * The engine is stalled by an injected hang. Real hardware has no such bit: a driver's
   * hangcheck should infer a hang from `busy` with a `lastCompletedSeqno` that stops moving.
   * For tests and diagnostics.
   */
  get hung(): boolean {
    return this.engine.hung;
  }

  /** Every fault so far, oldest first. */
  get faults(): readonly GpuFault[] {
    return this.faultLog;
  }

  /** Every command error so far, oldest first. */
  get commandErrors(): readonly CommandError[] {
    return this.errorLog;
  }

  /**
   * The command error the engine is stopped at (the status a driver reads after the error
   * interrupt: which submission, which command), or null while it is not stopped by one.
   */
  get commandError(): CommandError | null {
    return this.engine.commandError;
  }

  /** Every reset so far, oldest first. */
  get resets(): readonly ResetReport[] {
    return this.resetLog;
  }

  /** Submissions completed (fence packets executed). */
  get completedSubmissions(): number {
    return this.engine.fencesWritten;
  }

  /** Commands executed (faulted ones included). */
  get executedCommands(): number {
    return this.engine.commandsExecuted;
  }

  /** Interrupt handler invocations so far. */
  get interruptsDelivered(): number {
    return this.irq.deliveries;
  }

  /**
   * Models i915_seqno_passed() on the fence register: true once submission `seqno` has completed.
   * After a reset, a lost seqno reads as passed as soon as a later submission completes: the
   * driver must retire lost work from the reset report, not from the register.
   */
  seqnoPassed(seqno: number): boolean {
    return this.engine.seqno >= seqno;
  }

  /** Virtual ns the engine spends on `cmd` (its fixed cost plus its size times the per-byte cost). */
  commandNs(cmd: Command): number {
    return this.timing.commandNs + Math.ceil(cmd.size * this.timing.nsPerByte);
  }

  /**
   * Writes a batch of commands into the ring and rings the doorbell. Returns the batch's seqno
   * (> 0), which the fence register reads once the batch has completed; or, changing nothing:
   * -EINVAL for a malformed command, -ENOSPC for a batch larger than the whole ring (it can
   * never fit), -EBUSY when the ring has no room for it now (retry after earlier work retires).
   *
   * The batch's addresses are resolved now (mmu.ts): pages freed or reused before the batch
   * executes fault. An empty batch is a bare fence.
   * Locking: none; the driver serialises submissions (a ring mutex). No scheduling point.
   */
  submit(commands: readonly Command[]): number {
    this.checkContext("submit");
    for (const c of commands) if (validateCommand(c) !== null) return -EINVAL;
    const slots = commands.length + 1;
    if (slots > this.ringBuf.capacity) return -ENOSPC;
    if (slots > this.ringBuf.space) return -EBUSY;
    const seqno = this.submitted + 1;
    const entries: RingEntry[] = commands.map((c, i) => prepareCommand(this.mmu, c, seqno, i));
    entries.push({ kind: "fence", seqno });
    this.ringBuf.write(entries);
    this.submitted = seqno;
    this.engine.kick();
    this.settle();
    return seqno;
  }

  /**
   * Sets where each fence packet also writes its seqno (4 bytes, little endian), like a hardware
   * status page the driver polls; null: the register only. The address is resolved now: if its
   * memory is freed later, fence writes fault (the register is still updated).
   */
  setFenceAddress(addr: GpuAddress | null): void {
    this.engine.setFenceMapping(addr ? this.mmu.map(addr, 4) : null);
  }

  /**
   * Registers the interrupt handler (request_irq()), or unregisters it with null (free_irq()).
   * Latched interrupts are delivered to a newly registered handler.
   */
  onInterrupt(handler: InterruptHandler | null): void {
    this.irq.setHandler(handler);
  }

  /**
   * Makes the engine stop making progress: now (no argument, or `afterSubmissions: 0`: the entry
   * in flight never completes), or once `afterSubmissions` more submissions have completed. While
   * hung the device accepts submissions but completes nothing, raises no interrupt and the fence
   * register stands still, until reset(); or, with `forNs`, for that many ns of device time (a
   * device that is slow for a while: the host did not run it), after which it takes its work up
   * again by itself, the entry that was in flight started over. A RangeError for a negative or
   * fractional count or length.
   */
  injectHang(opts: { afterSubmissions?: number; forNs?: number } = {}): void {
    this.engine.injectHang(opts.afterSubmissions ?? 0, opts.forNs ?? null);
  }

  /**
   * Makes the next command the engine executes fail with a command error: it writes nothing, the
   * engine stops there (`commandError`, the rest of its submission and everything behind it
   * still queued, the fence register still) and raises an error interrupt carrying the error
   * (`status.errors`). It stays stopped until the driver restarts it past the faulty command
   * (restart()) or resets it.
   */
  injectCommandError(): void {
    this.engine.injectCommandError();
  }

  /**
   * Restarts an engine stopped by a command error with the entry after the faulty command: the
   * rest of the submission (its fence packet included) and what is queued behind it. False,
   * changing nothing, if the engine is not stopped by one.
   * Locking: none; the driver serialises it with its submissions. No scheduling point.
   */
  restart(): boolean {
    this.checkContext("restart");
    return this.engine.restart();
  }

  /**
   * Resets the engine: drops the entry in flight and all queued work (their seqnos are lost: they
   * will never complete), clears any hang and command error, and raises a reset interrupt carrying the report.
   * Commands of a partly executed batch that had completed keep their effects. The engine is idle
   * and takes new submissions at once; seqnos keep counting up.
   * Locking: none; the driver quiesces its submitters first. No scheduling point.
   */
  reset(): ResetReport {
    this.checkContext("reset");
    const wasHung = this.engine.hung;
    const lost: number[] = [];
    for (const e of this.engine.reset()) if (lost.at(-1) !== e.seqno) lost.push(e.seqno);
    const r: ResetReport = { lost, wasHung, seqno: this.engine.seqno, time: this.clock.now };
    this.resetLog.push(r);
    this.irq.raiseReset(r);
    return r;
  }

  /**
   * Outside a simulation, or inside one with `clock: "device"`: advances the private clock by
   * `ns`, completing what is due. Otherwise time is the simulation's.
   */
  tick(ns: number): void {
    this.manualClock("tick").tick(ns);
  }

  /**
   * Outside a simulation, or inside one with `clock: "device"`: advances the private clock until
   * the engine is idle (or hung).
   */
  runUntilIdle(): void {
    this.manualClock("runUntilIdle").runUntilIdle();
  }

  /**
   * Outside a simulation only: resolves once every latched interrupt has been handled (handlers
   * run from a microtask, never inside the submit() or reset() that raised them).
   */
  flush(): Promise<void> {
    this.manualClock("flush");
    return this.irq.flush();
  }

  private manualClock(op: string): ManualClock {
    if (!this.manual)
      throw new Error(`${this.name}.${op}(): the device runs on its simulation's clock`);
    return this.manual;
  }

  private settle(): void {
    if (this.manual && this.immediate) this.manual.runUntilIdle();
  }

  private checkContext(op: string): void {
    const active = activeSimulation();
    if (active !== this.sim) {
      const where = this.sim
        ? `simulation seed ${this.sim.seed}, which is not the one running`
        : "no simulation";
      throw new Error(
        `${this.name}.${op}(): the device belongs to ${where}; create it inside the simulation that uses it (or pass { sim })`,
      );
    }
  }
}
