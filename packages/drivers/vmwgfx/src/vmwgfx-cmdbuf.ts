/**
 * The command-buffer manager (drivers/gpu/drm/vmwgfx/vmwgfx_cmdbuf.c, Linux v6.12), reduced to
 * what it does when the SVGA device refuses a command: the device stops the command buffer's
 * context and sets the buffer's status to SVGA_CB_STATUS_COMMAND_ERROR with the faulty command's
 * offset, and raises SVGA_IRQFLAG_ERROR; the interrupt thread (vmw_thread_fn() ->
 * vmw_cmdbuf_irqthread() -> vmw_cmdbuf_man_process() -> vmw_cmdbuf_ctx_process()) WARN_ONCEs
 * "Command buffer error.", moves the buffer to man->error and schedules man->work; the work
 * (vmw_cmdbuf_work_func()) restarts the buffer past the faulty command, so the rest of the buffer
 * runs, its fence is written and the fences of the submission signal as usual, without an
 * error. vmwgfx has no hangcheck and never resets the device: nothing here, nor anywhere in
 * vmwgfx, signals a fence with an error.
 *
 * The model's command buffer is one submission to the simulated device (`@primetime/simgpu`):
 * its commands and its fence packet. The device's COMMAND_ERROR status with its errorOffset is
 * simgpu's `CommandError` (the submission's seqno and the command's index), handed to the
 * interrupt thread in the interrupt status (`status.errors`); resubmitting the buffer past the
 * faulty command is `gpu.restart()`.
 *
 * Simplifications: one command-buffer context (SVGA_CB_CONTEXT_0) and no queues of buffers
 * (submitted, hw_submitted, preempted: submissions go to the device through @primetime/ttm's fence
 * driver, vmwgfx-execbuf.ts), so the preemption of the other contexts around the restart
 * (vmw_cmdbuf_preempt(), vmw_cmdbuf_startstop(), block_submission) has nothing to do; every
 * command of the model's stream is one the device describes (vmw_cmd_describe() succeeds, one
 * entry long), and a faulty command is never the buffer's last entry (its fence packet follows),
 * so the "free the buffer and send a new fence" branch (new_start_offset >= length) is not
 * reached; VMW_DEBUG_USER lines are debug output and not kept. The WARN_ONCE is kept in the
 * manager's log (vmwCmdbufWarnings()), not reported as a `warn` splat: the driver warns about a
 * device-reported error, which the fault injection causes on purpose, not about a kernel bug (as
 * qxl keeps its DRM_ERROR lines).
 */

import { dmaFenceGet, dmaFencePut, dmaFenceWaitTimeout } from "@primetime/dma-buf";
import {
  cancelWorkSync,
  EBUSY,
  lockdepAssertHeld,
  Mutex,
  SpinLock,
  scheduleWork,
  WorkStruct,
} from "@primetime/kernel";
import { now, RESOLVED, SimLocal } from "@primetime/sim";
import type { CommandError, InterruptStatus } from "@primetime/simgpu";
import type { VmwPrivate } from "./vmwgfx-drv.js";

/**
 * Models struct vmw_cmdbuf_header as far as an error concerns it: the buffer (a submission) and
 * the offset of the faulty command (cb_header->errorOffset, a command index here).
 */
export interface VmwCmdbufHeader {
  /** The submission's seqno. */
  readonly seqno: number;
  /** Models cb_header->errorOffset: the index of the faulty command. */
  readonly errorOffset: number;
  /** The faulty command's op (what vmw_cmd_describe() names). */
  readonly op: string;
}

/** Models the once-flag of vmw_cmdbuf_ctx_process()'s WARN_ONCE (per simulation, as per boot). */
const cmdbufErrorWarned = new SimLocal<{ done: boolean }>(() => ({ done: false }));

/**
 * Models struct vmw_cmdbuf_man (the parts kept).
 * Locking: `lock` (man->lock) protects `error`; `errorMutex` (man->error_mutex) serialises the
 * error handling work.
 * References: none; the device owns the manager.
 */
export class VmwCmdbufMan {
  /** Models man->lock. */
  readonly lock: SpinLock;
  /** Models man->error_mutex. */
  readonly errorMutex: Mutex;
  /** Models man->work (vmw_cmdbuf_work_func()). */
  readonly work: WorkStruct;
  /** Models man->error: buffers that caused device errors, oldest first. */
  readonly error: VmwCmdbufHeader[] = [];
  /** The kernel log lines the manager printed (its WARN_ONCE), oldest first. */
  readonly log: string[] = [];
  /** Buffers restarted past a faulty command (for tests). */
  restarts = 0;

  constructor(readonly devPriv: VmwPrivate) {
    this.lock = new SpinLock("vmw_cmdbuf_man.lock");
    this.errorMutex = new Mutex("vmw_cmdbuf_man.error_mutex");
    this.work = new WorkStruct(() => vmwCmdbufWorkFunc(this), "vmw_cmdbuf_work_func");
  }
}

/**
 * Models vmw_cmdbuf_man_create() (the parts kept): the manager with its lock, error mutex, error
 * list and work.
 * Locking: none (device load). References: the device owns it until vmwCmdbufManDestroy().
 */
export function vmwCmdbufManCreate(vmw: VmwPrivate): VmwCmdbufMan {
  return new VmwCmdbufMan(vmw);
}

/** Models the 10*HZ vmw_cmdbuf_man_destroy() gives vmw_cmdbuf_idle(): 10 s of virtual time, in ns. */
export const VMW_CMDBUF_DESTROY_IDLE_TIMEOUT = 10_000_000_000;

/**
 * Models vmw_cmdbuf_idle(): waits, at most `timeout` ns in all, for the manager to be idle
 * (vmw_cmdbuf_man_idle(): no buffer left on the device). The model's buffers on the device are
 * the device fence driver's pending submissions (the file comment), so it waits for each fence
 * pending when it starts, in order, with what is left of the timeout. 0 once idle; -EBUSY if the
 * time ran out first (a stalled device); -ERESTARTSYS if `interruptible` and a signal came.
 * Locking: none held; sleeps. References: a temporary one on each fence waited for.
 */
export async function vmwCmdbufIdle(
  man: VmwCmdbufMan,
  interruptible: boolean,
  timeout: number,
): Promise<number> {
  const deadline = now() + timeout;
  for (const fence of [...man.devPriv.fences.pending.values()]) {
    await dmaFenceGet(fence);
    const ret = await dmaFenceWaitTimeout(fence, interruptible, Math.max(deadline - now(), 0));
    const dmaFencePutDone = dmaFencePut(fence);
    if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
    if (ret < 0) return ret;
    if (ret === 0) return -EBUSY;
  }
  return 0;
}

/**
 * Models vmw_cmdbuf_man_destroy() (the parts kept): vmw_cmdbuf_idle(man, false, 10*HZ), whose
 * result is ignored (a device stalled for good is given up on after 10 s, with no message), then
 * cancel_work_sync() of the error work. Not modeled: vmw_cmdbuf_startstop()'s stop of the
 * contexts (a device command; its "Failed stopping command buffer contexts." needs the device's
 * answer, which the simulated device does not give) and the pools.
 * Locking: none held; may sleep. References: none.
 */
export async function vmwCmdbufManDestroy(man: VmwCmdbufMan): Promise<void> {
  await vmwCmdbufIdle(man, false, VMW_CMDBUF_DESTROY_IDLE_TIMEOUT);
  await cancelWorkSync(man.work);
}

/**
 * Models vmw_cmdbuf_ctx_process()'s processing of finished buffers, for the buffers the device
 * finished with SVGA_CB_STATUS_COMMAND_ERROR (`errors`): WARN_ONCE(true, "Command buffer
 * error.\n"), the buffer added to man->error, schedule_work(&man->work). The model's buffers
 * completed without error need nothing here (@primetime/ttm's fence driver retires them).
 * Locking: man->lock held. References: none.
 */
async function vmwCmdbufCtxProcess(
  man: VmwCmdbufMan,
  errors: readonly CommandError[],
): Promise<void> {
  lockdepAssertHeld(man.lock);
  for (const e of errors) {
    const warned = cmdbufErrorWarned.get();
    if (!warned.done) {
      warned.done = true;
      man.log.push("WARNING: vmw_cmdbuf_ctx_process: Command buffer error.");
    }
    man.error.push({ seqno: e.seqno, errorOffset: e.command, op: e.op });
    await scheduleWork(man.work);
  }
}

/**
 * Models vmw_cmdbuf_irqthread() (from vmw_thread_fn() when the interrupt status has
 * SVGA_IRQFLAG_ERROR, after the fence part): vmw_cmdbuf_man_process() under man->lock, here
 * vmw_cmdbuf_ctx_process() of the one context with the device's command errors.
 * Locking: irq thread context; takes man->lock. References: none.
 */
export async function vmwCmdbufIrqthread(
  man: VmwCmdbufMan,
  errors: readonly CommandError[],
): Promise<void> {
  const lockTaken = man.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  await vmwCmdbufCtxProcess(man, errors);
  man.lock.unlockNow();
}

/**
 * Models vmw_thread_fn()'s command-buffer half, the part of the device's interrupt handler that
 * is vmwgfx's own (the fence half, vmw_fences_update(), is the fence driver's interrupt handler
 * and the callbacks of vmwgfx-fence.ts): vmw_cmdbuf_irqthread() when the status carries a command
 * error (SVGA_IRQFLAG_ERROR).
 * Locking: irq thread context. References: none.
 */
export async function vmwThreadFnCmdbuf(vmw: VmwPrivate, status: InterruptStatus): Promise<void> {
  if (status.errors.length > 0) await vmwCmdbufIrqthread(vmw.cman, status.errors);
}

/**
 * Models vmw_cmdbuf_work_func(): under man->error_mutex and man->lock, takes every buffer off
 * man->error and, its faulty command described (vmw_cmd_describe(): one entry), moves its start
 * past that command (new_start_offset = errorOffset + size, below the buffer's length: see the
 * file comment) onto the restart list; then, man->lock taken again, puts the restart list first
 * in the context's submitted queue and vmw_cmdbuf_man_process() submits it: the device runs the
 * rest of the buffer (gpu.restart()). No fence is touched: the buffer's own fence packet signals
 * its fences.
 * Locking: process context (system_wq); takes man->error_mutex, then man->lock.
 * References: none.
 */
export async function vmwCmdbufWorkFunc(man: VmwCmdbufMan): Promise<void> {
  const restartHead: VmwCmdbufHeader[] = [];
  const errorMutexTaken = man.errorMutex.lock();
  if (errorMutexTaken !== RESOLVED) await errorMutexTaken;
  const lockTaken2 = man.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  while (man.error.length > 0) {
    const entry = man.error.shift()!;
    // global_block = true; vmw_cmd_describe() knows every command of the model's stream.
    restartHead.push(entry);
  }
  man.lock.unlockNow();
  // Preempting the other contexts (global_block) has nothing to do: one context (file comment).
  const lockTaken3 = man.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  for (const _entry of restartHead) {
    // list_splice_init(&restart_head[i], &ctx->submitted); vmw_cmdbuf_man_process(): the buffer
    // goes back to the device from its new start.
    if (man.devPriv.gpu.restart()) man.restarts++;
  }
  man.lock.unlockNow();
  man.errorMutex.unlockNow();
}

/** The kernel log lines of the device's command-buffer manager (its WARN_ONCE), oldest first. */
export function vmwCmdbufWarnings(vmw: VmwPrivate): readonly string[] {
  return vmw.cman.log;
}
