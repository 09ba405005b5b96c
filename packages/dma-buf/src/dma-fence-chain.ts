/**
 * Fence chains (drivers/dma-buf/dma-fence-chain.c, include/linux/dma-fence-chain.h, Linux
 * v6.18): a timeline of points, each node standing for its own fence and every earlier one
 * (what timeline syncobjs hold).
 *
 * References: a node owns one reference on its `fence` and one on `prev` (the node before it,
 * or whatever fence started the chain); dma_fence_chain_walk() replaces signalled predecessors
 * by their own `prev` with cmpxchg() (garbage collection), readers take `prev` with
 * dma_fence_get_rcu_safe() under RCU. Once signalling is enabled, the node's callback holds a
 * reference on the node (taken by enable_signaling, handed to the irq_work, dropped there). The
 * release unlinks predecessors it holds the last reference on one by one, so that freeing a
 * long chain does not recurse.
 *
 * Simplifications: the irq_work is a work item on the system workqueue (as for
 * dma_fence_array); ->signaled, which this model calls without scheduling points, looks at the
 * SIGNALED bits (and the ->signaled op) of the nodes and fences along `prev` without taking
 * references (the caller holds the head, which holds the rest); no ->set_deadline.
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
import { rcuReadLock, rcuReadUnlock } from "@primetime/rcu";
import { point, RESOLVED } from "@primetime/sim";
import {
  DmaFence,
  DmaFenceCb,
  type DmaFenceOps,
  dmaFenceAddCallback,
  dmaFenceContextAlloc,
  dmaFenceFree,
  dmaFenceGet,
  dmaFenceGetRcu,
  dmaFenceInit,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceTestSignaledFlag,
} from "./dma-fence.js";

/** The slab cache of struct dma_fence_chain (dma_fence_chain_alloc()). */
export const dmaFenceChainCache = new KmemCache("dma_fence_chain");

/** The node's callback (its `cb` member), pointing back at the node (container_of()). */
class DmaFenceChainCb extends DmaFenceCb {
  constructor(readonly chain: DmaFenceChain) {
    super("dma_fence_chain_cb");
  }
}

/**
 * Models struct dma_fence_chain.
 * Locking: `chainLock` is the node's fence lock; `prev` is RCU-protected and replaced with
 * cmpxchg().
 * References: one on `prev`, one on `fence`; the queued callback holds one on the node.
 */
export class DmaFenceChain extends DmaFence {
  /** Models prev (__rcu): the previous node (or first fence), holding a reference, or null. */
  prev: DmaFence | null = null;
  /** Models prev_seqno: the seqno of `prev` when it was a node of the same context, else 0. */
  prevSeqno = 0;
  /** Models fence: the fence this point stands for, holding a reference. */
  fence: DmaFence | null = null;
  /** Models cb: the callback enable_signaling queues on the first unsignalled fence. */
  readonly cb: DmaFenceChainCb;
  /** Models work: the irq_work that re-arms the callback or signals the node. */
  readonly work: WorkStruct;
  /** Models lock. */
  readonly chainLock: SpinLock;

  constructor() {
    super(dmaFenceChainCache);
    this.chainLock = new SpinLock("dma_fence_chain_lock", { owner: this });
    this.cb = new DmaFenceChainCb(this);
    this.work = new WorkStruct(() => dmaFenceChainIrqWork(this), `dma_fence_chain_irq_work`);
  }
}

/**
 * Models to_dma_fence_chain(): the node, or null for a fence that is not one.
 * Locking: none.
 * References: none.
 */
export function toDmaFenceChain(fence: DmaFence | null): DmaFenceChain | null {
  return fence instanceof DmaFenceChain ? fence : null;
}

/**
 * Models dma_fence_chain_contained(): the node's fence, or the fence itself.
 * Locking: none.
 * References: none taken.
 */
export function dmaFenceChainContained(fence: DmaFence): DmaFence {
  const chain = toDmaFenceChain(fence);
  return chain ? chain.fence! : fence;
}

/**
 * Models dma_fence_chain_get_prev(): `prev` with a reference (dma_fence_get_rcu_safe(): retried
 * if it changed or died while being taken), or null.
 * Locking: takes rcu_read_lock().
 * References: returns one.
 */
async function dmaFenceChainGetPrev(chain: DmaFenceChain): Promise<DmaFence | null> {
  const rcuReadLockDone = rcuReadLock();
  if (rcuReadLockDone !== RESOLVED) await rcuReadLockDone;
  let prev: DmaFence | null;
  for (;;) {
    await point(`rcu_dereference(${chain.name}.prev)`);
    prev = chain.prev;
    if (!prev) break;
    if (!(await dmaFenceGetRcu(prev))) continue;
    await point(`rcu_access_pointer(${chain.name}.prev)`);
    if (prev === chain.prev) break;
    const dmaFencePutDone = dmaFencePut(prev);
    if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  }
  const rcuReadUnlockDone = rcuReadUnlock();
  if (rcuReadUnlockDone !== RESOLVED) await rcuReadUnlockDone;
  return prev;
}

/**
 * Models dma_fence_chain_walk(): from node `fence` (whose reference it consumes) to the next
 * one along `prev`, with a reference, or null at the end; signalled predecessors are unlinked on
 * the way (cmpxchg() of `prev` with their own predecessor).
 * Locking: RCU to read `prev`.
 * References: consumes the one on `fence`, returns one on the next.
 */
export async function dmaFenceChainWalk(fence: DmaFence): Promise<DmaFence | null> {
  const chain = toDmaFenceChain(fence);
  if (!chain) {
    const dmaFencePutDone2 = dmaFencePut(fence);
    if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
    return null;
  }
  let prev: DmaFence | null = await dmaFenceChainGetPrev(chain);
  for (; prev; prev = await dmaFenceChainGetPrev(chain)) {
    const prevChain = toDmaFenceChain(prev);
    let replacement: DmaFence | null;
    if (prevChain) {
      if (!(await dmaFenceIsSignaled(prevChain.fence!))) break;
      replacement = await dmaFenceChainGetPrev(prevChain);
    } else {
      if (!(await dmaFenceIsSignaled(prev))) break;
      replacement = null;
    }
    await point(`cmpxchg(${chain.name}.prev)`);
    const tmp = chain.prev;
    if (tmp === prev) chain.prev = replacement;
    if (tmp === prev) await dmaFencePut(tmp);
    else await dmaFencePut(replacement);
    const dmaFencePutDone3 = dmaFencePut(prev);
    if (dmaFencePutDone3 !== RESOLVED) await dmaFencePutDone3;
  }
  const dmaFencePutDone4 = dmaFencePut(fence);
  if (dmaFencePutDone4 !== RESOLVED) await dmaFencePutDone4;
  return prev;
}

/**
 * Models dma_fence_chain_for_each(iter, head): calls `body` with each node from `head` on, each
 * held by a reference during the call; `body` returning false stops the walk (the kernel's
 * `break` followed by dma_fence_put(iter)).
 * Locking: see dmaFenceChainWalk().
 * References: balanced.
 */
export async function dmaFenceChainForEach(
  head: DmaFence | null,
  body: (iter: DmaFence) => Promise<boolean> | boolean,
): Promise<void> {
  let iter = await dmaFenceGet(head);
  while (iter) {
    const go = await body(iter);
    if (!go) {
      const dmaFencePutDone5 = dmaFencePut(iter);
      if (dmaFencePutDone5 !== RESOLVED) await dmaFencePutDone5;
      return;
    }
    iter = await dmaFenceChainWalk(iter);
  }
}

/**
 * Models dma_fence_chain_find_seqno(): moves `pfence.fence` (a reference the caller owns) to
 * the node that signals `seqno`: the earliest node of the chain's context whose predecessor's
 * seqno is below it; null if that point has already signalled and been collected. 0 is a no-op.
 * -EINVAL if the fence is not a node, or the chain has not reached `seqno`.
 * Locking: see dmaFenceChainWalk().
 * References: the caller's reference moves to the result.
 */
export async function dmaFenceChainFindSeqno(
  pfence: { fence: DmaFence | null },
  seqno: number,
): Promise<number> {
  if (!seqno) return 0;
  const chain = toDmaFenceChain(pfence.fence);
  if (!chain || chain.seqno < seqno) return -EINVAL;
  // dma_fence_chain_for_each(*pfence, &chain->base)
  pfence.fence = await dmaFenceGet(chain as DmaFence);
  while (pfence.fence) {
    const cur = pfence.fence;
    const c = toDmaFenceChain(cur);
    if (cur.context !== chain.context || (c?.prevSeqno ?? 0) < seqno) break;
    pfence.fence = await dmaFenceChainWalk(cur);
  }
  const dmaFencePutDone6 = dmaFencePut(chain);
  if (dmaFencePutDone6 !== RESOLVED) await dmaFencePutDone6;
  return 0;
}

/**
 * Models dma_fence_chain_irq_work(): re-arms the callback on the next unsignalled fence, or,
 * if none is left, signals the node; drops the callback's reference on the node.
 * Locking: takes the node's lock (dma_fence_signal()).
 * References: drops one on the node.
 */
async function dmaFenceChainIrqWork(chain: DmaFenceChain): Promise<void> {
  // Try to rearm the callback
  if (!(await dmaFenceChainEnableSignaling(chain)))
    // Ok, we are done. No more unsignaled fences left
    await dmaFenceSignal(chain);
  const dmaFencePutDone7 = dmaFencePut(chain);
  if (dmaFencePutDone7 !== RESOLVED) await dmaFencePutDone7;
}

/**
 * Models dma_fence_chain_cb(): a fence the node waited on signalled: queue the irq_work, drop
 * the reference enable_signaling took on that fence.
 * Locking: runs under the signalled fence's lock.
 * References: drops one on `f`.
 */
async function dmaFenceChainCb(f: DmaFence, cb: DmaFenceCb): Promise<void> {
  lockdepAssertHeld(f.lock!);
  const chain = (cb as DmaFenceChainCb).chain;
  await queueWork(systemWq(), chain.work);
  const dmaFencePutDone8 = dmaFencePut(f);
  if (dmaFencePutDone8 !== RESOLVED) await dmaFencePutDone8;
}

/**
 * Models dma_fence_chain_enable_signaling(): walks the chain from this node and queues the
 * node's callback on the first fence not yet signalled (holding a reference on it and on the
 * node); false when every fence has signalled.
 * Locking: the node's lock held when called by the core (not from the irq_work); takes each
 * fence's lock.
 * References: on success one on the node and one on the fence waited on.
 */
async function dmaFenceChainEnableSignaling(fence: DmaFence): Promise<boolean> {
  const head = toDmaFenceChain(fence)!;
  await dmaFenceGet(head);
  let queued = false;
  await dmaFenceChainForEach(head, async (iter) => {
    const chain = toDmaFenceChain(iter);
    const f = chain ? chain.fence! : iter;
    await dmaFenceGet(f);
    if (!(await dmaFenceAddCallback(f, head.cb, dmaFenceChainCb))) {
      queued = true;
      return false; // dma_fence_put(fence); return true;
    }
    const dmaFencePutDone9 = dmaFencePut(f);
    if (dmaFencePutDone9 !== RESOLVED) await dmaFencePutDone9;
    return true;
  });
  if (queued) return true;
  const dmaFencePutDone10 = dmaFencePut(head);
  if (dmaFencePutDone10 !== RESOLVED) await dmaFencePutDone10;
  return false;
}

/** Whether `f` has signalled, peeked without scheduling points (see the file comment). */
function peekSignaled(f: DmaFence): boolean {
  return dmaFenceTestSignaledFlag(f) || (f.ops.signaled?.(f) ?? false);
}

/**
 * Models dma_fence_chain_signaled(): true if every fence along the chain has signalled.
 * Locking: none (a peek: see the file comment).
 * References: the caller holds the node, which holds the rest.
 */
function dmaFenceChainSignaled(fence: DmaFence): boolean {
  let iter: DmaFence | null = fence;
  while (iter) {
    const chain = toDmaFenceChain(iter);
    const f = chain ? chain.fence! : iter;
    if (!peekSignaled(f)) return false;
    iter = chain ? chain.prev : null;
  }
  return true;
}

/**
 * Models dma_fence_chain_release(): unlinks the predecessors it holds the last reference on
 * (no recursion down a long chain), drops `prev` and `fence`, frees the node.
 * Locking: none; the node is dead.
 * References: drops one on `prev` (after the unlinking) and one on `fence`.
 */
async function dmaFenceChainRelease(fence: DmaFence): Promise<void> {
  const chain = toDmaFenceChain(fence)!;
  let prev: DmaFence | null = chain.prev;
  // Manually unlink the chain as much as possible to avoid recursion and potential stack
  // overflow.
  for (; prev; prev = chain.prev) {
    if (prev.refcount.read() > 1) break;
    const prevChain = toDmaFenceChain(prev);
    if (!prevChain) break;
    // No need for atomic operations since we hold the last reference to prev_chain.
    chain.prev = prevChain.prev;
    prevChain.prev = null;
    const dmaFencePutDone11 = dmaFencePut(prev);
    if (dmaFencePutDone11 !== RESOLVED) await dmaFencePutDone11;
  }
  const dmaFencePutDone12 = dmaFencePut(prev);
  if (dmaFencePutDone12 !== RESOLVED) await dmaFencePutDone12;
  const dmaFencePutDone13 = dmaFencePut(chain.fence);
  if (dmaFencePutDone13 !== RESOLVED) await dmaFencePutDone13;
  await dmaFenceFree(fence);
}

/** Models dma_fence_chain_ops. */
export const dmaFenceChainOps: DmaFenceOps = {
  getDriverName: () => "dma_fence_chain",
  getTimelineName: () => "unbound",
  enableSignaling: dmaFenceChainEnableSignaling,
  signaled: dmaFenceChainSignaled,
  release: dmaFenceChainRelease,
};

/**
 * Models dma_fence_chain_alloc(): a node to initialize with dmaFenceChainInit(), or null.
 * Locking: none.
 * References: none yet (dma_fence_chain_free() is kfree() until init).
 */
export function dmaFenceChainAlloc(): DmaFenceChain | null {
  const chain = kmalloc(dmaFenceChainCache, () => new DmaFenceChain());
  return isErr(chain) ? null : chain;
}

/**
 * Models dma_fence_chain_init(chain, prev, fence, seqno): a node for `fence` at point `seqno`
 * after `prev`: it continues `prev`'s context when `prev` is a node and `seqno` is later,
 * otherwise it starts a new context (with a seqno no lower than `prev`'s).
 * Locking: none; the node is not published yet.
 * References: takes over the caller's references on `prev` and `fence`; the caller owns the
 * node's first one.
 */
export function dmaFenceChainInit(
  chain: DmaFenceChain,
  prev: DmaFence | null,
  fence: DmaFence,
  seqno: number,
): void {
  const prevChain = toDmaFenceChain(prev);
  chain.prev = prev;
  chain.fence = fence;
  chain.prevSeqno = 0;
  let context: number;
  // Try to reuse the context of the previous chain node.
  if (prevChain && seqno > prev!.seqno) {
    context = prev!.context;
    chain.prevSeqno = prev!.seqno;
  } else {
    context = dmaFenceContextAlloc(1);
    // Make sure that we always have a valid sequence number.
    if (prevChain) seqno = Math.max(prev!.seqno, seqno);
  }
  dmaFenceInit(chain, dmaFenceChainOps, chain.chainLock, context, seqno);
}
