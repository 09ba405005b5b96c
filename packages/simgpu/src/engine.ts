/**
 * The engine: executes the ring's entries one at a time, in order, each taking virtual time
 * proportional to its size; writes the fence seqno at the end of each submission; stalls when a
 * hang is injected (for good, or for a while); stops at an injected command error until the
 * driver restarts it past the faulty command; drops everything on reset.
 */

import type { Timer } from "@primetime/sim";
import { CHECKSUM_RESULT_SIZE, type Command, type CommandOp } from "./command.js";
import type { DeviceClock } from "./device-clock.js";
import type { AccessFault, GpuMmu, Mapping } from "./mmu.js";
import type { Ring } from "./ring.js";

/**
 * How long things take, in ns of virtual time. A command of `size` bytes takes
 * `commandNs + ceil(size * nsPerByte)`; the fence packet closing each submission takes `fenceNs`.
 */
export interface GpuTiming {
  /** Fixed cost of a command (fetch, decode, setup). Default 100. */
  readonly commandNs: number;
  /** Cost per byte filled, copied or checksummed. Default 1 (1 GB/s). */
  readonly nsPerByte: number;
  /** Cost of the fence packet (the seqno write). Default 10. */
  readonly fenceNs: number;
}

export const DEFAULT_TIMING: GpuTiming = { commandNs: 100, nsPerByte: 1, fenceNs: 10 };

/** A GPU page fault: which command touched what, and why it was refused. */
export interface GpuFault extends AccessFault {
  /** Seqno of the submission the faulting command belongs to. */
  readonly seqno: number;
  /** Index of the command in its submission; -1 for the fence write. */
  readonly command: number;
  readonly op: CommandOp | "fence";
  readonly access: "read" | "write";
  /** Virtual time of the fault. */
  readonly time: number;
}

/** A command decoded and its addresses resolved at submission (see mmu.ts). */
export interface CommandEntry {
  readonly kind: "command";
  readonly seqno: number;
  /** Index in its submission. */
  readonly index: number;
  readonly command: Command;
  readonly src: Mapping | null;
  readonly dst: Mapping | null;
}

/** The implicit packet that ends a submission: write the seqno, raise the fence interrupt. */
export interface FenceEntry {
  readonly kind: "fence";
  readonly seqno: number;
}

export type RingEntry = CommandEntry | FenceEntry;

/**
 * A command the device refused (an injected command error): the command wrote nothing and the
 * engine stopped there, with the rest of its submission still queued, until restart() or reset().
 * The device's counterpart of an SVGA command buffer's SVGA_CB_STATUS_COMMAND_ERROR with its
 * errorOffset.
 */
export interface CommandError {
  /** Seqno of the submission the command belongs to. */
  readonly seqno: number;
  /** Index of the command in its submission. */
  readonly command: number;
  readonly op: CommandOp;
  /** Virtual time of the error. */
  readonly time: number;
}

/** What the engine tells the rest of the device. */
export interface EngineSink {
  /** A fence packet completed: the fence register now reads `seqno`. */
  fence(seqno: number): void;
  /** A command (or the fence write) faulted. */
  fault(f: GpuFault): void;
  /** A command was refused with a command error: the engine stopped. */
  error(e: CommandError): void;
}

/** Cost in virtual ns of one ring entry. */
export function entryNs(e: RingEntry, t: GpuTiming): number {
  if (e.kind === "fence") return t.fenceNs;
  return t.commandNs + Math.ceil(e.command.size * t.nsPerByte);
}

/**
 * The execution engine.
 *
 * Timing and atomicity: the entry at the ring head starts as soon as the engine is idle; it
 * completes `entryNs()` later on the device clock, and only then does it touch memory: the whole
 * command applies atomically at its completion time (source read, checks, destination written, at
 * one instant). So a buffer the host changes or frees while a command is in flight is seen as it
 * is at completion. A command that faults writes nothing; the engine reports the fault and goes
 * on with the next entry (the submission's fence is still written). A command refused with an
 * injected command error writes nothing either, but the engine stops after it (`commandError`)
 * until restart(), which goes on with the next entry, or reset().
 */
export class Engine {
  /** The fence register: the seqno of the last submission whose fence packet completed. */
  seqno = 0;
  /** Submissions completed since the device was created (fence packets executed). */
  fencesWritten = 0;
  /** Commands executed (faulted ones included). */
  commandsExecuted = 0;
  private stalled = false;
  private hangAt: number | null = null;
  /** How long a pending hang (`hangAt`) lasts: null for good. */
  private hangForNs: number | null = null;
  /** The timer that ends a hang of limited length. */
  private resumeTimer: Timer | null = null;
  private errorArmed = false;
  private stoppedAt: CommandError | null = null;
  private readonly onResume = this.resume.bind(this);
  private timer: Timer | null = null;
  private fenceMapping: Mapping | null = null;
  /** The entry whose completion `timer` is pending. */
  private inflight: RingEntry | null = null;
  /**
   * The timer's callback, bound once per engine: a method (one function for the process, so V8
   * keeps its optimized code), not a closure made per entry.
   */
  private readonly onTimer = this.completeInflight.bind(this);

  constructor(
    private readonly ring: Ring<RingEntry>,
    private readonly mmu: GpuMmu,
    private readonly clock: DeviceClock,
    readonly timing: GpuTiming,
    private readonly sink: EngineSink,
  ) {}

  /** True while the engine is stalled by an injected hang. */
  get hung(): boolean {
    return this.stalled;
  }

  /** The command error the engine stopped at, or null. */
  get commandError(): CommandError | null {
    return this.stoppedAt;
  }

  /** True while an entry is executing (its completion is pending on the clock). */
  get running(): boolean {
    return this.timer !== null;
  }

  /** Where the fence packet also writes the seqno (4 bytes, little endian); null: register only. */
  setFenceMapping(m: Mapping | null): void {
    this.fenceMapping = m;
  }

  /** Starts the entry at the ring head if the engine is idle and not hung (the doorbell). */
  kick(): void {
    if (this.timer !== null || this.stalled || this.stoppedAt !== null) return;
    const e = this.ring.peek();
    if (!e) return;
    this.inflight = e;
    this.timer = this.clock.addTimer(entryNs(e, this.timing), this.onTimer);
  }

  /**
   * Stalls the engine: now (`after` 0 or omitted: an entry in flight never completes, and starts
   * over when the stall ends), or once `after` more submissions have completed; for good
   * (`forNs` null or omitted), or for `forNs` ns of device time, after which it resumes by itself.
   */
  injectHang(after = 0, forNs: number | null = null): void {
    if (!Number.isInteger(after) || after < 0)
      throw new RangeError(`hang after ${after} submissions`);
    if (forNs !== null && (!Number.isSafeInteger(forNs) || forNs < 0))
      throw new RangeError(`hang for ${forNs} ns`);
    if (after > 0) {
      this.hangAt = this.fencesWritten + after;
      this.hangForNs = forNs;
      return;
    }
    this.hangAt = null;
    this.stall(forNs);
    this.timer?.cancel();
    this.timer = null;
    this.inflight = null;
  }

  /** Makes the next command executed fail with a command error (see CommandError). */
  injectCommandError(): void {
    this.errorArmed = true;
  }

  /**
   * Goes on after a command error with the entry after the faulty command (the rest of its
   * submission, then what was queued behind it). False if the engine was not stopped by one.
   */
  restart(): boolean {
    if (this.stoppedAt === null) return false;
    this.stoppedAt = null;
    this.kick();
    return true;
  }

  /**
   * Drops the entry in flight and everything queued, clears any hang (injected or pending, for
   * good or for a while) and command error, and leaves the engine idle. Returns the dropped
   * entries, oldest first.
   */
  reset(): RingEntry[] {
    this.timer?.cancel();
    this.timer = null;
    this.inflight = null;
    this.resumeTimer?.cancel();
    this.resumeTimer = null;
    this.stalled = false;
    this.hangAt = null;
    this.hangForNs = null;
    this.errorArmed = false;
    this.stoppedAt = null;
    return this.ring.drain();
  }

  /** Stalls now, for good or for `forNs` (a timer then resumes). */
  private stall(forNs: number | null): void {
    this.stalled = true;
    this.resumeTimer?.cancel();
    this.resumeTimer = forNs === null ? null : this.clock.addTimer(forNs, this.onResume);
  }

  /** The end of a stall of limited length: the engine takes its work up again. */
  private resume(): void {
    this.resumeTimer = null;
    this.stalled = false;
    this.kick();
  }

  /** The in-flight entry's timer fired (a cancelled timer never fires). */
  private completeInflight(): void {
    const e = this.inflight!;
    this.inflight = null;
    this.complete(e);
  }

  private complete(e: RingEntry): void {
    this.timer = null;
    if (this.ring.peek() !== e) return; // dropped by a reset (its timer was cancelled anyway)
    this.ring.consume();
    if (e.kind === "fence") this.completeFence(e);
    else this.execute(e);
    this.kick();
  }

  private completeFence(e: FenceEntry): void {
    this.seqno = e.seqno;
    this.fencesWritten++;
    const m = this.fenceMapping;
    if (m) {
      const f = this.mmu.check(m);
      if (f) this.fault(f, e.seqno, -1, "fence", "write");
      else this.mmu.write(m, le32(e.seqno));
    }
    if (this.hangAt !== null && this.fencesWritten >= this.hangAt) {
      this.hangAt = null;
      this.stall(this.hangForNs);
      this.hangForNs = null;
    }
    this.sink.fence(e.seqno);
  }

  private execute(e: CommandEntry): void {
    this.commandsExecuted++;
    const c = e.command;
    if (this.errorArmed) {
      this.errorArmed = false;
      this.stoppedAt = { seqno: e.seqno, command: e.index, op: c.op, time: this.clock.now };
      this.sink.error(this.stoppedAt);
      return;
    }
    const src = e.src;
    const dst = e.dst!;
    if (src) {
      const f = this.mmu.check(src);
      if (f) {
        this.fault(f, e.seqno, e.index, c.op, "read");
        return;
      }
    }
    const f = this.mmu.check(dst);
    if (f) {
      this.fault(f, e.seqno, e.index, c.op, "write");
      return;
    }
    switch (c.op) {
      case "fill":
        this.mmu.fill(dst, c.value);
        break;
      case "copy":
        this.mmu.write(dst, this.mmu.read(src!));
        break;
      case "checksum":
        this.mmu.write(dst, le32(this.mmu.crc32(src!)));
        break;
    }
  }

  private fault(
    f: AccessFault,
    seqno: number,
    command: number,
    op: CommandOp | "fence",
    access: "read" | "write",
  ): void {
    this.sink.fault({ ...f, seqno, command, op, access, time: this.clock.now });
  }
}

/** Resolves a command's addresses now (submission time): see mmu.ts. */
export function prepareCommand(
  mmu: GpuMmu,
  command: Command,
  seqno: number,
  index: number,
): CommandEntry {
  let src: Mapping | null = null;
  let dst: Mapping;
  switch (command.op) {
    case "fill":
      dst = mmu.map(command.dst, command.size);
      break;
    case "copy":
      src = mmu.map(command.src, command.size);
      dst = mmu.map(command.dst, command.size);
      break;
    case "checksum":
      src = mmu.map(command.src, command.size);
      dst = mmu.map(command.result, CHECKSUM_RESULT_SIZE);
      break;
  }
  return { kind: "command", seqno, index, command, src, dst };
}

function le32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}
