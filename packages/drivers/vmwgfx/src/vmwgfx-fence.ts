/**
 * vmwgfx fences (drivers/gpu/drm/vmwgfx/vmwgfx_fence.c, vmwgfx_fence.h, Linux v6.12): the fence
 * manager of a device (one spinlock, the list of unsignalled fence objects, a fence context), fence
 * objects (`struct vmw_fence_obj`: a dma_fence on the manager's lock and context carrying the
 * device seqno of a submission), the signalling path (vmw_fences_update(): every listed fence whose
 * seqno the device's fence register has passed is signalled and unlisted), and **user fence
 * objects** (`struct vmw_user_fence`: a ttm_base_object of type VMW_RES_FENCE embedding the fence,
 * whose handle EXECBUF returns in struct drm_vmw_fence_rep) with the three ioctls on their handles:
 * DRM_VMW_FENCE_WAIT, DRM_VMW_FENCE_SIGNALED and DRM_VMW_FENCE_UNREF.
 *
 * Lifetimes: a user fence starts with two fence references, the creator's (EXECBUF drops it) and
 * the base object's (vmw_user_fence_base_release() drops it when the base object's last reference
 * goes: the file's ref object, which FENCE_UNREF, FENCE_WAIT with DRM_VMW_WAIT_OPTION_UNREF or the
 * file's close release). Reservation objects and sync_files take their own. The last fence
 * reference unlists the fence (vmw_fence_obj_destroy()) and frees the vmw_user_fence after a
 * grace period (ttm_base_object_kfree()): ioctls find the base under the file's lock with
 * kref_get_unless_zero() (ttm_base_object_lookup()).
 *
 * The model's device: the seqnos are the simulated SVGA device's (`@primetime/simgpu`, read as
 * vmw_fence_read() from its fence register), submitted through the device's fence driver of
 * `@primetime/ttm` (vmw_cmd_send_fence()'s part), whose interrupt handler signals that driver's own
 * fence of the seqno. The fence interrupt vmwgfx takes (SVGA_IRQFLAG_ANY_FENCE, whose threaded half
 * vmw_thread_fn() calls vmw_fences_update()) is modeled by a callback on that fence, queued by
 * vmwFenceIrqArm() for each vmw fence created: it runs vmw_fences_update() from the interrupt task
 * under the device fence's lock (the kernel runs it in the irq thread).
 *
 * **Fence actions** (vmwgfx_fence.c's second half): DRM_VMW_FENCE_EVENT attaches a
 * vmw_event_fence_action to a fence (vmw_fence_obj_add_action(): at once performed if the fence
 * has signalled, else on the fence's `seq_passed_actions` with the device's fence goal set to
 * it); when __vmw_fences_update() signals the fence, vmw_fences_perform_actions() runs each
 * action's seq_passed (the event is sent to its DRM file, drm_send_event_locked(), stamped with
 * the time with DRM_VMW_FE_FLAG_REQ_TIME) and moves it to the manager's cleanup list, which the
 * manager's work (vmw_fence_work_func(), on the system workqueue) empties: each action's cleanup
 * drops the fence reference the action held and frees it. The event itself holds no reference on
 * its DRM file: a file closed first unlinks it (drm_events_release()) and the send frees it. As
 * in v6.12, an action attached to a fence that has already signalled is performed at once but
 * its cleanup waits on the cleanup list for the next __vmw_fences_update() (none schedules the
 * work on that path).
 *
 * Historic toggle `vmwgfx.fence-destroy-always-locks` (e58337100721, "drm/vmwgfx: Fix a deadlock
 * in dma buf fence polling", v6.11): the fence's release takes fman->lock even for a fence
 * __vmw_fences_update() has already unlisted, which a signal callback dropping the last reference
 * (dma_buf_poll_cb()) reaches with that lock held (see vmwFenceObjDestroy()).
 *
 * Simplifications: the fence goal (SVGA_REG_FENCE_GOAL) is a field of the manager here (the
 * simulated device has no such register: the per-fence interrupt above already runs
 * vmw_fences_update() for every fence, the goal interrupt's job), and vmw_goal_waiter_add() /
 * _remove() count goal waiters without an interrupt mask; vmw_fence_wait(), the driver's ->wait
 * (its seqno-waiter interrupt and __vmw_fences_update() before each sleep), is the default wait
 * here: the interrupt callback above signals the fence; a vmw_user_fence is two objects in the
 * model (the base object, kmalloc()ed, and its embedded fence, whose liveness is the base's); the
 * manager is embedded in vmw_private (the kernel kzalloc()s it); jiffies are virtual
 * nanoseconds (FENCE_WAIT's microseconds x 1000, not the kernel's approximate division by 10^6).
 */

import {
  DmaFence,
  DmaFenceCb,
  type DmaFenceOps,
  dmaFenceAddCallback,
  dmaFenceContextAlloc,
  dmaFenceFree,
  dmaFenceGet,
  dmaFenceInit,
  dmaFenceIsSignaled,
  dmaFenceIsSignaledLocked,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceSignalLocked,
  dmaFenceTestSignaledFlag,
  dmaFenceWaitTimeout,
} from "@primetime/dma-buf";
import {
  type DrmDevice,
  type DrmEvent,
  type DrmFile,
  DrmPendingEvent,
  drmEventCancelFree,
  drmEventReserveInit,
  drmSendEventLocked,
} from "@primetime/gem";
import {
  cancelWorkSync,
  EBUSY,
  EINVAL,
  ENOENT,
  ENOMEM,
  type Errno,
  errPtr,
  isErr,
  KmemCache,
  kfree,
  kfreeRcu,
  kmalloc,
  lockdepAssertHeld,
  Mutex,
  SlabObject,
  SpinLock,
  scheduleWork,
  WorkStruct,
} from "@primetime/kernel";
import { bug, now, opLabel, point, RESOLVED, toggleEnabled } from "@primetime/sim";
import { VMWGFX_FENCE_DESTROY_ALWAYS_LOCKS } from "./toggles.js";
import {
  TTM_DRIVER_TYPE0,
  type TtmBaseObject,
  TtmBaseObject as TtmBaseObjectClass,
  type TtmObjectFile,
  ttmBaseObjectInit,
  ttmBaseObjectLookup,
  ttmBaseObjectUnref,
  ttmRefObjectAdd,
  ttmRefObjectBaseUnref,
} from "./ttm-object.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import {
  DRM_VMW_EVENT_FENCE_SIGNALED,
  DRM_VMW_EVENT_FENCE_SIZE,
  DRM_VMW_FE_FLAG_REQ_TIME,
  DRM_VMW_WAIT_OPTION_UNREF,
  type DrmVmwEventFence,
  type DrmVmwFenceArg,
  type DrmVmwFenceEventArg,
  type DrmVmwFenceSignaledArg,
  type DrmVmwFenceWaitArg,
  encodeDrmVmwEventFence,
} from "./vmwgfx-uapi.js";

/** Models VMW_RES_FENCE (enum vmw_res_type in vmwgfx_drv.h: TTM_DRIVER_TYPE0 + 3). */
export const VMW_RES_FENCE = TTM_DRIVER_TYPE0 + 3;

/** Models VMW_FENCE_WRAP (vmwgfx_fence.c): seqno comparisons modulo 2^32. */
const VMW_FENCE_WRAP = 2 ** 31;

/** Models VMW_FENCE_WAIT_TIMEOUT (5 * HZ): 5 s of virtual time, in ns. */
export const VMW_FENCE_WAIT_TIMEOUT = 5_000_000_000;

/** The slab caches: kernel fence objects and user fence objects. */
export const vmwFenceObjCache = new KmemCache("vmw_fence_obj");
export const vmwUserFenceCache = new KmemCache("vmw_user_fence");

/** True if the device seqno `passed` is at or past `seqno` (`passed - seqno < VMW_FENCE_WRAP`). */
function seqnoPassed(passed: number, seqno: number): boolean {
  return (passed - seqno) >>> 0 < VMW_FENCE_WRAP;
}

/** Models enum vmw_action_type: VMW_ACTION_EVENT, VMW_ACTION_MAX. */
export const VMW_ACTION_EVENT = 0;
const VMW_ACTION_MAX = 1;

/**
 * Models struct vmw_fence_action: run `seqPassed` when the fence's seqno has passed (under the
 * manager's lock), then `cleanup` from the manager's work.
 * Locking: list membership (a fence's seq_passed_actions, the cleanup list) under fman->lock.
 */
export interface VmwFenceAction {
  readonly type: number;
  readonly seqPassed: ((action: VmwFenceAction) => Promise<void>) | null;
  readonly cleanup: ((action: VmwFenceAction) => Promise<void>) | null;
}

/**
 * Models struct vmw_fence_manager (the parts kept).
 * Locking: `lock` (every fence's dma_fence lock) protects `fenceList`, `fifoDown`,
 * `cleanupList`, `pendingActions`, `seqnoValid` and the fences' action lists; `goalIrqMutex`
 * protects `goalIrqOn` (and must be held to set `seqnoValid`).
 * References: the list holds none (a fence unlists itself at its release); each action holds a
 * fence reference until its cleanup.
 */
export class VmwFenceManager {
  /** Models fman->lock. */
  readonly lock: SpinLock;
  /** Models fman->fence_list: unsignalled fences, in seqno order. */
  readonly fenceList: VmwFenceObj[] = [];
  /** Models fman->work: vmw_fence_work_func(). */
  readonly work: WorkStruct;
  /** Models fman->fifo_down: fences cannot be created while true. */
  fifoDown = true;
  /** Models fman->cleanup_list: actions performed, waiting for their cleanup. */
  readonly cleanupList: VmwFenceAction[] = [];
  /** Models fman->pending_actions[]: actions attached and not yet performed, per type. */
  readonly pendingActions: number[] = new Array<number>(VMW_ACTION_MAX).fill(0);
  /** Models fman->goal_irq_mutex. */
  readonly goalIrqMutex: Mutex;
  /** Models fman->goal_irq_on (goal_irq_mutex). */
  goalIrqOn = false;
  /** Models fman->seqno_valid: the device's fence goal is a fence with actions (fman->lock). */
  seqnoValid = false;
  /** Models fman->ctx. */
  readonly ctx: number;
  /**
   * The device's fence goal register (SVGA_REG_FENCE_GOAL, vmw_fence_goal_read()/_write()): the
   * simulated device has none, so the manager keeps the value (see the file comment).
   */
  fenceGoal = 0;
  /** Models dev_priv->goal_queue_waiters (vmw_goal_waiter_add()/_remove()). */
  goalQueueWaiters = 0;
  /**
   * Whether an action was ever attached: the model cancels the work at takedown only then, to keep
   * the teardown steps of devices that never had one (their work was never queued).
   */
  actionsUsed = false;

  constructor(readonly devPriv: VmwPrivate) {
    this.lock = new SpinLock("vmw_fence_manager.lock");
    this.work = new WorkStruct(vmwFenceWorkFunc.bind(null, this), "vmw_fence_work_func");
    this.goalIrqMutex = new Mutex("vmw_fence_manager.goal_irq_mutex");
    this.ctx = dmaFenceContextAlloc(1);
  }
}

/**
 * Models struct vmw_fence_obj: a dma_fence with its list membership and destructor. A user
 * fence's is embedded in its vmw_user_fence (`container`), whose memory it lives in: its liveness
 * checks are the container's.
 * Locking: `onList` is protected by the manager's lock. References: the dma_fence's.
 */
export class VmwFenceObj extends DmaFence {
  /** Models !list_empty(&fence->head). */
  onList = false;
  /** Models fence->destroy. */
  destroy: ((fence: VmwFenceObj) => Promise<void>) | null = null;
  /** The manager (fman_from_fence(): container_of(fence->base.lock, ...)). */
  fman: VmwFenceManager | null = null;
  /** Models fence->seq_passed_actions (fman->lock). */
  readonly seqPassedActions: VmwFenceAction[] = [];

  constructor(readonly container: VmwUserFence | null = null) {
    super(container ? "vmw_user_fence.fence" : vmwFenceObjCache);
  }

  override checkAccess(op: string): boolean {
    return this.container ? this.container.checkAccess(op) : super.checkAccess(op);
  }
}

/**
 * Models struct vmw_user_fence: a ttm base object and the fence it embeds.
 * Locking: see the base object and the fence. References: the base object holds one fence
 * reference (dropped by vmw_user_fence_base_release()).
 */
export class VmwUserFence extends TtmBaseObjectClass {
  /** Models ufence->fence. */
  readonly fence: VmwFenceObj;

  constructor() {
    super(vmwUserFenceCache);
    this.fence = new VmwFenceObj(this);
  }
}

/** Models fman_from_fence(). */
function fmanFromFence(fence: VmwFenceObj): VmwFenceManager {
  return fence.fman!;
}

/** Models vmw_fence_read(): the device's fence register (the last completed seqno). */
function vmwFenceRead(vmw: VmwPrivate): number {
  return vmw.gpu.lastCompletedSeqno;
}

/**
 * Models vmw_fence_obj_destroy(), the fence's ->release: unlists the fence if it is still listed
 * (under the manager's lock), then its destructor. A fence that signalled was unlisted by
 * __vmw_fences_update() already, so a release from inside the signal (a callback dropping the
 * last reference, under fman->lock) takes no lock.
 *
 * With `vmwgfx.fence-destroy-always-locks` on, the code before e58337100721 ("drm/vmwgfx: Fix a
 * deadlock in dma buf fence polling"): spin_lock(&fman->lock) and list_del_init() whether or not
 * the fence is listed (that code also decremented fman->num_fence_objects, a count nothing read:
 * not modeled), so a release from a signal callback recurses on the lock the signaller holds.
 * Locking: takes fman->lock (must not be held: with the toggle, even for an unlisted fence).
 * References: consumes the fence.
 */
async function vmwFenceObjDestroy(f: DmaFence): Promise<void> {
  const fence = f as VmwFenceObj;
  const fman = fmanFromFence(fence);
  if (toggleEnabled(VMWGFX_FENCE_DESTROY_ALWAYS_LOCKS.name)) {
    const lockTaken = fman.lock.lock();
    if (lockTaken !== RESOLVED) await lockTaken;
    removeFromList(fman, fence);
    fman.lock.unlockNow();
    await fence.destroy!(fence);
    return;
  }
  await point(`list_empty(${fence.name}.head)`);
  if (fence.onList) {
    const lockTaken2 = fman.lock.lock();
    if (lockTaken2 !== RESOLVED) await lockTaken2;
    removeFromList(fman, fence);
    fman.lock.unlockNow();
  }
  await fence.destroy!(fence);
}

/**
 * list_del_init(&fence->head).
 * Locking: fman->lock held. References: none.
 */
function removeFromList(fman: VmwFenceManager, fence: VmwFenceObj): void {
  lockdepAssertHeld(fman.lock);
  const i = fman.fenceList.indexOf(fence);
  if (i >= 0) fman.fenceList.splice(i, 1);
  fence.onList = false;
}

/**
 * Models vmw_fence_enable_signaling(): false (signal at once) if the device has passed the
 * fence's seqno, else true (the fence interrupt will).
 * Locking: fman->lock held (the fence's lock, by dma_fence). References: the caller's.
 */
function vmwFenceEnableSignaling(f: DmaFence): boolean {
  const fence = f as VmwFenceObj;
  lockdepAssertHeld(fmanFromFence(fence).lock);
  return !seqnoPassed(vmwFenceRead(fmanFromFence(fence).devPriv), fence.seqno);
}

/** Models vmw_fence_ops (->wait is the default wait here: see the file comment). */
const vmwFenceOps: DmaFenceOps = {
  getDriverName: () => "vmwgfx",
  getTimelineName: () => "svga",
  enableSignaling: vmwFenceEnableSignaling,
  release: vmwFenceObjDestroy,
};

/**
 * Models vmw_fence_manager_init(): the manager of a device, with fifo_down set (no fence can be
 * created before vmw_fence_fifo_up()) and a fence context of its own.
 * Locking: none (device load). References: the device owns it.
 */
export function vmwFenceManagerInit(vmw: VmwPrivate): VmwFenceManager {
  const fman = new VmwFenceManager(vmw);
  // vmw_fence_fifo_up() (from vmw_request_device() at load), folded in: nothing else can see the
  // manager yet, so its lock is not taken.
  fman.fifoDown = false;
  return fman;
}

/**
 * Models vmw_fence_manager_takedown(): cancel_work_sync() of the cleanup work (only if an action
 * was ever attached: see `actionsUsed`), then BUG_ON() if fences or actions waiting for their
 * cleanup are still listed. Called once the device's interrupts are gone, so nothing else can
 * reach the lists: the loads need no lock (the kernel takes fman->lock around them).
 * Locking: none held. References: none.
 */
export async function vmwFenceManagerTakedown(fman: VmwFenceManager): Promise<void> {
  if (fman.actionsUsed) await cancelWorkSync(fman.work);
  if (fman.fenceList.length > 0 || fman.cleanupList.length > 0)
    bug(
      `kernel BUG at vmwgfx_fence.c: vmw_fence_manager_takedown(): BUG_ON(!lists_empty) (${fman.fenceList.length} fences, ${fman.cleanupList.length} actions listed)`,
    );
}

/**
 * Models vmw_fence_fifo_down() (at driver unload): marks the fifo down, then, for each fence still
 * listed (the newest first, restarting after each since the lock is dropped), takes a reference,
 * waits for it (uninterruptibly, VMW_FENCE_WAIT_TIMEOUT) and, if that fails, unlists and signals
 * it and performs its actions; BUG_ON() if it is still listed.
 * Locking: takes fman->lock, dropped around each wait. References: a temporary one per fence.
 */
export async function vmwFenceFifoDown(fman: VmwFenceManager): Promise<void> {
  const lockTaken3 = fman.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  fman.fifoDown = true;
  while (fman.fenceList.length > 0) {
    const fence = fman.fenceList.at(-1)!;
    await dmaFenceGet(fence);
    fman.lock.unlockNow();
    const ret = await vmwFenceObjWait(fence, false, false, VMW_FENCE_WAIT_TIMEOUT);
    if (ret !== 0) {
      const lockTaken4 = fman.lock.lock();
      if (lockTaken4 !== RESOLVED) await lockTaken4;
      removeFromList(fman, fence);
      fman.lock.unlockNow();
      await dmaFenceSignal(fence);
      // The kernel splices and performs the actions here without fman->lock.
      await vmwFencesPerformActions(fman, fence.seqPassedActions.splice(0));
    }
    if (fence.onList)
      bug("kernel BUG at vmwgfx_fence.c: vmw_fence_fifo_down(): BUG_ON(!list_empty(&fence->head))");
    const dmaFencePutDone = dmaFencePut(fence);
    if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
    const lockTaken5 = fman.lock.lock();
    if (lockTaken5 !== RESOLVED) await lockTaken5;
  }
  fman.lock.unlockNow();
}

/**
 * Models vmw_fence_obj_init(): dma_fence_init() on the manager's lock and context, then lists the
 * fence under the lock, or -EBUSY if the fifo is down.
 * Locking: takes fman->lock. References: the fence starts with one, the caller's.
 */
async function vmwFenceObjInit(
  fman: VmwFenceManager,
  fence: VmwFenceObj,
  seqno: number,
  destroy: (fence: VmwFenceObj) => Promise<void>,
): Promise<number> {
  let ret = 0;
  dmaFenceInit(fence, vmwFenceOps, fman.lock, fman.ctx, seqno);
  fence.fman = fman;
  fence.destroy = destroy;
  const lockTaken6 = fman.lock.lock();
  if (lockTaken6 !== RESOLVED) await lockTaken6;
  if (fman.fifoDown) {
    ret = -EBUSY;
  } else {
    fman.fenceList.push(fence);
    fence.onList = true;
  }
  fman.lock.unlockNow();
  return ret;
}

/**
 * Models __vmw_fences_update(): signals, in list order, every fence whose seqno the device has
 * passed, unlisting it and performing its actions; then, if the fence goal was updated
 * (vmw_fence_goal_new_locked()) and the device moved meanwhile, runs again; last, schedules the
 * cleanup work if actions wait for it.
 * Locking: fman->lock held. References: the list holds none; the fences are alive while listed.
 */
async function vmwFencesUpdateLocked(fman: VmwFenceManager): Promise<void> {
  lockdepAssertHeld(fman.lock);
  let seqno = vmwFenceRead(fman.devPriv);
  for (;;) {
    // rerun:
    while (fman.fenceList.length > 0) {
      const fence = fman.fenceList[0]!;
      if (!seqnoPassed(seqno, fence.seqno)) break;
      removeFromList(fman, fence);
      await dmaFenceSignalLocked(fence);
      await vmwFencesPerformActions(fman, fence.seqPassedActions.splice(0));
    }
    // Rerun if the fence goal seqno was updated, and the hardware might have raced with that
    // update, so that we missed a fence_goal irq.
    if (!vmwFenceGoalNewLocked(fman, seqno)) break;
    const newSeqno = vmwFenceRead(fman.devPriv);
    if (newSeqno === seqno) break;
    seqno = newSeqno;
  }
  if (fman.cleanupList.length > 0) await scheduleWork(fman.work);
}

/**
 * Models vmw_fences_update(): __vmw_fences_update() under the manager's lock.
 * Locking: takes fman->lock. References: none.
 */
export async function vmwFencesUpdate(fman: VmwFenceManager): Promise<void> {
  const lockTaken7 = fman.lock.lock();
  if (lockTaken7 !== RESOLVED) await lockTaken7;
  await vmwFencesUpdateLocked(fman);
  fman.lock.unlockNow();
}

/**
 * Models vmw_update_seqno() (vmwgfx_irq.c): reads the fence register into last_read_seqno and, if
 * it moved, runs vmw_fences_update().
 * Locking: takes fman->lock if the seqno moved. References: none.
 */
export async function vmwUpdateSeqno(vmw: VmwPrivate): Promise<void> {
  const seqno = vmwFenceRead(vmw);
  await point("vmw_update_seqno");
  if (vmw.lastReadSeqno !== seqno) {
    vmw.lastReadSeqno = seqno;
    await vmwFencesUpdate(vmw.fman);
  }
}

/**
 * Models the device's fence interrupt for one vmw fence (SVGA_IRQFLAG_ANY_FENCE: vmw_irq_handler()
 * wakes vmw_thread_fn(), which runs vmw_fences_update()): a callback on the device fence driver's
 * fence of the same seqno (`hw`) runs vmw_fences_update() when the device signals it, or at once if
 * it already has. The callback holds nothing but the manager, which lives as long as the device.
 * Locking: takes the device fence's lock, then (in the callback, or here) fman->lock.
 * References: the caller holds one on `hw`.
 */
export async function vmwFenceIrqArm(fman: VmwFenceManager, hw: DmaFence): Promise<void> {
  const cb = new DmaFenceCb("vmw_thread_fn");
  const ret = await dmaFenceAddCallback(hw, cb, () => vmwFencesUpdate(fman));
  if (ret === -ENOENT) await vmwFencesUpdate(fman);
}

/**
 * Models vmw_fence_obj_signaled(): the SIGNALED bit, else vmw_fences_update() and
 * dma_fence_is_signaled().
 * Locking: takes fman->lock. References: the caller holds one.
 */
export async function vmwFenceObjSignaled(fence: VmwFenceObj): Promise<boolean> {
  await point(`test_bit(SIGNALED, ${fence.name})`);
  fence.checkAccess("vmw_fence_obj_signaled");
  if (dmaFenceTestSignaledFlag(fence)) return true;
  await vmwFencesUpdate(fmanFromFence(fence));
  return dmaFenceIsSignaled(fence);
}

/**
 * Models vmw_fence_obj_wait(): dma_fence_wait_timeout(); 0 once signalled, -EBUSY on timeout, or
 * the wait's error (-ERESTARTSYS). `lazy` is unused, as in the kernel. `timeout` in ns.
 * Locking: may sleep. References: the caller holds one.
 */
export async function vmwFenceObjWait(
  fence: VmwFenceObj,
  _lazy: boolean,
  interruptible: boolean,
  timeout: number,
): Promise<number> {
  const ret = await dmaFenceWaitTimeout(fence, interruptible, timeout);
  if (ret > 0) return 0;
  if (ret === 0) return -EBUSY;
  return ret;
}

/** Models vmw_fence_obj_reference(). References: takes one (null passes through). */
export function vmwFenceObjReference(fence: VmwFenceObj): Promise<VmwFenceObj> {
  return dmaFenceGet(fence);
}

/** Models vmw_fence_obj_unreference(). References: drops one. */
export function vmwFenceObjUnreference(fence: VmwFenceObj | null): Promise<void> {
  return dmaFencePut(fence);
}

/**
 * Models vmw_fence_destroy(): dma_fence_free() (kfree_rcu()) of a kernel fence.
 * Locking: none. References: consumes the fence.
 */
function vmwFenceDestroy(fence: VmwFenceObj): Promise<void> {
  return dmaFenceFree(fence);
}

/**
 * Models vmw_fence_create(): a kernel fence object of `seqno`, listed. -ENOMEM, or -EBUSY with the
 * fifo down.
 * Locking: takes fman->lock. References: the caller owns the one reference.
 */
export async function vmwFenceCreate(
  fman: VmwFenceManager,
  seqno: number,
): Promise<VmwFenceObj | Errno> {
  const fence = kmalloc(vmwFenceObjCache, () => new VmwFenceObj(null));
  if (isErr(fence)) return errPtr(ENOMEM);
  const ret = await vmwFenceObjInit(fman, fence, seqno, vmwFenceDestroy);
  if (ret !== 0) {
    kfree(fence);
    return errPtr(ret);
  }
  return fence;
}

/**
 * Models vmw_user_fence_destroy(): ttm_base_object_kfree(ufence, base), the fence's destructor:
 * the vmw_user_fence (and the fence it embeds) after a grace period.
 * Locking: none. References: consumes the fence.
 */
async function vmwUserFenceDestroy(fence: VmwFenceObj): Promise<void> {
  const kfreeRcuDone = kfreeRcu(fence.container!);
  if (kfreeRcuDone !== RESOLVED) await kfreeRcuDone;
}

/**
 * Models vmw_user_fence_base_release(), the base object's refcount_release: drops the base's
 * fence reference.
 * Locking: none. References: drops the base object's fence reference.
 */
export async function vmwUserFenceBaseRelease(base: TtmBaseObject): Promise<void> {
  const ufence = base as VmwUserFence;
  const vmwFenceObjUnreferenceDone = vmwFenceObjUnreference(ufence.fence);
  if (vmwFenceObjUnreferenceDone !== RESOLVED) await vmwFenceObjUnreferenceDone;
}

/** A user fence object and its handle, what vmw_user_fence_create() returns through pointers. */
export interface VmwUserFenceRef {
  readonly fence: VmwFenceObj;
  readonly handle: number;
}

/**
 * Models vmw_user_fence_create(): a vmw_user_fence of `seqno` (kzalloc(), vmw_fence_obj_init()),
 * one more fence reference for the base object, then ttm_base_object_init() (not shareable,
 * VMW_RES_FENCE, vmw_user_fence_base_release) in the file's object file, which opens it (a ref
 * object) under a new handle. On a base init failure both fence references are dropped (the fence
 * is released and freed). -ENOMEM, -EBUSY.
 * Locking: takes fman->lock, then the object device's and the file's locks.
 * References: the caller owns one fence reference; the file's ref object owns the base, which
 * owns the other.
 */
export async function vmwUserFenceCreate(
  tfile: TtmObjectFile,
  fman: VmwFenceManager,
  seqno: number,
): Promise<VmwUserFenceRef | Errno> {
  const ufence = kmalloc(vmwUserFenceCache, () => new VmwUserFence());
  if (isErr(ufence)) return errPtr(ENOMEM);
  const fenceInit = await vmwFenceObjInit(fman, ufence.fence, seqno, vmwUserFenceDestroy);
  if (fenceInit !== 0) {
    kfree(ufence);
    return errPtr(fenceInit);
  }
  // The base object holds a reference which is freed in vmw_user_fence_base_release.
  const tmp = await vmwFenceObjReference(ufence.fence);
  const ret = await ttmBaseObjectInit(tfile, ufence, false, VMW_RES_FENCE, vmwUserFenceBaseRelease);
  if (ret !== 0) {
    // Free the base object's reference
    const vmwFenceObjUnreferenceDone2 = vmwFenceObjUnreference(tmp);
    if (vmwFenceObjUnreferenceDone2 !== RESOLVED) await vmwFenceObjUnreferenceDone2;
    // out_err:
    const vmwFenceObjUnreferenceDone3 = vmwFenceObjUnreference(ufence.fence);
    if (vmwFenceObjUnreferenceDone3 !== RESOLVED) await vmwFenceObjUnreferenceDone3;
    return errPtr(ret);
  }
  return { fence: ufence.fence, handle: ufence.handle };
}

/**
 * Models vmw_fence_obj_lookup(): the base object the file opened under `handle` with a new
 * reference, type-checked by its release function: -EINVAL for a handle the file has not opened
 * (another file's fence among them: fence objects are not shareable) or one that is not a fence.
 * Locking: takes the file's lock (ttm_base_object_lookup()). References: takes one base one.
 */
export async function vmwFenceObjLookup(
  tfile: TtmObjectFile,
  handle: number,
): Promise<VmwUserFence | Errno> {
  const base = await ttmBaseObjectLookup(tfile, handle);
  if (!base) return errPtr(EINVAL); // "Invalid fence object handle"
  if (base.refcountRelease !== vmwUserFenceBaseRelease) {
    await ttmBaseObjectUnref(base);
    return errPtr(EINVAL);
  }
  return base as VmwUserFence;
}

/**
 * Models vmw_fence_obj_wait_ioctl() (DRM_VMW_FENCE_WAIT): on a first call (cookie_valid 0) the
 * deadline `kernel_cookie` = jiffies + timeout (virtual ns here, `timeout_us` x 1000) and
 * cookie_valid = 1, kept for a restarted call; the fence looked up (-EINVAL); past the deadline a
 * poll (0 if signalled, else -EBUSY), else vmw_fence_obj_wait() until the deadline, interruptible
 * (-EBUSY at the deadline, -ERESTARTSYS on a signal); the lookup's reference dropped; then, on
 * success with DRM_VMW_WAIT_OPTION_UNREF, ttm_ref_object_base_unref() of the handle (its -EINVAL if
 * the handle was unreferenced meanwhile).
 * Locking: none held; sleeps without locks. References: a temporary base one; the UNREF option
 * drops the file's open of the handle.
 */
export async function vmwFenceObjWaitIoctl(
  arg: DrmVmwFenceWaitArg,
  tfile: TtmObjectFile,
): Promise<number> {
  const waitTimeout = arg.timeout_us * 1000;
  if (!arg.cookie_valid) {
    arg.cookie_valid = 1;
    arg.kernel_cookie = now() + waitTimeout;
  }
  const base = await vmwFenceObjLookup(tfile, arg.handle);
  if (isErr(base)) return base;
  const fence = base.fence;
  let ret: number;
  const jiffies = now();
  if (jiffies >= arg.kernel_cookie) {
    ret = (await vmwFenceObjSignaled(fence)) ? 0 : -EBUSY;
  } else {
    ret = await vmwFenceObjWait(fence, arg.lazy !== 0, true, arg.kernel_cookie - jiffies);
  }
  // out:
  await ttmBaseObjectUnref(base);
  // Optionally unref the fence object.
  if (ret === 0 && arg.wait_options & DRM_VMW_WAIT_OPTION_UNREF)
    return ttmRefObjectBaseUnref(tfile, arg.handle);
  return ret;
}

/**
 * Models vmw_fence_obj_signaled_ioctl() (DRM_VMW_FENCE_SIGNALED): the fence looked up (-EINVAL);
 * `signaled` from vmw_fence_obj_signaled(), `signaled_flags` = `flags`, `passed_seqno` =
 * last_read_seqno (read under the manager's lock); the lookup's reference dropped.
 * Locking: takes fman->lock. References: a temporary base one.
 */
export async function vmwFenceObjSignaledIoctl(
  vmw: VmwPrivate,
  arg: DrmVmwFenceSignaledArg,
  tfile: TtmObjectFile,
): Promise<number> {
  const base = await vmwFenceObjLookup(tfile, arg.handle);
  if (isErr(base)) return base;
  const fence = base.fence;
  const fman = fmanFromFence(fence);
  arg.signaled = (await vmwFenceObjSignaled(fence)) ? 1 : 0;
  arg.signaled_flags = arg.flags;
  const lockTaken8 = fman.lock.lock();
  if (lockTaken8 !== RESOLVED) await lockTaken8;
  arg.passed_seqno = vmw.lastReadSeqno;
  fman.lock.unlockNow();
  await ttmBaseObjectUnref(base);
  return 0;
}

/**
 * Models vmw_fence_obj_unref_ioctl() (DRM_VMW_FENCE_UNREF): ttm_ref_object_base_unref() of the
 * handle in the file's object file: -EINVAL if the file has no open of it (unknown, another
 * file's, or already unreferenced). It does not check the object's type, as in the kernel.
 * Locking: takes the file's lock. References: drops one open of the handle.
 */
export function vmwFenceObjUnrefIoctl(arg: DrmVmwFenceArg, tfile: TtmObjectFile): Promise<number> {
  return ttmRefObjectBaseUnref(tfile, arg.handle);
}

// ---- Fence actions and DRM_VMW_FENCE_EVENT (vmwgfx_fence.c) -----------------------------------

/** The slab caches of fence events: the actions and the pending DRM events. */
export const vmwEventFenceActionCache = new KmemCache("vmw_event_fence_action");
export const vmwEventFencePendingCache = new KmemCache("vmw_event_fence_pending");

/**
 * Models vmw_fences_perform_actions(): for each action of `list` (in order), the manager's
 * pending count drops, its seq_passed runs, and it goes to the tail of the cleanup list.
 * Locking: fman->lock, when called from __vmw_fences_update() or vmw_fence_obj_add_action();
 * vmw_fence_fifo_down()'s failed wait calls it without, as in the kernel.
 * References: the actions keep their fence references.
 */
async function vmwFencesPerformActions(
  fman: VmwFenceManager,
  list: VmwFenceAction[],
): Promise<void> {
  for (const action of list) {
    fman.pendingActions[action.type]!--;
    if (action.seqPassed !== null) await action.seqPassed(action);
    // Add the cleanup action to the cleanup list so that it will be performed by a worker task.
    fman.cleanupList.push(action);
  }
}

/**
 * Models vmw_fence_work_func(), the manager's work: repeatedly, under goal_irq_mutex and the
 * manager's lock, takes the whole cleanup list and reads seqno_valid; turns the goal interrupt
 * off if no goal is valid; stops when the list was empty, else runs each action's cleanup
 * (outside the lock: only this work touches the taken actions).
 * Locking: takes goal_irq_mutex, then fman->lock. References: each cleanup drops its action's.
 */
async function vmwFenceWorkFunc(fman: VmwFenceManager): Promise<void> {
  for (;;) {
    const goalIrqMutexTaken = fman.goalIrqMutex.lock();
    if (goalIrqMutexTaken !== RESOLVED) await goalIrqMutexTaken;
    const lockTaken9 = fman.lock.lock();
    if (lockTaken9 !== RESOLVED) await lockTaken9;
    const list = fman.cleanupList.splice(0);
    const seqnoValid = fman.seqnoValid;
    fman.lock.unlockNow();
    await point("vmw_fence_work_func: goal_irq_on");
    if (!seqnoValid && fman.goalIrqOn) {
      fman.goalIrqOn = false;
      fman.goalQueueWaiters--; // vmw_goal_waiter_remove()
    }
    fman.goalIrqMutex.unlockNow();
    if (list.length === 0) return;
    for (const action of list) if (action.cleanup !== null) await action.cleanup(action);
  }
}

/**
 * Models vmw_fence_goal_new_locked(): if the goal is valid and the device has passed it, the
 * goal becomes the seqno of the first listed fence with actions (invalid if there is none); true
 * if the goal was updated.
 * Locking: fman->lock held. References: none.
 */
function vmwFenceGoalNewLocked(fman: VmwFenceManager, passedSeqno: number): boolean {
  lockdepAssertHeld(fman.lock);
  if (!fman.seqnoValid) return false;
  const goalSeqno = fman.fenceGoal;
  if (!seqnoPassed(passedSeqno, goalSeqno)) return false;
  fman.seqnoValid = false;
  for (const fence of fman.fenceList) {
    if (fence.seqPassedActions.length > 0) {
      fman.seqnoValid = true;
      fman.fenceGoal = fence.seqno; // vmw_fence_goal_write()
      break;
    }
  }
  return true;
}

/**
 * Models vmw_fence_goal_check_locked(): unless the fence has signalled or a valid goal is at or
 * before it, the goal becomes the fence's seqno (seqno_valid set); true if it was updated.
 * Locking: fman->lock and goal_irq_mutex held. References: the caller's on `fence`.
 */
async function vmwFenceGoalCheckLocked(fence: VmwFenceObj): Promise<boolean> {
  const fman = fmanFromFence(fence);
  lockdepAssertHeld(fman.lock);
  if (await dmaFenceIsSignaledLocked(fence)) return false;
  const goalSeqno = fman.fenceGoal;
  if (fman.seqnoValid && seqnoPassed(goalSeqno, fence.seqno)) return false;
  fman.fenceGoal = fence.seqno; // vmw_fence_goal_write()
  fman.seqnoValid = true;
  return true;
}

/**
 * Models vmw_fence_obj_add_action(): under goal_irq_mutex and the manager's lock, counts the
 * action pending; performs it at once if the fence has signalled, else adds it to the fence's
 * seq_passed_actions and checks the fence goal; if the goal changed, turns the goal interrupt on
 * (once) and runs vmw_fences_update(). The action may have run when this returns.
 * Locking: takes goal_irq_mutex, then fman->lock. References: the action keeps its own.
 */
async function vmwFenceObjAddAction(fence: VmwFenceObj, action: VmwFenceAction): Promise<void> {
  const fman = fmanFromFence(fence);
  let runUpdate = false;
  fman.actionsUsed = true;
  const goalIrqMutexTaken2 = fman.goalIrqMutex.lock();
  if (goalIrqMutexTaken2 !== RESOLVED) await goalIrqMutexTaken2;
  const lockTaken10 = fman.lock.lock();
  if (lockTaken10 !== RESOLVED) await lockTaken10;
  fman.pendingActions[action.type]!++;
  if (await dmaFenceIsSignaledLocked(fence)) {
    await vmwFencesPerformActions(fman, [action]);
  } else {
    fence.seqPassedActions.push(action);
    // This function may set fman::seqno_valid, so it must be run with the goal_irq_mutex held.
    runUpdate = await vmwFenceGoalCheckLocked(fence);
  }
  fman.lock.unlockNow();
  if (runUpdate) {
    await point("vmw_fence_obj_add_action: goal_irq_on");
    if (!fman.goalIrqOn) {
      fman.goalIrqOn = true;
      fman.goalQueueWaiters++; // vmw_goal_waiter_add()
    }
    await vmwFencesUpdate(fman);
  }
  fman.goalIrqMutex.unlockNow();
}

/**
 * Models struct vmw_event_fence_pending: a drm_pending_event and the struct drm_vmw_event_fence
 * it delivers (kzalloc()ed together; `tv_sec`/`tv_usec` written by the action when the fence
 * signals with DRM_VMW_FE_FLAG_REQ_TIME).
 * Locking: as drm_pending_event. References: as drm_pending_event (none on the file).
 */
export class VmwEventFencePending extends DrmPendingEvent {
  /** Models event: the struct drm_vmw_event_fence. */
  readonly data: DrmVmwEventFence;

  constructor(userData: bigint) {
    super(vmwEventFencePendingCache);
    this.data = {
      type: DRM_VMW_EVENT_FENCE_SIGNALED,
      length: DRM_VMW_EVENT_FENCE_SIZE,
      user_data: userData,
      tv_sec: 0,
      tv_usec: 0,
    };
  }
}

/** The struct drm_event view of a fence event: its header and bytes (read by drm_read()). */
function vmwEventFenceDrmEvent(pending: VmwEventFencePending): DrmEvent {
  const data = pending.data;
  return {
    type: data.type,
    length: data.length,
    bytes: () => encodeDrmVmwEventFence(data),
  };
}

/**
 * Models struct vmw_event_fence_action: the action, the pending event it sends, a referenced
 * fence (kept alive while the action hangs on it), the DRM device, and where to write the time
 * (`tv`: the event's struct, or null without DRM_VMW_FE_FLAG_REQ_TIME).
 * Locking: `event` is read and cleared under the device's event_lock (in seq_passed).
 * References: holds one fence reference (dropped by the cleanup).
 */
export class VmwEventFenceAction extends SlabObject implements VmwFenceAction {
  readonly type = VMW_ACTION_EVENT;
  readonly seqPassed = vmwEventFenceActionSeqPassed;
  readonly cleanup = vmwEventFenceActionCleanup;
  /** Models event. */
  event: VmwEventFencePending | null = null;
  /** Models fence: a referenced pointer. */
  fence: VmwFenceObj | null = null;
  /** Models dev. */
  dev: DrmDevice | null = null;
  /** Models tv_sec / tv_usec: the struct they point into, or null. */
  tv: VmwEventFencePending | null = null;

  constructor() {
    super(vmwEventFenceActionCache);
  }
}

/**
 * Models vmw_event_fence_action_seq_passed(): the fence's seqno has passed: nothing if the event
 * is already gone; else, under the device's event_lock, the event is stamped (tv_sec, tv_usec of
 * the monotonic clock) if asked, sent to its file (drm_send_event_locked(): freed if the file was
 * closed) and forgotten.
 * Locking: as vmw_fences_perform_actions() (atomic context, fman->lock when called from the
 * fence update); takes event_lock.
 * References: the event passes to its file's event list.
 */
async function vmwEventFenceActionSeqPassed(action: VmwFenceAction): Promise<void> {
  const eaction = action as VmwEventFenceAction;
  await point(opLabel("vmw_event_fence_action_seq_passed", eaction.name));
  eaction.checkAccess("vmw_event_fence_action_seq_passed");
  const dev = eaction.dev!;
  const event = eaction.event;
  if (event === null) return;
  await dev.eventLock.lock(); // spin_lock_irq()
  if (eaction.tv !== null) {
    // ktime_get_ts64(): monotonic time, so no y2038 overflow
    const t = now();
    eaction.tv.checkAccess("vmw_event_fence_action_seq_passed: tv_sec");
    eaction.tv.data.tv_sec = Math.floor(t / 1_000_000_000);
    eaction.tv.data.tv_usec = Math.floor((t % 1_000_000_000) / 1000);
  }
  const drmSendEventLockedDone = drmSendEventLocked(dev, event);
  if (drmSendEventLockedDone !== RESOLVED) await drmSendEventLockedDone;
  eaction.event = null;
  dev.eventLock.unlockNow();
}

/**
 * Models vmw_event_fence_action_cleanup(), the action's destructor (from the manager's work):
 * drops the action's fence reference and frees it.
 * Locking: none held. References: drops the fence reference.
 */
async function vmwEventFenceActionCleanup(action: VmwFenceAction): Promise<void> {
  const eaction = action as VmwEventFenceAction;
  await point(opLabel("vmw_event_fence_action_cleanup", eaction.name));
  eaction.checkAccess("vmw_event_fence_action_cleanup");
  const fence = eaction.fence;
  eaction.fence = null;
  const vmwFenceObjUnreferenceDone4 = vmwFenceObjUnreference(fence);
  if (vmwFenceObjUnreferenceDone4 !== RESOLVED) await vmwFenceObjUnreferenceDone4;
  kfree(eaction);
}

/**
 * Models vmw_event_fence_action_queue(): a vmw_event_fence_action for `event` on `fence` (with a
 * fence reference of its own), attached with vmw_fence_obj_add_action() (which may send the
 * event before this returns). -ENOMEM, and then the caller frees the event.
 * Locking: takes goal_irq_mutex, fman->lock (vmw_fence_obj_add_action()).
 * References: the action takes one on `fence`; the event passes to the action.
 */
export async function vmwEventFenceActionQueue(
  _filePriv: DrmFile,
  fence: VmwFenceObj,
  event: VmwEventFencePending,
  tv: VmwEventFencePending | null,
  _interruptible: boolean,
): Promise<number> {
  const fman = fmanFromFence(fence);
  const eaction = kmalloc(vmwEventFenceActionCache, () => new VmwEventFenceAction());
  if (isErr(eaction)) return -ENOMEM;
  eaction.event = event;
  eaction.fence = await vmwFenceObjReference(fence);
  eaction.dev = fman.devPriv.drm;
  eaction.tv = tv;
  await vmwFenceObjAddAction(fence, eaction);
  return 0;
}

/**
 * Models vmw_event_fence_action_create(): a vmw_event_fence_pending (type
 * DRM_VMW_EVENT_FENCE_SIGNALED, 24 bytes, `user_data`), its space reserved in the file
 * (drm_event_reserve_init(): -ENOMEM when the file's 4 KiB are taken, the event freed), then
 * queued on the fence with the time stamp if DRM_VMW_FE_FLAG_REQ_TIME; a failed queue cancels
 * the event (drm_event_cancel_free()). 0, -ENOMEM.
 * Locking: takes event_lock, then goal_irq_mutex and fman->lock.
 * References: the event passes to the action.
 */
async function vmwEventFenceActionCreate(
  filePriv: DrmFile,
  fence: VmwFenceObj,
  flags: number,
  userData: bigint,
  interruptible: boolean,
): Promise<number> {
  const fman = fmanFromFence(fence);
  const dev = fman.devPriv.drm;
  const event = kmalloc(vmwEventFencePendingCache, () => new VmwEventFencePending(userData));
  if (isErr(event)) return -ENOMEM; // "Failed to allocate an event."
  let ret = await drmEventReserveInit(dev, filePriv, event, vmwEventFenceDrmEvent(event));
  if (ret !== 0) {
    // "Failed to allocate event space for this file."
    kfree(event);
    return ret;
  }
  ret = await vmwEventFenceActionQueue(
    filePriv,
    fence,
    event,
    flags & DRM_VMW_FE_FLAG_REQ_TIME ? event : null,
    interruptible,
  );
  if (ret !== 0) {
    // out_no_queue:
    await drmEventCancelFree(dev, event);
    return ret;
  }
  return 0;
}

/** What vmw_fence_event_ioctl() needs of the execbuf code (vmwgfx_execbuf.c). */
export interface VmwFenceEventExecbuf {
  /**
   * vmw_execbuf_fence_commands(): a new fence (a user fence with a handle if `wantHandle`), or
   * its error.
   */
  fenceCommands(
    wantHandle: boolean,
  ): Promise<{ ret: number; fence: VmwFenceObj | null; handle: number }>;
  /** vmw_execbuf_copy_fence_user() with ret 0 and no fence fd. */
  copyFenceUser(userFenceRep: number, fence: VmwFenceObj, handle: number): Promise<unknown>;
}

/**
 * Models vmw_fence_event_ioctl() (DRM_VMW_FENCE_EVENT): the fence is the file's fence object
 * `handle` (vmw_fence_obj_lookup(): -EINVAL; with a `fence_rep`, the file opens it once more,
 * ttm_ref_object_add()) or, for handle 0, a new one (vmw_execbuf_fence_commands(): a new device
 * seqno; a user fence with a handle if `fence_rep` is given); an event is attached to it
 * (vmw_event_fence_action_create(): -ENOMEM when the file's event space is full, undoing the
 * extra open); the fence_rep is written (vmw_execbuf_copy_fence_user(), whose failure is not the
 * ioctl's: it unrefs the handle and waits for the fence) and the ioctl's fence reference
 * dropped. The event is delivered on the DRM fd once the fence signals.
 * Locking: none held; takes the file's object lock, event_lock, goal_irq_mutex, fman->lock.
 * References: a temporary fence reference; the action holds its own until its cleanup.
 */
export async function vmwFenceEventIoctl(
  filePriv: DrmFile,
  tfile: TtmObjectFile,
  arg: DrmVmwFenceEventArg,
  execbuf: VmwFenceEventExecbuf,
): Promise<number> {
  let fence: VmwFenceObj | null = null;
  const userFenceRep = arg.fence_rep;
  let handle = 0;
  let ret: number;
  // Look up an existing fence object, and if user-space wants a new reference, add one.
  if (arg.handle) {
    const base = await vmwFenceObjLookup(tfile, arg.handle);
    if (isErr(base)) return base;
    fence = base.fence;
    await vmwFenceObjReference(fence);
    if (userFenceRep) {
      ret = await ttmRefObjectAdd(tfile, base, null, false);
      if (ret !== 0) {
        // "Failed to reference a fence object."
        await ttmBaseObjectUnref(base);
        const vmwFenceObjUnreferenceDone5 = vmwFenceObjUnreference(fence);
        if (vmwFenceObjUnreferenceDone5 !== RESOLVED) await vmwFenceObjUnreferenceDone5;
        return ret;
      }
      handle = base.handle;
    }
    await ttmBaseObjectUnref(base);
  }
  // Create a new fence object.
  if (!fence) {
    const made = await execbuf.fenceCommands(userFenceRep !== 0);
    if (made.ret !== 0) return made.ret; // "Fence event failed to create fence."
    fence = made.fence;
    handle = made.handle;
  }
  if (fence === null) bug("kernel BUG at vmwgfx_fence.c: BUG_ON(fence == NULL)");
  ret = await vmwEventFenceActionCreate(filePriv, fence, arg.flags, BigInt(arg.user_data), true);
  if (ret !== 0) {
    // "Failed to attach event to fence."
    // out_no_create:
    if (userFenceRep) await ttmRefObjectBaseUnref(tfile, handle);
    // out_no_ref_obj:
    const vmwFenceObjUnreferenceDone6 = vmwFenceObjUnreference(fence);
    if (vmwFenceObjUnreferenceDone6 !== RESOLVED) await vmwFenceObjUnreferenceDone6;
    return ret;
  }
  await execbuf.copyFenceUser(userFenceRep, fence, handle);
  const vmwFenceObjUnreferenceDone7 = vmwFenceObjUnreference(fence);
  if (vmwFenceObjUnreferenceDone7 !== RESOLVED) await vmwFenceObjUnreferenceDone7;
  return 0;
}
