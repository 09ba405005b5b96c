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
 * Simplifications: no fence actions (DRM_VMW_FENCE_EVENT and its vmw_event_fence_action, the
 * goal-seqno interrupt, the cleanup work: no action is ever attached, so vmw_fence_goal_new_locked()
 * and vmw_fences_perform_actions() have nothing to do); vmw_fence_wait(), the driver's ->wait
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
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceSignalLocked,
  dmaFenceTestSignaledFlag,
  dmaFenceWaitTimeout,
} from "@primetime/dma-buf";
import {
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
  SpinLock,
} from "@primetime/kernel";
import { bug, now, point } from "@primetime/sim";
import {
  TTM_DRIVER_TYPE0,
  type TtmBaseObject,
  TtmBaseObject as TtmBaseObjectClass,
  type TtmObjectFile,
  ttmBaseObjectInit,
  ttmBaseObjectLookup,
  ttmBaseObjectUnref,
  ttmRefObjectBaseUnref,
} from "./ttm-object.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import {
  DRM_VMW_WAIT_OPTION_UNREF,
  type DrmVmwFenceArg,
  type DrmVmwFenceSignaledArg,
  type DrmVmwFenceWaitArg,
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

/**
 * Models struct vmw_fence_manager (the parts kept).
 * Locking: `lock` (every fence's dma_fence lock) protects `fenceList` and `fifoDown`.
 * References: the list holds none (a fence unlists itself at its release).
 */
export class VmwFenceManager {
  /** Models fman->lock. */
  readonly lock: SpinLock;
  /** Models fman->fence_list: unsignalled fences, in seqno order. */
  readonly fenceList: VmwFenceObj[] = [];
  /** Models fman->fifo_down: fences cannot be created while true. */
  fifoDown = true;
  /** Models fman->ctx. */
  readonly ctx: number;

  constructor(readonly devPriv: VmwPrivate) {
    this.lock = new SpinLock("vmw_fence_manager.lock");
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
 * (under the manager's lock), then its destructor.
 * Locking: takes fman->lock. References: consumes the fence.
 */
async function vmwFenceObjDestroy(f: DmaFence): Promise<void> {
  const fence = f as VmwFenceObj;
  const fman = fmanFromFence(fence);
  await point(`list_empty(${fence.name}.head)`);
  if (fence.onList) {
    await fman.lock.lock();
    removeFromList(fman, fence);
    await fman.lock.unlock();
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
 * Models vmw_fence_manager_takedown(): BUG_ON() if fences are still listed (no cleanup work is
 * modeled, so there is none to cancel). Called once the device's interrupts are gone, so nothing
 * else can reach the list: the load needs no lock.
 * Locking: none. References: none.
 */
export function vmwFenceManagerTakedown(fman: VmwFenceManager): void {
  if (fman.fenceList.length > 0)
    bug(
      `kernel BUG at vmwgfx_fence.c: vmw_fence_manager_takedown(): BUG_ON(!lists_empty) (${fman.fenceList.length} fences listed)`,
    );
}

/**
 * Models vmw_fence_fifo_down() (at driver unload): marks the fifo down, then, for each fence still
 * listed (the newest first, restarting after each since the lock is dropped), takes a reference,
 * waits for it (uninterruptibly, VMW_FENCE_WAIT_TIMEOUT) and, if that fails, unlists and signals
 * it; BUG_ON() if it is still listed.
 * Locking: takes fman->lock, dropped around each wait. References: a temporary one per fence.
 */
export async function vmwFenceFifoDown(fman: VmwFenceManager): Promise<void> {
  await fman.lock.lock();
  fman.fifoDown = true;
  while (fman.fenceList.length > 0) {
    const fence = fman.fenceList.at(-1)!;
    await dmaFenceGet(fence);
    await fman.lock.unlock();
    const ret = await vmwFenceObjWait(fence, false, false, VMW_FENCE_WAIT_TIMEOUT);
    if (ret !== 0) {
      await fman.lock.lock();
      removeFromList(fman, fence);
      await fman.lock.unlock();
      await dmaFenceSignal(fence);
    }
    if (fence.onList)
      bug("kernel BUG at vmwgfx_fence.c: vmw_fence_fifo_down(): BUG_ON(!list_empty(&fence->head))");
    await dmaFencePut(fence);
    await fman.lock.lock();
  }
  await fman.lock.unlock();
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
  await fman.lock.lock();
  if (fman.fifoDown) {
    ret = -EBUSY;
  } else {
    fman.fenceList.push(fence);
    fence.onList = true;
  }
  await fman.lock.unlock();
  return ret;
}

/**
 * Models __vmw_fences_update(): signals, in list order, every fence whose seqno the device has
 * passed, unlisting it (no actions: see the file comment).
 * Locking: fman->lock held. References: the list holds none; the fences are alive while listed.
 */
async function vmwFencesUpdateLocked(fman: VmwFenceManager): Promise<void> {
  lockdepAssertHeld(fman.lock);
  const seqno = vmwFenceRead(fman.devPriv);
  while (fman.fenceList.length > 0) {
    const fence = fman.fenceList[0]!;
    if (!seqnoPassed(seqno, fence.seqno)) break;
    removeFromList(fman, fence);
    await dmaFenceSignalLocked(fence);
  }
}

/**
 * Models vmw_fences_update(): __vmw_fences_update() under the manager's lock.
 * Locking: takes fman->lock. References: none.
 */
export async function vmwFencesUpdate(fman: VmwFenceManager): Promise<void> {
  await fman.lock.lock();
  await vmwFencesUpdateLocked(fman);
  await fman.lock.unlock();
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
  await kfreeRcu(fence.container!);
}

/**
 * Models vmw_user_fence_base_release(), the base object's refcount_release: drops the base's
 * fence reference.
 * Locking: none. References: drops the base object's fence reference.
 */
export async function vmwUserFenceBaseRelease(base: TtmBaseObject): Promise<void> {
  const ufence = base as VmwUserFence;
  await vmwFenceObjUnreference(ufence.fence);
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
    await vmwFenceObjUnreference(tmp);
    // out_err:
    await vmwFenceObjUnreference(ufence.fence);
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
  await fman.lock.lock();
  arg.passed_seqno = vmw.lastReadSeqno;
  await fman.lock.unlock();
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
