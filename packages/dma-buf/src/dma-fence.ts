/**
 * struct dma_fence (drivers/dma-buf/dma-fence.c, include/linux/dma-fence.h): the kernel's
 * one-shot completion primitive for DMA work, shared across drivers.
 *
 * A fence is a slab object with a kref (dma_fence_init() starts it at 1, the creator's
 * reference), an execution context and a sequence number inside it, a lock (the timeline's
 * spinlock, shared by all fences of that timeline), flag bits and a list of callbacks. It goes
 * from unsignalled to signalled exactly once: dma_fence_signal() sets the SIGNALED bit and runs
 * the callbacks, in the order they were added, under the fence lock. Adding a callback to a
 * signalled fence is -ENOENT. The last dma_fence_put() calls dma_fence_release(), which warns
 * "Fence ... released with pending signals!" if callbacks are still queued on an unsignalled
 * fence (a reference counting bug: whoever queued them did not keep the fence alive) and
 * force-signals it with error -EDEADLK before freeing it with kfree_rcu(), so that RCU readers
 * (dma_resv's lockless iteration) can still dma_fence_get_rcu() it and fail.
 *
 * Time: timeouts are in nanoseconds of virtual time (the kernel's are jiffies);
 * MAX_SCHEDULE_TIMEOUT waits without a timer, so a wait that can never end is a deadlock report
 * rather than a very long sleep.
 *
 * Signals: an interruptible wait (intr = true) sleeps TASK_INTERRUPTIBLE and returns
 * -ERESTARTSYS when a fatal signal (@primetime/kernel's signalPending()) is pending; an
 * uninterruptible one is not woken by it.
 *
 * Simplifications: no dma_fence_begin/end_signalling() lockdep annotations (dma_fence_map); no fence arrays, chains,
 * deadlines or tracepoints; callbacks may take scheduling points (they model other CPUs running
 * on) but must not sleep, as they run under the fence's spinlock.
 */

import { Kref, pointNow, RESOLVED } from "@primetime/atomics";
import {
  EDEADLK,
  EINVAL,
  ENOENT,
  ERESTARTSYS,
  type Errno,
  isErr,
  KmemCache,
  kasanUnwrap,
  kfreeRcu,
  kmalloc,
  lockdepAssertHeld,
  mightSleep,
  SlabObject,
  type SpinLock,
  scheduleOn,
  scheduleTimeoutOn,
  signalPending,
} from "@primetime/kernel";
import {
  bug,
  fmtLabel,
  now,
  opLabel,
  SimLocal,
  TASK_INTERRUPTIBLE,
  TASK_UNINTERRUPTIBLE,
  WaitQueue,
  warnOn,
} from "@primetime/sim";

/** Models DMA_FENCE_FLAG_SIGNALED_BIT. */
export const DMA_FENCE_FLAG_SIGNALED_BIT = 0;
/** Models DMA_FENCE_FLAG_TIMESTAMP_BIT. */
export const DMA_FENCE_FLAG_TIMESTAMP_BIT = 1;
/** Models DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT. */
export const DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT = 2;
/** Models DMA_FENCE_FLAG_USER_BITS: the first bit implementations may use. */
export const DMA_FENCE_FLAG_USER_BITS = 3;

/**
 * Models MAX_SCHEDULE_TIMEOUT: wait without a timeout. A wait with it sleeps without a timer, so
 * a fence nobody will signal shows up as a deadlock, not as a timeout at the end of time.
 */
export const MAX_SCHEDULE_TIMEOUT = Number.MAX_SAFE_INTEGER;

/** Models MAX_ERRNO: dma_fence_set_error() accepts -MAX_ERRNO..-1. */
const MAX_ERRNO = 4095;

/**
 * Models struct dma_fence_ops. The names are mandatory; the rest is optional.
 * `enableSignaling` and `signaled` are called under the fence lock (or from
 * dma_fence_is_signaled()) and must not sleep.
 */
export interface DmaFenceOps {
  /** Models ->get_driver_name (mandatory). */
  getDriverName(fence: DmaFence): string;
  /** Models ->get_timeline_name (mandatory). */
  getTimelineName(fence: DmaFence): string;
  /**
   * Models ->enable_signaling: called once, under the fence lock, by the first waiter or
   * callback. False means the fence has already passed: it is signalled at once.
   */
  enableSignaling?(fence: DmaFence): boolean | Promise<boolean>;
  /** Models ->signaled: peeks at the hardware; true makes dma_fence_is_signaled() signal it. */
  signaled?(fence: DmaFence): boolean;
  /** Models ->wait: a custom wait (default dmaFenceDefaultWait()). */
  wait?(fence: DmaFence, intr: boolean, timeout: number): Promise<number>;
  /**
   * Models ->release: frees the fence (and what the implementation embeds it in); must end
   * with dmaFenceFree() or its own kfree_rcu(). Default: dmaFenceFree().
   */
  release?(fence: DmaFence): Promise<void> | void;
}

/**
 * Models dma_fence_func_t: a callback run when the fence signals, under the fence lock (it may
 * take scheduling points, must not sleep).
 */
export type DmaFenceFunc = (fence: DmaFence, cb: DmaFenceCb) => Promise<void> | void;

/**
 * Models struct dma_fence_cb: the node a caller embeds to be called back. Initialised by
 * dmaFenceAddCallback(); `fence` is non-null exactly while it is queued (the kernel's
 * non-empty `cb->node`).
 */
export class DmaFenceCb {
  /** Models cb->func. */
  func: DmaFenceFunc | null = null;
  /** The fence whose list holds the callback (list_empty(&cb->node) is `fence === null`). */
  fence: DmaFence | null = null;

  /** @param label names the callback in labels ("dma_buf_poll_cb") */
  constructor(readonly label = "dma_fence_cb") {}
}

/** The slab cache of plain fences (drivers embed theirs in bigger objects). */
export const dmaFenceCache = new KmemCache("dma_fence");

/**
 * Models struct dma_fence. Allocate it (or a subclass) with kmalloc() and initialise it with
 * dmaFenceInit() before publishing it.
 *
 * Locking: `flags` is manipulated with atomic bit operations (each a scheduling point);
 * `cbList`, `error` and `timestamp` are protected by `lock`.
 * References: `refcount` counts them; the creator holds the first. A caller of
 * dmaFenceAddCallback() or dmaFenceWaitTimeout() must hold one (or otherwise know the fence
 * is alive).
 */
export class DmaFence extends SlabObject {
  /** Models fence->refcount. */
  readonly refcount: Kref;
  /** Models fence->ops (set by dmaFenceInit()). */
  ops: DmaFenceOps = NO_OPS;
  /** Models fence->lock: the timeline's spinlock (set by dmaFenceInit()). */
  lock: SpinLock | null = null;
  /** Models fence->context (dma_fence_context_alloc()). */
  context = 0;
  /** Models fence->seqno: ordered within the context. */
  seqno = 0;
  /** Models fence->flags: DMA_FENCE_FLAG_* bits. */
  flags = 0;
  /** Models fence->timestamp: virtual time of the signal (ns). */
  timestamp = 0;
  /** Models fence->error: 0, or a negative errno set before the signal. */
  error = 0;
  /** Models fence->cb_list, in the order callbacks run. */
  readonly cbList: DmaFenceCb[] = [];
  /** @internal The label of test_bit(SIGNALED) points on this fence, built on first use. */
  labelTestSignaled = "";

  constructor(cache?: KmemCache | string) {
    super(cache);
    this.refcount = new Kref(this);
  }
}

const NO_OPS: DmaFenceOps = {
  getDriverName: () => "",
  getTimelineName: () => "",
};

/**
 * `test_bit(SIGNALED, fence#3)`: the label of the most frequent point on a fence, kept on the
 * fence after its first use (a property load instead of fmtLabel()'s three Map lookups). On the
 * raw object: a full-KASAN proxy of a freed fence must not report the simulator's own field.
 */
function testSignaledLabel(fence: DmaFence): string {
  const raw = kasanUnwrap(fence);
  if (raw.labelTestSignaled === "")
    raw.labelTestSignaled = fmtLabel("test_bit(SIGNALED, ", raw.name, ")");
  return raw.labelTestSignaled;
}

function testBit(fence: DmaFence, bit: number): boolean {
  return (fence.flags & (1 << bit)) !== 0;
}

function testAndSetBit(fence: DmaFence, bit: number): boolean {
  const was = testBit(fence, bit);
  fence.flags |= 1 << bit;
  return was;
}

/**
 * True if the SIGNALED bit is set (a peek for assertions; no scheduling point).
 * Locking: none.
 * References: the caller holds one.
 */
export function dmaFenceTestSignaledFlag(fence: DmaFence): boolean {
  return testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT);
}

function fenceLock(fence: DmaFence): SpinLock {
  const lock = fence.lock;
  if (lock === null) bug(`dma_fence ${fence.name} used before dma_fence_init()`);
  return lock;
}

/** The context counter, per simulation (dma_fence_context_counter starts at 1: 0 is the stub's). */
const contextCounter = new SimLocal<{ next: number }>(() => ({ next: 1 }));

/**
 * Models dma_fence_context_alloc(num): `num` consecutive new fence contexts; returns the first.
 * Zero is a WARN (and returns the next context without reserving it).
 * Locking: none (an atomic64_fetch_add(); contexts are identifiers, not shared state, so no
 * scheduling point).
 * References: none.
 */
export function dmaFenceContextAlloc(num: number): number {
  warnOn(num === 0, "dma_fence_context_alloc(0)");
  const c = contextCounter.get();
  const first = c.next;
  c.next += num;
  return first;
}

/**
 * Models dma_fence_init(fence, ops, lock, context, seqno): the fence starts unsignalled with one
 * reference (the caller's) and no callbacks. A missing lock or name op is a BUG.
 * Locking: none; the fence is not published yet.
 * References: creates the first one, owned by the caller.
 */
export function dmaFenceInit(
  fence: DmaFence,
  ops: DmaFenceOps,
  lock: SpinLock,
  context: number,
  seqno: number,
): void {
  if (!lock) bug("dma_fence_init: BUG_ON(!lock)");
  if (!ops?.getDriverName || !ops.getTimelineName)
    bug("dma_fence_init: BUG_ON(!ops || !ops->get_driver_name || !ops->get_timeline_name)");
  fence.refcount.init();
  fence.ops = ops;
  if (fence.cbList.length !== 0) fence.cbList.length = 0; // setting length calls into V8's runtime
  fence.lock = lock;
  fence.context = context;
  fence.seqno = seqno;
  fence.flags = 0;
  fence.error = 0;
}

/**
 * kzalloc() + dma_fence_init() of a plain DmaFence from `dmaFenceCache`, what a simple driver
 * does. Returns the fence or -ENOMEM (failslab).
 * Locking: none.
 * References: the caller owns the one reference.
 */
export function dmaFenceCreate(
  ops: DmaFenceOps,
  lock: SpinLock,
  context: number,
  seqno: number,
): DmaFence | Errno {
  const fence = kmalloc(dmaFenceCache, () => new DmaFence());
  if (isErr(fence)) return fence;
  dmaFenceInit(fence, ops, lock, context, seqno);
  return fence;
}

/**
 * Models dma_fence_get(): takes a reference; null passes through.
 * Locking: none; the caller must already hold a reference (or the memory must be otherwise
 * valid and the count known non-zero).
 * References: takes one.
 */
export function dmaFenceGet<F extends DmaFence | null>(fence: F): Promise<F> {
  if (!fence) return Promise.resolve(fence);
  const got = fence.refcount.get();
  return got === RESOLVED ? Promise.resolve(fence) : got.then(() => fence);
}

/**
 * @internal dmaFenceGet() for callers that do not need the fence back: the kref's own promise,
 * the shared settled RESOLVED when the task went on at its point (no promise made per call).
 * Locking: none.
 * References: takes one.
 */
export function dmaFenceGetSettled(fence: DmaFence): Promise<void> {
  return fence.refcount.get();
}

/**
 * Models dma_fence_get_rcu(): kref_get_unless_zero(): the fence, with a reference, or null if
 * it is already being released.
 * Locking: rcu_read_lock() (fences are freed with kfree_rcu(), so the memory stays valid).
 * References: takes one on success.
 */
export function dmaFenceGetRcu(fence: DmaFence): Promise<DmaFence | null> {
  return fence.refcount.getUnlessZero().then((got) => (got ? fence : null));
}

/**
 * Models dma_fence_put(): drops a reference; the last one calls dmaFenceRelease(). null is a
 * no-op.
 * Locking: none; may be called under spinlocks (the release does not sleep).
 * References: drops one.
 */
export function dmaFencePut(fence: DmaFence | null): Promise<void> {
  return fence ? fence.refcount.putVoid(dmaFenceRelease) : RESOLVED;
}

/**
 * Models dma_fence_release(): the kref release. An unsignalled fence with callbacks still queued
 * is the WARN "Fence <driver>:<timeline>:<context>:<seqno> released with pending signals!":
 * whoever queued them relied on a reference it did not hold. As the kernel does, the fence is
 * then force-signalled with error -EDEADLK so the callbacks run (chains are not left dangling);
 * then ops->release, or dmaFenceFree().
 * Locking: takes the fence lock on the warning path.
 * References: consumes the fence.
 */
export async function dmaFenceRelease(kref: Kref): Promise<void> {
  const fence = kref.owner as DmaFence;
  const atPoint = pointNow(opLabel("dma_fence_release", fence.name));
  if (atPoint !== null) await atPoint;
  // The WARN's text is built only when it fires (a release of every fence runs this test).
  if (
    fence.cbList.length > 0 &&
    !testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT) &&
    warnOn(
      true,
      `Fence ${fence.ops.getDriverName(fence)}:${fence.ops.getTimelineName(fence)}:${fence.context.toString(16)}:${fence.seqno.toString(16)} released with pending signals!`,
      { object: fence.name },
    )
  ) {
    const lock = fenceLock(fence);
    const lockTaken = lock.lock();
    if (lockTaken !== RESOLVED) await lockTaken;
    fence.error = -EDEADLK;
    await dmaFenceSignalLocked(fence);
    lock.unlockNow();
  }
  if (fence.ops.release) await fence.ops.release(fence);
  else await dmaFenceFree(fence);
}

/**
 * Models dma_fence_free(): kfree_rcu() of the fence, the default ->release.
 * Locking: none.
 * References: consumes the fence.
 */
export async function dmaFenceFree(fence: DmaFence): Promise<void> {
  const kfreeRcuDone = kfreeRcu(fence);
  if (kfreeRcuDone !== RESOLVED) await kfreeRcuDone;
}

/**
 * Models dma_fence_signal_locked(): sets the SIGNALED bit (-EINVAL if it was already set), stamps
 * the time, and runs the callbacks in the order they were added, each unlinked before it runs.
 * Locking: the fence lock must be held (lockdep_assert_held()).
 * References: the caller holds one (a callback may drop others).
 */
export async function dmaFenceSignalLocked(fence: DmaFence): Promise<number> {
  lockdepAssertHeld(fenceLock(fence));
  const atPoint = pointNow(fmtLabel("test_and_set_bit(SIGNALED, ", fence.name, ")"));
  if (atPoint !== null) await atPoint;
  fence.checkAccess("dma_fence_signal_locked");
  if (testAndSetBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) return -EINVAL;
  // Stash the cb_list before replacing it with the timestamp.
  const cbs = fence.cbList.splice(0);
  fence.timestamp = now();
  testAndSetBit(fence, DMA_FENCE_FLAG_TIMESTAMP_BIT);
  for (const cb of cbs) {
    cb.fence = null;
    await cb.func?.(fence, cb);
  }
  return 0;
}

/**
 * Models dma_fence_signal(): dmaFenceSignalLocked() under the fence lock. Returns 0, or -EINVAL
 * if the fence was already signalled (signalling happens once), or -EINVAL (a WARN) without a
 * fence.
 * Locking: takes the fence lock; callable from any context that may spin.
 * References: the caller must hold one.
 */
export async function dmaFenceSignal(fence: DmaFence | null): Promise<number> {
  if (warnOn(!fence, "dma_fence_signal: WARN_ON(!fence)") || !fence) return -EINVAL;
  const lock = fenceLock(fence);
  const lockTaken2 = lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  const ret = await dmaFenceSignalLocked(fence);
  lock.unlockNow();
  return ret;
}

/**
 * Models dma_fence_is_signaled_locked(): the SIGNALED bit, or ->signaled() (which then signals
 * the fence).
 * Locking: the fence lock must be held.
 * References: the caller holds one.
 */
export async function dmaFenceIsSignaledLocked(fence: DmaFence): Promise<boolean> {
  const atPoint = pointNow(testSignaledLabel(fence));
  if (atPoint !== null) await atPoint;
  fence.checkAccess("dma_fence_is_signaled_locked");
  lockdepAssertHeld(fenceLock(fence));
  if (testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) return true;
  if (fence.ops.signaled?.(fence)) {
    await dmaFenceSignalLocked(fence);
    return true;
  }
  return false;
}

/**
 * Models dma_fence_is_signaled(): the SIGNALED bit, or ->signaled() (which then signals the
 * fence with dmaFenceSignal()).
 * Locking: none (takes the fence lock if it signals).
 * References: the caller holds one, or is in an RCU read-side section.
 */
export function dmaFenceIsSignaled(fence: DmaFence): Promise<boolean> {
  // Settled at once when the running task goes on and nothing signals (pointNow()).
  const p = pointNow(testSignaledLabel(fence));
  if (p !== null) return p.then(() => isSignaledNow(fence));
  try {
    return isSignaledNow(fence);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** dma_fence_is_signaled() after its point. */
function isSignaledNow(fence: DmaFence): Promise<boolean> {
  fence.checkAccess("dma_fence_is_signaled");
  if (testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) return RESOLVED_TRUE;
  if (fence.ops.signaled?.(fence)) return dmaFenceSignal(fence).then(() => true);
  return RESOLVED_FALSE;
}

const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);
const RESOLVED_FALSE: Promise<boolean> = Promise.resolve(false);

/**
 * @internal What a dmaFenceIsSignaled() promise settled with when it came back settled (the
 * fast path: the task went on at its point and nothing signalled), else null: hot walks then go
 * on synchronously, `const s = settledSignaled(p); (s ?? (await p))` being `await p`.
 */
export function settledSignaled(p: Promise<boolean>): boolean | null {
  return p === RESOLVED_TRUE ? true : p === RESOLVED_FALSE ? false : null;
}

/**
 * Models __dma_fence_is_later() for 32-bit seqnos: f1 is later than f2, with wrap-around.
 * Locking: none.
 * References: none.
 */
function seqnoIsLater(f1: number, f2: number): boolean {
  return ((f1 - f2) | 0) > 0;
}

/**
 * Models dma_fence_is_later(f1, f2): f1 comes after f2 on their (common) context. Fences of
 * different contexts are not ordered: a WARN, and false.
 * Locking: none.
 * References: the caller holds both.
 */
export function dmaFenceIsLater(f1: DmaFence, f2: DmaFence): boolean {
  if (
    f1.context !== f2.context &&
    warnOn(true, `dma_fence_is_later(${f1.name}, ${f2.name}): contexts differ`)
  )
    return false;
  return seqnoIsLater(f1.seqno, f2.seqno);
}

/**
 * Models dma_fence_is_later_or_same(f1, f2): f1 is f2, or comes after it on their context
 * (added with "dma-buf: fix check in dma_resv_add_fence", 95ba893c9f4f, v6.7).
 * Locking: none.
 * References: the caller holds both.
 */
export function dmaFenceIsLaterOrSame(f1: DmaFence, f2: DmaFence): boolean {
  return f1 === f2 || dmaFenceIsLater(f1, f2);
}

/**
 * Models __dma_fence_enable_signaling(): sets ENABLE_SIGNAL; the first time, calls
 * ->enable_signaling(), and signals the fence if it reports it has already passed. Returns false
 * if the fence is (now) signalled.
 * Locking: the fence lock must be held.
 * References: the caller holds one.
 */
async function dmaFenceEnableSignalingLocked(fence: DmaFence): Promise<boolean> {
  lockdepAssertHeld(fenceLock(fence));
  const atPoint = pointNow(fmtLabel("test_and_set_bit(ENABLE_SIGNAL, ", fence.name, ")"));
  if (atPoint !== null) await atPoint;
  const wasSet = testAndSetBit(fence, DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT);
  if (testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) return false;
  if (!wasSet && fence.ops.enableSignaling && !(await fence.ops.enableSignaling(fence))) {
    await dmaFenceSignalLocked(fence);
    return false;
  }
  return true;
}

/**
 * Models dma_fence_enable_sw_signaling(): asks the implementation to signal the fence as soon as
 * it completes (calls ->enable_signaling() once). Since 6ad9aa476ce2 ("dma-buf: Remove the
 * signaled bit status check", v6.1) there is no early return for a signalled fence: the lock is
 * taken and __dma_fence_enable_signaling() sets ENABLE_SIGNAL in any case.
 * Locking: takes the fence lock.
 * References: the caller holds one.
 */
export async function dmaFenceEnableSwSignaling(fence: DmaFence): Promise<void> {
  const lock = fenceLock(fence);
  const lockTaken3 = lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  fence.checkAccess("dma_fence_enable_sw_signaling");
  await dmaFenceEnableSignalingLocked(fence);
  lock.unlockNow();
}

/**
 * Models dma_fence_add_callback(fence, cb, func): queues `func` to run when the fence signals,
 * after the callbacks already queued. Returns 0, or -ENOENT if the fence is already signalled
 * (the callback is then not queued and will never run), or -EINVAL (a WARN) without a fence or
 * a function.
 * Locking: takes the fence lock.
 * References: the caller must hold a reference during the call. The kernel documents that it
 * need not keep it afterwards because the creator keeps the fence alive until it signals; in
 * practice (dma_buf_poll since "dma-buf: fix and rework dma_buf_poll v7") a caller that queues
 * a callback on a fence it does not own keeps a reference until the callback ran or was
 * removed. See dma-buf-poll.ts and the `dma-buf.fence-cb-without-ref` toggle.
 */
export async function dmaFenceAddCallback(
  fence: DmaFence | null,
  cb: DmaFenceCb,
  func: DmaFenceFunc | null,
): Promise<number> {
  if (warnOn(!fence || !func, "dma_fence_add_callback: WARN_ON(!fence || !func)")) return -EINVAL;
  const f = fence as DmaFence;
  const atPoint = pointNow(testSignaledLabel(f));
  if (atPoint !== null) await atPoint;
  f.checkAccess("dma_fence_add_callback");
  if (testBit(f, DMA_FENCE_FLAG_SIGNALED_BIT)) {
    cb.fence = null;
    return -ENOENT;
  }
  const lock = fenceLock(f);
  const lockTaken4 = lock.lock();
  if (lockTaken4 !== RESOLVED) await lockTaken4;
  let ret = 0;
  if (await dmaFenceEnableSignalingLocked(f)) {
    cb.func = func;
    cb.fence = f;
    f.cbList.push(cb);
  } else {
    cb.fence = null;
    ret = -ENOENT;
  }
  lock.unlockNow();
  return ret;
}

/**
 * Models dma_fence_remove_callback(): unqueues `cb` if it is still queued on `fence`. True if it
 * was removed, false if it already ran (or was never queued).
 * Locking: takes the fence lock.
 * References: the caller must hold a reference: on a fence freed meanwhile, the lock is a KASAN
 * use-after-free.
 */
export async function dmaFenceRemoveCallback(fence: DmaFence, cb: DmaFenceCb): Promise<boolean> {
  const atPoint = pointNow(opLabel("dma_fence_remove_callback", fence.name));
  if (atPoint !== null) await atPoint;
  fence.checkAccess("dma_fence_remove_callback");
  const lock = fenceLock(fence);
  const lockTaken5 = lock.lock();
  if (lockTaken5 !== RESOLVED) await lockTaken5;
  const ret = cb.fence === fence;
  if (ret) {
    const i = fence.cbList.indexOf(cb);
    if (i >= 0) fence.cbList.splice(i, 1);
    cb.fence = null;
  }
  lock.unlockNow();
  return ret;
}

/**
 * Models dma_fence_get_status_locked(): 0 while unsignalled, 1 when signalled without error,
 * the (negative) error otherwise.
 * Locking: the fence lock must be held.
 * References: the caller holds one.
 */
export async function dmaFenceGetStatusLocked(fence: DmaFence): Promise<number> {
  if (await dmaFenceIsSignaledLocked(fence)) return fence.error || 1;
  return 0;
}

/**
 * Models dma_fence_get_status(): dmaFenceGetStatusLocked() under the fence lock.
 * Locking: takes the fence lock.
 * References: the caller holds one.
 */
export async function dmaFenceGetStatus(fence: DmaFence): Promise<number> {
  const lock = fenceLock(fence);
  const lockTaken6 = lock.lock();
  if (lockTaken6 !== RESOLVED) await lockTaken6;
  const status = await dmaFenceGetStatusLocked(fence);
  lock.unlockNow();
  return status;
}

/**
 * Models dma_fence_set_error(): records why the fence completes, before it signals. A WARN if
 * it already signalled or if `error` is not a negative errno.
 * Locking: the caller serialises with the signal (usually by being the signaller).
 * References: the caller holds one.
 */
export function dmaFenceSetError(fence: DmaFence, error: number): void {
  warnOn(
    testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT),
    `dma_fence_set_error(${fence.name}) after signal`,
  );
  warnOn(error >= 0 || error < -MAX_ERRNO, `dma_fence_set_error(${fence.name}, ${error})`);
  fence.error = error;
}

/**
 * Models dma_fence_wait_timeout(fence, intr, timeout): enables signalling
 * (dma_fence_enable_sw_signaling(), for every wait since b96fb1e724ae "dma-buf: dma_fence_wait
 * must enable signaling", v6.1, also before a driver's ->wait), then sleeps until the fence
 * signals or `timeout` ns of virtual time pass. Returns the remaining time (> 0; 1 for a zero
 * timeout on a signalled fence), 0 on timeout, -ERESTARTSYS (intr, a signal pending), -EINVAL
 * (a WARN) for a negative timeout.
 * Locking: may sleep (might_sleep()); no spinlock may be held; takes the fence lock.
 * References: the caller must hold one for the whole wait.
 */
export async function dmaFenceWaitTimeout(
  fence: DmaFence,
  intr: boolean,
  timeout: number,
): Promise<number> {
  if (timeout < 0 && warnOn(true, `dma_fence_wait_timeout(${fence.name}, ${timeout})`))
    return -EINVAL;
  // The same text as a template literal, one string per fence name for the process.
  mightSleep(opLabel("dma_fence_wait_timeout", fence.name));
  fence.checkAccess("dma_fence_wait_timeout");
  await dmaFenceEnableSwSignaling(fence);
  if (fence.ops.wait) return fence.ops.wait(fence, intr, timeout);
  return dmaFenceDefaultWait(fence, intr, timeout);
}

/**
 * Models dma_fence_wait(): waits without a timeout. Returns 0 once signalled, or -ERESTARTSYS
 * (intr, interrupted), or the negative error of a custom wait ("ret < 0 ? ret : 0").
 * Locking: may sleep.
 * References: the caller must hold one.
 */
export async function dmaFenceWait(fence: DmaFence, intr: boolean): Promise<number> {
  const ret = await dmaFenceWaitTimeout(fence, intr, MAX_SCHEDULE_TIMEOUT);
  return Math.min(ret, 0);
}

/**
 * Models dma_fence_default_wait(): under the fence lock, returns at once if the fence signalled
 * (or 0 for a zero timeout), else queues an on-stack callback that wakes the waiter (at the head
 * of the list, as list_add() does), then sleeps until the fence signals or the time is up,
 * dropping the fence lock while asleep. It does not enable signalling: dma_fence_wait_timeout()
 * did (b96fb1e724ae, v6.1), and the SIGNALED test is made under the lock, not before it
 * (3cc3dd73c420 "dma-buf: fix dma_fence_default_wait() signaling check", v6.1).
 *
 * The kernel sets the task state before it drops the lock, so a signal that lands between the
 * unlock and schedule() does not get lost. Here the SIGNALED test and going to sleep happen with
 * no scheduling point in between, which is the same guarantee.
 *
 * With `intr`: -ERESTARTSYS if a signal is pending before the callback is queued ("if (intr &&
 * signal_pending(current)) { ret = -ERESTARTSYS; goto out; }", after the SIGNALED test and
 * before the zero-timeout one), and the sleep is TASK_INTERRUPTIBLE: a kill wakes it, and back
 * under the lock "if (ret > 0 && intr && signal_pending(current)) ret = -ERESTARTSYS;" ends the
 * loop; the callback is unlinked and the lock dropped on that path as on the others. Without
 * `intr` the sleep is TASK_UNINTERRUPTIBLE.
 * Locking: takes the fence lock; sleeps without it.
 * References: the caller holds one.
 */
export async function dmaFenceDefaultWait(
  fence: DmaFence,
  intr: boolean,
  timeout: number,
): Promise<number> {
  let ret = timeout ? timeout : 1;
  const lock = fenceLock(fence);
  const lockTaken7 = lock.lock();
  if (lockTaken7 !== RESOLVED) await lockTaken7;
  const atPoint = pointNow(testSignaledLabel(fence));
  if (atPoint !== null) await atPoint;
  if (testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) {
    lock.unlockNow();
    return ret;
  }
  if (intr && signalPending()) {
    lock.unlockNow();
    return -ERESTARTSYS;
  }
  if (!timeout) {
    lock.unlockNow();
    return 0;
  }
  const wq = new WaitQueue(`dma_fence ${fence.name}`);
  const cb = new DmaFenceCb("dma_fence_default_wait_cb");
  // Made, then stored: V8 allocates a function literal assigned straight to a property in the
  // old generation (it takes it for a method), and from there the closure would keep this call's
  // context (the wait queue, its task and the run behind it) alive through every young collection
  // until a full one.
  const wake = () => {
    wq.wakeAll(); // wake_up_state(wait->task, TASK_NORMAL)
  };
  cb.func = wake;
  cb.fence = fence;
  fence.cbList.unshift(cb);
  const state = intr ? TASK_INTERRUPTIBLE : TASK_UNINTERRUPTIBLE;
  while (!testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT) && ret > 0) {
    lock.unlockNow();
    ret = await scheduleTimeout(fence, wq, ret, state);
    const lockTaken8 = lock.lock();
    if (lockTaken8 !== RESOLVED) await lockTaken8;
    if (ret > 0 && intr && signalPending()) ret = -ERESTARTSYS;
  }
  if (cb.fence !== null) {
    const i = fence.cbList.indexOf(cb);
    if (i >= 0) fence.cbList.splice(i, 1);
    cb.fence = null;
  }
  lock.unlockNow();
  return ret;
}

/**
 * Models schedule_timeout() after __set_current_state(state): returns at once if the fence
 * signalled since the lock was dropped (its callback set the task running) or, in
 * TASK_INTERRUPTIBLE, if a signal is pending (__schedule() does not sleep then); else sleeps on
 * `wq` in `state` and returns the time left (0: timed out; a kill's wakeup leaves time left).
 * Locking: the fence lock dropped.
 * References: the caller holds one.
 */
async function scheduleTimeout(
  fence: DmaFence,
  wq: WaitQueue,
  timeout: number,
  state: number,
): Promise<number> {
  if (testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) return timeout;
  const label = `dma_fence_wait(${fence.name})`;
  if (timeout >= MAX_SCHEDULE_TIMEOUT) {
    await scheduleOn(wq, state, label);
    return timeout;
  }
  const start = now();
  if (!(await scheduleTimeoutOn(wq, timeout, state, label))) return 0;
  return Math.max(0, timeout - (now() - start));
}
