/**
 * The simulated GPU's fences as dma_fences: the bridge a driver needs between the device
 * (`@primetime/simgpu`, hardware: seqnos, a fence register, interrupts) and the kernel's fence
 * world, modeled on a driver's fence code (amdgpu_fence.c, radeon_fence.c): one fence context
 * per engine (the device has one), a fence per submitted batch carrying its seqno, signalled in
 * order from the interrupt handler (an "irq" task) when the fence register passes it.
 *
 * Hang recovery, as a driver's hangcheck/timeout handler does it (drm_sched_job_timedout()
 * then a GPU reset): a delayed work checks that the engine made progress while fences were
 * pending; if not, it resets the device, and every fence of a lost batch is signalled with
 * -ETIME (the guilty job's error in drm_sched), so no waiter waits forever. A driver whose kernel
 * counterpart has no such recovery (vmwgfx: the SVGA device is never reset) runs the fence driver
 * without it (`hangcheckNs: null`): a stalled device then leaves its fences unsignalled, without
 * error, until it goes on by itself. A driver with interrupt sources of its own besides the fences
 * (vmwgfx's command-buffer errors) passes `onInterrupt`, which the handler calls with every status
 * after signalling the fences.
 *
 * Lives in `@primetime/ttm` because the device must not know DRM (ARCHITECTURE.md section 4) and TTM
 * is the lowest layer that needs GPU work in a reservation object (its moves).
 */

import {
  type DmaFence,
  DmaFence as DmaFenceClass,
  type DmaFenceOps,
  dmaFenceContextAlloc,
  dmaFenceInit,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceSignalLocked,
  dmaFenceWait,
  dmaFenceWaitTimeout,
} from "@primetime/dma-buf";
import {
  cancelDelayedWorkSync,
  DelayedWork,
  EBUSY,
  ENOMEM,
  type Errno,
  ETIME,
  errPtr,
  isErr,
  KmemCache,
  kmalloc,
  Mutex,
  queueDelayedWork,
  SpinLock,
  systemWq,
} from "@primetime/kernel";
import { point, RESOLVED, WaitQueue } from "@primetime/sim";
import type { Command, InterruptHandler, InterruptStatus, SimGpu } from "@primetime/simgpu";

/** The slab cache of GPU fences (struct amdgpu_fence). */
export const simgpuFenceCache = new KmemCache("simgpu_fence");

/** Default hangcheck period: virtual ns without progress before the engine is reset. */
export const SIMGPU_HANGCHECK_NS = 2_000_000;

/** How a driver sets its fence driver up (simgpuFenceDriverInit()). */
export interface SimgpuFenceDriverOptions {
  /**
   * The hangcheck period in virtual ns (default SIMGPU_HANGCHECK_NS); null: no hangcheck (the
   * device is never reset, a stalled one's fences wait for it).
   */
  readonly hangcheckNs?: number | null;
  /**
   * The driver's own part of the interrupt handler, called with every status after the fences
   * it completed are signalled (in the irq task: it may reach points, must not sleep).
   */
  readonly onInterrupt?: InterruptHandler | null;
}

/**
 * The fence driver of one engine (struct amdgpu_fence_driver).
 *
 * Locking: `lock` is the fences' lock (the timeline's spinlock) and guards `pending`;
 * `ringLock` serialises submissions (the device's registers).
 * References: `pending` holds one reference per unsignalled fence.
 */
export class SimgpuFenceDriver {
  /** The fence context of the engine. */
  readonly context: number;
  /** The timeline lock of every fence of the engine. */
  readonly lock: SpinLock;
  /** Serialises gpu.submit() (the ring). */
  readonly ringLock: Mutex;
  /** Unsignalled fences by seqno, oldest first. */
  readonly pending = new Map<number, DmaFence>();
  /** Submitters waiting for ring space. */
  readonly ringSpace: WaitQueue;
  /** Resets done by the hangcheck. */
  resets = 0;
  /** Fences signalled with an error by a reset. */
  fencesLost = 0;
  private readonly hangcheck: DelayedWork;
  private lastSeen = 0;
  /** Interrupt handlers running (free_irq() waits for them: synchronize_irq()). */
  private inIrq = 0;
  private readonly irqIdle: WaitQueue;
  private armed = false;
  private stopped = false;
  /** The point label of a submission (built once). */
  private readonly submitLabel: string;
  readonly ops: DmaFenceOps;

  /** The hangcheck period in virtual ns, or null: no hangcheck. */
  readonly hangcheckNs: number | null;
  /** The driver's own part of the interrupt handler, or null. */
  private readonly driverIrq: InterruptHandler | null;

  constructor(
    readonly gpu: SimGpu,
    opts: SimgpuFenceDriverOptions = {},
  ) {
    this.hangcheckNs = opts.hangcheckNs === undefined ? SIMGPU_HANGCHECK_NS : opts.hangcheckNs;
    this.driverIrq = opts.onInterrupt ?? null;
    this.context = dmaFenceContextAlloc(1);
    this.lock = new SpinLock(`${gpu.name}.fence_lock`);
    this.ringLock = new Mutex(`${gpu.name}.ring_lock`);
    this.ringSpace = new WaitQueue(`${gpu.name} ring space`);
    this.irqIdle = new WaitQueue(`${gpu.name} irq idle`);
    this.hangcheck = new DelayedWork(() => this.hangcheckWork(), `${gpu.name}_hangcheck`);
    this.submitLabel = `${gpu.name}: ring submit`;
    const name = gpu.name;
    this.ops = {
      getDriverName: () => "simgpu",
      getTimelineName: () => name,
    };
  }

  /**
   * The interrupt handler (amdgpu_fence_process()): signals, in order, every pending fence the
   * fence register has passed, then wakes submitters waiting for ring space, then calls the
   * driver's own part (`onInterrupt`) with the status.
   * Locking: irq context (must not sleep); takes the fence lock.
   * References: drops `pending`'s reference of each signalled fence.
   */
  async irq(status: InterruptStatus): Promise<void> {
    this.inIrq++;
    const lockTaken = this.lock.lock();
    if (lockTaken !== RESOLVED) await lockTaken;
    const done: DmaFence[] = [];
    for (const [seqno, fence] of this.pending) {
      if (!this.gpu.seqnoPassed(seqno) && seqno > status.seqno) break;
      this.pending.delete(seqno);
      await dmaFenceSignalLocked(fence);
      done.push(fence);
    }
    this.lock.unlockNow();
    for (const f of done) await dmaFencePut(f);
    this.ringSpace.wakeAll();
    if (this.driverIrq) await this.driverIrq(status);
    if (--this.inIrq === 0) this.irqIdle.wakeAll();
  }

  /**
   * The hangcheck (a delayed work): no progress since the last check while fences are pending
   * means a hang: reset the device and signal the lost batches' fences with -ETIME.
   * Locking: process context; takes the ring lock (quiescing submitters) and the fence lock.
   * References: drops `pending`'s reference of each lost fence.
   */
  private async hangcheckWork(): Promise<void> {
    this.armed = false;
    if (this.stopped) return;
    const ringLockTaken = this.ringLock.lock();
    if (ringLockTaken !== RESOLVED) await ringLockTaken;
    const seqno = this.gpu.lastCompletedSeqno;
    const stuck = this.pending.size > 0 && seqno === this.lastSeen && this.gpu.busy;
    this.lastSeen = seqno;
    const lost: DmaFence[] = [];
    if (stuck) {
      const report = this.gpu.reset();
      this.resets++;
      const lockTaken2 = this.lock.lock();
      if (lockTaken2 !== RESOLVED) await lockTaken2;
      for (const s of report.lost) {
        const f = this.pending.get(s);
        if (!f) continue;
        this.pending.delete(s);
        dmaFenceSetError(f, -ETIME);
        await dmaFenceSignalLocked(f);
        lost.push(f);
      }
      this.lock.unlockNow();
      this.fencesLost += lost.length;
    }
    this.ringLock.unlockNow();
    for (const f of lost) await dmaFencePut(f);
    this.ringSpace.wakeAll();
    await this.arm();
  }

  /**
   * fini()'s end of a wait that timed out: every pending fence up to `last` is unlisted and
   * signalled without an error, in order, as the interrupt handler would have.
   * Locking: takes the fence lock. References: drops `pending`'s reference of each.
   */
  private async giveUp(last: DmaFence): Promise<void> {
    const lockTaken3 = this.lock.lock();
    if (lockTaken3 !== RESOLVED) await lockTaken3;
    const done: DmaFence[] = [];
    for (const [seqno, fence] of this.pending) {
      if (seqno > last.seqno) break;
      this.pending.delete(seqno);
      await dmaFenceSignalLocked(fence);
      done.push(fence);
    }
    this.lock.unlockNow();
    for (const f of done) await dmaFencePut(f);
  }

  private async arm(): Promise<void> {
    if (this.hangcheckNs === null) return;
    if (this.armed || this.stopped || this.pending.size === 0) return;
    this.armed = true;
    await queueDelayedWork(systemWq(), this.hangcheck, this.hangcheckNs);
  }

  /**
   * Submits `commands` as one batch and returns its fence (amdgpu_fence_emit()): a new
   * dma_fence of the engine's context with the batch's seqno, referenced by the caller and by
   * the pending list. Waits for ring space when the ring is full. -ENOMEM, or the device's
   * -EINVAL / -ENOSPC for a malformed or oversized batch.
   * Locking: takes the ring lock; may sleep (ring full).
   * References: the caller owns one on the fence.
   */
  async submit(commands: readonly Command[]): Promise<DmaFence | Errno> {
    const fence = kmalloc(simgpuFenceCache, newSimgpuFence);
    if (isErr(fence)) return errPtr(ENOMEM);
    const ringLockTaken2 = this.ringLock.lock();
    if (ringLockTaken2 !== RESOLVED) await ringLockTaken2;
    let seqno: number;
    for (;;) {
      await point(this.submitLabel);
      seqno = this.gpu.submit(commands);
      if (seqno !== -EBUSY) break;
      this.ringLock.unlockNow();
      // No scheduling point between the check and the sleep: the wake-up cannot be lost.
      if (this.gpu.ring.space < commands.length + 1)
        await this.ringSpace.wait(`${this.gpu.name}: wait for ring space`);
      const ringLockTaken3 = this.ringLock.lock();
      if (ringLockTaken3 !== RESOLVED) await ringLockTaken3;
    }
    if (seqno < 0) {
      this.ringLock.unlockNow();
      dmaFenceInit(fence, this.ops, this.lock, this.context, 0);
      const dmaFencePutDone = dmaFencePut(fence);
      if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
      return errPtr(seqno);
    }
    dmaFenceInit(fence, this.ops, this.lock, this.context, seqno);
    await fence.refcount.get(); // the pending list's
    const lockTaken4 = this.lock.lock();
    if (lockTaken4 !== RESOLVED) await lockTaken4;
    this.pending.set(seqno, fence);
    this.lock.unlockNow();
    this.ringLock.unlockNow();
    await this.arm();
    return fence;
  }

  /**
   * Driver unload (amdgpu_fence_driver_hw_fini()): waits until every pending fence has signalled
   * (amdgpu_fence_wait_empty(); a hung engine is reset by the hangcheck meanwhile; without a
   * hangcheck a stalled device is waited for), then stops
   * the hangcheck and unregisters the interrupt handler. With `waitNs`, the unload of a driver
   * that gives up on a stalled device (vmwgfx's vmw_fence_fifo_down(), which waits
   * VMW_FENCE_WAIT_TIMEOUT per fence, then signals it): each wait lasts at most `waitNs`, and a
   * fence still pending after it is unlisted and signalled without an error (the device never
   * wrote its seqno; nothing is reset).
   * Locking: may sleep; takes the fence lock.
   * References: a temporary one on the fence waited for; drops `pending`'s of a fence given up on.
   */
  async fini(opts: { waitNs?: number } = {}): Promise<void> {
    for (;;) {
      const lockTaken5 = this.lock.lock();
      if (lockTaken5 !== RESOLVED) await lockTaken5;
      const last = [...this.pending.values()].at(-1) ?? null;
      if (last) await last.refcount.get();
      this.lock.unlockNow();
      if (!last) break;
      if (opts.waitNs === undefined) {
        await dmaFenceWait(last, false);
      } else if ((await dmaFenceWaitTimeout(last, false, opts.waitNs)) === 0) {
        await this.giveUp(last);
      }
      const dmaFencePutDone2 = dmaFencePut(last);
      if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
    }
    this.stopped = true;
    await cancelDelayedWorkSync(this.hangcheck);
    this.gpu.onInterrupt(null);
    // synchronize_irq(): a handler still dropping its fence references finishes first.
    while (this.inIrq > 0) await this.irqIdle.wait(`synchronize_irq(${this.gpu.name})`);
  }
}

/** kmalloc()'s constructor call for a fence (one function, not a closure per call). */
function newSimgpuFence(): DmaFence {
  return new DmaFenceClass();
}

/**
 * Creates the fence driver of `gpu` and registers its interrupt handler (request_irq()).
 * `opts`: a hangcheck period in virtual ns, or the options (SimgpuFenceDriverOptions).
 * Locking: none (driver load). References: the driver owns it until fini().
 */
export function simgpuFenceDriverInit(
  gpu: SimGpu,
  opts?: number | SimgpuFenceDriverOptions,
): SimgpuFenceDriver {
  const drv = new SimgpuFenceDriver(gpu, typeof opts === "number" ? { hangcheckNs: opts } : opts);
  // The method bound to the driver: the same promise, one function for the process.
  gpu.onInterrupt(drv.irq.bind(drv));
  return drv;
}
