/**
 * Fence containers: dma_fence_array (drivers/dma-buf/dma-fence-array.c), one fence standing for
 * several, and dma_fence_unwrap (drivers/dma-buf/dma-fence-unwrap.c) over it.
 *
 * References: the array owns one reference on each of its fences (handed over by the creator
 * with the array of pointers) and drops them in its ->release. Once signalling is enabled, each
 * child's callback holds one more reference on the array until it ran (the core only keeps the
 * array alive until it signals, which is before the last callbacks complete); the last callback
 * to run signals the array from an irq_work (here a work item on the system workqueue, since the
 * callback runs under the child's fence lock and signalling takes the array's).
 *
 * Version: Linux v6.x (the pending-error handling of 2024); only signal_on_any = false (what
 * dma_resv_get_singleton() and sync_file merges use) is modelled.
 * Simplifications: the irq_work is a work item; dmaFenceUnwrap() does not descend into
 * dma_fence_chain nodes (dma-fence-chain.ts).
 */

import {
  EINVAL,
  isErr,
  KmemCache,
  kmalloc,
  lockdepAssertHeld,
  queueWork,
  SpinLock,
  systemWq,
  WorkStruct,
} from "@primetime/kernel";
import { point, RESOLVED } from "@primetime/sim";
import {
  DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT,
  DmaFence,
  DmaFenceCb,
  type DmaFenceOps,
  dmaFenceAddCallback,
  dmaFenceFree,
  dmaFenceGet,
  dmaFenceInit,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceTestSignaledFlag,
} from "./dma-fence.js";

/** The slab cache of struct dma_fence_array. */
export const dmaFenceArrayCache = new KmemCache("dma_fence_array");

/** Models struct dma_fence_array_cb: a child's callback, pointing back at its array. */
class DmaFenceArrayCb extends DmaFenceCb {
  constructor(readonly array: DmaFenceArray) {
    super("dma_fence_array_cb");
  }
}

/**
 * Models struct dma_fence_array.
 * Locking: `arrayLock` is the array fence's lock; `numPending` is atomic.
 * References: one on each of `fences`; each queued child callback holds one on the array.
 */
export class DmaFenceArray extends DmaFence {
  /** Models array->lock (the fence's lock). */
  readonly arrayLock: SpinLock;
  /** Models array->fences (the array owns a reference on each). */
  fences: DmaFence[] = [];
  /** Models array->num_pending: children still to signal (1 with signal_on_any). */
  numPending = 0;
  /** Models array->pending_error: the first child error, reported once the array signals. */
  pendingError = 0;
  /** Models array->callbacks. */
  callbacks: DmaFenceArrayCb[] = [];
  /** Models array->work: the irq_work that signals the array. */
  readonly work: WorkStruct;

  constructor() {
    super(dmaFenceArrayCache);
    this.arrayLock = new SpinLock("dma_fence_array_lock", { owner: this });
    this.work = new WorkStruct(
      () => irqDmaFenceArrayWork(this),
      `dma_fence_array_work(${this.name})`,
    );
  }
}

/** True for a dma_fence_array (dma_fence_is_array()). */
export function dmaFenceIsArray(fence: DmaFence): fence is DmaFenceArray {
  return fence instanceof DmaFenceArray;
}

/** Models dma_fence_array_set_pending_error(). */
function setPendingError(array: DmaFenceArray, error: number): void {
  // Propagate the first error reported by any of our fences, but only before we ourselves are
  // signaled.
  if (error && array.pendingError === 0) array.pendingError = error;
}

/** Models dma_fence_array_clear_pending_error(): hands the error to the array fence. */
function clearPendingError(array: DmaFenceArray): void {
  if (array.pendingError && array.error === 0) array.error = array.pendingError;
  array.pendingError = 0;
}

/**
 * Models irq_dma_fence_array_work(): signals the array and drops the reference of the last
 * child callback.
 * Locking: takes the array's lock (dma_fence_signal()).
 * References: drops one on the array.
 */
async function irqDmaFenceArrayWork(array: DmaFenceArray): Promise<void> {
  clearPendingError(array);
  await dmaFenceSignal(array);
  const dmaFencePutDone = dmaFencePut(array);
  if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
}

/**
 * Models dma_fence_array_cb_func(): a child signalled; the last one queues the work that signals
 * the array, the others drop their reference on it.
 * Locking: runs under the child's fence lock.
 * References: drops one on the array (or hands it to the work).
 */
async function dmaFenceArrayCbFunc(f: DmaFence, cb: DmaFenceCb): Promise<void> {
  lockdepAssertHeld(f.lock!);
  const array = (cb as DmaFenceArrayCb).array;
  setPendingError(array, f.error);
  await point(`atomic_dec_and_test(${array.name}.num_pending)`);
  if (--array.numPending === 0) await queueWork(systemWq(), array.work);
  else await dmaFencePut(array);
}

/**
 * Models dma_fence_array_enable_signaling(): queues a callback on every child, each holding a
 * reference on the array. A child already signalled counts down at once; false (signalled now)
 * if that was the last one.
 * Locking: the array's lock held (the core calls it under the fence lock); takes each child's.
 * References: one on the array per queued callback.
 */
async function dmaFenceArrayEnableSignaling(fence: DmaFence): Promise<boolean> {
  const array = fence as DmaFenceArray;
  lockdepAssertHeld(array.arrayLock);
  for (let i = 0; i < array.fences.length; i++) {
    const cb = array.callbacks[i]!;
    // As we may report that the fence is signaled before all callbacks are complete, we need
    // to take an additional reference count on the array so that we do not free it too early.
    await dmaFenceGet(array);
    if (await dmaFenceAddCallback(array.fences[i]!, cb, dmaFenceArrayCbFunc)) {
      setPendingError(array, array.fences[i]!.error);
      const dmaFencePutDone2 = dmaFencePut(array);
      if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
      if (--array.numPending === 0) {
        clearPendingError(array);
        return false;
      }
    }
  }
  return true;
}

/**
 * Models dma_fence_array_signaled(): with signalling enabled, whether no child is pending;
 * before, whether every child is signalled (a peek at their SIGNALED bits).
 * Locking: none needed.
 * References: the caller holds the array.
 */
function dmaFenceArraySignaled(fence: DmaFence): boolean {
  const array = fence as DmaFenceArray;
  let numPending = array.numPending;
  if (fence.flags & (1 << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT)) {
    if (numPending > 0) return false;
  } else {
    let signal = false;
    for (const f of array.fences) {
      if (dmaFenceTestSignaledFlag(f) && !--numPending) {
        signal = true;
        break;
      }
    }
    if (!signal) return false;
  }
  clearPendingError(array);
  return true;
}

/**
 * Models dma_fence_array_release(): drops the reference on every child, frees the pointer array
 * and the fence.
 * Locking: none.
 * References: drops one on each child.
 */
async function dmaFenceArrayRelease(fence: DmaFence): Promise<void> {
  const array = fence as DmaFenceArray;
  for (const f of array.fences) await dmaFencePut(f);
  array.fences = [];
  await dmaFenceFree(array);
}

/** Models dma_fence_array_ops. */
export const dmaFenceArrayOps: DmaFenceOps = {
  getDriverName: () => "dma_fence_array",
  getTimelineName: () => "unbound",
  enableSignaling: dmaFenceArrayEnableSignaling,
  signaled: dmaFenceArraySignaled,
  release: dmaFenceArrayRelease,
};

/**
 * Models dma_fence_array_create(num_fences, fences, context, seqno, signal_on_any = false): a
 * fence that signals once all of `fences` have. Takes over the caller's reference on each
 * fence (and the pointer array); returns null on allocation failure (the caller still owns the
 * references then). -EINVAL (a WARN in the kernel) for an empty array.
 * Locking: none.
 * References: the array owns the passed references; the caller owns the one on the array.
 */
export function dmaFenceArrayCreate(
  fences: DmaFence[],
  context: number,
  seqno: number,
): DmaFenceArray | null | number {
  if (fences.length === 0) return -EINVAL; // WARN(!num_fences || !fences)
  const array = kmalloc(dmaFenceArrayCache, () => new DmaFenceArray());
  if (isErr(array)) return null;
  dmaFenceInit(array, dmaFenceArrayOps, array.arrayLock, context, seqno);
  array.fences = fences;
  array.numPending = fences.length;
  array.callbacks = fences.map(() => new DmaFenceArrayCb(array));
  return array;
}

/**
 * Models dma_fence_unwrap_for_each() / dma_fence_unwrap_first()+next() over one level of
 * containers: the fences an array stands for, or the fence itself.
 * Locking: none; the caller holds the container.
 * References: none taken (the container holds its children).
 */
export function dmaFenceUnwrap(fence: DmaFence): readonly DmaFence[] {
  return dmaFenceIsArray(fence) ? fence.fences : [fence];
}
